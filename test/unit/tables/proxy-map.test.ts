import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProxyMap, TUNNEL_IPIP, TUNNEL_UDP } from '../../../src/tables/proxy-map';
import { FLAG_S } from '../../../src/tables/binding-table';
import { CONFLICT, FULL, NODE_LIMIT } from '../../../src/tables/status';
import { mulberry32, below } from '../../util/prng';

interface RefC { coa: number; port: number; tunnel: number; due: number }
interface RefN { outer: number; coas: RefC[] }

test('1. differential vs Map: 200k ops, lookups by home, outer and (CoA, port); full, churn, expiry', () => {
  const r = mulberry32(99);
  const nodesCap = 300, coasCap = 375, maxPer = 3, tick = 1000, epoch = 1_000_000;
  let now = epoch;
  const m = new ProxyMap({ nodeCapacity: nodesCap, coaCapacity: coasCap, maxPerNode: maxPer, tickMs: tick, now });
  const ref = new Map<number, RefN>();
  let nCoas = 0;
  const stats = { full: 0, limit: 0, conflict: 0, expired: 0 };
  const outerOf = (h: number) => 0x64400000 + (h & 0xffff);
  const expired: string[] = [];
  const onExpire = (s: number) => { expired.push(`${m.home[m.node[s]!]}>${m.careOf[s]}:${m.port[s]}`); };
  for (let op = 0; op < 200_000; op++) {
    const home = 0x0a000000 + below(r, 600);
    const udp = below(r, 2) === 1;
    const coa = 0xc6336400 + below(r, 6), port = udp ? 4000 + below(r, 4) : 0;
    const act = below(r, 20);
    const rn = ref.get(home);
    if (act < 10) {
      const conflict = below(r, 50) === 0;
      const outer = conflict ? outerOf(home + 1) : outerOf(home);
      const flags = below(r, 3) ? FLAG_S : 0, life = 1 + below(r, 200);
      const outerOwner = [...ref].find(([, n]) => n.outer === outer)?.[0];
      let expect = 'ok';
      const existing = rn?.coas.find((c) => c.coa === coa && c.port === port);
      if (rn ? rn.outer !== outer : outerOwner !== undefined) expect = 'conflict';
      else if (rn && flags && !existing && rn.coas.length >= maxPer) expect = 'limit';
      else if (!rn && ref.size >= nodesCap) expect = 'full';
      else if (!existing && (flags || !rn) && nCoas >= coasCap) expect = 'full';
      const s = m.bind(home, outer, coa, port, udp ? TUNNEL_UDP : TUNNEL_IPIP, flags, 0, op, life, now);
      const due = Math.ceil((now + life * 1000 - epoch) / tick) * tick + epoch;
      if (expect === 'conflict') { assert.is(s, CONFLICT); stats.conflict++; }
      else if (expect === 'limit') { assert.is(s, NODE_LIMIT); stats.limit++; }
      else if (expect === 'full') { assert.is(s, FULL, `op ${op}`); stats.full++; }
      else {
        assert.ok(s >= 0, `bind op ${op} got ${s}`);
        const n = rn ?? { outer, coas: [] };
        const c = { coa, port, tunnel: udp ? 1 : 0, due };
        if (flags) { if (existing) Object.assign(existing, c); else { n.coas.push(c); nCoas++; } }
        else { nCoas -= n.coas.length - 1; n.coas = [c]; }
        ref.set(home, n);
      }
    } else if (act < 12) {
      const all = below(r, 4) === 0;
      const got = m.unbind(home, all ? home : coa, port);
      if (!rn) assert.is(got, 0);
      else if (all) { assert.is(got, rn.coas.length); nCoas -= rn.coas.length; ref.delete(home); }
      else {
        const i = rn.coas.findIndex((c) => c.coa === coa && c.port === port);
        assert.is(got, i >= 0 ? 1 : 0);
        if (i >= 0) { rn.coas.splice(i, 1); nCoas--; if (!rn.coas.length) ref.delete(home); }
      }
    } else if (act < 13) {
      now += below(r, 3000);
      expired.length = 0;
      m.advance(now, onExpire);
      const want: string[] = [];
      for (const [h, n] of ref) {
        n.coas = n.coas.filter((c) => (c.due <= now ? (want.push(`${h}>${c.coa}:${c.port}`), nCoas--, false) : true));
        if (!n.coas.length) ref.delete(h);
      }
      assert.equal(expired.sort(), want.sort());
      stats.expired += want.length;
    } else {
      const nd = m.findByHome(home);
      assert.is(nd >= 0, !!rn);
      if (rn) {
        assert.is(m.findByOuter(rn.outer), nd);
        const got: string[] = [];
        for (let s = m.firstCoa(nd); s !== -1; s = m.nextCoa(s)) got.push(`${m.careOf[s]}:${m.port[s]}:${m.tunnel[s]}:${m.expiresAt(s)}`);
        assert.equal(got.sort(), rn.coas.map((c) => `${c.coa}:${c.port}:${c.tunnel}:${c.due}`).sort());
      } else assert.is(m.findByOuter(outerOf(home)), [...ref.values()].some((n) => n.outer === outerOf(home)) ? m.findByOuter(outerOf(home)) : -1);
      if (op % 5 === 0) {
        const got: number[] = [];
        for (let s = m.findByCareOf(coa, port); s !== -1; s = m.nextSameCareOf(s)) got.push(m.home[m.node[s]!]!);
        const want = [...ref].filter(([, n]) => n.coas.some((c) => c.coa === coa && c.port === port)).map(([h]) => h);
        assert.equal(got.sort(), want.sort(), `by care-of at op ${op}`);
      }
    }
    assert.is(m.nodeCount, ref.size);
    assert.is(m.coaCount, nCoas);
  }
  assert.ok(stats.full > 100 && stats.limit > 10 && stats.conflict > 100 && stats.expired > 1000, JSON.stringify(stats));
});

test('2. two nodes behind one NAT share the CoA, differ by UDP port; an FA CoA is shared under port 0', () => {
  const m = new ProxyMap({ nodeCapacity: 4, coaCapacity: 4, maxPerNode: 2, tickMs: 1000, now: 0 });
  const nat = 0xcb007101, fa = 0xc6336401;
  m.bind(1, 101, nat, 40001, TUNNEL_UDP, 0, 0, 0, 60, 0);
  m.bind(2, 102, nat, 40002, TUNNEL_UDP, 0, 0, 0, 60, 0);
  m.bind(3, 103, fa, 0, TUNNEL_IPIP, 0, 0, 0, 60, 0);
  m.bind(4, 104, fa, 0, TUNNEL_IPIP, 0, 0, 0, 60, 0);
  assert.is(m.home[m.node[m.findByCareOf(nat, 40002)]!], 2);
  assert.is(m.findByCareOf(nat, 0), -1);
  const s = m.findByCareOf(fa, 0);
  assert.equal([m.home[m.node[s]!], m.home[m.node[m.nextSameCareOf(s)]!]].sort(), [3, 4]);
  assert.is(m.bind(5, 105, fa, 0, TUNNEL_IPIP, 0, 0, 0, 60, 0), FULL);
});

test('3. a node goes with its last care-of binding; its outer address becomes free', () => {
  const m = new ProxyMap({ nodeCapacity: 2, coaCapacity: 4, maxPerNode: 2, tickMs: 1000, now: 0 });
  const s = m.bind(1, 101, 7, 0, TUNNEL_IPIP, FLAG_S, 0, 0, 10, 0);
  m.bind(1, 101, 8, 0, TUNNEL_IPIP, FLAG_S, 0, 0, 20, 0);
  assert.not.ok(m.isLastCoa(s));
  const last: boolean[] = [];
  m.advance(10_000, (c) => last.push(m.isLastCoa(c)));
  m.advance(20_000, (c) => last.push(m.isLastCoa(c)));
  assert.equal(last, [false, true]);
  assert.is(m.findByOuter(101), -1);
  assert.ok(m.bind(2, 101, 9, 0, TUNNEL_IPIP, 0, 0, 0, 10, 20_000) >= 0);
});

test.run();
