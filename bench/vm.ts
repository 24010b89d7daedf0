/**
 * The VM lane's benchmarks (issues 7 and 8): boots Debian's kernel under qemu (test/vm/guest.ts)
 * and runs bench/vm-guest.ts inside it, bundled on the host: the handoff comparison with 20 ms of
 * netem delay on the node's access links (roamd on the kernel data plane vs strongSwan MOBIKE vs
 * VPN re-establishment, strongSwan on xfrm), and iperf3 throughput through the proxy with the kernel
 * data plane vs the userspace data plane. Every ratio is between figures of the same guest run.
 * Without root, qemu or the Debian kernel every figure says why it was not measured.
 * Run (root): `npx tsx bench/vm.ts [--quick|--smoke] [--json]`.
 */
import { isRoot, buildBundle, NEEDS_ROOT, benchMain } from './netns-lab';
import { runInGuest, vmAvailable, GUEST_MODULES } from '../test/vm/guest';
import { bundleForGuest } from '../test/vm/guest-bundle';

export async function benchVm(opts: { quick: boolean; smoke: boolean; log: (s: string) => void }): Promise<Record<string, number | string>> {
  if (!isRoot()) return { vm: NEEDS_ROOT };
  const av = vmAvailable();
  if (!av.ok) return { vm: `not measured (${av.why})` };
  buildBundle();
  const b = bundleForGuest(['bench/vm-guest.ts', 'test/e2e/probe.ts']);
  try {
    const flags = opts.smoke ? '--smoke' : opts.quick ? '--quick' : '';
    const r = await runInGuest({
      script: `modprobe -a ${GUEST_MODULES} 2>&1 | grep -v 'not found' | head -5\ncd "$ROAMD_ROOT"\nnode "${b.files['bench/vm-guest.ts']}" --json ${flags} > "$VM_SHARE/vm.json"\n`,
      timeoutMs: 1_500_000, memoryMb: 3072, env: { ...b.env, ROAMD_E2E_PREBUILT: '1' },
    });
    for (const l of r.output.split('\n').filter(Boolean)) opts.log(`guest: ${l}`);
    const last = (r.files['vm.json'] ?? '').trim().split('\n').pop() ?? '';
    if (r.exitCode !== 0 || !last) throw new Error(`the guest bench failed (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}):\n${r.output.slice(-3000)}`);
    return { ...JSON.parse(last), guest_kernel: av.version, accel: r.accel, guest_seconds: +(r.totalMs / 1000).toFixed(1) };
  } finally {
    b.remove();
  }
}

if (require.main === module) {
  const smoke = process.argv.includes('--smoke'), quick = smoke || process.argv.includes('--quick');
  benchMain('vm', (log) => benchVm({ quick, smoke, log }));
}
