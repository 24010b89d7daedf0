/**
 * Packet helpers of the userspace data plane: IP-in-IP (RFC 2003) and RFC 3519 tunnel data framing
 * around whole IPv4 datagrams, and the few header fields the forwarding decisions need. One copy
 * per packet (into a buffer with room for the outer header); no other allocation.
 */
import * as ipip from '../wire/ip-in-ip';
import { IpProto, MsgType } from '../wire/constants';
import { internetChecksum } from '../wire/checksum';
import * as ipv4 from '../wire/ipv4-header';

let ipId = 1;

/** An IP-in-IP packet: outer header src → dst in front of a copy of `inner`. */
export function encapsulateIpip(inner: Buffer, src: number, dst: number): Buffer {
  const out = Buffer.allocUnsafe(ipip.IPIP_OVERHEAD + inner.length);
  inner.copy(out, ipip.IPIP_OVERHEAD);
  ipId = (ipId + 1) & 0xffff;
  ipip.encapsulate(out, 0, inner.length, src, dst, ipId);
  return out;
}

/** RFC 3519 §3.3 tunnel data: the 4-byte header (type 4, next header 4) then the inner datagram. */
export function tunnelDataFrame(inner: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + inner.length);
  out[0] = MsgType.TUNNEL_DATA;
  out[1] = IpProto.IPIP;
  out.writeUInt16BE(0, 2);
  inner.copy(out, 4);
  return out;
}

/** Minimal IPv4 view: version 4 and a sane header, else null. */
export function ipv4View(b: Buffer): { src: number; dst: number; protocol: number; headerLength: number; totalLength: number } | null {
  if (b.length < 20 || b[0]! >> 4 !== 4) return null;
  const hl = (b[0]! & 15) * 4;
  const total = b.readUInt16BE(2);
  if (hl < 20 || total < hl || total > b.length) return null;
  return { src: b.readUInt32BE(12), dst: b.readUInt32BE(16), protocol: b[9]!, headerLength: hl, totalLength: total };
}

/** The inner datagram of an IP-in-IP packet as a view (no copy), or null if malformed. */
export function decapsulateIpip(b: Buffer): { outerSrc: number; inner: Buffer } | null {
  try {
    const d = ipip.decapsulate(b, 0, b.length);
    return { outerSrc: d.outer.src, inner: b.subarray(d.innerOffset, d.innerEnd) };
  } catch {
    return null;
  }
}

/** An ICMP echo request src → dst (RFC 3519 §4.9 NAT keepalive). */
export function icmpEcho(src: number, dst: number, id: number, seq: number): Buffer {
  const b = Buffer.alloc(28);
  ipv4.encode({ tos: 0, totalLength: 28, id: seq & 0xffff, fragment: 0, ttl: 64, protocol: IpProto.ICMP, src, dst, options: new Uint8Array(0) }, b, 0);
  b[20] = 8;
  b.writeUInt16BE(id & 0xffff, 24);
  b.writeUInt16BE(seq & 0xffff, 26);
  b.writeUInt16BE(internetChecksum(b, 20, 28), 22);
  return b;
}
