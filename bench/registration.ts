/**
 * Registration throughput and latency (issue 8): real `roamd run` processes from the bundle on
 * loopback, HMAC-MD5 SAs, real UDP, load from a separate process (bench/loadgen.ts) simulating
 * thousands of nodes, each with its own `config mobile_node` section, SA and Identification.
 *
 *   baseline       bare Node dgram server answering 20 bytes (bench/echo-server.ts)
 *   relay          bare Node dgram relay (bench/relay-server.ts) forwarding each request to that
 *                  echo server and its answer back: two processes, four datagrams per request,
 *                  like proxy attach (the like-for-like baseline for that figure, reported beside
 *                  the ratio to the one-hop echo, which keeps its verdict)
 *   ha             registrations sent directly to the home agent
 *   proxy attach   outer registrations carrying the home registration: proxy → HA → proxy
 *   proxy move     outer registrations alone (a move): answered by the proxy without the HA
 *
 * Figures: replies/s and the ratio to the baseline (goal ≥ 0.5×), median and p99 latency under
 * that load (window requests in flight). Daemons log at the default level (info) to a file.
 * Baseline and roamd phases alternate in rounds (baseline, ha, relay, proxy attach, proxy move; 3 rounds,
 * 2 with --quick) and every figure is the median over rounds: on a shared machine the background
 * load changes within seconds, and a baseline measured once at the start was not comparable.
 * Run: `npx tsx bench/registration.ts [--quick] [--json] [--only ha|proxy] [--rounds N] [--profile DIR]`
 * (`--only proxy` leaves out the HA phase, not the HA: attaches are relayed to it; `--profile`
 * runs the daemons from source (readable names) under `node --cpu-prof` and leaves one .cpuprofile
 * per daemon in DIR, the HA's first).
 */
import { join } from 'node:path';
import { ADDR, haConfig, proxyConfig } from './sim-nodes';
import { buildBundle, startDaemon, startScript, runLoadgen, tempDir, control, median, Daemon } from './procs';
import type { LoadResult, Mode } from './loadgen';

const GOAL_RATIO = 0.5;

export async function benchRegistration(opts: { quick: boolean; profileDir?: string; only?: string; rounds?: number }): Promise<Record<string, number | string>> {
  const nodes = opts.quick ? 500 : 4000;
  const window = 64;
  // Rounds alternate baseline and roamd phases, so both see the same background load; each
  // figure is the median over rounds, each ratio the median of the per-round ratios.
  const rounds = opts.rounds ?? (opts.quick ? 2 : 3);
  const warmupMs = opts.quick ? 300 : 500;
  const durationMs = opts.quick ? 1000 : 2000;
  const port = 30000 + (process.pid % 20000);
  buildBundle();
  const { dir, cleanup } = tempDir('roamd-bench-reg-');
  const daemons: Daemon[] = [];
  const load = (mode: Mode, host: string, extra: Partial<{ minPasses: number }> = {}): Promise<LoadResult> =>
    runLoadgen({ mode, host, port, nodes, window, warmupMs, durationMs, ...extra });
  const echo = await startScript(join(__dirname, 'echo-server.ts'), [ADDR.echo, String(port)]);
  const scripts = [echo];
  try {
    const sock = (n: string) => join(dir, `${n}.sock`);
    const prof = { extraNode: opts.profileDir ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : [], fromSource: !!opts.profileDir };
    const ha = await startDaemon('ha', dir, haConfig(nodes, { port, socket: sock('ha') }), sock('ha'), prof);
    daemons.push(ha);
    let proxy: Daemon | undefined;
    if (opts.only !== 'ha') {
      proxy = await startDaemon('proxy', dir, proxyConfig(nodes, { port, socket: sock('proxy') }), sock('proxy'), prof);
      daemons.push(proxy);
      scripts.push(await startScript(join(__dirname, 'relay-server.ts'), [ADDR.relay, String(port), ADDR.echo, String(port)]));
    }
    const res: Record<string, LoadResult[]> = { baseline: [], ha: [], relay: [], proxy_attach: [], proxy_move: [] };
    for (let r = 0; r < rounds; r++) {
      res.baseline!.push(await load('echo', ADDR.echo));
      if (opts.only !== 'proxy') res.ha!.push(await load('ha', ADDR.ha));
      if (proxy) {
        res.relay!.push(await load('echo', ADDR.relay));
        // The first attach round binds every node (the moves need an outer address).
        res.proxy_attach!.push(await load('proxy-attach', ADDR.proxyOutside, r === 0 ? { minPasses: 1 } : {}));
        res.proxy_move!.push(await load('proxy-move', ADDR.proxyOutside));
      }
    }
    const base = res.baseline!, relay = res.relay!;
    const out: Record<string, number | string> = { nodes, window, rounds, duration_s: durationMs / 1000 };
    for (const [name, rs] of Object.entries(res)) {
      if (rs.length === 0) continue;
      out[`${name}_rps`] = median(rs.map((x) => x.rps));
      if (name !== 'baseline') {
        const ratios = rs.map((x, i) => ratio(x.rps, base[i]!.rps));
        out[`${name}_ratio`] = median(ratios);
        out[`${name}_ratio_range`] = `${Math.min(...ratios)}-${Math.max(...ratios)}`;
      }
      if (name === 'proxy_attach') {
        const ratios = rs.map((x, i) => ratio(x.rps, relay[i]!.rps));
        out.proxy_attach_vs_relay_ratio = median(ratios);
        out.proxy_attach_vs_relay_ratio_range = `${Math.min(...ratios)}-${Math.max(...ratios)}`;
      }
      out[`${name}_p50_us`] = median(rs.map((x) => x.p50_us));
      out[`${name}_p99_us`] = median(rs.map((x) => x.p99_us));
      if (name !== 'baseline' && name !== 'relay') out[`${name}_accepted_share`] = share(rs);
    }
    if (proxy) {
      const st = await control(proxy.socket, { cmd: 'status' }) as Record<string, unknown>;
      out.proxy_nodes_bound = Number((st.nodes ?? st.bindings ?? NaN) as number);
    }
    // One verdict per figure: the HA passing must not hide the proxy failing, nor the reverse.
    out.ratio_goal = ['ha', 'proxy_move', 'proxy_attach'].filter((k) => `${k}_ratio` in out)
      .map((k) => `${k.replace('_', ' ')} ${(out[`${k}_ratio`] as number) >= GOAL_RATIO ? 'pass' : 'FAIL'}`).join(', ') + ` (goal >= ${GOAL_RATIO})`;
    out.note = `median of ${rounds} rounds, each baseline then roamd; daemons log at info to a file; loadgen, daemons and baselines share this machine`
      + (proxy ? '; proxy_attach_vs_relay_ratio: proxy attach against a bare two-process UDP relay (four datagrams per request, like the attach), information beside the goal' : '');
    return out;
  } finally {
    for (const s of scripts) s.kill('SIGTERM');
    for (const d of daemons.reverse()) await d.stop();
    cleanup();
  }
}

function ratio(a: number, b: number): number {
  return +(a / b).toFixed(3);
}

/** Share of replies that were accepted (code 0 or 1): a bench that measures denials is worthless. */
function share(rs: LoadResult[]): number {
  let ok = 0, all = 0;
  for (const r of rs) {
    ok += (r.codes['0'] ?? 0) + (r.codes['1'] ?? 0);
    all += r.replies;
  }
  return all ? +(ok / all).toFixed(4) : 0;
}

if (require.main === module) {
  const argv = process.argv;
  const pi = argv.indexOf('--profile');
  const oi = argv.indexOf('--only');
  const ri = argv.indexOf('--rounds');
  benchRegistration({ quick: argv.includes('--quick'), profileDir: pi > 0 ? argv[pi + 1] : undefined, only: oi > 0 ? argv[oi + 1] : undefined,
    rounds: ri > 0 ? Number(argv[ri + 1]) : undefined }).then((res) => {
    if (argv.includes('--json')) return console.log(JSON.stringify(res));
    const w = Math.max(...Object.keys(res).map((k) => k.length));
    for (const [k, v] of Object.entries(res)) console.log(`${k.padEnd(w)}  ${v}`);
  }, (e) => { console.error(e); process.exit(1); });
}
