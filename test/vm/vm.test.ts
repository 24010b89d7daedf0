/**
 * VM lane: boots Debian's kernel under qemu (test/vm/guest.ts) once and checks, inside the guest,
 * the kernel data plane's prerequisites this host's kernel lacks: modules load, an ipip device in
 * external (collect_md) mode, pings through it with lightweight-tunnel `encap ip` routes between two
 * namespaces, ESP through xfrm, netem delay, and node + the roamd bundle running from the host root.
 * Without qemu or a Debian kernel the lane prints why and passes one test that says so.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { runInGuest, vmAvailable, GuestResult } from './guest';
import { buildBundle } from '../util/daemon';

const CHECKS = ['modules', 'kernel', 'veth-netns', 'ipip-external', 'ipip-lwtunnel', 'xfrm-esp', 'netem-delay', 'node-version', 'roamd-decode'];
const av = vmAvailable();
const bundle = join(__dirname, '..', '..', 'dist', 'roamd.js');

if (!av.ok) {
  test('vm lane skipped: qemu or the Debian kernel is not installed', () => {
    console.log(`\n*** VM lane SKIPPED: ${av.why}`);
    console.log('*** install qemu-system-x86 linux-image-amd64 busybox-static to run it (CI does)\n');
  });
} else {
  let result: GuestResult | undefined;
  const checks = new Map<string, { ok: boolean; detail: string }>();

  test.before(async () => {
    buildBundle(); // the guest runs the bundle from the host root: build it, as the other lanes do
    if (!existsSync(bundle)) throw new Error(`${bundle} missing after the build`);
    result = await runInGuest({ script: readFileSync(join(__dirname, 'prereq.sh'), 'utf8'), timeoutMs: 150_000 });
    for (const line of (result.files['checks.txt'] ?? '').split('\n')) {
      const m = /^CHECK (\S+) (ok|fail) ?(.*)$/.exec(line);
      if (m) checks.set(m[1]!, { ok: m[2] === 'ok', detail: m[3]! });
    }
    console.log(`\nvm: ${av.version} under ${result.accel}: boot ${(result.bootMs / 1000).toFixed(1)} s, total ${(result.totalMs / 1000).toFixed(1)} s, script exit ${result.exitCode}${result.timedOut ? ' (TIMED OUT)' : ''}`);
    for (const [name, c] of checks) console.log(`vm:   ${c.ok ? 'ok  ' : 'FAIL'} ${name}: ${c.detail.slice(0, 160)}`);
  });

  test('guest boots, runs the script and powers off', () => {
    const r = result!;
    assert.not.ok(r.timedOut, `guest timed out; console tail:\n${r.console.slice(-3000)}`);
    assert.ok(r.bootMs > 0, `script never started; console tail:\n${r.console.slice(-3000)}`);
    assert.ok(checks.size > 0, `no checks.txt from the guest; output:\n${r.output.slice(-3000)}\nconsole tail:\n${r.console.slice(-2000)}`);
  });

  for (const name of CHECKS) {
    test(`guest: ${name}`, () => {
      const c = checks.get(name);
      assert.ok(c, `check ${name} did not run; output tail:\n${result?.output.slice(-2000) ?? ''}`);
      assert.ok(c!.ok, `${name} failed: ${c!.detail}`);
    });
  }

  test('guest: script exit 0 and the bundle decodes in the guest', () => {
    assert.is(result!.exitCode, 0, result!.output.slice(-2000));
    assert.match(checks.get('roamd-decode')?.detail ?? '', /agent-solicitation/);
    assert.match(checks.get('kernel')?.detail ?? '', av.version);
  });
}

test.run();
