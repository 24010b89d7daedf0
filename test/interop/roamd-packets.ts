/**
 * Packets encoded by roamd (src/wire) for the tshark interop test: every Mobile IPv4 message and
 * every extension roamd sends, wrapped in IPv4/UDP or IPv4/ICMP by test/util/pcap.ts. MN-HA
 * authenticators are real HMAC-MD5 values filled in by src/auth sign().
 */
import * as wire from '../../src/wire';
import type { Extension, AuthExt, GenAuthExt } from '../../src/wire/extensions';
import { SecurityAssociation } from '../../src/auth/security-association';
import { sign, placeholder } from '../../src/auth/authenticator';
import { RegFlag, AdvFlag, Ext, ReplyCode, IpProto, ADV_CODE_MOBILITY_ONLY } from '../../src/wire/constants';
import { udpPacket, icmpPacket } from '../util/pcap';
import { ip } from './tools';

export const MN = ip('192.0.2.10');
export const HOME = ip('10.1.0.5');
export const HA = ip('10.1.0.1');
export const FA = ip('198.51.100.1');
export const COA = ip('198.51.100.1');
export const SPI = 0x1234;
export const KEY = Buffer.from('roamd interop mn-ha key');
export const sa = new SecurityAssociation({ spi: SPI, algorithm: 'hmac-md5', key: KEY });

export interface RoamdPacket {
  name: string;
  packet: Buffer;
  /** Mobile IP payload (UDP payload) or ICMP message, as roamd encoded it. */
  message: Buffer;
}

/** Encodes a registration-class message, then signs every auth extension whose SPI is ours. */
function encodeSigned(encode: (buf: Buffer) => number, length: number, exts: Extension[]): Buffer {
  const buf = Buffer.alloc(length);
  const end = encode(buf);
  if (end !== length) throw new Error(`encoded ${end} bytes, encodingLength said ${length}`);
  for (const e of exts) {
    if ((e.kind === 'auth' || e.kind === 'gen-auth') && e.spi === SPI) sign(sa, buf, 0, e as AuthExt | GenAuthExt);
  }
  return buf;
}

export function mnHa(): AuthExt {
  return { kind: 'auth', type: Ext.MN_HA_AUTH, spi: SPI, authenticator: placeholder(sa) };
}

export function request(m: Omit<wire.RegistrationRequest, 'type'>): Buffer {
  const msg: wire.RegistrationRequest = { type: 1, ...m };
  return encodeSigned((b) => wire.request.encode(msg, b, 0), wire.request.encodingLength(msg), msg.extensions);
}

export function reply(m: Omit<wire.RegistrationReply, 'type'>): Buffer {
  const msg: wire.RegistrationReply = { type: 3, ...m };
  return encodeSigned((b) => wire.reply.encode(msg, b, 0), wire.reply.encodingLength(msg), msg.extensions);
}

export function revocation(m: Omit<wire.RegistrationRevocation, 'type'>): Buffer {
  const msg: wire.RegistrationRevocation = { type: 7, ...m };
  return encodeSigned((b) => wire.revocation.encode(msg, b, 0), wire.revocation.encodingLength(msg), msg.extensions);
}

export function revocationAck(m: Omit<wire.RevocationAck, 'type'>): Buffer {
  const msg: wire.RevocationAck = { type: 15, ...m };
  return encodeSigned((b) => wire.revocationAck.encode(msg, b, 0), wire.revocationAck.encodingLength(msg), msg.extensions);
}

export function advertisement(m: Omit<wire.AgentAdvertisement, 'type'>): Buffer {
  const msg: wire.AgentAdvertisement = { type: 9, ...m };
  const buf = Buffer.alloc(wire.advertisement.encodingLength(msg));
  wire.advertisement.encode(msg, buf, 0);
  return buf;
}

/** Tunnel data message (RFC 3519 §3.3) carrying `inner`. */
export function tunnelData(inner: Buffer, nextHeader = IpProto.IPIP): Buffer {
  const buf = Buffer.alloc(wire.tunnelData.TUNNEL_DATA_HEADER + inner.length);
  const p = wire.tunnelData.encode({ nextHeader }, buf, 0);
  buf.set(inner, p);
  return buf;
}

const ID_HIGH = 0xe9a1b2c3; // NTP seconds in 2024
const ID_LOW = 0x01020304;
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

/** Inner packet of the tunnel data vector: a small UDP datagram from the home address. */
export const INNER = udpPacket(Buffer.from('hello from the mobile node'), { src: HOME, dst: ip('203.0.113.7'), srcPort: 40000, dstPort: 7, ttl: 63, id: 0x4242 });

export function roamdPackets(): RoamdPacket[] {
  const up = (name: string, message: Buffer, src = MN, dst = HA): RoamdPacket => ({ name, message, packet: udpPacket(message, { src, dst, id: 1 }) });
  const icmp = (name: string, message: Buffer): RoamdPacket => ({ name, message, packet: icmpPacket(message, { src: FA }) });
  const reqBase = { lifetime: 1800, homeAddress: HOME, homeAgent: HA, careOfAddress: COA, idHigh: ID_HIGH, idLow: ID_LOW };
  return [
    up('01 request S B D T, MN-HA HMAC-MD5', request({ ...reqBase, flags: RegFlag.S | RegFlag.B | RegFlag.D | RegFlag.T, extensions: [mnHa()] })),
    up('02 request M G, lifetime 0 (deregistration), NAI + MN-HA', request({ ...reqBase, flags: RegFlag.M | RegFlag.G, lifetime: 0, extensions: [{ kind: 'nai', nai: 'alice@example.org' }, mnHa()] })),
    up('03 request NAI, UDP tunnel request, revocation support, MN-HA', request({
      ...reqBase, flags: RegFlag.T, lifetime: 0xffff, homeAddress: 0,
      extensions: [
        { kind: 'nai', nai: 'mn1@roamd.test' },
        { kind: 'udp-tunnel-request', subtype: 0, flags: 0x80 | 0x40, encapsulation: 4 },
        { kind: 'revocation-support', flags: 0x8000, timestamp: 0x65432100 },
        mnHa(),
      ],
    })),
    up('04 request NVSE, CVSE, dynamic HA, MN-HA', request({
      ...reqBase, flags: RegFlag.S,
      extensions: [
        { kind: 'nvse', vendorId: 311, vendorType: 7, value: bytes(0xde, 0xad, 0xbe, 0xef) },
        { kind: 'cvse', vendorId: 0x00000009, vendorType: 0x0102, value: bytes(1, 2, 3) },
        { kind: 'dynamic-ha', subtype: 1, haAddress: ip('10.1.0.2') },
        mnHa(),
      ],
    })),
    up('05 request message string, encapsulating delivery, MN-HA, challenge, generalized auth', request({
      ...reqBase, flags: RegFlag.T,
      extensions: [
        { kind: 'message-string', subtype: 1, text: 'welcome home' },
        { kind: 'encap-delivery' },
        mnHa(),
        { kind: 'challenge', challenge: bytes(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88) },
        { kind: 'gen-auth', subtype: 1, spi: 0x5678, authenticator: new Uint8Array(16).fill(0xab) },
      ],
    })),
    up('06 reply 0 accepted, UDP tunnel reply, MN-HA', reply({
      code: ReplyCode.ACCEPTED, lifetime: 1800, homeAddress: HOME, homeAgent: HA, idHigh: ID_HIGH, idLow: ID_LOW,
      extensions: [{ kind: 'udp-tunnel-reply', subtype: 0, code: 0, flags: 0x8000, keepalive: 110 }, mnHa()],
    }), HA, COA),
    up('07 reply 133 identification mismatch, MN-HA', reply({
      code: ReplyCode.HA_ID_MISMATCH, lifetime: 0, homeAddress: HOME, homeAgent: HA, idHigh: 0xe9a1b2d0, idLow: ID_LOW, extensions: [mnHa()],
    }), HA, COA),
    up('08 reply 69 lifetime too long (from FA), message string', reply({
      code: ReplyCode.FA_LIFETIME_TOO_LONG, lifetime: 600, homeAddress: HOME, homeAgent: HA, idHigh: ID_HIGH, idLow: ID_LOW,
      extensions: [{ kind: 'message-string', subtype: 2, text: 'max 600 s' }],
    }), FA, MN),
    up('09 reply 143 redirect, dynamic HA redirected, MN-HA', reply({
      code: ReplyCode.HA_REDIRECT, lifetime: 0, homeAddress: HOME, homeAgent: HA, idHigh: ID_HIGH, idLow: ID_LOW,
      extensions: [{ kind: 'dynamic-ha', subtype: 2, haAddress: ip('10.1.0.3') }, mnHa()],
    }), HA, COA),
    up('10 tunnel data carrying IPv4/UDP', tunnelData(INNER), HA, COA),
    up('11 registration revocation A I, FA-HA auth', revocation({
      flags: 0x8000 | 0x4000, homeAddress: HOME, homeDomainAddress: HA, foreignDomainAddress: FA, revocationId: 0x01020304,
      extensions: [{ kind: 'auth', type: Ext.FA_HA_AUTH, spi: SPI, authenticator: placeholder(sa) }],
    }), HA, FA),
    up('12 revocation acknowledgement I, FA-HA auth', revocationAck({
      flags: 0x8000, homeAddress: HOME, revocationId: 0x01020304,
      extensions: [{ kind: 'auth', type: Ext.FA_HA_AUTH, spi: SPI, authenticator: placeholder(sa) }],
    }), FA, HA),
    up('13 request TNC, unknown skippable 200, MN-HA, MN-FA auth', request({
      ...reqBase, flags: 0,
      extensions: [
        { kind: 'tnc', subtype: 1 },
        { kind: 'unknown', type: 200, data: bytes(0xca, 0xfe, 0xba, 0xbe, 0x01) },
        mnHa(),
        { kind: 'auth', type: Ext.MN_FA_AUTH, spi: 0x9abc, authenticator: new Uint8Array(16).fill(0x5a) },
      ],
    })),
    icmp('14 agent advertisement R B F T U X, 2 CoAs, prefix lengths, padding', advertisement({
      code: 0, lifetime: 1800,
      routers: [{ address: FA, preference: 0 }],
      extensions: [
        { kind: 'mobility-agent', sequence: 7, registrationLifetime: 600, flags: AdvFlag.R | AdvFlag.B | AdvFlag.F | AdvFlag.T | AdvFlag.U | AdvFlag.X, careOfAddresses: [COA, ip('198.51.100.2')] },
        { kind: 'prefix-lengths', prefixLengths: [24] },
        { kind: 'pad' },
      ],
    })),
    icmp('15 agent advertisement code 16 H F M G, no routers, odd length', advertisement({
      code: ADV_CODE_MOBILITY_ONLY, lifetime: 900, routers: [],
      // 8 + 10 + 3 = 21 bytes: an odd-length ICMP checksum.
      extensions: [
        { kind: 'mobility-agent', sequence: 0xffff, registrationLifetime: 0xffff, flags: AdvFlag.H | AdvFlag.F | AdvFlag.M | AdvFlag.G, careOfAddresses: [COA] },
        { kind: 'prefix-lengths', prefixLengths: [16] },
      ],
    })),
    icmp('16 agent solicitation', ((): Buffer => { const b = Buffer.alloc(8); wire.solicitation.encode({ type: 10, code: 0 }, b, 0); return b; })()),
    { name: '17 IP-in-IP (RFC 2003) carrying IPv4/UDP', message: INNER, packet: ipipPacket() },
  ];
}

/** IP-in-IP (RFC 2003) packet built with src/wire/ip-in-ip.ts around INNER. */
export function ipipPacket(): Buffer {
  const buf = Buffer.alloc(wire.ipip.IPIP_OVERHEAD + INNER.length);
  buf.set(INNER, wire.ipip.IPIP_OVERHEAD);
  wire.ipip.encapsulate(buf, 0, INNER.length, HA, COA, 9);
  return buf;
}
