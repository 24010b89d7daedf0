/**
 * Privileges (issue 9): what each role keeps (src/platform/privileges.ts), and the drop itself
 * (native/src/caps.c) in child processes — capabilities cannot be regained, so each scenario runs
 * in its own process (test/reliability/privileges-child.ts). Needs root (CAP_SETPCAP) and the
 * native addon; skipped otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { BUNDLE, buildBundle, startDaemon, RunningDaemon } from '../util/daemon';
import { encodeRequest } from '../../src/roles/messages';
import { SecurityAssociation } from '../../src/auth/security-association';
import { timestampId } from '../../src/auth/replay';
import * as reply from '../../src/wire/registration-reply';
import { parseIp } from '../../src/platform/address';
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

function child(role: string, dataplane: string, port: number, ...user: string[]): Record<string, any> {
  const { dir, cleanup } = tempDir('roamd-priv-');
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, 'privileges-child.ts'), role, dataplane, String(port), dir, ...user], { encoding: 'utf8', timeout: 20_000 });
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

test('option user: every thread switches to nobody/nogroup, NET_ADMIN + NET_RAW kept, no way back to root', () => {
  if (!canDrop) return;
  const r = child('ha', 'userspace', 434, 'nobody', 'nogroup');
  assert.not.ok(r.error, r.error);
  console.log(`figure: privileges ha/userspace user=nobody uid/gid ${r.result.uid}/${r.result.gid} on ${r.ids.length} threads, CapPrm ${r.before.CapPrm} -> ${r.after.CapPrm}, ` +
    `groups=${r.groups} key fd opened before=${r.keyViaFdOpenedBefore} key by path=${r.keyByPath} setuid(0)=${r.setuidBack} raw=${r.rawSocket} chown=${r.chown}`);
  assert.is(r.result.outcome, 'dropped');
  assert.equal([r.result.uid, r.result.gid], [65534, 65534]);
  assert.ok(r.ids.length >= 5 && r.ids.every((x: string) => x === '65534,65534,65534,65534/65534,65534,65534,65534'), `every thread's real/effective/saved/fs ids: ${r.ids}`);
  assert.is(r.groups, '65534', 'supplementary groups replaced');
  for (const k of ['CapPrm', 'CapEff', 'CapBnd']) assert.is(BigInt(`0x${r.after[k]}`), NET, `${k} kept across the switch`);
  const kept = r.threads.filter((t: string) => t === '0000000000003000/0000000000003000/0000000000003000/1').length;
  assert.is(kept, r.threads.length - r.result.unreachable, 'every reachable thread kept NET_ADMIN + NET_RAW');
  // The thread our signal cannot reach changed uid with the others (libc) and, without the securebit, lost everything.
  for (const t of r.threads.filter((t: string) => !t.startsWith('0000000000003000/'))) assert.match(t, /^0+\/0+\//, `unreachable thread holds nothing: ${t}`);
  assert.is(r.rawSocket, 'ok', 'CAP_NET_RAW still works as nobody');
  assert.ok(r.boundSocketReceives);
  assert.is(r.keyViaFdOpenedBefore, 'ok', 'a file opened before the switch stays readable');
  assert.is(r.keyByPath, 'EACCES', 'a root-owned 0600 key file is not readable by path any more (reload needs it owned by the user)');
  assert.is(r.setuidBack, 'EPERM', 'no way back to uid 0');
  assert.is(r.chown, 'EPERM');
  assert.is(r.bindLowPort, 'EACCES');
});

test('option user without the privilege to switch: a clear error, not a silent run as root', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', `
    const { dropPrivileges } = require(${JSON.stringify(join(__dirname, '..', '..', 'src', 'platform', 'privileges.ts'))});
    try { dropPrivileges('ha', 'none', 20434, { runAs: { user: 'nobody', uid: 65534, gid: 65534 }, drop: () => ({ threads: 1, unreachable: 0 }) }); console.log('no error'); }
    catch (e) { console.log(e.code + ' ' + e.message); }`], { encoding: 'utf8', timeout: 20_000, ...(canDrop ? { uid: 65533, gid: 65533 } : {}) });
  const line = (r.stdout || r.stderr).trim().split('\n').pop() ?? '';
  if (!canDrop && process.getuid?.() === 0) return; // root without CAP_SETPCAP/addon: nothing to run as another user here
  assert.match(line, /^ERR_PRIVILEGES option user 'nobody': switching to uid 65534 needs CAP_SETUID/, line);
});

test('roamd run with option user: the daemon serves as nobody, journals to a state directory it owns, a reload that cannot read a root-only key file keeps the old config', async () => {
  if (!canDrop) return;
  buildBundle();
  const { dir, cleanup } = tempDir('roamd-priv-daemon-');
  const PORT = 20000 + ((process.pid + 1237) % 20000);
  const sockPath = join(dir, 'ha.sock');
  let d: RunningDaemon | undefined;
  try {
    chmodSync(dir, 0o711); // nobody may reach the state directory and the config inside
    const state = join(dir, 'state');
    mkdirSync(state);
    chownSync(state, 65534, 65534);
    const key = '00112233445566778899aabbccddeeff';
    const conf = (extra = '') => `config roamd 'main'
	option role 'ha'
	list listen '127.14.0.1'
	option port '${PORT}'
	option control_socket '${sockPath}'
	option dataplane 'none'
	option snapshot '${join(state, 'ha.state')}'
	option user 'nobody'
	option group 'nogroup'

config home_agent
	option address '127.14.0.1'
	option home_network '127.14.0.0/24'

config mobile_node
	option home_address '127.14.0.50'
	option spi '256'
	option key '${key}'
${extra}`;
    // A snapshot directory the user cannot write: the daemon refuses to run (exit 1), rather than
    // serving without its journal.
    const rootOnly = join(dir, 'root-state');
    mkdirSync(rootOnly, { mode: 0o755 });
    writeFileSync(join(dir, 'bad.conf'), conf().replace(join(state, 'ha.state'), join(rootOnly, 'ha.state')));
    const bad = spawnSync(process.execPath, [BUNDLE, 'run', '--config', join(dir, 'bad.conf')], { encoding: 'utf8', timeout: 15_000 });
    assert.is(bad.status, 1, `exit 1 (got ${bad.status} ${bad.signal ?? ''}): ${bad.stderr}`);
    assert.match(bad.stderr, /roamd run: cannot write .*root-state\/ha\.state.*EACCES/);
    d = await startDaemon('ha', dir, conf(), sockPath);
    const pid = d.proc.pid!;
    const ids = readdirSync(`/proc/${pid}/task`).map((t) => /^Uid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'))?.[1]?.trim().replace(/\s+/g, ','));
    assert.ok(ids.length > 3 && ids.every((u) => u === '65534,65534,65534,65534'), `every thread runs as nobody: ${ids}`);
    assert.match(d.output, /privileges outcome=dropped kept=none .*user=nobody uid=65534 gid=65534/);
    // It serves, and journals the binding as nobody.
    const id = timestampId(Date.now(), 1);
    const req = encodeRequest({ type: 1, flags: 0, lifetime: 60, homeAddress: parseIp('127.14.0.50'), homeAgent: parseIp('127.14.0.1'), careOfAddress: parseIp('127.14.1.1'),
      idHigh: id.high, idLow: id.low, extensions: [] }, [{ type: 32, sa: new SecurityAssociation({ spi: 256, algorithm: 'hmac-md5', key: Buffer.from(key, 'hex') }) }]);
    const code = await new Promise<number | null>((resolve) => {
      const s = createSocket('udp4');
      const t = setTimeout(() => { s.close(); resolve(null); }, 3000);
      s.on('message', (m) => { clearTimeout(t); s.close(); resolve(reply.decode(m).code); });
      s.bind(0, '127.14.1.1', () => s.send(req, PORT, '127.14.0.1'));
    });
    assert.is(code, 0, 'registration accepted by the daemon running as nobody');
    const journal = statSync(join(state, 'ha.state.journal'));
    assert.equal([journal.uid, journal.size > 0], [65534, true], 'the journal belongs to nobody and holds the binding');
    // A key file as root leaves it (0600, root): the reload cannot read it and the old config stays.
    const kf = join(dir, 'root.key');
    writeFileSync(kf, key + '\n', { mode: 0o600 });
    writeFileSync(join(dir, 'ha.conf'), conf(`\nconfig mobile_node\n\toption home_address '127.14.0.51'\n\toption spi '256'\n\toption key_file '${kf}'\n`));
    let reloadError = '';
    await d.call({ cmd: 'reload' }).catch((e: Error) => (reloadError = e.message));
    assert.match(reloadError, /EACCES|permission denied/i, `reload refused: ${reloadError}`);
    assert.equal(((await d.call({ cmd: 'bindings' })) as Array<{ home: string }>).map((b) => b.home), ['127.14.0.50'], 'still serving with the old configuration');
    console.log(`figure: privileges roamd run user=nobody threads=${ids.length} uid=65534 registration=${code} journal_owner=${journal.uid} reload_with_root_key_file: ${reloadError.slice(0, 120)}`);
    assert.is(await d.stop(), 0);
  } finally {
    await d?.stop('SIGKILL');
    cleanup();
  }
});

test.run();
