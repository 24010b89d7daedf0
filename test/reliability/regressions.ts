/**
 * Inputs the fuzzers once broke roamd with, replayed by test/reliability/fuzz.test.ts after the
 * fix. `input` is hex for byte targets, the text itself for 'uci+config'.
 */
export interface Regression { target: string; what: string; input: string }

export const REGRESSIONS: Regression[] = [];
