/**
 * Runs real `roamd run` processes from the bundle for the loopback lane: start with a config,
 * wait for the control socket, talk to it, stop with SIGTERM (SIGKILL if it hangs).
 */
import { spawn, ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callControl } from '../../src/platform/control';

export const ROOT = join(__dirname, '..', '..');
export const BUNDLE = join(ROOT, 'dist', 'roamd.js');

let built = false;
export function buildBundle(): void {
  if (built) return;
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'pipe' });
  built = true;
}

export class RunningDaemon {
  output = '';
  exitCode: number | null = null;
  private exited: Promise<number>;

  constructor(readonly name: string, readonly proc: ChildProcess, readonly socket: string) {
    proc.stdout!.on('data', (d) => (this.output += d));
    proc.stderr!.on('data', (d) => (this.output += d));
    this.exited = new Promise((res) => proc.on('exit', (code, sig) => {
      this.exitCode = code ?? (sig ? 128 : -1);
      res(this.exitCode);
    }));
  }

  async call(req: Record<string, unknown>): Promise<any> {
    const r = await callControl(this.socket, req);
    if (!r.ok) throw new Error(`${this.name} ${String(req.cmd)}: ${r.error}`);
    return r.result;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    if (this.exitCode !== null) return this.exitCode;
    this.proc.kill(signal);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts `roamd run --config` with the given UCI text; resolves when the control socket answers. */
export async function startDaemon(name: string, dir: string, configText: string, socket: string): Promise<RunningDaemon> {
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, configText);
  const proc = spawn(process.execPath, [BUNDLE, 'run', '--config', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const d = new RunningDaemon(name, proc, socket);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (d.exitCode !== null) throw new Error(`${name} exited with ${d.exitCode}:\n${d.output}`);
    if (existsSync(socket)) {
      try {
        await d.call({ cmd: 'status' });
        return d;
      } catch {
        // not ready yet
      }
    }
    await sleep(50);
  }
  await d.stop('SIGKILL');
  throw new Error(`${name} did not start:\n${d.output}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value or the time runs out (then throws with `what`). */
export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export { writeFileSync };

export interface LoopbackHa {
  address: string; port: number; socket: string; homeNetwork: string; maxLifetime?: number;
  nodes: Array<{ home: string; nai?: string; spi?: number; key: string }>;
  peers: Array<{ role: 'fa' | 'proxy'; address: string; spi: number; key: string }>;
}

/** A signalling-only home agent on loopback (dataplane none, no rate limit) as UCI text, for the lanes that run one. */
export function loopbackHaConfig(o: LoopbackHa): string {
  const nodes = o.nodes.map((n) => `config mobile_node
	option home_address '${n.home}'${n.nai ? `\n\toption nai '${n.nai}'` : ''}
	option spi '${n.spi ?? 256}'
	option key '${n.key}'
`);
  const peers = o.peers.map((p) => `config peer
	option role '${p.role}'
	option address '${p.address}'
	option spi '${p.spi}'
	option key '${p.key}'
`);
  return `config roamd 'main'
	option role 'ha'
	list listen '${o.address}'
	option port '${o.port}'
	option control_socket '${o.socket}'
	option dataplane 'none'
	option rate_limit '0'

config home_agent
	option address '${o.address}'
	option home_network '${o.homeNetwork}'${o.maxLifetime !== undefined ? `\n\toption max_lifetime '${o.maxLifetime}'` : ''}

${[...nodes, ...peers].join('\n')}`;
}
