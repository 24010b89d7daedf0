/**
 * Interop: a registration request built by scapy with an HMAC-MD5 authenticator computed in
 * Python is accepted by a running `roamd run` home agent (code 0, valid reply authenticator),
 * and rejected with the right codes when the authenticator is wrong (131) or the identification
 * is replayed (133). The home agent runs with the configuration from issue #4 verbatim.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildBundle, startDaemon, RunningDaemon, tempDir } from '../util/daemon';
import { requireScapy, SYSTEM_PYTHON } from '../interop/tools';
import { ISSUE_HA_CONFIG } from '../util/issue-config';

const { dir, cleanup } = tempDir('roamd-scapy-ha-');
let ha: RunningDaemon;

test.before(async () => {
  requireScapy();
  buildBundle();
  ha = await startDaemon('ha', dir, ISSUE_HA_CONFIG, '/tmp/roamd-ha.sock');
});

test.after(async () => {
  const code = await ha.stop();
  cleanup();
  assert.is(code, 0);
});

function client(...cases: string[]): Array<Record<string, any>> {
  const r = spawnSync(SYSTEM_PYTHON, [join(__dirname, 'scapy_ha_client.py'), '127.0.0.1', '4434', '10.1.0.50', '10.1.0.1', '192.0.2.10', '256',
    '00112233445566778899aabbccddeeff', ...cases], { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
}

test('scapy request with a Python HMAC-MD5 is accepted; the reply authenticator checks out in Python', async () => {
  const [good] = client('good');
  assert.is(good!.type, 3);
  assert.is(good!.code, 0);
  assert.is(good!.lifetime, 600);
  assert.is(good!.home, '10.1.0.50');
  assert.is(good!.id_low, good!.sent_id_low);
  assert.ok(good!.reply_auth_ok, 'reply MN-HA authenticator valid under the shared key');
  const b = (await ha.call({ cmd: 'bindings' })) as any[];
  assert.ok(b.some((x) => x.home === '10.1.0.50' && x.careOf === '192.0.2.10'));
});

test('a wrong authenticator is answered 131 (still signed), a replayed identification 133', () => {
  const [bad] = client('bad-auth');
  assert.is(bad!.code, 131);
  assert.ok(bad!.reply_auth_ok);
  const [first, replay] = client('good', 'replay');
  assert.is(first!.code, 0);
  assert.is(replay!.code, 133);
  assert.is(replay!.id_low, replay!.sent_id_low, 'low half copied (RFC 5944 §5.7.1)');
  assert.ok(replay!.reply_auth_ok);
});

test.run();
