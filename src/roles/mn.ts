/**
 * The mobile node role (role `mn`): agent discovery and movement detection (RFC 5944 §2.4),
 * registration with retransmission and replay protection (§3.6, §5.7), NAT traversal requests
 * (RFC 3519 §3.1, §4.4), and the inside/outside VPN switch of RFC 5265 §4.1, following the
 * exchange fixed in docs/protocol.md: an outer registration with the proxy that carries the home
 * registration for the i-HA in an NVSE. Without a proxy it is a plain RFC 5944 mobile node.
 *
 * Pure state machine (STYLE.md §6): `stepMn(state, event, now) → actions`. Bounds: one agent per
 * configured interface, at most four pending requests (registration, standby registration, home
 * and outer deregistration), at most two bindings (current and standby); nothing grows with traffic.
 *
 * Choices where the RFCs are silent:
 * - An FA care-of address (F bit, not busy) is preferred over a co-located address whenever an FA
 *   is heard (RFC 5944 §2.4 "SHOULD first attempt registration with agents ..."); this also obeys R.
 * - Make-before-break: the new CoA is registered with S; once accepted, the node registers the
 *   same CoA again without S one second later (§3.6.3 rate limit), which removes the old binding
 *   at once instead of leaving duplicates until it expires.
 * - Standby bindings (`standbyBindings`, needs S): while bound, the node also registers, with S,
 *   the best other usable link's care-of address, so the agent sends a copy of every packet there
 *   too (§3.6.1.2). When the current link goes, the standby becomes current at once — no
 *   registration round trip, nothing lost downstream — and a registration without S from it then
 *   removes the dead binding. Whenever the agent may hold a binding the node no longer wants (a
 *   link went, the standby changed), the next registration of the current CoA goes without S
 *   ("prune"); the standby is registered again afterwards. After each standby registration the
 *   current CoA is registered again (≥ 1 s later), so the newest binding is always the preferred
 *   one (the kernel data plane routes to the newest). A reply code 1 (simultaneous bindings
 *   unsupported) turns standby off until reloadMn.
 * - Registrations are retransmitted indefinitely at the capped interval while the CoA stays usable;
 *   deregistrations are given up after three transmissions (the binding expires anyway).
 * - Without a proxy there is no VPN layering: a registered node reports vpn 'pass-through'.
 * - Non-authentication denials all back off (2 s doubling to 64 s); 67/131 stop until reloadMn.
 * - Shutdown sends one lifetime-0 request for all care-of addresses (CoA = the outer/home address).
 */
import type { Action, Counters, LinkEvent, IcmpEvent, RoleEvent, UdpEvent, Random32, TunnelType } from './types';
import { count, log } from './types';
import type { Extension } from '../wire/extensions';
import { RegFlag, AdvFlag, IcmpType, UdpTunnelCode, UdpTunnelReqFlag, IpProto, isAccepted, replyCodeName } from '../wire/constants';
import * as advertisement from '../wire/agent-advertisement';
import * as solicitation from '../wire/agent-solicitation';
import * as reply from '../wire/registration-reply';
import type { SecurityAssociation } from '../auth/security-association';
import { timestampId, idGreater, replyMatches, resyncOffset } from '../auth/replay';
import { encodeRequest, checkAuth, authExtensions, findNvse, findExt, nvse, NvseType } from './messages';

export interface MnConfig {
  nai: string;
  /** 0 = ask for one (dynamic, RFC 2794). */
  homeAddress: number;
  /** The i-HA. */
  homeAgent: number;
  /** Home prefix: an address inside it means the node is home. */
  homeNetwork: { network: number; length: number };
  homeSa: SecurityAssociation;
  /** null = plain Mobile IP with the i-HA (no VPN layering). */
  proxy: { outside: number; inside: number; sa: SecurityAssociation; vendorId: number } | null;
  /** Higher preference wins. */
  interfaces: Array<{ ifname: string; preference: number }>;
  /** Requested lifetime, seconds. */
  lifetime: number;
  /** T bit (plain mode; the outer registration always sets T, docs/protocol.md). */
  reverseTunnel: boolean;
  /** F flag of the UDP tunnel request (RFC 3519 §3.1). */
  forceUdpTunnel: boolean;
  /** Send the UDP tunnel request on every co-located registration (lets the agent detect NAT). */
  alwaysUdpTunnel?: boolean;
  /** S bit for make-before-break. */
  simultaneousBindings: boolean;
  /** Keep a standby binding on the best other usable link (needs simultaneousBindings). */
  standbyBindings?: boolean;
  mipPort: number;
  /** Nominal interval between the first solicitations, seconds (RFC 5944 §2.4). */
  solicitInterval: number;
  /** Cap of the registration retransmission interval, seconds (RFC 5944 §3.6.3); default 8. */
  maxRetransmitInterval?: number;
}

/** "All Mobility Agents" multicast address 224.0.0.11, RFC 5944 §3.6.1.1. */
export const ALL_MOBILITY_AGENTS = 0xe000000b;
/** First retransmission timeout; the minimum time between requests is 1 s, RFC 5944 §3.6.3. */
export const INITIAL_RETRANSMIT_MS = 1000;
export const DEFAULT_MAX_RETRANSMIT_S = 8;
/** Three initial solicitations, then binary back-off to at least one minute, RFC 5944 §2.4. */
export const INITIAL_SOLICITATIONS = 3;
export const MAX_SOLICIT_INTERVAL_MS = 60_000;
/** Default NAT keepalive interval K, RFC 3519 §4.9. */
export const DEFAULT_KEEPALIVE_S = 110;
/** Lifetime 0xffff means infinity, RFC 5944 §3.3. */
const INFINITE_LIFETIME = 0xffff;
/** Re-register when this fraction of the granted lifetime has passed (RFC 5944 §3.6.2.2: before expiry). */
const RENEW_FRACTION = 2 / 3;
/** Implementation limits. */
const DEREG_TRANSMISSIONS = 3;
const MAX_RESYNC = 3;
const DENY_BACKOFF_MIN_MS = 2000;
const DENY_BACKOFF_MAX_MS = 64_000;
/** RFC 5944 §3.6: no more than one registration per second. */
const MIN_REGISTRATION_GAP_MS = 1000;
/** docs/protocol.md: the proxy's 128 reply text asking for the home request. */
export const HOME_REQUIRED_TEXT = 'home registration required';

export interface AgentInfo {
  address: number;
  careOfAddresses: number[];
  flags: number;
  sequence: number;
  registrationLifetime: number;
  /** Advertisement lifetime expiry (ms). */
  expires: number;
  linkSrc: string;
}

export interface IfState {
  ifname: string;
  preference: number;
  up: boolean;
  addresses: Array<{ address: number; prefixLength: number }>;
  gateway: number;
  agent: AgentInfo | null;
  /** Solicitation back-off: next send time, current interval, solicitations sent. */
  solicit: { next: number; interval: number; sent: number };
}

/** Where the node is attached and through what. */
export interface Attachment {
  location: 'home' | 'foreign';
  ifname: string;
  careOf: number;
  /** FA address (the advertisement source) or 0 for a co-located CoA or at home. */
  agent: number;
  colocated: boolean;
  /** Registration lifetime of the FA's advertisement (0 = none). */
  agentLifetime: number;
}

type Purpose = 'reg' | 'standby' | 'dereg-home' | 'dereg-outer';
type SaName = 'proxy' | 'home';

export interface Pending {
  purpose: Purpose;
  att: Attachment | null;
  sa: SaName;
  dst: number;
  src: number;
  careOf: number;
  lifetime: number;
  flags: number;
  withHome: boolean;
  idHigh: number;
  idLow: number;
  homeIdHigh: number;
  homeIdLow: number;
  bytes: Buffer;
  firstSent: number;
  sentAt: number;
  /** Current retransmission timeout (ms) and the time it fires. */
  timeout: number;
  due: number;
  transmissions: number;
}

/** A standby binding: accepted at the agent, not used for upstream until the current link goes. */
export interface Standby {
  att: Attachment;
  granted: number;
  until: number;
  renewAt: number;
  tunnel: TunnelType;
  keepalive: number;
}

/** Identification state per SA, RFC 5944 §5.7: clock offset (timestamps) or the HA's nonce. */
export interface IdState { offset: number; nonce: number; lastHigh: number; lastLow: number; used: boolean }

export interface MnState {
  cfg: MnConfig;
  random: Random32;
  ifs: IfState[];
  /** The attachment chosen by movement detection; null = detached. */
  target: Attachment | null;
  reg: {
    /** Attachment of the accepted binding (null = none). */
    current: Attachment | null;
    outerGranted: number;
    outerUntil: number;
    outerRenewAt: number;
    homeGranted: number;
    homeUntil: number;
    homeRenewAt: number;
    /** Register the next request with S (make-before-break). */
    mbb: boolean;
    /** The standby binding (standbyBindings), null = none. */
    standby: Standby | null;
    /** The agent may hold a binding the node no longer wants: the next current registration goes without S. */
    prune: boolean;
    /** Standby registrations: no new attempt before this time (after a denial); backoff is the delay. */
    standbyRetryAt: number;
    standbyBackoff: number;
    /** The agent answered a standby registration with code 1: no standby until reloadMn. */
    standbyOff: boolean;
    /** Include the home request next time (128 "home registration required", 133 from the i-HA). */
    needHome: boolean;
    /** Denied: no new attempt before this time; backoff is the current delay. */
    retryAt: number;
    backoff: number;
    resyncs: number;
    /** Stopped after an authentication failure until reloadMn. */
    stopped: boolean;
    lastStart: number;
    /** Time of the last link-layer indication of movement (a link or address change). */
    lastLinkChange: number;
    tunnel: TunnelType | 'none';
    keepalive: number;
    natDetected: boolean;
    lifetimeCap: number;
  };
  ids: { proxy: IdState; home: IdState };
  pending: Pending[];
  homeAddress: number;
  outerAddress: number;
  shutdown: boolean;
  /** Last mn-state emitted, as a key, to emit only changes. */
  lastView: string;
  lastNow: number;
  counters: Counters;
}

type MnView = Extract<Action, { kind: 'mn-state' }>;

function newIdState(): IdState {
  return { offset: 0, nonce: 0, lastHigh: 0, lastLow: 0, used: false };
}

function newIf(ifname: string, preference: number): IfState {
  return { ifname, preference, up: false, addresses: [], gateway: 0, agent: null, solicit: { next: 0, interval: 0, sent: 0 } };
}

export function createMn(cfg: MnConfig, opts: { random: Random32; now: number }): MnState {
  return {
    cfg,
    random: opts.random,
    ifs: cfg.interfaces.map((i) => newIf(i.ifname, i.preference)),
    target: null,
    reg: {
      current: null, outerGranted: 0, outerUntil: 0, outerRenewAt: 0, homeGranted: 0, homeUntil: 0, homeRenewAt: 0,
      mbb: false, standby: null, prune: false, standbyRetryAt: 0, standbyBackoff: 0, standbyOff: false, needHome: false, retryAt: 0, backoff: 0, resyncs: 0, stopped: false, lastStart: -Infinity, lastLinkChange: -Infinity,
      tunnel: 'none', keepalive: 0, natDetected: false, lifetimeCap: 0,
    },
    ids: { proxy: newIdState(), home: newIdState() },
    pending: [],
    homeAddress: cfg.homeAddress >>> 0,
    outerAddress: 0,
    shutdown: false,
    lastView: '',
    lastNow: opts.now,
    counters: {},
  };
}

export function stepMn(st: MnState, ev: RoleEvent, now: number): Action[] {
  const out: Action[] = [];
  st.lastNow = now;
  try {
    if (st.shutdown) {
      count(st.counters, 'rx-after-shutdown');
      return out;
    }
    switch (ev.kind) {
      case 'icmp': onIcmp(st, ev, now, out); break;
      case 'udp': onUdp(st, ev, now, out); break;
      case 'link': onLink(st, ev, now, out); break;
      case 'shutdown': onShutdown(st, now, out); break;
      case 'tick': break;
      default: count(st.counters, 'event-ignored');
    }
    settle(st, now, out);
  } catch (err) {
    count(st.counters, 'internal-error');
    out.push(log('error', 'mn-internal-error', { event: ev.kind, error: err instanceof Error ? err.message : String(err) }));
  }
  return out;
}

/** After any event: re-evaluate the attachment, run due timers, report the state. */
function settle(st: MnState, now: number, out: Action[]): void {
  if (!st.shutdown) {
    evaluate(st, now, out);
    onTimers(st, now, out);
  }
  emitState(st, now, out);
}

// ---------------------------------------------------------------- agent discovery, RFC 5944 §2.4

function onIcmp(st: MnState, ev: IcmpEvent, now: number, out: Action[]): void {
  if (ev.data.length < 1 || ev.data[0] !== IcmpType.ROUTER_ADVERTISEMENT) {
    count(st.counters, 'rx-icmp-ignored');
    return;
  }
  let adv: advertisement.AgentAdvertisement;
  try {
    adv = advertisement.decode(ev.data);
  } catch (err) {
    count(st.counters, 'rx-adv-malformed');
    out.push(log('debug', 'mn-adv-drop', { ifname: ev.ifname, reason: err instanceof Error ? err.message : 'decode' }));
    return;
  }
  const ma = advertisement.mobilityAgentExtension(adv);
  if (!ma) { count(st.counters, 'rx-adv-not-agent'); return; } // a plain router advertisement
  const ifs = st.ifs.find((i) => i.ifname === ev.ifname);
  if (!ifs) { count(st.counters, 'rx-adv-unknown-if'); return; }
  count(st.counters, 'rx-adv');
  const src = ev.src >>> 0;
  const prev = ifs.agent;
  const cur = st.reg.current;
  // RFC 5944 §3.6: another agent's advertisements do not move a node whose agent is still heard.
  if (prev && prev.address !== src && now < prev.expires && cur?.ifname === ifs.ifname && cur.agent === prev.address) {
    count(st.counters, 'rx-adv-other-agent');
    return;
  }
  if (adv.lifetime === 0) { ifs.agent = null; return; } // RFC 1256 §3: lifetime 0, stop using it
  ifs.agent = {
    address: src, careOfAddresses: ma.careOfAddresses, flags: ma.flags, sequence: ma.sequence,
    registrationLifetime: ma.registrationLifetime, expires: now + adv.lifetime * 1000, linkSrc: ev.linkSrc ?? '',
  };
  if (!prev || prev.address !== src) {
    out.push(log('info', 'mn-agent-heard', { ifname: ev.ifname, agent: src, flags: ma.flags, sequence: ma.sequence }));
    return;
  }
  // RFC 5944 §2.4.4: a smaller sequence number below 256 means the agent rebooted: register again.
  if (ma.sequence < prev.sequence && ma.sequence < 256) {
    count(st.counters, 'agent-reboot');
    out.push(log('warn', 'mn-agent-rebooted', { ifname: ev.ifname, agent: src, sequence: ma.sequence, previous: prev.sequence }));
    if (cur && cur.agent === src && cur.ifname === ev.ifname) st.reg.outerRenewAt = now;
  }
}

function onLink(st: MnState, ev: LinkEvent, now: number, out: Action[]): void {
  const ifs = st.ifs.find((i) => i.ifname === ev.ifname);
  if (!ifs) { count(st.counters, 'link-unknown-if'); return; }
  const addrs = (Array.isArray(ev.addresses) ? ev.addresses : []).map((a) => ({ address: a.address >>> 0, prefixLength: a.prefixLength }));
  const moved = ev.up !== ifs.up || JSON.stringify(addrs) !== JSON.stringify(ifs.addresses);
  ifs.up = !!ev.up;
  ifs.addresses = ev.up ? addrs : [];
  ifs.gateway = (ev.gateway ?? 0) >>> 0;
  if (!ev.up) ifs.agent = null;
  // A link-layer indication of movement restarts agent discovery at the fast rate (§2.4).
  if (moved) {
    st.reg.lastLinkChange = now;
    ifs.solicit = { next: now, interval: 0, sent: 0 };
    out.push(log('info', 'mn-link', { ifname: ev.ifname, up: ifs.up, addresses: addrs.length }));
  }
}

function solicit(st: MnState, ifs: IfState, now: number, out: Action[]): void {
  const s = ifs.solicit;
  if (now < s.next) return;
  const buf = Buffer.alloc(solicitation.SOLICITATION_LENGTH);
  solicitation.encode({ type: 10, code: 0 }, buf, 0);
  out.push({ kind: 'send-icmp', ifname: ifs.ifname, dst: ALL_MOBILITY_AGENTS, ttl: 1, data: buf });
  count(st.counters, 'tx-solicitation');
  const base = Math.max(1, st.cfg.solicitInterval) * 1000;
  s.sent++;
  s.interval = s.sent < INITIAL_SOLICITATIONS ? base : Math.min(Math.max(s.interval, base) * 2, Math.max(base, MAX_SOLICIT_INTERVAL_MS));
  // Randomised around the nominal value (§2.4, RFC 1256): up to 10 % later.
  s.next = now + s.interval + Math.floor(((st.random() >>> 0) / 0x100000000) * s.interval * 0.1);
}

// ---------------------------------------------------------------- movement detection

function inHome(st: MnState, addr: number): boolean {
  const { network, length } = st.cfg.homeNetwork;
  if (length <= 0) return true;
  const mask = length >= 32 ? 0xffffffff : (0xffffffff << (32 - length)) >>> 0;
  return ((addr & mask) >>> 0) === ((network & mask) >>> 0);
}

function classify(st: MnState, ifs: IfState): Attachment | null {
  const a = ifs.agent;
  const base = { ifname: ifs.ifname, agentLifetime: 0 };
  if (a && (a.flags & AdvFlag.H) && (a.address === st.cfg.homeAgent >>> 0 || inHome(st, a.address))) {
    return { ...base, location: 'home', careOf: 0, agent: 0, colocated: false };
  }
  if (ifs.addresses.some((x) => inHome(st, x.address))) return { ...base, location: 'home', careOf: 0, agent: 0, colocated: false };
  if (a && (a.flags & AdvFlag.F) && !(a.flags & AdvFlag.B) && a.careOfAddresses.length > 0) {
    // RFC 5944 §2.4: the first advertised care-of address.
    return { ...base, location: 'foreign', careOf: a.careOfAddresses[0]! >>> 0, agent: a.address, colocated: false, agentLifetime: a.registrationLifetime };
  }
  const co = ifs.addresses.find((x) => x.address !== 0);
  if (co) return { ...base, location: 'foreign', careOf: co.address, agent: 0, colocated: true };
  return null;
}

function chooseAttachment(st: MnState): Attachment | null {
  const order = st.ifs.filter((i) => i.up).sort((x, y) => y.preference - x.preference);
  for (const ifs of order) {
    const a = classify(st, ifs);
    if (a) return a;
  }
  return null;
}

function sameAtt(a: Attachment | null, b: Attachment | null): boolean {
  return a === b || (!!a && !!b && a.location === b.location && a.ifname === b.ifname && a.careOf === b.careOf && a.agent === b.agent);
}

/** The CoA of an attachment still works: its interface is up and its address or agent is there. */
function usable(st: MnState, a: Attachment): boolean {
  const ifs = st.ifs.find((i) => i.ifname === a.ifname);
  if (!ifs || !ifs.up) return false;
  if (a.colocated) return ifs.addresses.some((x) => x.address === a.careOf);
  return !!ifs.agent && ifs.agent.address === a.agent && ifs.agent.careOfAddresses.includes(a.careOf);
}

function evaluate(st: MnState, now: number, out: Action[]): void {
  for (const ifs of st.ifs) {
    if (ifs.agent && now >= ifs.agent.expires) {
      // RFC 5944 §2.4.2.1: no advertisement within its lifetime: contact lost; solicit again fast.
      count(st.counters, 'agent-lost');
      out.push(log('info', 'mn-agent-lost', { ifname: ifs.ifname, agent: ifs.agent.address }));
      ifs.agent = null;
      ifs.solicit = { next: now, interval: 0, sent: 0 };
    }
  }
  const next = chooseAttachment(st);
  if (sameAtt(next, st.target)) return;
  const prev = st.target;
  st.target = next;
  count(st.counters, 'movement');
  out.push(log('info', 'mn-move', {
    location: next?.location ?? 'detached', ifname: next?.ifname ?? '', careOf: next?.careOf ?? 0, agent: next?.agent ?? 0,
  }));
  cancel(st, 'reg');
  cancel(st, 'standby');
  st.reg.retryAt = 0;
  st.reg.backoff = 0;
  st.reg.lifetimeCap = 0;
  if (!next) return;
  if (next.location === 'home') {
    if (prev?.location !== 'home') goHome(st, now, out);
    return;
  }
  const r = st.reg;
  const cur = r.current;
  const curLive = !!cur && now < r.outerUntil && usable(st, cur);
  if (!curLive && r.standby && sameAtt(r.standby.att, next) && now < r.standby.until) {
    promote(st, r.standby, now, out);
    return;
  }
  r.mbb = st.cfg.simultaneousBindings && curLive;
}

/**
 * The current link went and the standby binding is where the node moves: it becomes the current
 * binding at once (the agent already sends copies there), and a registration without S from it
 * follows (as soon as §3.6 allows) to remove the dead binding.
 */
function promote(st: MnState, sb: Standby, now: number, out: Action[]): void {
  const r = st.reg;
  const from = r.current;
  r.current = sb.att;
  r.outerGranted = sb.granted;
  r.outerUntil = sb.until;
  r.outerRenewAt = now;
  r.tunnel = sb.tunnel;
  r.keepalive = sb.keepalive;
  r.standby = null;
  r.prune = true;
  r.mbb = false;
  count(st.counters, 'standby-promoted');
  out.push(log('info', 'mn-standby-promoted', { ifname: sb.att.ifname, careOf: sb.att.careOf, from: from?.careOf ?? 0 }));
}

function standbyOn(st: MnState): boolean {
  return !!st.cfg.standbyBindings && st.cfg.simultaneousBindings && !st.reg.standbyOff;
}

/** Where a standby binding belongs: the best usable foreign attachment on another interface. */
function standbyCandidate(st: MnState, currentIf: string): Attachment | null {
  const order = st.ifs.filter((i) => i.up && i.ifname !== currentIf).sort((x, y) => y.preference - x.preference);
  for (const ifs of order) {
    const a = classify(st, ifs);
    if (a && a.location === 'foreign') return a;
  }
  return null;
}

/** Drops a standby binding that no longer fits (its link went, it expired, a better one is there, standby turned off). */
function checkStandby(st: MnState, now: number, out: Action[]): void {
  const r = st.reg;
  const cur = r.current;
  const settled = !!cur && !!st.target && sameAtt(cur, st.target) && now < r.outerUntil && usable(st, cur);
  const cand = standbyOn(st) && settled ? standbyCandidate(st, cur!.ifname) : null;
  const pend = st.pending.find((p) => p.purpose === 'standby');
  if (pend && !sameAtt(pend.att, cand)) cancel(st, 'standby');
  const sb = r.standby;
  if (!sb) return;
  const gone = now >= sb.until || !usable(st, sb.att) || !standbyOn(st);
  if (!gone && (!cand || sameAtt(sb.att, cand))) return;
  r.standby = null;
  count(st.counters, 'standby-dropped');
  const reason = now >= sb.until ? 'expired' : !standbyOn(st) ? 'standby-off' : gone ? 'unusable' : 'better-link';
  out.push(log('info', 'mn-standby-dropped', { ifname: sb.att.ifname, careOf: sb.att.careOf, reason }));
  // Still bound at the agent: the next registration of the current CoA, without S, removes it.
  if (now < sb.until) {
    r.prune = true;
    r.outerRenewAt = Math.min(r.outerRenewAt, now);
  }
}

/** Registers the standby when one is wanted and none is held or it is due for renewal. */
function tendStandby(st: MnState, now: number, out: Action[]): void {
  const r = st.reg;
  const cur = r.current;
  if (!standbyOn(st) || r.stopped || r.prune || !cur || !st.target || !sameAtt(cur, st.target) || now >= r.outerUntil || !usable(st, cur)) return;
  if (st.pending.some((p) => p.purpose === 'reg' || p.purpose === 'standby')) return;
  if ((r.standby && now < r.standby.renewAt) || now < r.standbyRetryAt) return;
  if (now < r.lastStart + MIN_REGISTRATION_GAP_MS && r.lastLinkChange <= r.lastStart) return;
  const cand = r.standby?.att ?? standbyCandidate(st, cur.ifname);
  if (!cand) return;
  const c = st.cfg;
  const p = newPending(st, {
    purpose: 'standby', att: cand, sa: c.proxy ? 'proxy' : 'home', ...requestEnds(st, cand), careOf: cand.careOf, lifetime: requestLifetime(st, cand), flags: regFlags(st, cand.colocated) | RegFlag.S, withHome: false,
  }, now);
  st.pending.push(p);
  r.lastStart = now;
  out.push(log('info', 'mn-register-standby', { ifname: cand.ifname, careOf: cand.careOf, agent: cand.agent, lifetime: p.lifetime }));
  transmit(st, p, now, out);
}

// ---------------------------------------------------------------- registration, RFC 5944 §3.6

function saOf(st: MnState, name: SaName): SecurityAssociation {
  return name === 'proxy' && st.cfg.proxy ? st.cfg.proxy.sa : st.cfg.homeSa;
}

/** A new Identification for the SA, RFC 5944 §5.7: monotonic timestamps, or the HA's nonce + random. */
function newId(st: MnState, name: SaName, now: number): { high: number; low: number } {
  const s = st.ids[name];
  let id: { high: number; low: number };
  if (saOf(st, name).replay === 'nonce') {
    let low = st.random() >>> 0;
    if (low === s.lastLow) low = (low + 1) >>> 0; // §5.7.2: a new low half each time
    id = { high: s.nonce >>> 0, low };
  } else {
    id = timestampId(now, st.random() >>> 0, s.offset);
    // §5.7.1: each Identification MUST be greater than any earlier one.
    if (s.used && !idGreater(id.high, id.low, s.lastHigh, s.lastLow)) {
      id = s.lastLow === 0xffffffff ? { high: (s.lastHigh + 1) >>> 0, low: 0 } : { high: s.lastHigh, low: (s.lastLow + 1) >>> 0 };
    }
  }
  s.lastHigh = id.high;
  s.lastLow = id.low;
  s.used = true;
  return id;
}

function maxRetransmitMs(st: MnState, lifetime: number): number {
  const cap = (st.cfg.maxRetransmitInterval ?? DEFAULT_MAX_RETRANSMIT_S) * 1000;
  // §3.6.3: no greater than the requested lifetime, never below 1 s.
  return Math.max(INITIAL_RETRANSMIT_MS, lifetime > 0 ? Math.min(cap, lifetime * 1000) : cap);
}

/** The home registration carried in the NVSE (docs/protocol.md "Home registration request"). */
function homeRequest(st: MnState, lifetime: number, id: { high: number; low: number }): Buffer {
  const p = st.cfg.proxy!;
  const exts: Extension[] = st.homeAddress === 0 ? [{ kind: 'nai', nai: st.cfg.nai }] : [];
  return encodeRequest({
    type: 1, flags: RegFlag.T, lifetime, homeAddress: st.homeAddress, homeAgent: st.cfg.homeAgent >>> 0,
    careOfAddress: p.inside >>> 0, idHigh: id.high, idLow: id.low, extensions: exts,
  }, [{ type: 32, sa: st.cfg.homeSa }]);
}

/** Encodes the request of a pending registration with its current Identification(s). */
function encodePending(st: MnState, p: Pending): Buffer {
  const proxy = st.cfg.proxy;
  if (p.purpose === 'dereg-home' || !proxy) {
    // Plain registration or deregistration with the i-HA, RFC 5944 §3.6.1.2.
    const home = st.homeAddress;
    const exts: Extension[] = home === 0 ? [{ kind: 'nai', nai: st.cfg.nai }] : [];
    if (p.purpose === 'reg' || p.purpose === 'standby') exts.push(...udpTunnelRequest(st, p));
    return encodeRequest({
      type: 1, flags: p.flags, lifetime: p.lifetime, homeAddress: home, homeAgent: st.cfg.homeAgent >>> 0,
      careOfAddress: p.careOf, idHigh: p.idHigh, idLow: p.idLow, extensions: exts,
    }, [{ type: 32, sa: st.cfg.homeSa }]);
  }
  // Outer registration with the proxy, docs/protocol.md: NAI, [NVSE home request], [UDP tunnel request], MN-HA.
  const exts: Extension[] = [{ kind: 'nai', nai: st.cfg.nai }];
  if (p.withHome) {
    const hl = p.lifetime === 0 ? 0 : st.cfg.lifetime;
    exts.push(nvse(proxy.vendorId, NvseType.HOME_REQUEST, homeRequest(st, hl, { high: p.homeIdHigh, low: p.homeIdLow })));
  }
  if (p.purpose === 'reg' || p.purpose === 'standby') exts.push(...udpTunnelRequest(st, p));
  return encodeRequest({
    type: 1, flags: p.flags, lifetime: p.lifetime, homeAddress: st.outerAddress, homeAgent: proxy.outside >>> 0,
    careOfAddress: p.careOf, idHigh: p.idHigh, idLow: p.idLow, extensions: exts,
  }, [{ type: 32, sa: proxy.sa }]);
}

/** RFC 3519 §3.1, §4.4: only with a co-located CoA (D set), when forced, always, or after a NAT was seen. */
function udpTunnelRequest(st: MnState, p: Pending): Extension[] {
  const c = st.cfg;
  if (!p.att?.colocated || !(c.forceUdpTunnel || c.alwaysUdpTunnel || st.reg.natDetected)) return [];
  return [{ kind: 'udp-tunnel-request', subtype: 0, flags: c.forceUdpTunnel ? UdpTunnelReqFlag.F : 0, encapsulation: IpProto.IPIP }];
}

function transmit(st: MnState, p: Pending, now: number, out: Action[]): void {
  p.sentAt = now;
  p.transmissions++;
  p.due = now + p.timeout;
  out.push({ kind: 'send-udp', dst: p.dst, dstPort: st.cfg.mipPort, src: p.src, data: p.bytes });
  count(st.counters, p.purpose === 'reg' || p.purpose === 'standby' ? 'tx-registration' : 'tx-deregistration');
}

function cancel(st: MnState, purpose: Purpose): void {
  st.pending = st.pending.filter((p) => p.purpose !== purpose);
}

type PendingFields = Pick<Pending, 'purpose' | 'att' | 'sa' | 'dst' | 'src' | 'careOf' | 'lifetime' | 'flags' | 'withHome'>;

/** A request with fresh Identification(s), encoded and signed, not yet sent. */
function newPending(st: MnState, f: PendingFields, now: number): Pending {
  const id = newId(st, f.sa, now);
  const hid = f.withHome ? newId(st, 'home', now) : { high: 0, low: 0 };
  const p: Pending = {
    ...f, idHigh: id.high, idLow: id.low, homeIdHigh: hid.high, homeIdLow: hid.low, bytes: Buffer.alloc(0),
    firstSent: now, sentAt: now, timeout: INITIAL_RETRANSMIT_MS, due: now, transmissions: 0,
  };
  p.bytes = encodePending(st, p);
  return p;
}

/**
 * Where a request for `att` goes and where it comes from: to the FA, or (co-located) to the proxy or
 * the i-HA; §3.6.1.1: from the co-located CoA, else from the (outer) home address, 0 when none yet.
 */
function requestEnds(st: MnState, att: Attachment): { dst: number; src: number } {
  if (att.colocated) return { dst: directDst(st), src: att.careOf };
  return { dst: att.agent, src: st.cfg.proxy ? st.outerAddress : st.homeAddress };
}

/** Where a co-located registration goes: the proxy, or the i-HA in plain mode. */
function directDst(st: MnState): number {
  return (st.cfg.proxy ? st.cfg.proxy.outside : st.cfg.homeAgent) >>> 0;
}

function regFlags(st: MnState, colocated: boolean): number {
  return (st.cfg.proxy || st.cfg.reverseTunnel ? RegFlag.T : 0) | (colocated ? RegFlag.D : 0);
}

/** Requested lifetime: configured, not above the FA's advertised registration lifetime (§3.6.1.2) nor a 69 reply's. */
function requestLifetime(st: MnState, att: Attachment): number {
  let lifetime = Math.min(st.cfg.lifetime, INFINITE_LIFETIME);
  if (!att.colocated && att.agentLifetime > 0) lifetime = Math.min(lifetime, att.agentLifetime);
  if (st.reg.lifetimeCap > 0) lifetime = Math.min(lifetime, st.reg.lifetimeCap);
  return lifetime;
}

/** Starts a registration for the target attachment now (replacing any pending one). */
function startRegistration(st: MnState, now: number, out: Action[]): void {
  const att = st.target;
  if (!att || att.location !== 'foreign') return;
  cancel(st, 'reg');
  // A registration from away supersedes the deregistrations sent at home: retransmitted after it,
  // one would delete the binding it creates (seen in the data plane bench: HA binding gone 0.7 s
  // after the move, the home link without proxy ARP).
  if (st.pending.some((p) => p.purpose !== 'reg')) out.push(log('info', 'mn-deregister-superseded', { by: 'registration' }));
  cancel(st, 'dereg-home');
  cancel(st, 'dereg-outer');
  const c = st.cfg;
  const r = st.reg;
  const lifetime = requestLifetime(st, att);
  // S: moving make-before-break, or renewing while a standby binding is held (unless the agent
  // holds a binding to remove: then without S).
  const keepStandby = !r.prune && !!r.standby && sameAtt(r.current, att) && usable(st, r.standby.att);
  const flags = regFlags(st, att.colocated) | (r.mbb || keepStandby ? RegFlag.S : 0);
  const withHome = !!c.proxy && (r.needHome || st.homeAddress === 0 || now >= r.homeUntil || now >= r.homeRenewAt);
  const p = newPending(st, {
    purpose: 'reg', att, sa: c.proxy ? 'proxy' : 'home', ...requestEnds(st, att), careOf: att.careOf, lifetime, flags, withHome,
  }, now);
  st.pending.push(p);
  r.lastStart = now;
  out.push(log('info', 'mn-register', { ifname: att.ifname, careOf: att.careOf, agent: att.agent, lifetime, flags, home: withHome }));
  transmit(st, p, now, out);
}

/**
 * A deregistration from the home link (lifetime 0, §3.6.1.2), sent from the home address: the
 * home binding directly to the i-HA with CoA = home address, the outer one to the proxy with
 * CoA = outer address (all care-of addresses).
 */
function startDereg(st: MnState, purpose: 'dereg-home' | 'dereg-outer', now: number, out: Action[]): void {
  cancel(st, purpose);
  const home = purpose === 'dereg-home';
  const p = newPending(st, {
    purpose, att: null, sa: home ? 'home' : 'proxy', dst: home ? st.cfg.homeAgent >>> 0 : directDst(st), src: st.homeAddress,
    careOf: home ? st.homeAddress : st.outerAddress, lifetime: 0, flags: 0, withHome: false,
  }, now);
  st.pending.push(p);
  out.push(log('info', 'mn-deregister', { binding: home ? 'home' : 'outer', dst: p.dst }));
  transmit(st, p, now, out);
}

/** Back on the home link (RFC 5944 §2.4.3): deregister both bindings, VPN to pass-through. */
function goHome(st: MnState, now: number, out: Action[]): void {
  if (st.homeAddress !== 0) startDereg(st, 'dereg-home', now, out);
  if (st.cfg.proxy && st.outerAddress !== 0) startDereg(st, 'dereg-outer', now, out);
  clearBindings(st);
}

function clearBindings(st: MnState): void {
  const r = st.reg;
  r.current = null;
  r.outerUntil = r.outerRenewAt = r.homeUntil = r.homeRenewAt = 0;
  r.outerGranted = r.homeGranted = 0;
  r.mbb = false;
  r.tunnel = 'none';
  r.standby = null;
  r.prune = false;
}

/**
 * Shutdown: one deregistration of all care-of addresses (CoA = the (outer) home address,
 * §3.6.1.2) where the binding was registered, with the home binding through the proxy; sent once.
 */
function onShutdown(st: MnState, now: number, out: Action[]): void {
  const cur = st.reg.current;
  if (cur && now < st.reg.outerUntil && usable(st, cur)) {
    const proxy = !!st.cfg.proxy;
    const p = newPending(st, {
      purpose: 'reg', att: null, sa: proxy ? 'proxy' : 'home', ...requestEnds(st, cur),
      careOf: proxy ? st.outerAddress : st.homeAddress, lifetime: 0, flags: regFlags(st, cur.colocated),
      withHome: proxy && now < st.reg.homeUntil,
    }, now);
    out.push({ kind: 'send-udp', dst: p.dst, dstPort: st.cfg.mipPort, src: p.src, data: p.bytes });
    count(st.counters, 'tx-deregistration');
  }
  clearBindings(st);
  st.pending = [];
  st.shutdown = true;
  out.push(log('info', 'mn-shutdown', {}));
}

// ---------------------------------------------------------------- timers

function onTimers(st: MnState, now: number, out: Action[]): void {
  checkStandby(st, now, out);
  // Retransmissions, RFC 5944 §3.6.3: timeout doubles up to the cap; timestamps take a new
  // Identification each time, nonces resend the request unchanged.
  for (const p of [...st.pending]) {
    if (now < p.due) continue;
    if (p.purpose.startsWith('dereg-') && p.transmissions >= DEREG_TRANSMISSIONS) {
      cancel(st, p.purpose);
      count(st.counters, 'dereg-given-up');
      out.push(log('warn', 'mn-deregister-unanswered', { binding: p.purpose === 'dereg-home' ? 'home' : 'outer' }));
      continue;
    }
    if (saOf(st, p.sa).replay === 'timestamp') {
      const id = newId(st, p.sa, now);
      p.idHigh = id.high; p.idLow = id.low;
      if (p.withHome && st.cfg.homeSa.replay === 'timestamp') {
        const h = newId(st, 'home', now);
        p.homeIdHigh = h.high; p.homeIdLow = h.low;
      }
      p.bytes = encodePending(st, p);
    }
    p.timeout = Math.min(p.timeout * 2, maxRetransmitMs(st, p.lifetime));
    count(st.counters, 'retransmission');
    transmit(st, p, now, out);
    // transmit() sets due from the doubled timeout; the first timeout stays INITIAL_RETRANSMIT_MS.
  }
  const r = st.reg;
  if (r.current && r.outerUntil !== 0 && now >= r.outerUntil) {
    count(st.counters, 'binding-expired');
    out.push(log('warn', 'mn-binding-expired', { careOf: r.current.careOf }));
    r.current = null;
    r.tunnel = 'none';
  }
  const t = st.target;
  if (t?.location === 'foreign' && !r.stopped && !st.pending.some((p) => p.purpose === 'reg') && now >= r.retryAt) {
    const bound = !!r.current && sameAtt(r.current, t) && now < r.outerUntil;
    const due = !bound || now >= r.outerRenewAt || (!!st.cfg.proxy && now >= r.homeRenewAt);
    // RFC 5944 §3.6.1.1: the once-per-second limit holds "in the absence of link-layer
    // indications"; a link or address change since the last request lifts it.
    if (due && (now >= r.lastStart + MIN_REGISTRATION_GAP_MS || r.lastLinkChange > r.lastStart)) startRegistration(st, now, out);
  }
  tendStandby(st, now, out);
  for (const ifs of st.ifs) if (ifs.up && !ifs.agent) solicit(st, ifs, now, out);
}

// ---------------------------------------------------------------- replies, RFC 5944 §3.6.2

function onUdp(st: MnState, ev: UdpEvent, now: number, out: Action[]): void {
  const buf = ev.data;
  if (buf.length < 1 || buf[0] !== 3) { count(st.counters, 'rx-not-reply'); return; }
  let rep: reply.RegistrationReply;
  try {
    rep = reply.decode(buf);
  } catch (err) {
    count(st.counters, 'rx-reply-malformed');
    out.push(log('debug', 'mn-reply-drop', { src: ev.src >>> 0, reason: err instanceof Error ? err.message : 'decode' }));
    return;
  }
  // §3.6.2.1: the low 32 bits must match the most recent request.
  const p = st.pending.find((x) => replyMatches(x.idLow, rep.idLow));
  if (!p) { count(st.counters, 'rx-reply-unmatched'); return; }
  const sa = saOf(st, p.sa);
  const auths = authExtensions(rep.extensions, 32);
  const fromFa = rep.code >= 64 && rep.code <= 127;
  const authOk = auths.length === 1 && checkAuth(sa, buf, 0, auths[0]);
  // §3.6.2.1 b: HA codes need exactly one valid MN-HA extension; an FA denial may carry none.
  if (!authOk && !(fromFa && auths.length === 0)) {
    count(st.counters, 'rx-reply-auth-failed');
    out.push(log('warn', 'mn-reply-auth-failed', { src: ev.src >>> 0, code: rep.code, spi: auths[0]?.spi ?? 0 }));
    return;
  }
  // Only extensions covered by the authenticator are trusted.
  const limit = authOk ? auths[0]!.offset! : Infinity;
  const trusted = rep.extensions.filter((e) => (e.offset ?? 0) < limit);
  let inner: reply.RegistrationReply | null = null;
  const nv = st.cfg.proxy && p.withHome ? findNvse(trusted, st.cfg.proxy.vendorId, NvseType.HOME_REPLY) : undefined;
  if (nv) {
    const ib = Buffer.from(nv.value);
    try {
      inner = reply.decode(ib);
    } catch {
      inner = null;
    }
    const ia = inner ? authExtensions(inner.extensions, 32) : [];
    if (!inner || !replyMatches(p.homeIdLow, inner.idLow) || ia.length !== 1 || !checkAuth(st.cfg.homeSa, ib, 0, ia[0])) {
      count(st.counters, 'rx-home-reply-invalid');
      out.push(log('warn', 'mn-home-reply-invalid', { src: ev.src >>> 0, code: rep.code }));
      return;
    }
  }
  count(st.counters, 'rx-reply');
  // §5.7.2: an authenticated reply carries the next nonce in its high half.
  if (authOk && sa.replay === 'nonce') st.ids[p.sa].nonce = rep.idHigh >>> 0;
  if (inner && st.cfg.homeSa.replay === 'nonce') st.ids.home.nonce = inner.idHigh >>> 0;
  if (p.purpose === 'reg') onRegReply(st, p, rep, inner, trusted, authOk, now, out);
  else if (p.purpose === 'standby') onStandbyReply(st, p, rep, trusted, authOk, now, out);
  else onDeregReply(st, p, rep, now, out);
}

function denied(st: MnState, code: number, binding: string, out: Action[]): void {
  count(st.counters, `denied-${code}`);
  out.push(log('warn', 'mn-registration-denied', { binding, code, reason: replyCodeName(code) }));
}

function resync(st: MnState, name: SaName, replyHigh: number, now: number): void {
  const s = st.ids[name];
  // §5.7.1: the reply's high half is the agent's clock; the offset makes ours match it.
  if (saOf(st, name).replay === 'timestamp') s.offset = resyncOffset(replyHigh, now);
  s.used = false; // the agent's clock now rules; earlier values no longer bound the next one
}

function onRegReply(
  st: MnState, p: Pending, rep: reply.RegistrationReply, inner: reply.RegistrationReply | null,
  trusted: Extension[], authOk: boolean, now: number, out: Action[],
): void {
  const r = st.reg;
  const code = rep.code;
  const innerCode = inner?.code ?? 0;
  if (isAccepted(code) && (!inner || isAccepted(innerCode))) {
    cancel(st, 'reg');
    accept(st, p, rep, inner, trusted, out);
    return;
  }
  // 133 (§3.6.2.3, §5.7): resynchronise the SA whose check failed and resend at once.
  if ((code === 133 || innerCode === 133) && authOk) {
    if (inner && innerCode === 133) { resync(st, 'home', inner.idHigh, now); r.needHome = true; }
    else resync(st, p.sa, rep.idHigh, now);
    count(st.counters, 'resync');
    out.push(log('info', 'mn-identification-resync', { binding: inner && innerCode === 133 ? 'home' : p.sa }));
    if (++r.resyncs <= MAX_RESYNC) { startRegistration(st, now, out); return; }
  }
  denied(st, inner && !isAccepted(innerCode) ? innerCode : code, inner && !isAccepted(innerCode) ? 'home' : 'outer', out);
  cancel(st, 'reg');
  // Authentication failures need an operator: stop until the configuration is reloaded.
  if ((code === 67 || code === 131 || innerCode === 131) && (authOk || code === 67)) {
    r.stopped = true;
    out.push(log('error', 'mn-registration-stopped', { code, reason: 'authentication failed; fix the SA and reload' }));
    return;
  }
  const msg = findExt(trusted, 'message-string');
  if (authOk && code === 128 && !p.withHome && msg?.text.trim().toLowerCase() === HOME_REQUIRED_TEXT) {
    r.needHome = true;
    startRegistration(st, now, out);
    return;
  }
  if (code === 69 && rep.lifetime > 0) r.lifetimeCap = rep.lifetime; // §3.6.2.3
  r.backoff = r.backoff === 0 ? DENY_BACKOFF_MIN_MS : Math.min(r.backoff * 2, DENY_BACKOFF_MAX_MS);
  r.retryAt = now + r.backoff;
  r.resyncs = 0;
}

function accept(
  st: MnState, p: Pending, rep: reply.RegistrationReply, inner: reply.RegistrationReply | null,
  trusted: Extension[], out: Action[],
): void {
  const r = st.reg;
  const nonce = saOf(st, p.sa).replay === 'nonce';
  // §3.6.2.2: the lifetime runs from when the answered request was sent (nonce retransmissions
  // are the same request, so from the first one).
  const from = nonce ? p.firstSent : p.sentAt;
  const granted = Math.min(p.lifetime, rep.lifetime);
  const [prevGranted, prevUntil, prevRenewAt] = [r.outerGranted, r.outerUntil, r.outerRenewAt];
  r.outerGranted = granted;
  [r.outerUntil, r.outerRenewAt] = lifetimeTimes(from, granted);
  if (st.cfg.proxy) {
    st.outerAddress = rep.homeAddress >>> 0;
    if (inner) {
      const hg = Math.min(st.cfg.lifetime, inner.lifetime);
      r.homeGranted = hg;
      [r.homeUntil, r.homeRenewAt] = lifetimeTimes(st.cfg.homeSa.replay === 'nonce' ? p.firstSent : p.sentAt, hg);
      st.homeAddress = inner.homeAddress >>> 0;
      r.needHome = false;
    } else if (p.withHome) {
      // The proxy answered without the home reply: retry the home part at the next renewal only.
      r.homeRenewAt = Math.max(r.homeRenewAt, r.outerRenewAt);
      out.push(log('warn', 'mn-home-reply-missing', {}));
    }
  } else {
    st.homeAddress = rep.homeAddress >>> 0;
  }
  const prev = r.current;
  const prevTunnel: TunnelType = r.tunnel === 'udp' ? 'udp' : 'ipip', prevKeepalive = r.keepalive;
  const t = tunnelOf(st, trusted);
  r.tunnel = t.tunnel;
  r.keepalive = t.keepalive;
  r.current = p.att;
  r.mbb = false;
  r.backoff = 0;
  r.retryAt = 0;
  r.resyncs = 0;
  r.lifetimeCap = 0;
  if (!(p.flags & RegFlag.S) || rep.code !== 0) {
    // Without S (or S unsupported, code 1) the agent holds this binding alone.
    if (p.flags & RegFlag.S && standbyOn(st)) stopStandby(st, out);
    r.standby = null;
    r.prune = false;
  } else if (prev && !sameAtt(prev, p.att)) {
    // Make-before-break: the old binding becomes the standby when standby bindings are on and its
    // link still works; otherwise (or with another standby held) a registration without S a second
    // later removes what the node no longer wants.
    if (standbyOn(st) && usable(st, prev) && prevUntil > p.sentAt && !r.standby) {
      r.standby = { att: prev, granted: prevGranted, until: prevUntil, renewAt: prevRenewAt, tunnel: prevTunnel, keepalive: prevKeepalive };
    } else {
      r.prune = true;
      r.outerRenewAt = Math.min(r.outerRenewAt, p.sentAt + MIN_REGISTRATION_GAP_MS);
    }
  }
  count(st.counters, 'registered');
  out.push(log('info', 'mn-registered', {
    careOf: p.careOf, lifetime: granted, outer: st.outerAddress, home: st.homeAddress, tunnel: r.tunnel, keepalive: r.keepalive, code: rep.code,
  }));
}

/** RFC 3519 §3.2: reply codes 0-63 assent to UDP tunnelling; without F it was the NAT that needed it. */
function tunnelOf(st: MnState, trusted: Extension[]): { tunnel: TunnelType; keepalive: number } {
  const udp = findExt(trusted, 'udp-tunnel-reply');
  if (!udp || udp.code >= 64) return { tunnel: 'ipip', keepalive: 0 };
  if (!(udp.flags & 0x8000) && udp.code === UdpTunnelCode.WILL_TUNNEL) st.reg.natDetected = true;
  return { tunnel: 'udp', keepalive: udp.keepalive || DEFAULT_KEEPALIVE_S };
}

/** The agent does not keep simultaneous bindings (code 1): no standby until reloadMn. */
function stopStandby(st: MnState, out: Action[]): void {
  st.reg.standbyOff = true;
  cancel(st, 'standby');
  count(st.counters, 'standby-unsupported');
  out.push(log('warn', 'mn-standby-unsupported', { reason: 'the agent answered code 1: simultaneous bindings unsupported' }));
}

function onStandbyReply(st: MnState, p: Pending, rep: reply.RegistrationReply, trusted: Extension[], authOk: boolean, now: number, out: Action[]): void {
  const r = st.reg;
  cancel(st, 'standby');
  if (isAccepted(rep.code)) {
    if (rep.code !== 0) {
      // The agent replaced the current binding with this one: put the current one back (§3.6 rate limit).
      stopStandby(st, out);
      r.standby = null;
      r.prune = false;
      r.outerRenewAt = now;
      return;
    }
    const granted = Math.min(p.lifetime, rep.lifetime);
    const [until, renewAt] = lifetimeTimes(saOf(st, p.sa).replay === 'nonce' ? p.firstSent : p.sentAt, granted);
    const t = tunnelOf(st, trusted);
    r.standby = { att: p.att!, granted, until, renewAt, tunnel: t.tunnel, keepalive: t.keepalive };
    r.standbyBackoff = 0;
    // The newest binding must be the current one (a plane that routes to the newest uses it).
    r.outerRenewAt = Math.min(r.outerRenewAt, p.sentAt + MIN_REGISTRATION_GAP_MS);
    count(st.counters, 'standby-registered');
    out.push(log('info', 'mn-standby-registered', { ifname: p.att!.ifname, careOf: p.careOf, lifetime: granted, tunnel: t.tunnel }));
    return;
  }
  if (rep.code === 133 && authOk) {
    resync(st, p.sa, rep.idHigh, now);
    count(st.counters, 'resync');
  } else {
    denied(st, rep.code, 'standby', out);
  }
  r.standbyBackoff = r.standbyBackoff === 0 ? DENY_BACKOFF_MIN_MS : Math.min(r.standbyBackoff * 2, DENY_BACKOFF_MAX_MS);
  r.standbyRetryAt = now + r.standbyBackoff;
}

function lifetimeTimes(from: number, granted: number): [number, number] {
  if (granted >= INFINITE_LIFETIME) return [Infinity, Infinity];
  return [from + granted * 1000, from + Math.floor(granted * 1000 * RENEW_FRACTION)];
}

function onDeregReply(st: MnState, p: Pending, rep: reply.RegistrationReply, now: number, out: Action[]): void {
  const binding = p.purpose === 'dereg-home' ? 'home' : 'outer';
  cancel(st, p.purpose);
  if (isAccepted(rep.code)) {
    count(st.counters, 'deregistered');
    out.push(log('info', 'mn-deregistered', { binding }));
    if (p.purpose === 'dereg-outer') st.outerAddress = 0; // the proxy holds it for our NAI
    return;
  }
  if (rep.code === 133 && st.reg.resyncs++ < MAX_RESYNC) {
    resync(st, p.sa, rep.idHigh, now);
    startDereg(st, p.purpose as 'dereg-home' | 'dereg-outer', now, out);
    return;
  }
  denied(st, rep.code, binding, out);
}

// ---------------------------------------------------------------- data plane view

function view(st: MnState, now: number): MnView {
  const t = st.target;
  const r = st.reg;
  const v: MnView = {
    kind: 'mn-state', location: 'detached', homeAddress: st.homeAddress, outerAddress: st.outerAddress, careOf: 0,
    ifname: '', agent: 0, tunnel: 'none', natPort: 0, vpn: 'down', others: [],
  };
  if (st.shutdown || !t) return v;
  v.ifname = t.ifname;
  if (t.location === 'home') return { ...v, location: 'home', vpn: 'pass-through' };
  const c = r.current;
  const live = !!c && now < r.outerUntil && usable(st, c);
  const main = live ? c! : t;
  // Other care-of addresses the node holds a binding at (the standby) or registers from (a pending
  // make-before-break or standby registration): their signalling leaves through their own link.
  const others: MnView['others'] = [];
  const add = (a: Attachment | null, tunnel: TunnelType | 'none') => {
    if (a && a.location === 'foreign' && a.ifname !== main.ifname && !others.some((o) => o.ifname === a.ifname)) {
      others.push({ ifname: a.ifname, careOf: a.careOf, agent: a.agent, tunnel });
    }
  };
  if (r.standby && now < r.standby.until && usable(st, r.standby.att)) add(r.standby.att, r.standby.tunnel);
  for (const p of st.pending) if (p.purpose === 'reg' || p.purpose === 'standby') add(p.att, 'none');
  if (live) {
    return {
      ...v, location: 'foreign', careOf: c!.careOf, ifname: c!.ifname, agent: c!.agent, tunnel: r.tunnel,
      natPort: r.tunnel === 'udp' ? st.cfg.mipPort : 0, vpn: st.cfg.proxy ? 'up' : 'pass-through', others,
    };
  }
  return { ...v, location: 'foreign', careOf: t.careOf, agent: t.agent, others };
}

function emitState(st: MnState, now: number, out: Action[]): void {
  const v = view(st, now);
  const key = JSON.stringify(v);
  if (key === st.lastView) return;
  st.lastView = key;
  out.push(v);
}

// ---------------------------------------------------------------- status and reload

export function mnStatus(st: MnState, render: (addr: number) => string): Record<string, unknown> {
  const now = st.lastNow;
  const r = st.reg;
  const left = (t: number): number | null => (t === Infinity ? null : Math.max(0, Math.round((t - now) / 1000)));
  const v = view(st, now);
  return {
    location: v.location,
    vpn: v.vpn,
    ifname: v.ifname,
    careOf: render(v.careOf),
    agent: render(v.agent),
    homeAddress: render(st.homeAddress),
    outerAddress: render(st.outerAddress),
    registration: st.shutdown ? 'shutdown' : r.stopped ? 'stopped' : st.pending.some((p) => p.purpose === 'reg') ? 'pending'
      // 'registered' only while the accepted binding is the one shown (its CoA still usable); after a
      // move that binding is stale until the new registration starts (≥ 1 s apart, §3.6): 'moving'.
      : r.current && now < r.outerUntil ? (usable(st, r.current) ? 'registered' : 'moving') : r.retryAt > now ? 'backoff' : 'idle',
    outerBinding: r.outerUntil > now ? { granted: r.outerGranted, expiresIn: left(r.outerUntil), renewIn: left(r.outerRenewAt) } : null,
    homeBinding: r.homeUntil > now ? { granted: r.homeGranted, expiresIn: left(r.homeUntil), renewIn: left(r.homeRenewAt) } : null,
    standbyBinding: r.standby && r.standby.until > now ? {
      ifname: r.standby.att.ifname, careOf: render(r.standby.att.careOf), agent: render(r.standby.att.agent), tunnel: r.standby.tunnel,
      granted: r.standby.granted, expiresIn: left(r.standby.until), renewIn: left(r.standby.renewAt),
    } : null,
    standby: !st.cfg.standbyBindings ? 'off' : !st.cfg.simultaneousBindings ? 'off (needs simultaneous_bindings)' : r.standbyOff ? 'unsupported by the agent' : 'on',
    tunnel: r.tunnel,
    keepalive: r.keepalive,
    natDetected: r.natDetected,
    clockOffset: { proxy: st.ids.proxy.offset, home: st.ids.home.offset },
    pending: st.pending.map((p) => ({ purpose: p.purpose, dst: render(p.dst), transmissions: p.transmissions, timeoutMs: p.timeout })),
    interfaces: st.ifs.map((i) => ({
      ifname: i.ifname, preference: i.preference, up: i.up,
      addresses: i.addresses.map((a) => `${render(a.address)}/${a.prefixLength}`),
      agent: i.agent ? {
        address: render(i.agent.address), careOf: i.agent.careOfAddresses.map(render), flags: i.agent.flags,
        sequence: i.agent.sequence, expiresIn: left(i.agent.expires),
      } : null,
    })),
    counters: { ...st.counters },
  };
}

/**
 * Applies a new configuration. Interfaces keep their link state; authentication stops are lifted;
 * a changed identity (NAI, home agent, proxy, SAs) drops the bindings and registers afresh.
 */
export function reloadMn(st: MnState, cfg: MnConfig): Action[] {
  const out: Action[] = [];
  const now = st.lastNow;
  try {
    const old = st.cfg;
    const identity = old.nai !== cfg.nai || old.homeAgent !== cfg.homeAgent || old.homeAddress !== cfg.homeAddress
      || old.homeSa !== cfg.homeSa || JSON.stringify(old.proxy) !== JSON.stringify(cfg.proxy) || old.proxy?.sa !== cfg.proxy?.sa;
    const byName = new Map(st.ifs.map((i) => [i.ifname, i]));
    st.cfg = cfg;
    st.ifs = cfg.interfaces.map((i) => ({ ...(byName.get(i.ifname) ?? newIf(i.ifname, i.preference)), preference: i.preference }));
    const r = st.reg;
    r.stopped = false;
    r.standbyOff = false;
    r.standbyRetryAt = 0;
    r.standbyBackoff = 0;
    cancel(st, 'standby');
    r.retryAt = 0;
    r.backoff = 0;
    r.resyncs = 0;
    cancel(st, 'reg');
    if (identity) {
      clearBindings(st);
      st.ids = { proxy: newIdState(), home: newIdState() };
      st.homeAddress = cfg.homeAddress >>> 0;
      st.outerAddress = 0;
      st.pending = [];
      st.target = null;
    }
    out.push(log('info', 'mn-reload', { identityChanged: identity }));
    settle(st, now, out);
  } catch (err) {
    count(st.counters, 'internal-error');
    out.push(log('error', 'mn-internal-error', { event: 'reload', error: err instanceof Error ? err.message : String(err) }));
  }
  return out;
}
