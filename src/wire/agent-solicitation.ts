/**
 * Agent Solicitation: an ICMP Router Solicitation (type 10, code 0, RFC 1256 §3) sent with IP
 * TTL 1 (RFC 5944 §2.2). 8 bytes: type | code | checksum | reserved (4).
 */
import { IcmpType } from './constants';
import { RoamdError } from '../errors';
import { need, malformed, window, encodeCheck } from './bounds';
import { internetChecksum } from './checksum';

export const SOLICITATION_LENGTH = 8;

export interface AgentSolicitation { type: 10; code: number }

export function encodingLength(_m: AgentSolicitation): number {
  return SOLICITATION_LENGTH;
}

export function encode(m: AgentSolicitation, buf: Buffer, off = 0): number {
  encodeCheck(off + SOLICITATION_LENGTH <= buf.length, 'agent solicitation does not fit in the buffer');
  buf[off] = IcmpType.ROUTER_SOLICITATION;
  buf[off + 1] = m.code & 0xff;
  buf.writeUInt16BE(0, off + 2);
  buf.writeUInt32BE(0, off + 4);
  buf.writeUInt16BE(internetChecksum(buf, off, off + SOLICITATION_LENGTH), off + 2);
  return off + SOLICITATION_LENGTH;
}

/** Decodes a solicitation in [off, end); RFC 1256 §5.2 requires ICMP length >= 8 and code 0. */
export function decode(buf: Buffer, off = 0, end = buf.length, opts: { verifyChecksum?: boolean } = {}): AgentSolicitation {
  window(buf, off, end);
  need(off, SOLICITATION_LENGTH, end, 'router solicitation');
  if (buf[off] !== IcmpType.ROUTER_SOLICITATION) throw malformed(`ICMP type ${buf[off]} is not a router solicitation (10)`, off);
  if (buf[off + 1] !== 0) throw malformed(`router solicitation code ${buf[off + 1]} is not 0 (RFC 1256 §5.2)`, off + 1);
  if (opts.verifyChecksum !== false && internetChecksum(buf, off, end) !== 0) {
    throw new RoamdError('ERR_WIRE_CHECKSUM', 'ICMP checksum does not match', off + 2);
  }
  return { type: 10, code: 0 };
}
