/**
 * VM lane: bench/vm.ts --smoke still runs (the netem handoff comparison and the kernel vs userspace
 * throughput in the guest) and yields every figure bench/run.ts's summary names: `npm run bench
 * -- --smoke` leaves it to this lane. No timing assertions (STYLE.md §8): the figures are printed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BENCHES } from '../../bench/run';
import { benchVm } from '../../bench/vm';
import { vmAvailable } from './guest';

const av = vmAvailable();

if (!av.ok || process.getuid?.() !== 0) {
  test('vm bench: skipped (needs root, qemu and the Debian kernel)', () => {
    console.log(`\n*** VM bench SKIPPED: ${av.ok ? 'not root' : av.why}\n`);
  });
} else {
  test('bench/vm.ts --smoke: every figure of the summary, with values', async () => {
    const lines: string[] = [];
    const res = await benchVm({ quick: true, smoke: true, log: (s) => lines.push(s) }).catch((e: Error) => {
      throw new Error(`${e.message}\n${lines.slice(-40).join('\n')}`);
    });
    console.log(`\nvm bench (smoke): ${JSON.stringify(res)}`);
    const rows = BENCHES.find((b) => b.name === 'vm')!.rows;
    for (const row of rows) {
      for (const key of [row.value, row.baseline, row.ratio].filter((k): k is string => !!k)) {
        const v = res[key];
        assert.ok(typeof v === 'number' && Number.isFinite(v), `${row.figure}: ${key} = ${v}\n${lines.slice(-30).join('\n')}`);
      }
    }
  });
}

test.run();
