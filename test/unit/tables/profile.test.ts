import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { computeCapacities, formatCapacities, loadProfile, parseProfile } from '../../../src/tables/profile';
import { createTables } from '../../../src/tables/create';
import { RoamdError } from '../../../src/errors';

const PROFILES = ['router-128m', 'router-512m', 'gateway'];

for (const name of PROFILES) {
  test(`profile ${name}: loads, capacities fit the budget`, () => {
    const p = loadProfile(`targets/${name}.json`);
    const c = computeCapacities(p);
    const b = p.tables.budget_bytes;
    const sum = Object.values(b).reduce((x, y) => x + y, 0);
    assert.ok(c.table_bytes <= sum, `${c.table_bytes} <= ${sum}`);
    for (const k of ['bindings', 'visitors', 'pending', 'proxy_nodes', 'proxy_coas', 'home_pool', 'outer_pool'] as const) {
      assert.ok(c[k] > 0, k);
    }
    assert.match(formatCapacities(c), new RegExp(`^profile=${name} bindings=\\d+ `));
  });
}

test('router-128m tables allocate within their budget', () => {
  const p = loadProfile('targets/router-128m.json');
  const c = computeCapacities(p);
  const t = createTables(c, { bindings: true, visitors: true, proxy: true, homePool: { first: 1, count: c.home_pool } }, 0);
  assert.ok(t.bindings!.allocatedBytes() <= p.tables.budget_bytes.binding_list);
  assert.throws(() => createTables(c, { outerPool: { first: 1, count: c.outer_pool + 1 } }, 0), /exceeds profile capacity/);
});

const base = JSON.parse(readFileSync('targets/router-128m.json', 'utf8'));
const cases: [string, (j: any) => void, RegExp][] = [
  ['name missing', (j) => delete j.name, /profile: name/],
  ['node_flags not flags', (j) => (j.node_flags = ['max-old-space-size=4']), /node_flags/],
  ['max_rss_mb not integer', (j) => (j.max_rss_mb = 1.5), /max_rss_mb must be an integer/],
  ['tables missing', (j) => delete j.tables, /profile: tables must/],
  ['budget negative', (j) => (j.tables.budget_bytes.pending = -1), /tables\.budget_bytes\.pending/],
  ['budget unknown table', (j) => (j.tables.budget_bytes.routes = 1), /budget_bytes\.routes is not a known table/],
  ['budget over max_rss', (j) => (j.tables.budget_bytes.proxy_map = 200 * 1048576), /exceeds max_rss_mb/],
  ['max_simultaneous 0', (j) => (j.tables.max_simultaneous_bindings = 0), /tables\.max_simultaneous_bindings/],
  ['pending timeout string', (j) => (j.tables.pending_timeout_ms = '7s'), /tables\.pending_timeout_ms/],
  ['coa per node < 1', (j) => (j.tables.proxy_coa_per_node = 0.5), /tables\.proxy_coa_per_node/],
  ['tick_ms missing', (j) => delete j.tables.tick_ms, /tables\.tick_ms/],
];
cases.forEach(([what, mutate, re], i) => {
  test(`invalid ${i + 1}: ${what}`, () => {
    const j = structuredClone(base);
    mutate(j);
    try {
      parseProfile(j);
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, RoamdError);
      assert.is((e as RoamdError).code, 'ERR_CONFIG_INVALID');
      assert.match((e as Error).message, re);
    }
  });
});

test('unreadable and non-JSON files', () => {
  assert.throws(() => loadProfile('targets/nope.json'), /ERR|profile targets\/nope.json/);
  assert.throws(() => loadProfile('package.json'), (e: unknown) => e instanceof RoamdError);
});

test.run();
