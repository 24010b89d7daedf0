// Helpers for the foreign agent flows: addresses, SAs, a configurable FA, message builders that
// sign like a mobile node or a home agent would, and decoders for what the FA sends.
import { SecurityAssociation } from '../../../src/auth/security-association';
import { Extension, encodeExtension, extensionsLength } from '../../../src/wire/extensions';
import * as request from '../../../src/wire/registration-request';
import * as reply from '../../../src/wire/registration-reply';
import * as adv from '../../../src/wire/agent-advertisement';
import { internetChecksum } from '../../../src/wire/checksum';
import { appendAuth, encodeReply, encodeRequest, Signer } from '../../../src/roles/messages';
import type { Action, UdpEvent } from '../../../src/roles/types';
import { FaConfig, FaState, createFa } from '../../../src/roles/fa';
import { mulberry32 } from '../../util/prng';

export function a(s: string): number {
  return s.split('.').reduce((n, o) => n * 256 + Number(o), 0) >>> 0;
}

export const COA = a('192.0.2.1');
export const COA2 = a('198.51.100.1');
export const HA = a('203.0.113.2');
export const HA_NOSA = a('203.0.113.9');
export const HOME = a('198.18.0.7');
export const MN_PORT = 40000;
export const T0 = 1_700_000_000_000;

export function sa(spi: number, key: string): SecurityAssociation {
  return new SecurityAssociation({ spi, algorithm: 'hmac-md5', key: Buffer.from(key) });
}
export const MN_HA = sa(300, 'mn-ha secret');
export const FA_HA = sa(400, 'fa-ha secret');
export const MN_FA = sa(500, 'mn-fa secret');

export function config(over: Partial<FaConfig> = {}): FaConfig {
  return {
    interfaces: [{ ifname: 'wlan0', address: COA, prefixLength: 24 }, { ifname: 'lan1', address: COA2, prefixLength: 24 }],
    advertiseInterval: 3, advertisementLifetime: 0, registrationLifetime: 600, registrationRequired: true,
    reverseTunnel: 'optional', behindNat: false, revocation: true, challenge: false,
    maxPendingPerNode: 5, pendingTimeoutMs: 7000,
    homeAgents: [{ address: HA, sa: FA_HA }, { address: HA_NOSA }], restrictHomeAgents: false,
    mobileNodes: [], mipPort: 434, ...over,
  };
}

export function fa(over: Partial<FaConfig> = {}, caps = { visitorCapacity: 8, pendingCapacity: 8 }): FaState {
  return createFa(config(over), { ...caps, random: mulberry32(7), now: T0 });
}

export interface ReqOpts {
  fields?: Partial<request.RegistrationRequest>;
  /** Extensions before MN-HA (e.g. NAI). */
  before?: Extension[];
  /** Sign MN-HA (default true). */
  mnHa?: boolean;
  /** Extensions appended after MN-HA (raw), then MN-FA auth when `mnFa` is given. */
  after?: Extension[];
  mnFa?: SecurityAssociation;
}

export function req(o: ReqOpts = {}): Buffer {
  const m: request.RegistrationRequest = {
    type: 1, flags: 0x02, lifetime: 300, homeAddress: HOME, homeAgent: HA, careOfAddress: COA,
    idHigh: 0xe1000000, idLow: 0x12345678, extensions: o.before ?? [], ...o.fields,
  };
  let buf = encodeRequest(m, o.mnHa === false ? [] : [{ type: 32, sa: MN_HA }]);
  if (o.after?.length) buf = appendExts(buf, o.after);
  if (o.mnFa) buf = appendAuth(buf, [{ type: 33, sa: o.mnFa }]);
  return buf;
}

export function appendExts(msg: Buffer, exts: Extension[]): Buffer {
  const buf = Buffer.alloc(msg.length + extensionsLength(exts));
  msg.copy(buf, 0);
  let off = msg.length;
  for (const e of exts) off = encodeExtension(e, buf, off);
  return buf;
}

export function rep(over: Partial<reply.RegistrationReply> = {}, signers: Signer[] = [{ type: 32, sa: MN_HA }, { type: 34, sa: FA_HA }], before: Extension[] = []): Buffer {
  return encodeReply({ type: 3, code: 0, lifetime: 300, homeAddress: HOME, homeAgent: HA, idHigh: 0xe1000000, idLow: 0x12345678, extensions: before, ...over }, signers);
}

export function fromMn(data: Buffer, over: Partial<UdpEvent> = {}): UdpEvent {
  return { kind: 'udp', src: HOME, srcPort: MN_PORT, dst: COA, dstPort: 434, ifname: 'wlan0', data, ...over };
}

export function fromHa(data: Buffer, over: Partial<UdpEvent> = {}): UdpEvent {
  return { kind: 'udp', src: HA, srcPort: 434, dst: COA, dstPort: 434, data, ...over };
}

export type SendUdp = Extract<Action, { kind: 'send-udp' }>;
export type SendIcmp = Extract<Action, { kind: 'send-icmp' }>;
export type VisitorAct = Extract<Action, { kind: 'visitor' }>;

export function udps(acts: Action[]): SendUdp[] {
  return acts.filter((x): x is SendUdp => x.kind === 'send-udp');
}
export function icmps(acts: Action[]): SendIcmp[] {
  return acts.filter((x): x is SendIcmp => x.kind === 'send-icmp');
}
export function visitors(acts: Action[]): VisitorAct[] {
  return acts.filter((x): x is VisitorAct => x.kind === 'visitor');
}

/**
 * Decodes an advertisement the FA sent. The RFC 4721 §2 challenge extension (type 24) is not
 * known to src/wire (it rejects unknown types < 128), so it is cut out before decoding.
 */
export function parseAdv(buf: Buffer): { m: adv.AgentAdvertisement; challenge?: string; checksumOk: boolean } {
  const checksumOk = internetChecksum(buf, 0, buf.length) === 0;
  let p = 8 + 8 * buf[4]!;
  let challenge: string | undefined;
  const keep: Buffer[] = [buf.subarray(0, p)];
  while (p < buf.length) {
    if (buf[p] === 0) { keep.push(buf.subarray(p, p + 1)); p++; continue; }
    const end = p + 2 + buf[p + 1]!;
    if (buf[p] === 24) challenge = buf.subarray(p + 2, end).toString('hex');
    else keep.push(buf.subarray(p, end));
    p = end;
  }
  const m = adv.decode(Buffer.concat(keep), 0, undefined, { verifyChecksum: false });
  return { m, checksumOk, ...(challenge !== undefined ? { challenge } : {}) };
}

export function maExt(m: adv.AgentAdvertisement): adv.MobilityAgentExt {
  const e = adv.mobilityAgentExtension(m);
  if (!e) throw new Error('no mobility agent extension');
  return e;
}
