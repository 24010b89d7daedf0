/**
 * Interop (issue 2): packets built by scapy (test/interop/scapy_vectors.py, run with the system
 * /usr/bin/python3 and Debian's python3-scapy) are decoded by roamd with the fields scapy was
 * given; authenticators computed independently in Python (hmac/hashlib: HMAC-MD5, HMAC-SHA-256,
 * keyed BLAKE2b) are accepted by roamd's verify() and reproduced byte for byte by sign(); roamd
 * re-encodes every decoded message to scapy's exact bytes; `roamd decode` prints the same fields.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as ipv4 from '../../src/wire/ipv4-header';
import * as udp from '../../src/wire/udp-header';
import * as request from '../../src/wire/registration-request';
import * as reply from '../../src/wire/registration-reply';
import * as revocation from '../../src/wire/registration-revocation';
import * as revocationAck from '../../src/wire/revocation-ack';
import * as advertisement from '../../src/wire/agent-advertisement';
import * as solicitation from '../../src/wire/agent-solicitation';
import { decodeMip, decodeIcmp, MipMessage, IcmpMessage } from '../../src/wire/message';
import { IpProto } from '../../src/wire/constants';
import { AuthExt, GenAuthExt, authenticatedLength } from '../../src/wire/extensions';
import { initCrypto, computeMac, Algorithm } from '../../src/auth/algorithms';
import { SecurityAssociation } from '../../src/auth/security-association';
import { sign, verify, placeholder } from '../../src/auth/authenticator';
import { decodeBytes } from '../../src/cli/decode';
import { requireScapy, SYSTEM_PYTHON, hex } from './tools';

interface AuthCheck { offset: number; covered: number; alg: Algorithm; key: string; spi: number; mac: string }
interface ScapyPacket {
  name: string;
  kind: 'udp' | 'icmp';
  packet: string;
  payload: string;
  fields: Record<string, unknown>;
  ip: { src: string; dst: string; ttl: number; id: number; protocol: number; srcPort?: number; dstPort?: number };
  auth: AuthCheck[];
  inner?: string;
}
interface MacVector { alg: Algorithm; key: string; data: string; mac: string }
interface ScapyOutput { scapy: string; packets: ScapyPacket[]; macs: MacVector[] }

const SCRIPT = join(__dirname, 'scapy_vectors.py');
const ROOT = join(__dirname, '..', '..');
/** Vectors the script is known to print; checked so a silently shorter output fails. */
const PACKET_COUNT = 14;

let output: ScapyOutput | Error | undefined;
function vectors(): ScapyOutput {
  if (output === undefined) {
    try {
      requireScapy();
      const r = spawnSync(SYSTEM_PYTHON, [SCRIPT], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
      if (r.status !== 0) throw new Error(`${SYSTEM_PYTHON} ${SCRIPT} exited ${r.status}: ${r.stderr}`);
      output = JSON.parse(r.stdout) as ScapyOutput;
    } catch (e) {
      output = e instanceof Error ? e : new Error(String(e));
    }
  }
  if (output instanceof Error) throw output;
  return output;
}

const dotted = (a: number): string => [a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff].join('.');
const ADDRESS_KEYS = new Set(['homeAddress', 'homeAgent', 'careOfAddress', 'homeDomainAddress', 'foreignDomainAddress', 'haAddress', 'address', 'careOfAddresses']);
const DROP_KEYS = new Set(['offset', 'payloadOffset', 'end']);

/** A decoded roamd structure in the script's vocabulary: addresses dotted, bytes in hex, offsets dropped. */
function plain(v: unknown, key = ''): unknown {
  if (v instanceof Uint8Array) return hex(v);
  if (Array.isArray(v)) return v.map((x) => plain(x, key));
  if (typeof v === 'number' && ADDRESS_KEYS.has(key)) return dotted(v);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (!DROP_KEYS.has(k)) out[k] = plain(x, k);
    return out;
  }
  return v;
}

/** roamd's encoding of a decoded message (tunnel data has no encoder of the whole message). */
function reencode(m: MipMessage | IcmpMessage): Buffer | null {
  const enc = <T>(len: (x: T) => number, f: (x: T, b: Buffer, o: number) => number, x: T): Buffer => {
    const b = Buffer.alloc(len(x));
    const end = f(x, b, 0);
    assert.is(end, b.length, 'encode returns the end of the message');
    return b;
  };
  switch (m.type) {
    case 1: return enc(request.encodingLength, request.encode, m);
    case 3: return enc(reply.encodingLength, reply.encode, m);
    case 7: return enc(revocation.encodingLength, revocation.encode, m);
    case 15: return enc(revocationAck.encodingLength, revocationAck.encode, m);
    case 9: return enc(advertisement.encodingLength, advertisement.encode, m);
    case 10: return enc(solicitation.encodingLength, solicitation.encode, m);
    case 4: return null;
  }
}

function authExtensions(m: MipMessage): Array<AuthExt | GenAuthExt> {
  if (!('extensions' in m)) return [];
  return m.extensions.filter((e): e is AuthExt | GenAuthExt => e.kind === 'auth' || e.kind === 'gen-auth');
}

test.before(async () => {
  await initCrypto();
});

test('scapy is importable by /usr/bin/python3 and the script prints every vector', () => {
  assert.match(requireScapy(), /^\d+\.\d+/);
  const v = vectors();
  assert.is(v.packets.length, PACKET_COUNT);
  assert.ok(v.macs.length >= 30);
});

// One test per scapy vector; the names are fixed here so a failing script still lists them.
const NAMES = Array.from({ length: PACKET_COUNT }, (_, i) => i);
for (const i of NAMES) {
  test(`scapy vector ${String(i + 1).padStart(2, '0')}: roamd decodes, re-encodes and authenticates it`, () => {
    const v = vectors().packets[i]!;
    const pkt = Buffer.from(v.packet, 'hex');
    const payload = Buffer.from(v.payload, 'hex');

    // IPv4 (header checksum verified by roamd), then UDP with the pseudo-header checksum or ICMP.
    const h = ipv4.decode(pkt, 0, pkt.length);
    assert.equal({ src: dotted(h.src), dst: dotted(h.dst), ttl: h.ttl, id: h.id, protocol: h.protocol },
      { src: v.ip.src, dst: v.ip.dst, ttl: v.ip.ttl, id: v.ip.id, protocol: v.ip.protocol }, `${v.name}: IPv4 header`);
    assert.is(h.end, pkt.length, `${v.name}: IPv4 total length`);
    let msg: MipMessage | IcmpMessage;
    if (v.kind === 'udp') {
      assert.is(h.protocol, IpProto.UDP);
      const u = udp.decode(pkt, h.payloadOffset, h.end, h.src, h.dst);
      assert.ok(u.checksum !== 0, 'scapy computed a UDP checksum (and roamd verified it)');
      assert.equal([u.srcPort, u.dstPort], [v.ip.srcPort, v.ip.dstPort], `${v.name}: UDP ports`);
      assert.is(hex(pkt.subarray(u.payloadOffset, u.end)), v.payload, `${v.name}: UDP payload`);
      msg = decodeMip(pkt, u.payloadOffset, u.end);
      // The same message decoded from a buffer of its own: offsets are relative to the message.
      assert.equal(plain(decodeMip(payload)), plain(msg));
    } else {
      assert.is(h.protocol, IpProto.ICMP);
      msg = decodeIcmp(pkt, h.payloadOffset, h.end); // ICMP checksum verified by default
    }

    // Every field scapy set, as roamd decoded it.
    const got = plain(msg) as Record<string, unknown>;
    assert.equal(got, v.fields, `${v.name}: decoded fields`);
    if (msg.type === 4) {
      // payloadOffset and end index the buffer decoded (here the whole packet).
      assert.is(hex(pkt.subarray(msg.payloadOffset, msg.end)), v.inner, `${v.name}: tunnelled datagram`);
      const inner = ipv4.decode(pkt, msg.payloadOffset, msg.end);
      assert.equal([dotted(inner.src), dotted(inner.dst), inner.ttl, inner.id], ['10.1.0.5', '203.0.113.9', 61, 0x1111]);
      udp.decode(pkt, inner.payloadOffset, inner.end, inner.src, inner.dst); // inner UDP checksum
    }

    // roamd's encoder reproduces scapy's bytes exactly (ICMP checksum included).
    const again = reencode(msg);
    if (again) assert.is(again.toString('hex'), v.payload, `${v.name}: roamd re-encoding`);

    // Authenticators computed in Python: verify() accepts them, sign() writes the same bytes.
    if (msg.type !== 9 && msg.type !== 10) {
      const exts = authExtensions(msg);
      assert.is(v.auth.length, exts.filter((e) => v.auth.some((a) => a.offset === e.offset)).length, `${v.name}: every Python authenticator found`);
      for (const a of v.auth) {
        const ext = exts.find((e) => e.offset === a.offset);
        assert.ok(ext, `${v.name}: auth extension at offset ${a.offset}`);
        assert.is(authenticatedLength(ext), a.covered, `${v.name}: covered length (RFC 5944 §3.5.1)`);
        const sa = new SecurityAssociation({ spi: a.spi, algorithm: a.alg, key: Buffer.from(a.key, 'hex') });
        assert.is(hex(ext.authenticator), a.mac);
        assert.ok(verify(sa, payload, 0, ext), `${v.name}: roamd verify() accepts the ${a.alg} authenticator from Python`);
        assert.is(hex(computeMac(a.alg, Buffer.from(a.key, 'hex'), payload.subarray(0, a.covered))), a.mac);
        // A flipped bit anywhere in the covered bytes is rejected.
        const bad = Buffer.from(payload);
        bad[a.covered - 1]! ^= 0x01;
        assert.not.ok(verify(sa, bad, 0, ext), `${v.name}: tampered SPI byte rejected`);
      }
      // Re-encode with placeholders, sign in extension order: byte-identical to Python's packet.
      if (v.auth.length > 0) {
        const fresh = decodeMip(payload);
        const signed = authExtensions(fresh);
        for (const e of signed) {
          const a = v.auth.find((x) => x.offset === e.offset);
          if (!a) continue;
          e.authenticator = placeholder(new SecurityAssociation({ spi: a.spi, algorithm: a.alg, key: Buffer.from(a.key, 'hex') }));
        }
        const buf = reencode(fresh)!;
        for (const e of signed) {
          const a = v.auth.find((x) => x.offset === e.offset);
          if (a) sign(new SecurityAssociation({ spi: a.spi, algorithm: a.alg, key: Buffer.from(a.key, 'hex') }), buf, 0, e);
        }
        assert.is(buf.toString('hex'), v.payload, `${v.name}: roamd sign() output`);
      }
    }
  });
}

for (const alg of ['hmac-md5', 'hmac-sha256', 'blake2b'] as const) {
  test(`${alg}: roamd computeMac matches Python hmac/hashlib on every key and data length`, () => {
    const list = vectors().macs.filter((m) => m.alg === alg);
    assert.ok(list.length >= 12);
    for (const m of list) {
      const got = hex(computeMac(alg, Buffer.from(m.key, 'hex'), Buffer.from(m.data, 'hex')));
      assert.is(got, m.mac, `${alg} key ${m.key.length / 2} B data ${m.data.length / 2} B`);
    }
  });
}

/** What `roamd decode` must print for scapy vector 01 (whole IPv4 packet). */
function expectedCli01(v: ScapyPacket): Record<string, unknown> {
  const f = v.fields as { lifetime: number; homeAddress: string; homeAgent: string; careOfAddress: string; idHigh: number; idLow: number; extensions: Array<Record<string, unknown>> };
  const h8 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
  return {
    ip: { src: v.ip.src, dst: v.ip.dst, protocol: 17, ttl: v.ip.ttl, tos: 0, id: v.ip.id, totalLength: v.packet.length / 2 },
    udp: { srcPort: 434, dstPort: 434, length: v.packet.length / 2 - 20 },
    mip: {
      message: 'registration-request', type: 1, flags: ['S', 'B', 'T'], lifetime: f.lifetime, homeAddress: f.homeAddress,
      homeAgent: f.homeAgent, careOfAddress: f.careOfAddress, identification: { high: h8(f.idHigh), low: h8(f.idLow) },
      extensions: [
        { name: 'nai', offset: 24, type: 131, nai: f.extensions[0]!.nai },
        { name: 'mn-ha-auth', offset: 24 + 2 + String(f.extensions[0]!.nai).length, type: 32, spi: v.auth[0]!.spi, authenticator: v.auth[0]!.mac },
      ],
    },
  };
}

test('roamd decode (decodeBytes) on a scapy-built IPv4 packet', () => {
  const v = vectors().packets[0]!;
  assert.equal(decodeBytes(Buffer.from(v.packet, 'hex')), expectedCli01(v));
});

test('roamd decode CLI end to end (tsx src/cli/main.ts decode HEX) on scapy-built packets', () => {
  const run = (hexText: string): unknown => {
    const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', join(ROOT, 'src/cli/main.ts'), 'decode', hexText], { encoding: 'utf8', cwd: ROOT });
    assert.is(r.status, 0, `roamd decode exited ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const [rrq] = vectors().packets;
  assert.equal(run(rrq!.packet), expectedCli01(rrq!));
  const adv = vectors().packets.find((p) => p.fields.type === 9)!;
  const out = run(adv.packet) as { ip: Record<string, unknown>; icmp: Record<string, unknown> };
  assert.equal(out, decodeBytes(Buffer.from(adv.packet, 'hex')));
  assert.equal(out.icmp, {
    message: 'agent-advertisement', type: 9, code: 0, lifetime: 1800,
    routers: [{ address: '198.51.100.1', preference: 0 }, { address: '198.51.100.254', preference: -1 }],
    extensions: [
      { name: 'mobility-agent', type: 16, sequence: 42, registrationLifetime: 900, flags: ['R', 'F', 'T', 'U', 'X'], careOfAddresses: ['198.51.100.1', '198.51.100.3'] },
      { name: 'prefix-lengths', type: 19, prefixLengths: [24, 25] },
      { name: 'padding', type: 0 },
    ],
  });
});

test.run();
