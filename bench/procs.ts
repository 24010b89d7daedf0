/**
 * Process helpers for the benches: start `roamd run` from the bundle with its log going to a file
 * (as procd/logd would take it; a pipe read by the bench would steal CPU from the daemon), wait for
 * the control socket, read RSS from /proc, run the load generator as its own process.
 */
import { spawn, ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, writeFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callControl } from '../src/platform/control';
import { BUNDLE, ROOT, BENCH_DIR } from './sim-nodes';
import type { LoadOptions, LoadResult } from './loadgen';

export function buildBundle(): number {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'pipe' });
  return statSync(BUNDLE).size;
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Daemon {
  proc: ChildProcess;
  socket: string;
  logFile: string;
  /** ms from spawn to the control socket answering `status`. */
  readyMs: number;
  /** ms from spawn to the `started` log line being seen in the log file (polled every 2 ms). */
  startedMs: number | undefined;
  stop(): Promise<void>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `node [nodeFlags] dist/roamd.js run --config FILE`, ready when the control socket answers. */
export async function startDaemon(name: string, dir: string, config: string, socket: string,
  opts: { nodeFlags?: string[]; extraNode?: string[]; timeoutMs?: number; fromSource?: boolean } = {}): Promise<Daemon> {
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, config);
  const logFile = join(dir, `${name}.log`);
  const fd = openSync(logFile, 'w');
  const t0 = performance.now();
  const proc = spawn(process.execPath, [...(opts.nodeFlags ?? []), ...(opts.extraNode ?? []), ...(opts.fromSource ? ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')] : [BUNDLE]), 'run', '--config', file],
    { cwd: ROOT, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited: number | null = null;
  const exitP = new Promise<void>((r) => proc.on('exit', (c, s) => { exited = c ?? (s ? 128 : -1); r(); }));
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let startedMs: number | undefined;
  const seeStarted = (): void => {
    if (startedMs === undefined && / info started /.test(readFileSync(logFile, 'utf8'))) startedMs = performance.now() - t0;
  };
  for (;;) {
    seeStarted();
    if (exited !== null) throw new Error(`${name} exited with ${exited}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${name} did not start:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    }
    if (existsSync(socket)) {
      const r = await callControl(socket, { cmd: 'status' }).catch(() => undefined);
      if (r?.ok) break;
    }
    await sleep(2);
  }
  const readyMs = performance.now() - t0;
  seeStarted();
  return {
    proc, socket, logFile, readyMs, startedMs,
    stop: async () => {
      if (exited !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exitP;
      clearTimeout(t);
    },
  };
}

export async function control(socket: string, req: Record<string, unknown>): Promise<any> {
  const r = await callControl(socket, req);
  if (!r.ok) throw new Error(`${String(req.cmd)}: ${r.error}`);
  return r.result;
}

/** Resident set size of a process in MB (VmRSS). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? +(Number(m[1]) / 1024).toFixed(1) : NaN;
}

/** Runs bench/loadgen.ts as its own process and returns its result line. */
export function runLoadgen(o: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'loadgen.ts'), JSON.stringify(o)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`loadgen ${o.mode} exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as LoadResult);
      } catch {
        reject(new Error(`loadgen ${o.mode}: no result: ${out} ${err}`));
      }
    });
  });
}

/** Starts a plain script (the echo baseline) and waits for its `ready` line. */
export function startScript(file: string, args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout!.on('data', (d) => { if (String(d).includes('ready')) resolve(p); });
    p.on('exit', (c) => reject(new Error(`${file} exited ${c}`)));
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}
