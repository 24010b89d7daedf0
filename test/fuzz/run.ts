/**
 * `npm run fuzz [-- --runs N --seed S --only a,b]`: the long fuzz run. Every target of targets.ts
 * and roles.ts in its own process (as many at once as there are CPUs), default 1 000 000 inputs
 * each, seed 1. Prints one line per target (inputs, accepted, time, rate) and a total; writes the
 * JSON results to test/fuzz/last-run.json. Exits non-zero when any property failed: the failing
 * input goes into test/reliability/regressions.ts once fixed.
 */
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TARGETS } from './targets';
import { ROLE_TARGETS } from './roles';
import { CONTROL_TARGET } from './control';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1]! : d;
};
const runs = Number(arg('runs', '1000000')), seed = Number(arg('seed', '1'));
const only = arg('only', '').split(',').filter(Boolean);
const names = [...TARGETS, ...ROLE_TARGETS, { name: CONTROL_TARGET }].map((t) => t.name).filter((n) => !only.length || only.includes(n));
const jobs = Math.max(1, Number(arg('jobs', String(cpus().length))));
const results: Array<Record<string, any>> = [];
const t0 = Date.now();

function runOne(name: string): Promise<void> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'worker.ts'), name, String(runs), String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => {
      let r: Record<string, any>;
      try {
        r = JSON.parse(out.trim().split('\n').pop()!);
      } catch {
        r = { target: name, ok: false, failure: `worker exited ${code} without a result` };
      }
      results.push(r);
      const rate = r.ms ? Math.round((r.inputs / r.ms) * 1000) : 0;
      console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${name.padEnd(24)} inputs=${r.inputs} ${r.accepted !== undefined ? `accepted=${r.accepted} ` : ''}time=${((r.ms ?? 0) / 1000).toFixed(1)}s rate=${rate}/s${r.ok ? '' : `\n${r.failure}`}`);
      resolve();
    });
  });
}

async function main(): Promise<void> {
  console.log(`fuzz: ${names.length} targets, ${runs} inputs each, seed ${seed}, ${jobs} at once`);
  const queue = [...names];
  await Promise.all(Array.from({ length: jobs }, async () => {
    while (queue.length) await runOne(queue.shift()!);
  }));
  const total = results.reduce((n, r) => n + (r.inputs ?? 0), 0);
  const failed = results.filter((r) => !r.ok);
  console.log(`total: ${total} inputs over ${results.length} targets in ${((Date.now() - t0) / 1000).toFixed(0)} s; ${failed.length} failed`);
  writeFileSync(join(__dirname, 'last-run.json'), JSON.stringify({ date: new Date().toISOString(), runs, seed, results }, null, 1) + '\n');
  process.exit(failed.length ? 1 : 0);
}
void main();
