/** IPv4 header, UDP header and checksums, IP-in-IP (RFC 2003) and tunnel data framing. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RoamdError } from '../../../src/errors';
import { hx, ip } from '../../util/hex';
import * as ipv4 from '../../../src/wire/ipv4-header';
import * as udp from '../../../src/wire/udp-header';
import * as ipip from '../../../src/wire/ip-in-ip';
import { internetChecksum } from '../../../src/wire/checksum';

// RFC 1071 §3 example: the one's-complement sum of 0001 f203 f4f5 f6f7 is ddf2.
test('internet checksum matches the RFC 1071 worked example', () => {
  assert.is(internetChecksum(hx('0001f203f4f5f6f7'), 0, 8), ~0xddf2 & 0xffff);
});

// A well-known IPv4 header (Wikipedia/RFC example): checksum b861.
const HDR = hx('4500 0073 0000 4000 4011 b861 c0a80001 c0a800c7');
test('IPv4 header decodes and its checksum verifies', () => {
  const h = ipv4.decode(Buffer.concat([HDR, Buffer.alloc(0x73 - 20)]));
  assert.is(h.totalLength, 0x73);
  assert.is(h.ttl, 64);
  assert.is(h.protocol, 17);
  assert.is(h.fragment, ipv4.IpFlag.DF);
  assert.is(h.src, ip('192.168.0.1'));
  assert.is(h.dst, ip('192.168.0.199'));
  assert.is(h.payloadOffset, 20);
});

test('IPv4 header encodes the same bytes and checksum', () => {
  const out = Buffer.alloc(20);
  ipv4.encode({ tos: 0, totalLength: 0x73, id: 0, fragment: 0x4000, ttl: 64, protocol: 17, src: ip('192.168.0.1'), dst: ip('192.168.0.199'), options: new Uint8Array(0) }, out, 0);
  assert.is(out.toString('hex'), HDR.toString('hex'));
});

test('IPv4 options survive a round trip and count in the header length', () => {
  const buf = Buffer.alloc(28 + 4);
  const end = ipv4.encode({ tos: 0x10, totalLength: 32, id: 7, fragment: 0, ttl: 1, protocol: 1, src: 1, dst: 2, options: new Uint8Array([0x94, 4, 0, 0, 1, 1, 1, 0]) }, buf, 0);
  assert.is(end, 28);
  assert.is(buf[0], 0x47);
  const h = ipv4.decode(buf);
  assert.equal(Array.from(h.options), [0x94, 4, 0, 0, 1, 1, 1, 0]);
});

test('IPv4 decode rejects bad version, short IHL, bad checksum, short total length', () => {
  const full = Buffer.concat([HDR, Buffer.alloc(0x73 - 20)]);
  const code = (b: Buffer) => { try { ipv4.decode(b); return 'ok'; } catch (e) { return (e as RoamdError).code; } };
  const v6 = Buffer.from(full); v6[0] = 0x65;
  assert.is(code(v6), 'ERR_WIRE_MALFORMED');
  const ihl = Buffer.from(full); ihl[0] = 0x44;
  assert.is(code(ihl), 'ERR_WIRE_MALFORMED');
  const sum = Buffer.from(full); sum[11] ^= 1;
  assert.is(code(sum), 'ERR_WIRE_CHECKSUM');
  assert.is(code(full.subarray(0, 0x72)), 'ERR_WIRE_TRUNCATED');
  for (let n = 0; n < 20; n++) assert.is(code(full.subarray(0, n)), 'ERR_WIRE_TRUNCATED');
});

test('UDP checksum over the pseudo-header round trips and catches corruption', () => {
  const payload = hx('01 00 0001 0a010032 0a010001 0a020003 00000000 00000001');
  const buf = Buffer.alloc(8 + payload.length);
  payload.copy(buf, 8);
  udp.encode({ srcPort: 434, dstPort: 434, payloadLength: payload.length }, buf, 0, ip('10.2.0.3'), ip('10.1.0.1'));
  const d = udp.decode(buf, 0, buf.length, ip('10.2.0.3'), ip('10.1.0.1'));
  assert.is(d.length, buf.length);
  assert.is(d.payloadOffset, 8);
  assert.ok(d.checksum !== 0);
  buf[20] ^= 0x40;
  assert.throws(() => udp.decode(buf, 0, buf.length, ip('10.2.0.3'), ip('10.1.0.1')), (e: RoamdError) => e.code === 'ERR_WIRE_CHECKSUM');
  assert.throws(() => udp.decode(buf, 0, 7), (e: RoamdError) => e.code === 'ERR_WIRE_TRUNCATED');
});

test('IP-in-IP copies TOS and DF from the inner header (RFC 2003 §3.1) and decapsulates without copying', () => {
  const inner = Buffer.alloc(28);
  ipv4.encode({ tos: 0xb8, totalLength: 28, id: 1, fragment: ipv4.IpFlag.DF, ttl: 64, protocol: 17, src: ip('10.1.0.50'), dst: ip('10.1.0.9'), options: new Uint8Array(0) }, inner, 0);
  const buf = Buffer.alloc(20 + 28 + 5);
  inner.copy(buf, 20);
  const end = ipip.encapsulate(buf, 0, 28, ip('192.0.2.1'), ip('198.51.100.7'), 99);
  assert.is(end, 48);
  const d = ipip.decapsulate(buf, 0, end);
  assert.is(d.outer.protocol, 4);
  assert.is(d.outer.tos, 0xb8);
  assert.is(d.outer.fragment & ipv4.IpFlag.DF, ipv4.IpFlag.DF);
  assert.is(d.outer.ttl, ipip.TUNNEL_TTL);
  assert.is(d.outer.src, ip('192.0.2.1'));
  assert.is(d.innerOffset, 20);
  assert.is(d.innerEnd, 48);
  assert.is(buf.subarray(d.innerOffset, d.innerEnd).toString('hex'), inner.toString('hex'));
});

test('IP-in-IP decapsulation refuses other protocols, fragments and a truncated inner packet', () => {
  const inner = Buffer.alloc(28);
  ipv4.encode({ tos: 0, totalLength: 28, id: 1, fragment: 0, ttl: 64, protocol: 17, src: 1, dst: 2, options: new Uint8Array(0) }, inner, 0);
  const buf = Buffer.alloc(48);
  inner.copy(buf, 20);
  ipip.encapsulate(buf, 0, 28, 3, 4);
  const gre = Buffer.from(buf); gre[9] = 47; gre.writeUInt16BE(0, 10); gre.writeUInt16BE(internetChecksum(gre, 0, 20), 10);
  assert.throws(() => ipip.decapsulate(gre), (e: RoamdError) => e.code === 'ERR_WIRE_MALFORMED');
  const frag = Buffer.from(buf); frag.writeUInt16BE(0x2000, 6); frag.writeUInt16BE(0, 10); frag.writeUInt16BE(internetChecksum(frag, 0, 20), 10);
  assert.throws(() => ipip.decapsulate(frag), (e: RoamdError) => e.code === 'ERR_WIRE_MALFORMED');
  const short = Buffer.from(buf); short.writeUInt16BE(30, 22); short.writeUInt16BE(0, 30); short.writeUInt16BE(internetChecksum(short, 20, 40), 30);
  assert.throws(() => ipip.decapsulate(short), (e: RoamdError) => e.code === 'ERR_WIRE_TRUNCATED');
  assert.throws(() => ipip.encapsulate(Buffer.alloc(30), 0, 10, 1, 2), (e: RoamdError) => e.code === 'ERR_WIRE_MALFORMED');
});

test.run();
