/**
 * Registrations over a lossy path (issue 9 "Loss"): a real `roamd run` MN, proxy and HA on
 * loopback, with seeded lossy relays (test/reliability/lossy-relay.ts, 30 % dropped each way) on
 * both legs: MN ↔ proxy (outer registrations, with the home registration inside) and proxy ↔ HA
 * (the relayed home registration). The MN's `port` is the relay's port, so it reaches the proxy only
 * through the relay; the proxy reaches the HA through its peer's `port`.
 *
 * The node attaches, then moves LOSS_MOVES times (default 3; `LOSS_MOVES=20` for the documented
 * run) between co-located care-of addresses through control-socket `link` events. Throughout, every
 * time the MN says it is registered, the proxy must hold a binding with that care-of and outer
 * address (the MN never holds a binding the agent lacks), and after each settle the HA holds the home
 * binding. Completion times and retransmission counts are printed as `figure:` lines.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { buildBundle, startDaemon, RunningDaemon, tempDir, sleep } from '../util/daemon';
import { LossyRelay } from './lossy-relay';

const PORT = 20000 + ((process.pid + 3571) % 20000);
const RELAY_PORT = 20000 + ((process.pid + 13171) % 20000);
const MOVES = Number(process.env.LOSS_MOVES ?? 3);
const LOSS = Number(process.env.LOSS_RATE ?? 0.3);
const SEED = Number(process.env.LOSS_SEED ?? 20260926);
const MAX_RETRANSMIT = 2;
const K = { mnHa: '31323334353637383930313233343536', mnProxy: '41424344454647484950414243444546', proxyHa: '51525354555657585960515253545556' };
const OUTSIDE = '127.9.0.2', INSIDE = '127.9.0.3', HA = '127.9.1.1', HOME = '127.9.1.50';
const coa = (k: number) => `127.9.2.${10 + (k % 200)}`;

const { dir, cleanup } = tempDir('roamd-loss-');
const sock = (n: string) => join(dir, `${n}.sock`);
let ha: RunningDaemon, proxy: RunningDaemon, mn: RunningDaemon;
const relays: LossyRelay[] = [];

const main = (role: string, listen: string[], port: number, extra = '') => `config roamd 'main'
	option role '${role}'
${listen.map((l) => `	list listen '${l}'`).join('\n')}
	option port '${port}'
	option control_socket '${sock(role)}'
	option dataplane 'none'
	option log_level 'info'
${extra}
`;

const HA_CONF = main('ha', [HA], PORT) + `
config home_agent
	option address '${HA}'
	option home_network '127.9.1.0/24'
	option max_lifetime '1800'

config mobile_node
	option home_address '${HOME}'
	option nai 'lossy@corp.example'
	option spi '256'
	option key '${K.mnHa}'

config peer
	option role 'proxy'
	option address '${INSIDE}'
	option spi '1000'
	option key '${K.proxyHa}'
`;

const PROXY_CONF = main('proxy', [OUTSIDE, INSIDE], PORT) + `
config proxy
	option outside '${OUTSIDE}'
	option inside '${INSIDE}'
	option outer_pool '127.9.3.10-127.9.3.20'
	option max_lifetime '300'

config mobile_node
	option nai 'lossy@corp.example'
	option spi '257'
	option key '${K.mnProxy}'

config peer
	option role 'ha'
	option address '${HA}'
	option port '${RELAY_PORT}'
	option spi '1000'
	option key '${K.proxyHa}'
`;

const MN_CONF = main('mn', [], RELAY_PORT) + `
config mobile
	option nai 'lossy@corp.example'
	option home_address '${HOME}'
	option home_agent '${HA}'
	option home_network '127.9.1.0/24'
	option spi '256'
	option key '${K.mnHa}'
	option proxy_outside '${OUTSIDE}'
	option proxy_inside '${INSIDE}'
	option proxy_spi '257'
	option proxy_key '${K.mnProxy}'
	option lifetime '300'
	option max_retransmit '${MAX_RETRANSMIT}'

config interface
	option ifname 'eth0'
	option preference '20'
`;

test.before(async () => {
  buildBundle();
  // MN → relay (outside:RELAY_PORT) → proxy (outside:PORT); proxy → relay (HA:RELAY_PORT) → HA (HA:PORT).
  relays.push(new LossyRelay({ address: OUTSIDE, port: RELAY_PORT }, { address: OUTSIDE, port: PORT }, LOSS, SEED));
  relays.push(new LossyRelay({ address: HA, port: RELAY_PORT }, { address: HA, port: PORT }, LOSS, SEED + 1));
  for (const r of relays) await r.start();
  ha = await startDaemon('ha', dir, HA_CONF, sock('ha'));
  proxy = await startDaemon('proxy', dir, PROXY_CONF, sock('proxy'));
  mn = await startDaemon('mn', dir, MN_CONF, sock('mn'));
});

test.after(async () => {
  const codes = [await mn.stop(), await proxy.stop(), await ha.stop()];
  for (const r of relays) r.close();
  if (process.env.ROAMD_TEST_VERBOSE) for (const d of [mn, proxy, ha]) console.log(`--- ${d.name}\n${d.output}`);
  cleanup();
  assert.equal(codes, [0, 0, 0]);
});

interface MnView { registration: string; careOf: string; outerAddress: string; homeAddress: string; counters: Record<string, number> }

let violations = 0;
/** One observation: the MN's view, and whether the proxy holds the binding the MN believes in. */
async function observe(): Promise<MnView> {
  const s = (await mn.call({ cmd: 'status' })) as MnView;
  if (s.registration === 'registered') {
    const rows = (await proxy.call({ cmd: 'bindings' })) as Array<Record<string, string>>;
    const held = rows.some((b) => b.home === s.homeAddress && b.careOf === s.careOf && b.outer === s.outerAddress);
    if (!held) {
      violations++;
      console.log(`MN registered at ${s.careOf} (outer ${s.outerAddress}) but the proxy holds ${JSON.stringify(rows)}`);
    }
  }
  return s;
}

async function settle(careOf: string, ms: number): Promise<MnView> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const s = await observe();
    if (s.registration === 'registered' && s.careOf === careOf) return s;
    await sleep(20);
  }
  throw new Error(`no registration at ${careOf} within ${ms} ms:\n${mn.output.slice(-2000)}`);
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

test(`registrations over 30 % loss each way complete by retransmission; ${MOVES} moves; the MN never holds a binding the proxy lacks`, async () => {
  const times: number[] = [];
  const retrans: number[] = [];
  let prevRetrans = 0;
  for (let k = 0; k <= MOVES; k++) {
    const t0 = Date.now();
    await mn.call({ cmd: 'link', ifname: 'eth0', up: true, addresses: [`${coa(k)}/16`] });
    const s = await settle(coa(k), 30_000);
    times.push(Date.now() - t0);
    retrans.push((s.counters.retransmission ?? 0) - prevRetrans);
    prevRetrans = s.counters.retransmission ?? 0;
    // The HA holds the home binding through the proxy's inside address.
    const hb = ((await ha.call({ cmd: 'bindings' })) as Array<Record<string, string>>).find((b) => b.home === HOME);
    assert.ok(hb && hb.careOf === INSIDE, `HA binding for ${HOME} via ${INSIDE} after move ${k}`);
    // A little past the settle: the make-before-break re-registration without S may be in flight.
    const until = Date.now() + 300;
    while (Date.now() < until) {
      await observe();
      await sleep(30);
    }
  }
  const st = (await mn.call({ cmd: 'status' })) as MnView;
  const r = relays.map((x) => x.stats);
  const dropped = r.reduce((a, x) => a + x.upDropped + x.downDropped, 0), total = r.reduce((a, x) => a + x.up + x.down, 0);
  console.log(`figure: loss rate=${LOSS} seed=${SEED} max_retransmit=${MAX_RETRANSMIT}s attach_ms=${times[0]} attach_retransmissions=${retrans[0]} moves=${MOVES} ` +
    `move_ms p50=${pct(times.slice(1), 0.5)} p90=${pct(times.slice(1), 0.9)} max=${Math.max(...times.slice(1))} ` +
    `retransmissions total=${st.counters.retransmission ?? 0} per_move max=${Math.max(...retrans.slice(1))} tx_registration=${st.counters['tx-registration'] ?? 0} ` +
    `datagrams relayed=${total} dropped=${dropped} (${((100 * dropped) / total).toFixed(1)} %) violations=${violations}`);
  assert.is(violations, 0, 'the MN never held a binding the proxy lacked');
  assert.ok(dropped > 0 && (st.counters.retransmission ?? 0) > 0, 'loss happened and was recovered by retransmission');
});

test.run();
