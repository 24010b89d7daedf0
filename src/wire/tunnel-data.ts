/**
 * MIP Tunnel Data message (type 4), RFC 3519 §3.3: the 4-byte header in front of a datagram
 * tunnelled through UDP port 434. type 4 | next header | reserved (2).
 */
import { MsgType } from './constants';
import { need, malformed, window, encodeCheck, isU8 } from './bounds';

export const TUNNEL_DATA_HEADER = 4;

export interface TunnelDataHeader { type: 4; nextHeader: number }

export function encode(h: { nextHeader: number }, buf: Buffer, off = 0): number {
  encodeCheck(off + TUNNEL_DATA_HEADER <= buf.length && isU8(h.nextHeader), 'tunnel data header: no room or bad next header');
  buf[off] = MsgType.TUNNEL_DATA;
  buf[off + 1] = h.nextHeader;
  buf.writeUInt16BE(0, off + 2); // reserved, RFC 3519 §3.3
  return off + TUNNEL_DATA_HEADER;
}

export interface TunnelDataDecoded extends TunnelDataHeader { payloadOffset: number; end: number }

/** Decodes the header; the payload is [payloadOffset, end). Reserved is ignored (RFC 3519 §3.3). */
export function decode(buf: Buffer, off = 0, end = buf.length): TunnelDataDecoded {
  window(buf, off, end);
  need(off, TUNNEL_DATA_HEADER, end, 'tunnel data header');
  if (buf[off] !== MsgType.TUNNEL_DATA) throw malformed(`type ${buf[off]} is not tunnel data (4)`, off);
  return { type: 4, nextHeader: buf[off + 1]!, payloadOffset: off + TUNNEL_DATA_HEADER, end };
}
