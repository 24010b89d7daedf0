/**
 * One long fuzz run of one target: `node --import tsx test/fuzz/worker.ts TARGET RUNS SEED`.
 * Prints one JSON line {target, inputs, accepted, ms, seed, ok, failure?}; `accepted` counts the
 * inputs the decoder accepted, so a run that only exercises the first length check shows up.
 * Role targets count stepped events as inputs.
 */
import fc from 'fast-check';
import { TARGETS } from './targets';
import { ROLE_TARGETS, sequenceArb } from './roles';
import { runControlFuzz, CONTROL_TARGET } from './control';

const [name, runsText, seedText] = process.argv.slice(2);
if (name === CONTROL_TARGET) {
  // The control socket: one input = one request line (connections carry ~5 each, in partial writes).
  const runs = Number(runsText ?? 1_000_000), seed = Number(seedText ?? 1);
  const t0 = Date.now();
  runControlFuzz(Math.ceil(runs / 5), seed).then(
    (s) => {
      console.log(JSON.stringify({ target: name, seed, ok: true, inputs: s.lines, accepted: s.lines - s.bad, connections: s.connections, overlong: s.overlong, bytes: s.bytes, ms: Date.now() - t0 }));
      process.exit(0);
    },
    (e: Error) => {
      console.log(JSON.stringify({ target: name, seed, ok: false, failure: String(e.message).slice(0, 3000), ms: Date.now() - t0 }));
      process.exit(1);
    },
  );
} else {
const t = TARGETS.find((x) => x.name === name);
const r = ROLE_TARGETS.find((x) => x.name === name);
if (!t && !r) {
  console.error(`unknown target ${name}; targets: ${[...TARGETS, ...ROLE_TARGETS].map((x) => x.name).join(' ')}`);
  process.exit(2);
}
/** For decoders `runs` inputs; for roles, sequences until `runs` events have been stepped. */
const runs = Number(runsText ?? 1_000_000), seed = Number(seedText ?? 1);
let accepted = 0, inputs = 0;
const t0 = Date.now();
const result: Record<string, unknown> = { target: name, seed };
try {
  if (t) {
    fc.assert(fc.property(t.arb, (x) => {
      inputs++;
      if (t.check(x)) accepted++;
    }), { numRuns: runs, seed, endOnFailure: true });
  } else {
    // Sequences average ~6.5 events: ask for enough of them to reach `runs` events.
    fc.assert(fc.property(sequenceArb, (seq) => {
      inputs += r!.run(seq);
    }), { numRuns: Math.ceil(runs / 6), seed, endOnFailure: true });
  }
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.failure = `${String((e as Error).message).slice(0, 3000)}\ncause: ${String((e as Error & { cause?: unknown }).cause ?? '').slice(0, 1000)}`;
}
Object.assign(result, { inputs, accepted: t ? accepted : undefined, ms: Date.now() - t0 });
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
}
