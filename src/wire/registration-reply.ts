/**
 * Registration Reply (type 3), RFC 5944 §3.4: 20 fixed bytes then extensions.
 *
 *   0: type | code | lifetime(2)   4: home address   8: home agent   12: identification (8)
 *   20: extensions
 */
import { MsgType } from './constants';
import { need, malformed, window, encodeCheck, isU8, isU16, isU32 } from './bounds';
import { Extension, decodeExtensions, encodeExtensions, extensionsLength } from './extensions';

export const REPLY_FIXED_LENGTH = 20;

export interface RegistrationReply {
  type: 3;
  code: number;
  lifetime: number;
  homeAddress: number;
  homeAgent: number;
  idHigh: number;
  idLow: number;
  extensions: Extension[];
}

export function encodingLength(m: RegistrationReply): number {
  return REPLY_FIXED_LENGTH + extensionsLength(m.extensions);
}

/** Writes the reply at `off`, sets each extension's `offset`, returns the offset after it. */
export function encode(m: RegistrationReply, buf: Buffer, off = 0): number {
  encodeCheck(off + encodingLength(m) <= buf.length, 'registration reply does not fit in the buffer');
  encodeCheck(isU8(m.code) && isU16(m.lifetime) && isU32(m.homeAddress) && isU32(m.homeAgent) && isU32(m.idHigh) && isU32(m.idLow), 'registration reply: field out of range');
  buf[off] = MsgType.REGISTRATION_REPLY;
  buf[off + 1] = m.code;
  buf.writeUInt16BE(m.lifetime, off + 2);
  buf.writeUInt32BE(m.homeAddress, off + 4);
  buf.writeUInt32BE(m.homeAgent, off + 8);
  buf.writeUInt32BE(m.idHigh, off + 12);
  buf.writeUInt32BE(m.idLow, off + 16);
  return encodeExtensions(m.extensions, buf, off + REPLY_FIXED_LENGTH, off);
}

export function decode(buf: Buffer, off = 0, end = buf.length): RegistrationReply {
  window(buf, off, end);
  need(off, REPLY_FIXED_LENGTH, end, 'registration reply');
  if (buf[off] !== MsgType.REGISTRATION_REPLY) throw malformed(`type ${buf[off]} is not a registration reply (3)`, off);
  return {
    type: 3,
    code: buf[off + 1]!,
    lifetime: buf.readUInt16BE(off + 2),
    homeAddress: buf.readUInt32BE(off + 4),
    homeAgent: buf.readUInt32BE(off + 8),
    idHigh: buf.readUInt32BE(off + 12),
    idLow: buf.readUInt32BE(off + 16),
    extensions: decodeExtensions(buf, off + REPLY_FIXED_LENGTH, end, off),
  };
}
