/** The per-source token bucket table (src/platform/rate-limit.ts) against a Map reference. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RateLimiter } from '../../src/platform/rate-limit';
import { mulberry32, below } from '../util/prng';

test('a source gets its burst, then its rate; others are unaffected', () => {
  const rl = new RateLimiter({ rate: 10, burst: 20, capacity: 64 });
  const t = 1_000_000;
  let ok = 0;
  for (let i = 0; i < 100; i++) if (rl.allow(0x7f000001, t)) ok++;
  assert.is(ok, 20, 'burst');
  assert.ok(rl.allow(0x7f000002, t), 'another source');
  assert.not.ok(rl.allow(0x7f000001, t + 50), 'not yet refilled');
  assert.ok(rl.allow(0x7f000001, t + 100), 'one token per 100 ms at 10/s');
  assert.is(rl.dropped, 81);
});

test('rate 0 disables the limiter', () => {
  const rl = new RateLimiter({ rate: 0, burst: 0, capacity: 16 });
  for (let i = 0; i < 1000; i++) assert.ok(rl.allow(1, 5));
});

test('differential against a Map of buckets while the table has room (seeded)', () => {
  const r = mulberry32(99);
  const rl = new RateLimiter({ rate: 5, burst: 10, capacity: 4096 });
  const ref = new Map<number, { tok: number; last: number }>();
  let now = 1;
  for (let i = 0; i < 100_000; i++) {
    now += below(r, 3);
    const src = 0x0a000000 + below(r, 200);
    let b = ref.get(src);
    if (!b) ref.set(src, (b = { tok: 10_000, last: now }));
    b.tok = Math.min(10_000, b.tok + Math.floor((now - b.last) * 5));
    b.last = now;
    const want = b.tok >= 1000;
    if (want) b.tok -= 1000;
    assert.is(rl.allow(src, now), want, `step ${i}`);
  }
});

test('a flood of new sources larger than the table: bounded memory, a steady source keeps its slot', () => {
  const rl = new RateLimiter({ rate: 10, burst: 20, capacity: 256 });
  const legit = 0xc0a80001;
  let now = 1, legitOk = 0, legitSent = 0;
  for (let i = 0; i < 200_000; i++) {
    now += 0.05;
    rl.allow((0x0b000000 + i) >>> 0, now); // every packet from a new spoofed source
    if (i % 400 === 0) { legitSent++; if (rl.allow(legit, now)) legitOk++; }
  }
  assert.is(rl.capacity, 256);
  assert.ok(legitOk >= legitSent * 0.95, `legit source admitted ${legitOk}/${legitSent}`);
});

test('allow() retains nothing per call: heap after a full collection stays flat over 1e6 calls from new sources', () => {
  // What the flood defence needs is bounded memory: the table is allocated once. (Each call still
  // creates short-lived garbage, the boxed double time argument at a non-inlined call: young
  // generation only, never retained.) Measured after a full collection, so load cannot move it.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const rl = new RateLimiter({ rate: 100, burst: 200, capacity: 4096 });
  for (let i = 0; i < 10_000; i++) rl.allow(i, i);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 1_000_000; i++) rl.allow((i * 2654435761) >>> 0, 10_000 + i / 100);
  gc();
  const grew = process.memoryUsage().heapUsed - before;
  assert.ok(grew < 256 * 1024, `heap grew ${grew} bytes`);
  assert.ok(rl.capacity === 4096);
});

test.run();
