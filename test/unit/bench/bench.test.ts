/**
 * `npm run bench -- --smoke` (= --quick, netns benches at their shortest) still runs: every bench in bench/run.ts produces every figure its
 * summary rows name. No timing assertions (STYLE.md §8: benchmarks live in bench/).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BENCHES } from '../../../bench/run';

test('bench/run.ts --quick: every bench produces its figures', () => {
  const root = join(__dirname, '..', '..', '..');
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'run.ts'), '--smoke'], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  assert.is(r.status, 0, `bench run failed:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  for (const b of BENCHES) {
    assert.ok(r.stdout.includes(`== ${b.name}`), `bench ${b.name} printed its section`);
    if (b.smokeInLane) continue; // run by its lane (the VM lane: test/vm/bench-vm.test.ts)
    for (const row of b.rows) {
      const line = r.stdout.split('\n').find((l) => l.startsWith(`| ${row.figure} |`));
      assert.ok(line, `summary row '${row.figure}'`);
      assert.not.match(line!, /\| (failed|undefined|NaN|—) \|/, `figure '${row.figure}' has a value: ${line}`);
    }
  }
});

test.run();
