/**
 * The JavaScript HMAC-MD5 against RFC 2104/2202 vectors and, differentially, against node:crypto
 * for keys and messages of every length around the block boundaries (seeded PRNG).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { HmacMd5, md5 } from '../../../src/auth/hmac-md5';
import { SecurityAssociation } from '../../../src/auth/security-association';
import { computeMac } from '../../../src/auth/algorithms';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// RFC 2202 §2 test cases 1-7 for HMAC-MD5.
const RFC2202: Array<[string, Buffer, Buffer, string]> = [
  ['1', Buffer.alloc(16, 0x0b), Buffer.from('Hi There'), '9294727a3638bb1c13f48ef8158bfc9d'],
  ['2', Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'), '750c783e6ab0b503eaa86e310a5db738'],
  ['3', Buffer.alloc(16, 0xaa), Buffer.alloc(50, 0xdd), '56be34521d144c88dbb8c733f0e8b3f6'],
  ['4', Buffer.from('0102030405060708090a0b0c0d0e0f10111213141516171819', 'hex'), Buffer.alloc(50, 0xcd), '697eaf0aca3a3aea3a75164746ffaa79'],
  ['6', Buffer.alloc(80, 0xaa), Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'), '6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd'],
  ['7', Buffer.alloc(80, 0xaa), Buffer.from('Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data'), '6f630fad67cda0ee1fb1f562db3aa53e'],
];
for (const [n, key, data, mac] of RFC2202) {
  test(`RFC 2202 HMAC-MD5 test case ${n}`, () => assert.is(hex(new HmacMd5(key).mac(data)), mac));
}

test('MD5 of the empty string and "abc" (RFC 1321 A.5)', () => {
  assert.is(hex(md5(new Uint8Array(0))), 'd41d8cd98f00b204e9800998ecf8427e');
  assert.is(hex(md5(Buffer.from('abc'))), '900150983cd24fb0d6963f7d28e17f72');
});

test('matches node:crypto for every message length 0..200 and key lengths around 64', () => {
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
  for (const kl of [1, 16, 55, 63, 64, 65, 128]) {
    const key = Buffer.from(Array.from({ length: kl }, rnd));
    const h = new HmacMd5(key);
    for (let n = 0; n <= 200; n++) {
      const data = Buffer.from(Array.from({ length: n }, rnd));
      assert.is(hex(h.mac(data)), createHmac('md5', key).update(data).digest('hex'), `key ${kl} data ${n}`);
    }
  }
});

test('a SecurityAssociation gives the same authenticator as computeMac', () => {
  const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const sa = new SecurityAssociation({ spi: 256, algorithm: 'hmac-md5', key });
  const data = Buffer.from('registration request bytes');
  assert.is(hex(sa.mac(data)), hex(computeMac('hmac-md5', key, data)));
  assert.is(hex(sa.mac(data)), hex(computeMac('hmac-md5', key, data)), 'twice: the cached state is not disturbed');
});

test.run();
