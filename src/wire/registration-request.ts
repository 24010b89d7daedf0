/**
 * Registration Request (type 1), RFC 5944 §3.3: 24 fixed bytes then extensions.
 *
 *   0: type | flags S B D M G r T x | lifetime(2)
 *   4: home address   8: home agent   12: care-of address   16: identification (8)
 *   24: extensions
 */
import { MsgType } from './constants';
import { need, malformed, window, encodeCheck, isU8, isU16, isU32 } from './bounds';
import { Extension, decodeExtensions, encodeExtensions, extensionsLength } from './extensions';

export const REQUEST_FIXED_LENGTH = 24;

export interface RegistrationRequest {
  type: 1;
  /** S B D M G r T x as bits 0x80..0x01 (RegFlag). */
  flags: number;
  /** Seconds; 0 deregisters, 0xffff is infinity (RFC 5944 §3.3). */
  lifetime: number;
  homeAddress: number;
  homeAgent: number;
  careOfAddress: number;
  /** Identification, high and low 32 bits (RFC 5944 §5.7). */
  idHigh: number;
  idLow: number;
  extensions: Extension[];
}

export function encodingLength(m: RegistrationRequest): number {
  return REQUEST_FIXED_LENGTH + extensionsLength(m.extensions);
}

/**
 * Writes the request at `off` and returns the offset after it. Sets each extension's `offset`
 * (relative to the message) so authenticators can be computed over the written bytes.
 */
export function encode(m: RegistrationRequest, buf: Buffer, off = 0): number {
  encodeCheck(off + encodingLength(m) <= buf.length, 'registration request does not fit in the buffer');
  encodeCheck(isU8(m.flags) && isU16(m.lifetime) && isU32(m.homeAddress) && isU32(m.homeAgent) && isU32(m.careOfAddress) && isU32(m.idHigh) && isU32(m.idLow), 'registration request: field out of range');
  buf[off] = MsgType.REGISTRATION_REQUEST;
  buf[off + 1] = m.flags;
  buf.writeUInt16BE(m.lifetime, off + 2);
  buf.writeUInt32BE(m.homeAddress, off + 4);
  buf.writeUInt32BE(m.homeAgent, off + 8);
  buf.writeUInt32BE(m.careOfAddress, off + 12);
  buf.writeUInt32BE(m.idHigh, off + 16);
  buf.writeUInt32BE(m.idLow, off + 20);
  return encodeExtensions(m.extensions, buf, off + REQUEST_FIXED_LENGTH, off);
}

/** Decodes a request occupying exactly [off, end). */
export function decode(buf: Buffer, off = 0, end = buf.length): RegistrationRequest {
  window(buf, off, end);
  need(off, REQUEST_FIXED_LENGTH, end, 'registration request');
  if (buf[off] !== MsgType.REGISTRATION_REQUEST) throw malformed(`type ${buf[off]} is not a registration request (1)`, off);
  return {
    type: 1,
    flags: buf[off + 1]!,
    lifetime: buf.readUInt16BE(off + 2),
    homeAddress: buf.readUInt32BE(off + 4),
    homeAgent: buf.readUInt32BE(off + 8),
    careOfAddress: buf.readUInt32BE(off + 12),
    idHigh: buf.readUInt32BE(off + 16),
    idLow: buf.readUInt32BE(off + 20),
    extensions: decodeExtensions(buf, off + REQUEST_FIXED_LENGTH, end, off),
  };
}
