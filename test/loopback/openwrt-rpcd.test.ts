/**
 * The rpcd exec plugin (openwrt/files/roamd.rpcd) run exactly as rpcd runs it — `sh roamd.rpcd
 * list`, `sh roamd.rpcd call METHOD` with the JSON arguments on stdin — against a real `roamd run`
 * (home agent on 127.x) through the package's /usr/sbin/roamd wrapper. Every answer must be one
 * JSON object; failures are {"error": ...}.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { buildBundle, startDaemon, RunningDaemon, tempDir, ROOT } from '../util/daemon';

const PLUGIN = join(ROOT, 'openwrt', 'files', 'roamd.rpcd');
const ACL = join(ROOT, 'openwrt', 'files', 'roamd.acl.json');
const PORT = 20000 + ((process.pid + 7919) % 20000);
const { dir, cleanup } = tempDir('roamd-rpcd-');
const SOCK = join(dir, 'ha.sock');
const CONF = join(dir, 'ha.conf');
let ha: RunningDaemon;

const HA_CONF = `config roamd 'main'
	option role 'ha'
	list listen '127.1.0.1'
	option port '${PORT}'
	option control_socket '${SOCK}'
	option dataplane 'none'
	option profile 'router-128m'

config home_agent
	option address '127.1.0.1'
	option home_network '127.1.0.0/24'

config mobile_node
	option home_address '127.1.0.50'
	option nai 'alice@corp.example'
	option spi '256'
	option key '00112233445566778899aabbccddeeff'
`;

/** Runs the plugin as rpcd does; returns the parsed stdout (which must be exactly one JSON object). */
function rpcd(args: string[], stdin = '', env: Record<string, string> = {}): any {
  const wrapper = join(dir, 'roamd');
  const r = spawnSync('sh', [PLUGIN, ...args], {
    input: stdin, encoding: 'utf8', timeout: 20_000,
    env: { ...process.env, ROAMD: wrapper, ROAMD_CONFIG: CONF, ROAMD_LIB: ROOT, ROAMD_NODE: process.execPath, ...env },
  });
  assert.is(r.status, 0, `exit status; stderr: ${r.stderr}`);
  const v = JSON.parse(r.stdout); // throws unless stdout is exactly one JSON value
  assert.ok(v && typeof v === 'object' && !Array.isArray(v), `rpcd needs an object: ${r.stdout}`);
  return v;
}

test.before(async () => {
  buildBundle();
  // the package's /usr/sbin/roamd, pointed at this tree's bundle by ROAMD_LIB
  writeFileSync(join(dir, 'roamd'), readFileSync(join(ROOT, 'openwrt', 'files', 'roamd.wrapper')));
  chmodSync(join(dir, 'roamd'), 0o755);
  ha = await startDaemon('ha', dir, HA_CONF, SOCK);
});

test.after(async () => {
  await ha?.stop();
  cleanup();
});

test('list: the method signatures, and the ACL grants exactly those methods', () => {
  const sig = rpcd(['list']);
  assert.equal(sig, { status: {}, bindings: {}, visitors: {}, stats: {}, revoke: { home: 'a.b.c.d' } });
  const acl = JSON.parse(readFileSync(ACL, 'utf8')).roamd;
  assert.equal([...acl.read.ubus.roamd, ...acl.write.ubus.roamd].sort(), Object.keys(sig).sort());
  assert.equal(acl.write.ubus.roamd, ['revoke']);
});

test('call status: the daemon\'s status object', () => {
  const s = rpcd(['call', 'status'], '{}');
  assert.is(s.role, 'ha');
  assert.is(s.pid, ha.proc.pid);
  assert.is(s.capacities.profile, 'router-128m');
});

test('call bindings: a list, wrapped in an object for ubus', () => {
  assert.equal(rpcd(['call', 'bindings'], ''), { bindings: [] });
});

test('call stats: the counters object', () => {
  const s = rpcd(['call', 'stats'], '{}');
  assert.type(s, 'object');
  assert.type(s.control_bad_requests, 'number');
});

test('call visitors on a home agent: an object (error or list), never bare output', () => {
  const v = rpcd(['call', 'visitors'], '{}');
  assert.ok(typeof v === 'object' && !Array.isArray(v) && ('visitors' in v || 'error' in v), JSON.stringify(v));
});

test('call revoke {"home"}: handed to the daemon', () => {
  assert.equal(rpcd(['call', 'revoke'], '{"home":"127.1.0.50"}'), { revoked: '127.1.0.50' });
});

const BAD_REVOKE: [string, RegExp][] = [
  ['{}', /revoke needs "home"/],
  ['{"home":"127.1.0.50; reboot"}', /revoke needs "home"/],
  ['{"home":5}', /revoke needs "home"/],
  ['not json', /not a JSON object/],
  ['{"home":"300.1.0.50"}', /./],
];
for (const [i, [input, why]] of BAD_REVOKE.entries()) {
  test(`call revoke #${i + 1} ${input}: {"error"}`, () => {
    const r = rpcd(['call', 'revoke'], input);
    assert.equal(Object.keys(r), ['error']);
    assert.match(r.error, why);
  });
}

test('unknown method: {"error"}', () => {
  assert.match(rpcd(['call', 'reboot'], '{}').error, /unknown method 'reboot'/);
});

test('without jshn (as on Debian) the arguments are read by node: same answer', () => {
  assert.equal(rpcd(['call', 'revoke'], '{"home":"127.1.0.51"}', { JSHN: '/nonexistent' }), { revoked: '127.1.0.51' });
});

test('daemon not running: {"error"} naming the socket', () => {
  const other = join(dir, 'down.conf');
  writeFileSync(other, HA_CONF.replace(SOCK, join(dir, 'down.sock')));
  const r = rpcd(['call', 'status'], '{}', { ROAMD_CONFIG: other });
  assert.equal(Object.keys(r), ['error']);
  assert.match(r.error, /down\.sock/);
});

test.run();
