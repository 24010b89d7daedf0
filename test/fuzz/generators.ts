/**
 * Structured generators: valid Mobile IP messages, extensions, ICMP agent discovery messages and
 * IPv4/UDP/IP-in-IP packets built with roamd's own encoders from random field values. The fuzz
 * targets corrupt them afterwards (mutate.ts) so the decoders see inputs that get deep.
 */
import fc from 'fast-check';
import type { Extension } from '../../src/wire/extensions';
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

const u8 = fc.nat(255), u16 = fc.nat(0xffff), u32 = fc.nat(0xffffffff).map((x) => x >>> 0);
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const text = (max: number) => fc.string({ maxLength: max, unit: 'grapheme-ascii' });

export const extensionArb: fc.Arbitrary<Extension> = fc.oneof(
  fc.constant<Extension>({ kind: 'pad' }),
  fc.record({ type: fc.constantFrom(32, 33, 34) as fc.Arbitrary<32 | 33 | 34>, spi: u32, authenticator: bytes(32) }).map((r): Extension => ({ kind: 'auth', ...r })),
  fc.record({ subtype: u8, spi: u32, authenticator: bytes(32) }).map((r): Extension => ({ kind: 'gen-auth', ...r })),
  fc.record({ vendorId: u32, vendorType: u16, value: bytes(40) }).map((r): Extension => ({ kind: 'cvse', ...r })),
  fc.record({ vendorId: u32, vendorType: u16, value: bytes(40) }).map((r): Extension => ({ kind: 'nvse', ...r })),
  fc.record({ subtype: fc.constant(0), flags: fc.constantFrom(0, 0x40, 0x80, 0xc0), encapsulation: u8 }).map((r): Extension => ({ kind: 'udp-tunnel-request', ...r })),
  fc.record({ subtype: u8, code: u8, flags: fc.constantFrom(0, 0x8000), keepalive: u16 }).map((r): Extension => ({ kind: 'udp-tunnel-reply', ...r })),
  fc.constant<Extension>({ kind: 'encap-delivery' }),
  text(40).map((nai): Extension => ({ kind: 'nai', nai })),
  bytes(32).map((challenge): Extension => ({ kind: 'challenge', challenge })),
  fc.record({ flags: fc.constantFrom(0, 0x8000), timestamp: u32 }).map((r): Extension => ({ kind: 'revocation-support', ...r })),
  fc.record({ subtype: u8, haAddress: u32 }).map((r): Extension => ({ kind: 'dynamic-ha', ...r })),
  fc.record({ subtype: u8, text: text(40) }).map((r): Extension => ({ kind: 'message-string', ...r })),
  u8.map((subtype): Extension => ({ kind: 'tnc', subtype })),
  fc.record({ type: fc.integer({ min: 128, max: 255 }), data: bytes(24) }).map((r): Extension => ({ kind: 'unknown', ...r })),
);
const extsArb = fc.array(extensionArb, { maxLength: 6 });

function enc<T>(codec: { encodingLength(m: T): number; encode(m: T, b: Buffer, o?: number): number }, m: T): Buffer {
  const b = Buffer.alloc(codec.encodingLength(m));
  codec.encode(m, b, 0);
  return b;
}

export const requestArb = fc.record({ flags: u8, lifetime: u16, homeAddress: u32, homeAgent: u32, careOfAddress: u32, idHigh: u32, idLow: u32, extensions: extsArb })
  .map((m) => enc(request, { type: 1, ...m }));
export const replyArb = fc.record({ code: u8, lifetime: u16, homeAddress: u32, homeAgent: u32, idHigh: u32, idLow: u32, extensions: extsArb })
  .map((m) => enc(reply, { type: 3, ...m }));
export const revocationArb = fc.record({ flags: fc.constantFrom(0, 0x4000, 0x8000, 0xc000), homeAddress: u32, homeDomainAddress: u32, foreignDomainAddress: u32, revocationId: u32, extensions: extsArb })
  .map((m) => enc(revocation, { type: 7, ...m }));
export const revocationAckArb = fc.record({ flags: fc.constantFrom(0, 0x8000), homeAddress: u32, revocationId: u32, extensions: extsArb })
  .map((m) => enc(revocationAck, { type: 15, ...m }));
export const tunnelDataArb = fc.tuple(u8, bytes(64)).map(([nh, payload]) => {
  const b = Buffer.alloc(4 + payload.length);
  tunnelData.encode({ nextHeader: nh }, b, 0);
  b.set(payload, 4);
  return b;
});
export const mipArb = fc.oneof(requestArb, replyArb, revocationArb, revocationAckArb, tunnelDataArb);

const advExtArb: fc.Arbitrary<advertisement.AdvExtension> = fc.oneof(
  fc.record({ sequence: u16, registrationLifetime: u16, flags: u16, careOfAddresses: fc.array(u32, { maxLength: 4 }) }).map((r): advertisement.AdvExtension => ({ kind: 'mobility-agent', ...r })),
  fc.array(fc.nat(32), { maxLength: 6 }).map((prefixLengths): advertisement.AdvExtension => ({ kind: 'prefix-lengths', prefixLengths })),
  bytes(16).map((challenge): advertisement.AdvExtension => ({ kind: 'challenge', challenge })),
  fc.constant<advertisement.AdvExtension>({ kind: 'pad' }),
  fc.record({ type: fc.integer({ min: 128, max: 255 }), data: bytes(16) }).map((r): advertisement.AdvExtension => ({ kind: 'unknown', ...r })),
);
export const advertisementArb = fc.record({
  code: fc.constantFrom(0, 16), lifetime: u16,
  routers: fc.array(fc.record({ address: u32, preference: fc.integer({ min: -0x80000000, max: 0x7fffffff }) }), { maxLength: 3 }),
  extensions: fc.array(advExtArb, { maxLength: 4 }),
}).map((m) => enc(advertisement, { type: 9, ...m }));
export const solicitationArb = fc.constant(0).map(() => enc(solicitation, { type: 10, code: 0 }));
export const icmpArb = fc.oneof(advertisementArb, solicitationArb);

/** An IPv4 header (options included) in front of `payload`, with a correct checksum. */
export function ipPacket(src: number, dst: number, protocol: number, payload: Uint8Array, options = new Uint8Array(0), fragment = 0): Buffer {
  const hl = 20 + options.length;
  const b = Buffer.alloc(hl + payload.length);
  ipv4.encode({ tos: 0, totalLength: b.length, id: 1, fragment, ttl: 64, protocol, src, dst, options }, b, 0);
  b.set(payload, hl);
  return b;
}

export function udpPacket(src: number, dst: number, srcPort: number, dstPort: number, payload: Uint8Array): Buffer {
  const u = Buffer.alloc(8 + payload.length);
  u.set(payload, 8);
  udp.encode({ srcPort, dstPort, payloadLength: payload.length }, u, 0, src, dst);
  return ipPacket(src, dst, 17, u);
}

const optsArb = fc.nat(10).map((n) => new Uint8Array(4 * n).fill(1)); // NOPs, up to 40 bytes
export const ipv4Arb = fc.oneof(
  fc.tuple(u32, u32, fc.constantFrom(1, 4, 17, 6, 50), bytes(48), optsArb, fc.constantFrom(0, 0x4000, 0x2000, 0x0001)).map(([s, d, p, pl, o, f]) => ipPacket(s, d, p, pl, o, f)),
  fc.tuple(u32, u32, fc.constantFrom(434, 1234), mipArb).map(([s, d, port, m]) => udpPacket(s, d, port, 434, m)),
  fc.tuple(u32, u32, icmpArb).map(([s, d, m]) => ipPacket(s, d, 1, m)),
);
/** IP-in-IP: an outer header around a whole inner datagram. */
export const ipipArb = fc.tuple(u32, u32, ipv4Arb).map(([s, d, inner]) => {
  const b = Buffer.alloc(20 + inner.length);
  b.set(inner, 20);
  ipip.encapsulate(b, 0, inner.length, s, d);
  return b;
});
/** UDP datagrams (header + payload) for udp.decode, checksummed for 10.0.0.1 → 10.0.0.2. */
export const UDP_SRC = 0x0a000001, UDP_DST = 0x0a000002;
export const udpArb = fc.tuple(u16, u16, bytes(64)).map(([sp, dp, pl]) => {
  const b = Buffer.alloc(8 + pl.length);
  b.set(pl, 8);
  udp.encode({ srcPort: sp, dstPort: dp, payloadLength: pl.length }, b, 0, UDP_SRC, UDP_DST);
  return b;
});
