/**
 * Privileges (issue 9): what each role keeps (src/platform/privileges.ts), and the drop itself
 * (native/src/caps.c) in child processes — capabilities cannot be regained, so each scenario runs
 * in its own process (test/reliability/privileges-child.ts). Needs root (CAP_SETPCAP) and the
 * native addon; skipped otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { capabilityPlan, currentCapabilities } from '../../src/platform/privileges';
import { addonCandidates } from '../../src/dataplane/native';
import { tempDir } from '../util/daemon';

const caps = currentCapabilities();
const canDrop = !!caps && (caps.CapEff & (1n << 8n)) !== 0n && addonCandidates().some((p) => existsSync(p));

test('capability plan per role', () => {
  for (const role of ['ha', 'fa', 'proxy'] as const) {
    assert.equal(capabilityPlan(role, 'userspace', 434), { setup: ['CAP_NET_BIND_SERVICE', 'CAP_NET_ADMIN', 'CAP_NET_RAW'], keep: ['CAP_NET_ADMIN', 'CAP_NET_RAW'] });
    assert.equal(capabilityPlan(role, 'none', 434), { setup: ['CAP_NET_BIND_SERVICE'], keep: [] });
    assert.equal(capabilityPlan(role, 'none', 20434), { setup: [], keep: [] });
  }
  assert.equal(capabilityPlan('mn', 'userspace', 434), { setup: ['CAP_NET_ADMIN', 'CAP_NET_RAW'], keep: ['CAP_NET_ADMIN', 'CAP_NET_RAW'] });
});

function child(role: string, dataplane: string, port: number): Record<string, any> {
  const { dir, cleanup } = tempDir('roamd-priv-');
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, 'privileges-child.ts'), role, dataplane, String(port), dir], { encoding: 'utf8', timeout: 20_000 });
    return JSON.parse(out.trim().split('\n').pop()!);
  } finally {
    cleanup();
  }
}

const NET = (1n << 12n) | (1n << 13n);

test('ha with a data plane: keeps NET_ADMIN + NET_RAW in every thread; chown, mknod, low ports fail', () => {
  if (!canDrop) { console.log('skipped: needs root with CAP_SETPCAP and the native addon'); return; }
  const r = child('ha', 'userspace', 434);
  assert.not.ok(r.error, r.error);
  console.log(`figure: privileges ha/userspace CapPrm ${r.before.CapPrm} -> ${r.after.CapPrm}, CapBnd ${r.before.CapBnd} -> ${r.after.CapBnd}, threads=${r.result.threads} unreachable=${r.result.unreachable} ` +
    `raw=${r.rawSocket} bind<1024=${r.bindLowPort} chown=${r.chown} chown(threadpool)=${r.chownThreadPool} mknod=${r.mknodExec} exec'd child: ${r.execChildCaps}`);
  assert.is(r.result.outcome, 'dropped');
  for (const k of ['CapPrm', 'CapEff', 'CapBnd']) assert.is(BigInt(`0x${r.after[k]}`), NET & BigInt(`0x${r.before.CapPrm}`), k);
  assert.is(r.after.NoNewPrivs, 1);
  const dropped = r.threads.filter((t: string) => t === '0000000000003000/0000000000003000/0000000000003000/1').length;
  assert.is(dropped, r.threads.length - r.result.unreachable, 'every reachable thread dropped');
  assert.ok(r.result.unreachable <= 1, 'at most the inspector thread is unreachable');
  assert.ok(r.boundSocketReceives, 'the port bound before the drop still receives');
  assert.is(r.rawSocket, 'ok', 'a raw socket still opens (CAP_NET_RAW)');
  assert.is(r.bindLowPort, 'EACCES', 'CAP_NET_BIND_SERVICE gone');
  assert.is(r.chown, 'EPERM');
  assert.is(r.chownThreadPool, 'EPERM', 'the libuv thread pool dropped too');
  assert.is.not(r.mknodExec, 'ok', 'mknod (CAP_MKNOD) fails in an exec\'d child');
  assert.match(r.execChildCaps, /CapPrm: 0+ CapEff: 0+/, 'an exec\'d child gains nothing (NOROOT + no_new_privs)');
});

test('fa with dataplane none: keeps nothing; raw sockets fail too', () => {
  if (!canDrop) return;
  const r = child('fa', 'none', 434);
  assert.not.ok(r.error, r.error);
  console.log(`figure: privileges fa/none CapPrm ${r.before.CapPrm} -> ${r.after.CapPrm} raw=${r.rawSocket} chown=${r.chown}`);
  assert.is(r.after.CapPrm, '0');
  assert.is(r.after.CapBnd, '0');
  assert.is(r.rawSocket, 'EPERM');
  assert.ok(r.boundSocketReceives);
});

test.run();
