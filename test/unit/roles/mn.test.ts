/** Mobile node role: scripted flows against fake agents (RFC 5944 §2.4, §3.6, §5.7; RFC 3519; docs/protocol.md). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stepMn, mnStatus, reloadMn, ALL_MOBILITY_AGENTS } from '../../../src/roles/mn';
import { RegFlag, AdvFlag, IcmpType, UdpTunnelReqFlag } from '../../../src/wire/constants';
import * as advertisement from '../../../src/wire/agent-advertisement';
import { findExt, findNai, encodeReply } from '../../../src/roles/messages';
import type { Action, RoleEvent } from '../../../src/roles/types';
import { mulberry32, below } from '../../util/prng';
import {
  T0, PORT, HA, HOME, PROXY_OUT, PROXY_IN, OUTER, FA, FA_COA, WIFI_ADDR, WIRED_ADDR, NAI, ip, str,
  mn, config, link, adv, advBytes, udp, sends, icmps, states, lastState, one, parse, verifies, proxyReply, haReply,
  proxySa, homeSa, ntp, attached,
} from './mn-util';

const render = str;

test('discovery: an agent advertisement is recorded per interface; plain and malformed ones are counted', () => {
  const st = mn();
  stepMn(st, link('wlan0', true), T0);
  stepMn(st, adv('wlan0', { seq: 7, flags: AdvFlag.F | AdvFlag.T | AdvFlag.U, coas: [FA_COA, ip('192.0.2.9')], lifetime: 30 }), T0 + 10);
  const s = mnStatus(st, render) as { interfaces: Array<{ ifname: string; agent: { address: string; careOf: string[]; sequence: number; flags: number; expiresIn: number } | null }> };
  const w = s.interfaces.find((i) => i.ifname === 'wlan0')!;
  assert.equal(w.agent, { address: '192.0.2.1', careOf: ['192.0.2.1', '192.0.2.9'], flags: AdvFlag.F | AdvFlag.T | AdvFlag.U, sequence: 7, expiresIn: 30 });
  // A router advertisement without the mobility agent extension is not an agent advertisement.
  const ra: advertisement.AgentAdvertisement = { type: 9, code: 0, lifetime: 30, routers: [{ address: ip('192.0.2.254'), preference: 0 }], extensions: [] };
  const rb = Buffer.alloc(advertisement.encodingLength(ra));
  advertisement.encode(ra, rb, 0);
  stepMn(st, { kind: 'icmp', src: ip('192.0.2.254'), dst: 0, ifname: 'wlan0', ttl: 1, data: rb }, T0 + 20);
  const bad = advBytes();
  bad[bad.length - 1]! ^= 0xff; // checksum no longer matches
  const acts = stepMn(st, { kind: 'icmp', src: FA, dst: 0, ifname: 'wlan0', ttl: 1, data: bad }, T0 + 30);
  assert.ok(acts.some((a) => a.kind === 'log' && a.event === 'mn-adv-drop'));
  assert.is(st.counters['rx-adv'], 1);
  assert.is(st.counters['rx-adv-not-agent'], 1);
  assert.is(st.counters['rx-adv-malformed'], 1);
});

test('solicitation: on an interface without an agent, 3 at the nominal rate then binary back-off, stops when an agent is heard', () => {
  const st = mn({ solicitInterval: 1 });
  const times: number[] = [];
  const a0 = stepMn(st, link('wwan0', true), T0);
  const s0 = one(icmps(a0), 'solicitation');
  assert.equal({ ifname: s0.ifname, dst: s0.dst, ttl: s0.ttl, type: s0.data[0], len: s0.data.length }, { ifname: 'wwan0', dst: ALL_MOBILITY_AGENTS, ttl: 1, type: IcmpType.ROUTER_SOLICITATION, len: 8 });
  times.push(0);
  for (let t = 100; t <= 40_000; t += 100) if (icmps(stepMn(st, { kind: 'tick' }, T0 + t)).length) times.push(t);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  // Nominal 1 s, 1 s, then 2 s, 4 s, 8 s, 16 s, each up to 10 % later (randomised, RFC 5944 §2.4).
  const nominal = [1000, 1000, 2000, 4000, 8000, 16000];
  assert.ok(gaps.length >= 5, `gaps ${gaps}`);
  gaps.forEach((g, i) => assert.ok(g >= nominal[i]! && g <= nominal[i]! * 1.1 + 100, `gap ${i} = ${g}`));
  stepMn(st, adv('wwan0', { lifetime: 1800 }), T0 + 40_050);
  for (let t = 40_100; t <= 80_000; t += 1000) assert.is(icmps(stepMn(st, { kind: 'tick' }, T0 + t)).length, 0);
});

test('co-located first attach: outer request to the proxy with the embedded home request; both authenticators verify', () => {
  const st = mn();
  const acts = stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0);
  const s = one(sends(acts), 'request');
  assert.is(s.dst, PROXY_OUT);
  assert.is(s.dstPort, PORT);
  assert.is(s.src, WIFI_ADDR); // RFC 5944 §3.6.1.1: from the co-located CoA
  const rx = parse(s);
  const r = rx.req;
  assert.equal(
    { home: r.homeAddress, ha: r.homeAgent, coa: r.careOfAddress, flags: r.flags, lifetime: r.lifetime },
    { home: 0, ha: PROXY_OUT, coa: WIFI_ADDR, flags: RegFlag.T | RegFlag.D, lifetime: 600 },
  );
  assert.is(r.idHigh, ntp(T0)); // timestamp identification
  assert.equal(r.extensions.map((e) => e.kind), ['nai', 'nvse', 'auth']);
  assert.is(findNai(r.extensions), NAI);
  assert.ok(verifies(proxySa(), rx.bytes, r), 'outer MN-HA authenticator (MN-proxy SA)');
  assert.ok(!verifies(homeSa(), rx.bytes, r));
  const h = rx.home!.req;
  assert.equal(
    { home: h.homeAddress, ha: h.homeAgent, coa: h.careOfAddress, flags: h.flags, lifetime: h.lifetime },
    { home: HOME, ha: HA, coa: PROXY_IN, flags: RegFlag.T, lifetime: 600 },
  );
  assert.equal(h.extensions.map((e) => e.kind), ['auth']); // NAI only when the home address is 0
  assert.ok(verifies(homeSa(), rx.home!.bytes, h), 'inner MN-HA authenticator (MN-HA SA)');
  assert.is(h.idHigh, ntp(T0));
  assert.is.not(h.idLow, r.idLow);
  const v = lastState(acts)!;
  assert.equal({ location: v.location, careOf: v.careOf, vpn: v.vpn, tunnel: v.tunnel }, { location: 'foreign', careOf: WIFI_ADDR, vpn: 'down', tunnel: 'none' });
});

test('dynamic home address: the home request carries 0.0.0.0 and the NAI; the reply assigns it', () => {
  const st = mn({ homeAddress: 0 });
  const rx = parse(one(sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0))));
  assert.is(rx.home!.req.homeAddress, 0);
  assert.is(findNai(rx.home!.req.extensions), NAI);
  const v = lastState(stepMn(st, udp(proxyReply(rx, { inner: { home: ip('10.1.0.77') } })), T0 + 100))!;
  assert.is(v.homeAddress, ip('10.1.0.77'));
});

test('reply accepted: mn-state foreign with outer and home addresses, ipip, VPN up; lifetime = min(requested, granted)', () => {
  const { st, rx, acts } = attached({}, { lifetime: 300 });
  const v = one(states(acts), 'mn-state');
  assert.equal(v, {
    kind: 'mn-state', location: 'foreign', homeAddress: HOME, outerAddress: OUTER, careOf: WIFI_ADDR, ifname: 'wlan0',
    agent: 0, tunnel: 'ipip', natPort: 0, vpn: 'up', others: [],
  });
  const s = mnStatus(st, render) as { registration: string; outerBinding: { granted: number }; homeBinding: { granted: number } };
  assert.is(s.registration, 'registered');
  assert.is(s.outerBinding.granted, 300);
  assert.is(s.homeBinding.granted, 600);
  // A duplicate of the same reply no longer matches a pending request.
  assert.is(states(stepMn(st, udp(proxyReply(rx, { lifetime: 300 })), T0 + 300)).length, 0);
  assert.is(st.counters['rx-reply-unmatched'], 1);
});

test('FA attach: request sent to the FA with its CoA, no D bit, lifetime capped by the advertisement', () => {
  const st = mn();
  stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0); // co-located address, but an FA will be heard
  // Heard 1.5 s later: RFC 5944 §3.6 allows at most one registration per second.
  const acts = stepMn(st, adv('wlan0', { src: ip('192.0.2.3'), coas: [FA_COA], regLifetime: 120 }), T0 + 1500);
  const s = one(sends(acts), 'request via FA');
  assert.is(s.dst, ip('192.0.2.3')); // the advertisement's source (RFC 5944 §3.6.1.1)
  const r = parse(s).req;
  assert.equal({ coa: r.careOfAddress, flags: r.flags, lifetime: r.lifetime }, { coa: FA_COA, flags: RegFlag.T, lifetime: 120 });
  assert.ok(!r.extensions.some((e) => e.kind === 'udp-tunnel-request'));
  const v = lastState(stepMn(st, udp(proxyReply(parse(s)), ip('192.0.2.3')), T0 + 1700))!;
  assert.equal({ location: v.location, careOf: v.careOf, agent: v.agent, vpn: v.vpn }, { location: 'foreign', careOf: FA_COA, agent: ip('192.0.2.3'), vpn: 'up' });
});

test('retransmission (RFC 5944 §3.6.3): 1 s doubling to the cap, a new timestamp Identification each time', () => {
  const st = mn({ maxRetransmitInterval: 8 });
  const sent: Array<{ t: number; idLow: number; idHigh: number }> = [];
  const push = (t: number, acts: Action[]): void => {
    for (const s of sends(acts)) { const r = parse(s).req; sent.push({ t, idLow: r.idLow, idHigh: r.idHigh }); }
  };
  push(0, stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0));
  for (let t = 100; t <= 40_000; t += 100) push(t, stepMn(st, { kind: 'tick' }, T0 + t));
  assert.equal(sent.map((s) => s.t), [0, 1000, 3000, 7000, 15000, 23000, 31000, 39000]);
  assert.is(new Set(sent.map((s) => s.idLow)).size, sent.length);
  for (let i = 1; i < sent.length; i++) assert.ok(sent[i]!.idHigh > sent[i - 1]!.idHigh || sent[i]!.idLow > sent[i - 1]!.idLow);
  // Only the latest Identification matches: a reply to an earlier one is silently dropped.
});

test('retransmission with nonces: the unanswered request is resent unchanged (RFC 5944 §3.6.3)', () => {
  const st = mn({}, { proxy: 'nonce', home: 'nonce' });
  const first = one(sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0)));
  const again = one(sends(stepMn(st, { kind: 'tick' }, T0 + 1000)));
  assert.ok(first.data.equals(again.data));
});

test('reply to a superseded Identification is dropped; the latest one is accepted', () => {
  const st = mn();
  const r0 = parse(one(sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0))));
  const r1 = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 1000))));
  stepMn(st, udp(proxyReply(r0)), T0 + 1100);
  assert.is(st.counters['rx-reply-unmatched'], 1);
  assert.is(lastState(stepMn(st, udp(proxyReply(r1)), T0 + 1200))!.vpn, 'up');
});

test('133 from the proxy: clock resync, immediate resend with the corrected time, then success', () => {
  const st = mn();
  const rx = parse(one(sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0))));
  const proxyTime = ntp(T0) + 3600; // the proxy's clock is an hour ahead
  const acts = stepMn(st, udp(proxyReply(rx, { code: 133, idHigh: proxyTime, inner: null })), T0 + 200);
  const again = parse(one(sends(acts), 'resend'));
  assert.ok(Math.abs(again.req.idHigh - proxyTime) <= 1, 'new Identification uses the proxy clock');
  assert.is.not(again.req.idLow, rx.req.idLow);
  assert.ok(again.home, 'home request still included');
  assert.is(again.home!.req.idHigh, ntp(T0 + 200)); // the home SA was not resynchronised
  assert.is(lastState(stepMn(st, udp(proxyReply(again)), T0 + 400))!.vpn, 'up');
  assert.is(st.counters.resync, 1);
});

test('133 from the i-HA (inner reply): the home SA is resynchronised and the home request resent', () => {
  const st = mn();
  const rx = parse(one(sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0))));
  const haTime = ntp(T0) - 500;
  const acts = stepMn(st, udp(proxyReply(rx, { code: 133, inner: { code: 133, idHigh: haTime } })), T0 + 200);
  const again = parse(one(sends(acts)));
  assert.is(again.req.idHigh, ntp(T0 + 200)); // outer clock untouched
  assert.ok(Math.abs(again.home!.req.idHigh - haTime) <= 1);
  assert.is(lastState(stepMn(st, udp(proxyReply(again)), T0 + 400))!.vpn, 'up');
});

test('nonce SA: the nonce of a 133 reply becomes the next high half', () => {
  const st = mn({}, { proxy: 'nonce', home: 'timestamp' });
  const rx = parse(one(sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0))));
  assert.is(rx.req.idHigh, 0);
  const again = parse(one(sends(stepMn(st, udp(proxyReply(rx, { code: 133, idHigh: 0xdeadbeef, inner: null, proxySa: proxySa('nonce') })), T0 + 100))));
  assert.is(again.req.idHigh, 0xdeadbeef);
});

test('replies that fail authentication are ignored and counted, never change state', () => {
  const st = mn();
  const rx = parse(one(sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0))));
  const before = JSON.stringify(mnStatus(st, render));
  const wrongOuter = stepMn(st, udp(proxyReply(rx, { proxySa: proxySa('timestamp', 'wrong') })), T0 + 100);
  const wrongInner = stepMn(st, udp(proxyReply(rx, { homeSa: homeSa('timestamp', 'wrong') })), T0 + 150);
  const forged133 = stepMn(st, udp(proxyReply(rx, { code: 133, idHigh: 1, proxySa: proxySa('timestamp', 'wrong') })), T0 + 160);
  const forgedDeny = stepMn(st, udp(proxyReply(rx, { code: 131, proxySa: proxySa('timestamp', 'wrong') })), T0 + 170);
  for (const a of [wrongOuter, wrongInner, forged133, forgedDeny]) {
    assert.is(states(a).length, 0);
    assert.is(sends(a).length, 0);
  }
  assert.is(st.counters['rx-reply-auth-failed'], 3);
  assert.is(st.counters['rx-home-reply-invalid'], 1);
  const after = mnStatus(st, render) as { counters: unknown };
  const b = JSON.parse(before) as { counters: unknown };
  b.counters = after.counters;
  assert.equal(after, b);
  // The genuine reply still works afterwards.
  assert.is(lastState(stepMn(st, udp(proxyReply(rx)), T0 + 200))!.vpn, 'up');
});

test('an extension appended after the authenticator is not trusted (UDP tunnel reply)', () => {
  const st = mn({ alwaysUdpTunnel: true });
  const rx = parse(one(sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0))));
  const signed = proxyReply(rx);
  const tail = Buffer.from([44, 6, 0, 0, 0, 0, 0, 20]);
  const v = lastState(stepMn(st, udp(Buffer.concat([signed, tail])), T0 + 100))!;
  assert.is(v.tunnel, 'ipip');
});

test('re-registration before expiry: outer at 2/3 of its lifetime, the home request only when < 1/3 is left', () => {
  const { st } = attached({}, { lifetime: 300, inner: { lifetime: 600 } });
  // Outer granted 300 s from T0 → renew at T0 + 200 s; home granted 600 s → renew at T0 + 400 s.
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 199_000)).length, 0);
  const r1 = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 200_000)), 'renewal'));
  assert.equal({ coa: r1.req.careOfAddress, home: r1.req.homeAddress, flags: r1.req.flags }, { coa: WIFI_ADDR, home: OUTER, flags: RegFlag.T | RegFlag.D });
  assert.is(r1.home, null, 'home binding has more than 1/3 left');
  stepMn(st, udp(proxyReply(r1, { lifetime: 300 })), T0 + 200_100);
  // Outer renewed from T0 + 200 s (sent time) → next at T0 + 400 s; home due at T0 + 400 s too.
  const r2 = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 400_000)), 'renewal 2'));
  assert.ok(r2.home, 'home binding renewed through the proxy');
  assert.is(r2.home!.req.homeAddress, HOME);
});

test('make-before-break: a better interface registers with S, the old CoA is used until the reply, then S is dropped', () => {
  const { st } = attached();
  const a1 = stepMn(st, link('eth0', true, [WIRED_ADDR]), T0 + 10_000);
  const rx = parse(one(sends(a1), 'S registration'));
  assert.equal({ coa: rx.req.careOfAddress, flags: rx.req.flags }, { coa: WIRED_ADDR, flags: RegFlag.S | RegFlag.T | RegFlag.D });
  assert.is(rx.home, null, 'a move does not involve the i-HA');
  // The data plane keeps the old CoA until the new binding is accepted; the new one is only an
  // exit for the registration in flight (its own link's table).
  assert.equal(states(a1).map((v) => ({ careOf: v.careOf, others: v.others })),
    [{ careOf: WIFI_ADDR, others: [{ ifname: 'eth0', careOf: WIRED_ADDR, agent: 0, tunnel: 'none' }] }]);
  const v = lastState(stepMn(st, udp(proxyReply(rx)), T0 + 10_200))!;
  assert.equal({ careOf: v.careOf, ifname: v.ifname, vpn: v.vpn, outer: v.outerAddress }, { careOf: WIRED_ADDR, ifname: 'eth0', vpn: 'up', outer: OUTER });
  const a3 = stepMn(st, { kind: 'tick' }, T0 + 11_000);
  const rx3 = parse(one(sends(a3), 'replacing registration'));
  assert.equal({ coa: rx3.req.careOfAddress, flags: rx3.req.flags }, { coa: WIRED_ADDR, flags: RegFlag.T | RegFlag.D });
});

test('without simultaneous bindings a move registers without S; losing the interface moves immediately', () => {
  const { st } = attached({ simultaneousBindings: false });
  const rx = parse(one(sends(stepMn(st, link('eth0', true, [WIRED_ADDR]), T0 + 5000))));
  assert.is(rx.req.flags & RegFlag.S, 0);
  stepMn(st, udp(proxyReply(rx)), T0 + 5100);
  const acts = stepMn(st, link('eth0', false), T0 + 9000);
  const back = parse(one(sends(acts)));
  assert.is(back.req.careOfAddress, WIFI_ADDR);
  assert.is(back.req.flags & RegFlag.S, 0, 'old interface gone: nothing to make before break');
  assert.equal(lastState(acts)!.vpn, 'down');
});

test('a link change lifts the once-per-second limit (RFC 5944 §3.6.1.1); without one the limit holds', () => {
  const { st } = attached({ simultaneousBindings: false });
  // 300 ms after the last request: the wired link appears — a link-layer indication.
  const rx = parse(one(sends(stepMn(st, link('eth0', true, [WIRED_ADDR]), T0 + 500))));
  assert.is(rx.req.careOfAddress, WIRED_ADDR, 'registered at once, not a second after the last request');
  stepMn(st, udp(proxyReply(rx)), T0 + 520);
  // A renewal-style attempt with no link change within the second stays rate limited.
  st.reg.outerRenewAt = T0 + 600;
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 700)).length, 0, 'no request sooner than a second after the last');
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 1600)).length, 1);
});

test('NAT: a UDP tunnel reply turns the tunnel to udp with the keepalive; later requests keep asking for it', () => {
  const st = mn({ alwaysUdpTunnel: true });
  const rx = parse(one(sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0))));
  const utr = findExt(rx.req.extensions, 'udp-tunnel-request');
  assert.ok(utr);
  assert.equal({ flags: utr!.flags, encap: utr!.encapsulation }, { flags: 0, encap: 4 });
  assert.equal(rx.req.extensions.map((e) => e.kind), ['nai', 'nvse', 'udp-tunnel-request', 'auth']);
  const v = lastState(stepMn(st, udp(proxyReply(rx, { udp: { code: 0, keepalive: 25 } })), T0 + 100))!;
  assert.equal({ tunnel: v.tunnel, natPort: v.natPort, vpn: v.vpn }, { tunnel: 'udp', natPort: PORT, vpn: 'up' });
  const s = mnStatus(st, render) as { keepalive: number; natDetected: boolean };
  assert.equal({ k: s.keepalive, nat: s.natDetected }, { k: 25, nat: true });
  // Reload without alwaysUdpTunnel: the NAT seen before still asks for the UDP tunnel.
  reloadMn(st, { ...st.cfg, alwaysUdpTunnel: false });
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 2000)).length, 0, 'reload alone does not re-register');
  const r2 = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 400_000)), 'renewal'));
  assert.ok(findExt(r2.req.extensions, 'udp-tunnel-request'));
});

test('forced UDP tunnelling sets F; a declined tunnel stays ipip', () => {
  const st = mn({ forceUdpTunnel: true });
  const rx = parse(one(sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0))));
  assert.is(findExt(rx.req.extensions, 'udp-tunnel-request')!.flags, UdpTunnelReqFlag.F);
  assert.is(lastState(stepMn(st, udp(proxyReply(rx, { udp: { code: 64, keepalive: 0 } })), T0 + 100))!.tunnel, 'ipip');
});

test('back home: home deregistration straight to the i-HA, outer deregistration to the proxy, VPN pass-through', () => {
  const { st } = attached();
  const acts = stepMn(st, link('eth0', true, [ip('10.1.0.50')], 16), T0 + 20_000);
  const out = sends(acts);
  assert.is(out.length, 2);
  const home = parse(out.find((s) => s.dst === HA)!);
  assert.equal(
    { lifetime: home.req.lifetime, home: home.req.homeAddress, ha: home.req.homeAgent, coa: home.req.careOfAddress },
    { lifetime: 0, home: HOME, ha: HA, coa: HOME },
  );
  assert.ok(verifies(homeSa(), home.bytes, home.req));
  const outer = parse(out.find((s) => s.dst === PROXY_OUT)!);
  assert.equal(
    { lifetime: outer.req.lifetime, home: outer.req.homeAddress, ha: outer.req.homeAgent, coa: outer.req.careOfAddress },
    { lifetime: 0, home: OUTER, ha: PROXY_OUT, coa: OUTER },
  );
  assert.ok(out.every((s) => s.src === HOME), 'sent from the home address on the home link');
  assert.ok(verifies(proxySa(), outer.bytes, outer.req));
  assert.is(outer.home, null);
  const v = lastState(acts)!;
  assert.equal({ location: v.location, vpn: v.vpn, home: v.homeAddress, tunnel: v.tunnel, ifname: v.ifname }, { location: 'home', vpn: 'pass-through', home: HOME, tunnel: 'none', ifname: 'eth0' });
  stepMn(st, udp(haReply(home), HA), T0 + 20_100);
  stepMn(st, udp(proxyReply(outer)), T0 + 20_100);
  assert.is(st.counters.deregistered, 2);
  // No renewals at home.
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 600_000)).length, 0);
});

test('back home detected from the i-HA advertisement (H bit)', () => {
  const { st } = attached();
  stepMn(st, link('eth0', true), T0 + 1000);
  const acts = stepMn(st, adv('eth0', { src: HA, flags: AdvFlag.H, coas: [] }), T0 + 2000);
  assert.is(sends(acts).length, 2);
  assert.is(lastState(acts)!.location, 'home');
});

test('deregistrations are retransmitted and given up after three transmissions', () => {
  const { st } = attached();
  stepMn(st, link('eth0', true, [HOME], 16), T0 + 20_000);
  let n = 0;
  for (let t = 20_100; t < 60_000; t += 100) n += sends(stepMn(st, { kind: 'tick' }, T0 + t)).length;
  assert.is(n, 4); // two more transmissions of each
  assert.is(st.counters['dereg-given-up'], 2);
});

test('leaving home before the deregistrations are answered: the registration from away supersedes them (no late retransmission)', () => {
  const { st } = attached();
  stepMn(st, link('eth0', true, [HOME], 16), T0 + 20_000); // home: two deregistrations, unanswered
  stepMn(st, link('wlan0', false), T0 + 20_100);
  stepMn(st, link('eth0', false), T0 + 20_200);
  const regs = sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0 + 20_300)).map(parse);
  let late = 0, away = regs.filter((r) => r.req.lifetime > 0).length;
  for (let t = 20_400; t < 60_000; t += 100) {
    for (const s of sends(stepMn(st, { kind: 'tick' }, T0 + t)).map(parse)) {
      if (s.req.lifetime === 0) late++;
      else if (away === 0) away++;
    }
  }
  assert.ok(away > 0, 'a registration from away');
  assert.is(late, 0, 'no deregistration retransmitted after the registration from away');
});

test('detach: all interfaces down → mn-state detached, VPN down, no registrations', () => {
  const { st } = attached();
  const acts = stepMn(st, link('wlan0', false), T0 + 5000);
  const v = lastState(acts)!;
  assert.equal({ location: v.location, vpn: v.vpn, careOf: v.careOf, tunnel: v.tunnel }, { location: 'detached', vpn: 'down', careOf: 0, tunnel: 'none' });
  assert.is(sends(acts).length, 0);
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 400_000)).length, 0);
});

test('shutdown: deregisters (lifetime 0) and reports detached; later events do nothing', () => {
  const { st } = attached();
  const acts = stepMn(st, { kind: 'shutdown' }, T0 + 5000);
  const rx = parse(one(sends(acts)));
  // All care-of addresses at once: CoA = the outer (home) address, RFC 5944 §3.6.1.2.
  assert.equal({ lifetime: rx.req.lifetime, coa: rx.req.careOfAddress, home: rx.req.homeAddress, dst: one(sends(acts)).dst }, { lifetime: 0, coa: OUTER, home: OUTER, dst: PROXY_OUT });
  assert.ok(verifies(proxySa(), rx.bytes, rx.req));
  assert.is(rx.home!.req.lifetime, 0, 'home binding deregistered through the proxy');
  assert.is(lastState(acts)!.location, 'detached');
  assert.is(stepMn(st, { kind: 'tick' }, T0 + 900_000).length, 0);
});

test('128 "home registration required" → resent with the home request', () => {
  const { st } = attached({}, { lifetime: 300 });
  const r1 = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 200_000))));
  assert.is(r1.home, null);
  const acts = stepMn(st, udp(proxyReply(r1, { code: 128, message: 'home registration required' })), T0 + 200_100);
  const r2 = parse(one(sends(acts)));
  assert.ok(r2.home);
  assert.is(lastState(stepMn(st, udp(proxyReply(r2)), T0 + 200_300)) ?? 'unchanged', 'unchanged');
  assert.is((mnStatus(st, render) as { registration: string }).registration, 'registered');
});

test('transient denial (130) backs off and retries; authentication failure (131) stops until reload', () => {
  const st = mn();
  const rx = parse(one(sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0))));
  const a = stepMn(st, udp(proxyReply(rx, { code: 130, inner: { code: 130 } })), T0 + 100);
  assert.ok(a.some((x) => x.kind === 'log' && x.event === 'mn-registration-denied' && String(x.fields.reason).includes('insufficient resources')));
  assert.is(sends(stepMn(st, { kind: 'tick' }, T0 + 2000)).length, 0);
  const rx2 = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 2100)), 'retry after back-off'));
  stepMn(st, udp(proxyReply(rx2, { code: 131, inner: { code: 131 } })), T0 + 2200);
  let n = 0;
  for (let t = 3000; t < 300_000; t += 1000) n += sends(stepMn(st, { kind: 'tick' }, T0 + t)).length;
  assert.is(n, 0);
  assert.is((mnStatus(st, render) as { registration: string }).registration, 'stopped');
  const after = sends(reloadMn(st, config()));
  assert.is(after.length, 1, 'reload lifts the stop');
});

test('plain Mobile IP (no proxy): registration with the i-HA, homeSa, no NVSE; VPN stays pass-through', () => {
  const st = mn({ proxy: null, reverseTunnel: false });
  const s = one(sends(stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0)));
  assert.is(s.dst, HA);
  const rx = parse(s);
  assert.equal({ home: rx.req.homeAddress, ha: rx.req.homeAgent, coa: rx.req.careOfAddress, flags: rx.req.flags }, { home: HOME, ha: HA, coa: WIFI_ADDR, flags: RegFlag.D });
  assert.equal(rx.req.extensions.map((e) => e.kind), ['auth']);
  assert.ok(verifies(homeSa(), rx.bytes, rx.req));
  const v = lastState(stepMn(st, udp(haReply(rx), HA), T0 + 100))!;
  assert.equal({ location: v.location, outer: v.outerAddress, vpn: v.vpn, tunnel: v.tunnel }, { location: 'foreign', outer: 0, vpn: 'pass-through', tunnel: 'ipip' });
});

test('agent reboot (sequence < 256 after a larger one) triggers re-registration; rollover does not', () => {
  const st = mn();
  stepMn(st, link('wlan0', true), T0);
  const rx = parse(one(sends(stepMn(st, adv('wlan0', { seq: 5000 }), T0 + 100))));
  stepMn(st, udp(proxyReply(rx), FA), T0 + 200);
  assert.is(sends(stepMn(st, adv('wlan0', { seq: 300 }), T0 + 5000)).length, 0, 'rollover past 0xffff');
  assert.is(sends(stepMn(st, adv('wlan0', { seq: 2 }), T0 + 6000)).length, 1, 'rebooted');
  assert.is(st.counters['agent-reboot'], 1);
});

test('a second agent on the link does not move a node whose agent is still heard (RFC 5944 §3.6)', () => {
  const st = mn();
  stepMn(st, link('wlan0', true), T0);
  const rx = parse(one(sends(stepMn(st, adv('wlan0'), T0 + 100))));
  stepMn(st, udp(proxyReply(rx), FA), T0 + 200);
  const acts = stepMn(st, adv('wlan0', { src: ip('192.0.2.77'), coas: [ip('192.0.2.77')] }), T0 + 5000);
  assert.is(sends(acts).length + states(acts).length, 0);
  assert.is(st.counters['rx-adv-other-agent'], 1);
});

test('an unauthenticated FA denial backs off; a proxy reply without the home reply does not loop', () => {
  const st = mn();
  stepMn(st, link('wlan0', true), T0);
  const rx = parse(one(sends(stepMn(st, adv('wlan0', { lifetime: 9000 }), T0 + 100))));
  const deny = encodeReply({ type: 3, code: 66, lifetime: 0, homeAddress: 0, homeAgent: PROXY_OUT, idHigh: rx.req.idHigh, idLow: rx.req.idLow, extensions: [] }, []);
  stepMn(st, udp(deny, FA), T0 + 200);
  assert.is(st.counters['denied-66'], 1);
  const rx2 = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 2200)), 'retry'));
  stepMn(st, udp(proxyReply(rx2, { inner: null, lifetime: 300 }), FA), T0 + 2300);
  let n = 0;
  for (let t = 3000; t < 150_000; t += 1000) n += sends(stepMn(st, { kind: 'tick' }, T0 + t)).length;
  assert.is(n, 0, 'no registration before the outer renewal');
  const r3 = parse(one(sends(stepMn(st, { kind: 'tick' }, T0 + 202_200)), 'renewal'));
  assert.ok(r3.home, 'the home request goes with the renewal');
});

test('agent lifetime expiry: the agent is lost, the node falls back to its co-located address', () => {
  const st = mn();
  stepMn(st, link('wlan0', true, [WIFI_ADDR]), T0);
  const rx = parse(one(sends(stepMn(st, adv('wlan0', { lifetime: 10 }), T0 + 1000)))); // FA preferred
  stepMn(st, udp(proxyReply(rx), FA), T0 + 1100);
  const acts = stepMn(st, { kind: 'tick' }, T0 + 11_000);
  assert.is(st.counters['agent-lost'], 1);
  const r2 = parse(one(sends(acts)));
  assert.equal({ coa: r2.req.careOfAddress, d: r2.req.flags & RegFlag.D }, { coa: WIFI_ADDR, d: RegFlag.D });
  assert.is(icmps(acts).length, 1, 'agent lost: solicit again');
});

test('binding expiry without an answer turns the VPN down', () => {
  const { st } = attached({}, { lifetime: 30, inner: { lifetime: 600 } });
  let last = 'up';
  for (let t = 1000; t <= 31_000; t += 1000) { const v = lastState(stepMn(st, { kind: 'tick' }, T0 + t)); if (v) last = v.vpn; }
  assert.is(last, 'down');
  assert.is(st.counters['binding-expired'], 1);
});

test('malformed UDP and ICMP bytes and odd events never throw (seeded)', () => {
  const r = mulberry32(0x5eed);
  const { st, rx } = attached();
  const good = proxyReply(rx);
  for (let i = 0; i < 3000; i++) {
    let ev: RoleEvent;
    const k = below(r, 5);
    if (k === 0) {
      const b = Buffer.alloc(below(r, 80));
      for (let j = 0; j < b.length; j++) b[j] = below(r, 256);
      if (b.length && below(r, 2)) b[0] = 3;
      ev = udp(b);
    } else if (k === 1) {
      const b = Buffer.from(good.subarray(0, below(r, good.length + 1)));
      if (b.length) b[below(r, b.length)] = below(r, 256);
      ev = udp(b);
    } else if (k === 2) {
      const b = advBytes({ seq: below(r, 0x10000) });
      const c = Buffer.from(b.subarray(0, below(r, b.length + 1)));
      if (c.length && below(r, 2)) c[below(r, c.length)] = below(r, 256);
      ev = { kind: 'icmp', src: r(), dst: 0, ifname: ['wlan0', 'eth0', 'bogus'][below(r, 3)]!, ttl: 1, data: c };
    } else if (k === 3) {
      ev = { kind: 'link', ifname: ['wlan0', 'eth0', 'x'][below(r, 3)]!, up: below(r, 2) === 1, addresses: below(r, 2) ? [{ address: r(), prefixLength: below(r, 33) }] : [] };
    } else {
      ev = { kind: 'tick' };
    }
    let acts: Action[] = [];
    try {
      acts = stepMn(st, ev, T0 + 1000 + i * 37);
    } catch (err) {
      assert.unreachable(`threw on event ${i}: ${String(err)}`);
    }
    assert.ok(Array.isArray(acts));
  }
  assert.is(st.counters['internal-error'] ?? 0, 0);
  assert.ok((st.counters['rx-reply-malformed'] ?? 0) + (st.counters['rx-not-reply'] ?? 0) > 0);
  // A reply with a valid structure but a non-matching id is simply unmatched.
  const stray = encodeReply({ type: 3, code: 0, lifetime: 1, homeAddress: 0, homeAgent: 0, idHigh: 0, idLow: 12345, extensions: [] }, []);
  stepMn(st, udp(stray), T0 + 200_000);
});

test.run();
