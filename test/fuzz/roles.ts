/**
 * Role state machines under random event sequences: signed, wrongly signed, mutated and random
 * datagrams, revocations, ticks and operator commands into stepHa / stepProxy / stepFa / stepMn.
 *
 * Properties, per event: step never throws; an input that fails authentication changes no state:
 *  - HA: a request whose first MN-HA authenticator does not verify with a configured SA, or a
 *    revocation whose FA-HA authenticator does not verify, leaves the binding list unchanged and
 *    emits no `ha-binding` action;
 *  - proxy: the same for outer requests (MN-proxy SA) and for replies from the HA (proxy-HA SA);
 *  - FA: a reply from a home agent it shares an SA with that fails FA-HA creates no visitor and is
 *    never relayed as an acceptance;
 *  - MN: a reply failing MN-proxy authentication never registers the node.
 * One "input" is one event; a fast-check run is a sequence of up to 12 events.
 */
import fc from 'fast-check';
import { createHa, stepHa, haBindings } from '../../src/roles/ha';
import { createProxy, stepProxy, proxyBindings } from '../../src/roles/proxy';
import { stepFa, faVisitors } from '../../src/roles/fa';
import { stepMn } from '../../src/roles/mn';
import { BindingTable } from '../../src/tables/binding-table';
import { AddressPool } from '../../src/tables/address-pool';
import { ProxyMap } from '../../src/tables/proxy-map';
import { SecurityAssociation } from '../../src/auth/security-association';
import { timestampId } from '../../src/auth/replay';
import * as request from '../../src/wire/registration-request';
import * as reply from '../../src/wire/registration-reply';
import * as revocation from '../../src/wire/registration-revocation';
import type { Extension } from '../../src/wire/extensions';
import { encodeRequest, encodeReply, encodeRevocation, firstAuth, checkAuth, authExtensions, nvse, NvseType, DEFAULT_VENDOR_ID } from '../../src/roles/messages';
import type { Action, RoleEvent } from '../../src/roles/types';
import { applyMutations, mutationArb, Mutation } from './mutate';
import { PropertyFailure } from './targets';
import * as F from '../unit/roles/fa-util';
import * as M from '../unit/roles/mn-util';
import { mulberry32 } from '../util/prng';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const ip = (s: string) => s.split('.').reduce((n, o) => n * 256 + Number(o), 0) >>> 0;
const key = (b: number) => new Uint8Array(16).fill(b);
const HA = ip('10.1.0.1'), HOME = ip('10.1.0.50'), COA = ip('192.0.2.10'), FA = ip('192.0.2.1'), PROXY_IN = ip('10.1.0.2'), PROXY_OUT = ip('203.0.113.2');
const mnSa = new SecurityAssociation({ spi: 256, algorithm: 'hmac-md5', key: key(1) });
const dynSa = new SecurityAssociation({ spi: 300, algorithm: 'hmac-md5', key: key(2) });
const faSa = new SecurityAssociation({ spi: 400, algorithm: 'hmac-md5', key: key(3) });
const proxySa = new SecurityAssociation({ spi: 401, algorithm: 'hmac-md5', key: key(4) });
const mnProxySa = new SecurityAssociation({ spi: 257, algorithm: 'hmac-md5', key: key(5) });
const wrong = (sa: SecurityAssociation) => new SecurityAssociation({ spi: sa.spi, algorithm: 'hmac-md5', key: key(0xee) });

/** How a datagram is made: correctly signed, signed with a wrong key, unsigned; then mutated or not. */
export interface MsgSpec { sign: 0 | 1 | 2; lifetime: number; coa: number; flags: number; home: number; muts: Mutation[]; nai: boolean; low: number }
const msgArb: fc.Arbitrary<MsgSpec> = fc.record({
  sign: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
  lifetime: fc.constantFrom(0, 1, 60, 600, 0xffff),
  coa: fc.constantFrom(COA, ip('198.51.100.7'), HOME, FA),
  flags: fc.constantFrom(0, 0x02, 0x80, 0x82, 0x04, 0x08),
  home: fc.constantFrom(HOME, 0, ip('10.1.0.51')),
  muts: fc.oneof(fc.constant([] as Mutation[]), fc.array(mutationArb, { minLength: 1, maxLength: 3 })),
  nai: fc.boolean(),
  low: fc.nat(),
});

type Ev = { k: 'msg'; m: MsgSpec; kind: number } | { k: 'tick'; dt: number } | { k: 'revoke' } | { k: 'random'; b: Uint8Array };
const evArb: fc.Arbitrary<Ev> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('msg' as const), m: msgArb, kind: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('tick' as const), dt: fc.constantFrom(100, 1000, 7000, 61_000, 700_000) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'revoke' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('random' as const), b: fc.uint8Array({ maxLength: 80 }) }) },
);
export const sequenceArb = fc.array(evArb, { minLength: 1, maxLength: 12 });

function signerSa(spec: MsgSpec, right: SecurityAssociation): SecurityAssociation[] {
  return spec.sign === 0 ? [right] : spec.sign === 1 ? [wrong(right)] : [];
}

function authentic(buf: Buffer, decodeAuth: (b: Buffer) => { exts: Extension[] } | undefined, type: 32 | 34, sas: SecurityAssociation[]): boolean {
  let d: { exts: Extension[] } | undefined;
  try {
    d = decodeAuth(buf);
  } catch {
    return false;
  }
  if (!d) return false;
  const e = type === 32 ? firstAuth(d.exts, 32) : authExtensions(d.exts, 34)[0];
  return !!e && sas.some((sa) => sa.spi === e.spi && checkAuth(sa, buf, 0, e));
}
const reqExts = (b: Buffer) => ({ exts: request.decode(b).extensions });
const repExts = (b: Buffer) => ({ exts: reply.decode(b).extensions });
const revExts = (b: Buffer) => ({ exts: revocation.decode(b).extensions });

function hasKind(acts: Action[], kind: Action['kind'], op?: 'set' | 'del'): boolean {
  return acts.some((a) => a.kind === kind && (op === undefined || ('op' in a && a.op === op)));
}

/** Runs one event sequence against a fresh home agent. Returns the number of events. */
export function runHa(seq: Ev[]): number {
  const st = createHa({
    address: HA, homeNetwork: { network: ip('10.1.0.0'), length: 24 }, mipPort: 434, maxLifetime: 1800,
    reverseTunnel: true, udpTunnel: true, keepalive: 25, revocation: true,
    mobileNodes: [{ homeAddress: HOME, nai: 'alice@corp.example', sa: mnSa }, { homeAddress: 0, nai: 'bob@corp.example', sa: dynSa }],
    peers: [{ address: FA, sa: faSa, proxy: false }, { address: PROXY_IN, sa: proxySa, proxy: true }],
  }, { bindings: new BindingTable({ capacity: 4, maxPerNode: 2, tickMs: 100, now: T0 }), homePool: new AddressPool({ first: ip('10.1.0.200'), count: 2, holdMs: 60_000 }) }, mulberry32(7));
  let now = T0;
  for (const ev of seq) {
    let e: RoleEvent;
    let auth = true, what = '';
    if (ev.k === 'tick') { now += ev.dt; e = { kind: 'tick' }; } else if (ev.k === 'revoke') e = { kind: 'revoke', home: HOME };
    else {
      let data: Buffer;
      let src = COA;
      if (ev.k === 'random') data = Buffer.from(ev.b);
      else if (ev.kind === 3) {
        // A revocation from the FA, signed with FA-HA (or not).
        src = FA;
        data = applyMutations(encodeRevocation({ type: 7, flags: 0x8000, homeAddress: ev.m.home, homeDomainAddress: HA, foreignDomainAddress: FA, revocationId: ev.m.low, extensions: [] },
          signerSa(ev.m, faSa).map((sa) => ({ type: 34 as const, sa }))), ev.m.muts);
      } else {
        const sa = ev.m.home === 0 ? dynSa : mnSa;
        const id = timestampId(now, ev.m.low);
        const signers: Array<{ type: 32 | 34; sa: SecurityAssociation }> = signerSa(ev.m, sa).map((s) => ({ type: 32 as const, sa: s }));
        if (ev.kind === 2) { src = FA; signers.push({ type: 34, sa: faSa }); }
        data = applyMutations(encodeRequest({ type: 1, flags: ev.m.flags, lifetime: ev.m.lifetime, homeAddress: ev.m.home, homeAgent: HA, careOfAddress: ev.m.coa,
          idHigh: id.high, idLow: id.low, extensions: ev.m.nai || ev.m.home === 0 ? [{ kind: 'nai', nai: ev.m.home === 0 ? 'bob@corp.example' : 'alice@corp.example' }] : [] }, signers), ev.m.muts);
      }
      e = { kind: 'udp', src, srcPort: 434, dst: HA, dstPort: 434, data };
      auth = data[0] === 7 ? authentic(data, revExts, 34, [faSa, proxySa]) : authentic(data, reqExts, 32, [mnSa, dynSa]);
      what = data.toString('hex');
    }
    const before = JSON.stringify(haBindings(st, now, String));
    const acts = stepHa(st, e, now);
    if (!auth && (JSON.stringify(haBindings(st, now, String)) !== before || hasKind(acts, 'ha-binding'))) {
      throw new PropertyFailure(`HA changed its bindings on an unauthenticated datagram ${what}`);
    }
  }
  return seq.length;
}

/** The proxy: outer requests from the node (MN-proxy SA), replies from the HA (proxy-HA SA). */
export function runProxy(seq: Ev[]): number {
  const st = createProxy({
    outside: PROXY_OUT, inside: PROXY_IN, mipPort: 434, maxLifetime: 600, reverseTunnel: true, udpTunnel: true, keepalive: 20, revocation: true,
    vendorId: DEFAULT_VENDOR_ID, pendingTimeoutMs: 7000, maxPending: 4,
    mobileNodes: [{ nai: 'alice@corp.example', sa: mnProxySa }], homeAgents: [{ address: HA, port: 434, sa: proxySa }], foreignAgents: [{ address: FA, sa: faSa }],
  }, { proxy: new ProxyMap({ nodeCapacity: 4, coaCapacity: 8, maxPerNode: 2, tickMs: 100, now: T0 }), outerPool: new AddressPool({ first: ip('198.18.0.10'), count: 2, holdMs: 60_000 }) }, mulberry32(3));
  let now = T0;
  let lastRelayed: request.RegistrationRequest | undefined;
  for (const ev of seq) {
    let e: RoleEvent;
    let auth = true, what = '';
    if (ev.k === 'tick') { now += ev.dt; e = { kind: 'tick' }; } else if (ev.k === 'revoke') e = { kind: 'revoke', home: HOME };
    else {
      let data: Buffer;
      let src = COA, dst = PROXY_OUT;
      if (ev.k === 'random') data = Buffer.from(ev.b);
      else if (ev.kind >= 2 && lastRelayed) {
        // The home agent's answer to the last relayed home request, signed with proxy-HA (or not).
        src = HA; dst = PROXY_IN;
        const r = lastRelayed;
        data = applyMutations(encodeReply({ type: 3, code: 0, lifetime: ev.m.lifetime, homeAddress: HOME, homeAgent: HA, idHigh: r.idHigh, idLow: r.idLow, extensions: [{ kind: 'nai', nai: 'alice@corp.example' }] },
          [{ type: 32, sa: mnSa }, ...signerSa(ev.m, proxySa).map((sa) => ({ type: 34 as const, sa }))]), ev.m.muts);
      } else {
        const id = timestampId(now, ev.m.low);
        const homeReq = encodeRequest({ type: 1, flags: 0x02, lifetime: 1800, homeAddress: HOME, homeAgent: HA, careOfAddress: PROXY_IN, idHigh: id.high, idLow: id.low, extensions: [] }, [{ type: 32, sa: mnSa }]);
        data = applyMutations(encodeRequest({ type: 1, flags: ev.m.flags | 0x20, lifetime: ev.m.lifetime, homeAddress: ev.m.home === HOME ? 0 : ev.m.home, homeAgent: PROXY_OUT, careOfAddress: ev.m.coa,
          idHigh: id.high, idLow: id.low, extensions: [{ kind: 'nai', nai: 'alice@corp.example' }, nvse(DEFAULT_VENDOR_ID, NvseType.HOME_REQUEST, homeReq)] },
        signerSa(ev.m, mnProxySa).map((sa) => ({ type: 32 as const, sa }))), ev.m.muts);
      }
      e = { kind: 'udp', src, srcPort: 434, dst, dstPort: 434, data };
      auth = data[0] === 3 ? authentic(data, repExts, 34, [proxySa]) : data[0] === 1 ? authentic(data, reqExts, 32, [mnProxySa]) : false;
      what = data.toString('hex');
    }
    const before = JSON.stringify(proxyBindings(st, now, String));
    const acts = stepProxy(st, e, now);
    for (const a of acts) {
      if (a.kind === 'send-udp' && a.dst === HA && a.data[0] === 1) {
        try { lastRelayed = request.decode(a.data); } catch { /* not ours to judge */ }
      }
    }
    if (!auth && (JSON.stringify(proxyBindings(st, now, String)) !== before || hasKind(acts, 'proxy-binding', 'set'))) {
      throw new PropertyFailure(`proxy changed its bindings on an unauthenticated datagram ${what}`);
    }
  }
  return seq.length;
}

/** The FA: requests from the node are relayed; replies from the HA must pass FA-HA. */
export function runFa(seq: Ev[]): number {
  const st = F.fa({ restrictHomeAgents: true, homeAgents: [{ address: F.HA, sa: F.FA_HA }] });
  let now = F.T0;
  let relayed: request.RegistrationRequest | undefined;
  for (const ev of seq) {
    let e: RoleEvent;
    let auth = true, what = '';
    if (ev.k === 'tick') { now += ev.dt; e = { kind: 'tick' }; } else if (ev.k === 'revoke') e = { kind: 'revoke', home: F.HOME };
    else if (ev.k === 'random') { e = F.fromHa(Buffer.from(ev.b)); auth = false; what = Buffer.from(ev.b).toString('hex'); } else if (ev.kind >= 2 && relayed) {
      const r = relayed;
      const signers = [{ type: 32 as const, sa: F.MN_HA }, ...signerSa(ev.m, F.FA_HA).map((sa) => ({ type: 34 as const, sa }))];
      const data = applyMutations(F.rep({ idHigh: r.idHigh, idLow: r.idLow, homeAddress: r.homeAddress, lifetime: ev.m.lifetime }, signers), ev.m.muts);
      e = F.fromHa(data);
      auth = authentic(data, repExts, 34, [F.FA_HA]);
      what = data.toString('hex');
    } else {
      const data = applyMutations(F.req({ fields: { lifetime: ev.m.lifetime || 300, idLow: ev.m.low, flags: ev.m.flags & 0x82 } }), ev.m.muts);
      e = F.fromMn(data);
    }
    const visitorView = () => JSON.stringify(faVisitors(st, String).filter((v) => v.state === 'visitor'));
    const before = visitorView();
    const acts = stepFa(st, e, now);
    for (const a of acts) {
      if (a.kind === 'send-udp' && a.dst === F.HA && a.data[0] === 1) {
        try { relayed = request.decode(a.data); } catch { /* ignore */ }
      }
    }
    if (!auth) {
      const relayedOk = acts.some((a) => a.kind === 'send-udp' && a.dst !== F.HA && a.data[0] === 3 && a.data[1]! <= 1);
      const changed = visitorView() !== before;
      if (relayedOk || hasKind(acts, 'visitor') || changed) throw new PropertyFailure(`FA changed its visitor list or relayed an acceptance on a reply failing FA-HA ${what}`);
    }
  }
  return seq.length;
}

/** The MN: attached co-located with a second link for a standby binding; replies from the proxy must pass MN-proxy (and MN-HA inside). */
export function runMn(seq: Ev[]): number {
  const st = M.mn({ standbyBindings: true });
  let now = M.T0;
  let lastReq: M.Rx | undefined;
  const take = (acts: Action[]) => {
    for (const s of M.sends(acts)) {
      try { lastReq = M.parse(s); } catch { /* ignore */ }
    }
  };
  take(stepMn(st, M.link('eth0', true, [M.WIRED_ADDR]), now));
  take(stepMn(st, M.link('wlan0', true, [M.WIFI_ADDR]), now));
  for (const ev of seq) {
    let e: RoleEvent;
    let auth = true, what = '';
    if (ev.k === 'tick') { now += ev.dt; e = { kind: 'tick' }; } else if (ev.k === 'revoke') e = { kind: 'shutdown' };
    else if (ev.k === 'random' || !lastReq) { const b = Buffer.from(ev.k === 'random' ? ev.b : []); e = M.udp(b); auth = false; what = b.toString('hex'); } else {
      const sa = ev.m.sign === 0 ? undefined : wrong(M.proxySa());
      const data = applyMutations(M.proxyReply(lastReq, sa ? { proxySa: sa } : {}), ev.m.muts);
      e = M.udp(data);
      auth = authentic(data, repExts, 32, [M.proxySa()]);
      what = data.toString('hex');
    }
    const registeredBefore = st.counters.registered ?? 0;
    const standbyBefore = st.counters['standby-registered'] ?? 0;
    const acts = stepMn(st, e, now);
    take(acts);
    if (!auth && ((st.counters.registered ?? 0) !== registeredBefore || (st.counters['standby-registered'] ?? 0) !== standbyBefore
      || acts.some((a) => a.kind === 'mn-state' && a.vpn === 'up' && registeredBefore === 0))) {
      throw new PropertyFailure(`MN registered on a reply failing MN-proxy authentication ${what}`);
    }
  }
  return seq.length;
}

export const ROLE_TARGETS = [
  { name: 'role-ha', run: runHa },
  { name: 'role-proxy', run: runProxy },
  { name: 'role-fa', run: runFa },
  { name: 'role-mn', run: runMn },
];
