/**
 * The one error base class of roamd. Every error thrown by roamd code carries a stable `code`
 * string that logs, counters and tests key on; the message is for humans.
 *
 * This module is a leaf: every layer may import it (it imports nothing).
 */
export type ErrorCode =
  | 'ERR_WIRE_TRUNCATED' // a length field or fixed part runs past the end of the buffer
  | 'ERR_WIRE_MALFORMED' // a field holds a value the RFC does not allow
  | 'ERR_WIRE_UNKNOWN_EXTENSION' // unknown non-skippable extension (type < 128), RFC 5944 §1.9
  | 'ERR_WIRE_CHECKSUM'
  | 'ERR_WIRE_ENCODE' // the caller asked to encode something that cannot be encoded
  | 'ERR_AUTH' // authentication setup errors (unknown algorithm, bad key length)
  | 'ERR_CONFIG_INVALID'
  | 'ERR_TABLE_FULL'
  | 'ERR_SNAPSHOT'
  | 'ERR_PRIVILEGES' // the switch to `option user` could not be made or verified
  | 'ERR_USAGE';

export class RoamdError extends Error {
  readonly code: ErrorCode;
  /** Byte offset into the decoded buffer where the problem was found, for wire errors. */
  readonly offset: number | undefined;

  constructor(code: ErrorCode, message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at offset ${offset})`);
    this.name = 'RoamdError';
    this.code = code;
    this.offset = offset;
  }
}
