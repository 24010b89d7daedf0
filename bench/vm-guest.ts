/**
 * The VM lane's benchmarks, run inside the guest (bench/vm.ts boots it and bundles this file):
 * Debian's kernel, roamd's `kernel` data plane, strongSwan on xfrm.
 *  1. Handoff with netem (bench/handoff.ts unchanged): 20 ms each way on every access link of the
 *     node (WorldOptions.accessDelayMs), roamd make-before-break and break-before-make vs strongSwan
 *     MOBIKE vs VPN re-establishment, the same topology, the same run.
 *  2. Throughput through the proxy (bench/dataplane.ts roamdThroughput, no netem): iperf3 gw → the
 *     node's outer address and cn → home address (VPN + tunnel) with every daemon on the kernel
 *     plane, then on the userspace plane.
 * Prints one JSON object on its last stdout line with --json.
 */
import { benchHandoff } from './handoff';
import { roamdThroughput } from './dataplane';

export const NETEM_MS = 20;

async function main(): Promise<Record<string, number | string>> {
  const smoke = process.argv.includes('--smoke'), quick = smoke || process.argv.includes('--quick');
  const log = (s: string) => console.error(s);
  process.env.ROAMD_WORLD_IPSEC = 'xfrm';
  process.env.ROAMD_WORLD_DATAPLANE = 'kernel';
  process.env.ROAMD_WORLD_DELAY_MS = String(NETEM_MS);
  const t0 = Date.now();
  // TCG is slow (a world takes about a minute to build): few moves, so that `npm run bench` stays
  // under 10 minutes. Three moves per mode cover each kind of move once (hotspot → wired → NAT →
  // hotspot), so the modes are compared on the same moves; --quick/--smoke make one move per mode.
  const h = await benchHandoff({ moves: quick ? 1 : 3, log });
  const handoffS = (Date.now() - t0) / 1000;
  process.env.ROAMD_WORLD_DELAY_MS = '0';
  const T = smoke ? 2 : quick ? 3 : 5;
  const k = await roamdThroughput(T, { dataplane: 'kernel', ipsec: 'xfrm' }, (s) => log(`kernel plane: ${s}`));
  const u = await roamdThroughput(T, { dataplane: 'userspace', ipsec: 'xfrm' }, (s) => log(`userspace plane: ${s}`));
  const r = (a: number, b: number) => +(a / b).toFixed(3);
  return {
    netem_ms_each_way: NETEM_MS,
    netem_roamd_mbb_median_ms: h.roamd_mbb_median_ms!, netem_roamd_bbm_median_ms: h.roamd_bbm_median_ms!,
    netem_mobike_median_ms: h.mobike_median_ms!, netem_mobike_bbm_median_ms: h.mobike_bbm_median_ms!, netem_reestablish_median_ms: h.reestablish_median_ms!,
    netem_mbb_ratio: h.mbb_ratio!, netem_bbm_ratio: h.bbm_ratio!, netem_reestablish_ratio: h.reestablish_ratio!,
    netem_roamd_mbb_lost: h.roamd_mbb_lost!, netem_mobike_lost: h.mobike_lost!, netem_reestablish_lost: h.reestablish_lost!,
    netem_moves_per_mode: h.moves_per_mode!, netem_detail_mbb: h.detail_mbb!, netem_detail_bbm: h.detail_bbm!, netem_detail_mobike: h.detail_mobike!,
    netem_detail_mobike_bbm: h.detail_mobike_bbm!, netem_detail_reestablish: h.detail_reestablish!, handoff_seconds: +handoffS.toFixed(1),
    kernel_tunnel_mbps: k.tunnel, userspace_tunnel_mbps: u.tunnel, kernel_vs_userspace_tunnel: r(k.tunnel, u.tunnel),
    kernel_vpn_tunnel_mbps: k.vpnTunnel, userspace_vpn_tunnel_mbps: u.vpnTunnel, kernel_vs_userspace_vpn_tunnel: r(k.vpnTunnel, u.vpnTunnel),
    iperf_seconds: T,
  };
}

main().then((res) => {
  if (process.argv.includes('--json')) console.log(JSON.stringify(res));
  else for (const [k, v] of Object.entries(res)) console.log(`${k.padEnd(32)} ${v}`);
  process.exit(0);
}, (e) => {
  console.error(`vm bench (guest) failed: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
