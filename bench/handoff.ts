/**
 * Handoff (issue 8): per-move interruption and packets lost while the node moves between outside
 * networks, for four ways of keeping a VPN across moves, in the same topology (test/e2e/world.ts:
 * namespaces, real strongSwan with kernel-libipsec on gw and mn) and in the same run:
 *  a. roamd break-before-make: the old link goes down before the new one comes up;
 *  b. roamd make-before-break with simultaneous bindings: new link up, registration, old link down
 *     once the node reports the new binding (World.move + finishMove, as the e2e lane does); to a
 *     less preferred link, once the node reports it as its standby binding (≥ 300 ms);
 *  c. strongSwan MOBIKE without roamd: the IKE SA runs from the node's physical address, the VPN's
 *     inner address is the home address (fixed traffic selector), `mobike = yes` on both ends; the
 *     links change the same way (new up, old down 300 ms later) and charon follows by itself;
 *     c'. the same with break-before-make (old link down first), the like-for-like baseline of a;
 *  d. VPN re-establishment without MOBIKE or roamd: the same link change, then the IKE SA is
 *     terminated and initiated again from the new address (scripted at once: the best such a
 *     user gets; without a script it waits for DPD).
 * Moves cycle hotspot → wired → NAT → hotspot. For c and d the hotspot is a plain DHCP subnet
 * (the node gets 192.0.2.10/24 there, no foreign agent): MOBIKE needs a routable address of its own.
 * Interruption: the largest gap between arrivals of a 5 ms UDP probe cn → home address around the
 * move; lost: probe datagrams missing in that window.
 * Run (root): `npx tsx bench/handoff.ts [--quick|--smoke] [--json]` (6 moves per mode; --quick 2; --smoke 1).
 */
import { World, Place, ADDR, waitFor } from '../test/e2e/world';
import { readFileSync, writeFileSync, mkdirSync, existsSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { NEEDS_ROOT, isRoot, buildBundle, track, UdpProbe, swanctl, plainVpnNode, initiateVpn, sleep, median, benchMain } from './netns-lab';

const IFACE: Record<Place, string> = { home: 'home0', hotspot: 'wlan0', wired: 'wired0', nat: 'natp0' };
/** The node's interface preferences in World's config: it moves to a new link only if it is better or the old one is gone. */
const PREFERENCE: Record<Place, number> = { home: 25, hotspot: 20, wired: 30, nat: 10 };
const CYCLE: Place[] = ['hotspot', 'wired', 'nat'];
/** Keys of the JSON result (every one becomes "not measured (needs root)" without root). */
const KEYS = ['roamd_bbm_median_ms', 'roamd_bbm_max_ms', 'roamd_bbm_lost', 'roamd_mbb_median_ms', 'roamd_mbb_max_ms', 'roamd_mbb_lost',
  'mobike_median_ms', 'mobike_max_ms', 'mobike_lost', 'mobike_bbm_median_ms', 'mobike_bbm_max_ms', 'mobike_bbm_lost', 'reestablish_median_ms', 'reestablish_max_ms', 'reestablish_lost',
  'roamd_mbb_steady_ms', 'mobike_steady_ms', 'roamd_mbb_excess_ms', 'mobike_excess_ms', 'roamd_bbm_excess_ms', 'mobike_bbm_excess_ms',
  'mbb_ratio', 'mbb_excess_ratio', 'bbm_excess_ratio', 'bbm_ratio', 'reestablish_ratio', 'ratio_goal', 'bbm_goal', 'mbb_zero_loss', 'moves_per_mode'] as const;

/** steadyMs: the largest gap in the second before the move (the path's own jitter, nothing moving). */
interface MoveResult { from: Place; to: Place; interruptionMs: number; lost: number; steadyMs: number; ms: number; ok: boolean }
type Mode = 'bbm' | 'mbb' | 'mobike' | 'mobike_bbm' | 'reestablish';

function nextPlace(p: Place): Place {
  return CYCLE[(CYCLE.indexOf(p) + 1) % CYCLE.length]!;
}

/** The node reports the binding at `to`: its interface, a care-of address, the VPN up. */
async function roamdAt(w: World, to: Place): Promise<void> {
  await waitFor(`node registered at ${to}`, async () => {
    const st = (await w.call('mn', { cmd: 'status' })).dataplaneState;
    return !!st && st.location === 'foreign' && st.vpn === 'up' && st.tunnel !== 'none' && st.ifname === IFACE[to] && st.careOf !== 0 && (to === 'hotspot' ? st.agent !== 0 : st.agent === 0);
  }, 30_000);
}

/** The node reports a standby binding on `to`'s interface (5 s at most: without one, the move is break-before-make at the node). */
async function standbyAt(w: World, to: Place): Promise<void> {
  await waitFor(`standby binding at ${to}`, async () => (await w.call('mn', { cmd: 'status' })).standbyBinding?.ifname === IFACE[to], 5_000).catch(() => undefined);
}

async function oneMove(w: World, p: UdpProbe, mode: Mode, timeoutMs: number): Promise<MoveResult> {
  const from = w.place, to = nextPlace(from);
  // A quiet second before the move: the steady-state gap below must not see the last move.
  await sleep(500);
  const t0 = Date.now();
  const steadyMs = p.steadyGap(t0);
  let tLast: number;
  let ok = true;
  if (mode === 'bbm') {
    w.move(to, { breakFirst: true });
    await roamdAt(w, to);
    tLast = Date.now();
  } else if (mode === 'mbb') {
    w.move(to);
    if (PREFERENCE[to] > PREFERENCE[from]) {
      // The new link is preferred: the node registers there while the old one still carries traffic.
      await roamdAt(w, to);
      tLast = Date.now();
      w.finishMove();
    } else {
      // The node keeps its preferred link while it is there and registers the new one as its
      // standby binding (the "make"); the old link goes once the node reports it (at least 300 ms
      // after the new link came up, as in the baselines' moves), then the node moves.
      await Promise.all([sleep(300), standbyAt(w, to)]);
      tLast = Date.now();
      w.finishMove();
      await roamdAt(w, to);
    }
  } else if (mode === 'mobike_bbm') {
    w.move(to, { breakFirst: true });
    tLast = Date.now();
  } else {
    w.move(to);
    await sleep(300);
    tLast = Date.now();
    w.finishMove();
    if (mode === 'reestablish') {
      // --force without --timeout: destroy at once (with a timeout, charon first waits that long for an
      // answer to its DELETE, which cannot come over the path that just went: 2 s per move).
      swanctl(w, 'mn', '--terminate', '--ike', 'vpn', '--force');
      await initiateVpn(w);
    }
  }
  ok = await p.resumed(tLast, timeoutMs);
  const g = p.gap(t0, Date.now());
  return { from, to, ...g, steadyMs, ms: Date.now() - t0, ok };
}

/** With ROAMD_BENCH_LOGS=DIR, keeps charon's and roamd's logs of each world there. */
function keepLogs(w: World, label: string): void {
  const dir = process.env.ROAMD_BENCH_LOGS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  for (const who of ['gw', 'mn']) {
    const f = join(w.dir, `sw-${who}`, 'charon.log');
    if (existsSync(f)) copyFileSync(f, join(dir, `${label}-charon-${who}.log`));
  }
  for (const d of w.daemons) writeFileSync(join(dir, `${label}-roamd-${d.name}.log`), d.log);
}

/**
 * Per mode: median and largest interruption, datagrams lost, the median steady-state gap, and the
 * mean excess: how much longer than the path's own jitter the move's largest gap was (0 when the
 * move is lost in the jitter), averaged over the moves.
 */
function summarise(rs: MoveResult[]): { median: number; max: number; lost: number; steady: number; excess: number } {
  const xs = rs.map((r) => r.interruptionMs);
  const excess = rs.reduce((a, r) => a + Math.max(0, r.interruptionMs - r.steadyMs), 0) / Math.max(1, rs.length);
  return { median: median(xs), max: Math.max(...xs), lost: rs.reduce((a, r) => a + Math.max(0, r.lost), 0), steady: median(rs.map((r) => r.steadyMs)), excess: +excess.toFixed(1) };
}

export async function benchHandoff(opts: { moves: number; log: (s: string) => void }): Promise<Record<string, number | string>> {
  if (!isRoot()) return Object.fromEntries(KEYS.map((k) => [k, NEEDS_ROOT]));
  buildBundle();
  const per: Record<Mode, MoveResult[]> = { bbm: [], mbb: [], mobike: [], mobike_bbm: [], reestablish: [] };
  const run = async (w: World, p: UdpProbe, mode: Mode) => {
    for (let i = 0; i < opts.moves; i++) {
      const r = await oneMove(w, p, mode, 20_000);
      per[mode].push(r);
      opts.log(`${mode.padEnd(11)} ${r.from} → ${r.to}: interruption ${r.interruptionMs} ms, lost ${r.lost}${r.ok ? '' : ' (did not resume within 20 s)'}`);
    }
  };

  // roamd: the e2e deployment; the node goes home → hotspot (not measured: the VPN comes up).
  let w = new World();
  track(w);
  try {
    await w.start();
    const p = await UdpProbe.start(w);
    w.move('hotspot');
    await roamdAt(w, 'hotspot');
    await waitFor('VPN SA installed', async () => !!w.sa('mn')?.children.some((c) => c.state === 'INSTALLED'), 30_000);
    await p.resumed(Date.now(), 20_000);
    await run(w, p, 'bbm');
    await run(w, p, 'mbb');
  } finally {
    keepLogs(w, 'roamd');
    w.teardown();
    track(null);
  }

  // Baselines without roamd: strongSwan on the physical address, MOBIKE on, then re-establishment.
  w = new World(undefined, { hotspotAddress: '192.0.2.10' });
  track(w);
  try {
    w.build();
    w.move('wired');
    plainVpnNode(w);
    w.startStrongswan({ mobike: true });
    await w.loadStrongswan();
    await initiateVpn(w);
    const p = await UdpProbe.start(w);
    await run(w, p, 'mobike');
    await run(w, p, 'mobike_bbm');
    // Same world, MOBIKE off: reload the configs, start a fresh IKE SA without it.
    for (const who of ['gw', 'mn'] as const) {
      const f = join(w.dir, `sw-${who}`, 'swanctl.conf');
      writeFileSync(f, readFileSync(f, 'utf8').replace('mobike = yes', 'mobike = no'));
      swanctl(w, who, '--load-all', '--file', f);
    }
    swanctl(w, 'mn', '--terminate', '--ike', 'vpn', '--force', '--timeout', '2');
    await initiateVpn(w);
    await p.resumed(Date.now(), 20_000);
    await run(w, p, 'reestablish');
  } finally {
    keepLogs(w, 'baseline');
    w.teardown();
    track(null);
  }

  const s = { bbm: summarise(per.bbm), mbb: summarise(per.mbb), mobike: summarise(per.mobike), mobikeBbm: summarise(per.mobike_bbm), reestablish: summarise(per.reestablish) };
  const ratio = (a: number, b: number) => (b > 0 ? +(a / b).toFixed(3) : NaN);
  const detail = (m: Mode) => per[m].map((r) => `${r.to}:${r.interruptionMs}/${r.lost}/${r.steadyMs}`).join(' ');
  const verdict = (x: number) => (Number.isFinite(x) ? (x <= 0.5 ? 'pass' : 'FAIL') : 'n/a');
  return {
    roamd_bbm_median_ms: s.bbm.median, roamd_bbm_max_ms: s.bbm.max, roamd_bbm_lost: s.bbm.lost,
    roamd_mbb_median_ms: s.mbb.median, roamd_mbb_max_ms: s.mbb.max, roamd_mbb_lost: s.mbb.lost,
    mobike_median_ms: s.mobike.median, mobike_max_ms: s.mobike.max, mobike_lost: s.mobike.lost,
    mobike_bbm_median_ms: s.mobikeBbm.median, mobike_bbm_max_ms: s.mobikeBbm.max, mobike_bbm_lost: s.mobikeBbm.lost,
    reestablish_median_ms: s.reestablish.median, reestablish_max_ms: s.reestablish.max, reestablish_lost: s.reestablish.lost,
    roamd_mbb_steady_ms: s.mbb.steady, mobike_steady_ms: s.mobike.steady,
    roamd_mbb_excess_ms: s.mbb.excess, mobike_excess_ms: s.mobike.excess, roamd_bbm_excess_ms: s.bbm.excess, mobike_bbm_excess_ms: s.mobikeBbm.excess,
    mbb_ratio: ratio(s.mbb.median, s.mobike.median),
    mbb_excess_ratio: ratio(s.mbb.excess, s.mobike.excess),
    bbm_excess_ratio: ratio(s.bbm.excess, s.mobikeBbm.excess),
    bbm_ratio: ratio(s.bbm.median, s.mobikeBbm.median),
    reestablish_ratio: ratio(s.mbb.median, s.reestablish.median),
    ratio_goal: `≤ 0.5 (roamd / MOBIKE): median ${verdict(ratio(s.mbb.median, s.mobike.median))}, excess over jitter ${s.mbb.excess === 0 && s.mobike.excess > 0 ? 'pass (0)' : verdict(ratio(s.mbb.excess, s.mobike.excess))}`,
    bbm_goal: `≤ 0.5 (roamd / MOBIKE break-before-make): ${verdict(ratio(s.bbm.median, s.mobikeBbm.median))}`,
    mbb_zero_loss: s.mbb.lost === 0 ? 'yes' : `no (${s.mbb.lost} lost)`,
    moves_per_mode: opts.moves,
    // Per move, "to:interruption ms/lost/steady-state gap ms".
    detail_bbm: detail('bbm'), detail_mbb: detail('mbb'), detail_mobike: detail('mobike'), detail_mobike_bbm: detail('mobike_bbm'), detail_reestablish: detail('reestablish'),
  };
}

if (require.main === module) {
  const moves = process.argv.includes('--smoke') ? 1 : process.argv.includes('--quick') ? 2 : 6;
  if (!isRoot()) console.error('handoff: not measured: needs root (network namespaces, TUN, strongSwan)');
  benchMain('handoff', (log) => benchHandoff({ moves, log }));
}
void ADDR;
