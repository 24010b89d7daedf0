/**
 * Extensions of Mobile IP registration messages (RFC 5944 §1.9-§1.11, §3.5) and of revocation
 * messages (RFC 3543): one codec for the list that follows a message's fixed part.
 *
 * Rules (RFC 5944 §1.9): types 0-127 are non-skippable, an unknown one rejects the whole message;
 * types 128-255 are skippable, an unknown one (or a known one whose reserved fields say "not
 * understood") is kept as raw bytes and re-encoded byte for byte. The walker must end exactly at
 * the end of the message. Long-format extensions (16-bit length) are only 36 (RFC 4721) and 38
 * (RFC 3115); skippable ones are always short (RFC 5944 §1.10), which is why 139 is read in the
 * short form despite the figure in RFC 4433 §3.4 (see docs/protocol.md).
 *
 * Bounds: at most one object per extension; a message of n bytes yields at most n extensions.
 */
import { Ext, FIRST_SKIPPABLE_EXT } from './constants';
import { RoamdError } from '../errors';
import { need, malformed, encodeCheck, isU8, isU16, isU32, readUtf8 } from './bounds';

interface Base {
  /** Offset of the extension's first byte from the start of its message (set by decode). */
  offset?: number;
}
export interface PadExt extends Base { kind: 'pad' }
/** MN-HA (32), MN-FA (33), FA-HA (34) authentication, RFC 5944 §3.5.2-§3.5.4. */
export interface AuthExt extends Base { kind: 'auth'; type: 32 | 33 | 34; spi: number; authenticator: Uint8Array }
/** Generalized authentication (36), RFC 4721 §5: long format. */
export interface GenAuthExt extends Base { kind: 'gen-auth'; subtype: number; spi: number; authenticator: Uint8Array }
/** Critical (38) and normal (134) vendor/organization specific extensions, RFC 3115 §3. */
export interface VendorExt extends Base { kind: 'cvse' | 'nvse'; vendorId: number; vendorType: number; value: Uint8Array }
/** UDP tunnel request (144), RFC 3519 §3.1. `flags` holds F (0x80) and R (0x40). */
export interface UdpTunnelRequestExt extends Base { kind: 'udp-tunnel-request'; subtype: number; flags: number; encapsulation: number }
/** UDP tunnel reply (44), RFC 3519 §3.2. `flags` is the 16-bit field with F = 0x8000. */
export interface UdpTunnelReplyExt extends Base { kind: 'udp-tunnel-reply'; subtype: number; code: number; flags: number; keepalive: number }
/** Encapsulating delivery style (130), RFC 3024 §3.3. */
export interface EncapDeliveryExt extends Base { kind: 'encap-delivery' }
/** Mobile node NAI (131), RFC 2794 §2. */
export interface NaiExt extends Base { kind: 'nai'; nai: string }
/** MN-FA challenge (132), RFC 4721 §4. */
export interface ChallengeExt extends Base { kind: 'challenge'; challenge: Uint8Array }
/** Revocation support (137), RFC 3543 §3.2. `flags` holds I = 0x8000. */
export interface RevocationSupportExt extends Base { kind: 'revocation-support'; flags: number; timestamp: number }
/** Dynamic HA (139), RFC 4433 §3.4: subtype 1 requested, 2 redirected. */
export interface DynamicHaExt extends Base { kind: 'dynamic-ha'; subtype: number; haAddress: number }
/** Message string (145), RFC 4917 §3: subtype 1 from HA, 2 from FA. */
export interface MessageStringExt extends Base { kind: 'message-string'; subtype: number; text: string }
/** Trusted networks configured (149), RFC 5265 §3.4. */
export interface TncExt extends Base { kind: 'tnc'; subtype: number }
/** A skippable extension roamd does not interpret: `data` is everything after Type and Length. */
export interface UnknownExt extends Base { kind: 'unknown'; type: number; data: Uint8Array }

export type Extension =
  | PadExt | AuthExt | GenAuthExt | VendorExt | UdpTunnelRequestExt | UdpTunnelReplyExt
  | EncapDeliveryExt | NaiExt | ChallengeExt | RevocationSupportExt | DynamicHaExt
  | MessageStringExt | TncExt | UnknownExt;

/** Wire type byte of an extension. */
export function extensionType(e: Extension): number {
  switch (e.kind) {
    case 'pad': return Ext.PAD;
    case 'auth': return e.type;
    case 'gen-auth': return Ext.GEN_AUTH;
    case 'cvse': return Ext.CVSE;
    case 'nvse': return Ext.NVSE;
    case 'udp-tunnel-request': return Ext.UDP_TUNNEL_REQUEST;
    case 'udp-tunnel-reply': return Ext.UDP_TUNNEL_REPLY;
    case 'encap-delivery': return Ext.ENCAP_DELIVERY;
    case 'nai': return Ext.NAI;
    case 'challenge': return Ext.MN_FA_CHALLENGE;
    case 'revocation-support': return Ext.REVOCATION_SUPPORT;
    case 'dynamic-ha': return Ext.DYNAMIC_HA;
    case 'message-string': return Ext.MESSAGE_STRING;
    case 'tnc': return Ext.TNC;
    case 'unknown': return e.type;
  }
}

/** Bytes an extension occupies on the wire. */
export function extensionLength(e: Extension): number {
  switch (e.kind) {
    case 'pad': return 1;
    case 'auth': return 6 + e.authenticator.length;
    case 'gen-auth': return 8 + e.authenticator.length;
    case 'cvse': return 10 + e.value.length;
    case 'nvse': return 10 + e.value.length;
    case 'udp-tunnel-request':
    case 'udp-tunnel-reply':
    case 'revocation-support': return 8;
    case 'encap-delivery': return 2;
    case 'nai': return 2 + Buffer.byteLength(e.nai, 'utf8');
    case 'challenge': return 2 + e.challenge.length;
    case 'dynamic-ha': return 7;
    case 'message-string': return 3 + Buffer.byteLength(e.text, 'utf8');
    case 'tnc': return 4;
    case 'unknown': return 2 + e.data.length;
  }
}

export function extensionsLength(list: readonly Extension[]): number {
  let n = 0;
  for (const e of list) n += extensionLength(e);
  return n;
}

/** Writes one extension at `off`; returns the offset after it. */
export function encodeExtension(e: Extension, buf: Buffer, off: number): number {
  const len = extensionLength(e);
  encodeCheck(off + len <= buf.length, `extension ${e.kind} does not fit in the buffer`);
  const type = extensionType(e);
  buf[off] = type;
  switch (e.kind) {
    case 'pad':
      return off + 1;
    case 'auth':
      encodeCheck(len - 2 <= 0xff && isU32(e.spi), 'authentication extension: authenticator too long or bad SPI');
      buf[off + 1] = len - 2;
      buf.writeUInt32BE(e.spi, off + 2);
      buf.set(e.authenticator, off + 6);
      return off + len;
    case 'gen-auth':
      encodeCheck(isU8(e.subtype) && len - 4 <= 0xffff && isU32(e.spi), 'generalized authentication extension: bad field');
      buf[off + 1] = e.subtype;
      buf.writeUInt16BE(len - 4, off + 2);
      buf.writeUInt32BE(e.spi, off + 4);
      buf.set(e.authenticator, off + 8);
      return off + len;
    case 'cvse':
      encodeCheck(isU32(e.vendorId) && isU16(e.vendorType) && len - 4 <= 0xffff, 'CVSE: bad field');
      buf[off + 1] = 0; // reserved, RFC 3115 §3.1
      buf.writeUInt16BE(len - 4, off + 2);
      buf.writeUInt32BE(e.vendorId, off + 4);
      buf.writeUInt16BE(e.vendorType, off + 8);
      buf.set(e.value, off + 10);
      return off + len;
    case 'nvse':
      encodeCheck(isU32(e.vendorId) && isU16(e.vendorType) && len - 2 <= 0xff, 'NVSE: bad field or value too long');
      buf[off + 1] = len - 2;
      buf.writeUInt16BE(0, off + 2); // reserved, RFC 3115 §3.2
      buf.writeUInt32BE(e.vendorId, off + 4);
      buf.writeUInt16BE(e.vendorType, off + 8);
      buf.set(e.value, off + 10);
      return off + len;
    case 'udp-tunnel-request':
      encodeCheck(isU8(e.subtype) && isU8(e.flags) && isU8(e.encapsulation), 'UDP tunnel request: bad field');
      buf[off + 1] = 6;
      buf[off + 2] = e.subtype;
      buf[off + 3] = 0; // reserved 1
      buf[off + 4] = e.flags & 0xc0; // F R, reserved 2 zero
      buf[off + 5] = e.encapsulation;
      buf.writeUInt16BE(0, off + 6); // reserved 3, must be zero (RFC 3519 §3.1.3)
      return off + 8;
    case 'udp-tunnel-reply':
      encodeCheck(isU8(e.subtype) && isU8(e.code) && isU16(e.flags) && isU16(e.keepalive), 'UDP tunnel reply: bad field');
      buf[off + 1] = 6;
      buf[off + 2] = e.subtype;
      buf[off + 3] = e.code;
      buf.writeUInt16BE(e.flags & 0x8000, off + 4);
      buf.writeUInt16BE(e.keepalive, off + 6);
      return off + 8;
    case 'encap-delivery':
      buf[off + 1] = 0;
      return off + 2;
    case 'nai':
      encodeCheck(len - 2 <= 0xff, 'NAI longer than 255 bytes');
      buf[off + 1] = len - 2;
      buf.write(e.nai, off + 2, 'utf8');
      return off + len;
    case 'challenge':
      encodeCheck(len - 2 <= 0xff, 'challenge longer than 255 bytes');
      buf[off + 1] = len - 2;
      buf.set(e.challenge, off + 2);
      return off + len;
    case 'revocation-support':
      encodeCheck(isU16(e.flags) && isU32(e.timestamp), 'revocation support: bad field');
      buf[off + 1] = 6;
      buf.writeUInt16BE(e.flags & 0x8000, off + 2);
      buf.writeUInt32BE(e.timestamp, off + 4);
      return off + 8;
    case 'dynamic-ha':
      encodeCheck(isU8(e.subtype) && isU32(e.haAddress), 'dynamic HA: bad field');
      buf[off + 1] = 5;
      buf[off + 2] = e.subtype;
      buf.writeUInt32BE(e.haAddress, off + 3);
      return off + 7;
    case 'message-string':
      encodeCheck(isU8(e.subtype) && len - 2 <= 0xff, 'message string: bad subtype or text too long');
      buf[off + 1] = len - 2;
      buf[off + 2] = e.subtype;
      buf.write(e.text, off + 3, 'utf8');
      return off + len;
    case 'tnc':
      encodeCheck(isU8(e.subtype), 'TNC: bad subtype');
      buf[off + 1] = 2;
      buf[off + 2] = e.subtype;
      buf[off + 3] = 0;
      return off + 4;
    case 'unknown':
      encodeCheck(isU8(e.type) && e.type >= FIRST_SKIPPABLE_EXT && e.data.length <= 0xff, 'unknown extension: only skippable types (>= 128) with <= 255 bytes can be carried');
      buf[off + 1] = e.data.length;
      buf.set(e.data, off + 2);
      return off + len;
  }
}

/**
 * Writes a list of extensions at `off`; returns the offset after the last. Sets each extension's
 * `offset` relative to `base` (its message's start) so authenticators can be computed over the
 * written bytes.
 */
export function encodeExtensions(list: readonly Extension[], buf: Buffer, off: number, base: number): number {
  for (const e of list) {
    e.offset = off - base;
    off = encodeExtension(e, buf, off);
  }
  return off;
}

function copy(buf: Buffer, start: number, end: number): Uint8Array {
  return new Uint8Array(buf.subarray(start, end));
}

/**
 * Decodes the extensions in [off, end). `base` is the offset of the message start, so each
 * extension's `offset` is relative to its message.
 */
export function decodeExtensions(buf: Buffer, off: number, end: number, base: number): Extension[] {
  const out: Extension[] = [];
  while (off < end) {
    const type = buf[off]!;
    const at = off - base;
    if (type === Ext.PAD) {
      out.push({ kind: 'pad', offset: at });
      off += 1;
      continue;
    }
    // Long-format extensions: 16-bit length after a subtype/reserved byte (RFC 5944 §1.10).
    if (type === Ext.GEN_AUTH || type === Ext.CVSE) {
      need(off, 4, end, `extension ${type} header`);
      const len = buf.readUInt16BE(off + 2);
      need(off + 4, len, end, `extension ${type} data`);
      const data = off + 4, next = data + len;
      if (type === Ext.GEN_AUTH) {
        if (len < 4) throw malformed(`generalized authentication extension: length ${len} < 4`, off);
        out.push({ kind: 'gen-auth', offset: at, subtype: buf[off + 1]!, spi: buf.readUInt32BE(data), authenticator: copy(buf, data + 4, next) });
      } else {
        if (len < 6) throw malformed(`CVSE: length ${len} < 6`, off);
        out.push({ kind: 'cvse', offset: at, vendorId: buf.readUInt32BE(data), vendorType: buf.readUInt16BE(data + 4), value: copy(buf, data + 6, next) });
      }
      off = next;
      continue;
    }
    need(off, 2, end, `extension ${type} header`);
    const len = buf[off + 1]!;
    const data = off + 2, next = data + len;
    need(data, len, end, `extension ${type} data`);
    const ext = decodeShort(buf, type, data, len, off, at);
    if (ext) out.push(ext);
    else if (type >= FIRST_SKIPPABLE_EXT) out.push({ kind: 'unknown', offset: at, type, data: copy(buf, data, next) });
    else throw new RoamdError('ERR_WIRE_UNKNOWN_EXTENSION', `unknown non-skippable extension type ${type} (RFC 5944 §1.9: message discarded)`, off);
    off = next;
  }
  return out;
}

/** Known short-format extensions; null means "not understood" (skippable types then become raw). */
function decodeShort(buf: Buffer, type: number, d: number, len: number, off: number, at: number): Extension | null {
  switch (type) {
    case Ext.MN_HA_AUTH:
    case Ext.MN_FA_AUTH:
    case Ext.FA_HA_AUTH:
      if (len < 4) throw malformed(`authentication extension ${type}: length ${len} < 4 (no room for the SPI)`, off);
      return { kind: 'auth', offset: at, type, spi: buf.readUInt32BE(d), authenticator: copy(buf, d + 4, d + len) };
    case Ext.UDP_TUNNEL_REPLY:
      // Non-skippable: a wrong length is a malformed message, not an unknown extension.
      if (len !== 6) throw malformed(`UDP tunnel reply extension: length ${len}, RFC 3519 §3.2 says 6`, off);
      return { kind: 'udp-tunnel-reply', offset: at, subtype: buf[d]!, code: buf[d + 1]!, flags: buf.readUInt16BE(d + 2) & 0x8000, keepalive: buf.readUInt16BE(d + 4) };
    case Ext.UDP_TUNNEL_REQUEST:
      // RFC 3519 §3.1.3: a nonzero Reserved 3 means "not understood, silently skipped".
      if (len !== 6 || buf[d]! !== 0 || buf.readUInt16BE(d + 4) !== 0) return null;
      return { kind: 'udp-tunnel-request', offset: at, subtype: buf[d]!, flags: buf[d + 2]! & 0xc0, encapsulation: buf[d + 3]! };
    case Ext.ENCAP_DELIVERY:
      return len === 0 ? { kind: 'encap-delivery', offset: at } : null;
    case Ext.NAI:
      return { kind: 'nai', offset: at, nai: readUtf8(buf, d, d + len, 'NAI') };
    case Ext.MN_FA_CHALLENGE:
      return { kind: 'challenge', offset: at, challenge: copy(buf, d, d + len) };
    case Ext.NVSE:
      if (len < 8) return null;
      return { kind: 'nvse', offset: at, vendorId: buf.readUInt32BE(d + 2), vendorType: buf.readUInt16BE(d + 6), value: copy(buf, d + 8, d + len) };
    case Ext.REVOCATION_SUPPORT:
      if (len !== 6) return null;
      return { kind: 'revocation-support', offset: at, flags: buf.readUInt16BE(d) & 0x8000, timestamp: buf.readUInt32BE(d + 2) };
    case Ext.DYNAMIC_HA:
      if (len !== 5) return null;
      return { kind: 'dynamic-ha', offset: at, subtype: buf[d]!, haAddress: buf.readUInt32BE(d + 1) };
    case Ext.MESSAGE_STRING:
      if (len < 1) return null;
      return { kind: 'message-string', offset: at, subtype: buf[d]!, text: readUtf8(buf, d + 1, d + len, 'message string') };
    case Ext.TNC:
      if (len !== 2) return null;
      return { kind: 'tnc', offset: at, subtype: buf[d]! };
    default:
      return null;
  }
}

/**
 * Where the authenticated data ends for an authentication extension at `extOffset` (relative to
 * the message start): everything before the Authenticator, RFC 5944 §3.5.1 / RFC 4721 §5.
 */
export function authenticatedLength(e: AuthExt | GenAuthExt): number {
  if (e.offset === undefined) throw new RoamdError('ERR_WIRE_ENCODE', 'extension has no offset: decode or encode the message first');
  return e.offset + (e.kind === 'auth' ? 6 : 8);
}
