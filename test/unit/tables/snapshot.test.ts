import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressPool, ALLOCATED, HELD } from '../../../src/tables/address-pool';
import { BindingTable, FLAG_S } from '../../../src/tables/binding-table';
import { ProxyMap, TUNNEL_UDP } from '../../../src/tables/proxy-map';
import { crc32, crc32Fallback, decodeSnapshot, encodeSnapshot, loadSnapshot, saveSnapshot, SnapshotTables } from '../../../src/tables/snapshot';
import { emptyVisitorFields, VisitorTable } from '../../../src/tables/visitor-table';
import { RoamdError } from '../../../src/errors';

const T0 = 1_700_000_000_000;

function make(cap: number, now: number): Required<SnapshotTables> {
  return {
    bindings: new BindingTable({ capacity: cap, maxPerNode: 3, tickMs: 100, now }),
    visitors: new VisitorTable({ visitorCapacity: cap, pendingCapacity: 4, maxPendingPerNode: 2, pendingTimeoutMs: 7000, tickMs: 100, now }),
    proxy: new ProxyMap({ nodeCapacity: cap, coaCapacity: cap, maxPerNode: 3, tickMs: 100, now }),
    homePool: new AddressPool({ first: 0x0a000100, count: 32, holdMs: 60_000 }),
    outerPool: new AddressPool({ first: 0x64400000, count: 32, holdMs: 60_000 }),
  };
}

function fill(t: Required<SnapshotTables>, n: number): void {
  const f = emptyVisitorFields();
  for (let i = 1; i <= n; i++) {
    t.bindings.register(0x0a000000 + i, 0xc0000000 + i, 10 * i, i, ~i >>> 0, FLAG_S, i & 1, T0);
    t.bindings.register(0x0a000000 + i, 0xc1000000 + i, 5 * i, i, i, FLAG_S, 0, T0);
    Object.assign(f, { home: 0x0a000000 + i, macHi: 0x0200, macLo: i, ipSrc: 0x0a000000 + i, ipDst: 0xc0000001,
      udpSrcPort: 434, homeAgent: 0x0a0000fe, careOf: 0xc0000001, identHi: 1, identLo: i, lifetime: 600, flags: 0 });
    const p = t.visitors.addPending(f, f.home, T0);
    t.visitors.accept(p, f.home, 20 * i, T0);
    t.proxy.bind(0x0a000000 + i, 0x64400000 + i, 0xcb000001, 4000 + i, TUNNEL_UDP, FLAG_S, 0, i, 30 * i, T0);
    const h = t.homePool.allocate(i, i * 7, T0);
    if (i % 3 === 0) t.homePool.release(h, T0 + i);
    t.outerPool.allocateAddress(0x64400000 + i, i, i * 7);
  }
}

function dump(t: Required<SnapshotTables>): string[] {
  const out: string[] = [];
  t.bindings.forEach((s) => out.push(`b ${t.bindings.home[s]} ${t.bindings.careOf[s]} ${t.bindings.identHi[s]} ${t.bindings.identLo[s]} ${t.bindings.flags[s]} ${t.bindings.mode[s]} ${t.bindings.lifetime[s]} ${t.bindings.expiresAt(s)}`));
  const v = t.visitors.visitors, f = emptyVisitorFields();
  t.visitors.forEachVisitor((s) => out.push(`v ${JSON.stringify(v.read(s, f))} ${t.visitors.visitorExpiresAt(s)}`));
  t.proxy.forEachCoa((s) => out.push(`p ${t.proxy.home[t.proxy.node[s]!]} ${t.proxy.outer[t.proxy.node[s]!]} ${t.proxy.careOf[s]} ${t.proxy.port[s]} ${t.proxy.identLo[s]} ${t.proxy.expiresAt(s)}`));
  for (const [name, pool] of [['h', t.homePool], ['o', t.outerPool]] as const) {
    for (let s = 0; s < pool.count; s++) if (pool.state[s] !== 0) out.push(`${name} ${s} ${pool.state[s]} ${pool.naiHi[s]} ${pool.naiLo[s]} ${pool.state[s] === HELD ? pool.heldUntil[s] : 0}`);
  }
  return out.sort();
}

test('1. round trip into tables of another capacity keeps every live entry and absolute expiry', () => {
  const a = make(64, T0);
  fill(a, 20);
  const buf = encodeSnapshot(a, T0);
  const b = make(40, T0); // same wheel epoch: expiries land on the same tick grid
  const n = decodeSnapshot(buf, b, T0 + 1);
  assert.is(n, 40 + 20 + 20 + 20 + 20);
  assert.equal(dump(b), dump(a));
  assert.is(b.homePool.held, 6);
  assert.is(b.homePool.allocate(3, 21, T0 + 2), a.homePool.find(3, 21), 'held address returns to its NAI');
});

test('2. entries expired while the daemon was down are dropped', () => {
  const a = make(64, T0);
  fill(a, 20);
  const b = make(64, T0);
  decodeSnapshot(encodeSnapshot(a, T0), b, T0 + 100_000);
  assert.is(b.bindings.size, 10, 'only bindings with 10i s > 100 s remain');
  b.bindings.forEach((s) => assert.ok(b.bindings.expiresAt(s) > T0 + 100_000));
  assert.is(b.visitors.visitorCount, 15);
});

test('3. corruption anywhere is refused and restores nothing', () => {
  const a = make(16, T0);
  fill(a, 3);
  const good = encodeSnapshot(a, T0);
  for (let i = 0; i < good.length; i++) {
    const bad = Buffer.from(good);
    bad[i] ^= 1 << (i % 8);
    const b = make(16, T0);
    assert.throws(() => decodeSnapshot(bad, b, T0), (e: unknown) => e instanceof RoamdError && e.code === 'ERR_SNAPSHOT', `byte ${i}`);
    assert.is(b.bindings.size + b.visitors.visitorCount + b.proxy.coaCount + b.homePool.allocated, 0);
  }
});

test('4. truncation at every length is refused', () => {
  const a = make(16, T0);
  fill(a, 3);
  const good = encodeSnapshot(a, T0);
  for (let len = 0; len < good.length; len++) {
    assert.throws(() => decodeSnapshot(good.subarray(0, len), make(16, T0), T0), /snapshot:/);
  }
});

test('5. refuses: too small a table, a missing table, another pool range, non-empty tables', () => {
  const a = make(64, T0);
  fill(a, 20);
  const buf = encodeSnapshot(a, T0);
  assert.throws(() => decodeSnapshot(buf, make(10, T0), T0), /do not fit capacity/);
  const noProxy: SnapshotTables = { ...make(64, T0) };
  delete noProxy.proxy;
  assert.throws(() => decodeSnapshot(buf, noProxy, T0), /no such table/);
  const moved = make(64, T0);
  moved.homePool = new AddressPool({ first: 0x0a000200, count: 32, holdMs: 1 });
  assert.throws(() => decodeSnapshot(buf, moved, T0), /differs from configured/);
  const busy = make(64, T0);
  busy.bindings.register(1, 2, 10, 0, 0, 0, 0, T0);
  assert.throws(() => decodeSnapshot(buf, busy, T0), /empty tables/);
  // per-node limit refused while applying: everything is rolled back
  const strict = make(64, T0);
  (strict as { bindings: BindingTable }).bindings = new BindingTable({ capacity: 64, maxPerNode: 1, tickMs: 100, now: T0 });
  assert.throws(() => decodeSnapshot(buf, strict, T0), /refused/);
  assert.is(strict.bindings.size + strict.visitors.visitorCount + strict.homePool.allocated, 0);
});

test('6. atomic file write: no temp file left, reload equals original', () => {
  const dir = mkdtempSync(join(tmpdir(), 'roamd-snap-'));
  try {
    const a = make(64, T0);
    fill(a, 5);
    const path = join(dir, 'tables.rmds');
    saveSnapshot(path, a, T0);
    saveSnapshot(path, a, T0); // overwrite
    assert.equal(readdirSync(dir), ['tables.rmds']);
    const b = make(64, T0);
    loadSnapshot(path, b, T0);
    assert.equal(dump(b), dump(a));
    assert.throws(() => loadSnapshot(join(dir, 'missing'), make(4, T0), T0), /cannot read/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('7. CRC-32 fallback agrees with zlib (check value of "123456789")', () => {
  const b = Buffer.from('123456789');
  assert.is(crc32Fallback(b), 0xcbf43926);
  assert.is(crc32(b), 0xcbf43926);
  assert.ok(ALLOCATED === 1);
});

test.run();
