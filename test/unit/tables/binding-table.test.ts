import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BindingTable, FLAG_S, MODE_TUNNEL, MODE_VPN_GATEWAY } from '../../../src/tables/binding-table';
import { FULL, NODE_LIMIT } from '../../../src/tables/status';
import { mulberry32, below } from '../../util/prng';

interface RefB { coa: number; hi: number; lo: number; flags: number; mode: number; due: number }

for (const [n, cap, homes, seed] of [[1, 500, 2000, 1], [2, 1000, 1000, 2], [3, 64, 100_000, 3]] as const) {
  test(`${n}. differential vs Map: 200k ops, capacity ${cap}, ${homes} homes (full table, churn, expiry)`, () => {
    const r = mulberry32(seed);
    const tick = 1000, epoch = 1_700_000_000_000, maxPer = 3;
    let now = epoch;
    const t = new BindingTable({ capacity: cap, maxPerNode: maxPer, tickMs: tick, now });
    const ref = new Map<number, RefB[]>();
    let refSize = 0;
    const stats = { full: 0, limit: 0, expired: 0 };
    const expired: string[] = [];
    const onExpire = (s: number) => { expired.push(`${t.home[s]}>${t.careOf[s]}`); };
    const check = (home: number) => {
      const want = (ref.get(home) ?? []).map((b) => `${b.coa}/${b.hi}/${b.lo}/${b.flags}/${b.mode}/${b.due}`).sort();
      const got: string[] = [];
      for (let s = t.find(home); s !== -1; s = t.next(s)) {
        got.push(`${t.careOf[s]}/${t.identHi[s]}/${t.identLo[s]}/${t.flags[s]}/${t.mode[s]}/${t.expiresAt(s)}`);
      }
      assert.equal(got.sort(), want, `home ${home}`);
    };
    for (let op = 0; op < 200_000; op++) {
      const home = 0x0a000000 + below(r, homes);
      const coa = 0xc6336400 + below(r, 5);
      const act = below(r, 20);
      if (act < 10) {
        const flags = (below(r, 3) ? FLAG_S : 0) | below(r, 2) * 0x02;
        const life = 1 + below(r, 300), hi = r(), lo = r(), mode = below(r, 2) ? MODE_TUNNEL : MODE_VPN_GATEWAY;
        const list = ref.get(home) ?? [];
        const existing = list.find((b) => b.coa === coa);
        const due = Math.ceil((now + life * 1000 - epoch) / tick) * tick + epoch;
        const entry = { coa, hi, lo, flags, mode, due };
        let expect: 'ok' | 'full' | 'limit' = 'ok';
        if (flags & FLAG_S) {
          if (!existing && list.length >= maxPer) expect = 'limit';
          else if (!existing && refSize >= cap) expect = 'full';
        } else if (list.length === 0 && refSize >= cap) expect = 'full';
        const s = t.register(home, coa, life, hi, lo, flags, mode, now);
        if (expect === 'full') { assert.is(s, FULL); stats.full++; }
        else if (expect === 'limit') { assert.is(s, NODE_LIMIT); stats.limit++; }
        else {
          assert.ok(s >= 0);
          if (flags & FLAG_S) {
            if (existing) Object.assign(existing, entry); else { list.push(entry); refSize++; }
          } else { refSize -= list.length - 1; list.length = 0; list.push(entry); }
          ref.set(home, list);
        }
      } else if (act < 13) {
        const list = ref.get(home) ?? [];
        const all = below(r, 4) === 0;
        const removed = t.deregister(home, all ? home : coa);
        if (all) { assert.is(removed, list.length); refSize -= list.length; ref.delete(home); }
        else {
          const i = list.findIndex((b) => b.coa === coa);
          assert.is(removed, i >= 0 ? 1 : 0);
          if (i >= 0) { list.splice(i, 1); refSize--; if (!list.length) ref.delete(home); }
        }
      } else if (act < 14) {
        now += below(r, 1500);
        expired.length = 0;
        t.advance(now, onExpire);
        const want: string[] = [];
        for (const [h, list] of ref) {
          for (let i = list.length - 1; i >= 0; i--) {
            if (list[i]!.due <= now) { want.push(`${h}>${list[i]!.coa}`); list.splice(i, 1); refSize--; }
          }
          if (!list.length) ref.delete(h);
        }
        assert.equal(expired.sort(), want.sort(), `expiry at op ${op}`);
        stats.expired += want.length;
      } else {
        check(home);
        const s = t.findCareOf(home, coa);
        assert.is(s >= 0, !!ref.get(home)?.some((b) => b.coa === coa));
      }
      assert.is(t.size, refSize);
    }
    for (const h of ref.keys()) check(h);
    assert.ok(stats.full > 0 && stats.expired > 1000, JSON.stringify(stats));
    if (cap < 1000) assert.ok(stats.full > 100, JSON.stringify(stats));
    if (homes < 5000) assert.ok(stats.limit > 0, JSON.stringify(stats));
  });
}

test('4. RFC 5944 §3.8.2.2 deregistration: one care-of address, then all (CoA = home)', () => {
  const t = new BindingTable({ capacity: 8, maxPerNode: 3, tickMs: 1000, now: 0 });
  const H = 0x0a000001;
  t.register(H, 1, 60, 0, 1, FLAG_S, 0, 0);
  t.register(H, 2, 60, 0, 2, FLAG_S, 0, 0);
  t.register(H, 3, 60, 0, 3, FLAG_S, 0, 0);
  assert.is(t.register(H, 4, 60, 0, 4, FLAG_S, 0, 0), NODE_LIMIT);
  assert.is(t.deregister(H, 2), 1);
  assert.is(t.count(H), 2);
  assert.is(t.deregister(H, H), 2);
  assert.is(t.find(H), -1);
  assert.is(t.size, 0);
});

test('5. without S a registration replaces every earlier binding; remaining lifetime counts down', () => {
  const t = new BindingTable({ capacity: 4, maxPerNode: 3, tickMs: 1000, now: 0 });
  t.register(5, 1, 60, 0, 1, FLAG_S, 0, 0);
  t.register(5, 2, 60, 0, 2, FLAG_S, 0, 0);
  const s = t.register(5, 3, 100, 7, 9, 0, MODE_VPN_GATEWAY, 10_000);
  assert.is(t.count(5), 1);
  assert.is(t.careOf[s], 3);
  assert.is(t.mode[s], MODE_VPN_GATEWAY);
  assert.is(t.remaining(s, 20_000), 90);
});

test('6. allocatedBytes stays within the budget capacityFor was given', () => {
  for (const budget of [100_000, 2 * 1048576]) {
    const cap = BindingTable.capacityFor(budget);
    const t = new BindingTable({ capacity: cap, maxPerNode: 3, tickMs: 100, now: 0 });
    assert.ok(t.allocatedBytes() <= budget, `${t.allocatedBytes()} <= ${budget}`);
    assert.ok(budget - t.allocatedBytes() < BindingTable.bytesPerEntry() + 8);
  }
});

test.run();
