/**
 * Computing and checking authentication extensions in place (RFC 5944 §3.5.1): the authenticator
 * covers the message from its first byte through the SPI of the extension itself (for the
 * generalized extension of RFC 4721 §5, through its SPI after the 16-bit length). The UDP header
 * and the authenticator are not covered. Checks compare in constant time.
 */
import { RoamdError } from '../errors';
import { AuthExt, GenAuthExt, authenticatedLength } from '../wire/extensions';
import { SecurityAssociation } from './security-association';

/** Room for the longest authenticator (HMAC-SHA-256, BLAKE2b: 32 bytes), for verify(). */
const SCRATCH = new Uint8Array(64);

/**
 * Fills in the authenticator of `ext` in a message already encoded at `msgStart` in `buf` (the
 * extension's authenticator must have the SA's length, e.g. zeros). The authenticator is written
 * into the message and copied into ext.authenticator.
 */
export function sign(sa: SecurityAssociation, buf: Buffer, msgStart: number, ext: AuthExt | GenAuthExt): void {
  if (ext.spi !== sa.spi) throw new RoamdError('ERR_AUTH', `extension SPI ${ext.spi} does not match SA SPI ${sa.spi}`);
  const n = sa.authenticatorLength;
  if (ext.authenticator.length !== n) {
    throw new RoamdError('ERR_AUTH', `authenticator room is ${ext.authenticator.length} bytes, ${sa.algorithm} needs ${n}`);
  }
  const at = msgStart + authenticatedLength(ext);
  sa.macInto(buf, msgStart, at, buf, at);
  for (let i = 0; i < n; i++) ext.authenticator[i] = buf[at + i]!;
}

/** True when the authenticator of `ext` in the message at `msgStart` is valid under `sa`. */
export function verify(sa: SecurityAssociation, buf: Buffer, msgStart: number, ext: AuthExt | GenAuthExt): boolean {
  const n = sa.authenticatorLength;
  if (ext.spi !== sa.spi || ext.authenticator.length !== n) return false;
  sa.macInto(buf, msgStart, msgStart + authenticatedLength(ext), SCRATCH, 0);
  // Constant time: every byte is compared whatever the first difference.
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= SCRATCH[i]! ^ ext.authenticator[i]!;
  return diff === 0;
}

/** A zero-filled authenticator of the right length, to encode before signing. */
export function placeholder(sa: SecurityAssociation): Uint8Array {
  return new Uint8Array(sa.authenticatorLength);
}
