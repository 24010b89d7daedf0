import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AddressPool, ALLOCATED, FREE, HELD, naiHashString } from '../../../src/tables/address-pool';
import { FULL } from '../../../src/tables/status';
import { mulberry32, below } from '../../util/prng';

test('1. same NAI back within the hold time gets the same address; after it, the address is free', () => {
  const p = new AddressPool({ first: 0x0a000100, count: 4, holdMs: 60_000 });
  const a = [naiHashString('alice@example.com', 0), naiHashString('alice@example.com', 1)] as const;
  const b = [naiHashString('bob@example.com', 0), naiHashString('bob@example.com', 1)] as const;
  const sa = p.allocate(a[0], a[1], 0);
  assert.is(p.allocate(a[0], a[1], 1), sa, 'repeat registration keeps the address');
  p.release(sa, 1000);
  assert.is(p.state[sa], HELD);
  const sb = p.allocate(b[0], b[1], 2000);
  assert.is.not(sb, sa);
  assert.is(p.allocate(a[0], a[1], 60_999), sa, 'returned within hold time');
  p.release(sa, 70_000);
  p.advance(130_000);
  assert.is(p.state[sa], FREE);
  assert.is(p.find(a[0], a[1]), -1);
});

test('2. a full pool reclaims the oldest held address, then reports FULL', () => {
  const p = new AddressPool({ first: 100, count: 2, holdMs: 1e9 });
  const s1 = p.allocate(1, 1, 0), s2 = p.allocate(2, 2, 0);
  p.release(s1, 5);
  assert.is(p.allocate(3, 3, 6), s1);
  assert.is(p.find(1, 1), -1);
  assert.is(p.allocate(4, 4, 7), FULL);
  assert.is(p.addressOf(s2), 101);
  assert.is(p.allocateAddress(101, 9, 9), FULL);
  assert.is(p.allocateAddress(999, 9, 9), FULL);
});

test('3. differential vs reference: 200k allocate/release/advance ops', () => {
  const r = mulberry32(5);
  const n = 64, hold = 5000;
  const p = new AddressPool({ first: 0x0a000000, count: n, holdMs: hold });
  const state = new Array<number>(n).fill(FREE), owner = new Array<number>(n).fill(0), until = new Array<number>(n).fill(0);
  let free = Array.from({ length: n }, (_, i) => i), held: number[] = [];
  let now = 0, full = 0, reused = 0;
  const expire = () => {
    while (held.length && until[held[0]!]! <= now) { const s = held.shift()!; state[s] = FREE; owner[s] = 0; free.push(s); }
  };
  for (let op = 0; op < 200_000; op++) {
    const nai = 1 + below(r, 200);
    const act = below(r, 10);
    if (act < 5) {
      let want = owner.findIndex((o, s) => o === nai && state[s] !== FREE);
      if (want >= 0) {
        if (state[want] === HELD) { held = held.filter((x) => x !== want); state[want] = ALLOCATED; reused++; }
      } else {
        expire();
        if (free.length) want = free.shift()!;
        else if (held.length) want = held.shift()!;
        else want = FULL;
        if (want >= 0) { state[want] = ALLOCATED; owner[want] = nai; }
      }
      if (want === FULL) full++;
      assert.is(p.allocate(nai, nai * 31, now), want, `allocate at op ${op}`);
    } else if (act < 8) {
      const s = below(r, n);
      p.release(s, now);
      if (state[s] === ALLOCATED) { state[s] = HELD; until[s] = now + hold; held.push(s); }
    } else {
      now += below(r, 400);
      p.advance(now);
      expire();
    }
    assert.is(p.allocated, state.filter((x) => x === ALLOCATED).length);
    assert.is(p.held, held.length);
  }
  for (let s = 0; s < n; s++) assert.is(p.state[s], state[s]);
  assert.ok(full > 100 && reused > 1000, `full ${full} reused ${reused}`);
});

test.run();
