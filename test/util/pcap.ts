/**
 * Test helper: wraps roamd-encoded messages into IPv4 packets and writes them to a classic libpcap
 * file (magic 0xa1b2c3d4, version 2.4, microsecond timestamps) so external dissectors such as
 * tshark can read them. Link type LINKTYPE_RAW (101): each record is a bare IPv4 packet.
 *
 * IPv4 and UDP headers come from src/wire (ipv4-header.ts, udp-header.ts) so their checksums are
 * roamd's own; ICMP agent discovery packets follow RFC 5944 §2.1/§2.2 (protocol 1, TTL 1,
 * destination 224.0.0.1).
 */
import { writeFileSync } from 'node:fs';
import * as ipv4 from '../../src/wire/ipv4-header';
import * as udp from '../../src/wire/udp-header';
import { IpProto, MIP_PORT } from '../../src/wire/constants';

/** Link types from https://www.tcpdump.org/linktypes.html. */
export const LINKTYPE_RAW = 101;
export const LINKTYPE_IPV4 = 228;

const PCAP_MAGIC = 0xa1b2c3d4;
const PCAP_GLOBAL_HEADER = 24;
const PCAP_RECORD_HEADER = 16;
const SNAPLEN = 65535;

/** 224.0.0.1, all-systems multicast: where agent advertisements go (RFC 5944 §2.3.1). */
export const ALL_SYSTEMS = 0xe0000001;

/** A classic libpcap file holding `packets` in order, one second apart from `startSec`. */
export function pcapBytes(packets: readonly Uint8Array[], linktype = LINKTYPE_RAW, startSec = 1_700_000_000): Buffer {
  let size = PCAP_GLOBAL_HEADER;
  for (const p of packets) size += PCAP_RECORD_HEADER + p.length;
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(PCAP_MAGIC, 0);
  buf.writeUInt16LE(2, 4); // version major
  buf.writeUInt16LE(4, 6); // version minor
  buf.writeInt32LE(0, 8); // thiszone
  buf.writeUInt32LE(0, 12); // sigfigs
  buf.writeUInt32LE(SNAPLEN, 16);
  buf.writeUInt32LE(linktype, 20);
  let off = PCAP_GLOBAL_HEADER;
  packets.forEach((p, i) => {
    buf.writeUInt32LE(startSec + i, off);
    buf.writeUInt32LE(0, off + 4);
    buf.writeUInt32LE(p.length, off + 8); // captured length
    buf.writeUInt32LE(p.length, off + 12); // original length
    buf.set(p, off + PCAP_RECORD_HEADER);
    off += PCAP_RECORD_HEADER + p.length;
  });
  return buf;
}

export function writePcap(path: string, packets: readonly Uint8Array[], linktype = LINKTYPE_RAW): void {
  writeFileSync(path, pcapBytes(packets, linktype));
}

export interface IpOptions { src: number; dst: number; ttl?: number; id?: number; tos?: number }

/** An IPv4 packet (no options, header checksum by roamd) around `payload`. */
export function ipv4Packet(protocol: number, payload: Uint8Array, o: IpOptions): Buffer {
  const hl = ipv4.IPV4_MIN_HEADER;
  const buf = Buffer.alloc(hl + payload.length);
  buf.set(payload, hl);
  ipv4.encode({ tos: o.tos ?? 0, totalLength: buf.length, id: o.id ?? 0, fragment: 0, ttl: o.ttl ?? 64, protocol, src: o.src, dst: o.dst, options: new Uint8Array(0) }, buf, 0);
  return buf;
}

export interface UdpOptions extends IpOptions { srcPort?: number; dstPort?: number }

/** An IPv4+UDP packet (ports default to 434, UDP checksum computed by roamd) around `payload`. */
export function udpPacket(payload: Uint8Array, o: UdpOptions): Buffer {
  const dgram = Buffer.alloc(udp.UDP_HEADER_LENGTH + payload.length);
  dgram.set(payload, udp.UDP_HEADER_LENGTH);
  udp.encode({ srcPort: o.srcPort ?? MIP_PORT, dstPort: o.dstPort ?? MIP_PORT, payloadLength: payload.length }, dgram, 0, o.src, o.dst);
  return ipv4Packet(IpProto.UDP, dgram, o);
}

/** An IPv4 packet carrying an ICMP message; agent discovery defaults: TTL 1, to 224.0.0.1. */
export function icmpPacket(icmp: Uint8Array, o: { src: number; dst?: number; ttl?: number; id?: number }): Buffer {
  return ipv4Packet(IpProto.ICMP, icmp, { src: o.src, dst: o.dst ?? ALL_SYSTEMS, ttl: o.ttl ?? 1, id: o.id ?? 0 });
}
