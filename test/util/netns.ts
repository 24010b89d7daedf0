/**
 * Private network namespaces for tests that touch interfaces (root only). Each namespace is
 * `roamd-t-<pid>-<n>`; they are deleted when the test function ends, fails or throws, and at
 * process exit as a last resort. Node cannot setns(2) itself, so code that must run inside a
 * namespace is a small fixture script started with `ip netns exec NS node --import tsx script.ts`
 * that prints JSON lines: `{"ready":true}` when it is listening, and its result as the last line.
 */
import { execFileSync, spawn, ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

const live = new Set<string>();
let counter = 0;
let hooked = false;

function removeAll(): void {
  for (const ns of live) {
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* already gone */ }
  }
  live.clear();
}

/** Whether this process can create namespaces (root with iproute2). */
export function netnsAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export class Netns {
  constructor(readonly name: string) {}

  /** Runs a command inside the namespace; returns stdout, throws with stderr on failure. */
  exec(cmd: string, ...args: string[]): string {
    try {
      return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`[${this.name}] ${cmd} ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
    }
  }

  /** `ip ARGS` inside the namespace. */
  ip(...args: string[]): string {
    return this.exec('ip', ...args);
  }

  /** Starts a TypeScript fixture inside the namespace (see NsScript). */
  script(path: string, args: unknown[] = [], timeoutMs = 30_000): NsScript {
    const child = spawn('ip', ['netns', 'exec', this.name, process.execPath, '--expose-gc', '--import', 'tsx', path, ...args.map(String)], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new NsScript(`${this.name} ${path}`, child, timeoutMs);
  }

  /** Runs a fixture to the end and returns its last JSON line. */
  run<T = any>(path: string, args: unknown[] = [], timeoutMs?: number): Promise<T> {
    return this.script(path, args, timeoutMs).result<T>();
  }
}

/** A fixture process: JSON lines on stdout, stderr kept for the error message. */
export class NsScript {
  private out = '';
  private err = '';
  private readonly exited: Promise<number>;
  private readonly timer: NodeJS.Timeout;
  private readyWaiters: Array<() => void> = [];

  constructor(readonly label: string, readonly child: ChildProcess, timeoutMs: number) {
    this.timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout!.on('data', (d) => {
      this.out += d;
      if (this.lines().some((l) => l.ready === true)) for (const w of this.readyWaiters.splice(0)) w();
    });
    child.stderr!.on('data', (d) => (this.err += d));
    this.exited = new Promise((res) => child.on('exit', (code, sig) => {
      clearTimeout(this.timer);
      for (const w of this.readyWaiters.splice(0)) w();
      res(code ?? (sig ? 128 : -1));
    }));
  }

  private lines(): any[] {
    return this.out.split('\n').filter((l) => l.startsWith('{')).map((l) => {
      try { return JSON.parse(l); } catch { return {}; }
    });
  }

  /** Resolves when the script printed {"ready":true}; rejects if it exits first. */
  async ready(): Promise<void> {
    if (!this.lines().some((l) => l.ready === true)) {
      await new Promise<void>((res) => this.readyWaiters.push(res));
    }
    if (!this.lines().some((l) => l.ready === true)) {
      await this.exited;
      throw new Error(`${this.label} exited before it was ready:\n${this.err}${this.out}`);
    }
  }

  /** Waits for the exit; returns the last JSON line, or throws with the script's output. */
  async result<T = any>(): Promise<T> {
    const code = await this.exited;
    const last = this.lines().filter((l) => l.ready !== true).pop();
    if (code !== 0 || last === undefined) throw new Error(`${this.label} failed (exit ${code}):\n${this.err}${this.out}`);
    return last as T;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

/** Creates `count` fresh namespaces (loopback up), runs fn, and deletes them whatever happens. */
export async function withNetns<T>(count: number, fn: (...ns: Netns[]) => Promise<T>): Promise<T> {
  if (!hooked) {
    hooked = true;
    process.on('exit', removeAll);
  }
  const made: Netns[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = `roamd-t-${process.pid}-${counter++}`;
      execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe' });
      live.add(name);
      const ns = new Netns(name);
      ns.ip('link', 'set', 'lo', 'up');
      made.push(ns);
    }
    return await fn(...made);
  } finally {
    for (const ns of made) {
      try { execFileSync('ip', ['netns', 'del', ns.name], { stdio: 'ignore' }); } catch { /* already gone */ }
      live.delete(ns.name);
    }
  }
}

/** A veth pair between two namespaces, each end up with its address (CIDR). */
export function vethPair(a: Netns, aIf: string, aAddr: string, b: Netns, bIf: string, bAddr: string): void {
  a.ip('link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf, 'netns', b.name);
  a.ip('addr', 'add', aAddr, 'dev', aIf);
  b.ip('addr', 'add', bAddr, 'dev', bIf);
  a.ip('link', 'set', aIf, 'up');
  b.ip('link', 'set', bIf, 'up');
}
