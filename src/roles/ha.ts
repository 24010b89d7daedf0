/**
 * Home agent (role `ha`), RFC 5944 §3.8 with RFC 2794 (NAI, dynamic home addresses), RFC 3024
 * (reverse tunnelling), RFC 3519 (UDP tunnelling behind NAT) and RFC 3543 (revocation).
 *
 * Accepts registrations sent directly or relayed (by a foreign agent, or by the roamd proxy, whose
 * bindings are delivered toward the VPN gateway: docs/protocol.md), keeps the mobility binding list
 * (src/tables BindingTable: fixed capacity; full → 130, per-node limit → 135), expires bindings on
 * ticks, and revokes bindings on request. Memory: the binding table plus three typed columns per
 * binding slot (NAT port, relaying agent, flags) and one record per configured node.
 */
import { MsgType, ReplyCode, RevocationFlag, REVOCATION_SUPPORT_I } from '../wire/constants';
import type { Extension } from '../wire/extensions';
import * as revocation from '../wire/registration-revocation';
import * as revocationAck from '../wire/revocation-ack';
import { SecurityAssociation } from '../auth/security-association';
import { newReplayState, ntpSeconds } from '../auth/replay';
import { BindingTable, MODE_TUNNEL, MODE_VPN_GATEWAY } from '../tables/binding-table';
import { AddressPool } from '../tables/address-pool';
import { FULL, NODE_LIMIT, NONE } from '../tables/status';
import type { Prefix } from '../platform/address';
import { Action, Counters, RoleEvent, Random32, count, log, ipStr } from './types';
import { checkRequest, buildReply, naiOf, naiKey, udpTunnelReply, NodeRecord, PeerRecord, RegistrarConfig, Verdict, Lookup } from './registrar';
import { ackRevocation, encodeRevocation, faHaAuthentic } from './messages';

export interface HaConfig {
  address: number;
  homeNetwork: Prefix;
  mipPort: number;
  maxLifetime: number;
  reverseTunnel: boolean;
  udpTunnel: boolean;
  keepalive: number;
  revocation: boolean;
  mobileNodes: Array<{ homeAddress: number; nai?: string; sa: SecurityAssociation }>;
  /** Agents that relay registrations: foreign agents, and proxies (bindings delivered toward the VPN gateway). */
  peers: Array<{ address: number; sa?: SecurityAssociation; proxy: boolean }>;
}

interface Peer extends PeerRecord { proxy: boolean }

interface PendingRevocation { id: number; agent: number; home: number; tries: number; nextAt: number; data: Buffer }

export interface HaState {
  cfg: HaConfig;
  reg: RegistrarConfig;
  bindings: BindingTable;
  pool: AddressPool | undefined;
  byHome: Map<number, NodeRecord>;
  byNai: Map<string, NodeRecord>;
  peers: Map<number, Peer>;
  /** Per binding slot: NAT port (UDP tunnel, 0 for IP-in-IP), relaying agent (0 = direct), revocation support. */
  natPort: Uint16Array;
  agent: Uint32Array;
  revSupport: Uint8Array;
  revocations: Map<number, PendingRevocation>;
  nextRevocationId: number;
  counters: Counters;
  random: Random32;
  /** The registrar's view of the node and peer maps, built once (not per request). */
  look: Lookup;
}

/** RFC 3543 §4.2: revocations are retransmitted until acknowledged; roamd tries 4 times, 1 s apart, doubling. */
const REVOCATION_TRIES = 4;
const REVOCATION_RETRY_MS = 1000;

export function createHa(cfg: HaConfig, tables: { bindings: BindingTable; homePool?: AddressPool }, random: Random32): HaState {
  const cap = tables.bindings.capacity;
  const st: HaState = {
    cfg, reg: registrarConfig(cfg), bindings: tables.bindings, pool: tables.homePool,
    byHome: new Map(), byNai: new Map(), peers: new Map(),
    natPort: new Uint16Array(cap), agent: new Uint32Array(cap), revSupport: new Uint8Array(cap),
    revocations: new Map(), nextRevocationId: 1, counters: {}, random, look: undefined!,
  };
  st.look = lookup(st);
  indexConfig(st, cfg);
  return st;
}

function registrarConfig(cfg: HaConfig): RegistrarConfig {
  return { address: cfg.address, maxLifetime: cfg.maxLifetime, reverseTunnel: cfg.reverseTunnel, udpTunnel: cfg.udpTunnel, keepalive: cfg.keepalive };
}

function indexConfig(st: HaState, cfg: HaConfig): void {
  const oldByNai = st.byNai, oldByHome = st.byHome;
  st.byHome = new Map();
  st.byNai = new Map();
  for (const m of cfg.mobileNodes) {
    // Keep replay state across reloads for nodes that stay, so an old request cannot be replayed.
    const old = (m.nai && oldByNai.get(m.nai)) || (m.homeAddress && oldByHome.get(m.homeAddress)) || undefined;
    const rec: NodeRecord = { nai: m.nai, homeAddress: m.homeAddress, sa: m.sa, replay: old?.replay ?? newReplayState() };
    if (m.homeAddress) st.byHome.set(m.homeAddress, rec);
    if (m.nai) st.byNai.set(m.nai, rec);
  }
  st.peers = new Map(cfg.peers.map((p) => [p.address, { address: p.address, sa: p.sa, proxy: p.proxy }]));
}

/** SIGHUP: new configuration, bindings kept; bindings of nodes no longer configured are removed. */
export function reloadHa(st: HaState, cfg: HaConfig, now: number): Action[] {
  st.cfg = cfg;
  st.reg = registrarConfig(cfg);
  indexConfig(st, cfg);
  const out: Action[] = [log('info', 'config-reloaded', { nodes: cfg.mobileNodes.length, peers: cfg.peers.length })];
  const gone: number[] = [];
  st.bindings.forEach((s) => {
    const home = st.bindings.home[s]!;
    if (!st.byHome.has(home) && !dynamicOwner(st, home)) gone.push(s);
  });
  for (const s of gone) removeBinding(st, s, out, 'node-removed-from-config', now);
  return out;
}

function dynamicOwner(st: HaState, home: number): NodeRecord | undefined {
  if (!st.pool) return undefined;
  const slot = st.pool.slotOf(home);
  if (slot === NONE) return undefined;
  for (const n of st.byNai.values()) {
    if (n.homeAddress === 0 && n.nai) {
      const h = naiKey(n.nai);
      if (st.pool.find(h[0], h[1]) === slot) return n;
    }
  }
  return undefined;
}

export function stepHa(st: HaState, ev: RoleEvent, now: number): Action[] {
  const out: Action[] = [];
  switch (ev.kind) {
    case 'udp':
      if (ev.data.length === 0) {
        count(st.counters, 'rx_malformed');
        break;
      }
      switch (ev.data[0]) {
        case MsgType.REGISTRATION_REQUEST: onRequest(st, ev.data, ev.src, ev.srcPort, now, out); break;
        case MsgType.REGISTRATION_REVOCATION: onRevocation(st, ev.data, ev.src, ev.srcPort, now, out); break;
        case MsgType.REVOCATION_ACK: onRevocationAck(st, ev.data, ev.src, out); break;
        default:
          count(st.counters, 'rx_unexpected_type');
      }
      break;
    case 'tick':
      st.bindings.advance(now, (slot) => onExpire(st, slot, out));
      st.pool?.advance(now);
      retransmitRevocations(st, now, out);
      break;
    case 'revoke':
      revoke(st, ev.home, now, out);
      break;
    case 'shutdown':
      // Bindings survive a restart through the snapshot; the data plane removes its state itself.
      out.push(log('info', 'shutdown', { bindings: st.bindings.size }));
      break;
    default:
      count(st.counters, 'rx_ignored_event');
  }
  return out;
}

function lookup(st: HaState): Lookup {
  return {
    node: (home: number, nai: string | undefined): NodeRecord | undefined => {
      if (home !== 0) {
        const n = st.byHome.get(home);
        if (n) return n;
        const d = nai ? st.byNai.get(nai) : undefined;
        return d && d.homeAddress === 0 ? d : undefined;
      }
      return nai ? st.byNai.get(nai) : undefined;
    },
    peer: (address: number): PeerRecord | undefined => st.peers.get(address),
  };
}

function onRequest(st: HaState, data: Buffer, src: number, srcPort: number, now: number, out: Action[]): void {
  count(st.counters, 'rx_request');
  const v: Verdict = checkRequest(st.reg, st.look, { buf: data, src, srcPort }, now, st.random);
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
  const home = assignHome(st, node, req.homeAddress, now);
  if (home < 0) {
    const code = home === FULL ? ReplyCode.HA_INSUFFICIENT_RESOURCES : ReplyCode.HA_PROHIBITED;
    deny(st, code, home === FULL ? 'home-pool-full' : 'home-address-not-assigned-to-node',
      buildReply(st.reg, node.sa, req, peer, code, 0, req.homeAddress, req.idHigh, req.idLow, [], naiOf(req.extensions)), src, srcPort, out);
    return;
  }
  const extra: Extension[] = [];
  if (findKind(req.extensions, 'udp-tunnel-request')) extra.push(udpTunnelReply(st.reg, v.tunnel, v.forced));
  const revSupport = st.cfg.revocation && !!findKind(req.extensions, 'revocation-support') && !!peer?.sa;
  if (revSupport) extra.push({ kind: 'revocation-support', flags: REVOCATION_SUPPORT_I, timestamp: ntpSeconds(now) });

  if (req.lifetime === 0) {
    // §3.8.2.2: deregistration of one care-of address, or of all when it equals the home address.
    v.commit();
    const removed = deregister(st, home, req.careOfAddress, now, out);
    count(st.counters, 'deregistered');
    out.push(log('info', 'deregistered', { home: ipStr(home), careOf: ipStr(req.careOfAddress), removed }));
    send(out, buildReply(st.reg, node.sa, req, peer, ReplyCode.ACCEPTED, 0, home, v.replyHigh, v.replyLow, extra, naiOf(req.extensions)), src, srcPort);
    releaseIfUnbound(st, node, home, now);
    return;
  }
  const mode = peer && st.peers.get(peer.address)?.proxy ? MODE_VPN_GATEWAY : MODE_TUNNEL;
  // Without S (RFC 5944 §3.6.1.2) the new binding replaces the node's others: the data plane hears
  // of each one that goes, after the new one is in place (make-before-break).
  const replaced: Action[] = [];
  if ((req.flags & 0x80) === 0) {
    for (let s = st.bindings.find(home); s !== NONE; s = st.bindings.next(s)) {
      if (st.bindings.careOf[s] !== req.careOfAddress) replaced.push(bindingAction(st, s, 'del'));
    }
  }
  const slot = st.bindings.register(home, req.careOfAddress, v.lifetime, v.replyHigh, v.replyLow, req.flags, mode, now);
  if (slot < 0) {
    const code = slot === NODE_LIMIT ? ReplyCode.HA_TOO_MANY_BINDINGS : ReplyCode.HA_INSUFFICIENT_RESOURCES;
    deny(st, code, slot === NODE_LIMIT ? 'too-many-bindings' : 'binding-table-full',
      buildReply(st.reg, node.sa, req, peer, code, 0, home, req.idHigh, req.idLow, [], naiOf(req.extensions)), src, srcPort, out);
    releaseIfUnbound(st, node, home, now);
    return;
  }
  v.commit();
  st.natPort[slot] = v.tunnel === 'udp' ? srcPort : 0;
  st.agent[slot] = peer ? peer.address : 0;
  st.revSupport[slot] = revSupport ? 1 : 0;
  count(st.counters, 'accepted');
  out.push(bindingAction(st, slot, 'set'), ...replaced);
  out.push(log('info', 'registered', {
    home: ipStr(home), careOf: ipStr(req.careOfAddress), lifetime: v.lifetime, mode: mode === MODE_VPN_GATEWAY ? 'vpn' : 'tunnel',
    tunnel: v.tunnel, via: peer ? ipStr(peer.address) : 'direct', simultaneous: (req.flags & 0x80) !== 0,
  }));
  send(out, buildReply(st.reg, node.sa, req, peer, ReplyCode.ACCEPTED, v.lifetime, home, v.replyHigh, v.replyLow, extra, naiOf(req.extensions)), src, srcPort);
}

function findKind(exts: readonly Extension[], kind: Extension['kind']): boolean {
  return exts.some((e) => e.kind === kind);
}

/** The home address for this request (RFC 2794 §3 for 0.0.0.0), or FULL / -2 when not possible. */
function assignHome(st: HaState, node: NodeRecord, requested: number, now: number): number {
  if (node.homeAddress !== 0) return node.homeAddress;
  if (!st.pool || !node.nai) return -2;
  const [hi, lo] = naiKey(node.nai);
  if (requested !== 0) {
    const s = st.pool.find(hi, lo);
    return s !== NONE && st.pool.addressOf(s) === requested ? st.pool.allocateAddress(requested, hi, lo) >= 0 ? requested : -2 : -2;
  }
  const s = st.pool.allocate(hi, lo, now);
  return s < 0 ? FULL : st.pool.addressOf(s);
}

function releaseIfUnbound(st: HaState, node: NodeRecord, home: number, now: number): void {
  if (node.homeAddress !== 0 || !st.pool || st.bindings.find(home) !== NONE) return;
  const s = st.pool.slotOf(home);
  if (s !== NONE) st.pool.release(s, now);
}

function deregister(st: HaState, home: number, careOf: number, now: number, out: Action[]): number {
  let n = 0;
  for (let s = st.bindings.find(home); s !== NONE;) {
    const next = st.bindings.next(s);
    if (careOf === home || st.bindings.careOf[s] === careOf) {
      removeBinding(st, s, out, 'deregistered', now);
      n++;
    }
    s = next;
  }
  return n;
}

function removeBinding(st: HaState, slot: number, out: Action[], why: string, now: number): void {
  out.push(bindingAction(st, slot, 'del'));
  const home = st.bindings.home[slot]!;
  st.bindings.remove(slot);
  if (why !== 'deregistered') out.push(log('info', 'binding-removed', { home: ipStr(home), why }));
  const owner = dynamicOwner(st, home);
  if (owner) releaseIfUnbound(st, owner, home, now);
}

function onExpire(st: HaState, slot: number, out: Action[]): void {
  count(st.counters, 'expired');
  out.push(bindingAction(st, slot, 'del'));
  out.push(log('info', 'binding-expired', { home: ipStr(st.bindings.home[slot]!), careOf: ipStr(st.bindings.careOf[slot]!) }));
}

function bindingAction(st: HaState, slot: number, op: 'set' | 'del'): Action {
  const port = st.natPort[slot]!;
  return {
    kind: 'ha-binding', op, home: st.bindings.home[slot]!, careOf: st.bindings.careOf[slot]!,
    mode: st.bindings.mode[slot] === MODE_VPN_GATEWAY ? 'vpn' : 'tunnel', tunnel: port ? 'udp' : 'ipip', port,
    reverse: (st.bindings.flags[slot]! & 0x02) !== 0,
  };
}

function deny(st: HaState, code: number, reason: string, reply: Buffer, src: number, srcPort: number, out: Action[]): void {
  count(st.counters, `deny_${code}`);
  out.push(log('warn', 'request-denied', { code, reason, src: ipStr(src) }));
  send(out, reply, src, srcPort);
}

function send(out: Action[], data: Buffer, dst: number, dstPort: number): void {
  out.push({ kind: 'send-udp', dst, dstPort, data });
}

// --- Revocation, RFC 3543 ---------------------------------------------------------------------

function revoke(st: HaState, home: number, now: number, out: Action[]): void {
  let n = 0;
  for (let s = st.bindings.find(home); s !== NONE;) {
    const next = st.bindings.next(s);
    const agent = st.agent[s]!;
    const peer = st.peers.get(agent);
    if (agent && peer?.sa && st.revSupport[s]) {
      const id = st.nextRevocationId++ >>> 0;
      const data = encodeRevocation({
        type: 7, flags: RevocationFlag.A, homeAddress: home, homeDomainAddress: st.cfg.address,
        foreignDomainAddress: agent, revocationId: id, extensions: [],
      }, [{ type: 34, sa: peer.sa }]);
      st.revocations.set(id, { id, agent, home, tries: 1, nextAt: now + REVOCATION_RETRY_MS, data });
      send(out, data, agent, st.cfg.mipPort);
    }
    removeBinding(st, s, out, 'revoked', now);
    n++;
    s = next;
  }
  count(st.counters, 'revoked', n);
  out.push(log(n ? 'info' : 'warn', 'revoke', { home: ipStr(home), bindings: n }));
}

function retransmitRevocations(st: HaState, now: number, out: Action[]): void {
  for (const r of st.revocations.values()) {
    if (now < r.nextAt) continue;
    if (r.tries >= REVOCATION_TRIES) {
      st.revocations.delete(r.id);
      count(st.counters, 'revocation_unacknowledged');
      out.push(log('warn', 'revocation-unacknowledged', { home: ipStr(r.home), agent: ipStr(r.agent) }));
      continue;
    }
    r.tries++;
    r.nextAt = now + REVOCATION_RETRY_MS * 2 ** (r.tries - 1);
    send(out, r.data, r.agent, st.cfg.mipPort);
  }
}

function onRevocationAck(st: HaState, data: Buffer, src: number, out: Action[]): void {
  let m: revocationAck.RevocationAck;
  try {
    m = revocationAck.decode(data);
  } catch {
    count(st.counters, 'rx_malformed');
    return;
  }
  const r = st.revocations.get(m.revocationId);
  const peer = st.peers.get(src);
  if (!r || r.agent !== src || r.home !== m.homeAddress || !faHaAuthentic(peer?.sa, data, m.extensions)) {
    count(st.counters, 'drop_revocation_ack');
    return;
  }
  st.revocations.delete(r.id);
  count(st.counters, 'revocation_acked');
  out.push(log('info', 'revocation-acknowledged', { home: ipStr(r.home), agent: ipStr(src) }));
}

/** A foreign agent (or the proxy) revokes a binding it serves (RFC 3543 §4.2, A = 0). */
function onRevocation(st: HaState, data: Buffer, src: number, srcPort: number, now: number, out: Action[]): void {
  let m: revocation.RegistrationRevocation;
  try {
    m = revocation.decode(data);
  } catch {
    count(st.counters, 'rx_malformed');
    return;
  }
  const peer = st.peers.get(src);
  if (!faHaAuthentic(peer?.sa, data, m.extensions)) {
    count(st.counters, 'drop_revocation_unauthenticated'); // RFC 3543 §6.2: ignore
    out.push(log('warn', 'revocation-ignored', { src: ipStr(src), reason: 'authentication' }));
    return;
  }
  let n = 0;
  for (let s = st.bindings.find(m.homeAddress); s !== NONE;) {
    const next = st.bindings.next(s);
    if (st.agent[s] === src) {
      removeBinding(st, s, out, 'revoked-by-agent', now);
      n++;
    }
    s = next;
  }
  count(st.counters, 'revoked_by_agent', n);
  send(out, ackRevocation(m, peer!.sa!), src, srcPort);
}

// --- Views for the control socket --------------------------------------------------------------

export function haStatus(st: HaState): Record<string, unknown> {
  return {
    role: 'ha', bindings: st.bindings.size, capacity: st.bindings.capacity, nodes: st.cfg.mobileNodes.length,
    peers: st.cfg.peers.length, pool: st.pool ? { size: st.pool.count, free: st.pool.free } : null,
    pendingRevocations: st.revocations.size,
  };
}

export function haBindings(st: HaState, now: number, render: (a: number) => string): Array<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  st.bindings.forEach((s) => {
    rows.push({
      home: render(st.bindings.home[s]!), careOf: render(st.bindings.careOf[s]!), remaining: st.bindings.remaining(s, now),
      lifetime: st.bindings.lifetime[s], mode: st.bindings.mode[s] === MODE_VPN_GATEWAY ? 'vpn' : 'tunnel',
      tunnel: st.natPort[s] ? 'udp' : 'ipip', natPort: st.natPort[s], via: st.agent[s] ? render(st.agent[s]!) : 'direct',
      flags: st.bindings.flags[s], identification: `${st.bindings.identHi[s]!.toString(16).padStart(8, '0')}${st.bindings.identLo[s]!.toString(16).padStart(8, '0')}`,
    });
  });
  return rows;
}


export { naiOf };

// --- Restart without losing bindings -------------------------------------------------------------

/** One node's persistent state: its bindings and its replay state (docs/reliability.md). */
export interface HaNodeRecord {
  home: number;
  bindings: Array<{ careOf: number; expiresAt: number; lifetime: number; idHi: number; idLo: number; flags: number; mode: number; natPort: number; agent: number; rev: number }>;
  replay?: { key: string; primed: boolean; lastHigh: number; lastLow: number; nonce: number };
  nai?: string;
}

function replayKey(n: NodeRecord): string {
  return n.nai ? `nai:${n.nai}` : `home:${n.homeAddress}`;
}

/** The persistent state of one home address, for the journal written before replies go out. */
export function haRecord(st: HaState, home: number): HaNodeRecord {
  const rec: HaNodeRecord = { home, bindings: [] };
  for (let s = st.bindings.find(home); s !== NONE; s = st.bindings.next(s)) {
    const b = st.bindings;
    rec.bindings.push({ careOf: b.careOf[s]!, expiresAt: b.expiresAt(s), lifetime: b.lifetime[s]!, idHi: b.identHi[s]!, idLo: b.identLo[s]!,
      flags: b.flags[s]!, mode: b.mode[s]!, natPort: st.natPort[s]!, agent: st.agent[s]!, rev: st.revSupport[s]! });
  }
  const node = st.byHome.get(home) ?? dynamicOwner(st, home);
  if (node) {
    rec.replay = { key: replayKey(node), primed: node.replay.primed, lastHigh: node.replay.lastHigh, lastLow: node.replay.lastLow, nonce: node.replay.nonce };
    if (node.homeAddress === 0) rec.nai = node.nai;
  }
  return rec;
}

/** Every node with a binding or a replay state, for the periodic snapshot. */
export function haExport(st: HaState): HaNodeRecord[] {
  const homes = new Set<number>();
  st.bindings.forEach((s) => homes.add(st.bindings.home[s]!));
  const out = [...homes].map((h) => haRecord(st, h));
  // Replay state of nodes without a binding still protects against replays after a restart.
  for (const n of new Set([...st.byHome.values(), ...st.byNai.values()])) {
    if (n.replay.primed && (n.homeAddress === 0 || !homes.has(n.homeAddress))) {
      out.push({ home: n.homeAddress, bindings: [], replay: { key: replayKey(n), primed: true, lastHigh: n.replay.lastHigh, lastLow: n.replay.lastLow, nonce: n.replay.nonce } });
    }
  }
  return out;
}

/**
 * Puts one node's recorded state back (replacing what is there): bindings that have not expired,
 * its dynamic home address, its replay state.
 */
function haImport(st: HaState, rec: HaNodeRecord, now: number): void {
  if (rec.replay) {
    const n = [...st.byHome.values(), ...st.byNai.values()].find((x) => replayKey(x) === rec.replay!.key);
    if (n) Object.assign(n.replay, { primed: rec.replay.primed, lastHigh: rec.replay.lastHigh, lastLow: rec.replay.lastLow, nonce: rec.replay.nonce });
  }
  if (rec.home === 0) return;
  for (let s = st.bindings.find(rec.home); s !== NONE;) {
    const next = st.bindings.next(s);
    st.bindings.remove(s);
    s = next;
  }
  if (rec.nai && st.pool) {
    const [hi, lo] = naiKey(rec.nai);
    if (rec.bindings.some((b) => b.expiresAt > now)) st.pool.allocateAddress(rec.home, hi, lo);
  }
  for (const b of rec.bindings) {
    if (b.expiresAt <= now) continue;
    const s = st.bindings.restore(rec.home, b.careOf, b.idHi, b.idLo, b.flags, b.mode, b.lifetime, b.expiresAt);
    if (s < 0) {
      count(st.counters, 'restore_failed');
      continue;
    }
    st.natPort[s] = b.natPort;
    st.agent[s] = b.agent;
    st.revSupport[s] = b.rev;
  }
}

/** Restores every record (later ones win) and returns the data-plane actions for the result. */
export function haImportAll(st: HaState, recs: HaNodeRecord[], now: number): Action[] {
  for (const r of recs) haImport(st, r, now);
  const out: Action[] = [];
  st.bindings.forEach((s) => out.push(bindingAction(st, s, 'set')));
  return out;
}
