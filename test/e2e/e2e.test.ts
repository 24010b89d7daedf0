/**
 * End-to-end lane (root, network namespaces): the whole deployment with a real strongSwan VPN.
 * The node starts at home, moves to the hotspot (VPN comes up), to the wired subnet, behind the
 * NAT, back to the hotspot and back home. A TCP stream between cn and the node's home address runs
 * throughout and must not reset; cn opens a new connection to the home address at every stage; a
 * 5 ms UDP probe from cn measures each move's interruption and loss; the IKE and CHILD SAs must be
 * the same ones (same SPIs) before and after every move outside, with zero IKE messages exchanged.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { World, Place, ADDR, IFACE, ROOT, waitFor } from './world';
import { sh } from './netns';
import { ipToString } from '../../src/platform/address';
import { ChildProcess } from 'node:child_process';
import { probe, probeOnce, UdpProbe } from './udp-probe';

const w = new World();
let udp: UdpProbe;
const results: Array<Record<string, unknown>> = [];
let stream: ChildProcess;
let streamLog = '';

test.before(async () => {
  // uvu does not print a failing hook's error: say it here, then fail every test of the lane.
  await setUp().catch((e: Error) => {
    console.error(`\ne2e set-up failed: ${e.stack ?? e}`);
    if (w.daemons.length) for (const d of w.daemons) console.error(`--- ${d.name}\n${d.log.slice(-3000)}`);
    throw e;
  });
});

async function setUp(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the e2e lane needs root (network namespaces, TUN devices, strongSwan): run npm test as root');
  // The VM lane builds the bundle on the host before booting the guest (ROAMD_E2E_PREBUILT=1).
  if (process.env.ROAMD_E2E_PREBUILT !== '1') execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { stdio: 'pipe' });
  await w.start();
  probe(w, w.ns.cn!, 'tcp-server', '5001');
  probe(w, w.ns.mn!, 'tcp-server', '5002');
  probe(w, w.ns.mn!, 'bulk-server', '5004');
  udp = await UdpProbe.start(w);
  stream = probe(w, w.ns.mn!, 'tcp-stream', ADDR.cn, '5001', ADDR.home);
  stream.stdout!.on('data', (b: Buffer) => (streamLog += b.toString()));
  await waitFor('tcp stream connected', async () => streamLog.includes('connected'));
}

/** The node's routing, IPsec and data plane state, for a stage that failed. */
async function pathState(): Promise<string> {
  const mn = w.ns.mn!, px = w.ns.px!;
  const run = (ns: string, ...cmd: string[]) => `# ${cmd.join(' ')} (${Object.entries(w.ns).find(([, v]) => v === ns)?.[0]})\n${sh(cmd[0]!, cmd.slice(1), { ns, allowFail: true }).trim()}`;
  const status = async (name: string) => JSON.stringify((await w.call(name, { cmd: 'status' }).catch(() => null))?.dataplaneStatus ?? null).slice(0, 1500);
  return [
    run(mn, 'ip', 'rule'), run(mn, 'ip', '-d', 'route', 'show', 'table', 'all', 'proto', '213'), run(mn, 'ip', 'route', 'show', 'table', '220'),
    run(mn, 'ip', 'route', 'get', ADDR.cn, 'from', ADDR.home), run(mn, 'ip', 'route', 'get', ADDR.gwOut, 'from', ipToString((await w.call('mn', { cmd: 'status' }).catch(() => null))?.dataplaneState?.outerAddress ?? 0)),
    run(mn, 'ss', '-tin'), run(mn, 'cat', '/proc/net/xfrm_stat'), run(mn, 'nstat', '-az', 'Ip*', 'Udp*'),
    run(mn, 'ip', '-s', 'xfrm', 'state'), run(w.ns.gw!, 'ip', '-s', 'xfrm', 'state'), run(mn, 'ip', '-s', 'link'), run(px, 'ip', '-s', 'link'),
    `ha data plane: ${await status('ha')}`,
    `mn data plane: ${await status('mn')}`, `proxy data plane: ${await status('proxy')}`,
  ].join('\n');
}

/**
 * Each daemon's data plane and, for the kernel plane, the packets its IP-in-IP device carried (the
 * VM lane checks that the tunnels ran in the kernel).
 */
async function planes(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const d of w.daemons) {
    const st = await w.call(d.name, { cmd: 'status' }).catch((e: Error) => ({ error: e.message }));
    const ds = (st as { dataplaneStatus?: { mode?: string; device?: string } }).dataplaneStatus;
    let device: unknown = null;
    if (ds?.mode === 'kernel' && ds.device) {
      try {
        const j = JSON.parse(execFileSync('ip', ['-n', d.ns, '-s', '-j', 'link', 'show', ds.device], { encoding: 'utf8' }))[0];
        device = { rxPackets: j.stats64.rx.packets, txPackets: j.stats64.tx.packets, rxDropped: j.stats64.rx.dropped };
      } catch (e) {
        device = { error: (e as Error).message.slice(0, 200) };
      }
    }
    out[d.name] = { mode: ds?.mode ?? (st as { error?: string }).error ?? 'unknown', device };
  }
  return out;
}

/** With ROAMD_E2E_LOGS=DIR: every daemon's log and charon's logs are copied there (the VM lane's share). */
function keepLogs(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const d of w.daemons) writeFileSync(join(dir, `roamd-${d.name}.log`), d.log);
  for (const who of ['gw', 'mn']) {
    const f = join(w.dir, `sw-${who}`, 'charon.log');
    if (existsSync(f)) copyFileSync(f, join(dir, `charon-${who}.log`));
  }
}

test.after(async () => {
  const dataplanes = await planes().catch((e: Error) => ({ error: e.message }));
  if (process.env.ROAMD_E2E_LOGS) keepLogs(process.env.ROAMD_E2E_LOGS);
  if (process.env.ROAMD_TEST_VERBOSE) for (const d of w.daemons) console.log(`--- ${d.name}\n${d.log}`);
  console.log(`\nper-move figures (data plane ${w.options.dataplane ?? 'userspace'}, IPsec ${w.options.ipsec ?? 'libipsec'}${w.options.accessDelayMs ? `, netem ${w.options.accessDelayMs} ms` : ''}):`);
  for (const r of results) console.log(`  ${JSON.stringify(r)}`);
  console.log(`data planes: ${JSON.stringify(dataplanes)}`);
  // The VM lane reads the figures back from a file in its share directory.
  if (process.env.ROAMD_E2E_RESULTS) writeFileSync(process.env.ROAMD_E2E_RESULTS, JSON.stringify({ options: w.options, results, dataplanes }, null, 1));
  w.teardown();
});

function echoed(): number {
  const m = [...streamLog.matchAll(/"echoed":(\d+)/g)];
  return m.length ? Number(m[m.length - 1]![1]) : 0;
}

async function stage(to: Place, expectLocation: 'home' | 'foreign'): Promise<void> {
  const saBefore = w.place === 'home' ? null : w.sa('mn');
  const ikeBefore = w.ikeMessages('mn');
  const t0 = Date.now();
  w.move(to);
  let last: unknown;
  await waitFor(`node ${expectLocation} at ${to}`, async () => {
    const s = await w.call('mn', { cmd: 'status' });
    const st = (last = s.dataplaneState);
    return !!st && st.location === expectLocation && (expectLocation === 'home' || (st.vpn === 'up' && st.tunnel !== 'none' && st.ifname !== '' && st.careOf !== 0 && (to === 'hotspot' ? st.agent !== 0 : st.agent === 0)));
  }, 30_000).catch((e: Error) => {
    throw new Error(`${e.message}; the node's last data plane state: ${JSON.stringify(last)}`);
  });
  if (expectLocation === 'foreign') await waitFor('VPN SA installed', async () => !!w.sa('mn')?.children.some((c) => c.state === 'INSTALLED'), 30_000);
  w.finishMove();
  // The move is done when the node is registered through the new interface (a move to a less
  // preferred link happens only once the old one is gone).
  await waitFor(`node registered through ${IFACE[to]}`, async () => {
    const st = (await w.call('mn', { cmd: 'status' })).dataplaneState;
    return !!st && st.ifname === IFACE[to] && (expectLocation === 'home' || st.tunnel !== 'none');
  }, 30_000);
  const before = echoed();
  await waitFor(`tcp stream flowing at ${to}`, async () => echoed() > before + 20, 30_000).catch(async (e: Error) => {
    throw new Error(`${e.message}\n${await pathState()}`);
  });
  const t1 = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  const g = udp.gap(t0, Date.now());
  const conn = probeOnce(w.ns.cn!, 'tcp-connect', ADDR.home, '5002');
  // A bulk transfer with full-size segments through VPN + tunnel must not stall (MTU handling).
  const bulk = expectLocation === 'foreign' ? probeOnce(w.ns.cn!, 'bulk-send', ADDR.home, '5004', String(2 * 1024 * 1024)) : { event: 'skipped' };
  const saAfter = w.sa('mn');
  const ikeAfter = w.ikeMessages('mn');
  const r = { to, ms: t1 - t0, ...g, newConnection: conn.event, bulkMbps: bulk.mbps ?? bulk.event, ikeMessages: ikeAfter - ikeBefore, ike: saAfter ? `${saAfter.ikeSpiI}_${saAfter.ikeSpiR}` : 'none', child: saAfter?.children.map((c) => `${c.spiIn}/${c.spiOut}`).join(',') ?? 'none' };
  results.push(r);
  assert.is(conn.event, 'ok', `cn opens a new connection to the home address at ${to}: ${JSON.stringify(conn)}`);
  assert.not.match(streamLog, /"event":"(error|close)"/, 'the TCP stream never reset');
  if (expectLocation === 'foreign') assert.is(bulk.event, 'ok', `2 MiB bulk transfer cn → node at ${to}: ${JSON.stringify(bulk)}`);
  if (saBefore && expectLocation === 'foreign') {
    assert.is(saAfter?.ikeSpiI, saBefore.ikeSpiI, 'same IKE SA');
    assert.is(saAfter?.ikeSpiR, saBefore.ikeSpiR, 'same IKE SA');
    assert.equal(saAfter?.children.map((c) => c.spiIn), saBefore.children.map((c) => c.spiIn), 'same CHILD SA');
    assert.is(r.ikeMessages, 0, 'zero IKE messages during the move');
  }
}

test('home → hotspot (foreign agent): VPN comes up, stream survives', () => stage('hotspot', 'foreign'));
test('hotspot → wired (co-located care-of address): same SAs, no IKE', () => stage('wired', 'foreign'));
test('kill -9 of the proxy and the HA, restart: traffic resumes without the node re-registering', async () => {
  const regs = (await w.call('mn', { cmd: 'stats' }))['tx-registration'] ?? 0;
  const sa0 = w.sa('mn');
  const t0 = Date.now();
  const proxyMs = await w.crashAndRestart('proxy');
  const haMs = await w.crashAndRestart('ha');
  const before = echoed();
  await waitFor('tcp stream flowing after the restarts', async () => echoed() > before + 20, 30_000);
  const g = udp.gap(t0, Date.now());
  const pb = (await w.call('proxy', { cmd: 'bindings' })) as any[];
  assert.equal(pb.map((b) => b.careOf), [ADDR.wiredMn], 'the proxy binding came back from its snapshot');
  assert.equal(((await w.call('ha', { cmd: 'bindings' })) as any[]).map((b) => b.home), [ADDR.home]);
  assert.is((await w.call('mn', { cmd: 'stats' }))['tx-registration'] ?? 0, regs, 'the node did not register again');
  assert.is(w.sa('mn')?.ikeSpiI, sa0?.ikeSpiI, 'same IKE SA');
  assert.not.match(streamLog, /"event":"(error|close)"/, 'the TCP stream never reset');
  results.push({ to: 'restart proxy+ha', restartMs: { proxy: proxyMs, ha: haMs }, interruptionMs: g.interruptionMs, lost: g.lost });
});
test('wired → behind the NAT (RFC 3519 UDP tunnel): same SAs, no IKE', () => stage('nat', 'foreign'));
test('NAT → hotspot again: same SAs, no IKE', () => stage('hotspot', 'foreign'));
test('hotspot → home: deregistered, VPN pass-through, stream survives', async () => {
  await stage('home', 'home');
  const hb = await w.call('ha', { cmd: 'bindings' });
  assert.equal(hb, [], 'no binding left at the HA');
});

test.run();
