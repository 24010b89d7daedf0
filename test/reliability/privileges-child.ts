/**
 * Child process of privileges.test.ts (capabilities cannot be regained, so each scenario runs in
 * its own process): `node --import tsx privileges-child.ts ROLE DATAPLANE PORT DIR [USER [GROUP]]`.
 * Binds the Mobile IP port like the daemon, drops privileges as src/platform/privileges.ts decides
 * (switching to USER when given, as `option user` does), then probes what still works. Prints one
 * JSON line.
 */
import { createSocket, Socket } from 'node:dgram';
import { chmodSync, chownSync, closeSync, openSync, promises as fsp, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { dropPrivileges, currentCapabilities, threadIds } from '../../src/platform/privileges';
import { resolveRunAs, RunAs } from '../../src/platform/users';
import { RawSocket } from '../../src/dataplane/native';
import type { Dataplane, Role } from '../../src/platform/config';

const [role, dataplane, portText, dir, user, group] = process.argv.slice(2) as [Role, Dataplane, string, string, string?, string?];
const port = Number(portText);

const threadCaps = () => readdirSync('/proc/self/task').map((t) => {
  const s = readFileSync(`/proc/self/task/${t}/status`, 'utf8');
  const g = (k: string) => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(s)?.[1] ?? '?';
  return `${g('CapPrm')}/${g('CapEff')}/${g('CapBnd')}/${g('NoNewPrivs')}`;
});
const hex = (c: ReturnType<typeof currentCapabilities>) => c && { CapPrm: c.CapPrm.toString(16), CapEff: c.CapEff.toString(16), CapBnd: c.CapBnd.toString(16), CapInh: c.CapInh.toString(16), CapAmb: c.CapAmb.toString(16), NoNewPrivs: c.NoNewPrivs };
const errCode = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? ((e as { status?: number }).status !== undefined ? `exit ${(e as { status?: number }).status}` : String(e));
  }
};
const bind = (p: number): Promise<Socket> => new Promise((resolve, reject) => {
  const s = createSocket('udp4');
  s.once('error', reject);
  s.bind(p, '127.0.0.1', () => resolve(s));
});

async function main(): Promise<void> {
  const out: Record<string, unknown> = { role, dataplane, port };
  out.before = hex(currentCapabilities());
  const sock = await bind(port); // as the daemon does at start (434 needs CAP_NET_BIND_SERVICE)
  await fsp.stat(dir); // the libuv thread pool exists before the drop (its threads must drop too)
  const f = join(dir, `probe-${process.pid}`);
  writeFileSync(f, 'x'); // before the drop: after a switch to another user the directory is not writable
  let runAs: RunAs | undefined;
  let keyFd = -1;
  const keyFile = join(dir, 'node.key');
  if (user) {
    chmodSync(dir, 0o755); // the probes below should meet capability checks, not a closed directory
    const ra = resolveRunAs(user, group, readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'));
    if ('error' in ra) throw new Error(ra.error);
    runAs = ra;
    // A key file as the daemon finds it (root, 0600), opened before the switch.
    writeFileSync(keyFile, '00112233445566778899aabbccddeeff\n', { mode: 0o600 });
    keyFd = openSync(keyFile, 'r');
  }
  const r = dropPrivileges(role, dataplane, port, { runAs });
  out.result = r;
  out.after = hex(currentCapabilities());
  out.threads = threadCaps();
  out.ids = threadIds().map((t) => `${t.uid.join(',')}/${t.gid.join(',')}`);
  out.groups = /^Groups:\s*(.*)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]?.trim();
  if (runAs) {
    const b = Buffer.alloc(64);
    out.keyViaFdOpenedBefore = b.toString('utf8', 0, readSync(keyFd, b, 0, 64, 0)).trim().length === 32 ? 'ok' : 'short';
    closeSync(keyFd);
    out.keyByPath = errCode(() => readFileSync(keyFile));
    out.setuidBack = errCode(() => process.setuid!(0));
  }
  // Still works: the socket bound before, receiving.
  out.boundSocketReceives = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 1000);
    sock.once('message', () => { clearTimeout(t); resolve(true); });
    const c = createSocket('udp4');
    c.send(Buffer.from('x'), port, '127.0.0.1', () => c.close());
  });
  sock.close();
  out.rawSocket = errCode(() => RawSocket.open(1, {}).close());
  out.bindLowPort = await bind(port + 1).then((s) => { s.close(); return 'ok'; }, (e: NodeJS.ErrnoException) => e.code ?? String(e));
  out.chown = errCode(() => chownSync(f, 1, 1));
  out.chownThreadPool = await fsp.chown(f, 1, 1).then(() => 'ok', (e: NodeJS.ErrnoException) => e.code ?? String(e));
  out.mknodExec = errCode(() => execFileSync('mknod', [join(dir, `null-${process.pid}`), 'c', '1', '3'], { stdio: 'pipe' }));
  out.execChildCaps = execFileSync('sh', ['-c', 'grep -E "^(CapEff|CapPrm)" /proc/self/status'], { encoding: 'utf8' }).trim().replace(/\s+/g, ' ');
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.log(JSON.stringify({ error: String((e as Error).stack ?? e) }));
  process.exit(1);
});
