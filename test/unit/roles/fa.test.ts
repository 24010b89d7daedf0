import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stepFa, faStatus, faVisitors, reloadFa, FaState } from '../../../src/roles/fa';
import type { Action, RoleEvent } from '../../../src/roles/types';
import * as request from '../../../src/wire/registration-request';
import * as reply from '../../../src/wire/registration-reply';
import * as revocationAck from '../../../src/wire/revocation-ack';
import * as solicitation from '../../../src/wire/agent-solicitation';
import { AdvFlag, RegFlag, REVOCATION_SUPPORT_I } from '../../../src/wire/constants';
import type { Extension } from '../../../src/wire/extensions';
import { appendAuth, checkAuth, encodeRevocation, firstAuth, findExt } from '../../../src/roles/messages';
import { mulberry32, below } from '../../util/prng';
import {
  a, COA, COA2, HA, HA_NOSA, HOME, MN_PORT, T0, MN_HA, FA_HA, MN_FA, sa, fa, req, rep, fromMn, fromHa, appendExts,
  udps, icmps, visitors, parseAdv, maExt,
} from './fa-util';

const TICK: RoleEvent = { kind: 'tick' };
const ip = (n: number): string => `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;

function solicit(ifname = 'wlan0', over: Partial<Extract<RoleEvent, { kind: 'icmp' }>> = {}): RoleEvent {
  const data = Buffer.alloc(8);
  solicitation.encode({ type: 10, code: 0 }, data, 0);
  return { kind: 'icmp', src: HOME, dst: a('224.0.0.11'), ifname, ttl: 1, linkSrc: '02aabbccddee', data, ...over };
}

/** Registers HOME through the FA: request, then an accepted reply. Returns the actions of the reply. */
function register(st: FaState, now = T0, lifetime = 300): Action[] {
  stepFa(st, fromMn(req({ fields: { lifetime } })), now);
  return stepFa(st, fromHa(rep({ lifetime })), now + 50);
}

// ---- advertisements ----------------------------------------------------------------------------

test('advertisement: first tick sends one per access interface with RFC 5944 §2.1 contents', () => {
  const st = fa();
  const acts = stepFa(st, TICK, T0);
  const ads = icmps(acts);
  assert.equal(ads.map((x) => x.ifname), ['wlan0', 'lan1']);
  for (const [i, x] of ads.entries()) {
    assert.is(x.dst, a('224.0.0.1'));
    assert.is(x.ttl, 1);
    assert.is(x.data.length % 2, 0, 'even ICMP length (pad, §2.1.3)');
    const { m, checksumOk, challenge } = parseAdv(x.data);
    assert.ok(checksumOk);
    assert.is(challenge, undefined);
    assert.is(m.code, 0);
    assert.is(m.lifetime, 9, '3 × interval (RFC 1256)');
    const addr = i === 0 ? COA : COA2;
    assert.equal(m.routers, [{ address: addr, preference: 0 }]);
    const e = maExt(m);
    assert.is(e.sequence, 0);
    assert.is(e.registrationLifetime, 600);
    assert.is(e.flags, AdvFlag.F | AdvFlag.R | AdvFlag.T | AdvFlag.X);
    assert.equal(e.careOfAddresses, [addr]);
    assert.equal(m.extensions.find((y) => y.kind === 'prefix-lengths'), { kind: 'prefix-lengths', prefixLengths: [24] });
  }
  assert.is(st.counters.adv_sent, 2);
});

test('advertisement: sequence numbers increase every interval and wrap from 0xffff to 256', () => {
  const st = fa();
  const seqs: number[] = [];
  for (let t = 0; t <= 9000; t += 500) {
    for (const x of icmps(stepFa(st, TICK, T0 + t))) if (x.ifname === 'wlan0') seqs.push(maExt(parseAdv(x.data).m).sequence);
  }
  assert.equal(seqs, [0, 1, 2, 3], 'at 0, 3, 6, 9 s');
  st.ifaces.get('wlan0')!.seq = 0xfffe;
  const next = (t: number) => maExt(parseAdv(icmps(stepFa(st, TICK, t))[0]!.data).m).sequence;
  assert.is(next(T0 + 12000), 0xffff);
  assert.is(next(T0 + 15000), 256);
  assert.is(next(T0 + 18000), 257);
});

test('advertisement: flags follow config (U, no T, no R, no X), code 16, explicit lifetime; never H', () => {
  const st = fa({ behindNat: true, reverseTunnel: 'no', registrationRequired: false, revocation: false, mobilityOnly: true, advertisementLifetime: 45 });
  const { m } = parseAdv(icmps(stepFa(st, TICK, T0))[0]!.data);
  assert.is(m.code, 16);
  assert.is(m.lifetime, 45);
  assert.is(maExt(m).flags, AdvFlag.F | AdvFlag.U);
});

test('advertisement: B bit when the visitor table is full', () => {
  const st = fa({}, { visitorCapacity: 1, pendingCapacity: 2 });
  register(st);
  const ads = icmps(stepFa(st, TICK, T0 + 100));
  assert.ok(maExt(parseAdv(ads[0]!.data).m).flags & AdvFlag.B);
});

test('advertisement: interval 0 sends nothing on ticks but answers solicitations (lifetime 1800)', () => {
  const st = fa({ advertiseInterval: 0 });
  assert.is(icmps(stepFa(st, TICK, T0)).length, 0);
  assert.is(icmps(stepFa(st, TICK, T0 + 60_000)).length, 0);
  const ads = icmps(stepFa(st, solicit(), T0 + 61_000));
  assert.is(ads.length, 1);
  assert.is(parseAdv(ads[0]!.data).m.lifetime, 1800);
});

test('solicitation: answered by a multicast advertisement on that interface, rate-limited to 1/s', () => {
  const st = fa();
  stepFa(st, TICK, T0);
  const first = icmps(stepFa(st, solicit('lan1', { ttl: 255 }), T0 + 100));
  assert.is(first.length, 1);
  assert.is(first[0]!.ifname, 'lan1');
  assert.is(first[0]!.dst, a('224.0.0.1'));
  assert.is(maExt(parseAdv(first[0]!.data).m).sequence, 1);
  assert.is(st.counters.rx_solicit_ttl_not_1, 1, 'any source, any TTL accepted (RFC 5944 §2.3), but counted');
  assert.is(icmps(stepFa(st, solicit('lan1'), T0 + 600)).length, 0);
  assert.is(st.counters.solicit_ratelimited, 1);
  assert.is(icmps(stepFa(st, solicit('lan1'), T0 + 1200)).length, 1);
  assert.is(icmps(stepFa(st, solicit('eth9'), T0 + 5000)).length, 0);
  assert.is(st.counters.rx_not_access, 1);
  const bad = solicit();
  (bad as { data: Buffer }).data = Buffer.from([10, 1, 0, 0, 0, 0, 0, 0]);
  assert.is(icmps(stepFa(st, bad, T0 + 9000)).length, 0);
  assert.is(st.counters.rx_malformed, 1);
});

test('link events: down stops advertising, up advertises at once, missing care-of address stops it', () => {
  const st = fa();
  stepFa(st, TICK, T0);
  stepFa(st, { kind: 'link', ifname: 'wlan0', up: false, addresses: [] }, T0 + 100);
  assert.equal(icmps(stepFa(st, TICK, T0 + 3000)).map((x) => x.ifname), ['lan1']);
  const up = icmps(stepFa(st, { kind: 'link', ifname: 'wlan0', up: true, addresses: [{ address: COA, prefixLength: 25 }] }, T0 + 4000));
  assert.is(up.length, 1);
  assert.equal(parseAdv(up[0]!.data).m.extensions.find((y) => y.kind === 'prefix-lengths'), { kind: 'prefix-lengths', prefixLengths: [25] });
  // hotplug ifup again: re-advertise
  assert.is(icmps(stepFa(st, { kind: 'link', ifname: 'wlan0', up: true, addresses: [{ address: COA, prefixLength: 25 }] }, T0 + 4500)).length, 1);
  stepFa(st, { kind: 'link', ifname: 'wlan0', up: true, addresses: [{ address: a('192.0.2.99'), prefixLength: 24 }] }, T0 + 5000);
  assert.equal(icmps(stepFa(st, TICK, T0 + 20_000)).map((x) => x.ifname), ['lan1']);
  assert.is(stepFa(st, { kind: 'link', ifname: 'eth9', up: true, addresses: [] }, T0).length, 0);
  assert.is(st.counters.link_ignored, 1);
  // a request on the interface that lost its address is not relayed
  assert.is(udps(stepFa(st, fromMn(req()), T0 + 21_000)).length, 0);
  assert.is(st.counters.rx_iface_down, 1);
});

// ---- requests ------------------------------------------------------------------------------------

test('request: relayed to the HA with extensions after MN-HA stripped, 137 and FA-HA appended', () => {
  const st = fa();
  const nai: Extension = { kind: 'nai', nai: 'mn@example.com' };
  const orig = req({ before: [nai], after: [{ kind: 'unknown', type: 200, data: new Uint8Array([1, 2, 3]) }], mnFa: sa(999, 'x') });
  const acts = stepFa(st, fromMn(orig), T0);
  const [out] = udps(acts);
  assert.ok(out);
  assert.is(out!.dst, HA);
  assert.is(out!.dstPort, 434);
  assert.is(out!.src, COA, 'IP source = care-of address (§3.7.2.2)');
  const m = request.decode(out!.data);
  const mnHaEnd = firstAuth(m.extensions, 32)!.offset! + 6 + 16;
  assert.ok(out!.data.subarray(0, mnHaEnd).equals(orig.subarray(0, mnHaEnd)), 'bytes through MN-HA unchanged');
  assert.equal(m.extensions.map((e) => e.kind === 'auth' ? `auth${e.type}` : e.kind), ['nai', 'auth32', 'revocation-support', 'auth34']);
  const rs = findExt(m.extensions, 'revocation-support')!;
  assert.is(rs.flags & REVOCATION_SUPPORT_I, 0);
  assert.ok(checkAuth(FA_HA, out!.data, 0, firstAuth(m.extensions, 34)), 'FA-HA verifies with the SA');
  assert.ok(checkAuth(MN_HA, out!.data, 0, firstAuth(m.extensions, 32)), 'MN-HA still verifies');
  assert.is(st.counters.relayed, 1);
  const [p] = faVisitors(st, ip);
  assert.equal({ state: p!.state, home: p!.home, nai: p!.nai, ifname: p!.ifname, port: p!.port }, { state: 'pending', home: ip(HOME), nai: 'mn@example.com', ifname: 'wlan0', port: MN_PORT });
});

test('request: no FA-HA (and no 137) toward a HA without an SA, nor on a deregistration (App. F)', () => {
  const st = fa();
  const [o1] = udps(stepFa(st, fromMn(req({ fields: { homeAgent: HA_NOSA } })), T0));
  assert.equal(request.decode(o1!.data).extensions.map((e) => e.kind), ['auth']);
  const [o2] = udps(stepFa(st, fromMn(req({ fields: { lifetime: 0, idLow: 9 } })), T0));
  assert.equal(request.decode(o2!.data).extensions.map((e) => e.kind), ['auth']);
  const st2 = fa({ revocation: false });
  const [o3] = udps(stepFa(st2, fromMn(req()), T0));
  assert.equal(request.decode(o3!.data).extensions.map((e) => e.kind === 'auth' ? e.type : e.kind), [32, 34]);
});

test('request: arrival without ifname is matched by local address; non-access traffic dropped', () => {
  const st = fa();
  assert.is(udps(stepFa(st, fromMn(req({ fields: { careOfAddress: COA2 } }), { ifname: undefined, dst: COA2 }), T0)).length, 1);
  assert.is(udps(stepFa(st, fromMn(req(), { ifname: 'wan0' }), T0)).length, 0);
  assert.is(st.counters.rx_not_access, 1);
  // RFC 3543 §4.2.1: revocation support from a non-co-located MN is silently discarded
  assert.is(udps(stepFa(st, fromMn(req({ before: [{ kind: 'revocation-support', flags: 0, timestamp: 1 }] })), T0)).length, 0);
  assert.is(st.counters.rx_mn_revocation_ext, 1);
});

// ---- denials (table-driven) ------------------------------------------------------------------------

interface DenyCase { name: string; code: number; cfg?: Parameters<typeof fa>[0]; data?: () => Buffer; ev?: Record<string, unknown>; lifetime?: number }
const DENIALS: DenyCase[] = [
  { name: 'reserved flag bit r set', code: 70, data: () => req({ fields: { flags: RegFlag.T | RegFlag.r } }) },
  { name: 'no authorization-enabling extension', code: 70, data: () => req({ mnHa: false }) },
  { name: 'encapsulating delivery without T', code: 70, data: () => req({ fields: { flags: 0 }, after: [{ kind: 'encap-delivery' }] }) },
  { name: 'lifetime too long (reply carries the maximum)', code: 69, lifetime: 600, data: () => req({ fields: { lifetime: 601 } }) },
  { name: 'care-of address not offered here', code: 77, data: () => req({ fields: { careOfAddress: COA2 } }) },
  { name: 'minimal encapsulation requested', code: 72, data: () => req({ fields: { flags: RegFlag.T | RegFlag.M } }) },
  { name: 'GRE requested', code: 72, data: () => req({ fields: { flags: RegFlag.G } }) },
  { name: 'encapsulating delivery style', code: 79, data: () => req({ after: [{ kind: 'encap-delivery' }] }) },
  { name: 'reverse tunnel unavailable', code: 74, cfg: { reverseTunnel: 'no' } },
  { name: 'reverse tunnel mandatory, T clear', code: 75, cfg: { reverseTunnel: 'required' }, data: () => req({ fields: { flags: 0 } }) },
  { name: 'T set, TTL not 255', code: 76, ev: { ttl: 64 } },
  { name: 'CVSE for the FA after MN-HA', code: 100, data: () => req({ after: [{ kind: 'cvse', vendorId: 9, vendorType: 1, value: new Uint8Array(2) }] }) },
  { name: 'home address 0 without NAI', code: 97, data: () => req({ fields: { homeAddress: 0 } }) },
  { name: 'home agent 0.0.0.0', code: 98, data: () => req({ fields: { homeAgent: 0 } }) },
  { name: 'home agent is the FA itself', code: 194, data: () => req({ fields: { homeAgent: COA2 } }) },
  { name: 'home agent not configured (restricted)', code: 65, cfg: { restrictHomeAgents: true }, data: () => req({ fields: { homeAgent: a('203.0.113.77') } }) },
  { name: 'MN-FA SA, no MN-FA extension', code: 67, cfg: { mobileNodes: [{ home: HOME, sa: MN_FA }] } },
  { name: 'MN-FA SA, wrong key', code: 67, cfg: { mobileNodes: [{ home: HOME, sa: MN_FA }] }, data: () => req({ mnFa: sa(500, 'wrong') }) },
  { name: 'MN-FA SA by NAI, two MN-FA extensions', code: 67, cfg: { mobileNodes: [{ nai: 'n@x', sa: MN_FA }] },
    data: () => appendAuth(req({ before: [{ kind: 'nai', nai: 'n@x' }], mnFa: MN_FA }), [{ type: 33, sa: MN_FA }]) },
  { name: 'challenge on, none sent', code: 105, cfg: { challenge: true } },
  { name: 'challenge on, unknown value', code: 104, cfg: { challenge: true }, data: () => req({ after: [{ kind: 'challenge', challenge: new Uint8Array(8) }], mnFa: MN_FA }) },
];

for (const [i, c] of DENIALS.entries()) {
  test(`deny ${i + 1}: ${c.name} → ${c.code}`, () => {
    const st = fa(c.cfg);
    stepFa(st, TICK, T0);
    const data = (c.data ?? (() => req()))();
    const acts = stepFa(st, fromMn(data, c.ev as never), T0 + 10);
    const out = udps(acts);
    assert.is(out.length, 1);
    assert.is(out[0]!.dst, (request.decode(data).homeAddress || 0xffffffff) >>> 0);
    assert.is(out[0]!.dstPort, MN_PORT);
    assert.is(out[0]!.src, COA);
    const r = reply.decode(out[0]!.data);
    assert.is(r.code, c.code);
    const q = request.decode(data);
    assert.equal([r.homeAddress, r.homeAgent, r.idHigh, r.idLow], [q.homeAddress, q.homeAgent, q.idHigh, q.idLow]);
    assert.is(r.lifetime, c.lifetime ?? q.lifetime);
    assert.is(st.counters[`denied_${c.code}`], 1);
    assert.is(st.table.pendingCount, 0, 'no state change on a denial');
    assert.ok(acts.some((x) => x.kind === 'log' && x.event === 'fa.deny'));
  });
}

test('deny: 66 when the table is full and when the per-node limit is reached; denials rate-limited 1/s', () => {
  const st = fa({ maxPendingPerNode: 2 }, { visitorCapacity: 4, pendingCapacity: 2 });
  for (let i = 0; i < 2; i++) assert.is(udps(stepFa(st, fromMn(req({ fields: { idLow: i, homeAddress: HOME + i } })), T0))[0]!.dst, HA, 'relayed');
  const full = udps(stepFa(st, fromMn(req({ fields: { homeAddress: HOME + 9 } }), { src: HOME + 9 }), T0));
  assert.is(reply.decode(full[0]!.data).code, 66);
  assert.is(st.counters.table_full, 1);
  const st2 = fa({ maxPendingPerNode: 2 });
  stepFa(st2, fromMn(req({ fields: { idLow: 1 } })), T0);
  stepFa(st2, fromMn(req({ fields: { idLow: 2 } })), T0);
  assert.is(reply.decode(udps(stepFa(st2, fromMn(req({ fields: { idLow: 3 } })), T0))[0]!.data).code, 66);
  assert.is(st2.counters.pending_node_limit, 1);
  assert.is(udps(stepFa(st2, fromMn(req({ fields: { idLow: 4 } })), T0 + 500)).length, 0, 'second denial within 1 s not sent');
  assert.is(st2.counters.deny_ratelimited, 1);
  stepFa(st2, TICK, T0 + 1500);
  assert.is(udps(stepFa(st2, fromMn(req({ fields: { idLow: 5 } })), T0 + 1600)).length, 1);
});

// ---- replies -----------------------------------------------------------------------------------------

test('reply: relayed to the MN with FA-HA stripped; visitor created with the granted lifetime', () => {
  const st = fa({ registrationLifetime: 200 });
  stepFa(st, fromMn(req({ fields: { lifetime: 200 } }), { linkSrc: '02AABBCCDDEE' } as never), T0);
  const acts = stepFa(st, fromHa(rep({ lifetime: 200 })), T0 + 40);
  const [v] = visitors(acts);
  assert.equal(v, { kind: 'visitor', op: 'set', home: HOME, ifname: 'wlan0', linkAddr: '02aabbccddee', homeAgent: HA, careOf: COA, reverse: true });
  const [out] = udps(acts);
  assert.is(out!.dst, HOME);
  assert.is(out!.dstPort, MN_PORT);
  assert.is(out!.src, COA);
  const m = reply.decode(out!.data);
  assert.equal(m.extensions.map((e) => e.kind === 'auth' ? e.type : e.kind), [32]);
  assert.ok(checkAuth(MN_HA, out!.data, 0, firstAuth(m.extensions, 32)));
  assert.is(st.table.visitorCount, 1);
  assert.is(st.table.pendingCount, 0);
  const [row] = faVisitors(st, ip);
  assert.is(row!.state, 'visitor');
  assert.is(row!.remaining, 200);
  assert.ok(JSON.stringify(faStatus(st)).includes('"visitors":1'));
});

test('reply: MN-FA SA → relayed reply and denials carry a valid MN-FA extension', () => {
  const st = fa({ mobileNodes: [{ home: HOME, sa: MN_FA }] });
  stepFa(st, fromMn(req({ mnFa: MN_FA })), T0);
  const [out] = udps(stepFa(st, fromHa(rep()), T0 + 5));
  const m = reply.decode(out!.data);
  assert.equal(m.extensions.map((e) => e.kind === 'auth' ? e.type : e.kind), [32, 33]);
  assert.ok(checkAuth(MN_FA, out!.data, 0, firstAuth(m.extensions, 33)));
});

test('reply: invalid or missing FA-HA → dropped, counted, 68 to the MN, pending removed', () => {
  for (const signers of [[{ type: 32 as const, sa: MN_HA }], [{ type: 32 as const, sa: MN_HA }, { type: 34 as const, sa: sa(400, 'forged') }]]) {
    const st = fa();
    stepFa(st, fromMn(req()), T0);
    const acts = stepFa(st, fromHa(rep({}, signers)), T0 + 5);
    assert.is(visitors(acts).length, 0);
    assert.is(reply.decode(udps(acts)[0]!.data).code, 68);
    assert.is(st.counters.auth_fail, 1);
    assert.is(st.table.pendingCount, 0);
    assert.ok(acts.some((x) => x.kind === 'log' && x.event === 'fa.security'));
  }
});

test('reply: unmatched (wrong identification or home) is silently dropped', () => {
  const st = fa();
  stepFa(st, fromMn(req()), T0);
  assert.is(udps(stepFa(st, fromHa(rep({ idLow: 1 })), T0)).length, 0);
  assert.is(udps(stepFa(st, fromHa(rep({ homeAddress: HOME + 1 })), T0)).length, 0);
  assert.is(st.counters.rx_reply_unmatched, 2);
  assert.is(st.table.pendingCount, 1);
});

const REPLY_DENIALS: Array<{ name: string; code: number; data: () => Buffer; nai?: boolean }> = [
  { name: 'accepted without MN-HA', code: 71, data: () => rep({}, [{ type: 34, sa: FA_HA }]) },
  { name: 'NAI request, reply without NAI', code: 97, nai: true, data: () => rep() },
  { name: 'accepted with home agent 0', code: 98, data: () => rep({ homeAgent: 0 }) },
  { name: 'NAI request for home 0, accepted with home 0', code: 99, nai: true, data: () => rep({ homeAddress: 0 }, undefined, [{ kind: 'nai', nai: 'mn@x' }]) },
];
for (const [i, c] of REPLY_DENIALS.entries()) {
  test(`reply deny ${i + 1}: ${c.name} → ${c.code}`, () => {
    const st = fa();
    const home = c.code === 99 ? 0 : HOME;
    stepFa(st, fromMn(req({ fields: { homeAddress: home }, ...(c.nai ? { before: [{ kind: 'nai', nai: 'mn@x' }] } : {}) })), T0);
    const acts = stepFa(st, fromHa(c.data()), T0 + 5);
    assert.is(visitors(acts).length, 0);
    const r = reply.decode(udps(acts)[0]!.data);
    assert.is(r.code, c.code);
    assert.equal([r.homeAddress, r.homeAgent, r.idLow], [home, HA, 0x12345678]);
    assert.is(udps(acts)[0]!.dst, (home || 0xffffffff) >>> 0);
    assert.is(st.table.pendingCount, 0);
  });
}

test('reply: HA denial relayed, existing visitor entry untouched', () => {
  const st = fa();
  register(st);
  stepFa(st, fromMn(req({ fields: { idLow: 77 } })), T0 + 1000);
  const acts = stepFa(st, fromHa(rep({ code: 131, lifetime: 0, idLow: 77 }, [{ type: 32, sa: MN_HA }, { type: 34, sa: FA_HA }])), T0 + 1100);
  assert.is(visitors(acts).length, 0);
  assert.is(reply.decode(udps(acts)[0]!.data).code, 131);
  assert.is(st.table.visitorCount, 1);
  assert.is(st.counters.ha_denied, 1);
});

test('link address: learned from the solicitation of the same source, else 000000000000', () => {
  const st = fa();
  assert.is(visitors(register(st))[0]!.linkAddr, '000000000000');
  const st2 = fa();
  stepFa(st2, solicit('wlan0'), T0 - 1000);
  assert.is(visitors(register(st2))[0]!.linkAddr, '02aabbccddee');
});

test('NAI flow: home 0 keyed by NAI, reply assigns the home address, visitor created for it', () => {
  const st = fa();
  const nai: Extension = { kind: 'nai', nai: 'alice@example.com' };
  const [o] = udps(stepFa(st, fromMn(req({ fields: { homeAddress: 0 }, before: [nai] }), { src: 0, dst: a('255.255.255.255') }), T0));
  assert.is(o!.dst, HA);
  const acts = stepFa(st, fromHa(rep({ homeAddress: a('10.1.0.50') }, undefined, [nai])), T0 + 10);
  assert.is(visitors(acts)[0]!.home, a('10.1.0.50'));
  assert.is(udps(acts)[0]!.dst, a('255.255.255.255'), 'the node does not own its new home address yet: link broadcast');
  assert.is(faVisitors(st, ip)[0]!.nai, 'alice@example.com');
});

test('deregistration: accepted reply with lifetime 0 removes the visitor', () => {
  const st = fa();
  register(st);
  const [o] = udps(stepFa(st, fromMn(req({ fields: { lifetime: 0, careOfAddress: HOME, idLow: 5 } })), T0 + 2000));
  assert.equal(request.decode(o!.data).extensions.map((e) => e.kind), ['auth'], 'no FA-HA on deregistration');
  // A home agent that (against §3.5.4) signs it: verified and accepted.
  const acts = stepFa(st, fromHa(rep({ lifetime: 0, idLow: 5 }, [{ type: 32, sa: MN_HA }, { type: 34, sa: FA_HA }])), T0 + 2100);
  assert.equal(visitors(acts).map((v) => [v.op, v.home]), [['del', HOME]]);
  assert.is(st.table.visitorCount, 0);
  assert.is(udps(acts).length, 1);
  // One that follows §3.5.4 sends no FA-HA: accepted too.
  register(st);
  stepFa(st, fromMn(req({ fields: { lifetime: 0, careOfAddress: HOME, idLow: 6 } })), T0 + 3000);
  const acts2 = stepFa(st, fromHa(rep({ lifetime: 0, idLow: 6 }, [{ type: 32, sa: MN_HA }])), T0 + 3100);
  assert.equal(visitors(acts2).map((v) => v.op), ['del']);
  assert.equal(udps(acts2).map((u) => reply.decode(u.data).code), [0]);
});

// ---- timers --------------------------------------------------------------------------------------------

test('pending time-out → 78 to the MN; visitor expiry → visitor del', () => {
  const st = fa();
  stepFa(st, fromMn(req()), T0);
  assert.is(udps(stepFa(st, TICK, T0 + 6900)).length, 0);
  const acts = stepFa(st, TICK, T0 + 7100);
  const r = reply.decode(udps(acts)[0]!.data);
  assert.is(r.code, 78);
  assert.is(udps(acts)[0]!.dst, HOME);
  assert.is(st.counters.pending_timeout, 1);
  assert.is(st.table.pendingCount, 0);
  const st2 = fa();
  register(st2, T0, 10);
  assert.is(visitors(stepFa(st2, TICK, T0 + 9000)).length, 0);
  const exp = visitors(stepFa(st2, TICK, T0 + 10_200));
  assert.equal(exp.map((v) => [v.op, v.home]), [['del', HOME]]);
  assert.is(st2.counters.visitor_expired, 1);
});

// ---- challenges (RFC 4721) ---------------------------------------------------------------------------

test('challenge: fresh per advertisement, window of 2, stale reuse → 106, retransmission relayed', () => {
  const st = fa({ challenge: true, mobileNodes: [{ home: HOME, sa: MN_FA }] });
  const c0 = parseAdv(icmps(stepFa(st, TICK, T0))[0]!.data).challenge!;
  assert.is(c0.length, 16);
  const c1 = parseAdv(icmps(stepFa(st, TICK, T0 + 3000))[0]!.data).challenge!;
  assert.is.not(c0, c1);
  const solicited = parseAdv(icmps(stepFa(st, solicit(), T0 + 3100))[0]!.data).challenge;
  assert.is(solicited, c1, 'multicast solicited advertisement reuses the latest challenge');
  const withCh = (hex: string, idLow: number, lifetime = 300) => req({ fields: { idLow, lifetime }, after: [{ kind: 'challenge', challenge: Buffer.from(hex, 'hex') }], mnFa: MN_FA });
  const o = udps(stepFa(st, fromMn(withCh(c0, 1)), T0 + 3200));
  assert.is(o[0]!.dst, HA, 'older challenge still in the window');
  assert.equal(request.decode(o[0]!.data).extensions.map((e) => e.kind === 'auth' ? e.type : e.kind), [32, 'revocation-support', 34], 'challenge + MN-FA stripped');
  assert.is(udps(stepFa(st, fromMn(withCh(c0, 2)), T0 + 3300))[0]!.dst, HA, 'retransmission while pending');
  assert.is(reply.decode(udps(stepFa(st, fromMn(withCh(c0, 3, 100)), T0 + 3400))[0]!.data).code, 106);
  stepFa(st, TICK, T0 + 6000);
  assert.is(reply.decode(udps(stepFa(st, fromMn(withCh(c0, 4, 100)), T0 + 7000))[0]!.data).code, 104, 'aged out of the window');
});

test('challenge: no MN-FA SA — MN-AAA after the challenge is relayed intact; no authentication → silent discard', () => {
  const st = fa({ challenge: true });
  const c = parseAdv(icmps(stepFa(st, TICK, T0))[0]!.data).challenge!;
  const base = req({ mnHa: false, after: [{ kind: 'challenge', challenge: Buffer.from(c, 'hex') }] });
  const aaa = appendExts(base, [{ kind: 'gen-auth', subtype: 1, spi: 2, authenticator: new Uint8Array(16) }]);
  const [o] = udps(stepFa(st, fromMn(aaa), T0 + 10));
  assert.ok(o!.data.subarray(0, aaa.length).equals(aaa), 'challenge and MN-AAA kept (RFC 4721 §3.2)');
  const acts = stepFa(st, fromMn(req({ fields: { homeAddress: HOME + 1 }, after: [{ kind: 'challenge', challenge: Buffer.from(c, 'hex') }] }), { src: HOME + 1 }), T0 + 20);
  assert.is(udps(acts).length, 0);
  assert.is(st.counters.rx_challenge_unauthenticated, 1);
  const mnFaNoSa = req({ fields: { homeAddress: HOME + 2 }, after: [{ kind: 'challenge', challenge: Buffer.from(c, 'hex') }], mnFa: MN_FA });
  assert.is(reply.decode(udps(stepFa(st, fromMn(mnFaNoSa, { src: HOME + 2 }), T0 + 30))[0]!.data).code, 67);
});

// ---- revocation (RFC 3543) ------------------------------------------------------------------------------

function revocationMsg(id: number, key = FA_HA, flags = 0x8000): Buffer {
  return encodeRevocation({ type: 7, flags, homeAddress: HOME, homeDomainAddress: HA, foreignDomainAddress: COA, revocationId: id, extensions: [] }, [{ type: 34, sa: key }]);
}

test('revocation: authenticated → visitor removed, MN informed, signed ack; replay and forgeries ignored', () => {
  const st = fa();
  register(st);
  const acts = stepFa(st, fromHa(revocationMsg(1000), { srcPort: 5555 }), T0 + 1000);
  assert.equal(visitors(acts).map((v) => [v.op, v.home]), [['del', HOME]]);
  const inform = icmps(acts)[0]!;
  assert.equal([inform.dst, inform.ifname, maExt(parseAdv(inform.data).m).sequence], [HOME, 'wlan0', 0]);
  const [ack] = udps(acts);
  assert.equal([ack!.dst, ack!.dstPort, ack!.src], [HA, 5555, COA]);
  const m = revocationAck.decode(ack!.data);
  assert.equal([m.homeAddress, m.revocationId, m.flags], [HOME, 1000, 0]);
  assert.ok(checkAuth(FA_HA, ack!.data, 0, firstAuth(m.extensions, 34)));
  assert.is(st.table.visitorCount, 0);
  assert.is(udps(stepFa(st, fromHa(revocationMsg(1000)), T0 + 2000)).length, 0, 'replayed identifier');
  assert.is(st.counters.revocation_replay, 1);
  assert.is(udps(stepFa(st, fromHa(revocationMsg(2000, sa(400, 'forged'))), T0 + 3000)).length, 0);
  assert.is(udps(stepFa(st, fromHa(revocationMsg(3000, FA_HA, 0)), T0 + 3000)).length, 0, 'A bit clear');
  assert.is(st.counters.revocation_ignored, 2);
  assert.is(st.counters.auth_fail, 1);
});

test('control: revoke ignored and counted; shutdown withdraws visitors and advertises lifetime 0', () => {
  const st = fa();
  register(st);
  assert.is(stepFa(st, { kind: 'revoke', home: HOME }, T0).filter((x) => x.kind !== 'log').length, 0);
  assert.is(st.counters.control_ignored, 1);
  const acts = stepFa(st, { kind: 'shutdown' }, T0 + 100);
  assert.equal(visitors(acts).map((v) => [v.op, v.home]), [['del', HOME]]);
  const ads = icmps(acts);
  assert.is(ads.length, 2);
  for (const x of ads) {
    const { m, checksumOk } = parseAdv(x.data);
    assert.ok(checksumOk);
    assert.is(m.lifetime, 0);
  }
});

test('reload: keeps visitors and sequence numbers, re-advertises with the new flags', () => {
  const st = fa();
  stepFa(st, TICK, T0);
  register(st);
  const acts = reloadFa(st, { ...st.cfg, behindNat: true, reverseTunnel: 'no' });
  const ads = icmps(acts);
  assert.is(ads.length, 2);
  const e = maExt(parseAdv(ads[0]!.data).m);
  assert.is(e.sequence, 1);
  assert.is(e.flags & (AdvFlag.U | AdvFlag.T), AdvFlag.U);
  assert.is(st.table.visitorCount, 1);
  const bad = reloadFa(st, { ...st.cfg, interfaces: [] });
  assert.ok(bad.some((x) => x.kind === 'log' && x.level === 'error'));
  assert.is(st.cfg.behindNat, true, 'a bad config is not applied');
});

// ---- robustness ----------------------------------------------------------------------------------------

test('malformed input never throws: 20 000 random and bit-flipped datagrams (seeded)', () => {
  const r = mulberry32(0xfa);
  const st = fa({ challenge: true, mobileNodes: [{ home: HOME, sa: MN_FA }] }, { visitorCapacity: 4, pendingCapacity: 4 });
  const seeds = [req(), rep(), revocationMsg(5), req({ before: [{ kind: 'nai', nai: 'q@r' }], after: [{ kind: 'challenge', challenge: new Uint8Array(8) }], mnFa: MN_FA })];
  let now = T0;
  for (let i = 0; i < 20_000; i++) {
    let data: Buffer;
    if (below(r, 2) === 0) {
      data = Buffer.alloc(below(r, 80));
      for (let j = 0; j < data.length; j++) data[j] = below(r, 256);
      if (data.length > 0 && below(r, 2) === 0) data[0] = [1, 3, 7, 15, 4][below(r, 5)]!;
    } else {
      data = Buffer.from(seeds[below(r, seeds.length)]!);
      for (let k = 0; k < 3; k++) data[below(r, data.length)] ^= 1 << below(r, 8);
      if (below(r, 4) === 0) data = data.subarray(0, below(r, data.length + 1));
    }
    now += below(r, 300);
    const kind = below(r, 4);
    const ev: RoleEvent = kind === 0 ? { kind: 'icmp', src: r(), dst: r(), ifname: 'wlan0', ttl: 1, data }
      : kind === 1 ? { kind: 'tick' }
      : { kind: 'udp', src: below(r, 2) ? HOME : r(), srcPort: below(r, 65536), dst: below(r, 2) ? COA : r(), dstPort: 434, ...(below(r, 2) ? { ifname: 'wlan0' } : {}), data };
    let acts: Action[] = [];
    try {
      acts = stepFa(st, ev, now);
    } catch (e) {
      assert.unreachable(`stepFa threw on case ${i}: ${(e as Error).message}`);
    }
    assert.ok(Array.isArray(acts));
  }
  assert.is(st.counters.internal_error, undefined, 'no input reaches the defensive catch');
  assert.ok(st.counters.rx_malformed! > 1000);
  JSON.stringify(faStatus(st));
  JSON.stringify(faVisitors(st, ip));
});

test.run();
