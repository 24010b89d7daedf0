/**
 * Building and checking registration messages, shared by every role: encode a message and sign
 * its authentication extensions in order, find extensions, verify an authenticator, and the
 * roamd NVSE that carries the home registration (docs/protocol.md).
 */
import type { Extension, AuthExt, VendorExt } from '../wire/extensions';
import * as request from '../wire/registration-request';
import * as reply from '../wire/registration-reply';
import * as revocation from '../wire/registration-revocation';
import * as revocationAck from '../wire/revocation-ack';
import { SecurityAssociation } from '../auth/security-association';
import { verify } from '../auth/authenticator';
import { RevocationFlag, REVOCATION_ACK_I } from '../wire/constants';

/** IANA enterprise number reserved for documentation (RFC 5612); configurable per deployment. */
export const DEFAULT_VENDOR_ID = 32473;
/** roamd NVSE types (docs/protocol.md). */
export enum NvseType { HOME_REQUEST = 1, HOME_REPLY = 2 }

type Codec<T> = { encodingLength(m: T): number; encode(m: T, buf: Buffer, off?: number): number };
type AnyMsg = request.RegistrationRequest | reply.RegistrationReply | revocation.RegistrationRevocation | revocationAck.RevocationAck;

/** An authentication extension to add with the SA that signs it. */
export interface Signer { type: 32 | 33 | 34; sa: SecurityAssociation }

/**
 * Encodes `m` with room for the signers' authentication extensions after its own, then writes and
 * signs those in place: one buffer, no copy of the message or of its extension list.
 */
function encodeSigned<T extends AnyMsg>(codec: Codec<T>, m: T, signers: Signer[]): Buffer {
  let len = codec.encodingLength(m);
  const end = len;
  for (const s of signers) len += 6 + s.sa.authenticatorLength;
  const buf = Buffer.alloc(len);
  codec.encode(m, buf, 0);
  writeAuth(buf, end, signers);
  return buf;
}

/**
 * Writes the signers' authentication extensions at `off`, after the message that starts at 0, and
 * signs each in order: an authenticator covers the message through its own SPI, the extensions
 * signed before it included (RFC 5944 §3.5.1).
 */
function writeAuth(buf: Buffer, off: number, signers: Signer[]): void {
  for (const s of signers) {
    const n = s.sa.authenticatorLength;
    buf[off] = s.type;
    buf[off + 1] = 4 + n;
    buf.writeUInt32BE(s.sa.spi, off + 2);
    s.sa.macInto(buf, 0, off + 6, buf, off + 6);
    off += 6 + n;
  }
}

/** Encodes a request and appends and signs the given authentication extensions in order. */
export function encodeRequest(m: request.RegistrationRequest, signers: Signer[]): Buffer {
  return encodeSigned(request, m, signers);
}
export function encodeReply(m: reply.RegistrationReply, signers: Signer[]): Buffer {
  return encodeSigned(reply, m, signers);
}
export function encodeRevocation(m: revocation.RegistrationRevocation, signers: Signer[]): Buffer {
  return encodeSigned(revocation, m, signers);
}
export function encodeRevocationAck(m: revocationAck.RevocationAck, signers: Signer[]): Buffer {
  return encodeSigned(revocationAck, m, signers);
}

/**
 * Appends and signs authentication extensions to an already encoded message (an agent relaying
 * a message adds its FA-HA extension after the existing ones, RFC 5944 §3.7.2.2).
 */
export function appendAuth(msg: Uint8Array, signers: Signer[]): Buffer {
  let len = msg.length;
  for (const s of signers) len += 6 + s.sa.authenticatorLength;
  const buf = Buffer.alloc(len);
  buf.set(msg, 0);
  writeAuth(buf, msg.length, signers);
  return buf;
}

/** All authentication extensions of one type. */
export function authExtensions(exts: readonly Extension[], type: 32 | 33 | 34): AuthExt[] {
  const out: AuthExt[] = [];
  for (const e of exts) if (e.kind === 'auth' && e.type === type) out.push(e);
  return out;
}

export function firstAuth(exts: readonly Extension[], type: 32 | 33 | 34): AuthExt | undefined {
  for (const e of exts) if (e.kind === 'auth' && e.type === type) return e;
  return undefined;
}

/**
 * RFC 3543 §3.3–3.5: a revocation or its acknowledgement is authentic when it carries exactly one
 * FA-HA authentication extension and that one verifies with `sa`.
 */
export function faHaAuthentic(sa: SecurityAssociation | undefined, buf: Buffer, exts: readonly Extension[]): boolean {
  const fh = authExtensions(exts, 34);
  return fh.length === 1 && checkAuth(sa, buf, 0, fh[0]);
}

/** The acknowledgement of revocation `rv` (RFC 3543 §3.4): same home address and identifier, I echoed, signed FA-HA. */
export function ackRevocation(rv: revocation.RegistrationRevocation, sa: SecurityAssociation): Buffer {
  return encodeRevocationAck({
    type: 15, flags: rv.flags & RevocationFlag.I ? REVOCATION_ACK_I : 0, homeAddress: rv.homeAddress, revocationId: rv.revocationId, extensions: [],
  }, [{ type: 34, sa }]);
}

/** Checks one authentication extension of a decoded message held in `buf` at `start`. */
export function checkAuth(sa: SecurityAssociation | undefined, buf: Buffer, start: number, e: AuthExt | undefined): boolean {
  return !!sa && !!e && verify(sa, buf, start, e);
}

export function findNai(exts: readonly Extension[]): string | undefined {
  for (const e of exts) if (e.kind === 'nai') return e.nai;
  return undefined;
}

export function findExt<K extends Extension['kind']>(exts: readonly Extension[], kind: K): Extract<Extension, { kind: K }> | undefined {
  for (const e of exts) if (e.kind === kind) return e as Extract<Extension, { kind: K }>;
  return undefined;
}

/** The roamd NVSE of a given type with this vendor id, if present. */
export function findNvse(exts: readonly Extension[], vendorId: number, type: number): VendorExt | undefined {
  for (const e of exts) if (e.kind === 'nvse' && e.vendorId === vendorId && e.vendorType === type) return e;
  return undefined;
}

export function nvse(vendorId: number, type: number, value: Uint8Array): VendorExt {
  return { kind: 'nvse', vendorId, vendorType: type, value };
}

/**
 * Byte length of a message up to and including the first authentication extension of `type`:
 * what an agent keeps when it strips the extensions that follow it (RFC 5944 §3.7.3.2).
 */
export function lengthThrough(exts: readonly Extension[], type: 32 | 33 | 34): number | undefined {
  const e = firstAuth(exts, type);
  return e && e.offset !== undefined ? e.offset + 6 + e.authenticator.length : undefined;
}
