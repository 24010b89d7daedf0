/** The `none` data plane: remembers the last action per binding (home, care-of address) for `status`. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NoDataPlane } from '../../../src/dataplane/index';
import type { Action } from '../../../src/roles/types';

const host = { sendUdp: () => undefined, log: () => undefined, count: () => undefined, dispatch: () => undefined };
const pb = (op: 'set' | 'del', outer: number, careOf: number): Action => ({ kind: 'proxy-binding', op, home: outer, outer, careOf, tunnel: 'ipip', port: 0 });

test('entries: one per (kind, address, care-of address); renewals replace, deletions remove; the node state counts once', async () => {
  const dp = new NoDataPlane(host);
  await dp.apply(pb('set', 100, 1));
  await dp.apply(pb('set', 100, 1));
  await dp.apply(pb('set', 100, 2));
  await dp.apply(pb('set', 101, 1));
  await dp.apply({ kind: 'ha-binding', op: 'set', home: 100, careOf: 1, mode: 'tunnel', tunnel: 'ipip', port: 0, reverse: true });
  assert.is(dp.status().entries, 4);
  await dp.apply(pb('del', 100, 1));
  await dp.apply(pb('del', 100, 9)); // never set
  assert.is(dp.status().entries, 3);
  await dp.apply(pb('del', 100, 2));
  await dp.apply(pb('del', 101, 1));
  assert.is(dp.status().entries, 1);
  const mn: Action = { kind: 'mn-state', location: 'home', homeAddress: 1, outerAddress: 0, careOf: 0, ifname: 'eth0', agent: 0, tunnel: 'none', natPort: 0, vpn: 'pass-through', others: [] };
  await dp.apply(mn);
  await dp.apply(mn);
  assert.equal(dp.status(), { mode: 'none', mn, entries: 2 });
});

test.run();
