/**
 * Footprint (issue 8): bundle size (goal ≤ 200 KiB minified), start-up time of `roamd run`, idle
 * RSS of each role, and RSS of a home agent whose binding table is full at the `router-128m`
 * profile's capacity (goal ≤ 60 MB), every daemon started with the profile's node_flags.
 *
 * Start-up is measured to the control socket answering `status` and to the `started` log line,
 * not to the first agent advertisement: advertisements need raw ICMP, which only the data planes
 * (not built yet) provide. Baseline: a bare `node` that listens on a Unix socket.
 * The full tables are filled through the table APIs in a daemon-like process (bench/full-table.ts,
 * bundled and run with the profile's node_flags): filling through real registrations needs ~16k
 * configured nodes, whose config alone pushes the 48 MB heap into GC thrashing (docs/performance.md).
 * Run: `npx tsx bench/footprint.ts [--quick] [--json]`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { build } from 'esbuild';
import { connect } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadProfile } from '../src/tables/profile';
import { ADDR, haConfig, proxyConfig, ROOT } from './sim-nodes';
import { buildBundle, startDaemon, tempDir, rssMb, sleep, median, Daemon } from './procs';

const GOAL_BUNDLE = 200 * 1024, GOAL_FULL_RSS_MB = 60;
const PROFILE = 'router-128m';

export async function benchFootprint(opts: { quick: boolean }): Promise<Record<string, number | string>> {
  const profile = loadProfile(join(ROOT, 'targets', `${PROFILE}.json`));
  const flags = profile.node_flags;
  const bundle = buildBundle();
  const port = 30000 + ((process.pid + 7) % 20000);
  const { dir, cleanup } = tempDir('roamd-bench-fp-');
  const sock = (n: string) => join(dir, `${n}.sock`);
  const daemons: Daemon[] = [];
  try {
    // Start-up: time to the control socket answering and to the `started` line; bare node baseline.
    const runs = opts.quick ? 2 : 5;
    const ready: number[] = [], started: number[] = [], bare: number[] = [];
    for (let i = 0; i < runs; i++) {
      bare.push(await bareNodeStartup(join(dir, `bare${i}.sock`), flags));
      const d = await startDaemon(`start${i}`, dir, haConfig(1, { port, socket: sock(`start${i}`) }), sock(`start${i}`), { nodeFlags: flags });
      ready.push(d.readyMs);
      started.push(d.startedMs ?? NaN);
      await d.stop();
    }
    // Idle RSS per role (small configs, 2 s after start), and a bare node process.
    const idle: Record<string, number> = {};
    const roleConfs: Record<string, string> = {
      ha: haConfig(10, { port, socket: sock('ha') }),
      proxy: proxyConfig(10, { port, socket: sock('proxy') }),
      fa: faConfig(port, sock('fa')),
      mn: mnConfig(port, sock('mn')),
    };
    for (const [role, conf] of Object.entries(roleConfs)) {
      const d = await startDaemon(`idle-${role}`, dir, conf, sock(role), { nodeFlags: flags });
      daemons.push(d);
    }
    const bareIdle = spawn(process.execPath, [...flags, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await sleep(opts.quick ? 1000 : 2000);
    for (const d of daemons) idle[d.socket.replace(/^.*\//, '').replace('.sock', '')] = rssMb(d.proc.pid!);
    const bareRss = rssMb(bareIdle.pid!);
    bareIdle.kill('SIGTERM');
    for (const d of daemons.splice(0)) await d.stop();

    // Full tables: a daemon-like process (bundled like roamd, run with the profile's node_flags)
    // fills the HA binding table and the proxy map to capacity through the table APIs.
    const script = join(dir, 'full-table.js');
    await build({ entryPoints: [join(__dirname, 'full-table.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: script, logLevel: 'warning' });
    const ft = spawnSync(process.execPath, [...flags, script, join(ROOT, 'targets', `${PROFILE}.json`)], { encoding: 'utf8' });
    if (ft.status !== 0) throw new Error(`full-table: ${ft.stderr}`);
    const full = JSON.parse(ft.stdout.trim().split('\n').pop()!) as { rss_before_tables_mb: number; rss_full_mb: number; bindings: number; binding_capacity: number;
      binding_full_refused: boolean; proxy_nodes: number; proxy_node_capacity: number; proxy_full_refused: boolean };
    const isFull = full.binding_full_refused && full.proxy_full_refused;

    return {
      bundle_bytes: bundle,
      bundle_goal_bytes: GOAL_BUNDLE,
      bundle_ratio: +(bundle / GOAL_BUNDLE).toFixed(3),
      bundle_goal: bundle <= GOAL_BUNDLE ? 'pass (<= 200 KiB)' : 'FAIL (> 200 KiB)',
      startup_control_ms: Math.round(median(ready)),
      startup_started_line_ms: Math.round(median(started)),
      bare_node_startup_ms: Math.round(median(bare)),
      startup_ratio: +(median(ready) / median(bare)).toFixed(2),
      startup_note: 'to the control socket answering and to the started line; first advertisement needs raw ICMP (data plane, not built yet)',
      idle_rss_ha_mb: idle['ha'] ?? NaN,
      idle_rss_proxy_mb: idle['proxy'] ?? NaN,
      idle_rss_fa_mb: idle['fa'] ?? NaN,
      idle_rss_mn_mb: idle['mn'] ?? NaN,
      bare_node_idle_rss_mb: bareRss,
      idle_rss_ha_ratio: +((idle['ha'] ?? NaN) / bareRss).toFixed(2),
      full_profile: PROFILE,
      full_node_flags: flags.join(' '),
      full_fill_path: 'table APIs in a daemon-like process (the real registration path needs ~16k configured nodes; see docs/performance.md)',
      full_bindings: `${full.bindings}/${full.binding_capacity}`,
      full_proxy_nodes: `${full.proxy_nodes}/${full.proxy_node_capacity}`,
      rss_before_tables_mb: full.rss_before_tables_mb,
      rss_full_mb: full.rss_full_mb,
      rss_full_ratio_to_goal: +(full.rss_full_mb / GOAL_FULL_RSS_MB).toFixed(2),
      rss_full_goal: full.rss_full_mb <= GOAL_FULL_RSS_MB && isFull ? `pass (<= ${GOAL_FULL_RSS_MB} MB)` : `FAIL (> ${GOAL_FULL_RSS_MB} MB or not full)`,
    };
  } finally {
    for (const d of daemons) await d.stop();
    cleanup();
  }
}

/** A bare node that listens on a Unix socket: ms until a connection succeeds. */
async function bareNodeStartup(path: string, flags: string[]): Promise<number> {
  const t0 = performance.now();
  const p = spawn(process.execPath, [...flags, '-e', `require('net').createServer((c) => c.end()).listen(${JSON.stringify(path)})`], { stdio: 'ignore' });
  for (;;) {
    if (existsSync(path)) {
      const ok = await new Promise<boolean>((r) => {
        const c = connect(path, () => { c.destroy(); r(true); });
        c.on('error', () => r(false));
      });
      if (ok) break;
    }
    await sleep(2);
  }
  const ms = performance.now() - t0;
  p.kill('SIGTERM');
  return ms;
}

function common(role: string, listen: string[], port: number, socket: string): string {
  return `config roamd 'main'
	option role '${role}'
${listen.map((l) => `	list listen '${l}'`).join('\n')}
	option port '${port}'
	option control_socket '${socket}'
	option dataplane 'none'
	option profile '${PROFILE}'
`;
}

function faConfig(port: number, socket: string): string {
  return common('fa', ['127.104.0.1'], port, socket) + `
config foreign_agent
	option advertise_interval '5'
	option registration_lifetime '600'

config interface
	option ifname 'fa0'
	option address '127.104.0.1/16'

config peer
	option role 'ha'
	option address '${ADDR.proxyOutside}'
	option spi '1001'
	option key 'c1c2c3c4c5c6c7c8c9cacbcccdcecfd0'
`;
}

function mnConfig(port: number, socket: string): string {
  return common('mn', [], port, socket) + `
config mobile
	option nai 'n0@bench.example'
	option home_address '127.100.0.10'
	option home_agent '${ADDR.ha}'
	option home_network '${ADDR.homeNetwork}'
	option spi '256'
	option key '00112233445566778899aabbccddeeff'
	option proxy_outside '${ADDR.proxyOutside}'
	option proxy_inside '${ADDR.proxyInside}'
	option proxy_spi '257'
	option proxy_key '102132435465768798a9bacbdcedfe0f'
	option lifetime '300'

config interface
	option ifname 'eth0'
	option preference '20'
`;
}


if (require.main === module) {
  benchFootprint({ quick: process.argv.includes('--quick') }).then((res) => {
    if (process.argv.includes('--json')) return console.log(JSON.stringify(res));
    const w = Math.max(...Object.keys(res).map((k) => k.length));
    for (const [k, v] of Object.entries(res)) console.log(`${k.padEnd(w)}  ${v}`);
  }, (e) => { console.error(e); process.exit(1); });
}
