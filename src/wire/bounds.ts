/**
 * Bounds and field checks shared by every codec. A check compares `offset + n > end` against the
 * caller's end, never `buffer.length`, so a message inside a larger buffer is decoded exactly.
 */
import { RoamdError } from '../errors';

/** Throws ERR_WIRE_TRUNCATED unless `n` bytes starting at `off` lie before `end`. */
export function need(off: number, n: number, end: number, what: string): void {
  if (off + n > end) {
    throw new RoamdError('ERR_WIRE_TRUNCATED', `${what}: needs ${n} bytes, ${Math.max(0, end - off)} left`, off);
  }
}

export function malformed(what: string, off: number): RoamdError {
  return new RoamdError('ERR_WIRE_MALFORMED', what, off);
}

/** Checks that [off, end) is a sane window of buf before decoding starts. */
export function window(buf: Uint8Array, off: number, end: number): void {
  if (!Number.isInteger(off) || !Number.isInteger(end) || off < 0 || end > buf.length || off > end) {
    throw new RoamdError('ERR_WIRE_TRUNCATED', `bad window [${off}, ${end}) of a ${buf.length}-byte buffer`, off);
  }
}

export function encodeCheck(ok: boolean, what: string): void {
  if (!ok) throw new RoamdError('ERR_WIRE_ENCODE', what);
}

export function isU8(v: number): boolean { return Number.isInteger(v) && v >= 0 && v <= 0xff; }
export function isU16(v: number): boolean { return Number.isInteger(v) && v >= 0 && v <= 0xffff; }
export function isU32(v: number): boolean { return Number.isInteger(v) && v >= 0 && v <= 0xffffffff; }

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** Decodes UTF-8 text, throwing ERR_WIRE_MALFORMED (not TypeError) on invalid input. */
export function readUtf8(buf: Uint8Array, off: number, end: number, what: string): string {
  try {
    return utf8.decode(buf.subarray(off, end));
  } catch {
    throw malformed(`${what} is not valid UTF-8`, off);
  }
}
