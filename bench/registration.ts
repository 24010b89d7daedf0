/**
 * Registration throughput and latency (issue 8): real `roamd run` processes from the bundle on
 * loopback, HMAC-MD5 SAs, real UDP, load from a separate process (bench/loadgen.ts) simulating
 * thousands of nodes, each with its own `config mobile_node` section, SA and Identification.
 *
 *   baseline       bare Node dgram server answering 20 bytes (bench/echo-server.ts)
 *   ha             registrations sent directly to the home agent
 *   proxy attach   outer registrations carrying the home registration: proxy → HA → proxy
 *   proxy move     outer registrations alone (a move): answered by the proxy without the HA
 *
 * Figures: replies/s and the ratio to the baseline (goal ≥ 0.5×), median and p99 latency under
 * that load (window requests in flight). Daemons log at the default level (info) to a file.
 * Run: `npx tsx bench/registration.ts [--quick] [--json] [--profile DIR]` (`--profile` runs the HA
 * from source (readable names) under `node --cpu-prof` and leaves the .cpuprofile in DIR).
 */
import { join } from 'node:path';
import { ADDR, haConfig, proxyConfig } from './sim-nodes';
import { buildBundle, startDaemon, startScript, runLoadgen, tempDir, control, Daemon } from './procs';
import type { LoadResult, Mode } from './loadgen';

const GOAL_RATIO = 0.5;

export async function benchRegistration(opts: { quick: boolean; profileDir?: string; only?: string }): Promise<Record<string, number | string>> {
  const nodes = opts.quick ? 500 : 4000;
  const window = 64;
  const warmupMs = opts.quick ? 300 : 1000;
  const durationMs = opts.quick ? 1000 : 5000;
  const port = 30000 + (process.pid % 20000);
  buildBundle();
  const { dir, cleanup } = tempDir('roamd-bench-reg-');
  const daemons: Daemon[] = [];
  const load = (mode: Mode, host: string, extra: Partial<{ minPasses: number }> = {}): Promise<LoadResult> =>
    runLoadgen({ mode, host, port, nodes, window, warmupMs, durationMs, ...extra });
  try {
    // Baseline first, in the same run, same load generator.
    const echo = await startScript(join(__dirname, 'echo-server.ts'), [ADDR.echo, String(port)]);
    let base: LoadResult;
    try {
      base = await load('echo', ADDR.echo);
    } finally {
      echo.kill('SIGTERM');
    }
    const sock = (n: string) => join(dir, `${n}.sock`);
    const ha = await startDaemon('ha', dir, haConfig(nodes, { port, socket: sock('ha') }), sock('ha'),
      { extraNode: opts.profileDir ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : [], fromSource: !!opts.profileDir });
    daemons.push(ha);
    const haRes = await load('ha', ADDR.ha);
    const out: Record<string, number | string> = {
      nodes, window, duration_s: durationMs / 1000,
      baseline_rps: base.rps, baseline_p50_us: base.p50_us, baseline_p99_us: base.p99_us,
      ha_rps: haRes.rps, ha_ratio: ratio(haRes.rps, base.rps), ha_p50_us: haRes.p50_us, ha_p99_us: haRes.p99_us,
      ha_accepted_share: share(haRes),
    };
    if (opts.only !== 'ha') {
      const proxy = await startDaemon('proxy', dir, proxyConfig(nodes, { port, socket: sock('proxy') }), sock('proxy'));
      daemons.push(proxy);
      const attach = await load('proxy-attach', ADDR.proxyOutside, { minPasses: 1 });
      const move = await load('proxy-move', ADDR.proxyOutside);
      const st = await control(proxy.socket, { cmd: 'status' }) as Record<string, unknown>;
      Object.assign(out, {
        proxy_attach_rps: attach.rps, proxy_attach_ratio: ratio(attach.rps, base.rps), proxy_attach_p50_us: attach.p50_us, proxy_attach_p99_us: attach.p99_us,
        proxy_attach_accepted_share: share(attach),
        proxy_move_rps: move.rps, proxy_move_ratio: ratio(move.rps, base.rps), proxy_move_p50_us: move.p50_us, proxy_move_p99_us: move.p99_us,
        proxy_move_accepted_share: share(move),
        proxy_nodes_bound: Number((st.nodes ?? st.bindings ?? NaN) as number),
      });
    }
    const worst = Math.min(...['ha_ratio', 'proxy_attach_ratio', 'proxy_move_ratio'].filter((k) => k in out).map((k) => out[k] as number));
    out.ratio_goal = worst >= GOAL_RATIO ? `pass (>= ${GOAL_RATIO})` : `FAIL (< ${GOAL_RATIO})`;
    out.note = 'daemons log at info to a file; loadgen, daemons and baseline share this machine';
    return out;
  } finally {
    for (const d of daemons.reverse()) await d.stop();
    cleanup();
  }
}

function ratio(a: number, b: number): number {
  return +(a / b).toFixed(3);
}

/** Share of replies that were accepted (code 0 or 1): a bench that measures denials is worthless. */
function share(r: LoadResult): number {
  const ok = (r.codes['0'] ?? 0) + (r.codes['1'] ?? 0);
  return r.replies ? +(ok / r.replies).toFixed(4) : 0;
}

if (require.main === module) {
  const argv = process.argv;
  const pi = argv.indexOf('--profile');
  const oi = argv.indexOf('--only');
  benchRegistration({ quick: argv.includes('--quick'), profileDir: pi > 0 ? argv[pi + 1] : undefined, only: oi > 0 ? argv[oi + 1] : undefined }).then((res) => {
    if (argv.includes('--json')) return console.log(JSON.stringify(res));
    const w = Math.max(...Object.keys(res).map((k) => k.length));
    for (const [k, v] of Object.entries(res)) console.log(`${k.padEnd(w)}  ${v}`);
  }, (e) => { console.error(e); process.exit(1); });
}
