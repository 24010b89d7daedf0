/**
 * Standby bindings of the mobile node (`standby_bindings`): a binding with S on the best other
 * usable link, promoted without a registration round trip when the current link goes, pruned by a
 * registration without S when the agent may hold a binding the node no longer wants.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stepMn, mnStatus, type MnState } from '../../../src/roles/mn';
import { RegFlag } from '../../../src/wire/constants';
import {
  T0, WIFI_ADDR, WIRED_ADDR, ip, str, link, udp, sends, states, lastState, one, parse, proxyReply, attached, type Rx,
} from './mn-util';

const CELL_ADDR = ip('100.72.9.9');
const render = str;
const S_TD = RegFlag.S | RegFlag.T | RegFlag.D;
const TD = RegFlag.T | RegFlag.D;

/** Bound on wlan0 (preference 20) with standby bindings on; wwan0 (10) comes up at T0 + 5 s. */
function withStandby(): { st: MnState; sb: Rx } {
  const { st } = attached({ standbyBindings: true });
  const acts = stepMn(st, link('wwan0', true, [CELL_ADDR]), T0 + 5000);
  const sb = parse(one(sends(acts), 'standby registration'));
  stepMn(st, udp(proxyReply(sb)), T0 + 5050);
  return { st, sb };
}

test('a second usable link gets a standby registration with S, outer only; the current CoA is registered again a second later', () => {
  const { st } = attached({ standbyBindings: true });
  const acts = stepMn(st, link('wwan0', true, [CELL_ADDR]), T0 + 5000);
  const sb = parse(one(sends(acts), 'standby registration'));
  assert.equal({ coa: sb.req.careOfAddress, flags: sb.req.flags, home: sb.home }, { coa: CELL_ADDR, flags: S_TD, home: null });
  assert.equal(lastState(acts)!.careOf, WIFI_ADDR, 'upstream stays on the current link');
  assert.equal(lastState(acts)!.others, [{ ifname: 'wwan0', careOf: CELL_ADDR, agent: 0, tunnel: 'none' }], 'the standby CoA has its exit before its request leaves');
  const v = lastState(stepMn(st, udp(proxyReply(sb)), T0 + 5050))!;
  assert.equal({ careOf: v.careOf, others: v.others }, { careOf: WIFI_ADDR, others: [{ ifname: 'wwan0', careOf: CELL_ADDR, agent: 0, tunnel: 'ipip' }] });
  const s = mnStatus(st, render) as { standby: string; standbyBinding: { ifname: string; careOf: string } };
  assert.equal({ on: s.standby, ifname: s.standbyBinding.ifname, careOf: s.standbyBinding.careOf }, { on: 'on', ifname: 'wwan0', careOf: str(CELL_ADDR) });
  // §3.6: no request within a second of the last; then the current CoA, with S (the standby stays).
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 5900)).length, 0);
  const again = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 6000)), 'current re-registration'));
  assert.equal({ coa: again.req.careOfAddress, flags: again.req.flags }, { coa: WIFI_ADDR, flags: S_TD });
  stepMn(st, udp(proxyReply(again)), T0 + 6050);
  assert.ok(st.reg.standby, 'standby kept');
});

test('without standby_bindings a second usable link changes nothing', () => {
  const { st } = attached();
  assert.is(sends(stepMn(st, link('wwan0', true, [CELL_ADDR]), T0 + 5000)).length, 0);
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 9000)).length, 0);
  assert.is((mnStatus(st, render) as { standby: string }).standby, 'off');
});

test('the current link goes: the standby becomes current in the same step, then a registration without S removes the dead binding', () => {
  const { st } = withStandby();
  const acts = stepMn(st, link('wlan0', false), T0 + 8000);
  const v = lastState(acts)!;
  assert.equal({ careOf: v.careOf, ifname: v.ifname, vpn: v.vpn, tunnel: v.tunnel, others: v.others },
    { careOf: CELL_ADDR, ifname: 'wwan0', vpn: 'up', tunnel: 'ipip', others: [] }, 'no round trip before traffic moves');
  assert.is(st.counters['standby-promoted'], 1);
  const prune = parse(one(sends(acts), 'pruning registration'));
  assert.equal({ coa: prune.req.careOfAddress, flags: prune.req.flags }, { coa: CELL_ADDR, flags: TD });
  const v2 = stepMn(st, udp(proxyReply(prune)), T0 + 8050);
  assert.is(states(v2).length, 0, 'the data plane already had it');
  assert.is(st.reg.standby, null);
  assert.is((mnStatus(st, render) as { registration: string }).registration, 'registered');
});

test('the standby link goes: dropped, and the current CoA registers without S to remove it at the agent', () => {
  const { st } = withStandby();
  const acts = stepMn(st, link('wwan0', false), T0 + 5500);
  assert.is(st.reg.standby, null);
  assert.equal(lastState(acts)!.others, []);
  const prune = parse(one(sends(acts), 'pruning registration (a link change lifts the rate limit)'));
  assert.equal({ coa: prune.req.careOfAddress, flags: prune.req.flags }, { coa: WIFI_ADDR, flags: TD });
  stepMn(st, udp(proxyReply(prune)), T0 + 5550);
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 20_000)).length, 0, 'nothing left to stand by on');
});

test('a better link appears: make-before-break with S; the old current becomes the standby, the old standby is pruned, then the best other link stands by', () => {
  const { st } = withStandby();
  // Settle the post-standby re-registration first.
  const again = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 6100))));
  stepMn(st, udp(proxyReply(again)), T0 + 6150);
  const a1 = stepMn(st, link('eth0', true, [WIRED_ADDR]), T0 + 10_000);
  const mbb = parse(one(sends(a1), 'make-before-break'));
  assert.equal({ coa: mbb.req.careOfAddress, flags: mbb.req.flags }, { coa: WIRED_ADDR, flags: S_TD });
  const v = lastState(stepMn(st, udp(proxyReply(mbb)), T0 + 10_050))!;
  assert.equal(v.careOf, WIRED_ADDR);
  // The agent holds eth0, wlan0 and wwan0 now: one registration without S, then wlan0 (preference 20) stands by.
  const prune = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 11_000)), 'prune'));
  assert.equal({ coa: prune.req.careOfAddress, flags: prune.req.flags }, { coa: WIRED_ADDR, flags: TD });
  stepMn(st, udp(proxyReply(prune)), T0 + 11_050);
  const sb = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 12_000)), 'new standby'));
  assert.equal({ coa: sb.req.careOfAddress, flags: sb.req.flags }, { coa: WIFI_ADDR, flags: S_TD });
  stepMn(st, udp(proxyReply(sb)), T0 + 12_050);
  assert.is(st.reg.standby?.att.ifname, 'wlan0');
});

test('make-before-break with no other standby: the old current stands by at once, no pruning needed', () => {
  const { st } = attached({ standbyBindings: true });
  const mbb = parse(one(sends(stepMn(st, link('eth0', true, [WIRED_ADDR]), T0 + 10_000))));
  stepMn(st, udp(proxyReply(mbb)), T0 + 10_050);
  assert.is(st.reg.standby?.att.careOf, WIFI_ADDR);
  assert.is(st.reg.prune, false);
  // The next current registration (renewal) keeps S.
  st.reg.outerRenewAt = T0 + 12_000;
  const r = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 12_000))));
  assert.equal({ coa: r.req.careOfAddress, flags: r.req.flags }, { coa: WIRED_ADDR, flags: S_TD });
});

test('code 1 to a standby registration (simultaneous bindings unsupported): standby off, the current CoA is registered again', () => {
  const { st } = attached({ standbyBindings: true });
  const sb = parse(one(sends(stepMn(st, link('wwan0', true, [CELL_ADDR]), T0 + 5000))));
  stepMn(st, udp(proxyReply(sb, { code: 1 })), T0 + 5050);
  assert.is(st.reg.standby, null);
  assert.is((mnStatus(st, render) as { standby: string }).standby, 'unsupported by the agent');
  const back = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 6000)), 'current again'));
  assert.equal({ coa: back.req.careOfAddress, flags: back.req.flags }, { coa: WIFI_ADDR, flags: TD });
  stepMn(st, udp(proxyReply(back)), T0 + 6050);
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 30_000)).length, 0, 'no standby attempts any more');
});

test('a denied standby registration backs off (2 s, doubling) and never touches the current binding', () => {
  const { st } = attached({ standbyBindings: true });
  const sb = parse(one(sends(stepMn(st, link('wwan0', true, [CELL_ADDR]), T0 + 5000))));
  stepMn(st, udp(proxyReply(sb, { code: 135 })), T0 + 5050);
  assert.is(st.counters['denied-135'], 1);
  assert.is(lastState(stepMn(st, { kind: 'tick' }, T0 + 6000)) ?? null, null, 'data plane view unchanged');
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 7000)).length, 0);
  const retry = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 7050)), 'retry after 2 s'));
  assert.is(retry.req.careOfAddress, CELL_ADDR);
  stepMn(st, udp(proxyReply(retry, { code: 135 })), T0 + 7100);
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 11_000)).length, 0, 'then 4 s');
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 11_100)).length, 1);
});

test('the standby is renewed with S at 2/3 of its lifetime; an unanswered standby request is retransmitted', () => {
  const { st } = attached({ standbyBindings: true, lifetime: 300 });
  const sb = parse(one(sends(stepMn(st, link('wwan0', true, [CELL_ADDR]), T0 + 5000))));
  stepMn(st, udp(proxyReply(sb, { lifetime: 300 })), T0 + 5050);
  const again = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 6000))));
  stepMn(st, udp(proxyReply(again, { lifetime: 300 })), T0 + 6050);
  // The home binding (300 s from T0) is due first: the current CoA with the home request, S kept.
  const home = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 200_000)), 'home renewal'));
  assert.equal({ coa: home.req.careOfAddress, flags: home.req.flags, home: !!home.home }, { coa: WIFI_ADDR, flags: S_TD, home: true });
  stepMn(st, udp(proxyReply(home, { lifetime: 300 })), T0 + 200_050);
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 204_900)).length, 0);
  const renew = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 205_000)), 'standby renewal'));
  assert.equal({ coa: renew.req.careOfAddress, flags: renew.req.flags }, { coa: CELL_ADDR, flags: S_TD });
  const rtx = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 206_000)), 'retransmission'));
  assert.is(rtx.req.careOfAddress, CELL_ADDR);
  assert.ok(rtx.req.idLow !== renew.req.idLow, 'timestamps: a new Identification');
});

test('a standby behind a NAT: the request asks for a UDP tunnel (RFC 3519), and promotion keeps it', () => {
  const { st } = attached({ standbyBindings: true, alwaysUdpTunnel: true });
  const sb = parse(one(sends(stepMn(st, link('wwan0', true, [CELL_ADDR]), T0 + 5000))));
  assert.ok(sb.req.extensions.some((e) => e.kind === 'udp-tunnel-request'), 'UDP tunnel request on the standby registration');
  const v = lastState(stepMn(st, udp(proxyReply(sb, { udp: { code: 0, keepalive: 25 } })), T0 + 5050))!;
  assert.equal(v.others, [{ ifname: 'wwan0', careOf: CELL_ADDR, agent: 0, tunnel: 'udp' }]);
  assert.is(st.reg.tunnel, 'ipip', 'the current binding keeps its own tunnel');
  const p = lastState(stepMn(st, link('wlan0', false), T0 + 8000))!;
  assert.equal({ careOf: p.careOf, tunnel: p.tunnel, natPort: p.natPort }, { careOf: CELL_ADDR, tunnel: 'udp', natPort: 4434 });
  assert.is(st.reg.keepalive, 25);
});

test('shutdown with a standby: one deregistration of all care-of addresses', () => {
  const { st } = withStandby();
  const acts = stepMn(st, { kind: 'shutdown' }, T0 + 7000);
  const d = parse(one(sends(acts), 'deregistration'));
  assert.equal({ lifetime: d.req.lifetime, coa: d.req.careOfAddress }, { lifetime: 0, coa: d.req.homeAddress });
  assert.is(st.reg.standby, null);
});

test.run();
