/**
 * Child process of privileges.test.ts (capabilities cannot be regained, so each scenario runs in
 * its own process): `node --import tsx privileges-child.ts ROLE DATAPLANE PORT DIR`. Binds the
 * Mobile IP port like the daemon, drops privileges as src/platform/privileges.ts decides, then
 * probes what still works. Prints one JSON line.
 */
import { createSocket, Socket } from 'node:dgram';
import { chownSync, promises as fsp, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { dropPrivileges, currentCapabilities } from '../../src/platform/privileges';
import { RawSocket } from '../../src/dataplane/native';
import type { Dataplane, Role } from '../../src/platform/config';

const [role, dataplane, portText, dir] = process.argv.slice(2) as [Role, Dataplane, string, string];
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
  const r = dropPrivileges(role, dataplane, port);
  out.result = r;
  out.after = hex(currentCapabilities());
  out.threads = threadCaps();
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
  const f = join(dir, `probe-${process.pid}`);
  writeFileSync(f, 'x');
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
