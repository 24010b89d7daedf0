/**
 * DMZ proxy (role `proxy`): the seed's MIP proxy, RFC 5265's external home agent (x-HA).
 *
 * To mobile nodes it is a home agent (RFC 5944 §3.8, via src/roles/registrar.ts) whose "home
 * addresses" are the invariant VPN outer addresses of its pool; to the intranet home agent it is a
 * foreign agent relaying the node's home registration, carried in a roamd NVSE (docs/protocol.md).
 * It keeps the proxy map home ↔ outer ↔ care-of address(es) and, on a move, updates the care-of
 * address without involving the home agent while the home binding is valid.
 *
 * Memory: the proxy map and the outer pool (fixed capacity, src/tables), one record per configured
 * node, and at most `maxPending` relayed requests awaiting the home agent.
 */
import { MsgType, ReplyCode, isAccepted, RevocationFlag, Ext } from '../wire/constants';
import type { Extension } from '../wire/extensions';
import { encodeExtension, extensionLength } from '../wire/extensions';
import * as request from '../wire/registration-request';
import * as reply from '../wire/registration-reply';
import * as revocation from '../wire/registration-revocation';
import * as revocationAck from '../wire/revocation-ack';
import { SecurityAssociation } from '../auth/security-association';
import { newReplayState, ntpSeconds } from '../auth/replay';
import { ProxyMap, TUNNEL_IPIP, TUNNEL_UDP } from '../tables/proxy-map';
import { AddressPool } from '../tables/address-pool';
import { CONFLICT, FULL, NODE_LIMIT, NONE } from '../tables/status';
import { Action, Counters, RoleEvent, Random32, count, log, ipStr } from './types';
import { checkRequest, buildReply, naiOf, naiKey, udpTunnelReply, Lookup, NodeRecord, PeerRecord, RegistrarConfig } from './registrar';
import { appendAuth, checkAuth, encodeRevocation, ackRevocation, faHaAuthentic, findExt, findNvse, firstAuth, lengthThrough, nvse, NvseType } from './messages';

export interface ProxyConfig {
  /** Address mobile nodes register with (the Home Agent field of the outer registration). */
  outside: number;
  /** Address toward the home agents: the care-of address of relayed home registrations. */
  inside: number;
  mipPort: number;
  maxLifetime: number;
  reverseTunnel: boolean;
  udpTunnel: boolean;
  keepalive: number;
  revocation: boolean;
  vendorId: number;
  pendingTimeoutMs: number;
  maxPending: number;
  /** MN–proxy SAs, by NAI. */
  mobileNodes: Array<{ nai: string; sa: SecurityAssociation }>;
  /** Home agents the proxy relays to, with the proxy–HA SA. */
  homeAgents: Array<{ address: number; port: number; sa: SecurityAssociation }>;
  /** Foreign agents that relay outer registrations (FA–proxy SA optional). */
  foreignAgents: Array<{ address: number; sa?: SecurityAssociation }>;
}

interface HomeAgent { address: number; port: number; sa: SecurityAssociation }

/** A node's home binding as the home agent granted it. */
interface HomeBinding { home: number; ha: number; expiresAt: number }

/** A node the proxy serves: its MN–proxy SA, replay state, and where its NAI's key is in `naiKeys`. */
interface ProxyNode extends NodeRecord {
  nai: string;
  index: number;
}

/** An outer request waiting for the home agent's answer. */
interface Pending {
  key: string;
  nai: string;
  node: ProxyNode;
  peer: PeerRecord | undefined;
  src: number;
  srcPort: number;
  req: request.RegistrationRequest;
  outer: number;
  newOuter: boolean;
  lifetime: number;
  tunnel: 'ipip' | 'udp';
  forced: boolean;
  udpRequested: boolean;
  replyHigh: number;
  replyLow: number;
  innerHome: number;
  ha: number;
  expiresAt: number;
}

export interface ProxyState {
  cfg: ProxyConfig;
  reg: RegistrarConfig;
  map: ProxyMap;
  pool: AddressPool;
  byNai: Map<string, ProxyNode>;
  /** The 64-bit key of each configured node's NAI (outer pool), two words per node: computed once, not per request. */
  naiKeys: Uint32Array;
  /** The registrar's view of the node and agent maps, built once (not per request). */
  look: Lookup<ProxyNode>;
  fas: Map<number, PeerRecord>;
  has: Map<number, HomeAgent>;
  homes: Map<string, HomeBinding>;
  /** Home address → NAI of the node whose home binding it is (for the restart journal). */
  homeNai: Map<number, string>;
  pending: Map<string, Pending>;
  /** The same requests by NAI: a node has at most one (a newer request supersedes it). */
  pendingOf: Map<string, Pending>;
  /** Per care-of slot: the relaying foreign agent (0 = direct) and whether it supports revocation. */
  agent: Uint32Array;
  revSupport: Uint8Array;
  nextRevocationId: number;
  counters: Counters;
  random: Random32;
}

export function createProxy(cfg: ProxyConfig, tables: { proxy: ProxyMap; outerPool: AddressPool }, random: Random32): ProxyState {
  const st: ProxyState = {
    cfg, reg: registrarConfig(cfg), map: tables.proxy, pool: tables.outerPool,
    byNai: new Map(), naiKeys: new Uint32Array(0), look: undefined!, fas: new Map(), has: new Map(), homes: new Map(), homeNai: new Map(), pending: new Map(), pendingOf: new Map(),
    agent: new Uint32Array(tables.proxy.coaCapacity), revSupport: new Uint8Array(tables.proxy.coaCapacity),
    nextRevocationId: 1, counters: {}, random,
  };
  st.look = {
    node: (_home, nai) => (nai ? st.byNai.get(nai) : undefined),
    peer: (a) => st.fas.get(a),
  };
  indexConfig(st, cfg);
  return st;
}

function registrarConfig(cfg: ProxyConfig): RegistrarConfig {
  return { address: cfg.outside, maxLifetime: cfg.maxLifetime, reverseTunnel: cfg.reverseTunnel, udpTunnel: cfg.udpTunnel, keepalive: cfg.keepalive };
}

function indexConfig(st: ProxyState, cfg: ProxyConfig): void {
  const old = st.byNai;
  st.naiKeys = new Uint32Array(2 * cfg.mobileNodes.length);
  st.byNai = new Map(cfg.mobileNodes.map((m, index) => {
    [st.naiKeys[2 * index], st.naiKeys[2 * index + 1]] = naiKey(m.nai);
    return [m.nai, { nai: m.nai, homeAddress: 0, sa: m.sa, replay: old.get(m.nai)?.replay ?? newReplayState(), index }];
  }));
  st.fas = new Map(cfg.foreignAgents.map((f) => [f.address, { address: f.address, sa: f.sa }]));
  st.has = new Map(cfg.homeAgents.map((h) => [h.address, h]));
}

/** SIGHUP: new configuration; bindings, home bindings and replay state kept. */
export function reloadProxy(st: ProxyState, cfg: ProxyConfig): Action[] {
  st.cfg = cfg;
  st.reg = registrarConfig(cfg);
  indexConfig(st, cfg);
  return [log('info', 'config-reloaded', { nodes: cfg.mobileNodes.length, homeAgents: cfg.homeAgents.length })];
}

export function stepProxy(st: ProxyState, ev: RoleEvent, now: number): Action[] {
  const out: Action[] = [];
  switch (ev.kind) {
    case 'udp': {
      const t = ev.data[0];
      if (t === MsgType.REGISTRATION_REQUEST) onOuterRequest(st, ev.data, ev.src, ev.srcPort, now, out);
      else if (t === MsgType.REGISTRATION_REPLY) onHomeReply(st, ev.data, ev.src, now, out);
      else if (t === MsgType.REGISTRATION_REVOCATION) onRevocation(st, ev.data, ev.src, ev.srcPort, now, out);
      else if (t === MsgType.REVOCATION_ACK) onRevocationAck(st, ev.data, ev.src, out);
      else count(st.counters, ev.data.length ? 'rx_unexpected_type' : 'rx_malformed');
      break;
    }
    case 'tick':
      st.map.advance(now, (slot) => onExpire(st, slot, now, out));
      st.pool.advance(now);
      for (const p of st.pending.values()) {
        if (now < p.expiresAt) continue;
        // The home agent did not answer: RFC 5944 §3.7.1 pending time-out, code 88 to the node.
        dropPending(st, p);
        count(st.counters, 'home_timeout');
        out.push(log('warn', 'home-agent-timeout', { nai: p.nai, ha: ipStr(p.ha) }));
        releaseOuterIfUnused(st, p, now);
        send(st, out, buildReply(st.reg, p.node.sa, p.req, p.peer, ReplyCode.FA_HA_UNREACHABLE, 0, p.outer, p.req.idHigh, p.req.idLow, [], p.nai), p.src, p.srcPort);
      }
      for (const [nai, h] of st.homes) if (h.expiresAt <= now) st.homes.delete(nai);
      break;
    case 'revoke': {
      const nd = st.map.findByHome(ev.home);
      if (nd === NONE) out.push(log('warn', 'revoke', { home: ipStr(ev.home), bindings: 0 }));
      else removeNode(st, nd, now, out, 'revoked', true);
      break;
    }
    case 'shutdown':
      out.push(log('info', 'shutdown', { nodes: st.map.nodeCount }));
      break;
    default:
      count(st.counters, 'rx_ignored_event');
  }
  return out;
}

function onOuterRequest(st: ProxyState, data: Buffer, src: number, srcPort: number, now: number, out: Action[]): void {
  count(st.counters, 'rx_request');
  const v = checkRequest(st.reg, st.look, { buf: data, src, srcPort }, now, st.random);
  if (v.kind === 'drop') {
    count(st.counters, `drop_${v.reason}`);
    out.push(log('warn', 'request-dropped', { reason: v.reason, src: ipStr(src) }));
    return;
  }
  if (v.kind === 'deny') {
    deny(st, v.code, v.reason, v.reply, src, srcPort, out);
    return;
  }
  const { req, node, peer } = v;
  const nai = node.nai;
  const denyNow = (code: number, reason: string, ext: Extension[] = []) =>
    deny(st, code, reason, buildReply(st.reg, node.sa, req, peer, code, 0, req.homeAddress, req.idHigh, req.idLow, ext, nai), src, srcPort, out);

  // The outer address: the one this NAI holds, or a new one from the pool (RFC 2794 style).
  const hi = st.naiKeys[2 * node.index]!, lo = st.naiKeys[2 * node.index + 1]!;
  let slot = st.pool.find(hi, lo);
  const held = slot !== NONE;
  if (req.homeAddress !== 0 && (!held || st.pool.addressOf(slot) !== req.homeAddress)) {
    return denyNow(ReplyCode.HA_PROHIBITED, 'outer-address-not-held');
  }
  if (req.lifetime === 0) {
    v.commit();
    deregister(st, nai, req.careOfAddress, src, srcPort, now, out);
    relayHomeDeregistration(st, req, now, out);
    const outer = held ? st.pool.addressOf(slot) : req.homeAddress;
    send(st, out, buildReply(st.reg, node.sa, req, peer, ReplyCode.ACCEPTED, 0, outer, v.replyHigh, v.replyLow, [], nai), src, srcPort);
    return;
  }
  slot = st.pool.allocate(hi, lo, now);
  if (slot < 0) return denyNow(ReplyCode.HA_INSUFFICIENT_RESOURCES, 'outer-pool-full');
  const outer = st.pool.addressOf(slot);
  const udpRequested = findExt(req.extensions, 'udp-tunnel-request') !== undefined;
  const inner = findNvse(req.extensions, st.cfg.vendorId, NvseType.HOME_REQUEST);

  if (!inner) {
    // A move: the home binding must still be valid (docs/protocol.md, "Moves").
    const h = st.homes.get(nai);
    if (!h || h.expiresAt <= now) {
      if (!held) st.pool.release(slot, now);
      return denyNow(ReplyCode.HA_UNSPECIFIED, 'home-registration-required', [{ kind: 'message-string', subtype: 1, text: 'home registration required' }]);
    }
    v.commit();
    const code = bind(st, nai, h.home, outer, req, v.lifetime, v.tunnel, src, srcPort, peer, now, out);
    if (code !== ReplyCode.ACCEPTED) {
      if (!held) st.pool.release(slot, now);
      return denyNow(code, 'proxy-map');
    }
    const ext: Extension[] = udpRequested ? [udpTunnelReply(st.reg, v.tunnel, v.forced)] : [];
    send(st, out, buildReply(st.reg, node.sa, req, peer, ReplyCode.ACCEPTED, v.lifetime, outer, v.replyHigh, v.replyLow, ext, nai), src, srcPort);
    return;
  }

  // First attach or home renewal: relay the home registration to the home agent.
  let home: request.RegistrationRequest;
  try {
    home = request.decode(asBuffer(inner.value));
  } catch {
    if (!held) st.pool.release(slot, now);
    return denyNow(ReplyCode.HA_POORLY_FORMED_REQUEST, 'home-request-malformed');
  }
  const ha = st.has.get(home.homeAgent);
  const innerNai = naiOf(home.extensions);
  if (!ha || home.careOfAddress !== st.cfg.inside || (innerNai !== undefined && innerNai !== nai) || home.lifetime === 0) {
    if (!held) st.pool.release(slot, now);
    return denyNow(ReplyCode.HA_POORLY_FORMED_REQUEST, !ha ? 'home-agent-unknown' : 'home-request-inconsistent');
  }
  const key = `${ha.address}/${home.idLow}`;
  if (st.pending.has(key)) {
    count(st.counters, 'duplicate_pending');
    return;
  }
  if (st.pending.size >= st.cfg.maxPending) {
    if (!held) st.pool.release(slot, now);
    return denyNow(ReplyCode.HA_INSUFFICIENT_RESOURCES, 'pending-full');
  }
  v.commit();
  const superseded = st.pendingOf.get(nai);
  if (superseded) dropPending(st, superseded);
  const p: Pending = {
    key, nai, node, peer, src, srcPort, req, outer, newOuter: !held, lifetime: v.lifetime, tunnel: v.tunnel, forced: v.forced,
    udpRequested, replyHigh: v.replyHigh, replyLow: v.replyLow, innerHome: home.homeAddress, ha: ha.address,
    expiresAt: now + st.cfg.pendingTimeoutMs,
  };
  st.pending.set(key, p);
  st.pendingOf.set(nai, p);
  const withRevocation = st.cfg.revocation ? appendExtension(inner.value, { kind: 'revocation-support', flags: 0, timestamp: ntpSeconds(now) }) : inner.value;
  // RFC 5944 §3.7.2.2: the relaying agent appends its FA-HA authentication extension.
  const relayed = appendAuth(withRevocation, [{ type: 34, sa: ha.sa }]);
  count(st.counters, 'relayed');
  out.push(log('info', 'home-request-relayed', { nai, ha: ipStr(ha.address), careOf: ipStr(req.careOfAddress) }));
  out.push({ kind: 'send-udp', dst: ha.address, dstPort: ha.port, src: st.cfg.inside, data: relayed });
}

/**
 * A node leaving (shutdown) may carry its home deregistration in the outer one: relay it as is.
 * No FA-HA extension on deregistrations (RFC 5944 App. F); the HA's answer is not awaited.
 */
function relayHomeDeregistration(st: ProxyState, req: request.RegistrationRequest, now: number, out: Action[]): void {
  const inner = findNvse(req.extensions, st.cfg.vendorId, NvseType.HOME_REQUEST);
  if (!inner) return;
  let home: request.RegistrationRequest;
  try {
    home = request.decode(asBuffer(inner.value));
  } catch {
    count(st.counters, 'drop_home_request_malformed');
    return;
  }
  const ha = st.has.get(home.homeAgent);
  if (!ha || home.lifetime !== 0) {
    count(st.counters, 'drop_home_deregistration');
    return;
  }
  st.homes.delete(naiOf(req.extensions) ?? '');
  count(st.counters, 'relayed_deregistration');
  out.push(log('info', 'home-deregistration-relayed', { ha: ipStr(ha.address), home: ipStr(home.homeAddress), at: now }));
  out.push({ kind: 'send-udp', dst: ha.address, dstPort: ha.port, src: st.cfg.inside, data: Buffer.from(inner.value) });
}

function appendExtension(msg: Uint8Array, e: Extension): Buffer {
  const buf = Buffer.alloc(msg.length + extensionLength(e));
  buf.set(msg, 0);
  encodeExtension(e, buf, msg.length);
  return buf;
}

/** A Buffer view of the same bytes (the decoders read through Buffer methods): no copy. */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.length);
}

function dropPending(st: ProxyState, p: Pending): void {
  st.pending.delete(p.key);
  if (st.pendingOf.get(p.nai) === p) st.pendingOf.delete(p.nai);
}

function onHomeReply(st: ProxyState, data: Buffer, src: number, now: number, out: Action[]): void {
  const ha = st.has.get(src);
  let m: reply.RegistrationReply;
  try {
    m = reply.decode(data);
  } catch {
    count(st.counters, 'rx_malformed');
    return;
  }
  const p = ha ? st.pending.get(`${ha.address}/${m.idLow}`) : undefined;
  if (!ha || !p || (p.innerHome !== 0 && m.homeAddress !== p.innerHome)) {
    count(st.counters, 'drop_unmatched_reply');
    return;
  }
  // An agent never relays a reply it cannot authenticate (RFC 5944 §3.7.3.1).
  if (!checkAuth(ha.sa, data, 0, firstAuth(m.extensions, 34))) {
    count(st.counters, 'drop_home_reply_auth');
    out.push(log('warn', 'home-reply-dropped', { reason: 'fa-ha-auth', ha: ipStr(src) }));
    return;
  }
  dropPending(st, p);
  // Strip what follows the MN-HA extension (our FA-HA, RFC 5944 §3.7.3.2); the rest goes to the node as is.
  const keep = lengthThrough(m.extensions, Ext.MN_HA_AUTH as 32) ?? firstAuth(m.extensions, 34)!.offset!;
  const homeReply = nvse(st.cfg.vendorId, NvseType.HOME_REPLY, new Uint8Array(data.subarray(0, keep)));
  const ext: Extension[] = [homeReply];
  if (p.udpRequested) ext.push(udpTunnelReply(st.reg, p.tunnel, p.forced));
  let code = m.code;
  let lifetime = 0;
  if (isAccepted(m.code)) {
    st.homes.set(p.nai, { home: m.homeAddress, ha: ha.address, expiresAt: now + m.lifetime * 1000 });
    st.homeNai.set(m.homeAddress, p.nai);
    code = bind(st, p.nai, m.homeAddress, p.outer, p.req, p.lifetime, p.tunnel, p.src, p.srcPort, p.peer, now, out);
    if (code === ReplyCode.ACCEPTED) lifetime = p.lifetime;
  }
  if (code !== ReplyCode.ACCEPTED) {
    releaseOuterIfUnused(st, p, now);
    count(st.counters, `deny_${code}`);
  }
  out.push(log(code === 0 ? 'info' : 'warn', 'home-reply', { nai: p.nai, code, home: ipStr(m.homeAddress), outer: ipStr(p.outer) }));
  send(st, out, buildReply(st.reg, p.node.sa, p.req, p.peer, code, lifetime, p.outer, p.replyHigh, p.replyLow, ext, p.nai), p.src, p.srcPort);
}

/** Puts (home, outer) at the request's care-of address into the proxy map; returns the reply code. */
function bind(st: ProxyState, nai: string, home: number, outer: number, req: request.RegistrationRequest, lifetime: number,
  tunnel: 'ipip' | 'udp', src: number, srcPort: number, peer: PeerRecord | undefined, now: number, out: Action[]): number {
  const port = tunnel === 'udp' ? srcPort : 0;
  const nd0 = st.map.findByHome(home);
  const before: Action[] = [];
  if (nd0 !== NONE) for (let s = st.map.firstCoa(nd0); s !== NONE; s = st.map.nextCoa(s)) before.push(bindingAction(st, s, 'del'));
  // Behind a NAT (RFC 3519) the tunnel endpoint is the NAT's public address and port: the source.
  const careOf = tunnel === 'udp' ? src : req.careOfAddress;
  const slot = st.map.bind(home, outer, careOf, port, tunnel === 'udp' ? TUNNEL_UDP : TUNNEL_IPIP, req.flags, req.idHigh, req.idLow, lifetime, now);
  if (slot < 0) {
    return slot === NODE_LIMIT ? ReplyCode.HA_TOO_MANY_BINDINGS : slot === FULL ? ReplyCode.HA_INSUFFICIENT_RESOURCES : slot === CONFLICT ? ReplyCode.HA_PROHIBITED : ReplyCode.HA_UNSPECIFIED;
  }
  st.agent[slot] = peer ? peer.address : 0;
  st.revSupport[slot] = findExt(req.extensions, 'revocation-support') ? 1 : 0;
  // Bindings replaced by a registration without S are gone from the map: tell the data plane, after
  // the new one is in place (make-before-break: a plane that routes to the newest binding never
  // has none in between).
  const nd = st.map.node[slot]!;
  out.push(bindingAction(st, slot, 'set'));
  for (const b of before) {
    if (b.kind === 'proxy-binding' && st.map.findCoa(nd, b.careOf, b.port) === NONE) out.push(b);
  }
  count(st.counters, 'accepted');
  out.push(log('info', 'registered', { nai, home: ipStr(home), outer: ipStr(outer), careOf: ipStr(careOf), tunnel, port, lifetime, simultaneous: (req.flags & 0x80) !== 0 }));
  return ReplyCode.ACCEPTED;
}

function deregister(st: ProxyState, nai: string, careOf: number, src: number, srcPort: number, now: number, out: Action[]): void {
  const h = st.homes.get(nai);
  const nd = h ? st.map.findByHome(h.home) : NONE;
  if (nd === NONE) return;
  if (careOf === st.map.outer[nd]) {
    removeNode(st, nd, now, out, 'deregistered', false);
    return;
  }
  for (let s = st.map.firstCoa(nd); s !== NONE; s = st.map.nextCoa(s)) {
    const match = st.map.tunnel[s] === TUNNEL_UDP ? st.map.careOf[s] === src && st.map.port[s] === srcPort : st.map.careOf[s] === careOf;
    if (match) {
      removeCoa(st, s, now, out);
      return;
    }
  }
}

function removeCoa(st: ProxyState, s: number, now: number, out: Action[]): void {
  const last = st.map.isLastCoa(s);
  const outer = st.map.outer[st.map.node[s]!]!;
  out.push(bindingAction(st, s, 'del'));
  st.map.removeCoa(s);
  if (last) releaseOuter(st, outer, now);
}

function removeNode(st: ProxyState, nd: number, now: number, out: Action[], why: string, revokeAgents: boolean): void {
  const home = st.map.home[nd]!;
  let n = 0;
  for (let s = st.map.firstCoa(nd); s !== NONE;) {
    const next = st.map.nextCoa(s);
    const agent = st.agent[s]!;
    const fa = st.fas.get(agent);
    if (revokeAgents && agent && fa?.sa && st.revSupport[s]) {
      // RFC 3543: tell the foreign agent serving this binding (sent once; the binding goes regardless).
      send(st, out, encodeRevocation({ type: 7, flags: RevocationFlag.A, homeAddress: st.map.outer[nd]!, homeDomainAddress: st.cfg.outside,
        foreignDomainAddress: agent, revocationId: st.nextRevocationId++ >>> 0, extensions: [] }, [{ type: 34, sa: fa.sa }]), agent, st.cfg.mipPort, st.cfg.outside);
    }
    removeCoa(st, s, now, out);
    n++;
    s = next;
  }
  for (const [nai, h] of st.homes) if (h.home === home) st.homes.delete(nai);
  count(st.counters, why, n);
  out.push(log('info', 'node-removed', { home: ipStr(home), why, bindings: n }));
}

function onExpire(st: ProxyState, slot: number, now: number, out: Action[]): void {
  count(st.counters, 'expired');
  out.push(bindingAction(st, slot, 'del'));
  out.push(log('info', 'binding-expired', { home: ipStr(st.map.home[st.map.node[slot]!]!), careOf: ipStr(st.map.careOf[slot]!) }));
  if (st.map.isLastCoa(slot)) releaseOuter(st, st.map.outer[st.map.node[slot]!]!, now);
}

function releaseOuter(st: ProxyState, outer: number, now: number): void {
  const ps = st.pool.slotOf(outer);
  if (ps !== NONE) st.pool.release(ps, now); // held for the same NAI for the pool hold time
}

function releaseOuterIfUnused(st: ProxyState, p: Pending, now: number): void {
  if (p.newOuter && st.map.findByOuter(p.outer) === NONE) releaseOuter(st, p.outer, now);
}

function bindingAction(st: ProxyState, s: number, op: 'set' | 'del'): Action {
  const nd = st.map.node[s]!;
  return { kind: 'proxy-binding', op, home: st.map.home[nd]!, outer: st.map.outer[nd]!, careOf: st.map.careOf[s]!, tunnel: st.map.tunnel[s] === TUNNEL_UDP ? 'udp' : 'ipip', port: st.map.port[s]! };
}

function deny(st: ProxyState, code: number, reason: string, data: Buffer, dst: number, dstPort: number, out: Action[]): void {
  count(st.counters, `deny_${code}`);
  out.push(log('warn', 'request-denied', { code, reason, src: ipStr(dst) }));
  send(st, out, data, dst, dstPort);
}

/** Sends from the outside address unless told otherwise (toward the home agents: the inside one). */
function send(st: ProxyState, out: Action[], data: Buffer, dst: number, dstPort: number, src = st.cfg.outside): void {
  out.push({ kind: 'send-udp', dst, dstPort, data, src });
}

/** The home agent revokes a home binding relayed by us (RFC 3543, A = 1). */
function onRevocation(st: ProxyState, data: Buffer, src: number, srcPort: number, now: number, out: Action[]): void {
  let m: revocation.RegistrationRevocation;
  try {
    m = revocation.decode(data);
  } catch {
    count(st.counters, 'rx_malformed');
    return;
  }
  const ha = st.has.get(src);
  if (!ha || !faHaAuthentic(ha.sa, data, m.extensions)) {
    count(st.counters, 'drop_revocation_unauthenticated');
    out.push(log('warn', 'revocation-ignored', { src: ipStr(src), reason: 'authentication' }));
    return;
  }
  const nd = st.map.findByHome(m.homeAddress);
  if (nd !== NONE) removeNode(st, nd, now, out, 'revoked_by_ha', true);
  else for (const [nai, h] of st.homes) if (h.home === m.homeAddress) st.homes.delete(nai);
  send(st, out, ackRevocation(m, ha.sa), src, srcPort, st.cfg.inside);
}

function onRevocationAck(st: ProxyState, data: Buffer, src: number, out: Action[]): void {
  try {
    const m = revocationAck.decode(data);
    const fa = st.fas.get(src);
    if (faHaAuthentic(fa?.sa, data, m.extensions)) {
      count(st.counters, 'revocation_acked');
      out.push(log('info', 'revocation-acknowledged', { agent: ipStr(src) }));
      return;
    }
  } catch {
    // fall through to the drop counter
  }
  count(st.counters, 'drop_revocation_ack');
}

export function proxyStatus(st: ProxyState): Record<string, unknown> {
  return {
    role: 'proxy', nodes: st.map.nodeCount, bindings: st.map.coaCount, nodeCapacity: st.map.nodeCapacity, bindingCapacity: st.map.coaCapacity,
    outerPool: { size: st.pool.count, free: st.pool.free }, homeBindings: st.homes.size, pending: st.pending.size,
  };
}

export function proxyBindings(st: ProxyState, now: number, render: (a: number) => string): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  st.map.forEachCoa((s) => {
    const nd = st.map.node[s]!;
    rows.push({
      home: render(st.map.home[nd]!), outer: render(st.map.outer[nd]!), careOf: render(st.map.careOf[s]!),
      tunnel: st.map.tunnel[s] === TUNNEL_UDP ? 'udp' : 'ipip', port: st.map.port[s], remaining: Math.max(0, Math.floor((st.map.expiresAt(s) - now) / 1000)),
      via: st.agent[s] ? render(st.agent[s]!) : 'direct', flags: st.map.flags[s],
    });
  });
  return rows;
}


// --- Restart without losing bindings -------------------------------------------------------------

/** One node's persistent state at the proxy (docs/reliability.md). */
export interface ProxyNodeRecord {
  nai: string;
  outer?: number;
  homeBinding?: HomeBinding;
  coas: Array<{ home: number; careOf: number; port: number; tunnel: number; flags: number; idHi: number; idLo: number; lifetime: number; expiresAt: number; agent: number; rev: number }>;
  replay?: { primed: boolean; lastHigh: number; lastLow: number; nonce: number };
}

/** The persistent state of the node with this NAI. */
export function proxyRecord(st: ProxyState, nai: string): ProxyNodeRecord {
  const rec: ProxyNodeRecord = { nai, coas: [] };
  const h = st.homes.get(nai);
  if (h) rec.homeBinding = { ...h };
  const [hi, lo] = naiKey(nai);
  const ps = st.pool.find(hi, lo);
  if (ps !== NONE) rec.outer = st.pool.addressOf(ps);
  const nd = rec.outer !== undefined ? st.map.findByOuter(rec.outer) : NONE;
  if (nd !== NONE) {
    for (let s = st.map.firstCoa(nd); s !== NONE; s = st.map.nextCoa(s)) {
      const m = st.map;
      rec.coas.push({ home: m.home[nd]!, careOf: m.careOf[s]!, port: m.port[s]!, tunnel: m.tunnel[s]!, flags: m.flags[s]!, idHi: m.identHi[s]!, idLo: m.identLo[s]!,
        lifetime: m.lifetime[s]!, expiresAt: m.expiresAt(s), agent: st.agent[s]!, rev: st.revSupport[s]! });
    }
  }
  const node = st.byNai.get(nai);
  if (node) rec.replay = { primed: node.replay.primed, lastHigh: node.replay.lastHigh, lastLow: node.replay.lastLow, nonce: node.replay.nonce };
  return rec;
}

/** The NAI whose binding a data-plane action is about (null if unknown). */
export function proxyNaiOf(st: ProxyState, home: number): string | null {
  return st.homeNai.get(home) ?? null;
}

export function proxyExport(st: ProxyState): ProxyNodeRecord[] {
  const out: ProxyNodeRecord[] = [];
  for (const nai of st.byNai.keys()) {
    const r = proxyRecord(st, nai);
    if (r.coas.length || r.homeBinding || r.replay?.primed) out.push(r);
  }
  return out;
}

/** Puts one node's recorded state back (replacing what is there). */
function proxyImport(st: ProxyState, rec: ProxyNodeRecord, now: number): void {
  const node = st.byNai.get(rec.nai);
  if (!node) return; // no longer configured
  if (rec.replay) Object.assign(node.replay, rec.replay);
  if (rec.homeBinding && rec.homeBinding.expiresAt > now) {
    st.homes.set(rec.nai, { ...rec.homeBinding });
    st.homeNai.set(rec.homeBinding.home, rec.nai);
  } else st.homes.delete(rec.nai);
  const live = rec.coas.filter((c) => c.expiresAt > now);
  if (rec.outer === undefined) return;
  const prev = st.map.findByOuter(rec.outer);
  if (prev !== NONE) st.map.removeNode(prev);
  const [hi, lo] = naiKey(rec.nai);
  if (live.length === 0) return;
  // The outer address stays this node's: never handed to another node after a restart.
  if (st.pool.allocateAddress(rec.outer, hi, lo) < 0) {
    count(st.counters, 'restore_failed');
    return;
  }
  for (const c of live) {
    const s = st.map.restore(c.home, rec.outer, c.careOf, c.port, c.tunnel, c.flags, c.idHi, c.idLo, c.lifetime, c.expiresAt);
    if (s < 0) {
      count(st.counters, 'restore_failed');
      continue;
    }
    st.agent[s] = c.agent;
    st.revSupport[s] = c.rev;
  }
}

/** Restores every record (later ones win) and returns the data-plane actions for the result. */
export function proxyImportAll(st: ProxyState, recs: ProxyNodeRecord[], now: number): Action[] {
  for (const r of recs) proxyImport(st, r, now);
  const out: Action[] = [];
  st.map.forEachCoa((s) => out.push(bindingAction(st, s, 'set')));
  return out;
}
