import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { emptyVisitorFields, VisitorTable } from '../../../src/tables/visitor-table';
import { FULL, NODE_LIMIT } from '../../../src/tables/status';
import { mulberry32, below } from '../../util/prng';

interface RefP { key: number; home: number; lo: number; newcomer: boolean; due: number }

test('1. differential vs reference: 200k ops on pending and visitors (limits, reservations, expiry)', () => {
  const r = mulberry32(11);
  const V = 60, P = 15, perNode = 2, tick = 100, epoch = 0, timeout = 7000;
  let now = epoch;
  const t = new VisitorTable({ visitorCapacity: V, pendingCapacity: P, maxPendingPerNode: perNode, pendingTimeoutMs: timeout, tickMs: tick, now });
  const pend: RefP[] = [];
  const vis = new Map<number, { due: number; lo: number }>();
  const f = emptyVisitorFields();
  const stats = { full: 0, limit: 0, accepted: 0, pExp: 0, vExp: 0 };
  const newcomers = () => pend.filter((p) => p.newcomer).length;
  const gotV: number[] = [], gotP: string[] = [];
  const dueOf = (ms: number) => Math.ceil((ms - epoch) / tick) * tick + epoch;
  for (let op = 0; op < 200_000; op++) {
    const zero = below(r, 5) === 0;
    const home = zero ? 0 : 0x0a000000 + below(r, 300);
    const key = zero ? 0x70000000 + below(r, 8) : home;
    const act = below(r, 20);
    if (act < 8) {
      const lo = r();
      f.home = home; f.identLo = lo; f.lifetime = below(r, 12); f.macLo = op; f.careOf = 0xc6336401;
      const mine = pend.filter((p) => p.key === key).length;
      const newcomer = home === 0 || !vis.has(home);
      let want = 'ok';
      if (mine >= perNode) want = 'limit';
      else if (pend.length >= P) want = 'full';
      else if (newcomer && vis.size + newcomers() >= V) want = 'full';
      const s = t.addPending(f, key, now);
      if (want === 'limit') { assert.is(s, NODE_LIMIT); stats.limit++; }
      else if (want === 'full') { assert.is(s, FULL); stats.full++; }
      else {
        assert.ok(s >= 0);
        const wait = f.lifetime > 0 && f.lifetime * 1000 < timeout ? f.lifetime * 1000 : timeout;
        pend.push({ key, home, lo, newcomer, due: dueOf(now + wait) });
      }
    } else if (act < 13 && pend.length) {
      const i = below(r, pend.length), p = pend[i]!;
      const s = t.findPending(p.key, p.lo);
      assert.ok(s >= 0 && t.pending.identLo[s] === p.lo);
      pend.splice(i, 1);
      if (below(r, 4) === 0) { t.removePending(s); continue; }
      const h = p.home || 0x0b000000 + below(r, 100);
      const life = 1 + below(r, 60);
      const reserved = newcomers();
      const got = t.accept(s, h, life, now);
      if (!vis.has(h) && vis.size + reserved >= V) assert.is(got, FULL);
      else { assert.ok(got >= 0, `accept op ${op}`); vis.set(h, { due: dueOf(now + life * 1000), lo: p.lo }); stats.accepted++; }
    } else if (act < 14) {
      const h = [...vis.keys()][below(r, Math.max(1, vis.size))];
      if (h !== undefined) { t.removeVisitor(t.findVisitor(h)); vis.delete(h); }
    } else if (act < 16) {
      now += below(r, 3000);
      gotV.length = 0; gotP.length = 0;
      t.advance(now, (s) => gotV.push(t.visitors.home[s]!), (s) => gotP.push(`${t.pendingKey[s]}/${t.pending.identLo[s]}`));
      const wantV = [...vis].filter(([, v]) => v.due <= now).map(([h]) => h);
      for (const h of wantV) vis.delete(h);
      const wantP = pend.filter((p) => p.due <= now).map((p) => `${p.key}/${p.lo}`);
      for (let i = pend.length - 1; i >= 0; i--) if (pend[i]!.due <= now) pend.splice(i, 1);
      assert.equal(gotV.sort(), wantV.sort());
      assert.equal(gotP.sort(), wantP.sort());
      stats.vExp += wantV.length; stats.pExp += wantP.length;
    } else {
      assert.is(t.findVisitor(home) >= 0, vis.has(home));
      if (vis.has(home)) {
        const s = t.findVisitor(home);
        assert.is(t.visitorExpiresAt(s), vis.get(home)!.due);
        assert.is(t.visitors.identLo[s], vis.get(home)!.lo);
      }
      assert.is(t.pendingCountOf(key), pend.filter((p) => p.key === key).length);
    }
    assert.is(t.visitorCount, vis.size);
    assert.is(t.pendingCount, pend.length);
  }
  assert.ok(stats.full > 50 && stats.limit > 50 && stats.accepted > 1000 && stats.pExp > 1000 && stats.vExp > 1000, JSON.stringify(stats));
});

test('2. RFC 5944 §3.7.2: a pending re-registration leaves the visitor entry untouched until accepted', () => {
  const t = new VisitorTable({ visitorCapacity: 2, pendingCapacity: 2, maxPendingPerNode: 5, pendingTimeoutMs: 7000, tickMs: 100, now: 0 });
  const f = emptyVisitorFields();
  Object.assign(f, { home: 5, identLo: 1, lifetime: 100, udpSrcPort: 434, macHi: 0x0200, macLo: 0xaabbccdd });
  const v = t.accept(t.addPending(f, 5, 0), 5, 100, 0);
  f.identLo = 2; f.udpSrcPort = 1234;
  const p = t.addPending(f, 5, 1000);
  assert.is(t.visitors.udpSrcPort[v], 434);
  assert.is(t.visitorRemaining(v, 1000), 99);
  let expired = -1;
  t.advance(8000, () => {}, (s) => { expired = t.pending.identLo[s]!; });
  assert.is(expired, 2, 'pending timed out after 7 s (reply code 78)');
  assert.is(t.isPending(p), false);
  assert.is(t.visitors.udpSrcPort[v], 434);
  assert.is(t.visitors.macLo[v], 0xaabbccdd);
});

test.run();
