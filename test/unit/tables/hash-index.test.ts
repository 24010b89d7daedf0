import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HashIndex } from '../../../src/tables/hash-index';
import { mulberry32, below } from '../../util/prng';

// The index under test keeps slots; this harness plays the owning table (key columns + free list).
function harness(cap: number, pair: boolean) {
  const k1 = new Uint32Array(cap), k2 = new Uint16Array(cap);
  const idx = new HashIndex(cap, k1, pair ? k2 : null);
  const free: number[] = [];
  for (let i = cap - 1; i >= 0; i--) free.push(i);
  return { k1, k2, idx, free };
}

for (const [n, pair] of [[1, false], [2, true]] as const) {
  test(`${n}. differential vs Map: 200k ops, full table and churn (${pair ? 'key pair' : 'uint32 key'})`, () => {
    const r = mulberry32(0xc0ffee + n);
    const cap = 1000;
    const { k1, k2, idx, free } = harness(cap, pair);
    const ref = new Map<string, number>();
    const keyOf = (a: number, b: number) => `${a}/${b}`;
    let fulls = 0;
    for (let op = 0; op < 200_000; op++) {
      // Keys from a space 3× the capacity, clustered (sequential addresses) half the time.
      const a = r() & 1 ? below(r, 3000) : 0xc0a80000 + below(r, 3000);
      const b = pair ? below(r, 3) : 0;
      const k = keyOf(a, b);
      const act = below(r, 10);
      if (act < 5) {
        if (ref.has(k)) continue;
        if (ref.size === cap) { fulls++; assert.is(free.length, 0); continue; }
        const s = free.pop()!;
        k1[s] = a; k2[s] = b;
        idx.insert(s);
        ref.set(k, s);
      } else if (act < 8) {
        const s = idx.remove(a, b);
        assert.is(s, ref.has(k) ? ref.get(k)! : -1, `remove ${k}`);
        if (s >= 0) { ref.delete(k); free.push(s); }
      } else {
        assert.is(idx.find(a, b), ref.has(k) ? ref.get(k)! : -1, `find ${k} at op ${op}`);
      }
      assert.is(idx.size, ref.size);
      if (op % 20_000 === 0) for (const [kk, s] of ref) assert.is(idx.find(k1[s]!, k2[s]!), s, kk);
    }
    assert.ok(fulls > 100, `table filled ${fulls} times`);
    for (const [, s] of ref) assert.is(idx.find(k1[s]!, k2[s]!), s);
  });
}

test('3. no tombstones: 1M insert/delete cycles leave an empty index', () => {
  const { k1, idx } = harness(64, false);
  const r = mulberry32(7);
  for (let i = 0; i < 1_000_000; i++) {
    const s = i & 63;
    if (i >= 64) idx.remove(k1[s]!);
    k1[s] = r();
    idx.insert(s);
  }
  for (let s = 0; s < 64; s++) idx.remove(k1[s]!);
  assert.is(idx.size, 0);
  assert.ok(idx.buckets.every((b) => b === -1));
});

test.run();
