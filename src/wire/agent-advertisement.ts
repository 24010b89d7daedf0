/**
 * Agent Advertisement: an ICMP Router Advertisement (type 9, RFC 1256 §3) with the Mobility Agent
 * Advertisement extension (16), optional Prefix-Lengths (19), Challenge (24, RFC 4721 §2) and
 * One-byte Padding (0), RFC 5944 §2.1. Code 0, or 16 when the agent does not route common traffic (RFC 5944 §2.1).
 *
 *   0: type 9 | code | checksum   4: num addrs | addr entry size | lifetime
 *   8: (router address, preference level) * num addrs   then extensions to the end of the ICMP message
 *
 * The checksum covers the whole ICMP message (RFC 1256 §3). Extensions are kept in wire order;
 * unknown skippable ones (>= 128) survive a round trip, unknown non-skippable ones reject the
 * message (RFC 5944 §1.9).
 */
import { IcmpType, AdvExt, FIRST_SKIPPABLE_EXT } from './constants';
import { RoamdError } from '../errors';
import { need, malformed, window, encodeCheck, isU8, isU16, isU32 } from './bounds';
import { internetChecksum } from './checksum';

export const ADV_FIXED_LENGTH = 8;
/** RFC 1256 §3: Addr Entry Size is 2 32-bit words in this version of the protocol. */
export const ADDR_ENTRY_SIZE = 2;

export interface RouterEntry { address: number; preference: number }

export interface MobilityAgentExt {
  kind: 'mobility-agent';
  sequence: number;
  registrationLifetime: number;
  /** R B H F M G r T U X I and reserved as the 16-bit field (AdvFlag). */
  flags: number;
  careOfAddresses: number[];
}
export interface PrefixLengthsExt { kind: 'prefix-lengths'; prefixLengths: number[] }
export interface AdvPadExt { kind: 'pad' }
/** A challenge for the MN-FA challenge/response, RFC 4721 §2. */
export interface AdvChallengeExt { kind: 'challenge'; challenge: Uint8Array }
export interface AdvUnknownExt { kind: 'unknown'; type: number; data: Uint8Array }
export type AdvExtension = MobilityAgentExt | PrefixLengthsExt | AdvChallengeExt | AdvPadExt | AdvUnknownExt;

export interface AgentAdvertisement {
  type: 9;
  code: number;
  /** Router advertisement lifetime in seconds (RFC 1256), not the registration lifetime. */
  lifetime: number;
  routers: RouterEntry[];
  extensions: AdvExtension[];
}

function extLength(e: AdvExtension): number {
  switch (e.kind) {
    case 'mobility-agent': return 8 + 4 * e.careOfAddresses.length;
    case 'prefix-lengths': return 2 + e.prefixLengths.length;
    case 'challenge': return 2 + e.challenge.length;
    case 'pad': return 1;
    case 'unknown': return 2 + e.data.length;
  }
}

export function encodingLength(m: AgentAdvertisement): number {
  let n = ADV_FIXED_LENGTH + 8 * m.routers.length;
  for (const e of m.extensions) n += extLength(e);
  return n;
}

/** Writes the ICMP message (checksum computed) at `off`; returns the offset after it. */
export function encode(m: AgentAdvertisement, buf: Buffer, off = 0): number {
  const len = encodingLength(m);
  encodeCheck(off + len <= buf.length, 'agent advertisement does not fit in the buffer');
  encodeCheck(isU8(m.code) && isU16(m.lifetime) && m.routers.length <= 0xff, 'agent advertisement: field out of range');
  buf[off] = IcmpType.ROUTER_ADVERTISEMENT;
  buf[off + 1] = m.code;
  buf.writeUInt16BE(0, off + 2);
  buf[off + 4] = m.routers.length;
  buf[off + 5] = ADDR_ENTRY_SIZE;
  buf.writeUInt16BE(m.lifetime, off + 6);
  let p = off + ADV_FIXED_LENGTH;
  for (const r of m.routers) {
    encodeCheck(isU32(r.address) && Number.isInteger(r.preference) && r.preference >= -0x80000000 && r.preference <= 0x7fffffff, 'router entry out of range');
    buf.writeUInt32BE(r.address, p);
    buf.writeInt32BE(r.preference, p + 4);
    p += 8;
  }
  for (const e of m.extensions) {
    switch (e.kind) {
      case 'mobility-agent': {
        const l = extLength(e) - 2;
        encodeCheck(l <= 0xff && isU16(e.sequence) && isU16(e.registrationLifetime) && isU16(e.flags), 'mobility agent extension out of range');
        buf[p] = AdvExt.MOBILITY_AGENT;
        buf[p + 1] = l;
        buf.writeUInt16BE(e.sequence, p + 2);
        buf.writeUInt16BE(e.registrationLifetime, p + 4);
        buf.writeUInt16BE(e.flags, p + 6);
        p += 8;
        for (const coa of e.careOfAddresses) { buf.writeUInt32BE(coa, p); p += 4; }
        break;
      }
      case 'prefix-lengths':
        encodeCheck(e.prefixLengths.length <= 0xff && e.prefixLengths.every((x) => x >= 0 && x <= 32), 'prefix lengths out of range');
        buf[p] = AdvExt.PREFIX_LENGTHS;
        buf[p + 1] = e.prefixLengths.length;
        for (let i = 0; i < e.prefixLengths.length; i++) buf[p + 2 + i] = e.prefixLengths[i]!;
        p += 2 + e.prefixLengths.length;
        break;
      case 'challenge':
        encodeCheck(e.challenge.length <= 0xff, 'challenge longer than 255 bytes');
        buf[p] = AdvExt.CHALLENGE;
        buf[p + 1] = e.challenge.length;
        buf.set(e.challenge, p + 2);
        p += 2 + e.challenge.length;
        break;
      case 'pad':
        buf[p++] = AdvExt.PAD;
        break;
      case 'unknown':
        encodeCheck(isU8(e.type) && e.type >= FIRST_SKIPPABLE_EXT && e.data.length <= 0xff, 'unknown advertisement extension must be skippable and <= 255 bytes');
        buf[p] = e.type;
        buf[p + 1] = e.data.length;
        buf.set(e.data, p + 2);
        p += 2 + e.data.length;
        break;
    }
  }
  buf.writeUInt16BE(internetChecksum(buf, off, p), off + 2);
  return p;
}

export interface IcmpDecodeOptions {
  /** Verify the ICMP checksum (default true). */
  verifyChecksum?: boolean;
}

/** Decodes an agent advertisement occupying exactly [off, end) (the ICMP message). */
export function decode(buf: Buffer, off = 0, end = buf.length, opts: IcmpDecodeOptions = {}): AgentAdvertisement {
  window(buf, off, end);
  need(off, ADV_FIXED_LENGTH, end, 'router advertisement');
  if (buf[off] !== IcmpType.ROUTER_ADVERTISEMENT) throw malformed(`ICMP type ${buf[off]} is not a router advertisement (9)`, off);
  if (opts.verifyChecksum !== false && internetChecksum(buf, off, end) !== 0) {
    throw new RoamdError('ERR_WIRE_CHECKSUM', 'ICMP checksum does not match', off + 2);
  }
  const num = buf[off + 4]!;
  const size = buf[off + 5]!;
  // RFC 1256 §5.2: Addr Entry Size < 2 is invalid; larger entries carry words we skip.
  if (size < ADDR_ENTRY_SIZE) throw malformed(`address entry size ${size} < 2 (RFC 1256 §5.2)`, off + 5);
  const routers: RouterEntry[] = [];
  let p = off + ADV_FIXED_LENGTH;
  need(p, num * size * 4, end, `${num} router entries`);
  for (let i = 0; i < num; i++) {
    routers.push({ address: buf.readUInt32BE(p), preference: buf.readInt32BE(p + 4) });
    p += size * 4;
  }
  const extensions: AdvExtension[] = [];
  while (p < end) {
    const type = buf[p]!;
    if (type === AdvExt.PAD) { extensions.push({ kind: 'pad' }); p += 1; continue; }
    need(p, 2, end, `advertisement extension ${type} header`);
    const len = buf[p + 1]!;
    const d = p + 2;
    need(d, len, end, `advertisement extension ${type} data`);
    if (type === AdvExt.MOBILITY_AGENT) {
      if (len < 6 || (len - 6) % 4 !== 0) throw malformed(`mobility agent extension length ${len} is not 6 + 4*N (RFC 5944 §2.1.1)`, p);
      const careOfAddresses: number[] = [];
      for (let q = d + 6; q < d + len; q += 4) careOfAddresses.push(buf.readUInt32BE(q));
      extensions.push({ kind: 'mobility-agent', sequence: buf.readUInt16BE(d), registrationLifetime: buf.readUInt16BE(d + 2), flags: buf.readUInt16BE(d + 4), careOfAddresses });
    } else if (type === AdvExt.PREFIX_LENGTHS) {
      const prefixLengths = Array.from(buf.subarray(d, d + len));
      if (prefixLengths.some((x) => x > 32)) throw malformed('prefix length > 32', d);
      extensions.push({ kind: 'prefix-lengths', prefixLengths });
    } else if (type === AdvExt.CHALLENGE) {
      extensions.push({ kind: 'challenge', challenge: new Uint8Array(buf.subarray(d, d + len)) });
    } else if (type >= FIRST_SKIPPABLE_EXT) {
      extensions.push({ kind: 'unknown', type, data: new Uint8Array(buf.subarray(d, d + len)) });
    } else {
      throw new RoamdError('ERR_WIRE_UNKNOWN_EXTENSION', `unknown non-skippable advertisement extension ${type}`, p);
    }
    p = d + len;
  }
  return { type: 9, code: buf[off + 1]!, lifetime: buf.readUInt16BE(off + 6), routers, extensions };
}

/** The mobility agent extension of an advertisement, if any (an advertisement needs one). */
export function mobilityAgentExtension(m: AgentAdvertisement): MobilityAgentExt | undefined {
  for (const e of m.extensions) if (e.kind === 'mobility-agent') return e;
  return undefined;
}
