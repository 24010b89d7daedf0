/**
 * Computing and checking authentication extensions in place (RFC 5944 §3.5.1): the authenticator
 * covers the message from its first byte through the SPI of the extension itself (for the
 * generalized extension of RFC 4721 §5, through its SPI after the 16-bit length). The UDP header
 * and the authenticator are not covered. Checks compare in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import { RoamdError } from '../errors';
import { AuthExt, GenAuthExt, authenticatedLength } from '../wire/extensions';
import { SecurityAssociation } from './security-association';

/**
 * Fills in the authenticator of `ext` in a message already encoded at `msgStart` in `buf` (the
 * extension's authenticator must have the SA's length, e.g. zeros). Updates ext.authenticator.
 */
export function sign(sa: SecurityAssociation, buf: Buffer, msgStart: number, ext: AuthExt | GenAuthExt): void {
  if (ext.spi !== sa.spi) throw new RoamdError('ERR_AUTH', `extension SPI ${ext.spi} does not match SA SPI ${sa.spi}`);
  if (ext.authenticator.length !== sa.authenticatorLength) {
    throw new RoamdError('ERR_AUTH', `authenticator room is ${ext.authenticator.length} bytes, ${sa.algorithm} needs ${sa.authenticatorLength}`);
  }
  const covered = authenticatedLength(ext);
  const mac = sa.mac(buf.subarray(msgStart, msgStart + covered));
  buf.set(mac, msgStart + covered);
  ext.authenticator = mac;
}

/** True when the authenticator of `ext` in the message at `msgStart` is valid under `sa`. */
export function verify(sa: SecurityAssociation, buf: Buffer, msgStart: number, ext: AuthExt | GenAuthExt): boolean {
  if (ext.spi !== sa.spi || ext.authenticator.length !== sa.authenticatorLength) return false;
  const covered = authenticatedLength(ext);
  const mac = sa.mac(buf.subarray(msgStart, msgStart + covered));
  return timingSafeEqual(mac, ext.authenticator);
}

/** A zero-filled authenticator of the right length, to encode before signing. */
export function placeholder(sa: SecurityAssociation): Uint8Array {
  return new Uint8Array(sa.authenticatorLength);
}
