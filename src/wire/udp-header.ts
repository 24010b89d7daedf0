/**
 * UDP header (RFC 768): source port | destination port | length | checksum, with the checksum over
 * the IPv4 pseudo-header. A zero checksum means "not computed" (RFC 768); a computed zero is sent
 * as 0xffff.
 */
import { RoamdError } from '../errors';
import { need, malformed, window, encodeCheck, isU16 } from './bounds';
import { IpProto } from './constants';
import { internetChecksum, pseudoHeaderSum } from './checksum';

export const UDP_HEADER_LENGTH = 8;

export interface UdpHeader { srcPort: number; dstPort: number; length: number; checksum: number }

/**
 * Writes a UDP header at `off` for a payload already in place after it; computes the checksum
 * when src and dst are given (otherwise sends zero).
 */
export function encode(h: { srcPort: number; dstPort: number; payloadLength: number }, buf: Buffer, off: number, src?: number, dst?: number): number {
  const length = UDP_HEADER_LENGTH + h.payloadLength;
  encodeCheck(isU16(h.srcPort) && isU16(h.dstPort) && isU16(length), 'UDP header: field out of range');
  encodeCheck(off + length <= buf.length, 'UDP datagram does not fit in the buffer');
  buf.writeUInt16BE(h.srcPort, off);
  buf.writeUInt16BE(h.dstPort, off + 2);
  buf.writeUInt16BE(length, off + 4);
  buf.writeUInt16BE(0, off + 6);
  if (src !== undefined && dst !== undefined) {
    const c = internetChecksum(buf, off, off + length, pseudoHeaderSum(src, dst, IpProto.UDP, length));
    buf.writeUInt16BE(c === 0 ? 0xffff : c, off + 6);
  }
  return off + UDP_HEADER_LENGTH;
}

export interface UdpDecoded extends UdpHeader { payloadOffset: number; end: number }

/** Decodes a UDP header at `off`; verifies the checksum when src/dst are given and it is nonzero. */
export function decode(buf: Buffer, off: number, end: number, src?: number, dst?: number): UdpDecoded {
  window(buf, off, end);
  need(off, UDP_HEADER_LENGTH, end, 'UDP header');
  const length = buf.readUInt16BE(off + 4);
  if (length < UDP_HEADER_LENGTH) throw malformed(`UDP length ${length} < 8`, off + 4);
  need(off, length, end, 'UDP datagram (length field)');
  const checksum = buf.readUInt16BE(off + 6);
  if (checksum !== 0 && src !== undefined && dst !== undefined) {
    if (internetChecksum(buf, off, off + length, pseudoHeaderSum(src, dst, IpProto.UDP, length)) !== 0) {
      throw new RoamdError('ERR_WIRE_CHECKSUM', 'UDP checksum does not match', off + 6);
    }
  }
  return { srcPort: buf.readUInt16BE(off), dstPort: buf.readUInt16BE(off + 2), length, checksum, payloadOffset: off + UDP_HEADER_LENGTH, end: off + length };
}
