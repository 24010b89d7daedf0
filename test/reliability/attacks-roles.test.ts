/**
 * Authentication attacks against the role state machines (RFC 5944 §3.7.3.1, §3.8.2.1, §5.7,
 * RFC 3543 §4): forged, truncated, wrong-SPI, wrong-key and replayed messages are rejected with
 * the RFC code or dropped silently, and change no state. Loopback attacks against running daemons
 * are in attacks-daemons.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stepFa } from '../../src/roles/fa';
import * as reply from '../../src/wire/registration-reply';
import * as F from '../unit/roles/fa-util';
import { runFa } from '../fuzz/roles';

const wrongFaHa = F.sa(400, 'not the fa-ha secret');

function registered() {
  const st = F.fa({ restrictHomeAgents: true, homeAgents: [{ address: F.HA, sa: F.FA_HA }] });
  stepFa(st, F.fromMn(F.req({ fields: { idLow: 1 } })), F.T0);
  const acts = stepFa(st, F.fromHa(F.rep({ idLow: 1 })), F.T0 + 100);
  assert.ok(F.visitors(acts).some((v) => v.op === 'set'), 'visitor set by the authentic reply');
  return st;
}

test('regression (role-fa fuzz, seed 20260926): a deregistration reply with a failing FA-HA does not delete the visitor', () => {
  const st = registered();
  stepFa(st, F.fromMn(F.req({ fields: { lifetime: 0, careOfAddress: F.HOME, idLow: 9 } })), F.T0 + 1000);
  for (const signers of [[{ type: 32 as const, sa: F.MN_HA }, { type: 34 as const, sa: wrongFaHa }], [{ type: 32 as const, sa: F.MN_HA }, { type: 34 as const, sa: F.FA_HA }, { type: 34 as const, sa: F.FA_HA }]]) {
    const acts = stepFa(st, F.fromHa(F.rep({ lifetime: 0, idLow: 9 }, signers)), F.T0 + 1100);
    assert.is(F.visitors(acts).length, 0, 'no visitor action');
    assert.is(st.table.visitorCount, 1, 'visitor kept');
    const sent = F.udps(acts).map((u) => reply.decode(u.data).code);
    assert.ok(sent.every((c) => c === 68), `only 68 (FA-HA failed) goes to the node, got ${sent}`);
    stepFa(st, F.fromMn(F.req({ fields: { lifetime: 0, careOfAddress: F.HOME, idLow: 9 } })), F.T0 + 1000);
  }
});

test('RFC 5944 §3.5.4: a deregistration reply without FA-HA (as a conforming HA sends it) is accepted', () => {
  // The first session's FA demanded FA-HA on deregistration replies too, so every deregistration
  // through it was answered 68 by a home agent that follows §3.5.4 ("MUST NOT be applied to
  // deregistration messages"). The pending entry exists only because the node asked to deregister.
  const st = registered();
  stepFa(st, F.fromMn(F.req({ fields: { lifetime: 0, careOfAddress: F.HOME, idLow: 9 } })), F.T0 + 1000);
  const acts = stepFa(st, F.fromHa(F.rep({ lifetime: 0, idLow: 9 }, [{ type: 32 as const, sa: F.MN_HA }])), F.T0 + 1100);
  assert.equal(F.visitors(acts).map((v) => v.op), ['del']);
  assert.is(st.table.visitorCount, 0);
  assert.equal(F.udps(acts).map((u) => reply.decode(u.data).code), [0], 'the acceptance is relayed to the node');
});

test('regression: the fuzz sequence that found it', () => {
  const seq = [
    { k: 'msg', m: { sign: 2, lifetime: 1, coa: 3325256711, flags: 0, home: 167837746, muts: [], nai: false, low: 2094878661 }, kind: 3 },
    { k: 'random', b: Uint8Array.from([142, 51]) },
    { k: 'msg', m: { sign: 1, lifetime: 0, coa: 3221225985, flags: 128, home: 167837746, muts: [], nai: true, low: 420208608 }, kind: 2 },
  ];
  runFa(seq as never);
});

test('regression (role-fa fuzz, seed 1 path 4770): a reply failing FA-HA to a co-located (D) request creates no visitor', () => {
  for (const coa of [F.COA, F.a('192.0.2.77')]) {
    const st = F.fa({ restrictHomeAgents: true, homeAgents: [{ address: F.HA, sa: F.FA_HA }] });
    stepFa(st, F.fromMn(F.req({ fields: { idLow: 1, flags: 0x22, careOfAddress: coa } })), F.T0);
    for (const signers of [[{ type: 32 as const, sa: F.MN_HA }], [{ type: 32 as const, sa: F.MN_HA }, { type: 34 as const, sa: wrongFaHa }]]) {
      const acts = stepFa(st, F.fromHa(F.rep({ idLow: 1 }, signers)), F.T0 + 100);
      assert.is(F.visitors(acts).length, 0, 'no visitor action');
      assert.is(st.table.visitorCount, 0, 'no visitor');
      const sent = F.udps(acts).map((u) => reply.decode(u.data).code);
      assert.ok(sent.every((c) => c === 68), `only 68 (FA-HA failed) goes to the node, got ${sent}`);
      stepFa(st, F.fromMn(F.req({ fields: { idLow: 1, flags: 0x22, careOfAddress: coa } })), F.T0 + 200);
    }
  }
});

test('regression: the fuzz sequence that found the co-located exemption (seed 1, path 4770)', () => {
  const u = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
  const seq = [
    { k: 'msg', m: { sign: 1, lifetime: 600, coa: 3325256711, flags: 130, home: 167837747, muts: [], nai: true, low: 1140285134 }, kind: 1 },
    { k: 'msg', m: { sign: 1, lifetime: 60, coa: 3221225994, flags: 4, home: 167837746, muts: [], nai: true, low: 1354326977 }, kind: 0 },
    { k: 'msg', m: { sign: 1, lifetime: 600, coa: 3221225985, flags: 130, home: 167837746, muts: [], nai: true, low: 1474871707 }, kind: 0 },
    { k: 'msg', m: { sign: 0, lifetime: 60, coa: 3221225994, flags: 8, home: 167837746, muts: [{ op: 0, pos: 19271, val: 165, bytes: u('858df62c1459983a31') }], nai: true, low: 1130527410 }, kind: 0 },
    { k: 'random', b: u('0b1302406680') },
    { k: 'random', b: u('') },
    { k: 'msg', m: { sign: 2, lifetime: 60, coa: 3221225994, flags: 130, home: 167837746, muts: [{ op: 1, pos: 1383, val: 16, bytes: u('387fd5ec8dbc58') }, { op: 7, pos: 5022, val: 63, bytes: u('9d196238fe02d1') }], nai: false, low: 252389265 }, kind: 2 },
    { k: 'msg', m: { sign: 0, lifetime: 600, coa: 167837746, flags: 2, home: 0, muts: [{ op: 0, pos: 11593, val: 6, bytes: u('d46d9ad9') }, { op: 0, pos: 15987, val: 249, bytes: u('79') }, { op: 0, pos: 46175, val: 8, bytes: u('d1c92699ac0b635f') }], nai: false, low: 518167107 }, kind: 3 },
    { k: 'tick', dt: 700000 },
  ];
  runFa(seq as never);
});

test.run();
