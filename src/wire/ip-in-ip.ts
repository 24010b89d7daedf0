/**
 * IP in IP encapsulation, RFC 2003 §3: an outer IPv4 header (protocol 4) in front of the inner
 * datagram. The outer TOS is copied from the inner header and DF is set when the inner has DF
 * (§3.1); the outer TTL is the encapsulator's. Decapsulation checks the outer header and returns
 * where the inner datagram is, without copying.
 */
import { IpProto } from './constants';
import { malformed } from './bounds';
import * as ipv4 from './ipv4-header';

/** Default TTL of the outer header (RFC 2003 §3.1: "the default TTL value for IP"). */
export const TUNNEL_TTL = 64;
export const IPIP_OVERHEAD = ipv4.IPV4_MIN_HEADER;

/**
 * Writes an outer header at `off` for the inner datagram that must already lie at
 * `off + 20`, with length `innerLength`. Returns the offset after the whole packet.
 */
export function encapsulate(buf: Buffer, off: number, innerLength: number, outerSrc: number, outerDst: number, id = 0, ttl = TUNNEL_TTL): number {
  const inner = off + IPIP_OVERHEAD;
  if (innerLength < ipv4.IPV4_MIN_HEADER || buf[inner]! >>> 4 !== 4) throw malformed('inner datagram is not IPv4', inner);
  const innerDf = buf.readUInt16BE(inner + 6) & ipv4.IpFlag.DF;
  ipv4.encode({ tos: buf[inner + 1]!, totalLength: IPIP_OVERHEAD + innerLength, id, fragment: innerDf, ttl, protocol: IpProto.IPIP, src: outerSrc, dst: outerDst, options: new Uint8Array(0) }, buf, off);
  return inner + innerLength;
}

export interface Decapsulated { outer: ipv4.Ipv4Decoded; innerOffset: number; innerEnd: number }

/** Validates an IP-in-IP packet in [off, end); returns the outer header and the inner bounds. */
export function decapsulate(buf: Buffer, off = 0, end = buf.length): Decapsulated {
  const outer = ipv4.decode(buf, off, end);
  if (outer.protocol !== IpProto.IPIP) throw malformed(`outer protocol ${outer.protocol} is not IP-in-IP (4)`, off + 9);
  if ((outer.fragment & (ipv4.IpFlag.MF | 0x1fff)) !== 0) throw malformed('fragmented tunnel packet (reassemble first)', off + 6);
  const inner = ipv4.decode(buf, outer.payloadOffset, outer.end);
  return { outer, innerOffset: outer.payloadOffset, innerEnd: inner.end };
}
