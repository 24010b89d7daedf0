/**
 * `roamd decode HEX|-`: decodes a Mobile IP UDP payload, an ICMP agent discovery message, or a
 * whole IPv4 packet carrying either (or IP-in-IP), and prints it as JSON. Operators paste bytes
 * from captures; a malformed input names the offset and the reason and exits non-zero.
 */
import { RoamdError } from '../errors';
import { IpProto, MIP_PORT } from '../wire/constants';
import * as ipv4 from '../wire/ipv4-header';
import * as udp from '../wire/udp-header';
import { decodeMip, decodeIcmp } from '../wire/message';
import { renderMip, renderIcmp } from './render';
import { ipToString } from '../platform/address';

export type DecodeMode = 'auto' | 'udp' | 'icmp' | 'ip';

/** Parses hex text: whitespace, ':' and '-' separators and a leading 0x are allowed. */
export function parseHex(text: string): Buffer {
  const clean = text.trim().replace(/^0x/i, '').replace(/[\s:-]/g, '');
  if (clean.length === 0) throw new RoamdError('ERR_USAGE', 'no bytes given');
  const bad = clean.search(/[^0-9a-fA-F]/);
  if (bad >= 0) throw new RoamdError('ERR_USAGE', `not a hex digit: '${clean[bad]}' at character ${bad}`);
  if (clean.length % 2) throw new RoamdError('ERR_USAGE', `odd number of hex digits (${clean.length})`);
  return Buffer.from(clean, 'hex');
}

export function decodeBytes(buf: Buffer, mode: DecodeMode = 'auto'): Record<string, unknown> {
  if (mode === 'auto') {
    const first = buf[0] ?? 0;
    if (first >> 4 === 4 && (first & 0x0f) >= 5) mode = 'ip';
    else if (first === 9 || first === 10) mode = 'icmp';
    else mode = 'udp';
  }
  if (mode === 'udp') return renderMip(decodeMip(buf));
  if (mode === 'icmp') return renderIcmp(decodeIcmp(buf));
  return decodeIp(buf);
}

function decodeIp(buf: Buffer): Record<string, unknown> {
  const h = ipv4.decode(buf, 0, buf.length);
  const ip = { src: ipToString(h.src), dst: ipToString(h.dst), protocol: h.protocol, ttl: h.ttl, tos: h.tos, id: h.id, totalLength: h.totalLength };
  switch (h.protocol) {
    case IpProto.UDP: {
      const u = udp.decode(buf, h.payloadOffset, h.end, h.src, h.dst);
      const out: Record<string, unknown> = { ip, udp: { srcPort: u.srcPort, dstPort: u.dstPort, length: u.length } };
      if (u.srcPort !== MIP_PORT && u.dstPort !== MIP_PORT) {
        throw new RoamdError('ERR_WIRE_MALFORMED', `UDP ports ${u.srcPort} -> ${u.dstPort}: neither is Mobile IP (434)`, h.payloadOffset);
      }
      out.mip = renderMip(decodeMip(buf, u.payloadOffset, u.end));
      return out;
    }
    case IpProto.ICMP:
      return { ip, icmp: renderIcmp(decodeIcmp(buf, h.payloadOffset, h.end)) };
    case IpProto.IPIP: {
      const inner = ipv4.decode(buf, h.payloadOffset, h.end);
      return { ip, ipip: { src: ipToString(inner.src), dst: ipToString(inner.dst), protocol: inner.protocol, totalLength: inner.totalLength } };
    }
    default:
      throw new RoamdError('ERR_WIRE_MALFORMED', `IP protocol ${h.protocol} is not UDP, ICMP or IP-in-IP`, 9);
  }
}

/** Formats an error for the terminal: offset and reason. */
export function describeError(e: unknown): string {
  if (e instanceof RoamdError) return `${e.code}: ${e.message}`;
  return String(e);
}
