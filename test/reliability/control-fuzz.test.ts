/**
 * Reliability lane, control socket: a short seeded run of the control-socket fuzz target
 * (test/fuzz/control.ts: a real `serveControl` server fed mutated JSON lines, arbitrary JSON, binary
 * garbage, overlong lines and partial writes), plus the regression cases the fuzzer found. The long
 * run is `npm run fuzz -- --only control-socket`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ControlFuzz, runControlFuzz } from '../fuzz/control';

const RUNS = Number(process.env.CONTROL_FUZZ_RUNS ?? 500);
const SEED = Number(process.env.FUZZ_SEED ?? 20260926);

test(`control socket fuzz: ${RUNS} connections, seed ${SEED}`, async () => {
  const s = await runControlFuzz(RUNS, SEED);
  console.log(`figure: control-socket connections=${s.connections} lines=${s.lines} answers=${s.answers} bad=${s.bad} overlong=${s.overlong} bytes=${s.bytes}`);
  assert.is(s.answers, s.lines);
  assert.is(s.badRequests, s.bad);
});

// Found by the fuzzer against the first server: (1) a line over 64 KiB cut by the writes was
// refused by closing the connection, losing the answers to the lines after it, while the same
// line in one chunk was accepted; (2) answers to pipelined requests came back out of order (a
// JSON error was written before the answer of an earlier, asynchronously handled request).
test('regressions: overlong line split across writes; pipelined answers in order', async () => {
  const f = new ControlFuzz();
  await f.start();
  try {
    await f.check({ pieces: [{ kind: 'valid', cmd: 'crash', args: { home: false } }, { kind: 'overlong', extra: 3996 }, { kind: 'garbage', bytes: Uint8Array.from([190, 35, 91]) }, { kind: 'json', value: true }], unterminated: null, cuts: [1343244551, 316064074, 1221941546, 363668472] });
    await f.check({ pieces: [{ kind: 'valid', cmd: 'slow', args: {} }, { kind: 'garbage', bytes: Buffer.from('not json') }, { kind: 'valid', cmd: 'echo', args: {} }], unterminated: null, cuts: [] });
    await f.check({ pieces: [{ kind: 'valid', cmd: 'echo', args: {} }], unterminated: 10, cuts: [5, 70000] });
    assert.ok(await f.usable());
  } finally {
    f.close();
  }
});

// Found by the 10⁶ run (seed 1, connection 113 867): a mutated tag `1e999` parses as Infinity and is
// echoed as null (JSON has no Infinity). The server was right; the fuzzer's oracle expected Infinity.
test('regression: a tag JSON cannot carry back is echoed as null, the answer stays valid', async () => {
  const f = new ControlFuzz();
  await f.start();
  try {
    await f.check({ pieces: [{ kind: 'garbage', bytes: Buffer.from('{"cmd":"echo","tag":1e999}') }, { kind: 'valid', cmd: 'echo', args: {} }], unterminated: null, cuts: [] });
    assert.ok(await f.usable());
  } finally {
    f.close();
  }
});

test.run();
