/**
 * A daemon-like process for the footprint bench: run with a profile's node_flags, it builds the
 * role tables from the profile's capacities (src/tables/create, as `roamd run` does), fills the HA
 * binding table and the proxy map to capacity through the table APIs, checks the next insert is
 * refused (FULL), and prints its RSS. Usage: `node FLAGS --import tsx bench/full-table.ts PROFILE.json`.
 */
import { loadProfile, computeCapacities } from '../src/tables/profile';
import { createTables } from '../src/tables/create';
import { FLAG_S } from '../src/tables/binding-table';
import { TUNNEL_IPIP } from '../src/tables/proxy-map';

const caps = computeCapacities(loadProfile(process.argv[2]!));
const rss = () => +(process.memoryUsage().rss / 2 ** 20).toFixed(1);
const before = rss();
const now = Date.now();
const t = createTables(caps, { bindings: true, proxy: true }, now);
const b = t.bindings!, p = t.proxy!;
const per = caps.max_simultaneous;
let i = 0;
for (; b.size < b.capacity; i++) {
  const s = b.register((0x0a000000 + Math.floor(i / per)) >>> 0, (0xc0000000 + i) >>> 0, 1800, i, i, FLAG_S, 0, now);
  if (s < 0) throw new Error(`binding table refused insert ${i} (${s}) below capacity`);
}
const bindingFull = b.register(0x0b000000, 0xc1000000, 1800, 1, 1, FLAG_S, 0, now) < 0;
let n = 0;
for (; p.nodeCount < p.nodeCapacity && n < 10_000_000; n++) {
  if (p.bind((0x0a000000 + n) >>> 0, (0x0c000000 + n) >>> 0, (0xc0000000 + n) >>> 0, 0, TUNNEL_IPIP, 0, n, n, 600, now) < 0) break;
}
const proxyFull = p.bind(0x0b000000, 0x0d000000, 0xc2000000, 0, TUNNEL_IPIP, 0, 1, 1, 600, now) < 0;
console.log(JSON.stringify({ rss_before_tables_mb: before, rss_full_mb: rss(), bindings: b.size, binding_capacity: b.capacity, binding_full_refused: bindingFull,
  proxy_nodes: p.nodeCount, proxy_node_capacity: p.nodeCapacity, proxy_full_refused: proxyFull }));
