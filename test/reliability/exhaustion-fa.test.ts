/**
 * Table exhaustion at a running foreign agent (`roamd run`, loopback, dataplane none), with a tiny
 * profile (room for 4 pending requests) and `max_pending_per_node 2`: a flood of requests for one
 * node gets 66 beyond the RFC per-node limit (RFC 5944 §3.7.1; one 66 reply per node per second, the
 * FA's denial rate limit, the rest counted as `deny_ratelimited`); requests from other nodes fill the
 * pending table → 66 (insufficient resources); the home agent never answers, so the pending
 * requests time out (78 after `pending_timeout`) and the agent relays again (recovery).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBundle, startDaemon, RunningDaemon, tempDir, until } from '../util/daemon';
import { encodeRequest } from '../../src/roles/messages';
import { SecurityAssociation } from '../../src/auth/security-association';
import { timestampId } from '../../src/auth/replay';
import * as reply from '../../src/wire/registration-reply';
import { parseIp } from '../../src/platform/address';
import { VisitorTable } from '../../src/tables/visitor-table';

const PORT = 20000 + ((process.pid + 9973) % 20000);
const FA = '127.8.0.10', HA = '127.8.9.1';
const home = (i: number) => `127.8.1.${10 + i}`;
const PENDING = 4;
const sa = new SecurityAssociation({ spi: 256, algorithm: 'hmac-md5', key: Buffer.alloc(16, 3) });
const { dir, cleanup } = tempDir('roamd-exh-fa-');
const sockPath = join(dir, 'fa.sock');
let fa: RunningDaemon;

let pendingBudget = VisitorTable.fixedBytes() + PENDING * VisitorTable.bytesPerPending();
while (VisitorTable.pendingCapacityFor(pendingBudget) > PENDING) pendingBudget--;
const PROFILE = {
  name: 'tiny-fa', description: 'reliability lane: 4 pending requests', node_flags: [], max_rss_mb: 64,
  tables: { budget_bytes: { binding_list: 0, visitor_list: VisitorTable.fixedBytes() + 8 * VisitorTable.bytesPerVisitor(), pending: pendingBudget, proxy_map: 0, home_pool: 0, outer_pool: 0 },
    max_simultaneous_bindings: 1, max_pending_per_node: 2, pending_timeout_ms: 1000, pool_hold_ms: 0, proxy_coa_per_node: 1, tick_ms: 100 },
};

test.before(async () => {
  buildBundle();
  writeFileSync(join(dir, 'tiny.json'), JSON.stringify(PROFILE));
  fa = await startDaemon('fa', dir, `config roamd 'main'
	option role 'fa'
	list listen '${FA}'
	option port '${PORT}'
	option control_socket '${sockPath}'
	option dataplane 'none'
	option profile '${join(dir, 'tiny.json')}'
	option rate_limit '0'

config foreign_agent
	option advertise_interval '0'
	option registration_lifetime '600'
	option max_pending_per_node '2'
	option pending_timeout '1'

config interface
	option ifname 'fa0'
	option address '${FA}/16'
`, sockPath);
});

test.after(async () => {
  const code = await fa.stop();
  if (process.env.ROAMD_TEST_VERBOSE) console.log(fa.output);
  cleanup();
  assert.is(code, 0);
});

let low = 1;
function request(i: number): Buffer {
  const id = timestampId(Date.now(), low++);
  return encodeRequest({ type: 1, flags: 0x02, lifetime: 300, homeAddress: parseIp(home(i)), homeAgent: parseIp(HA), careOfAddress: parseIp(FA),
    idHigh: id.high, idLow: id.low, extensions: [] }, [{ type: 32, sa }]);
}

/** Sends `n` requests as node i from one socket (the FA answers to the home address and source port) and collects reply codes for `ms`. */
function send(i: number, ms: number, n = 1): Promise<number[]> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const codes: number[] = [];
    s.on('message', (m) => codes.push(reply.decode(m).code));
    s.bind(0, home(i), () => { for (let k = 0; k < n; k++) s.send(request(i), PORT, FA); });
    setTimeout(() => { s.close(); resolve(codes); }, ms);
  });
}

test('per-node pending limit under a flood for one node, pending table full, recovery after the timeout', async () => {
  // A flood of 10 requests for node 0: 2 pending (relayed to the silent HA), the rest 66 at once.
  const flood = await send(0, 400, 10);
  const s0 = (await fa.call({ cmd: 'stats' })) as Record<string, number>;
  // 8 refused (per-node limit 2); the FA sends one 66 per node per DENY_GAP (its denial rate limit).
  assert.is(s0.pending_node_limit, 8, `8 of 10 refused at the per-node limit: ${JSON.stringify(s0)}`);
  assert.equal(flood, [66], 'one 66 reply, the other denials rate limited');
  // Other nodes fill the table (4 pending in all): nodes 1, 2 pending; node 3 gets 66 (table full).
  const others = await Promise.all([1, 2, 3].map((i) => send(i, 300)));
  const oc = others.map((c) => c[0] ?? null).sort();
  assert.equal(oc, [66, null, null], `table full → 66: ${JSON.stringify(others)}`);
  const st = (await fa.call({ cmd: 'stats' })) as Record<string, number>;
  console.log(`figure: exhaustion fa pending_capacity=${PENDING} per_node=2 flood(one node)=10 -> 2 pending + 8 refused (66 replies sent=${flood.length}, deny_ratelimited=${st.deny_ratelimited ?? 0}) ` +
    `pending_node_limit=${st.pending_node_limit ?? 0} table_full=${st.table_full ?? 0}`);
  assert.ok((st.pending_node_limit ?? 0) >= 8 && (st.table_full ?? 0) >= 1, JSON.stringify(st));
  // The silent HA: pending requests time out (78), then node 3 is relayed again.
  // `relayed` counts requests forwarded to the HA: it grows again only once pending entries expired.
  const t0 = Date.now();
  await until('node 3 relayed again', async () => {
    await send(3, 150);
    return ((await fa.call({ cmd: 'stats' })) as Record<string, number>).relayed === 5;
  }, 6000);
  const st1 = (await fa.call({ cmd: 'stats' })) as Record<string, number>;
  assert.ok((st1.pending_timeout ?? 0) >= 1 && (st1.denied_78 ?? 0) >= 1, 'pending requests timed out with 78');
  console.log(`figure: exhaustion fa recovered_after_ms=${Date.now() - t0} (pending_timeout 1 s) stats=${JSON.stringify(st1)}`);
});

test.run();
