/**
 * Fuzz targets: one per decoder (every wire codec, `roamd decode`, UCI + config building), each an
 * input arbitrary and a property. Shared by the short seeded run in the reliability lane
 * (test/reliability/fuzz.test.ts) and the long run (`npm run fuzz`, test/fuzz/run.ts).
 *
 * Properties, for every input:
 *  - the decoder returns or throws a RoamdError (the documented error type); anything else
 *    (TypeError, RangeError from a Buffer read...) is a bug;
 *  - it finishes within TIME_BOUND_MS;
 *  - its output is bounded by the input: `size(output) <= 8 * input bytes + 64` (size counts
 *    array elements, object keys, bytes and characters);
 *  - when it succeeds the result re-encodes, and decoding the re-encoding gives the same value
 *    (semantic round trip: decoders normalise reserved bits, so byte equality is not required).
 */
import fc from 'fast-check';
import * as assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { RoamdError } from '../../src/errors';
import * as request from '../../src/wire/registration-request';
import * as reply from '../../src/wire/registration-reply';
import * as revocation from '../../src/wire/registration-revocation';
import * as revocationAck from '../../src/wire/revocation-ack';
import * as advertisement from '../../src/wire/agent-advertisement';
import * as solicitation from '../../src/wire/agent-solicitation';
import * as ipv4 from '../../src/wire/ipv4-header';
import * as udp from '../../src/wire/udp-header';
import * as ipip from '../../src/wire/ip-in-ip';
import * as tunnelData from '../../src/wire/tunnel-data';
import { decodeExtensions, encodeExtensions, extensionsLength } from '../../src/wire/extensions';
import { decodeMip, decodeIcmp } from '../../src/wire/message';
import { internetChecksum } from '../../src/wire/checksum';
import { decodeBytes, parseHex } from '../../src/cli/decode';
import { parseUci, exportUci } from '../../src/platform/uci';
import { parseConfigText } from '../../src/platform/config';
import { VECTORS } from '../unit/wire/vectors';
import { mixArb, mutatedArb } from './mutate';
import * as gen from './generators';

export const TIME_BOUND_MS = 250;

export interface Target<T = Buffer> {
  name: string;
  arb: fc.Arbitrary<T>;
  /** Throws when the property fails; returns whether the decoder accepted the input. */
  check(input: T): boolean;
  /** Inputs as text for regression vectors. */
  show(input: T): string;
}

/** Output size: array elements + object keys + bytes + characters, recursively. */
export function size(v: unknown, depth = 0): number {
  if (depth > 32) throw new Error('output nested deeper than 32 levels');
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return 1;
  if (typeof v === 'string') return 1 + v.length;
  if (v instanceof Uint8Array) return 1 + v.length;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + size(x, depth + 1), 1);
  if (typeof v === 'object') return Object.entries(v as object).reduce((n, [, x]) => n + 1 + size(x, depth + 1), 1);
  return 1;
}

export class PropertyFailure extends Error {}

/** Runs `fn`, enforcing the error type, the time bound and the output bound. */
export function guarded<R>(inputLength: number, fn: () => R): R | undefined {
  const t0 = performance.now();
  let out: R | undefined;
  try {
    out = fn();
  } catch (e) {
    if (e instanceof PropertyFailure || e instanceof assert.AssertionError) throw e;
    if (!(e instanceof RoamdError)) throw new PropertyFailure(`threw ${(e as Error)?.constructor?.name ?? typeof e}, not RoamdError: ${(e as Error)?.message ?? String(e)}`);
    out = undefined;
  }
  const dt = performance.now() - t0;
  if (dt > TIME_BOUND_MS) {
    // Wall-clock time includes GC pauses and being descheduled on a busy machine: only an input
    // that is slow twice in a row is a hang.
    const t1 = performance.now();
    try { fn(); } catch { /* already judged */ }
    const dt2 = performance.now() - t1;
    if (dt2 > TIME_BOUND_MS) throw new PropertyFailure(`took ${dt.toFixed(1)} ms then ${dt2.toFixed(1)} ms (> ${TIME_BOUND_MS} ms)`);
  }
  if (out !== undefined) {
    const n = size(out);
    if (n > 8 * inputLength + 64) throw new PropertyFailure(`output size ${n} for ${inputLength} input bytes`);
  }
  return out;
}

const hex = (b: Buffer) => b.toString('hex');

/** Removes `offset` fields (they depend on layout, not on values) for comparisons. */
function norm(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (k, x) => (k === 'offset' ? undefined : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x)));
}

interface Codec<T> { encodingLength(m: T): number; encode(m: T, b: Buffer, o?: number): number; decode(b: Buffer, o?: number, e?: number): T }

/** A message codec: decode at an offset inside a larger buffer, re-encode, decode again. */
function codecTarget<T>(name: string, codec: Codec<T>, seeds: Buffer[], valid: fc.Arbitrary<Buffer>, decode = (b: Buffer, o: number, e: number) => codec.decode(b, o, e)): Target {
  return {
    name, show: hex,
    arb: mixArb(seeds, valid),
    check(input) {
      // Decode inside a larger buffer with junk around it: the window must be respected.
      const framed = Buffer.concat([Buffer.from([0xaa, 0xbb, 0xcc]), input, Buffer.from([0xdd, 0xee])]);
      const m = guarded(input.length, () => decode(framed, 3, 3 + input.length));
      if (m === undefined) return false;
      const again = Buffer.alloc(codec.encodingLength(m));
      const end = codec.encode(m, again, 0);
      assert.equal(end, again.length, 'encode wrote encodingLength bytes');
      assert.deepEqual(norm(decode(again, 0, again.length)), norm(m), 'decode(encode(decode(x))) = decode(x)');
      return true;
    },
  };
}

/** Golden packets by message type (first byte); codec identity does not survive the ESM/CJS interop. */
const seedsOf = (type: number) => VECTORS.filter((v) => v.bytes[0] === type).map((v) => v.bytes);
const allMip = VECTORS.filter((v) => v.bytes[0] !== 9 && v.bytes[0] !== 10).map((v) => v.bytes);
const allIcmp = VECTORS.filter((v) => v.bytes[0] === 9 || v.bytes[0] === 10).map((v) => v.bytes);

/** Makes an ICMP message's checksum right again (half the inputs), so mutations get past it. */
function fixIcmp(b: Buffer): Buffer {
  if (b.length >= 4) {
    b.writeUInt16BE(0, 2);
    b.writeUInt16BE(internetChecksum(b, 0, b.length), 2);
  }
  return b;
}
/** Same for an IPv4 header (and, when it is IP-in-IP, the inner header). */
function fixIp(b: Buffer, at = 0): Buffer {
  if (b.length >= at + 20 && b[at]! >> 4 === 4) {
    const hl = Math.max(20, (b[at]! & 15) * 4);
    if (b.length >= at + hl) {
      b.writeUInt16BE(0, at + 10);
      b.writeUInt16BE(internetChecksum(b, at, at + hl), at + 10);
      if (b[at + 9] === 4 && at === 0) fixIp(b, hl);
    }
  }
  return b;
}
const sometimes = (arb: fc.Arbitrary<Buffer>, fix: (b: Buffer) => Buffer) =>
  fc.tuple(arb, fc.boolean()).map(([b, f]) => (f ? fix(Buffer.from(b)) : b));

const goldenIp = [
  gen.udpPacket(0xc0a80002, 0x0a010001, 434, 434, VECTORS[1]!.bytes),
  gen.udpPacket(0x0a010001, 0xc0a80002, 434, 40000, seedsOf(3)[0]!),
  gen.ipPacket(0xc0000201, 0xe0000001, 1, allIcmp[0]!),
  gen.ipPacket(0xc0000201, 0xe0000002, 1, allIcmp[allIcmp.length - 1]!),
];
const goldenIpip = goldenIp.map((inner) => {
  const b = Buffer.alloc(20 + inner.length);
  b.set(inner, 20);
  ipip.encapsulate(b, 0, inner.length, 0x0a010001, 0xc0a80002);
  return b;
});

function ipDecode(b: Buffer, o: number, e: number): ipv4.Ipv4Decoded {
  const h = ipv4.decode(b, o, e);
  if (h.payloadOffset > h.end || h.end > e) throw new PropertyFailure(`IPv4 bounds [${h.payloadOffset}, ${h.end}) outside [${o}, ${e})`);
  return h;
}

export const TARGETS: Target<any>[] = [
  codecTarget('registration-request', request, seedsOf(1), gen.requestArb),
  codecTarget('registration-reply', reply, seedsOf(3), gen.replyArb),
  codecTarget('registration-revocation', revocation, seedsOf(7), gen.revocationArb),
  codecTarget('revocation-ack', revocationAck, seedsOf(15), gen.revocationAckArb),
  {
    name: 'extensions', show: hex,
    arb: mixArb(allMip.map((b) => b.subarray(Math.min(b.length, b[0] === 15 ? 12 : b[0] === 1 ? 24 : 20))), gen.requestArb.map((b) => b.subarray(24))),
    check(input) {
      const framed = Buffer.concat([Buffer.alloc(5, 0x77), input, Buffer.alloc(3, 0x99)]);
      const list = guarded(input.length, () => decodeExtensions(framed, 5, 5 + input.length, 1));
      if (list === undefined) return false;
      const b = Buffer.alloc(extensionsLength(list));
      encodeExtensions(list, b, 0, 0);
      assert.deepEqual(norm(decodeExtensions(b, 0, b.length, 0)), norm(list));
      return true;
    },
  },
  {
    name: 'agent-advertisement', show: hex,
    arb: sometimes(mixArb(seedsOf(9), gen.advertisementArb), fixIcmp),
    check(input) {
      let ok = false;
      for (const verify of [true, false]) {
        const m = guarded(input.length, () => advertisement.decode(input, 0, input.length, { verifyChecksum: verify }));
        if (m === undefined) continue;
        ok ||= verify;
        const again = Buffer.alloc(advertisement.encodingLength(m));
        advertisement.encode(m, again, 0);
        assert.deepEqual(norm(advertisement.decode(again)), norm(m));
      }
      return ok;
    },
  },
  {
    name: 'agent-solicitation', show: hex,
    arb: sometimes(mixArb(seedsOf(10), gen.solicitationArb), fixIcmp),
    check(input) {
      const m = guarded(input.length, () => solicitation.decode(input, 0, input.length));
      if (m === undefined) return false;
      const again = Buffer.alloc(8);
      solicitation.encode(m, again, 0);
      assert.deepEqual(solicitation.decode(again), m);
      return true;
    },
  },
  {
    name: 'ipv4-header', show: hex,
    arb: sometimes(mixArb(goldenIp, gen.ipv4Arb, Buffer.from([0x45])), fixIp),
    check(input) {
      const framed = Buffer.concat([Buffer.alloc(2), input, Buffer.alloc(4)]);
      const h = guarded(input.length, () => ipDecode(framed, 2, 2 + input.length));
      if (h === undefined) return false;
      const again = Buffer.alloc(h.totalLength);
      ipv4.encode(h, again, 0);
      again.set(framed.subarray(h.payloadOffset, h.end), h.payloadOffset - 2);
      const h2 = ipv4.decode(again);
      assert.deepEqual(norm({ ...h2, payloadOffset: 0, end: 0 }), norm({ ...h, payloadOffset: 0, end: 0 }));
      return true;
    },
  },
  {
    name: 'udp-header', show: hex,
    arb: mixArb([], gen.udpArb),
    check(input) {
      const u = guarded(input.length, () => udp.decode(input, 0, input.length, gen.UDP_SRC, gen.UDP_DST));
      if (u === undefined) return false;
      if (u.end > input.length || u.payloadOffset > u.end) throw new PropertyFailure('UDP bounds outside the input');
      return true;
    },
  },
  {
    name: 'ip-in-ip', show: hex,
    arb: sometimes(mixArb(goldenIpip, gen.ipipArb, Buffer.from([0x45])), fixIp),
    check(input) {
      const d = guarded(input.length, () => ipip.decapsulate(input, 0, input.length));
      if (d === undefined) return false;
      if (!(d.innerOffset >= 20 && d.innerOffset <= d.innerEnd && d.innerEnd <= d.outer.end && d.outer.end <= input.length)) {
        throw new PropertyFailure(`inner bounds [${d.innerOffset}, ${d.innerEnd}) outside the outer packet`);
      }
      return true;
    },
  },
  {
    name: 'tunnel-data', show: hex,
    arb: mixArb(seedsOf(4), gen.tunnelDataArb),
    check(input) {
      const h = guarded(input.length, () => tunnelData.decode(input, 0, input.length));
      if (h === undefined) return false;
      if (h.payloadOffset !== 4 || h.end !== input.length) throw new PropertyFailure('tunnel data bounds');
      return true;
    },
  },
  {
    name: 'decodeMip', show: hex,
    arb: mixArb(allMip, gen.mipArb),
    check(input) {
      return guarded(input.length, () => decodeMip(input, 0, input.length)) !== undefined;
    },
  },
  {
    name: 'decodeIcmp', show: hex,
    arb: sometimes(mixArb(allIcmp, gen.icmpArb), fixIcmp),
    check(input) {
      const ok = guarded(input.length, () => decodeIcmp(input, 0, input.length)) !== undefined;
      guarded(input.length, () => decodeIcmp(input, 0, input.length, { verifyChecksum: false }));
      return ok;
    },
  },
  {
    name: 'roamd-decode', show: hex,
    arb: fc.oneof(sometimes(mixArb([...goldenIp, ...goldenIpip], fc.oneof(gen.ipv4Arb, gen.ipipArb)), fixIp), mixArb([...allMip, ...allIcmp])),
    check(input) {
      let ok = false;
      for (const mode of ['auto', 'udp', 'icmp', 'ip'] as const) {
        const out = guarded(input.length, () => decodeBytes(input, mode));
        if (out !== undefined) JSON.stringify(out); // printable as the CLI prints it
        if (out !== undefined && mode === 'auto') ok = true;
      }
      // The hex front end: separators, prefixes and junk characters.
      guarded(2 * input.length, () => parseHex(`0x${input.toString('hex').replace(/(..)(..)/g, '$1:$2 ')}`));
      guarded(2 * input.length, () => parseHex(input.toString('latin1')));
      return ok;
    },
  },
];

// --- UCI and config -----------------------------------------------------------------------------

const CONFIG_SEEDS = [
  `config roamd 'main'\n\toption role 'ha'\n\tlist listen '10.1.0.1'\n\toption port '434'\n\toption control_socket '/tmp/x.sock'\n\n` +
  `config home_agent\n\toption address '10.1.0.1'\n\toption home_network '10.1.0.0/24'\n\toption home_pool '10.1.0.100-10.1.0.120'\n\n` +
  `config mobile_node\n\toption home_address '10.1.0.50'\n\toption nai 'alice@corp.example'\n\toption spi '256'\n\toption key '00112233445566778899aabbccddeeff'\n\n` +
  `config peer\n\toption role 'proxy'\n\toption address '10.1.0.2'\n\toption spi '1000'\n\toption key 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0'\n`,
  `config roamd\n\toption role proxy\n\toption profile "gateway"\n\nconfig proxy\n\toption outside 203.0.113.2\n\toption inside 10.1.0.2\n\toption outer_pool '198.18.0.0/24'\n\n` +
  `config mobile_node\n\toption nai 'a@b'\n\toption spi 257\n\toption key '102132435465768798a9bacbdcedfe0f'\n\toption replay nonce\n\n` +
  `config peer\n\toption role ha\n\toption address 10.1.0.1\n\toption spi 1000\n\toption algorithm hmac-sha256\n\toption key 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0'\n`,
  `config roamd main\n\toption role fa\n\nconfig foreign_agent\n\toption advertise_interval 5\n\toption reverse_tunnel required\n\n` +
  `config interface\n\toption ifname wlan0\n\toption address '192.0.2.1/24'\n\nconfig peer\n\toption role ha\n\toption address '203.0.113.2'\n`,
  `package roamd\nconfig roamd 'main' # comment\n\toption role 'mn'; option log_level "debug"\n\nconfig mobile\n\toption nai 'alice@corp.example'\n\toption home_agent '10.1.0.1'\n` +
  `\toption home_network '10.1.0.0/24'\n\toption spi 256\n\toption key 'x\\\n00112233'\n\toption proxy_outside '203.0.113.2'\n\nconfig interface\n\toption ifname 'eth0'\n\toption preference 30\n`,
];

/** Mutations at the token level (keywords, quotes, backslashes, names, numbers) as well as bytes. */
const TOKENS = ['config ', 'option ', 'list ', 'package ', "'", '"', '\\', '\\\n', '\n', ';', '#', ' ', '\t', '\r', '\0', 'role', 'ha', 'proxy', 'fa', 'mn',
  'spi', 'key', 'key_file', 'address', '0', '-1', '4294967296', '99999999999999999999', '256', '10.1.0.1', '10.1.0.0/33', '1.2.3.4-1.2.3.3', 'é', '\u{1F600}', 'x'.repeat(300)];
const textMutation = fc.record({ op: fc.nat(3), pos: fc.nat(4000), tok: fc.constantFrom(...TOKENS), len: fc.nat(40) });
export const configArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...CONFIG_SEEDS), fc.array(textMutation, { maxLength: 5 })).map(([s, ms]) => {
    for (const m of ms) {
      const at = m.pos % (s.length + 1);
      if (m.op === 0) s = s.slice(0, at) + m.tok + s.slice(at);
      else if (m.op === 1) s = s.slice(0, at) + s.slice(at + 1 + m.len);
      else if (m.op === 2) s = s.slice(0, at) + m.tok + s.slice(at + m.tok.length);
      else s = s.slice(0, at);
    }
    return s;
  }) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((t) => t.join('')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }) },
);

TARGETS.push({
  name: 'uci+config', arb: configArb, show: (s: string) => JSON.stringify(s),
  check(text: string) {
    const pkg = guarded(text.length, () => parseUci(text, 'fuzz.conf'));
    if (pkg !== undefined) {
      // Export and re-parse: the same sections, options and values.
      const again = parseUci(exportUci(pkg), 'export');
      const view = (p: typeof pkg) => p.sections.map((s) => [s.type, s.anonymous ? '' : s.name, [...s.options.values()].map((o) => [o.name, o.value])]);
      assert.deepEqual(view(again), view(pkg), 'uci export round trip');
    }
    // Config building: only ERR_CONFIG_INVALID, never a TypeError from a missing field.
    return guarded(text.length, () => parseConfigText(text, 'fuzz.conf')) !== undefined;
  },
});

/** Number of inputs a target consumes per fast-check run (the control target batches lines). */
export function inputsPerRun(_t: Target<any>): number {
  return 1;
}

export { mutatedArb };
