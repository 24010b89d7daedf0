/**
 * VM lane: the e2e scenario of the namespaces lane (test/e2e/e2e.test.ts, unchanged) inside the
 * guest, with every roamd daemon on the `kernel` data plane and strongSwan on the kernel's xfrm
 * instead of kernel-libipsec: home → hotspot (foreign agent) → wired → kill -9 of proxy and HA →
 * NAT (RFC 3519 UDP: the userspace plane, as the issue says) → hotspot → home. The test file and the
 * probe are bundled on the host (test/vm/guest-bundle.ts) and run in the guest with
 * ROAMD_WORLD_DATAPLANE=kernel ROAMD_WORLD_IPSEC=xfrm; the figures come back through the share.
 * Checks here: every stage passed, the same IKE/CHILD SAs with zero IKE messages on every move
 * outside, all four daemons ran the kernel plane, and the kernel's IP-in-IP devices carried the
 * traffic.
 */
import { test } from 'uvu';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { runInGuest, vmAvailable, GuestResult, GUEST_MODULES } from './guest';
import { bundleForGuest, GuestBundles } from './guest-bundle';
import { buildBundle } from '../util/daemon';

const av = vmAvailable();

if (!av.ok) {
  test('e2e in the VM with the kernel data plane: skipped (no qemu or Debian kernel)', () => {
    console.log(`\n*** VM e2e SKIPPED: ${av.why}\n`);
  });
} else {
  let r: GuestResult | undefined;
  let b: GuestBundles | undefined;
  let figures: { options: Record<string, unknown>; results: Array<Record<string, any>>; dataplanes: Record<string, { mode: string; device: { rxPackets: number; txPackets: number } | null }> } | undefined;

  test.before(async () => {
    buildBundle();
    b = bundleForGuest(['test/e2e/e2e.test.ts', 'test/e2e/probe.ts']);
    const script = `
modprobe -a ${GUEST_MODULES} 2>&1 | grep -v 'not found' | head -5
cd "$ROAMD_ROOT"
export ROAMD_E2E_RESULTS="$VM_SHARE/e2e.json" ROAMD_E2E_LOGS="$VM_SHARE/logs"
node "${b.files['test/e2e/e2e.test.ts']}"
`;
    r = await runInGuest({
      script, timeoutMs: 1_200_000, memoryMb: 3072,
      env: { ...b.env, ROAMD_WORLD_DATAPLANE: 'kernel', ROAMD_WORLD_IPSEC: 'xfrm', ROAMD_E2E_PREBUILT: '1' },
    });
    if (r.exitCode !== 0) {
      // The daemons' and charon's logs from the guest, for a look afterwards.
      const keep = `/tmp/roamd-vm-e2e-logs-${process.pid}`;
      mkdirSync(keep, { recursive: true });
      for (const [name, text] of Object.entries(r.files)) if (name.startsWith('logs/')) writeFileSync(join(keep, name.slice(5)), text);
      writeFileSync(join(keep, 'output.txt'), r.output);
      console.log(`vm e2e: failed; the guest's logs are in ${keep}`);
    }
    const f = r.files['e2e.json'];
    figures = f ? JSON.parse(f) : undefined;
    console.log(`\nvm e2e (kernel data plane, xfrm): ${av.version} under ${r.accel}, boot ${(r.bootMs / 1000).toFixed(1)} s, total ${(r.totalMs / 1000).toFixed(1)} s, exit ${r.exitCode}${r.timedOut ? ' (timed out)' : ''}`);
    for (const x of figures?.results ?? []) console.log(`vm:   ${JSON.stringify(x)}`);
    if (figures) console.log(`vm:   data planes ${JSON.stringify(figures.dataplanes)}`);
  });

  test.after(() => b?.remove());

  test('the e2e lane passes in the guest: every stage', () => {
    const out = r?.output ?? '';
    const total = /Total:\s+(\d+)/.exec(out), passed = /Passed:\s+(\d+)/.exec(out);
    assert.ok(total && passed, `no uvu summary from the guest:\n${out.slice(-4000)}\n--- console\n${r?.console.slice(-2000)}`);
    assert.is(Number(passed![1]), 6, `passed ${passed![1]} of 6:\n${out.slice(-6000)}`);
    assert.is(Number(total![1]), 6);
    assert.is(r!.exitCode, 0, out.slice(-3000));
  });

  test('same IKE and CHILD SAs, zero IKE messages on every move outside home', () => {
    const moves = figures?.results.filter((x) => x.to !== 'home' && x.to !== 'restart proxy+ha') ?? [];
    assert.is(moves.length, 4, JSON.stringify(figures?.results));
    const ike = new Set(moves.map((x) => x.ike)), child = new Set(moves.map((x) => x.child));
    assert.is(ike.size, 1, `IKE SAs ${[...ike]}`);
    assert.is(child.size, 1, `CHILD SAs ${[...child]}`);
    for (const x of moves.slice(1)) assert.is(x.ikeMessages, 0, `IKE messages on the move to ${x.to}`);
    for (const x of moves) assert.is(x.newConnection, 'ok');
  });

  test('every daemon ran the kernel data plane and its IP-in-IP device carried traffic', () => {
    const d = figures?.dataplanes ?? {};
    for (const name of ['ha', 'proxy', 'fa', 'mn']) {
      assert.is(d[name]?.mode, 'kernel', `${name}: ${JSON.stringify(d[name])}`);
    }
    // The bulk transfers alone are 2 MiB per foreign stage: thousands of packets through the proxy's and the node's devices.
    for (const name of ['proxy', 'mn']) {
      const dev = d[name]!.device!;
      assert.ok(dev && dev.rxPackets + dev.txPackets > 1000, `${name} roamd-ipip: ${JSON.stringify(dev)}`);
    }
  });
}

test.run();
