/**
 * `npm run bench [-- --quick]`: runs every benchmark in its own process (so heap figures are not
 * polluted by the others), prints each figure with its baseline and ratio, and writes
 * bench/results.json with the machine description and date. Every figure is a ratio against a
 * baseline measured in the same run: these machines are noisy.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';

const BENCHES = [{ name: 'tables', file: 'tables.ts', node: ['--expose-gc'] }];

const quick = process.argv.includes('--quick');
const results: Record<string, unknown> = {};
let failed = 0;
for (const b of BENCHES) {
  const r = spawnSync(process.execPath, [...b.node, '--import', 'tsx', join(__dirname, b.file), '--json', ...(quick ? ['--quick'] : [])], { encoding: 'utf8' });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    const res = JSON.parse(last) as Record<string, unknown>;
    results[b.name] = res;
    console.log(`\n== ${b.name}`);
    const w = Math.max(...Object.keys(res).map((k) => k.length));
    for (const [k, v] of Object.entries(res)) console.log(`${k.padEnd(w)}  ${String(v)}`);
  } catch {
    failed++;
    console.error(`bench ${b.name} failed (exit ${r.status}):\n${r.stderr}`);
  }
}
const out = {
  date: new Date().toISOString(),
  quick,
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version },
  results,
};
if (!quick) writeFileSync(join(__dirname, 'results.json'), JSON.stringify(out, null, 2) + '\n');
process.exit(failed ? 1 : 0);
