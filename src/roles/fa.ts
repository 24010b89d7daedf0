/**
 * Foreign agent (role `fa`): RFC 5944 §2 (agent advertisements, solicitations) and §3.7 (relaying
 * registrations, visitor list), RFC 3024 (reverse tunnelling: T bit, codes 74-76, 79), RFC 4721
 * §2-§3.2 (MN-FA challenges in advertisements), RFC 2794 §3 (NAI, home address 0), RFC 3543
 * (revocation support extension, revocations from home agents).
 *
 * A pure state machine: `stepFa(state, event, now) → actions`; it never throws. Received messages
 * are checked in a fixed order (length → fields → lookup → authenticate → resources) and state
 * changes only after every check passed. A denied request is a reply with the RFC code.
 *
 * Memory: the VisitorTable (fixed capacities) plus, per pending slot, the NAI (string or
 * undefined) and per visitor slot the NAI and the home agent's revocation timestamp; per access
 * interface CHALLENGE_WINDOW challenges with the set of nodes that used each; a denial limiter and
 * a link-address cache of at most DENY_LIMITER_MAX and LINK_CACHE_MAX entries.
 */
import { AdvFlag, Ext, GenAuthSubtype, RegFlag, ReplyCode, RevocationFlag, isAccepted } from '../wire/constants';
import { Extension, encodeExtension } from '../wire/extensions';
import { decodeMip, decodeIcmp } from '../wire/message';
import * as adv from '../wire/agent-advertisement';
import type { RegistrationRequest } from '../wire/registration-request';
import type { RegistrationReply } from '../wire/registration-reply';
import type { RegistrationRevocation } from '../wire/registration-revocation';
import { internetChecksum } from '../wire/checksum';
import { SecurityAssociation } from '../auth/security-association';
import { ntpSeconds } from '../auth/replay';
import { VisitorTable, VisitorFields, emptyVisitorFields } from '../tables/visitor-table';
import { FULL, NODE_LIMIT, NONE } from '../tables/status';
import { naiHashString } from '../tables/address-pool';
import { RoamdError } from '../errors';
import { Action, Counters, IcmpEvent, LinkEvent, LogFields, RoleEvent, Random32, UdpEvent, count, log, ipStr as ip } from './types';
import { Signer, appendAuth, authExtensions, checkAuth, encodeReply, ackRevocation, faHaAuthentic, findExt, findNai } from './messages';

/** RFC 1256 §3: all-systems multicast for advertisements; RFC 5944 §2.3: all-mobility-agents. */
const ALL_SYSTEMS = 0xe0000001;
const BROADCAST = 0xffffffff;
/** RFC 5944 §2.3.2: after 0xffff the sequence number continues at 256. */
const SEQ_ROLLOVER = 256;
/** RFC 4721 §2: the advertisement challenge extension (ICMP router discovery extension space). */
const ADV_CHALLENGE_EXT = 24;
/** RFC 4721 §9: CHALLENGE_WINDOW default 2; §2: a challenge SHOULD be at least 32 bits. */
const CHALLENGE_WINDOW = 2;
const CHALLENGE_LENGTH = 8;
/** RFC 5944 §2.3: multicast advertisements MUST be rate-limited; one solicited answer per second. */
const SOLICITED_MIN_GAP_MS = 1000;
/** RFC 5944 §3.7.2, RFC 3024 §4.2.1: at most one denial per second to the same mobile node. */
const DENY_GAP_MS = 1000;
const DENY_LIMITER_MAX = 4096;
const LINK_CACHE_MAX = 1024;
/** RFC 3024 §4.2.1: a request with T set must arrive with IP TTL 255, else code 76. */
const REQUIRED_TTL = 255;
/** Timer wheel granularity of the visitor table (docs/tables.md: 100 ms in every profile). */
const TABLE_TICK_MS = 100;
const NO_MAC = '000000000000';
const DROP = -1;

export interface FaInterface { ifname: string; address: number; prefixLength: number }

export interface FaConfig {
  /** Access interfaces: the FA's address on each is the care-of address advertised there. */
  interfaces: FaInterface[];
  /** Seconds between unsolicited advertisements; 0 = only answer solicitations. */
  advertiseInterval: number;
  /** ICMP router advertisement lifetime (s); 0 → 3 × interval (RFC 1256), 1800 if interval is 0. */
  advertisementLifetime: number;
  /** Longest registration lifetime granted and advertised (s). */
  registrationLifetime: number;
  registrationRequired: boolean;
  reverseTunnel: 'no' | 'optional' | 'required';
  behindNat: boolean;
  revocation: boolean;
  challenge: boolean;
  /** ICMP code 16: the agent does not route common traffic (RFC 5944 §2.1). */
  mobilityOnly?: boolean;
  maxPendingPerNode: number;
  pendingTimeoutMs: number;
  homeAgents: Array<{ address: number; sa?: SecurityAssociation }>;
  restrictHomeAgents: boolean;
  mobileNodes: Array<{ nai?: string; home?: number; sa: SecurityAssociation }>;
  mipPort: number;
}

interface Challenge { hex: string; bytes: Uint8Array; usedBy: Set<number> }

interface Iface {
  cfg: FaInterface;
  up: boolean;
  /** The configured address is present on the interface (last link event). */
  addrOk: boolean;
  seq: number;
  /** Advertisements sent so far (the next one gets sequence 0 when this is 0). */
  sent: number;
  nextAdvAt: number;
  lastSolicitedAt: number;
  challenges: Challenge[];
}

export interface FaState {
  cfg: FaConfig;
  table: VisitorTable;
  counters: Counters;
  random: Random32;
  /** Time of the last event (for status output). */
  now: number;
  ifaces: Map<string, Iface>;
  homeAgents: Map<number, SecurityAssociation | undefined>;
  mnByNai: Map<string, SecurityAssociation>;
  mnByHome: Map<number, SecurityAssociation>;
  pendingNai: Array<string | undefined>;
  visitorNai: Array<string | undefined>;
  /** Per visitor: the HA's revocation support timestamp from the accepted reply (RFC 3543 §4.2.2.2). */
  visitorHaTs: Uint32Array;
  lastRevocationId: Map<number, number>;
  lastDenial: Map<number, number>;
  linkCache: Map<string, string>;
  fields: VisitorFields;
}

// ---------------------------------------------------------------------------------------------
// Construction, reload, status

function validate(cfg: FaConfig): void {
  const bad = (what: string): never => { throw new RoamdError('ERR_CONFIG_INVALID', `fa: ${what}`); };
  if (cfg.interfaces.length === 0) bad('at least one access interface is required');
  for (const i of cfg.interfaces) {
    if (!(i.address > 0 && i.address <= 0xffffffff) || !(i.prefixLength >= 0 && i.prefixLength <= 32)) bad(`interface ${i.ifname}: bad address or prefix`);
  }
  if (!(cfg.advertiseInterval >= 0) || !(cfg.registrationLifetime >= 1 && cfg.registrationLifetime <= 0xffff)) bad('advertise interval or registration lifetime out of range');
  if (!(cfg.mipPort >= 1 && cfg.mipPort <= 0xffff) || !(cfg.maxPendingPerNode >= 1) || !(cfg.pendingTimeoutMs > 0)) bad('mip port or pending limits out of range');
}

function newIface(cfg: FaInterface, now: number): Iface {
  return { cfg, up: true, addrOk: true, seq: 0, sent: 0, nextAdvAt: now, lastSolicitedAt: -Infinity, challenges: [] };
}

function applyConfig(st: FaState, cfg: FaConfig): void {
  st.cfg = cfg;
  st.homeAgents = new Map(cfg.homeAgents.map((h) => [h.address >>> 0, h.sa]));
  st.mnByNai = new Map();
  st.mnByHome = new Map();
  for (const m of cfg.mobileNodes) {
    if (m.nai !== undefined) st.mnByNai.set(m.nai, m.sa);
    if (m.home !== undefined) st.mnByHome.set(m.home >>> 0, m.sa);
  }
}

export function createFa(cfg: FaConfig, opts: { visitorCapacity: number; pendingCapacity: number; random: Random32; now: number }): FaState {
  validate(cfg);
  const table = new VisitorTable({ visitorCapacity: opts.visitorCapacity, pendingCapacity: opts.pendingCapacity,
    maxPendingPerNode: cfg.maxPendingPerNode, pendingTimeoutMs: cfg.pendingTimeoutMs, tickMs: TABLE_TICK_MS, now: opts.now });
  const st: FaState = {
    cfg, table, counters: {}, random: opts.random, now: opts.now,
    ifaces: new Map(cfg.interfaces.map((i) => [i.ifname, newIface(i, opts.now)])),
    homeAgents: new Map(), mnByNai: new Map(), mnByHome: new Map(),
    pendingNai: new Array<string | undefined>(opts.pendingCapacity).fill(undefined),
    visitorNai: new Array<string | undefined>(opts.visitorCapacity).fill(undefined),
    visitorHaTs: new Uint32Array(opts.visitorCapacity),
    lastRevocationId: new Map(), lastDenial: new Map(), linkCache: new Map(), fields: emptyVisitorFields(),
  };
  applyConfig(st, cfg);
  return st;
}

/** SIGHUP: new configuration, same tables (capacities and per-node limits apply from start-up). */
export function reloadFa(st: FaState, cfg: FaConfig): Action[] {
  try {
    validate(cfg);
  } catch (e) {
    count(st.counters, 'reload_failed');
    return [log('error', 'fa.reload', { ok: false, error: (e as Error).message })];
  }
  const out: Action[] = [];
  if (cfg.maxPendingPerNode !== st.table.maxPendingPerNode || cfg.pendingTimeoutMs !== st.table.pendingTimeoutMs) {
    out.push(log('warn', 'fa.reload', { note: 'max_pending_per_node and pending_timeout_ms apply after a restart' }));
  }
  const old = st.ifaces;
  st.ifaces = new Map();
  for (const i of cfg.interfaces) {
    const prev = old.get(i.ifname);
    const ifc = prev && prev.cfg.address === i.address ? { ...prev, cfg: i } : newIface(i, st.now);
    st.ifaces.set(i.ifname, ifc);
  }
  applyConfig(st, cfg);
  count(st.counters, 'reloads');
  out.push(log('info', 'fa.reload', { ok: true, interfaces: cfg.interfaces.length }));
  // Flags or lifetimes may have changed: tell the links now.
  for (const ifc of st.ifaces.values()) if (advertising(ifc)) out.push(advertiseNow(st, ifc, st.now));
  return out;
}


function busy(st: FaState): boolean {
  return st.table.visitorCount >= st.table.visitorCapacity;
}

export function faStatus(st: FaState): Record<string, unknown> {
  const c = st.cfg;
  return {
    role: 'fa',
    visitors: st.table.visitorCount, pending: st.table.pendingCount,
    visitorCapacity: st.table.visitorCapacity, pendingCapacity: st.table.pendingCapacity, busy: busy(st),
    interfaces: [...st.ifaces.values()].map((i) => ({ ifname: i.cfg.ifname, careOf: ip(i.cfg.address), prefixLength: i.cfg.prefixLength,
      up: i.up, advertising: advertising(i), sequence: i.seq, advertisementsSent: i.sent })),
    config: { advertiseInterval: c.advertiseInterval, advertisementLifetime: advLifetime(c), registrationLifetime: c.registrationLifetime,
      registrationRequired: c.registrationRequired, reverseTunnel: c.reverseTunnel, behindNat: c.behindNat, revocation: c.revocation,
      challenge: c.challenge, mobilityOnly: !!c.mobilityOnly, restrictHomeAgents: c.restrictHomeAgents,
      homeAgents: c.homeAgents.length, mobileNodes: c.mobileNodes.length, mipPort: c.mipPort },
    counters: { ...st.counters },
  };
}

function macOf(hi: number, lo: number): string {
  return hi.toString(16).padStart(4, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

export function faVisitors(st: FaState, render: (addr: number) => string): Array<Record<string, unknown>> {
  const t = st.table, out: Array<Record<string, unknown>> = [];
  t.forEachVisitor((v) => {
    const V = t.visitors;
    out.push({ state: 'visitor', home: render(V.home[v]!), nai: st.visitorNai[v] ?? null, ifname: ifnameFor(st, V.careOf[v]!, V.ipSrc[v]!),
      linkAddr: macOf(V.macHi[v]!, V.macLo[v]!), source: render(V.ipSrc[v]!), port: V.udpSrcPort[v], homeAgent: render(V.homeAgent[v]!),
      careOf: render(V.careOf[v]!), reverseTunnel: (V.flags[v]! & RegFlag.T) !== 0, lifetime: V.lifetime[v], remaining: t.visitorRemaining(v, st.now) });
  });
  for (let p = 0; p < t.pendingCapacity; p++) {
    if (!t.isPending(p)) continue;
    const P = t.pending;
    out.push({ state: 'pending', home: render(P.home[p]!), nai: st.pendingNai[p] ?? null, ifname: ifnameFor(st, P.careOf[p]!, P.ipSrc[p]!),
      source: render(P.ipSrc[p]!), port: P.udpSrcPort[p], homeAgent: render(P.homeAgent[p]!), careOf: render(P.careOf[p]!),
      identification: `${P.identHi[p]!.toString(16).padStart(8, '0')}${P.identLo[p]!.toString(16).padStart(8, '0')}`,
      lifetime: P.lifetime[p], expiresInMs: Math.max(0, t.wheel.expiresAt(t.visitorCapacity + p) - st.now) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Dispatch

export function stepFa(st: FaState, ev: RoleEvent, now: number): Action[] {
  st.now = now;
  try {
    switch (ev.kind) {
      case 'udp': return onUdp(st, ev, now);
      case 'icmp': return onIcmp(st, ev, now);
      case 'tick': return onTick(st, now);
      case 'link': return onLink(st, ev, now);
      case 'revoke': return drop(st, 'control_ignored', 'revoke is a home agent command', {}, 'info');
      case 'shutdown': return onShutdown(st);
      default: return drop(st, 'rx_unknown_event', 'unknown event', {});
    }
  } catch (e) {
    // Defensive: a bug must not take the daemon down; count it and go on.
    return drop(st, 'internal_error', (e as Error).message ?? String(e), {}, 'error');
  }
}

function drop(st: FaState, counter: string, reason: string, fields: LogFields, level: 'debug' | 'info' | 'warn' | 'error' = 'debug'): Action[] {
  count(st.counters, counter);
  return [log(level, 'fa.drop', { reason: counter, detail: reason, ...fields })];
}

function onUdp(st: FaState, ev: UdpEvent, now: number): Action[] {
  let m;
  try {
    m = decodeMip(ev.data);
  } catch (e) {
    return drop(st, 'rx_malformed', (e as RoamdError).code ?? 'decode', { src: ip(ev.src) });
  }
  switch (m.type) {
    case 1: return onRequest(st, ev, m, now);
    case 3: return onReply(st, ev, m, now);
    case 7: return onRevocation(st, ev, m);
    default: return drop(st, 'rx_unexpected', `message type ${m.type} is not for a foreign agent`, { src: ip(ev.src) });
  }
}

// ---------------------------------------------------------------------------------------------
// Agent advertisements (RFC 5944 §2.1, §2.3; RFC 1256; RFC 4721 §2)

function advertising(i: Iface): boolean {
  return i.up && i.addrOk;
}

function advLifetime(c: FaConfig): number {
  const l = c.advertisementLifetime > 0 ? c.advertisementLifetime : c.advertiseInterval > 0 ? 3 * c.advertiseInterval : 1800;
  return Math.min(0xffff, Math.round(l));
}

function newChallenge(st: FaState, ifc: Iface): Challenge {
  const bytes = new Uint8Array(CHALLENGE_LENGTH);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < CHALLENGE_LENGTH; i += 4) dv.setUint32(i, st.random() >>> 0);
  const c = { hex: Buffer.from(bytes).toString('hex'), bytes, usedBy: new Set<number>() };
  ifc.challenges.push(c);
  if (ifc.challenges.length > CHALLENGE_WINDOW) ifc.challenges.shift();
  return c;
}

/** ICMP agent advertisement for `ifc`; the challenge (type 24) and a pad byte are appended here. */
function encodeAdvertisement(st: FaState, ifc: Iface, seq: number, challenge: Uint8Array | undefined): Buffer {
  const c = st.cfg;
  const flags = AdvFlag.F | (c.registrationRequired ? AdvFlag.R : 0) | (c.reverseTunnel !== 'no' ? AdvFlag.T : 0)
    | (c.behindNat ? AdvFlag.U : 0) | (c.revocation ? AdvFlag.X : 0) | (busy(st) ? AdvFlag.B : 0);
  const m: adv.AgentAdvertisement = {
    type: 9, code: c.mobilityOnly ? 16 : 0, lifetime: advLifetime(c),
    routers: [{ address: ifc.cfg.address, preference: 0 }],
    extensions: [
      { kind: 'mobility-agent', sequence: seq, registrationLifetime: c.registrationLifetime, flags, careOfAddresses: [ifc.cfg.address] },
      { kind: 'prefix-lengths', prefixLengths: [ifc.cfg.prefixLength] },
    ],
  };
  const base = adv.encodingLength(m);
  const extra = challenge ? 2 + challenge.length : 0;
  const pad = (base + extra) % 2; // RFC 5944 §2.1.3: one pad byte, last, for an even ICMP length
  const buf = Buffer.alloc(base + extra + pad);
  adv.encode(m, buf, 0);
  if (challenge) {
    buf[base] = ADV_CHALLENGE_EXT;
    buf[base + 1] = challenge.length;
    buf.set(challenge, base + 2);
  }
  if (extra || pad) {
    buf.writeUInt16BE(0, 2);
    buf.writeUInt16BE(internetChecksum(buf, 0, buf.length), 2);
  }
  return buf;
}

/** Sends the next advertisement on `ifc` (multicast, TTL 1); `fresh` draws a new challenge. */
function advertise(st: FaState, ifc: Iface, fresh: boolean): Action {
  let ch: Challenge | undefined;
  if (st.cfg.challenge) ch = fresh || ifc.challenges.length === 0 ? newChallenge(st, ifc) : ifc.challenges[ifc.challenges.length - 1];
  const seq = ifc.sent === 0 ? 0 : ifc.seq === 0xffff ? SEQ_ROLLOVER : ifc.seq + 1;
  ifc.seq = seq;
  ifc.sent++;
  count(st.counters, 'adv_sent');
  return { kind: 'send-icmp', ifname: ifc.cfg.ifname, dst: ALL_SYSTEMS, ttl: 1, data: encodeAdvertisement(st, ifc, seq, ch?.bytes) };
}

function advertiseNow(st: FaState, ifc: Iface, now: number): Action {
  ifc.nextAdvAt = now + st.cfg.advertiseInterval * 1000;
  return advertise(st, ifc, true);
}

function onIcmp(st: FaState, ev: IcmpEvent, now: number): Action[] {
  let m;
  try {
    m = decodeIcmp(ev.data);
  } catch (e) {
    return drop(st, 'rx_malformed', (e as RoamdError).code ?? 'decode', { src: ip(ev.src), ifname: ev.ifname });
  }
  if (m.type === 9) return drop(st, 'rx_adv_ignored', 'advertisement from another agent', { src: ip(ev.src), ifname: ev.ifname });
  count(st.counters, 'rx_solicitations');
  const ifc = st.ifaces.get(ev.ifname);
  if (!ifc) return drop(st, 'rx_not_access', 'solicitation on a non-access interface', { ifname: ev.ifname });
  if (!advertising(ifc)) return drop(st, 'rx_iface_down', 'solicitation on an interface that is down', { ifname: ev.ifname });
  // RFC 5944 §2.2 puts TTL 1 on the sender and §2.3 forbids requiring a neighbour source: accept, count.
  if (ev.ttl !== 1) count(st.counters, 'rx_solicit_ttl_not_1');
  if (ev.linkSrc && ev.src !== 0) learnLink(st, ev.ifname, ev.src, ev.linkSrc);
  if (now - ifc.lastSolicitedAt < SOLICITED_MIN_GAP_MS) return drop(st, 'solicit_ratelimited', 'answered a solicitation less than 1 s ago', { ifname: ev.ifname });
  ifc.lastSolicitedAt = now;
  count(st.counters, 'adv_solicited');
  // Multicast answer: RFC 4721 §2.1 reuses the latest challenge instead of drawing a new one.
  return [advertise(st, ifc, false)];
}

function learnLink(st: FaState, ifname: string, src: number, mac: string): void {
  if (!/^[0-9a-fA-F]{12}$/.test(mac)) return;
  const key = `${ifname}/${src >>> 0}`;
  st.linkCache.delete(key);
  if (st.linkCache.size >= LINK_CACHE_MAX) st.linkCache.delete(st.linkCache.keys().next().value as string);
  st.linkCache.set(key, mac.toLowerCase());
}

// ---------------------------------------------------------------------------------------------
// Ticks, links, shutdown

function onTick(st: FaState, now: number): Action[] {
  const out: Action[] = [];
  st.table.advance(now, (v) => out.push(...visitorExpired(st, v)), (p) => out.push(...pendingExpired(st, p)));
  if (st.cfg.advertiseInterval > 0) {
    for (const ifc of st.ifaces.values()) if (advertising(ifc) && now >= ifc.nextAdvAt) out.push(advertiseNow(st, ifc, now));
  }
  for (const [k, t] of st.lastDenial) if (now - t >= DENY_GAP_MS) st.lastDenial.delete(k);
  return out;
}

function visitorAction(st: FaState, op: 'set' | 'del', v: number): Action {
  const V = st.table.visitors;
  return { kind: 'visitor', op, home: V.home[v]!, ifname: ifnameFor(st, V.careOf[v]!, V.ipSrc[v]!), linkAddr: macOf(V.macHi[v]!, V.macLo[v]!),
    homeAgent: V.homeAgent[v]!, careOf: V.careOf[v]!, reverse: (V.flags[v]! & RegFlag.T) !== 0 };
}

/** Lifetime expiry (§3.7.1): delete the entry; the FA sends nothing to anyone (§3.7). */
function visitorExpired(st: FaState, v: number): Action[] {
  count(st.counters, 'visitor_expired');
  st.visitorNai[v] = undefined;
  return [visitorAction(st, 'del', v), log('info', 'fa.visitor', { op: 'expired', home: ip(st.table.visitors.home[v]!) })];
}

/** Pending time-out (§3.7.1): reject with 78 (registration timeout). */
function pendingExpired(st: FaState, p: number): Action[] {
  count(st.counters, 'pending_timeout');
  const out = replyFromPending(st, p, ReplyCode.FA_REGISTRATION_TIMEOUT);
  st.pendingNai[p] = undefined;
  return out;
}

function onLink(st: FaState, ev: LinkEvent, now: number): Action[] {
  const ifc = st.ifaces.get(ev.ifname);
  if (!ifc) { count(st.counters, 'link_ignored'); return []; }
  const was = advertising(ifc);
  const mine = ev.addresses.find((a) => a.address >>> 0 === ifc.cfg.address >>> 0);
  ifc.up = ev.up;
  ifc.addrOk = !!mine;
  if (mine) ifc.cfg = { ...ifc.cfg, prefixLength: mine.prefixLength };
  const fields = { ifname: ev.ifname, up: ev.up, careOf: ip(ifc.cfg.address), careOfPresent: !!mine };
  if (!advertising(ifc)) {
    count(st.counters, 'iface_down');
    return [log(ev.up ? 'warn' : 'info', 'fa.link', { ...fields, advertising: false })];
  }
  // Up, or an address change on an up link (hotplug ifup): advertise at once.
  count(st.counters, was ? 'iface_changed' : 'iface_up');
  return [log('info', 'fa.link', { ...fields, advertising: true }), advertiseNow(st, ifc, now)];
}

/** Shutdown: withdraw every visitor from the data plane; a last advertisement with lifetime 0 (RFC 1256 §4.3). */
function onShutdown(st: FaState): Action[] {
  const out: Action[] = [];
  st.table.forEachVisitor((v) => out.push(visitorAction(st, 'del', v)));
  for (const ifc of st.ifaces.values()) {
    if (!advertising(ifc)) continue;
    const a = advertise(st, ifc, false) as Extract<Action, { kind: 'send-icmp' }>;
    a.data.writeUInt16BE(0, 6); // RFC 1256 §4.3: lifetime 0 when an interface ceases to advertise
    a.data.writeUInt16BE(0, 2);
    a.data.writeUInt16BE(internetChecksum(a.data, 0, a.data.length), 2);
    out.push(a);
  }
  out.push(log('info', 'fa.shutdown', { visitors: st.table.visitorCount }));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by requests and replies

function inPrefix(a: number, net: number, len: number): boolean {
  if (len === 0) return true;
  const mask = (0xffffffff << (32 - len)) >>> 0;
  return ((a ^ net) & mask) >>> 0 === 0;
}

/** Access interface of a care-of address (the FA's own, or a co-located one on its link). */
function ifaceFor(st: FaState, careOf: number, src: number): Iface | undefined {
  for (const i of st.ifaces.values()) if (i.cfg.address === careOf) return i;
  for (const a of [careOf, src]) for (const i of st.ifaces.values()) if (a !== 0 && inPrefix(a, i.cfg.address, i.cfg.prefixLength)) return i;
  return undefined;
}

function ifnameFor(st: FaState, careOf: number, src: number): string {
  return ifaceFor(st, careOf, src)?.cfg.ifname ?? '';
}

/** Arrival interface of a datagram: the socket's ifname, else its local address, else its source. */
function arrival(st: FaState, ev: UdpEvent): Iface | undefined {
  if (ev.ifname !== undefined) return st.ifaces.get(ev.ifname);
  for (const i of st.ifaces.values()) if (i.cfg.address === ev.dst) return i;
  for (const i of st.ifaces.values()) if (ev.src !== 0 && inPrefix(ev.src, i.cfg.address, i.cfg.prefixLength)) return i;
  return st.ifaces.size === 1 ? st.ifaces.values().next().value : undefined;
}

/** §3.7.2.3: reply from the request's destination unless it was multicast or broadcast. */
function replySource(reqDst: number, ifc: Iface | undefined): number | undefined {
  const group = reqDst >>> 28 === 0xe || reqDst >>> 0 === BROADCAST || reqDst === 0;
  return group ? ifc?.cfg.address : reqDst;
}

function mnSa(st: FaState, home: number, nai: string | undefined): SecurityAssociation | undefined {
  return (nai !== undefined ? st.mnByNai.get(nai) : undefined) ?? (home !== 0 ? st.mnByHome.get(home >>> 0) : undefined);
}

function mnSigners(sa: SecurityAssociation | undefined): Signer[] {
  return sa ? [{ type: Ext.MN_FA_AUTH, sa }] : []; // §3.7.1: MUST add MN-FA auth when the FA shares an SA with the MN
}

/** End (bytes) of the last authorization-enabling extension: MN-HA (32) or MN-AAA (36/1), §3.7.2.2. */
function authEnablingEnd(exts: readonly Extension[]): number | undefined {
  let end: number | undefined;
  for (const e of exts) {
    if (e.offset === undefined) continue;
    if (e.kind === 'auth' && e.type === Ext.MN_HA_AUTH) end = e.offset + 6 + e.authenticator.length;
    else if (e.kind === 'gen-auth' && e.subtype === GenAuthSubtype.MN_AAA) end = e.offset + 8 + e.authenticator.length;
  }
  return end;
}

function nodeKey(home: number, nai: string | undefined): number {
  return home !== 0 ? home >>> 0 : naiHashString(nai ?? '', 0);
}

interface ReplyTo { dst: number; port: number; src: number | undefined }

/** A reply generated by the FA: Home Address, Home Agent, Identification copied (§3.7.2.3). */
function faReply(st: FaState, code: number, f: { lifetime: number; home: number; homeAgent: number; idHigh: number; idLow: number },
  nai: string | undefined, to: ReplyTo, sa: SecurityAssociation | undefined): Action[] {
  count(st.counters, 'denied');
  count(st.counters, `denied_${code}`);
  const key = nodeKey(f.home, nai);
  const l = log('info', 'fa.deny', { code, home: ip(f.home), ...(nai !== undefined ? { nai } : {}), to: ip(to.dst) });
  const last = st.lastDenial.get(key);
  if (last !== undefined && st.now - last < DENY_GAP_MS) {
    count(st.counters, 'deny_ratelimited');
    return [l];
  }
  if (st.lastDenial.size < DENY_LIMITER_MAX) st.lastDenial.set(key, st.now);
  const extensions: Extension[] = nai !== undefined ? [{ kind: 'nai', nai }] : [];
  const data = encodeReply({ type: 3, code, lifetime: f.lifetime, homeAddress: f.home, homeAgent: f.homeAgent, idHigh: f.idHigh, idLow: f.idLow, extensions }, mnSigners(sa));
  const send: Action = { kind: 'send-udp', dst: to.dst, dstPort: to.port, data, ...(to.src !== undefined ? { src: to.src } : {}) };
  return [l, send];
}

/** Where replies for pending slot p go (§3.7.2.3): home address or broadcast, the request's port. */
function pendingTo(st: FaState, p: number, home: number): ReplyTo {
  const P = st.table.pending;
  return { dst: home !== 0 ? home : BROADCAST, port: P.udpSrcPort[p]!, src: replySource(P.ipDst[p]!, ifaceFor(st, P.careOf[p]!, P.ipSrc[p]!)) };
}

function replyFromPending(st: FaState, p: number, code: number): Action[] {
  const P = st.table.pending, nai = st.pendingNai[p], home = P.home[p]!;
  return faReply(st, code, { lifetime: P.lifetime[p]!, home, homeAgent: P.homeAgent[p]!, idHigh: P.identHi[p]!, idLow: P.identLo[p]! },
    nai, pendingTo(st, p, home), mnSa(st, home, nai));
}

// ---------------------------------------------------------------------------------------------
// Registration requests from mobile nodes (§3.7.2)

interface ReqCtx {
  ev: UdpEvent; rq: RegistrationRequest; ifc: Iface; nai: string | undefined; key: number;
  sa: SecurityAssociation | undefined; keep: number; challenge: Challenge | undefined; security: string | undefined;
}

function onRequest(st: FaState, ev: UdpEvent, rq: RegistrationRequest, now: number): Action[] {
  count(st.counters, 'rx_requests');
  const ifc = arrival(st, ev);
  const src = ip(ev.src);
  if (!ifc) return drop(st, 'rx_not_access', 'request not received on an access interface', { src });
  if (!advertising(ifc)) return drop(st, 'rx_iface_down', 'request on an interface that is down', { src, ifname: ifc.cfg.ifname });
  // RFC 3543 §4.2.1: a non-co-located node MUST NOT send revocation support; silently discard.
  if (!(rq.flags & RegFlag.D) && findExt(rq.extensions, 'revocation-support')) return drop(st, 'rx_mn_revocation_ext', 'revocation support from a non-co-located node', { src }, 'info');
  const nai = findNai(rq.extensions);
  const c: ReqCtx = { ev, rq, ifc, nai, key: nodeKey(rq.homeAddress, nai), sa: mnSa(st, rq.homeAddress, nai), keep: 0, challenge: undefined, security: undefined };
  const code = checkRequest(st, c);
  if (code === DROP) return [log('info', 'fa.drop', { reason: 'rx_challenge_unauthenticated', detail: c.security ?? '', src })];
  const to: ReplyTo = { dst: rq.homeAddress !== 0 ? rq.homeAddress : BROADCAST, port: ev.srcPort, src: replySource(ev.dst, ifc) };
  const deny = (k: number): Action[] => faReply(st, k, { ...rq, home: rq.homeAddress, lifetime: k === ReplyCode.FA_LIFETIME_TOO_LONG ? st.cfg.registrationLifetime : rq.lifetime }, nai, to, c.sa);
  if (code !== 0) {
    const sec = c.security !== undefined ? [log('warn', 'fa.security', { event: c.security, src, home: ip(rq.homeAddress) })] : [];
    return [...sec, ...deny(code)];
  }

  // Resources: the table answers FULL / NODE_LIMIT without changing anything (→ 66, §3.7.1).
  const f = st.fields;
  const mac = ((ev as UdpEvent & { linkSrc?: string }).linkSrc ?? st.linkCache.get(`${ifc.cfg.ifname}/${ev.src >>> 0}`) ?? NO_MAC).toLowerCase();
  const okMac = /^[0-9a-f]{12}$/.test(mac) ? mac : NO_MAC;
  f.macHi = parseInt(okMac.slice(0, 4), 16); f.macLo = parseInt(okMac.slice(4), 16) >>> 0;
  f.ipSrc = ev.src; f.ipDst = ev.dst; f.udpSrcPort = ev.srcPort; f.homeAgent = rq.homeAgent; f.home = rq.homeAddress;
  f.careOf = rq.careOfAddress; f.identHi = rq.idHigh; f.identLo = rq.idLow; f.lifetime = rq.lifetime; f.flags = rq.flags;
  const p = st.table.addPending(f, c.key, now);
  if (p === FULL || p === NODE_LIMIT) {
    count(st.counters, p === FULL ? 'table_full' : 'pending_node_limit');
    return deny(ReplyCode.FA_INSUFFICIENT_RESOURCES);
  }
  st.pendingNai[p] = nai;
  c.challenge?.usedBy.add(c.key);

  // Relay (§3.7.2.2): keep through the authorization-enabling extension, then our own extensions.
  let out: Buffer = Buffer.from(ev.data.subarray(0, c.keep));
  const haSa = st.homeAgents.get(rq.homeAgent >>> 0);
  // App. F: no FA-HA on deregistrations, nor unless the care-of address is one this FA advertises.
  const faHa = haSa !== undefined && rq.lifetime !== 0 && rq.careOfAddress === ifc.cfg.address;
  if (faHa && st.cfg.revocation) {
    // RFC 3543 §3.2: revocation support, protected by the FA-HA extension that follows. I = 0: local policy.
    const withRev = Buffer.alloc(out.length + 8);
    out.copy(withRev, 0);
    encodeExtension({ kind: 'revocation-support', flags: 0, timestamp: ntpSeconds(now) }, withRev, out.length);
    out = withRev;
  }
  if (faHa) out = appendAuth(out, [{ type: Ext.FA_HA_AUTH, sa: haSa! }]);
  count(st.counters, 'relayed');
  return [
    log('debug', 'fa.relay', { home: ip(rq.homeAddress), ...(nai !== undefined ? { nai } : {}), homeAgent: ip(rq.homeAgent), faHa, lifetime: rq.lifetime }),
    { kind: 'send-udp', dst: rq.homeAgent, dstPort: st.cfg.mipPort, src: ifc.cfg.address, data: out },
  ];
}

/** §3.7.2.1 and the RFCs cited, in order; returns 0 (relay), a reply code, or DROP (counted). */
function checkRequest(st: FaState, c: ReqCtx): number {
  const { rq, ifc, ev } = c, cfg = st.cfg, x = rq.extensions;
  const T = (rq.flags & RegFlag.T) !== 0, D = (rq.flags & RegFlag.D) !== 0, live = rq.lifetime !== 0;
  // Fields.
  if (rq.flags & RegFlag.r) return ReplyCode.FA_POORLY_FORMED_REQUEST; // §3.7.2.1 reserved bits
  const keep = authEnablingEnd(x);
  if (keep === undefined) return ReplyCode.FA_POORLY_FORMED_REQUEST; // nothing the HA could authorise
  c.keep = keep;
  const encap = findExt(x, 'encap-delivery');
  if (encap && !T) return ReplyCode.FA_POORLY_FORMED_REQUEST; // RFC 3024 §3.3: MUST NOT appear without T
  if (x.some((e) => e.kind === 'cvse' && (e.offset ?? 0) >= keep)) return ReplyCode.FA_CVSE_FROM_MN; // RFC 3115: a CVSE for the FA we cannot interpret
  if (rq.lifetime > cfg.registrationLifetime) return ReplyCode.FA_LIFETIME_TOO_LONG;
  if (!D && live && rq.careOfAddress !== ifc.cfg.address) return ReplyCode.FA_INVALID_COA; // §3.7.2.1, App. F: nonzero lifetime only
  if (rq.flags & (RegFlag.M | RegFlag.G)) return ReplyCode.FA_ENCAP_UNAVAILABLE; // IP-in-IP only (M, G not advertised)
  if (encap) return ReplyCode.FA_DELIVERY_STYLE_UNSUPPORTED; // RFC 3024 §3.4: direct delivery only
  if (live && !T && cfg.reverseTunnel === 'required') return ReplyCode.FA_REVERSE_TUNNEL_MANDATORY;
  const ttl = (ev as UdpEvent & { ttl?: number }).ttl;
  if (T && ttl !== undefined && ttl !== REQUIRED_TTL) return ReplyCode.FA_MN_TOO_DISTANT;
  if (live && T && cfg.reverseTunnel === 'no') return ReplyCode.FA_REVERSE_TUNNEL_UNAVAILABLE; // RFC 3024 §4.2.1 "last check"
  if (rq.homeAddress === 0 && c.nai === undefined) return ReplyCode.FA_MISSING_NAI; // RFC 2794 §3
  if (rq.homeAgent === 0 || rq.homeAgent >>> 0 === BROADCAST) return ReplyCode.FA_MISSING_HOME_AGENT; // no dynamic HA discovery
  for (const i of st.ifaces.values()) if (i.cfg.address === rq.homeAgent) return ReplyCode.FA_INVALID_HA_ADDRESS; // §3.7.2
  if (cfg.restrictHomeAgents && !st.homeAgents.has(rq.homeAgent >>> 0)) return ReplyCode.FA_PROHIBITED;
  // Lookup: the challenge (RFC 4721 §3.2).
  const ch = findExt(x, 'challenge');
  if (cfg.challenge) {
    if (!ch) return ReplyCode.FA_MISSING_CHALLENGE;
    const hex = Buffer.from(ch.challenge).toString('hex');
    const known = ifc.challenges.find((k) => k.hex === hex);
    if (!known) return ReplyCode.FA_UNKNOWN_CHALLENGE;
    if (known.usedBy.has(c.key) && !isRetransmission(st, c)) return ReplyCode.FA_STALE_CHALLENGE;
    c.challenge = known;
  }
  // Authenticate (§3.7.2.1): with an MN-FA SA, exactly one valid MN-FA extension (after the challenge).
  const mnFa = authExtensions(x, Ext.MN_FA_AUTH);
  if (c.sa) {
    const ok = mnFa.length === 1 && checkAuth(c.sa, ev.data, 0, mnFa[0]) && (!ch || (mnFa[0]!.offset ?? 0) > (ch.offset ?? 0));
    if (!ok) return authFailed(st, c, 'mn-fa authenticator missing, repeated or invalid');
  } else if (cfg.challenge) {
    const after = (e: Extension): boolean => (e.offset ?? 0) > (ch!.offset ?? 0);
    const aaa = x.some((e) => e.kind === 'gen-auth' && e.subtype === GenAuthSubtype.MN_AAA && after(e));
    if (!aaa && mnFa.some(after)) return authFailed(st, c, 'mn-fa authenticator without a security association');
    if (!aaa) {
      // RFC 4721 §3.2: a challenge without MN-FA or MN-AAA authentication is silently discarded.
      count(st.counters, 'rx_challenge_unauthenticated');
      c.security = 'challenge without MN-FA or MN-AAA authentication';
      return DROP;
    }
  }
  return 0;
}

function authFailed(st: FaState, c: ReqCtx, why: string): number {
  count(st.counters, 'auth_fail');
  c.security = why; // §3.7.2.1: SHOULD log as a security exception, then reply 67
  return ReplyCode.FA_MN_AUTH_FAILED;
}

/** RFC 4721 §3.2: a retransmission repeats a pending request's fields (not its Identification). */
function isRetransmission(st: FaState, c: ReqCtx): boolean {
  const P = st.table.pending, rq = c.rq;
  for (let s = st.table.firstPending(c.key); s !== NONE; s = st.table.nextPending(s)) {
    if (P.home[s] === rq.homeAddress >>> 0 && P.homeAgent[s] === rq.homeAgent >>> 0 && P.careOf[s] === rq.careOfAddress >>> 0
      && P.lifetime[s] === rq.lifetime && P.flags[s] === rq.flags && st.pendingNai[s] === c.nai) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Registration replies from home agents (§3.7.3)

/** §3.7.3.1: pending request with the reply's home address (or NAI, RFC 2794) and low Identification. */
function matchPending(st: FaState, rp: RegistrationReply, nai: string | undefined): number {
  const t = st.table, P = t.pending;
  const keys: number[] = [];
  if (rp.homeAddress !== 0) keys.push(rp.homeAddress >>> 0);
  if (nai !== undefined) keys.push(naiHashString(nai, 0));
  for (const k of keys) {
    for (let s = t.firstPending(k); s !== NONE; s = t.nextPending(s)) {
      if (P.identLo[s] !== rp.idLow >>> 0) continue;
      const pn = st.pendingNai[s];
      if (P.home[s] !== 0 ? P.home[s] === rp.homeAddress >>> 0 && (nai === undefined || pn === undefined || pn === nai) : pn !== undefined && pn === nai) return s;
    }
  }
  return NONE;
}

function onReply(st: FaState, ev: UdpEvent, rp: RegistrationReply, now: number): Action[] {
  count(st.counters, 'rx_replies');
  const t = st.table, P = t.pending, x = rp.extensions;
  const nai = findNai(x);
  const p = matchPending(st, rp, nai);
  if (p === NONE) return drop(st, 'rx_reply_unmatched', 'no pending request for this reply', { src: ip(ev.src), home: ip(rp.homeAddress) });
  const pNai = st.pendingNai[p];
  // Authenticate (§3.7.1, §3.7.3.1): exactly one valid FA-HA extension when we share an SA. Co-located
  // nodes (D) are not exempt: the reply still decides the visitor entry, whoever the care-of address
  // belongs to. Replies to deregistrations are: §3.5.4 says FA-HA MUST NOT be applied to deregistration
  // messages, so a home agent that follows it sends none; one that does carry it must verify. (The cost:
  // a forged acceptance of a deregistration can end a visitor's entry early — the node's next
  // registration restores it; the node itself still checks MN-HA.)
  const haSa = st.homeAgents.get(P.homeAgent[p]!);
  const dereg = P.lifetime[p] === 0 || P.careOf[p] === P.home[p];
  const fh = authExtensions(x, Ext.FA_HA_AUTH);
  if (haSa && (fh.length > 0 || !dereg)) {
    if (fh.length !== 1 || !checkAuth(haSa, ev.data, 0, fh[0])) {
      count(st.counters, 'auth_fail');
      const out = [log('warn', 'fa.security', { event: 'fa-ha authentication failed', src: ip(ev.src), home: ip(rp.homeAddress) }), ...replyFromPending(st, p, ReplyCode.FA_HA_AUTH_FAILED)];
      t.removePending(p);
      st.pendingNai[p] = undefined;
      return out;
    }
  }
  // Fields of an accepted reply (RFC 5944 §3.7.3.2, RFC 2794 §3): replaced by our own denial.
  const accepted = isAccepted(rp.code);
  const keep = authEnablingEnd(x);
  let code = 0;
  if (accepted) {
    if (keep === undefined) code = ReplyCode.FA_POORLY_FORMED_REPLY;
    else if (pNai !== undefined && nai === undefined) code = ReplyCode.FA_MISSING_NAI;
    else if (rp.homeAgent === 0) code = ReplyCode.FA_MISSING_HOME_AGENT;
    else if (rp.homeAddress === 0) code = ReplyCode.FA_MISSING_HOMEADDR;
  }
  if (code !== 0) {
    const out = replyFromPending(st, p, code);
    t.removePending(p);
    st.pendingNai[p] = undefined;
    return out;
  }
  // Relay (§3.7.3.2): strip what the authorization-enabling extension does not cover, add MN-FA.
  // A node that asked for a home address (0 in its request) does not own the one in the reply yet:
  // reach it by link-level broadcast, as for replies to requests with home address 0 (§3.7.2.3).
  const to = pendingTo(st, p, st.table.pending.home[p] === 0 ? 0 : rp.homeAddress);
  const sa = mnSa(st, rp.homeAddress, pNai ?? nai);
  const data = appendAuth(Buffer.from(ev.data.subarray(0, keep ?? 20)), mnSigners(sa));
  const out: Action[] = [];
  const home = rp.homeAddress >>> 0;
  if (accepted && rp.lifetime !== 0) {
    const granted = Math.min(rp.lifetime, st.cfg.registrationLifetime);
    const v = t.accept(p, home, granted, now);
    st.pendingNai[p] = undefined;
    if (v === FULL) {
      count(st.counters, 'table_full');
      return faReply(st, ReplyCode.FA_INSUFFICIENT_RESOURCES, { lifetime: rp.lifetime, home, homeAgent: rp.homeAgent, idHigh: rp.idHigh, idLow: rp.idLow }, pNai, to, sa);
    }
    st.visitorNai[v] = pNai ?? nai;
    st.visitorHaTs[v] = findExt(x, 'revocation-support')?.timestamp ?? 0;
    count(st.counters, 'visitor_set');
    out.push(visitorAction(st, 'set', v), log('info', 'fa.visitor', { op: 'set', home: ip(home), lifetime: granted, careOf: ip(t.visitors.careOf[v]!) }));
  } else {
    if (accepted) {
      // Deregistration accepted (§3.7.3.2): delete the visitor entry.
      const v = t.findVisitor(home);
      if (v !== NONE) {
        out.push(visitorAction(st, 'del', v), log('info', 'fa.visitor', { op: 'deregistered', home: ip(home) }));
        t.removeVisitor(v);
        st.visitorNai[v] = undefined;
        count(st.counters, 'visitor_deregistered');
      }
    } else {
      count(st.counters, 'ha_denied'); // the visitor entry stays as it was (§3.7.2)
    }
    t.removePending(p);
    st.pendingNai[p] = undefined;
  }
  count(st.counters, 'relayed_replies');
  out.push({ kind: 'send-udp', dst: to.dst, dstPort: to.port, data, ...(to.src !== undefined ? { src: to.src } : {}) });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Registration revocation from a home agent (RFC 3543 §4.2.2.2)

function onRevocation(st: FaState, ev: UdpEvent, rv: RegistrationRevocation): Action[] {
  count(st.counters, 'rx_revocations');
  const src = ip(ev.src);
  if (!(rv.flags & RevocationFlag.A)) return drop(st, 'revocation_ignored', 'A bit clear: not from a home agent (reflection?)', { src }, 'warn');
  const ha = rv.homeDomainAddress >>> 0;
  const sa = st.homeAgents.get(ha);
  if (!sa) return drop(st, 'revocation_ignored', 'no FA-HA security association with the home domain address', { src, homeAgent: ip(ha) }, 'warn');
  if (!faHaAuthentic(sa, ev.data, rv.extensions)) {
    count(st.counters, 'auth_fail');
    return drop(st, 'revocation_ignored', 'FA-HA authentication failed', { src, homeAgent: ip(ha) }, 'warn');
  }
  // Replay (§3.5): identifiers are HA timestamps; each must be newer than the last one from that HA
  // and not older than the registration it revokes.
  const last = st.lastRevocationId.get(ha);
  const t = st.table;
  let v = t.findVisitor(rv.homeAddress >>> 0);
  if (v !== NONE && (t.visitors.homeAgent[v] !== ha || t.visitors.careOf[v] !== rv.foreignDomainAddress >>> 0)) v = NONE;
  const regTs = v !== NONE ? st.visitorHaTs[v]! : 0;
  if ((last !== undefined && ((rv.revocationId - last) | 0) <= 0) || (regTs !== 0 && ((rv.revocationId - regTs) | 0) < 0)) {
    return drop(st, 'revocation_replay', 'revocation identifier not newer', { src, id: rv.revocationId }, 'warn');
  }
  st.lastRevocationId.set(ha, rv.revocationId >>> 0);
  const out: Action[] = [];
  if (v !== NONE) {
    const V = t.visitors;
    out.push(visitorAction(st, 'del', v));
    // §4.1: inform the node with a unicast advertisement whose sequence number is 0 (local policy: always).
    const ifc = ifaceFor(st, V.careOf[v]!, V.ipSrc[v]!);
    if (ifc && advertising(ifc)) {
      const ch = st.cfg.challenge ? ifc.challenges[ifc.challenges.length - 1]?.bytes : undefined;
      out.push({ kind: 'send-icmp', ifname: ifc.cfg.ifname, dst: V.home[v]!, ttl: 1, data: encodeAdvertisement(st, ifc, 0, ch) });
    }
    t.removeVisitor(v);
    st.visitorNai[v] = undefined;
    count(st.counters, 'visitor_revoked');
  } else {
    count(st.counters, 'revocation_unknown'); // acknowledged anyway so the HA stops retransmitting
  }
  const data = ackRevocation(rv, sa);
  out.push(log('info', 'fa.revoked', { home: ip(rv.homeAddress), homeAgent: ip(ha), found: v !== NONE }),
    { kind: 'send-udp', dst: ev.src, dstPort: ev.srcPort, ...(ev.dst !== 0 ? { src: ev.dst } : {}), data });
  return out;
}
