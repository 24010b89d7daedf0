/**
 * What a home agent does with a Registration Request before it touches its tables, shared by the
 * home agent (role `ha`) and the proxy (role `proxy`, the x-HA of RFC 5265): the validity checks of
 * RFC 5944 §3.8.2.1 and §3.8.2.2 in a fixed order, the replay check of §5.7, the RFC 3519 UDP
 * tunnel negotiation, and building the signed reply of §3.8.3. Pure functions: no state changes
 * here except through the returned `commit`.
 *
 * Order (BIRD style): decode → find the node → authorization-enabling extension → MN-HA
 * authenticator → Identification → FA-HA authenticator → fields and policy. A request failing an
 * early check is dropped silently where the RFC says so, otherwise answered with the code.
 */
import { ReplyCode, RegFlag, Ext, UdpTunnelReqFlag, UdpTunnelCode, IpProto } from '../wire/constants';
import type { Extension } from '../wire/extensions';
import * as request from '../wire/registration-request';
import type { RegistrationRequest } from '../wire/registration-request';
import { RoamdError } from '../errors';
import { SecurityAssociation } from '../auth/security-association';
import {
  ReplayState, checkTimestamp, checkNonce, acceptTimestamp, issueNonce,
} from '../auth/replay';
import { authExtensions, checkAuth, encodeReply, findExt, firstAuth, Signer } from './messages';
import { naiHashString } from '../tables/address-pool';
import type { Random32 } from './types';

/** A mobile node the agent serves, with its SA and replay state. */
export interface NodeRecord {
  nai?: string;
  /** Configured home address, 0 when assigned from a pool (RFC 2794). */
  homeAddress: number;
  sa: SecurityAssociation;
  replay: ReplayState;
}

/** An agent that relays registrations to us (a foreign agent, or the proxy for the i-HA). */
export interface PeerRecord {
  address: number;
  sa?: SecurityAssociation;
}

export interface RegistrarConfig {
  /** The agent's own address: the Home Agent field must equal it (RFC 5944 §3.8.2.2, code 136). */
  address: number;
  maxLifetime: number;
  reverseTunnel: boolean;
  udpTunnel: boolean;
  /** NAT keepalive interval to hand out in UDP tunnel replies (RFC 3519 §3.2), seconds. */
  keepalive: number;
}

export interface RequestContext {
  buf: Buffer;
  src: number;
  srcPort: number;
}

/** Result of checking a request (N: the role's node record, as its lookup returns it). */
export type Verdict<N extends NodeRecord = NodeRecord> =
  | { kind: 'drop'; reason: string }
  | { kind: 'deny'; code: number; reason: string; reply: Buffer }
  | { kind: 'accept'; req: RegistrationRequest; node: N; peer?: PeerRecord; lifetime: number;
      tunnel: 'ipip' | 'udp'; forced: boolean; replyHigh: number; replyLow: number;
      /** Applies the replay state change; call only once the request is accepted for good. */
      commit(): void };

export interface Lookup<N extends NodeRecord = NodeRecord> {
  node(home: number, nai: string | undefined): N | undefined;
  peer(address: number): PeerRecord | undefined;
}

/**
 * Checks a request received from src:srcPort. Denials come with a signed reply to send back to
 * the sender (RFC 5944 §3.8.3: to the source address and port of the request).
 */
export function checkRequest<N extends NodeRecord>(cfg: RegistrarConfig, look: Lookup<N>, ctx: RequestContext, now: number, random: Random32): Verdict<N> {
  let req: RegistrationRequest;
  try {
    req = request.decode(ctx.buf);
  } catch (e) {
    // §1.9: an unknown non-skippable extension discards the message; so does any parse error.
    return { kind: 'drop', reason: e instanceof RoamdError ? e.code : 'decode' };
  }
  const nai = naiOf(req.extensions);
  const node = look.node(req.homeAddress, nai);
  if (!node) return { kind: 'drop', reason: 'unknown-node' }; // §3.8.2.1 a: no SA → silently discard
  // The authorization-enabling extension is the first MN-HA authentication extension (§3.5.2).
  const mnha = firstAuth(req.extensions, Ext.MN_HA_AUTH as 32);
  if (!mnha) return { kind: 'drop', reason: 'no-mn-ha-auth' };
  if (mnha.spi !== node.sa.spi) return { kind: 'drop', reason: 'unknown-spi' };
  const peer = look.peer(ctx.src);
  const fhExts = authExtensions(req.extensions, Ext.FA_HA_AUTH as 34);
  // §3.8.2.1 d: an FA-HA extension from an agent we share no SA with is discarded.
  if (fhExts.length > 0 && !peer?.sa) return { kind: 'drop', reason: 'fa-ha-without-sa' };
  const deny = (code: number, reason: string, idHigh = req.idHigh, idLow = req.idLow): Verdict<N> => ({
    kind: 'deny', code, reason,
    reply: buildReply(cfg, node.sa, req, peer, code, 0, req.homeAddress, idHigh, idLow, [], nai),
  });
  if (!checkAuth(node.sa, ctx.buf, 0, mnha)) return deny(ReplyCode.HA_MN_AUTH_FAILED, 'mn-ha-auth');
  // §3.8.2.1 b: Identification, with the SA selected by the SPI.
  const v = node.sa.replay === 'nonce'
    ? checkNonce(node.replay, req.idHigh, req.idLow, random())
    : checkTimestamp(node.replay, req.idHigh, req.idLow, now, node.sa.replayWindow);
  if (!v.ok) {
    // A nonce reply always hands out the new nonce, so the node resynchronises (§5.7.2).
    if (node.sa.replay === 'nonce') issueNonce(node.replay, v.replyHigh);
    return deny(v.code, `identification-${v.reason}`, v.replyHigh, v.replyLow);
  }
  // §3.8.2.1 c: exactly one valid FA-HA extension when we share an SA with the relaying agent. Not on
  // deregistrations, nor when the care-of address is not the agent's own (a co-located node relayed
  // with R set): §3.5.4 forbids the FA to append it then. An FA-HA extension present is always checked.
  if (peer?.sa && req.lifetime !== 0 && (fhExts.length > 0 || req.careOfAddress === ctx.src)) {
    if (fhExts.length !== 1 || !checkAuth(peer.sa, ctx.buf, 0, fhExts[0])) return deny(ReplyCode.HA_FA_AUTH_FAILED, 'fa-ha-auth');
  }
  // §3.8.2.2: reserved bits must be zero (the 'r' bit; 'x' is ignored on reception).
  if (req.flags & RegFlag.r) return deny(ReplyCode.HA_POORLY_FORMED_REQUEST, 'reserved-bit');
  if (req.homeAgent !== cfg.address) return deny(ReplyCode.HA_UNKNOWN_HA, 'unknown-home-agent');
  if (req.homeAddress !== 0 && node.homeAddress !== 0 && req.homeAddress !== node.homeAddress) {
    return deny(ReplyCode.HA_PROHIBITED, 'home-address-not-assigned-to-node'); // §3.8.3.2
  }
  if (req.flags & (RegFlag.M | RegFlag.G)) return deny(ReplyCode.HA_ENCAP_UNAVAILABLE, 'encapsulation'); // IP-in-IP only
  if ((req.flags & RegFlag.T) && !cfg.reverseTunnel) return deny(ReplyCode.HA_REVERSE_TUNNEL_UNAVAILABLE, 'reverse-tunnel');
  // RFC 3519: UDP tunnelling when requested and a NAT is detected (or forced).
  let tunnel: 'ipip' | 'udp' = 'ipip';
  let forced = false;
  const utr = findExt(req.extensions, 'udp-tunnel-request');
  if (utr && req.lifetime !== 0) {
    forced = (utr.flags & UdpTunnelReqFlag.F) !== 0;
    // §4.4 (RFC 3519): a NAT is between us when the source address differs from the CoA.
    const natted = ctx.src !== req.careOfAddress;
    if (natted || forced) {
      if (!cfg.udpTunnel) {
        if (forced) return deny(ReplyCode.HA_PROHIBITED, 'udp-tunnel-forced-but-disabled'); // RFC 3519 §3.1.1
      } else if (utr.encapsulation !== 0 && utr.encapsulation !== IpProto.IPIP) {
        return deny(ReplyCode.HA_UDP_ENCAP_UNAVAILABLE, 'udp-encapsulation');
      } else tunnel = 'udp';
    }
  }
  const lifetime = Math.min(req.lifetime, cfg.maxLifetime);
  const replay = node.replay;
  const sa = node.sa;
  return {
    kind: 'accept', req, node, peer, lifetime, tunnel, forced, replyHigh: v.replyHigh, replyLow: v.replyLow,
    commit: () => {
      if (sa.replay === 'nonce') issueNonce(replay, v.replyHigh);
      else acceptTimestamp(replay, req.idHigh, req.idLow);
    },
  };
}

/** The 64-bit key pools and tables use for an NAI (two independent 32-bit hashes). */
export function naiKey(nai: string): [number, number] {
  return [naiHashString(nai, 0x9e3779b9), naiHashString(nai, 0x85ebca6b)];
}

export function naiOf(exts: readonly Extension[]): string | undefined {
  for (const e of exts) if (e.kind === 'nai') return e.nai;
  return undefined;
}

/**
 * The signed Registration Reply to `req` (RFC 5944 §3.8.3): the NAI extension when the request had
 * one (RFC 2794 §3: the reply MUST include it), `extra` extensions, then MN-HA authentication with
 * the node's SA, then FA-HA authentication when it came through `peer` and we share an SA with it —
 * except for a deregistration (lifetime 0, or the care-of address equal to the home address): RFC
 * 5944 §3.5.4 says the Foreign-Home Authentication extension MUST NOT be applied to deregistration
 * messages, accepted or denied.
 */
export function buildReply(cfg: RegistrarConfig, sa: SecurityAssociation, req: { lifetime: number; careOfAddress: number; homeAddress: number },
  peer: PeerRecord | undefined, code: number, lifetime: number, home: number, idHigh: number, idLow: number, extra: Extension[], nai?: string): Buffer {
  const signers: Signer[] = [{ type: 32, sa }];
  const dereg = req.lifetime === 0 || req.careOfAddress === req.homeAddress;
  if (peer?.sa && !dereg) signers.push({ type: 34, sa: peer.sa });
  return encodeReply({
    type: 3, code, lifetime, homeAddress: home, homeAgent: cfg.address, idHigh, idLow,
    extensions: nai === undefined ? extra : [{ kind: 'nai', nai }, ...extra],
  }, signers);
}

/** The UDP tunnel reply extension for an accepted request that asked for one (RFC 3519 §3.2). */
export function udpTunnelReply(cfg: RegistrarConfig, tunnel: 'ipip' | 'udp', forced: boolean): Extension {
  return { kind: 'udp-tunnel-reply', subtype: 0, code: tunnel === 'udp' ? UdpTunnelCode.WILL_TUNNEL : UdpTunnelCode.DECLINED, flags: forced ? 0x8000 : 0, keepalive: cfg.keepalive };
}
