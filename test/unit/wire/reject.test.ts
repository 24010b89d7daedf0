/**
 * Inputs every codec must refuse, with the error code and offset that `roamd decode` reports,
 * and encoder argument checks. Numbered cases, one named test each.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RoamdError, ErrorCode } from '../../../src/errors';
import { hx } from '../../util/hex';
import { decodeMip, decodeIcmp } from '../../../src/wire/message';
import * as request from '../../../src/wire/registration-request';
import * as advertisement from '../../../src/wire/agent-advertisement';

const REQ = '01 00 0001 0a010032 0a010001 0a020003 00000000 00000001';

const CASES: Array<{ name: string; hex: string; icmp?: boolean; code: ErrorCode; offset?: number }> = [
  { name: 'unknown non-skippable extension 50 rejects the whole request (RFC 5944 §1.9)', hex: `${REQ} 32 02 0000`, code: 'ERR_WIRE_UNKNOWN_EXTENSION', offset: 24 },
  { name: 'unknown non-skippable extension after a valid one', hex: `${REQ} 82 00 7f 00`, code: 'ERR_WIRE_UNKNOWN_EXTENSION', offset: 26 },
  { name: 'extension length runs past the end', hex: `${REQ} 83 10 61`, code: 'ERR_WIRE_TRUNCATED', offset: 26 },
  { name: 'lone extension type byte', hex: `${REQ} 83`, code: 'ERR_WIRE_TRUNCATED', offset: 24 },
  { name: 'MN-HA auth with length 3 has no room for the SPI', hex: `${REQ} 20 03 000001`, code: 'ERR_WIRE_MALFORMED', offset: 24 },
  { name: 'UDP tunnel reply with length 5 (non-skippable, RFC 3519 §3.2)', hex: `${REQ} 2c 05 00 00 0000 00`, code: 'ERR_WIRE_MALFORMED', offset: 24 },
  { name: 'generalized auth with length 2', hex: `${REQ} 24 01 0002 0000`, code: 'ERR_WIRE_MALFORMED', offset: 24 },
  { name: 'generalized auth length past the end', hex: `${REQ} 24 01 0040 00000100`, code: 'ERR_WIRE_TRUNCATED', offset: 28 },
  { name: 'CVSE shorter than vendor id and type', hex: `${REQ} 26 00 0004 00000137`, code: 'ERR_WIRE_MALFORMED', offset: 24 },
  { name: 'NAI that is not UTF-8', hex: `${REQ} 83 02 c328`, code: 'ERR_WIRE_MALFORMED', offset: 26 },
  { name: 'unknown Mobile IP message type 2', hex: '02 00 0000', code: 'ERR_WIRE_MALFORMED', offset: 0 },
  { name: 'empty UDP payload', hex: '', code: 'ERR_WIRE_TRUNCATED', offset: 0 },
  { name: 'reply cut inside the identification', hex: '03 00 0000 0a010032 0a010001 00000000', code: 'ERR_WIRE_TRUNCATED', offset: 0 },
  { name: 'advertisement with a bad checksum', hex: '09 00 1234 00 02 0708 10 06 0001 0258 1000', icmp: true, code: 'ERR_WIRE_CHECKSUM', offset: 2 },
  { name: 'solicitation with code 1 (RFC 1256 §5.2)', hex: '0a 01 f5fe 00000000', icmp: true, code: 'ERR_WIRE_MALFORMED', offset: 1 },
  { name: 'ICMP echo is not agent discovery', hex: '08 00 f7ff 00000000', icmp: true, code: 'ERR_WIRE_MALFORMED', offset: 0 },
];

CASES.forEach((c, i) => {
  test(`reject #${i + 1}: ${c.name}`, () => {
    const buf = hx(c.hex);
    try {
      if (c.icmp) decodeIcmp(buf);
      else decodeMip(buf);
    } catch (e) {
      assert.instance(e, RoamdError);
      assert.is((e as RoamdError).code, c.code, (e as Error).message);
      if (c.offset !== undefined) assert.is((e as RoamdError).offset, c.offset, (e as Error).message);
      return;
    }
    assert.unreachable('decoded');
  });
});

function fixChecksum(b: Buffer): Buffer {
  b.writeUInt16BE(0, 2);
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  b.writeUInt16BE(~s & 0xffff, 2);
  return b;
}

const ADV_CASES: Array<{ name: string; hex: string; code: ErrorCode }> = [
  { name: 'address entry size 1 (RFC 1256 §5.2)', hex: '09 00 0000 01 01 0708 c0a80001', code: 'ERR_WIRE_MALFORMED' },
  { name: 'router entries past the end', hex: '09 00 0000 02 02 0708 c0a80001 00000000', code: 'ERR_WIRE_TRUNCATED' },
  { name: 'mobility agent extension length 7 is not 6 + 4N', hex: '09 00 0000 00 02 0708 10 07 0001 0258 1000 00', code: 'ERR_WIRE_MALFORMED' },
  { name: 'unknown non-skippable advertisement extension 20', hex: '09 00 0000 00 02 0708 14 00', code: 'ERR_WIRE_UNKNOWN_EXTENSION' },
  { name: 'prefix length 33', hex: '09 00 0000 01 02 0708 c0a80001 00000000 13 01 21', code: 'ERR_WIRE_MALFORMED' },
];
ADV_CASES.forEach((c, i) => {
  test(`advertisement reject #${i + 1}: ${c.name}`, () => {
    try {
      advertisement.decode(fixChecksum(hx(c.hex)));
    } catch (e) {
      assert.instance(e, RoamdError);
      assert.is((e as RoamdError).code, c.code, (e as Error).message);
      return;
    }
    assert.unreachable('decoded');
  });
});

test('advertisement checksum can be skipped for captures that had it offloaded', () => {
  const m = advertisement.decode(hx('09 00 1234 00 02 0708 10 06 0001 0258 1000'), 0, 16, { verifyChecksum: false });
  assert.is(m.extensions.length, 1);
});

test('encoder refuses out-of-range fields instead of writing garbage', () => {
  const base = { type: 1 as const, flags: 0, lifetime: 70000, homeAddress: 0, homeAgent: 0, careOfAddress: 0, idHigh: 0, idLow: 0, extensions: [] };
  assert.throws(() => request.encode(base, Buffer.alloc(64)), (e: RoamdError) => e.code === 'ERR_WIRE_ENCODE');
  assert.throws(() => request.encode({ ...base, lifetime: 1 }, Buffer.alloc(10)), (e: RoamdError) => e.code === 'ERR_WIRE_ENCODE');
  const longNai = { ...base, lifetime: 1, extensions: [{ kind: 'nai' as const, nai: 'x'.repeat(256) }] };
  assert.throws(() => request.encode(longNai, Buffer.alloc(400)), (e: RoamdError) => e.code === 'ERR_WIRE_ENCODE');
  const nonSkippableUnknown = { ...base, lifetime: 1, extensions: [{ kind: 'unknown' as const, type: 50, data: new Uint8Array(0) }] };
  assert.throws(() => request.encode(nonSkippableUnknown, Buffer.alloc(64)), (e: RoamdError) => e.code === 'ERR_WIRE_ENCODE');
});

test('decode rejects a window outside the buffer', () => {
  assert.throws(() => request.decode(Buffer.alloc(30), 10, 40), (e: RoamdError) => e.code === 'ERR_WIRE_TRUNCATED');
});

test.run();
