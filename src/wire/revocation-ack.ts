/**
 * Registration Revocation Acknowledgement (type 15), RFC 3543 §3.4: 12 fixed bytes then
 * extensions (authentication).
 *
 *   0: type | reserved | I reserved (16)   4: home address   8: revocation identifier   12: ext
 */
import { MsgType } from './constants';
import { need, malformed, window, encodeCheck, isU16, isU32 } from './bounds';
import { Extension, decodeExtensions, encodeExtensions, extensionsLength } from './extensions';

export const REVOCATION_ACK_FIXED_LENGTH = 12;

export interface RevocationAck {
  type: 15;
  /** I = 0x8000, RFC 3543 §3.4. */
  flags: number;
  homeAddress: number;
  revocationId: number;
  extensions: Extension[];
}

export function encodingLength(m: RevocationAck): number {
  return REVOCATION_ACK_FIXED_LENGTH + extensionsLength(m.extensions);
}

export function encode(m: RevocationAck, buf: Buffer, off = 0): number {
  encodeCheck(off + encodingLength(m) <= buf.length, 'revocation acknowledgement does not fit in the buffer');
  encodeCheck(isU16(m.flags) && isU32(m.homeAddress) && isU32(m.revocationId), 'revocation acknowledgement: field out of range');
  buf[off] = MsgType.REVOCATION_ACK;
  buf[off + 1] = 0;
  buf.writeUInt16BE(m.flags & 0x8000, off + 2);
  buf.writeUInt32BE(m.homeAddress, off + 4);
  buf.writeUInt32BE(m.revocationId, off + 8);
  return encodeExtensions(m.extensions, buf, off + REVOCATION_ACK_FIXED_LENGTH, off);
}

export function decode(buf: Buffer, off = 0, end = buf.length): RevocationAck {
  window(buf, off, end);
  need(off, REVOCATION_ACK_FIXED_LENGTH, end, 'revocation acknowledgement');
  if (buf[off] !== MsgType.REVOCATION_ACK) throw malformed(`type ${buf[off]} is not a revocation acknowledgement (15)`, off);
  return {
    type: 15,
    flags: buf.readUInt16BE(off + 2) & 0x8000,
    homeAddress: buf.readUInt32BE(off + 4),
    revocationId: buf.readUInt32BE(off + 8),
    extensions: decodeExtensions(buf, off + REVOCATION_ACK_FIXED_LENGTH, end, off),
  };
}
