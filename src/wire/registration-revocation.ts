/**
 * Registration Revocation (type 7), RFC 3543 §3.3: 20 fixed bytes then extensions (an
 * authentication extension, FA-HA in practice).
 *
 *   0: type | reserved | A I reserved (16)   4: home address   8: home domain address
 *   12: foreign domain address   16: revocation identifier   20: extensions
 */
import { MsgType } from './constants';
import { need, malformed, window, encodeCheck, isU16, isU32 } from './bounds';
import { Extension, decodeExtensions, encodeExtensions, extensionsLength } from './extensions';

export const REVOCATION_FIXED_LENGTH = 20;

export interface RegistrationRevocation {
  type: 7;
  /** A = 0x8000 (sent by the home agent side), I = 0x4000 (inform), RFC 3543 §3.3. */
  flags: number;
  homeAddress: number;
  homeDomainAddress: number;
  foreignDomainAddress: number;
  revocationId: number;
  extensions: Extension[];
}

export function encodingLength(m: RegistrationRevocation): number {
  return REVOCATION_FIXED_LENGTH + extensionsLength(m.extensions);
}

export function encode(m: RegistrationRevocation, buf: Buffer, off = 0): number {
  encodeCheck(off + encodingLength(m) <= buf.length, 'registration revocation does not fit in the buffer');
  encodeCheck(isU16(m.flags) && isU32(m.homeAddress) && isU32(m.homeDomainAddress) && isU32(m.foreignDomainAddress) && isU32(m.revocationId), 'registration revocation: field out of range');
  buf[off] = MsgType.REGISTRATION_REVOCATION;
  buf[off + 1] = 0;
  buf.writeUInt16BE(m.flags & 0xc000, off + 2);
  buf.writeUInt32BE(m.homeAddress, off + 4);
  buf.writeUInt32BE(m.homeDomainAddress, off + 8);
  buf.writeUInt32BE(m.foreignDomainAddress, off + 12);
  buf.writeUInt32BE(m.revocationId, off + 16);
  return encodeExtensions(m.extensions, buf, off + REVOCATION_FIXED_LENGTH, off);
}

export function decode(buf: Buffer, off = 0, end = buf.length): RegistrationRevocation {
  window(buf, off, end);
  need(off, REVOCATION_FIXED_LENGTH, end, 'registration revocation');
  if (buf[off] !== MsgType.REGISTRATION_REVOCATION) throw malformed(`type ${buf[off]} is not a registration revocation (7)`, off);
  return {
    type: 7,
    flags: buf.readUInt16BE(off + 2) & 0xc000,
    homeAddress: buf.readUInt32BE(off + 4),
    homeDomainAddress: buf.readUInt32BE(off + 8),
    foreignDomainAddress: buf.readUInt32BE(off + 12),
    revocationId: buf.readUInt32BE(off + 16),
    extensions: decodeExtensions(buf, off + REVOCATION_FIXED_LENGTH, end, off),
  };
}
