/**
 * Table benchmark: bytes per binding at 100 000 bindings, measured from the process heap
 * (heapUsed + arrayBuffers, after GC) for the roamd binding table and for a Map-of-objects baseline
 * holding the same fields, and random-key lookups per second for both.
 * Goals (issue 3): ≤ 64 B/binding, ≤ 0.25× baseline bytes, ≥ 1.0× baseline lookups/s.
 * Run: `npx tsx bench/tables.ts [--quick]` (re-spawns itself with --expose-gc when needed).
 */
import { spawnSync } from 'node:child_process';
import { mulberry32 } from '../test/util/prng';
import { BindingTable, FLAG_S } from '../src/tables/binding-table';

const N = 100_000;
const GOAL_BYTES = 64, GOAL_RATIO = 0.25, GOAL_LOOKUP = 1.0;

interface BaselineBinding {
  careOf: number; identHi: number; identLo: number; lifetime: number; flags: number; mode: number;
  expiresAt: number; next: BaselineBinding | null;
}

function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc(); gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function keys(n: number, seed: number): Uint32Array {
  const r = mulberry32(seed), k = new Uint32Array(n), seen = new Set<number>();
  for (let i = 0; i < n;) { const h = r(); if (!seen.has(h)) { seen.add(h); k[i++] = h; } }
  return k;
}

export async function benchTables(opts: { quick: boolean }): Promise<Record<string, number | string>> {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') throw new Error('run node with --expose-gc');
  const homes = keys(N, 1);
  const now = 1_700_000_000_000;
  const r = mulberry32(2);
  const careOf = new Uint32Array(N), idHi = new Uint32Array(N), idLo = new Uint32Array(N);
  for (let i = 0; i < N; i++) { careOf[i] = r(); idHi[i] = r(); idLo[i] = r(); }

  // roamd table, exactly 100 000 slots
  let h0 = heap();
  let table: BindingTable | null = new BindingTable({ capacity: N, maxPerNode: 3, tickMs: 100, now });
  for (let i = 0; i < N; i++) table.register(homes[i]!, careOf[i]!, 1800, idHi[i]!, idLo[i]!, FLAG_S, 0, now);
  const roamdBytes = (heap() - h0) / N;

  // Map-of-objects baseline with the same fields (next: simultaneous bindings chain)
  h0 = heap();
  let map: Map<number, BaselineBinding> | null = new Map();
  for (let i = 0; i < N; i++) {
    map.set(homes[i]!, { careOf: careOf[i]!, identHi: idHi[i]!, identLo: idLo[i]!, lifetime: 1800, flags: FLAG_S,
      mode: 0, expiresAt: now + 1_800_000 + i, next: null });
  }
  const mapBytes = (heap() - h0) / N;

  // random-key lookups (hits), reading careOf so neither side can skip the load
  const lookups = opts.quick ? 2_000_000 : 10_000_000;
  const order = new Uint32Array(1 << 16);
  for (let i = 0; i < order.length; i++) order[i] = homes[r() % N]!;
  const t = table, m = map;
  const timeIt = (fn: () => number): number => {
    fn(); // warm-up
    const start = process.hrtime.bigint();
    const sink = fn();
    const ns = Number(process.hrtime.bigint() - start);
    if (sink === 0.5) console.log(sink);
    return lookups / (ns / 1e9);
  };
  const roamdRate = timeIt(() => {
    let x = 0;
    for (let i = 0; i < lookups; i++) { const s = t.find(order[i & 0xffff]!); x ^= t.careOf[s]!; }
    return x;
  });
  const mapRate = timeIt(() => {
    let x = 0;
    for (let i = 0; i < lookups; i++) x ^= m.get(order[i & 0xffff]!)!.careOf;
    return x;
  });
  table = null; map = null;
  const ratio = roamdBytes / mapBytes, lookupRatio = roamdRate / mapRate;
  return {
    bindings: N,
    roamd_bytes_per_binding: +roamdBytes.toFixed(1),
    map_bytes_per_binding: +mapBytes.toFixed(1),
    bytes_ratio: +ratio.toFixed(3),
    roamd_lookups_per_s: Math.round(roamdRate),
    map_lookups_per_s: Math.round(mapRate),
    lookup_ratio: +lookupRatio.toFixed(2),
    bytes_goal: roamdBytes <= GOAL_BYTES ? `pass (<= ${GOAL_BYTES})` : `FAIL (> ${GOAL_BYTES})`,
    ratio_goal: ratio <= GOAL_RATIO ? `pass (<= ${GOAL_RATIO})` : `FAIL (> ${GOAL_RATIO})`,
    lookup_goal: lookupRatio >= GOAL_LOOKUP ? `pass (>= ${GOAL_LOOKUP})` : `FAIL (< ${GOAL_LOOKUP})`,
  };
}

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
    const r = spawnSync(process.execPath, ['--expose-gc', '--require', 'tsx/cjs', __filename, ...process.argv.slice(2)],
      { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  benchTables({ quick }).then((res) => {
    if (process.argv.includes('--json')) {
      console.log(JSON.stringify(res));
      return;
    }
    const w = Math.max(...Object.keys(res).map((k) => k.length));
    for (const [k, v] of Object.entries(res)) console.log(`${k.padEnd(w)}  ${v}`);
  }, (e) => { console.error(e); process.exit(1); });
}
