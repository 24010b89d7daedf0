/**
 * IPv4 header (RFC 791 §3.1) with its checksum. Options are kept as raw bytes so a round trip
 * loses nothing. Used for raw ICMP/IP-in-IP sockets and for the inner packet of tunnels.
 *
 *   0: version/IHL | TOS | total length   4: identification | flags/fragment offset
 *   8: TTL | protocol | header checksum   12: source   16: destination   20: options
 */
import { RoamdError } from '../errors';
import { need, malformed, window, encodeCheck, isU8, isU16, isU32 } from './bounds';
import { internetChecksum } from './checksum';

export const IPV4_MIN_HEADER = 20;
/** Flags in the 16-bit flags/fragment-offset word, RFC 791 §3.1. */
export enum IpFlag { DF = 0x4000, MF = 0x2000 }

export interface Ipv4Header {
  tos: number;
  /** Length of header plus payload. */
  totalLength: number;
  id: number;
  /** Flags and fragment offset as the 16-bit word (IpFlag.DF, IpFlag.MF, offset in 8-byte units). */
  fragment: number;
  ttl: number;
  protocol: number;
  src: number;
  dst: number;
  options: Uint8Array;
}

export function headerLength(h: Ipv4Header): number {
  return IPV4_MIN_HEADER + h.options.length;
}

/** Writes the header (checksum computed) at `off`; returns the offset of the payload. */
export function encode(h: Ipv4Header, buf: Buffer, off = 0): number {
  const hl = headerLength(h);
  encodeCheck(h.options.length % 4 === 0 && hl <= 60, 'IPv4 options must be a multiple of 4 bytes, header <= 60');
  encodeCheck(off + hl <= buf.length, 'IPv4 header does not fit in the buffer');
  encodeCheck(isU8(h.tos) && isU16(h.totalLength) && h.totalLength >= hl && isU16(h.id) && isU16(h.fragment) && isU8(h.ttl) && isU8(h.protocol) && isU32(h.src) && isU32(h.dst), 'IPv4 header: field out of range');
  buf[off] = 0x40 | (hl >>> 2);
  buf[off + 1] = h.tos;
  buf.writeUInt16BE(h.totalLength, off + 2);
  buf.writeUInt16BE(h.id, off + 4);
  buf.writeUInt16BE(h.fragment, off + 6);
  buf[off + 8] = h.ttl;
  buf[off + 9] = h.protocol;
  buf.writeUInt16BE(0, off + 10);
  buf.writeUInt32BE(h.src, off + 12);
  buf.writeUInt32BE(h.dst, off + 16);
  buf.set(h.options, off + 20);
  buf.writeUInt16BE(internetChecksum(buf, off, off + hl), off + 10);
  return off + hl;
}

export interface Ipv4Decoded extends Ipv4Header {
  /** Offset of the payload in the decoded buffer, and the end of the packet (from total length). */
  payloadOffset: number;
  end: number;
}

/**
 * Decodes the header of a packet starting at `off`. Validates version, IHL, total length against
 * `end` (trailing link-layer padding beyond total length is allowed) and, unless disabled, the
 * header checksum.
 */
export function decode(buf: Buffer, off = 0, end = buf.length, opts: { verifyChecksum?: boolean } = {}): Ipv4Decoded {
  window(buf, off, end);
  need(off, IPV4_MIN_HEADER, end, 'IPv4 header');
  const v = buf[off]! >>> 4, ihl = (buf[off]! & 0x0f) * 4;
  if (v !== 4) throw malformed(`IP version ${v} is not 4`, off);
  if (ihl < IPV4_MIN_HEADER) throw malformed(`IPv4 header length ${ihl} < 20`, off);
  need(off, ihl, end, 'IPv4 header with options');
  const totalLength = buf.readUInt16BE(off + 2);
  if (totalLength < ihl) throw malformed(`IPv4 total length ${totalLength} < header length ${ihl}`, off + 2);
  need(off, totalLength, end, 'IPv4 packet (total length)');
  if (opts.verifyChecksum !== false && internetChecksum(buf, off, off + ihl) !== 0) {
    throw new RoamdError('ERR_WIRE_CHECKSUM', 'IPv4 header checksum does not match', off + 10);
  }
  return {
    tos: buf[off + 1]!,
    totalLength,
    id: buf.readUInt16BE(off + 4),
    fragment: buf.readUInt16BE(off + 6),
    ttl: buf[off + 8]!,
    protocol: buf[off + 9]!,
    src: buf.readUInt32BE(off + 12),
    dst: buf.readUInt32BE(off + 16),
    options: new Uint8Array(buf.subarray(off + 20, off + ihl)),
    payloadOffset: off + ihl,
    end: off + totalLength,
  };
}
