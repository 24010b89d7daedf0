/**
 * The hotplug script (/etc/hotplug.d/iface/30-roamd) run as netifd runs it — ACTION, INTERFACE,
 * DEVICE in the environment — against a running foreign agent: ifup makes the agent re-advertise
 * at once on that interface, ifdown stops it there. `ubus` is faked (Debian has none) with what
 * netifd answers for `network.interface.NAME status`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBundle, startDaemon, tempDir, ROOT, RunningDaemon, sleep } from '../util/daemon';

const SCRIPT = join(ROOT, 'openwrt', 'files', 'roamd.hotplug');
const { dir, cleanup } = tempDir('roamd-hotplug-');
let fa: RunningDaemon;

test.before(async () => {
  buildBundle();
  fa = await startDaemon('fa', dir, `config roamd 'main'
	option role 'fa'
	option port '${20000 + ((process.pid + 13) % 20000)}'
	option control_socket '${join(dir, 'fa.sock')}'
	option profile 'router-128m'
	option log_level 'debug'
config foreign_agent
	option advertise_interval '600'
config interface
	option ifname 'wlan0'
	option address '127.0.0.10/8'
`, join(dir, 'fa.sock'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'ubus'), `#!/bin/sh
# fake ubus: network.interface.hotspot status
echo '{"up": true, "l3_device": "wlan0", "device": "wlan0", "ipv4-address": [{"address": "127.0.0.10", "mask": 8}], "route": [{"target": "0.0.0.0", "mask": 0, "nexthop": "127.0.0.1"}]}'
`);
  chmodSync(join(bin, 'ubus'), 0o755);
});

test.after(async () => {
  await fa.stop();
  cleanup();
});

function hotplug(action: string): void {
  const r = spawnSync('sh', [SCRIPT], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, ACTION: action, INTERFACE: 'hotspot', DEVICE: 'wlan0', ROAMD_SOCKET: join(dir, 'fa.sock'), ROAMD_NODE: process.execPath },
  });
  assert.is(r.status, 0, r.stderr);
}

const advertisements = async () => ((await fa.call({ cmd: 'stats' })).icmp_unsupported ?? 0) as number;

test('ifup makes the foreign agent re-advertise at once; ifdown stops it; ifupdate brings it back', async () => {
  await sleep(300);
  const a0 = await advertisements();
  hotplug('ifdown');
  await sleep(200);
  assert.match(fa.output, /wlan0/);
  hotplug('ifup');
  await sleep(300);
  const a1 = await advertisements();
  assert.ok(a1 > a0, `an advertisement went out after ifup (${a0} → ${a1})`);
  hotplug('ifupdate');
  await sleep(300);
  assert.ok((await advertisements()) > a1, 'and again after ifupdate');
});

test('harmless when the daemon is not running or the action is unknown', () => {
  const r = spawnSync('sh', [SCRIPT], { encoding: 'utf8', env: { ...process.env, ACTION: 'ifup', INTERFACE: 'x', ROAMD_SOCKET: join(dir, 'nothing.sock') } });
  assert.is(r.status, 0);
  const u = spawnSync('sh', [SCRIPT], { encoding: 'utf8', env: { ...process.env, ACTION: 'ifbogus', INTERFACE: 'x' } });
  assert.is(u.status, 0);
});

test.run();
