/**
 * One harness for every codec (dns-packet style): decode golden bytes to the expected value,
 * encode the value back to the same bytes, encode and decode at an offset inside a larger buffer,
 * and reject every truncation cleanly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RoamdError } from '../../../src/errors';
import { VECTORS } from './vectors';

VECTORS.forEach((v, i) => {
  const n = `#${i + 1} ${v.name}`;

  test(`${n}: decodes to the expected fields`, () => {
    assert.equal(v.codec.decode(v.bytes), v.value);
  });

  test(`${n}: encodes to the same bytes`, () => {
    const value = structuredClone(v.value);
    assert.is(v.codec.encodingLength(value), v.bytes.length);
    const out = Buffer.alloc(v.bytes.length);
    assert.is(v.codec.encode(value, out, 0), v.bytes.length);
    assert.is(out.toString('hex'), v.bytes.toString('hex'));
  });

  test(`${n}: round trip at an offset inside a larger buffer`, () => {
    const off = 13;
    const big = Buffer.alloc(off + v.bytes.length + 17, 0xaa);
    const end = v.codec.encode(structuredClone(v.value), big, off);
    assert.is(end, off + v.bytes.length);
    assert.is(big.subarray(off, end).toString('hex'), v.bytes.toString('hex'));
    assert.ok(big.subarray(0, off).every((b) => b === 0xaa), 'bytes before the message untouched');
    assert.ok(big.subarray(end).every((b) => b === 0xaa), 'bytes after the message untouched');
    const again = Buffer.alloc(v.bytes.length);
    v.codec.encode(v.codec.decode(big, off, end), again, 0);
    assert.is(again.toString('hex'), v.bytes.toString('hex'));
  });

  test(`${n}: every truncation is rejected cleanly or is a valid shorter message`, () => {
    const valid = new Set(v.validPrefixes ?? []);
    for (let len = 0; len < v.bytes.length; len++) {
      // Decode the prefix in place, with the rest of the packet still in the buffer after `end`.
      let decoded: unknown;
      try {
        decoded = v.codec.decode(v.bytes, 0, len);
      } catch (e) {
        assert.instance(e, RoamdError, `length ${len}: ${String(e)}`);
        assert.ok(!valid.has(len), `length ${len} should decode (extension boundary): ${String(e)}`);
        continue;
      }
      assert.ok(valid.has(len), `length ${len} of ${v.bytes.length} decoded but is not an extension boundary`);
      const out = Buffer.alloc(len);
      v.codec.encode(decoded, out, 0);
      assert.is(out.toString('hex'), v.bytes.subarray(0, len).toString('hex'), `length ${len} re-encodes exactly`);
    }
  });
});

test.run();
