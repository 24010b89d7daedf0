/**
 * Memory footprint on the smallest device profile (targets/router-128m.json): a child node started
 * with exactly the profile's node_flags (as /etc/init.d/roamd starts the daemon) loads the bundle
 * dist/roamd.js, builds the proxy role's tables at the profile's capacities and fills them to
 * capacity — every proxy-map node slot bound, the extra care-of slots used as simultaneous
 * bindings, the outer pool fully allocated — then reports its RSS, which must stay below
 * max_rss_mb. The fill is direct (ProxyMap.bind, AddressPool.allocate), not over UDP: registering
 * tens of thousands of nodes through a running proxy is a benchmark, not a test. The native addon
 * is not in the tree yet; it must be added to this child when it lands.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildBundle, tempDir, ROOT, BUNDLE } from '../util/daemon';

const PROFILE = join(ROOT, 'targets', 'router-128m.json');

const CHILD = `
import { loadProfile, computeCapacities } from ${JSON.stringify(join(ROOT, 'src/tables/profile'))};
import { createTables } from ${JSON.stringify(join(ROOT, 'src/tables/create'))};
import { FLAG_S } from ${JSON.stringify(join(ROOT, 'src/tables/binding-table'))};
import { TUNNEL_UDP } from ${JSON.stringify(join(ROOT, 'src/tables/proxy-map'))};

const [bundle, profilePath] = process.argv.slice(2);
require(bundle); // the whole daemon code in memory (its main() only runs as the entry point)
const caps = computeCapacities(loadProfile(profilePath));
const now = Date.now();
const OUTER = 0x0a800000; // 10.128.0.0
const t = createTables(caps, { proxy: true, outerPool: { first: OUTER, count: caps.outer_pool } }, now);
const map = t.proxy!, pool = t.outerPool!;
let outerAllocated = 0;
for (let i = 0; i < caps.outer_pool; i++) if (pool.allocate(0x1000 + i, i, now) >= 0) outerAllocated++;
let coas = 0;
for (let n = 0; n < caps.proxy_nodes; n++) {
  const home = 0x0a010000 + n, outer = OUTER + (n % caps.outer_pool) + (n >= caps.outer_pool ? 0x100000 : 0);
  if (map.bind(home, outer, 0xc6336400 + n, 1024 + (n & 0x7fff), TUNNEL_UDP, 0, n, 0, 600, now) >= 0) coas++;
}
for (let n = 0; coas < caps.proxy_coas && n < caps.proxy_nodes; n++) {
  const home = 0x0a010000 + n, outer = OUTER + (n % caps.outer_pool) + (n >= caps.outer_pool ? 0x100000 : 0);
  if (map.bind(home, outer, 0xcb007100 + n, 2048, TUNNEL_UDP, FLAG_S, n, 1, 600, now) >= 0) coas++;
}
if (global.gc) global.gc();
const rss = process.memoryUsage().rss;
process.stdout.write(JSON.stringify({ caps, nodes: map.nodeCount, coas: map.coaCount, outerAllocated, rss, heapUsed: process.memoryUsage().heapUsed }) + '\\n');
`;

test('proxy role, full tables, router-128m node flags: RSS below max_rss_mb', async () => {
  buildBundle();
  const profile = JSON.parse(readFileSync(PROFILE, 'utf8'));
  const { dir, cleanup } = tempDir('roamd-footprint-');
  try {
    const entry = join(dir, 'fill.ts');
    writeFileSync(entry, CHILD);
    const out = join(dir, 'fill.js');
    await build({ entryPoints: [entry], outfile: out, bundle: true, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'error' });
    const r = spawnSync(process.execPath, [...profile.node_flags, out, BUNDLE, PROFILE], { encoding: 'utf8', timeout: 120_000 });
    assert.is(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    const rssMb = m.rss / 1048576;
    console.log(`  router-128m proxy full: nodes=${m.nodes}/${m.caps.proxy_nodes} coas=${m.coas}/${m.caps.proxy_coas} ` +
      `outer_pool=${m.outerAllocated}/${m.caps.outer_pool} table_bytes=${m.caps.table_bytes} ` +
      `heapUsed=${(m.heapUsed / 1048576).toFixed(1)}MB RSS=${rssMb.toFixed(1)}MB (max_rss_mb ${profile.max_rss_mb}, flags ${profile.node_flags.join(' ')})`);
    assert.is(m.nodes, m.caps.proxy_nodes, 'every proxy node slot bound');
    assert.is(m.coas, m.caps.proxy_coas, 'every care-of slot used');
    assert.is(m.outerAllocated, m.caps.outer_pool, 'outer pool exhausted');
    assert.ok(m.caps.proxy_nodes > 1000, 'a real table, not a toy');
    assert.ok(rssMb < profile.max_rss_mb, `RSS ${rssMb.toFixed(1)} MB over the ${profile.max_rss_mb} MB budget`);
  } finally {
    cleanup();
  }
});

test.run();
