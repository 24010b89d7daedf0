/**
 * `npm run bench [-- --quick]`: runs every benchmark in its own process (so heap figures are not
 * polluted by the others), prints each figure with its baseline and ratio, and writes
 * bench/results.json with the machine description and date (not on --quick). Every figure is a
 * ratio against a baseline measured in the same run: these machines are noisy.
 *
 * Contract for a bench: a file in bench/ that prints one JSON object on its last stdout line when
 * given `--json` (and a shorter run with `--quick`; `--smoke` is shorter still where it matters),
 * registered in BENCHES with the rows of the summary table it feeds. Benches that need root print
 * "not measured (needs root)" as their figures instead of failing the suite. Benches that need lanes not built yet are listed in PENDING and printed
 * as "not yet measured" so the table stays honest.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem, release, loadavg } from 'node:os';
import { join } from 'node:path';

/** A summary row: figure, roamd value key, baseline key (or a fixed goal), ratio key, goal key. */
interface Row { figure: string; value: string; baseline?: string; ratio?: string; goal?: string; unit?: string }
interface Bench {
  name: string; file: string; node: string[]; rows: Row[];
  /** Minutes before the bench is killed (default 8). */
  timeoutMin?: number;
  /** Left out of --smoke: a lane of `npm test` runs it itself (the VM lane: test/vm/bench-vm.test.ts). */
  smokeInLane?: string;
}

export const BENCHES: Bench[] = [
  { name: 'registration', file: 'registration.ts', node: [], rows: [
    { figure: 'HA registrations/s', value: 'ha_rps', baseline: 'baseline_rps', ratio: 'ha_ratio', goal: 'ratio_goal' },
    { figure: 'HA latency p50 (µs)', value: 'ha_p50_us', baseline: 'baseline_p50_us' },
    { figure: 'HA latency p99 (µs)', value: 'ha_p99_us', baseline: 'baseline_p99_us' },
    { figure: 'proxy attach (relayed to HA)/s', value: 'proxy_attach_rps', baseline: 'baseline_rps', ratio: 'proxy_attach_ratio' },
    { figure: 'proxy attach p50 / p99 (µs)', value: 'proxy_attach_p50_us', baseline: 'proxy_attach_p99_us' },
    { figure: 'proxy attach vs bare UDP relay (two processes, four datagrams)/s', value: 'proxy_attach_rps', baseline: 'relay_rps', ratio: 'proxy_attach_vs_relay_ratio' },
    { figure: 'proxy move (proxy alone)/s', value: 'proxy_move_rps', baseline: 'baseline_rps', ratio: 'proxy_move_ratio' },
    { figure: 'proxy move p50 / p99 (µs)', value: 'proxy_move_p50_us', baseline: 'proxy_move_p99_us' },
  ] },
  { name: 'footprint', file: 'footprint.ts', node: [], rows: [
    { figure: 'bundle bytes (goal 200 KiB)', value: 'bundle_bytes', baseline: 'bundle_goal_bytes', ratio: 'bundle_ratio', goal: 'bundle_goal' },
    { figure: 'start-up to control socket (ms)', value: 'startup_control_ms', baseline: 'bare_node_startup_ms', ratio: 'startup_ratio' },
    { figure: 'idle RSS ha (MB)', value: 'idle_rss_ha_mb', baseline: 'bare_node_idle_rss_mb', ratio: 'idle_rss_ha_ratio' },
    { figure: 'idle RSS proxy / fa / mn (MB)', value: 'idle_rss_proxy_mb', baseline: 'idle_rss_fa_mb', ratio: 'idle_rss_mn_mb' },
    { figure: 'RSS full router-128m tables (MB, goal 60)', value: 'rss_full_mb', baseline: 'rss_before_tables_mb', ratio: 'rss_full_ratio_to_goal', goal: 'rss_full_goal' },
  ] },
  { name: 'tables', file: 'tables.ts', node: ['--expose-gc'], rows: [
    { figure: 'bytes per binding @100k', value: 'roamd_bytes_per_binding', baseline: 'map_bytes_per_binding', ratio: 'bytes_ratio', goal: 'ratio_goal' },
    { figure: 'lookups/s', value: 'roamd_lookups_per_s', baseline: 'map_lookups_per_s', ratio: 'lookup_ratio', goal: 'lookup_goal' },
  ] },
  // Netns benches (root): without root every figure reads "not measured (needs root)".
  { name: 'handoff', file: 'handoff.ts', node: [], rows: [
    { figure: 'handoff median (ms): roamd make-before-break vs MOBIKE', value: 'roamd_mbb_median_ms', baseline: 'mobike_median_ms', ratio: 'mbb_ratio', goal: 'ratio_goal' },
    { figure: 'handoff excess over steady jitter (ms): roamd make-before-break vs MOBIKE', value: 'roamd_mbb_excess_ms', baseline: 'mobike_excess_ms', ratio: 'mbb_excess_ratio' },
    { figure: 'handoff median (ms): roamd break-before-make vs MOBIKE break-before-make', value: 'roamd_bbm_median_ms', baseline: 'mobike_bbm_median_ms', ratio: 'bbm_ratio', goal: 'bbm_goal' },
    { figure: 'handoff median (ms): roamd make-before-break vs VPN re-establishment', value: 'roamd_mbb_median_ms', baseline: 'reestablish_median_ms', ratio: 'reestablish_ratio' },
    { figure: 'handoff max (ms): roamd make-before-break / MOBIKE', value: 'roamd_mbb_max_ms', baseline: 'mobike_max_ms' },
    { figure: 'handoff max (ms): roamd break-before-make / MOBIKE break-before-make', value: 'roamd_bbm_max_ms', baseline: 'mobike_bbm_max_ms' },
    { figure: 'probes lost: roamd make-before-break / MOBIKE (goal 0)', value: 'roamd_mbb_lost', baseline: 'mobike_lost', goal: 'mbb_zero_loss' },
    { figure: 'probes lost: roamd break-before-make / MOBIKE break-before-make', value: 'roamd_bbm_lost', baseline: 'mobike_bbm_lost' },
    { figure: 'probes lost: VPN re-establishment; moves per mode', value: 'reestablish_lost', baseline: 'moves_per_mode' },
  ] },
  { name: 'dataplane', file: 'dataplane.ts', node: [], rows: [
    { figure: 'TCP Mbit/s: roamd tunnel alone vs libipsec alone', value: 'tunnel_mbps', baseline: 'libipsec_mbps', ratio: 'tunnel_vs_libipsec', goal: 'ratio_goal' },
    { figure: 'TCP Mbit/s: VPN + roamd tunnel vs libipsec alone', value: 'vpn_tunnel_mbps', baseline: 'libipsec_mbps', ratio: 'vpn_tunnel_vs_libipsec' },
    { figure: 'TCP Mbit/s: roamd tunnel alone vs direct veth path', value: 'tunnel_mbps', baseline: 'direct_mbps', ratio: 'tunnel_vs_direct' },
    { figure: 'TCP Mbit/s: libipsec alone vs direct veth path', value: 'libipsec_mbps', baseline: 'direct_mbps', ratio: 'libipsec_vs_direct' },
  ] },
  // VM lane (root, qemu, Debian's kernel): netem handoff and kernel vs userspace data plane, in the guest.
  { name: 'vm', file: 'vm.ts', node: [], timeoutMin: 30, smokeInLane: 'vm', rows: [
    { figure: 'VM, netem 20 ms: handoff median (ms) roamd make-before-break vs MOBIKE', value: 'netem_roamd_mbb_median_ms', baseline: 'netem_mobike_median_ms', ratio: 'netem_mbb_ratio' },
    { figure: 'VM, netem 20 ms: handoff median (ms) roamd break-before-make vs MOBIKE break-before-make', value: 'netem_roamd_bbm_median_ms', baseline: 'netem_mobike_bbm_median_ms', ratio: 'netem_bbm_ratio' },
    { figure: 'VM, netem 20 ms: handoff median (ms) roamd make-before-break vs VPN re-establishment', value: 'netem_roamd_mbb_median_ms', baseline: 'netem_reestablish_median_ms', ratio: 'netem_reestablish_ratio' },
    { figure: 'VM, netem 20 ms: probes lost roamd make-before-break / MOBIKE', value: 'netem_roamd_mbb_lost', baseline: 'netem_mobike_lost' },
    { figure: 'VM: TCP Mbit/s through the proxy, kernel vs userspace data plane', value: 'kernel_tunnel_mbps', baseline: 'userspace_tunnel_mbps', ratio: 'kernel_vs_userspace_tunnel' },
    { figure: 'VM: TCP Mbit/s VPN (xfrm) + tunnel, kernel vs userspace data plane', value: 'kernel_vpn_tunnel_mbps', baseline: 'userspace_vpn_tunnel_mbps', ratio: 'kernel_vs_userspace_vpn_tunnel' },
  ] },
];

/** Issue 8 figures whose lanes are not built yet (none left: the netns benches need root, see BENCHES). */
export const PENDING: Array<{ name: string; why: string }> = [];

function main(): void {
  // --smoke: --quick, with the netns benches (handoff, dataplane) at their shortest (the unit test).
  const smoke = process.argv.includes('--smoke');
  const quick = smoke || process.argv.includes('--quick');
  const results: Record<string, Record<string, unknown>> = {};
  const skipped: string[] = [];
  let failed = 0;
  for (const b of BENCHES) {
    if (smoke && b.smokeInLane) {
      console.log(`\n== ${b.name}: left out of --smoke (the ${b.smokeInLane} lane of npm test runs it)`);
      skipped.push(b.name);
      continue;
    }
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [...b.node, '--import', 'tsx', join(__dirname, b.file), '--json', ...(quick ? ['--quick'] : []), ...(smoke ? ['--smoke'] : [])],
      { encoding: 'utf8', timeout: (b.timeoutMin ?? 8) * 60_000 });
    const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
    try {
      const res = JSON.parse(last) as Record<string, unknown>;
      results[b.name] = res;
      console.log(`\n== ${b.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      const w = Math.max(...Object.keys(res).map((k) => k.length));
      for (const [k, v] of Object.entries(res)) console.log(`${k.padEnd(w)}  ${String(v)}`);
    } catch {
      failed++;
      console.error(`bench ${b.name} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}):\n${r.stderr}`);
    }
  }
  console.log('\n' + summaryTable(results, skipped).join('\n'));
  const out = {
    date: new Date().toISOString(),
    quick,
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version,
      loadavg1AtEnd: +loadavg()[0]!.toFixed(2) },
    results,
    notYetMeasured: PENDING,
  };
  if (!quick) writeFileSync(join(__dirname, 'results.json'), JSON.stringify(out, null, 2) + '\n');
  process.exit(failed ? 1 : 0);
}

/** Markdown table: figure | roamd | baseline | ratio | goal (docs/performance.md uses the same). */
export function summaryTable(results: Record<string, Record<string, unknown>>, skipped: string[] = []): string[] {
  const lines = ['| figure | roamd | baseline | ratio | goal |', '|---|---|---|---|---|'];
  const f = (v: unknown) => (v === undefined ? '—' : String(v));
  for (const b of BENCHES) {
    const res = results[b.name];
    if (skipped.includes(b.name)) {
      lines.push(`| ${b.name} (${b.rows.length} figures) | left out of --smoke | | | the ${b.smokeInLane} lane of npm test runs it |`);
      continue;
    }
    for (const row of b.rows) {
      if (!res) { lines.push(`| ${row.figure} | failed | | | |`); continue; }
      lines.push(`| ${row.figure} | ${f(res[row.value])} | ${row.baseline ? f(res[row.baseline]) : ''} | ${row.ratio ? f(res[row.ratio]) : ''} | ${row.goal ? f(res[row.goal]) : ''} |`);
    }
  }
  for (const p of PENDING) lines.push(`| ${p.name} | not yet measured | | | ${p.why} |`);
  return lines;
}

if (require.main === module) main();
