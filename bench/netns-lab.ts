/**
 * Shared pieces of the benches that run in the netns e2e world (bench/handoff.ts,
 * bench/dataplane.ts): the root check, teardown on every exit path, the UDP probe (re-exported from
 * test/e2e/udp-probe.ts), and strongSwan control for the baselines without roamd.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { World, ADDR, ROOT, waitFor } from '../test/e2e/world';
import { sh } from '../test/e2e/netns';

export { PROBE, probe, UdpProbe } from '../test/e2e/udp-probe';
export const NEEDS_ROOT = 'not measured (needs root)';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Builds the bundle the World's daemons run (same as the e2e lane; the VM lane builds it on the host: ROAMD_E2E_PREBUILT=1). */
export function buildBundle(): void {
  if (process.env.ROAMD_E2E_PREBUILT === '1') return;
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { stdio: 'pipe' });
}

/** The world in use, torn down on exit, SIGINT/SIGTERM (spawnSync's timeout) and on failure. */
let current: World | null = null;
export function track(w: World | null): void {
  current = w;
}
function cleanup(): void {
  if (current) {
    const w = current;
    current = null;
    try {
      w.teardown();
    } catch {
      /* best effort: namespaces are swept by the next World anyway */
    }
  }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => {
  cleanup();
  process.exit(sig === 'SIGINT' ? 130 : 143);
});

/** swanctl against one of the World's charons. */
export function swanctl(w: World, who: 'gw' | 'mn', ...args: string[]): string {
  return sh('swanctl', [...args, '--uri', w.vici(who)], { ns: w.ns[who], allowFail: true });
}

/**
 * The node as a plain VPN client without roamd: its home address is the VPN's inner address
 * (a fixed traffic selector, the address on lo), the IKE SA runs from whatever physical address it
 * has. The correspondent reaches the home address through the gateway by a host route (roamd's
 * HA does this with proxy ARP; nobody does it here).
 */
export function plainVpnNode(w: World): void {
  w.lab.ip(w.ns.mn!, 'addr', 'add', `${ADDR.home}/32`, 'dev', 'lo');
  w.lab.ip(w.ns.cn!, 'route', 'add', `${ADDR.home}/32`, 'via', ADDR.gwIn);
}

export async function initiateVpn(w: World): Promise<void> {
  const out = sh('swanctl', ['--initiate', '--child', 'net', '--timeout', '20', '--uri', w.vici('mn')], { ns: w.ns.mn, allowFail: true });
  await waitFor('VPN CHILD SA installed', async () => !!w.sa('mn')?.children.some((c) => c.state === 'INSTALLED'), 20_000).catch(() => {
    throw new Error(`swanctl --initiate failed:\n${out}`);
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * A netns bench run as a script: progress lines on stdout (stderr with --json), then the figures —
 * one JSON line with --json, else a line per figure; exit 1 with the stack when it fails.
 */
export function benchMain(name: string, run: (log: (s: string) => void) => Promise<Record<string, unknown>>): void {
  const json = process.argv.includes('--json');
  run((s) => (json ? console.error(s) : console.log(s))).then((res) => {
    if (json) console.log(JSON.stringify(res));
    else for (const [k, v] of Object.entries(res)) console.log(`${k.padEnd(32)} ${v}`);
    process.exit(0);
  }, (e) => {
    console.error(`${name} bench failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
