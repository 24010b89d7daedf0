/**
 * Reliability lane, short seeded fuzz run: every decoder target of test/fuzz/targets.ts gets
 * FUZZ_SHORT_RUNS inputs (default 3000) from a fixed seed, then every regression vector ever found
 * is replayed. The long run (>= 1 000 000 inputs per decoder) is `npm run fuzz`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { TARGETS } from '../fuzz/targets';
import { ROLE_TARGETS, sequenceArb } from '../fuzz/roles';
import { REGRESSIONS } from './regressions';

const RUNS = Number(process.env.FUZZ_SHORT_RUNS ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 20260926);

for (const t of TARGETS) {
  test(`fuzz ${t.name}: ${RUNS} inputs, seed ${SEED}`, () => {
    fc.assert(fc.property(t.arb, (x) => { t.check(x); }), { numRuns: RUNS, seed: SEED, endOnFailure: true });
  });
}

const ROLE_RUNS = Math.max(50, Math.floor(RUNS / 6)); // sequences of up to 12 events
for (const t of ROLE_TARGETS) {
  test(`fuzz ${t.name}: ${ROLE_RUNS} event sequences, seed ${SEED}`, () => {
    fc.assert(fc.property(sequenceArb, (seq) => { t.run(seq); }), { numRuns: ROLE_RUNS, seed: SEED, endOnFailure: true });
  });
}

for (const [i, r] of REGRESSIONS.entries()) {
  test(`regression ${i + 1} (${r.target}): ${r.what}`, () => {
    const t = TARGETS.find((x) => x.name === r.target);
    assert.ok(t, `target ${r.target} exists`);
    t!.check(r.target === 'uci+config' ? r.input : Buffer.from(r.input, 'hex'));
  });
}

test.run();
