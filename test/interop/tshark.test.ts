/**
 * Interop (issue 2): packets roamd encodes are dissected by tshark (Debian 12: 4.0.x) with the
 * expected field values, correct IPv4/UDP/ICMP checksums and no malformed or error-severity
 * expert marks. One pcap (LINKTYPE_RAW) holds every vector; tshark runs once; one named test per
 * packet checks the fields tshark reports against what roamd wrote.
 *
 * Field names come from `tshark -G fields` (mip.*, icmp.mip.*). What tshark 4.0 does not decode
 * in detail, we check by type, length and raw bytes: TNC (149) and unknown skippable types are
 * only `mip.extension` bytes; encapsulating delivery (130) and the challenge (132) likewise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { writePcap } from '../util/pcap';
import { roamdPackets, KEY } from './roamd-packets';
import { requireTshark, dissect, FieldMap } from './tools';
import { NTP_UNIX_OFFSET_S } from '../../src/auth/replay';

/** Expert severities (epan/proto.h PI_ERROR, PI_WARN), as tshark prints them in JSON. */
const PI_ERROR = String(0x00800000);
const PI_WARN = String(0x00600000);
/** proto_checksum_enum_e: PROTO_CHECKSUM_E_GOOD. */
const CHECKSUM_GOOD = '1';
const PREFS = ['ip.check_checksum:TRUE', 'udp.check_checksum:TRUE'];

type Expect = Record<string, string | string[]>;

const colon = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
const spi = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** HMAC-MD5 over the message through the SPI of the auth extension at `extOffset` (RFC 5944 §3.5.1). */
function mac(message: Buffer, extOffset: number): string {
  return colon(createHmac('md5', KEY).update(message.subarray(0, extOffset + 6)).digest());
}

/** mip.ident is an NTP timestamp; tshark prints it as an absolute UTC time with nanoseconds. */
function ntpTime(high: number, low: number): string[] {
  const d = new Date((high - NTP_UNIX_OFFSET_S) * 1000);
  const mon = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const base = `${mon} ${p2(d.getUTCDate())}, ${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  const ns = (BigInt(low) * 1_000_000_000n) >> 32n;
  // Truncated or rounded to nanoseconds: accept either.
  return [`${base}.${ns.toString().padStart(9, '0')} UTC`, `${base}.${(ns + 1n).toString().padStart(9, '0')} UTC`];
}

const ID = ntpTime(0xe9a1b2c3, 0x01020304);

/** Per-packet expectations, keyed by the vector's number. A list means every value, in order. */
function expectations(msg: (n: number) => Buffer): Record<number, Expect> {
  const udp = { 'ip.proto': '17', 'udp.srcport': '434', 'udp.dstport': '434' };
  const rep = { ...udp, 'mip.type': '3', 'mip.homeaddr': '10.1.0.5', 'mip.haaddr': '10.1.0.1', 'mip.ident': ID };
  const req = (flags: string, s: number, b: number, d: number, m: number, g: number, t: number): Expect => ({
    ...udp, 'mip.type': '1', 'mip.flags': flags, 'mip.s': String(s), 'mip.b': String(b), 'mip.d': String(d), 'mip.m': String(m),
    'mip.g': String(g), 'mip.v': '0', 'mip.t': String(t), 'mip.x': '0', 'mip.haaddr': '10.1.0.1', 'mip.coa': '198.51.100.1', 'mip.ident': ID,
  });
  return {
    1: { ...req('0xe2', 1, 1, 1, 0, 0, 1), 'mip.life': '1800', 'mip.homeaddr': '10.1.0.5', 'mip.ext.type': ['32'], 'mip.ext.len': ['20'], 'mip.auth.spi': [spi(0x1234)], 'mip.auth.auth': [mac(msg(1), 24)] },
    2: { ...req('0x18', 0, 0, 0, 1, 1, 0), 'mip.life': '0', 'mip.ext.type': ['131', '32'], 'mip.ext.len': ['17', '20'], 'mip.nai': 'alice@example.org', 'mip.auth.auth': [mac(msg(2), 24 + 19)] },
    3: {
      ...req('0x02', 0, 0, 0, 0, 0, 1), 'mip.life': '65535', 'mip.homeaddr': '0.0.0.0',
      'mip.ext.type': ['131', '144', '137', '32'], 'mip.ext.len': ['14', '6', '6', '20'], 'mip.nai': 'mn1@roamd.test',
      'mip.ext.utrq.subtype': '0', 'mip.ext.utrq.reserved1': '0x00', 'mip.ext.utrq.flags': '0xc0', 'mip.ext.utrq.f': '1', 'mip.ext.utrq.r': '1',
      'mip.ext.utrq.reserved2': '0x00', 'mip.ext.utrq.encaptype': '4', 'mip.ext.utrq.reserved3': '0x0000',
      'mip.ext.rev.flags': '0x8000', 'mip.ext.rev.i': '1', 'mip.ext.rev.tstamp': String(0x65432100),
      'mip.auth.auth': [mac(msg(3), 24 + 16 + 8 + 8)],
    },
    4: {
      ...req('0x80', 1, 0, 0, 0, 0, 0), 'mip.ext.type': ['134', '38', '139', '32'], 'mip.ext.len': ['12', '9', '5', '20'],
      'mip.ext.nvse.reserved': '0x0000', 'mip.ext.nvse.vendor_id': '311', 'mip.ext.nvse.vendor_type': '7', 'mip.ext.nvse.vendor_value': 'de:ad:be:ef',
      'mip.ext.cvse.reserved': '0x00', 'mip.ext.cvse.vendor_id': '9', 'mip.ext.cvse.vendor_type': '0x0102', 'mip.ext.cvse.vendor_value': '01:02:03',
      'mip.ext.dynha.subtype': '1', 'mip.ext.dynha.ha': '10.1.0.2', 'mip.auth.auth': [mac(msg(4), 24 + 14 + 13 + 7)],
    },
    5: {
      ...req('0x02', 0, 0, 0, 0, 0, 1), 'mip.ext.type': ['145', '130', '32', '132', '36'], 'mip.ext.len': ['13', '0', '20', '8', '20'],
      'mip.ext.msgstr.subtype': '1', 'mip.ext.msgstr.text': 'welcome home',
      // 130 and 132 are shown as raw `mip.extension` bytes (empty for 130).
      'mip.extension': ['', '11:22:33:44:55:66:77:88'],
      'mip.ext.auth.subtype': '1', 'mip.auth.spi': [spi(0x1234), spi(0x5678)],
      'mip.auth.auth': [mac(msg(5), 24 + 15 + 2), colon(new Uint8Array(16).fill(0xab))],
    },
    6: {
      ...rep, 'mip.code': '0', 'mip.life': '1800',
      'mip.ext.type': ['44', '32'], 'mip.ext.len': ['6', '20'], 'mip.ext.utrp.subtype': '0', 'mip.ext.utrp.code': '0',
      'mip.ext.utrp.flags': '0x8000', 'mip.ext.utrp.f': '1', 'mip.ext.utrp.keepalive': '110', 'mip.auth.auth': [mac(msg(6), 20 + 8)],
    },
    7: { ...rep, 'mip.code': '133', 'mip.life': '0', 'mip.ident': ntpTime(0xe9a1b2d0, 0x01020304), 'mip.ext.type': ['32'], 'mip.auth.auth': [mac(msg(7), 20)] },
    8: { ...rep, 'mip.code': '69', 'mip.life': '600', 'mip.ext.type': ['145'], 'mip.ext.len': ['10'], 'mip.ext.msgstr.subtype': '2', 'mip.ext.msgstr.text': 'max 600 s' },
    9: { ...rep, 'mip.life': '0', 'mip.code': '143', 'mip.ext.type': ['139', '32'], 'mip.ext.dynha.subtype': '2', 'mip.ext.dynha.ha': '10.1.0.3', 'mip.auth.auth': [mac(msg(9), 20 + 7)] },
    10: {
      ...udp, 'mip.type': '4', 'mip.nattt.nexthdr': '4', 'mip.nattt.reserved': '0x0000',
      'ip.src': ['10.1.0.1', '10.1.0.5'], 'ip.dst': ['198.51.100.1', '203.0.113.7'], 'ip.proto': ['17', '17'], 'ip.ttl': ['64', '63'],
      'udp.srcport': ['434', '40000'], 'udp.dstport': ['434', '7'], 'ip.checksum.status': [CHECKSUM_GOOD, CHECKSUM_GOOD],
      'udp.checksum.status': [CHECKSUM_GOOD, CHECKSUM_GOOD], 'frame.protocols': 'raw:ip:udp:mip:ip:udp:echo',
    },
    11: {
      ...udp, 'mip.type': '7', 'mip.rev.reserved': '0x00', 'mip.flags2': '0xc000', 'mip.rev.a': '1', 'mip.rev.i': '1', 'mip.rev.reserved2': '0x0000',
      'mip.homeaddr': '10.1.0.5', 'mip.rev.hda': '10.1.0.1', 'mip.rev.fda': '198.51.100.1', 'mip.revid': String(0x01020304),
      'mip.ext.type': ['34'], 'mip.ext.len': ['20'], 'mip.auth.spi': [spi(0x1234)], 'mip.auth.auth': [mac(msg(11), 20)],
    },
    12: {
      ...udp, 'mip.type': '15', 'mip.ack.reserved': '0x00', 'mip.flags2': '0x8000', 'mip.ack.i': '1', 'mip.ack.reserved2': '0x0000',
      'mip.homeaddr': '10.1.0.5', 'mip.revid': String(0x01020304), 'mip.ext.type': ['34'], 'mip.auth.auth': [mac(msg(12), 12)],
    },
    13: {
      ...req('0x00', 0, 0, 0, 0, 0, 0), 'mip.ext.type': ['149', '200', '32', '33'], 'mip.ext.len': ['2', '5', '20', '20'],
      'mip.extension': ['01:00', 'ca:fe:ba:be:01'], 'mip.auth.spi': [spi(0x1234), spi(0x9abc)],
      'mip.auth.auth': [mac(msg(13), 24 + 4 + 7), colon(new Uint8Array(16).fill(0x5a))],
    },
    14: {
      'ip.proto': '1', 'ip.ttl': '1', 'ip.dst': '224.0.0.1', 'icmp.type': '9', 'icmp.code': '0', 'icmp.num_addrs': '1', 'icmp.addr_entry_size': '2',
      'icmp.lifetime': '1800', 'icmp.router_address': '198.51.100.1', 'icmp.pref_level': '0',
      'icmp.mip.type': ['16', '19', '0'], 'icmp.mip.length': ['14', '1'], 'icmp.mip.seq': '7', 'icmp.mip.life': '600', 'icmp.mip.flags': '0xd1c0',
      'icmp.mip.r': '1', 'icmp.mip.b': '1', 'icmp.mip.h': '0', 'icmp.mip.f': '1', 'icmp.mip.m': '0', 'icmp.mip.g': '0', 'icmp.mip.v': '0',
      'icmp.mip.rt': '1', 'icmp.mip.u': '1', 'icmp.mip.x': '1', 'icmp.mip.reserved': '0x0000',
      'icmp.mip.coa': ['198.51.100.1', '198.51.100.2'], 'icmp.mip.prefixlength': ['24'],
    },
    15: {
      'ip.proto': '1', 'ip.ttl': '1', 'icmp.type': '9', 'icmp.code': '16', 'icmp.num_addrs': '0', 'icmp.lifetime': '900',
      'icmp.mip.type': ['16', '19'], 'icmp.mip.length': ['10', '1'], 'icmp.mip.prefixlength': ['16'], 'icmp.mip.seq': '65535', 'icmp.mip.life': '65535', 'icmp.mip.flags': '0x3c00',
      'icmp.mip.r': '0', 'icmp.mip.b': '0', 'icmp.mip.h': '1', 'icmp.mip.f': '1', 'icmp.mip.m': '1', 'icmp.mip.g': '1',
      'icmp.mip.rt': '0', 'icmp.mip.u': '0', 'icmp.mip.x': '0', 'icmp.mip.coa': ['198.51.100.1'],
    },
    16: { 'ip.proto': '1', 'ip.ttl': '1', 'ip.dst': '224.0.0.1', 'icmp.type': '10', 'icmp.code': '0' },
    17: {
      'ip.proto': ['4', '17'], 'ip.src': ['10.1.0.1', '10.1.0.5'], 'ip.dst': ['198.51.100.1', '203.0.113.7'], 'ip.ttl': ['64', '63'],
      'ip.id': ['0x0009', '0x4242'], 'ip.checksum.status': [CHECKSUM_GOOD, CHECKSUM_GOOD], 'udp.checksum.status': [CHECKSUM_GOOD],
      'frame.protocols': 'raw:ip:ip:udp:echo',
    },
  };
}

const vectors = roamdPackets();
let dissected: FieldMap[] | Error | undefined;

/** Writes the pcap and runs tshark once; a missing tshark fails every test with the same message. */
function frames(): FieldMap[] {
  if (dissected === undefined) {
    let dir = '';
    try {
      requireTshark();
      dir = mkdtempSync(join(tmpdir(), 'roamd-interop-'));
      const file = join(dir, 'roamd.pcap');
      writePcap(file, vectors.map((v) => v.packet));
      dissected = dissect(file, PREFS);
    } catch (e) {
      dissected = e instanceof Error ? e : new Error(String(e));
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }
  if (dissected instanceof Error) throw dissected;
  return dissected;
}

test('tshark is installed and dissects every frame', () => {
  assert.match(requireTshark(), /^TShark \(Wireshark\) \d+\.\d+/);
  assert.is(frames().length, vectors.length, 'one dissected frame per packet written');
});

const msgOf = (n: number): Buffer => vectors[n - 1]!.message;
const table = expectations(msgOf);

vectors.forEach((v, i) => {
  const n = i + 1;
  test(`tshark: ${v.name}`, () => {
    const f = frames()[i];
    assert.ok(f, `frame ${n} was dissected`);
    // No malformed packet, no error-severity expert info, and (for these well-formed vectors) no warnings.
    assert.not.ok(f.has('_ws.malformed'), `frame ${n}: tshark marks it malformed`);
    const sev = f.get('_ws.expert.severity') ?? [];
    const msgs = f.get('_ws.expert.message') ?? [];
    assert.not.ok(sev.includes(PI_ERROR), `frame ${n}: expert error: ${msgs.join('; ')}`);
    assert.not.ok(sev.includes(PI_WARN), `frame ${n}: expert warning: ${msgs.join('; ')}`);
    // Checksums written by roamd (IPv4 header, UDP with pseudo-header, ICMP) verify.
    for (const s of f.get('ip.checksum.status') ?? []) assert.is(s, CHECKSUM_GOOD, `frame ${n}: ip.checksum.status`);
    for (const s of f.get('udp.checksum.status') ?? []) assert.is(s, CHECKSUM_GOOD, `frame ${n}: udp.checksum.status`);
    const isIcmp = v.packet[9] === 1;
    if (isIcmp) assert.equal(f.get('icmp.checksum.status'), [CHECKSUM_GOOD], `frame ${n}: icmp.checksum.status`);
    const want = table[n];
    assert.ok(want, `no expectations for vector ${n}`);
    for (const [field, expected] of Object.entries(want)) {
      const got = f.get(field);
      assert.ok(got, `frame ${n}: tshark has no field ${field}`);
      if (Array.isArray(expected)) {
        if (field === 'mip.ident') assert.ok(expected.includes(got[0]!), `frame ${n}: ${field} = ${got[0]}, want ${expected[0]}`);
        else assert.equal(got, expected, `frame ${n}: ${field}`);
      } else {
        assert.equal(got, [expected], `frame ${n}: ${field}`);
      }
    }
  });
});

test.run();
