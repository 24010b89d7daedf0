/**
 * One long fuzz run of one target: `node --import tsx test/fuzz/worker.ts TARGET RUNS SEED`.
 * Prints one JSON line {target, inputs, accepted, ms, seed, ok, failure?}; `accepted` counts the
 * inputs the decoder accepted, so a run that only exercises the first length check shows up.
 */
import fc from 'fast-check';
import { TARGETS, inputsPerRun } from './targets';

const [name, runsText, seedText] = process.argv.slice(2);
const t = TARGETS.find((x) => x.name === name);
if (!t) {
  console.error(`unknown target ${name}; targets: ${TARGETS.map((x) => x.name).join(' ')}`);
  process.exit(2);
}
const runs = Number(runsText ?? 1_000_000), seed = Number(seedText ?? 1);
let accepted = 0;
const t0 = Date.now();
const result: Record<string, unknown> = { target: t.name, seed, runs };
try {
  fc.assert(fc.property(t.arb, (x) => {
    if (t.check(x)) accepted++;
  }), { numRuns: runs, seed, endOnFailure: true });
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.failure = String((e as Error).message).slice(0, 4000);
}
Object.assign(result, { inputs: runs * inputsPerRun(t), accepted, ms: Date.now() - t0 });
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
