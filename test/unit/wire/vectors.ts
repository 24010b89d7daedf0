/**
 * Golden packets built from the RFC field diagrams, field by field, with the decoded value each
 * must give. Shared by the round-trip, truncation and offset tests.
 */
import { hx, ip } from '../../util/hex';
import * as request from '../../../src/wire/registration-request';
import * as reply from '../../../src/wire/registration-reply';
import * as revocation from '../../../src/wire/registration-revocation';
import * as revocationAck from '../../../src/wire/revocation-ack';
import * as advertisement from '../../../src/wire/agent-advertisement';
import * as solicitation from '../../../src/wire/agent-solicitation';
import * as tunnelData from '../../../src/wire/tunnel-data';

export interface Codec<T> {
  encodingLength(m: T): number;
  encode(m: T, buf: Buffer, off?: number): number;
  decode(buf: Buffer, off?: number, end?: number): T;
}

export interface Vector<T = any> {
  name: string;
  codec: Codec<T>;
  bytes: Buffer;
  value: T;
  /** Prefix lengths that are themselves valid messages (extension boundaries). */
  validPrefixes?: number[];
}

const u8 = (h: string) => new Uint8Array(hx(h));

export const VECTORS: Vector[] = [
  {
    name: 'registration request, no extensions (RFC 5944 §3.3)',
    codec: request,
    bytes: hx(`01 # type 1
      92     # S=1 B=0 D=0 M=1 G=0 r=0 T=1 x=0
      0708   # lifetime 1800
      0a010032 0a010001 c0a80002 # home 10.1.0.50, HA 10.1.0.1, CoA 192.168.0.2
      e8a1b2c3 00000001 # identification`),
    value: { type: 1, flags: 0x92, lifetime: 1800, homeAddress: ip('10.1.0.50'), homeAgent: ip('10.1.0.1'), careOfAddress: ip('192.168.0.2'), idHigh: 0xe8a1b2c3, idLow: 1, extensions: [] },
  },
  {
    name: 'registration request with NAI, UDP tunnel request, revocation support, MN-HA auth, MN-FA challenge, MN-FA auth',
    codec: request,
    bytes: hx(`01 22 00b4 00000000 0a010001 c0a80002 e8a1b2c3 00000002
      83 12 616c69636540636f72702e6578616d706c65 # 131 NAI 'alice@corp.example' (RFC 2794 §2)
      90 06 00 00 80 04 0000                     # 144 UDP tunnel request F=1 encap 4 (RFC 3519 §3.1)
      89 06 8000 5f5e1000                        # 137 revocation support I=1 ts (RFC 3543 §3.3)
      20 14 00000100 00112233445566778899aabbccddeeff # 32 MN-HA auth SPI 256 (RFC 5944 §3.5.2)
      84 04 deadbeef                             # 132 MN-FA challenge (RFC 4721 §3.1)
      21 14 00000101 ffeeddccbbaa99887766554433221100 # 33 MN-FA auth SPI 257`),
    value: {
      type: 1, flags: 0x22, lifetime: 180, homeAddress: 0, homeAgent: ip('10.1.0.1'), careOfAddress: ip('192.168.0.2'), idHigh: 0xe8a1b2c3, idLow: 2,
      extensions: [
        { kind: 'nai', offset: 24, nai: 'alice@corp.example' },
        { kind: 'udp-tunnel-request', offset: 44, subtype: 0, flags: 0x80, encapsulation: 4 },
        { kind: 'revocation-support', offset: 52, flags: 0x8000, timestamp: 0x5f5e1000 },
        { kind: 'auth', offset: 60, type: 32, spi: 256, authenticator: u8('00112233445566778899aabbccddeeff') },
        { kind: 'challenge', offset: 82, challenge: u8('deadbeef') },
        { kind: 'auth', offset: 88, type: 33, spi: 257, authenticator: u8('ffeeddccbbaa99887766554433221100') },
      ],
    },
    validPrefixes: [24, 44, 52, 60, 82, 88],
  },
  {
    name: 'registration request with vendor, dynamic HA, message string, delivery style, TNC, padding, generalized auth',
    codec: request,
    bytes: hx(`01 00 0e10 0a010032 0a010001 0a020003 00000000 00000003
      26 00 0009 00000137 0001 abcdef  # 38 CVSE vendor 311 type 1 value (RFC 3115 §3.1)
      86 0b 0000 00000137 0002 cafe 01 # 134 NVSE vendor 311 type 2 value (RFC 3115 §3.2)
      8b 05 01 0a010001                # 139 dynamic HA, requested HA 10.1.0.1 (RFC 4433 §3.4)
      91 03 02 6869                    # 145 message string from FA 'hi' (RFC 4917)
      82 00                            # 130 encapsulating delivery style (RFC 3024 §3.3)
      95 02 00 00                      # 149 TNC (RFC 5265 §3.4)
      00                               # one-byte padding
      24 01 0014 00000100 0102030405060708090a0b0c0d0e0f10 # 36 generalized auth MN-AAA (RFC 4721 §5)`),
    value: {
      type: 1, flags: 0, lifetime: 3600, homeAddress: ip('10.1.0.50'), homeAgent: ip('10.1.0.1'), careOfAddress: ip('10.2.0.3'), idHigh: 0, idLow: 3,
      extensions: [
        { kind: 'cvse', offset: 24, vendorId: 311, vendorType: 1, value: u8('abcdef') },
        { kind: 'nvse', offset: 37, vendorId: 311, vendorType: 2, value: u8('cafe01') },
        { kind: 'dynamic-ha', offset: 50, subtype: 1, haAddress: ip('10.1.0.1') },
        { kind: 'message-string', offset: 57, subtype: 2, text: 'hi' },
        { kind: 'encap-delivery', offset: 62 },
        { kind: 'tnc', offset: 64, subtype: 0 },
        { kind: 'pad', offset: 68 },
        { kind: 'gen-auth', offset: 69, subtype: 1, spi: 256, authenticator: u8('0102030405060708090a0b0c0d0e0f10') },
      ],
    },
    validPrefixes: [24, 37, 50, 57, 62, 64, 68, 69],
  },
  {
    name: 'registration request keeps an unknown skippable extension byte for byte',
    codec: request,
    bytes: hx(`01 00 0001 0a010032 0a010001 0a020003 00000000 00000004
      c8 03 010203   # 200: unknown, skippable
      90 06 00 00 80 04 0001 # 144 with Reserved 3 != 0: "not understood", kept raw (RFC 3519 §3.1.3)`),
    value: {
      type: 1, flags: 0, lifetime: 1, homeAddress: ip('10.1.0.50'), homeAgent: ip('10.1.0.1'), careOfAddress: ip('10.2.0.3'), idHigh: 0, idLow: 4,
      extensions: [
        { kind: 'unknown', offset: 24, type: 200, data: u8('010203') },
        { kind: 'unknown', offset: 29, type: 144, data: u8('000080040001') },
      ],
    },
    validPrefixes: [24, 29],
  },
  {
    name: 'registration reply 133 with UDP tunnel reply and MN-HA auth (RFC 5944 §3.4)',
    codec: reply,
    bytes: hx(`03 85 0000 0a010032 0a010001 e8a1b2cf 00000002
      2c 06 00 00 8000 001e   # 44 UDP tunnel reply: will tunnel, F, keepalive 30 s (RFC 3519 §3.2)
      20 14 00000100 0f0e0d0c0b0a09080706050403020100`),
    value: {
      type: 3, code: 133, lifetime: 0, homeAddress: ip('10.1.0.50'), homeAgent: ip('10.1.0.1'), idHigh: 0xe8a1b2cf, idLow: 2,
      extensions: [
        { kind: 'udp-tunnel-reply', offset: 20, subtype: 0, code: 0, flags: 0x8000, keepalive: 30 },
        { kind: 'auth', offset: 28, type: 32, spi: 256, authenticator: u8('0f0e0d0c0b0a09080706050403020100') },
      ],
    },
    validPrefixes: [20, 28],
  },
  {
    name: 'registration revocation with FA-HA auth (RFC 3543 §3.1)',
    codec: revocation,
    bytes: hx(`07 00 c000 0a010032 0a010001 c0a80001 00000007
      22 14 00000200 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf # 34 FA-HA auth`),
    value: { type: 7, flags: 0xc000, homeAddress: ip('10.1.0.50'), homeDomainAddress: ip('10.1.0.1'), foreignDomainAddress: ip('192.168.0.1'), revocationId: 7,
      extensions: [{ kind: 'auth', offset: 20, type: 34, spi: 512, authenticator: u8('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf') }] },
    validPrefixes: [20],
  },
  {
    name: 'revocation acknowledgement (RFC 3543 §3.2)',
    codec: revocationAck,
    bytes: hx(`0f 00 8000 0a010032 00000007
      22 14 00000200 b0b1b2b3b4b5b6b7b8b9babbbcbdbebf`),
    value: { type: 15, flags: 0x8000, homeAddress: ip('10.1.0.50'), revocationId: 7,
      extensions: [{ kind: 'auth', offset: 12, type: 34, spi: 512, authenticator: u8('b0b1b2b3b4b5b6b7b8b9babbbcbdbebf') }] },
    validPrefixes: [12],
  },
  {
    name: 'tunnel data header (RFC 3519 §3.3)',
    codec: { encodingLength: () => 4, encode: (m: any, b: Buffer, o = 0) => tunnelData.encode(m, b, o), decode: (b: Buffer, o = 0, e = b.length) => tunnelData.decode(b, o, e) } as Codec<any>,
    bytes: hx('04 04 0000'),
    value: { type: 4, nextHeader: 4, payloadOffset: 4, end: 4 },
  },
  {
    name: 'agent advertisement: FA with two CoAs, prefix lengths, padding (RFC 5944 §2.1, App. G.1)',
    codec: advertisement,
    bytes: hx(`09 10 XXXX 01 02 0708    # type 9, code 16, checksum, 1 addr, entry size 2, lifetime 1800
      c0a80001 00000000                    # router 192.168.0.1, preference 0
      10 0e 002a 0258 9180                 # ext 16 len 14: seq 42, reg lifetime 600, R F T U (0x9180)
      c0a80001 c0a80101                    # CoAs 192.168.0.1, 192.168.1.1
      13 01 18                             # ext 19 prefix length 24
      00                                   # padding`.replace('XXXX', '0000')),
    value: {
      type: 9, code: 16, lifetime: 1800,
      routers: [{ address: ip('192.168.0.1'), preference: 0 }],
      extensions: [
        { kind: 'mobility-agent', sequence: 42, registrationLifetime: 600, flags: 0x9180, careOfAddresses: [ip('192.168.0.1'), ip('192.168.1.1')] },
        { kind: 'prefix-lengths', prefixLengths: [24] },
        { kind: 'pad' },
      ],
    },
    // Dropping the trailing zero padding byte leaves the one's-complement checksum unchanged.
    validPrefixes: [35],
  },
  {
    name: 'agent advertisement: home agent only, no router addresses, challenge, unknown skippable extension',
    codec: advertisement,
    bytes: hx(`09 00 0000 00 02 ffff
      10 06 0001 ffff 2040   # H X, infinite registration lifetime
      18 04 01020304         # challenge (RFC 4721 §2)
      a0 02 beef             # unknown skippable extension 160`),
    value: {
      type: 9, code: 0, lifetime: 0xffff, routers: [],
      extensions: [
        { kind: 'mobility-agent', sequence: 1, registrationLifetime: 0xffff, flags: 0x2040, careOfAddresses: [] },
        { kind: 'challenge', challenge: u8('01020304') },
        { kind: 'unknown', type: 160, data: u8('beef') },
      ],
    },
  },
  {
    name: 'agent solicitation (RFC 5944 §2.2)',
    codec: solicitation,
    bytes: hx('0a 00 f5ff 00000000'),
    value: { type: 10, code: 0 },
  },
];

// ICMP checksums are filled in here so the hex above stays readable.
import { internetChecksum } from '../../../src/wire/checksum';
for (const v of VECTORS) {
  if (v.codec === (advertisement as unknown)) {
    v.bytes.writeUInt16BE(0, 2);
    v.bytes.writeUInt16BE(internetChecksum(v.bytes, 0, v.bytes.length), 2);
  }
}
