/**
 * Authenticators: algorithm vectors (RFC 2202 HMAC-MD5, RFC 4231 HMAC-SHA-256, keyed BLAKE2b from
 * Python's hashlib), the exact bytes covered (RFC 5944 §3.5.1), constant-time checks, and keys
 * never leaking into JSON or inspect output.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inspect } from 'node:util';
import { createHmac } from 'node:crypto';
import { computeMac, initCrypto, Algorithm } from '../../../src/auth/algorithms';
import { SecurityAssociation, SaStore } from '../../../src/auth/security-association';
import { sign, verify, placeholder } from '../../../src/auth/authenticator';
import * as request from '../../../src/wire/registration-request';
import { RoamdError } from '../../../src/errors';
import { hx, ip } from '../../util/hex';

const MAC_VECTORS: Array<[Algorithm, string, string, string]> = [
  // [algorithm, key hex, data, expected] — RFC 2202 §2 test cases 1 and 2.
  ['hmac-md5', '0b'.repeat(16), 'Hi There', '9294727a3638bb1c13f48ef8158bfc9d'],
  ['hmac-md5', Buffer.from('Jefe').toString('hex'), 'what do ya want for nothing?', '750c783e6ab0b503eaa86e310a5db738'],
  // RFC 4231 §4.2 and §4.3.
  ['hmac-sha256', '0b'.repeat(20), 'Hi There', 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
  ['hmac-sha256', Buffer.from('Jefe').toString('hex'), 'what do ya want for nothing?', '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
  // hashlib.blake2b(data, key=bytes(range(n)), digest_size=32) in CPython.
  ['blake2b', Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('hex'), 'Hi There', 'd02c63142fd8bcd3fe2d5841ceb976bd76642668bd0805c9bfa324c3e965dcb2'],
  ['blake2b', Buffer.from(Array.from({ length: 64 }, (_, i) => i)).toString('hex'), '', '2fa9fbd9be36437de204e139e97d402bce68c828f43391608c891b5faed8a98a'],
];

test.before(async () => {
  await initCrypto();
});

MAC_VECTORS.forEach(([alg, key, data, want], i) => {
  test(`mac vector #${i + 1}: ${alg}`, () => {
    assert.is(Buffer.from(computeMac(alg, hx(key), Buffer.from(data))).toString('hex'), want);
  });
});

const KEY = hx('00112233445566778899aabbccddeeff');
const sa = () => new SecurityAssociation({ spi: 256, algorithm: 'hmac-md5', key: KEY });

function signedRequest(s: SecurityAssociation): { buf: Buffer; msg: request.RegistrationRequest } {
  const msg: request.RegistrationRequest = {
    type: 1, flags: 0x02, lifetime: 1800, homeAddress: ip('10.1.0.50'), homeAgent: ip('10.1.0.1'), careOfAddress: ip('192.168.0.2'), idHigh: 0xe8a1b2c3, idLow: 9,
    extensions: [
      { kind: 'nai', nai: 'alice@corp.example' },
      { kind: 'auth', type: 32, spi: s.spi, authenticator: placeholder(s) },
      { kind: 'challenge', challenge: new Uint8Array([1, 2, 3, 4]) },
    ],
  };
  const buf = Buffer.alloc(request.encodingLength(msg));
  request.encode(msg, buf, 0);
  sign(s, buf, 0, msg.extensions[1] as never);
  return { buf, msg };
}

test('HMAC-MD5 covers the message from its first byte through the SPI, nothing else (RFC 5944 §3.5.1)', () => {
  const s = sa();
  const { buf } = signedRequest(s);
  const authAt = 24 + 20; // after the fixed part and the NAI extension
  const expected = createHmac('md5', KEY).update(buf.subarray(0, authAt + 6)).digest('hex');
  assert.is(buf.subarray(authAt + 6, authAt + 22).toString('hex'), expected);
});

test('a signed request verifies after decoding', () => {
  const s = sa();
  const { buf } = signedRequest(s);
  const m = request.decode(buf);
  const auth = m.extensions.find((e) => e.kind === 'auth');
  assert.ok(auth && auth.kind === 'auth' && verify(s, buf, 0, auth));
});

test('changing any covered byte breaks the authenticator; bytes after it do not', () => {
  const s = sa();
  const { buf } = signedRequest(s);
  const authEnd = 24 + 20 + 22;
  for (let i = 0; i < buf.length; i++) {
    const t = Buffer.from(buf);
    t[i] ^= 0x01;
    let ok: boolean;
    try {
      const m = request.decode(t);
      const auth = m.extensions.find((e) => e.kind === 'auth');
      ok = !!auth && auth.kind === 'auth' && verify(s, t, 0, auth);
    } catch (e) {
      // A flipped length byte can make the message undecodable: that is a parse failure, not an
      // authentication result, and only counts as "broken" for covered bytes.
      assert.instance(e, RoamdError);
      if (i >= authEnd) continue;
      ok = false;
    }
    assert.is(ok, i >= authEnd, `byte ${i}`);
  }
});

test('verification at an offset inside a larger buffer', () => {
  const s = sa();
  const { buf } = signedRequest(s);
  const big = Buffer.concat([Buffer.alloc(28, 0x55), buf, Buffer.alloc(3)]);
  const m = request.decode(big, 28, 28 + buf.length);
  const auth = m.extensions.find((e) => e.kind === 'auth');
  assert.ok(auth && auth.kind === 'auth' && verify(s, big, 28, auth));
});

test('wrong SPI, wrong key, wrong algorithm and short authenticators fail', () => {
  const s = sa();
  const { buf } = signedRequest(s);
  const m = request.decode(buf);
  const auth = m.extensions.find((e) => e.kind === 'auth')!;
  if (auth.kind !== 'auth') throw new Error('no auth');
  assert.not.ok(verify(new SecurityAssociation({ spi: 257, algorithm: 'hmac-md5', key: KEY }), buf, 0, auth));
  assert.not.ok(verify(new SecurityAssociation({ spi: 256, algorithm: 'hmac-md5', key: hx('00112233445566778899aabbccddeefe') }), buf, 0, auth));
  assert.not.ok(verify(new SecurityAssociation({ spi: 256, algorithm: 'hmac-sha256', key: KEY }), buf, 0, auth));
  assert.not.ok(verify(s, buf, 0, { ...auth, authenticator: auth.authenticator.subarray(0, 15) }));
});

for (const alg of ['hmac-sha256', 'blake2b'] as const) {
  test(`${alg}: sign then verify a request with a 32-byte authenticator`, () => {
    const s = new SecurityAssociation({ spi: 300, algorithm: alg, key: hx('11'.repeat(32)) });
    const { buf } = signedRequest(s);
    const m = request.decode(buf);
    const auth = m.extensions.find((e) => e.kind === 'auth');
    assert.ok(auth && auth.kind === 'auth' && auth.authenticator.length === 32 && verify(s, buf, 0, auth));
  });
}

test('keys never appear in JSON, inspect output or enumerable properties', () => {
  const s = sa();
  const secret = KEY.toString('hex');
  const texts = [JSON.stringify(s), inspect(s, { showHidden: true, depth: 5 }), JSON.stringify(Object.entries(s)), String(s)];
  for (const t of texts) assert.not.ok(t.toLowerCase().includes(secret), t);
  assert.ok(JSON.stringify(s).includes('redacted'));
});

test('SA parameters are validated: reserved SPI, key lengths, window', () => {
  const bad = (p: object) => assert.throws(() => new SecurityAssociation({ spi: 256, algorithm: 'hmac-md5', key: KEY, ...p } as never), (e: RoamdError) => e.code === 'ERR_AUTH');
  bad({ spi: 255 });
  bad({ spi: 2 ** 32 });
  bad({ key: new Uint8Array(0) });
  bad({ algorithm: 'blake2b', key: new Uint8Array(8) });
  bad({ algorithm: 'rot13' });
  bad({ replayWindow: 0 });
});

test('SA store looks up by peer and SPI', () => {
  const st = new SaStore();
  st.add('10.1.0.50', sa());
  assert.ok(st.get('10.1.0.50', 256));
  assert.is(st.get('10.1.0.50', 257), undefined);
  assert.is(st.get('10.1.0.51', 256), undefined);
  assert.ok(st.delete('10.1.0.50', 256));
  assert.is(st.size, 0);
});

test.run();
