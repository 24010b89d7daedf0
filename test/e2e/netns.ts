/**
 * Namespaces, links and addresses for the end-to-end lane, with `ip` from iproute2. Every name
 * carries a per-run prefix; `teardown()` deletes every namespace the run created, also after a
 * failure (and `sweep()` removes leftovers of earlier runs with the same prefix scheme).
 */
import { execFileSync, spawn, ChildProcess } from 'node:child_process';

export function sh(cmd: string, args: string[], opts: { ns?: string; allowFail?: boolean; env?: NodeJS.ProcessEnv; input?: string } = {}): string {
  const full = opts.ns ? ['ip', ['netns', 'exec', opts.ns, cmd, ...args]] as const : [cmd, args] as const;
  try {
    return execFileSync(full[0], full[1] as string[], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, input: opts.input });
  } catch (e) {
    if (opts.allowFail) return '';
    const err = e as { stderr?: string; stdout?: string };
    throw new Error(`${full[0]} ${(full[1] as string[]).join(' ')} failed: ${err.stderr ?? ''}${err.stdout ?? ''}`);
  }
}

export class Lab {
  readonly namespaces: string[] = [];
  readonly procs: ChildProcess[] = [];
  private linkNo = 0;

  constructor(readonly prefix: string) {}

  ns(name: string): string {
    const full = `${this.prefix}${name}`;
    sh('ip', ['netns', 'add', full]);
    this.namespaces.push(full);
    sh('ip', ['-n', full, 'link', 'set', 'lo', 'up']);
    return full;
  }

  ip(ns: string, ...args: string[]): string {
    return sh('ip', ['-n', ns, ...args]);
  }

  exec(ns: string, cmd: string, ...args: string[]): string {
    return sh(cmd, args, { ns });
  }

  sysctl(ns: string, key: string, value: string): void {
    sh('sysctl', ['-q', '-w', `${key}=${value}`], { ns });
  }

  /** A veth pair between two namespaces; returns the interface names. */
  link(a: string, aName: string, b: string, bName: string): void {
    const t1 = `rt${process.pid % 10000}x${this.linkNo}a`, t2 = `rt${process.pid % 10000}x${this.linkNo++}b`;
    sh('ip', ['link', 'add', t1, 'type', 'veth', 'peer', 'name', t2]);
    sh('ip', ['link', 'set', t1, 'netns', a]);
    sh('ip', ['link', 'set', t2, 'netns', b]);
    this.ip(a, 'link', 'set', t1, 'name', aName);
    this.ip(b, 'link', 'set', t2, 'name', bName);
    this.ip(a, 'link', 'set', aName, 'up');
    this.ip(b, 'link', 'set', bName, 'up');
  }

  /** A bridge inside namespace `ns`, with veths to each of `ports` ([namespace, interface name]). */
  bridge(ns: string, br: string, ports: Array<[string, string]>): void {
    this.ip(ns, 'link', 'add', br, 'type', 'bridge');
    this.ip(ns, 'link', 'set', br, 'up');
    ports.forEach(([pns, pname], i) => {
      this.link(ns, `${br}p${i}`, pns, pname);
      this.ip(ns, 'link', 'set', `${br}p${i}`, 'master', br);
    });
  }

  spawn(ns: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.procs.push(p);
    return p;
  }

  teardown(): void {
    for (const p of this.procs) if (p.exitCode === null) p.kill('SIGKILL');
    for (const ns of this.namespaces.reverse()) sh('ip', ['netns', 'pids', ns], { allowFail: true }).split('\n').filter(Boolean).forEach((pid) => sh('kill', ['-9', pid], { allowFail: true }));
    for (const ns of this.namespaces) sh('ip', ['netns', 'del', ns], { allowFail: true });
    this.namespaces.length = 0;
  }
}

/** Deletes namespaces left by earlier runs whose process is gone. */
export function sweep(prefixRoot: string): void {
  const list = sh('ip', ['netns', 'list'], { allowFail: true }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(prefixRoot));
  for (const n of list) {
    const pid = Number(n.slice(prefixRoot.length).split('-')[0]);
    if (pid && pidAlive(pid)) continue;
    sh('ip', ['netns', 'pids', n], { allowFail: true }).split('\n').filter(Boolean).forEach((p) => sh('kill', ['-9', p], { allowFail: true }));
    sh('ip', ['netns', 'del', n], { allowFail: true });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
