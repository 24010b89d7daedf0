/**
 * Userspace data plane throughput (issue 8): TCP throughput with iperf3 toward the node, in the
 * e2e world (test/e2e/world.ts), one stream, cn/gw → node:
 *  - VPN + roamd tunnel: cn → home address with the node at the wired stage: ESP (strongSwan
 *    kernel-libipsec on gw and mn) inside roamd's IP-in-IP tunnel (HA, proxy and node all in
 *    userspace: cn → HA's TUN → gw → proxy's TUN → node's TUN → node's libipsec);
 *  - roamd tunnel alone: gw → the node's invariant outer address (no IPsec: gw → proxy's TUN →
 *    IP-in-IP → node's TUN);
 *  - strongSwan libipsec alone, without roamd: cn → home address, the node's IKE/ESP SA on its
 *    physical wired address (userspace ESP on both ends, gw → node routed directly);
 *  - direct: gw → the node's wired address, plain IP on the same veths and routers as the ESP of
 *    the libipsec case.
 * The goal (≥ 1×) compares the tunnel alone with libipsec alone: both are one userspace hop at each
 * end of the same kind of path.
 * Run (root): `npx tsx bench/dataplane.ts [--quick|--smoke] [--json]` (10 s per iperf3 run; 2 s; 1 s).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { World, WorldOptions, ADDR, waitFor } from '../test/e2e/world';
import { ipToString } from '../src/platform/address';
import { NEEDS_ROOT, isRoot, buildBundle, track, plainVpnNode, initiateVpn, benchMain } from './netns-lab';

const KEYS = ['vpn_tunnel_mbps', 'tunnel_mbps', 'libipsec_mbps', 'direct_mbps', 'tunnel_vs_libipsec', 'vpn_tunnel_vs_libipsec',
  'tunnel_vs_direct', 'libipsec_vs_direct', 'ratio_goal', 'seconds_per_run'] as const;

/** One iperf3 run from namespace `ns` to `host` (a server runs on the node); Mbit/s received. */
function iperf(ns: string, host: string, seconds: number): number {
  const out = execFileSync('ip', ['netns', 'exec', ns, 'iperf3', '-c', host, '-p', '5201', '-t', String(seconds), '-J', '--connect-timeout', '5000'],
    { encoding: 'utf8', timeout: (seconds + 20) * 1000 });
  const j = JSON.parse(out) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
  const bps = j.end?.sum_received?.bits_per_second;
  if (!bps) throw new Error(`iperf3 to ${host}: ${j.error ?? out.slice(0, 500)}`);
  return +(bps / 1e6).toFixed(1);
}

function iperfServer(w: World): void {
  w.lab.spawn(w.ns.mn!, 'iperf3', ['-s', '-p', '5201']);
}

/** iperf3 from Debian through scripts/ensure-deps.mjs (apt as root) when it is missing. */
function ensureIperf3(): string | null {
  if (existsSync('/usr/bin/iperf3')) return null;
  const deps = join(__dirname, '..', 'scripts', 'ensure-deps.mjs');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { ensureDebianPackages } from ${JSON.stringify(deps)}; process.exit(ensureDebianPackages(['iperf3']).length ? 1 : 0);`], { stdio: ['ignore', 'inherit', 'inherit'] });
  return r.status === 0 && existsSync('/usr/bin/iperf3') ? null : 'not measured (iperf3 missing: apt-get install iperf3)';
}

/**
 * roamd's tunnel, the node at the wired stage (co-located care-of address, IP-in-IP) with the VPN
 * up: iperf3 cn → home address (VPN + tunnel) and gw → the node's outer address (the tunnel
 * through the proxy alone). `options` pick the data plane and IPsec (the VM lane compares kernel
 * and userspace planes with it).
 */
export async function roamdThroughput(T: number, options: WorldOptions, log: (s: string) => void): Promise<{ vpnTunnel: number; tunnel: number }> {
  let vpnTunnel = NaN, tunnel = NaN;
  const w = new World(undefined, options);
  track(w);
  try {
    await w.start();
    w.move('wired');
    let outer = '';
    let last: unknown;
    await waitFor('node registered at wired with the VPN up', async () => {
      const st = (await w.call('mn', { cmd: 'status' })).dataplaneState;
      last = st;
      if (!st || st.location !== 'foreign' || st.vpn !== 'up' || st.tunnel === 'none' || st.ifname !== 'wired0') return false;
      outer = ipToString(st.outerAddress);
      return outer !== '0.0.0.0';
    }, 30_000).catch((e: Error) => {
      throw new Error(`${e.message}: last status ${JSON.stringify(last)}\n${w.daemon('mn').log.slice(-3000)}`);
    });
    await waitFor('VPN SA installed', async () => !!w.sa('mn')?.children.some((c) => c.state === 'INSTALLED'), 30_000);
    iperfServer(w);
    await new Promise((r) => setTimeout(r, 500));
    try {
      vpnTunnel = iperf(w.ns.cn!, ADDR.home, T);
    } catch (e) {
      // What the path looked like when it failed: the neighbour cache on the home link and the daemons' last words.
      const neigh = spawnSync('ip', ['netns', 'exec', w.ns.cn!, 'ip', 'neigh'], { encoding: 'utf8' }).stdout;
      console.error(`cn neighbours:\n${neigh}`);
      for (const d of w.daemons) console.error(`--- ${d.name}\n${d.log.split('\n').filter((l) => !l.includes(' debug ')).slice(-12).join('\n')}`);
      throw e;
    }
    log(`VPN + roamd tunnel, cn → ${ADDR.home}: ${vpnTunnel} Mbit/s`);
    tunnel = iperf(w.ns.gw!, outer, T);
    log(`roamd tunnel alone, gw → outer ${outer}: ${tunnel} Mbit/s`);
  } finally {
    w.teardown();
    track(null);
  }
  return { vpnTunnel, tunnel };
}

export async function benchDataplane(opts: { seconds: number; log: (s: string) => void }): Promise<Record<string, number | string>> {
  if (!isRoot()) return Object.fromEntries(KEYS.map((k) => [k, NEEDS_ROOT]));
  const missing = ensureIperf3();
  if (missing) return Object.fromEntries(KEYS.map((k) => [k, missing]));
  buildBundle();
  const T = opts.seconds;
  const { vpnTunnel, tunnel } = await roamdThroughput(T, {}, opts.log);
  let libipsec = NaN, direct = NaN;

  // Without roamd: the node on the wired subnet, first plain, then a strongSwan SA on that address.
  const w = new World();
  track(w);
  try {
    w.build();
    w.move('wired');
    iperfServer(w);
    await new Promise((r) => setTimeout(r, 500));
    direct = iperf(w.ns.gw!, ADDR.wiredMn, T);
    opts.log(`direct, gw → ${ADDR.wiredMn}: ${direct} Mbit/s`);
    plainVpnNode(w);
    w.startStrongswan();
    await w.loadStrongswan();
    await initiateVpn(w);
    libipsec = iperf(w.ns.cn!, ADDR.home, T);
    opts.log(`strongSwan libipsec alone, cn → ${ADDR.home}: ${libipsec} Mbit/s`);
  } finally {
    w.teardown();
    track(null);
  }

  const r = (a: number, b: number) => +(a / b).toFixed(3);
  return {
    vpn_tunnel_mbps: vpnTunnel, tunnel_mbps: tunnel, libipsec_mbps: libipsec, direct_mbps: direct,
    tunnel_vs_libipsec: r(tunnel, libipsec), vpn_tunnel_vs_libipsec: r(vpnTunnel, libipsec),
    tunnel_vs_direct: r(tunnel, direct), libipsec_vs_direct: r(libipsec, direct),
    ratio_goal: '≥ 1 (tunnel / libipsec)', seconds_per_run: T,
  };
}

if (require.main === module) {
  const seconds = process.argv.includes('--smoke') ? 1 : process.argv.includes('--quick') ? 2 : 10;
  if (!isRoot()) console.error('dataplane: not measured: needs root (network namespaces, TUN, strongSwan, iperf3)');
  benchMain('dataplane', (log) => benchDataplane({ seconds, log }));
}
