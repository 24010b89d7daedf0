/**
 * Replay protection of registration requests, RFC 5944 §5.7: timestamps (mandatory, §5.7.1) and
 * nonces (optional, §5.7.2). Pure functions over a small per-node state; the clock (`nowMs`) and
 * randomness come in as arguments so the role state machines stay deterministic.
 *
 * Identification is handled as two uint32 halves (high, low). NTP seconds wrap in 2036; all
 * comparisons of the high half use serial-number arithmetic so the wrap is harmless.
 */

/** Seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (Unix epoch). */
export const NTP_UNIX_OFFSET_S = 2208988800;

/** Reply code for a rejected identification, RFC 5944 §3.4 / §5.7. */
export const ID_MISMATCH = 133;

/** NTP seconds (mod 2^32) for a Unix time in milliseconds, plus an optional clock offset. */
export function ntpSeconds(nowMs: number, offsetS = 0): number {
  return (Math.floor(nowMs / 1000) + NTP_UNIX_OFFSET_S + offsetS) >>> 0;
}

/**
 * A timestamp Identification (RFC 5944 §5.7.1): high = NTP seconds, low = NTP fraction from the
 * millisecond clock with the bits the clock cannot supply taken from `rand32`.
 */
export function timestampId(nowMs: number, rand32: number, offsetS = 0): { high: number; low: number } {
  const ms = ((nowMs % 1000) + 1000) % 1000;
  const fraction = Math.floor((ms * 0x100000000) / 1000) >>> 0;
  // 1 ms is about 2^22 fraction units: the low 22 bits carry no clock information.
  const low = ((fraction & ~0x3fffff) | (rand32 & 0x3fffff)) >>> 0;
  return { high: ntpSeconds(nowMs, offsetS), low };
}

/** True when (aHigh, aLow) > (bHigh, bLow) as 64-bit values, with serial arithmetic on the high half. */
export function idGreater(aHigh: number, aLow: number, bHigh: number, bLow: number): boolean {
  const d = (aHigh - bHigh) | 0;
  return d > 0 || (d === 0 && aLow >>> 0 > bLow >>> 0);
}

/** Per mobile node replay state kept by the home agent. */
export interface ReplayState {
  /** An identification has been accepted (timestamps) or a nonce issued (nonces). */
  primed: boolean;
  /** Last accepted identification (timestamps). */
  lastHigh: number;
  lastLow: number;
  /** Nonce the home agent issued last (nonces): the next request's high half must equal it. */
  nonce: number;
}

export function newReplayState(): ReplayState {
  return { primed: false, lastHigh: 0, lastLow: 0, nonce: 0 };
}

export type ReplayVerdict =
  | { ok: true; replyHigh: number; replyLow: number }
  | { ok: false; code: typeof ID_MISMATCH; reason: 'clock-skew' | 'not-newer' | 'bad-nonce'; replyHigh: number; replyLow: number };

/**
 * Home agent check of a timestamp Identification (RFC 5944 §5.7.1). On success the reply carries
 * the whole Identification; on failure code 133 with the HA's time in the high half and the
 * request's low half, so the node can resynchronise. Does not change `st`: call acceptTimestamp
 * once every other check of the request has passed.
 */
export function checkTimestamp(st: ReplayState, idHigh: number, idLow: number, nowMs: number, windowS: number): ReplayVerdict {
  const now = ntpSeconds(nowMs);
  const skew = (idHigh - now) | 0;
  if (skew > windowS || skew < -windowS) return { ok: false, code: ID_MISMATCH, reason: 'clock-skew', replyHigh: now, replyLow: idLow };
  if (st.primed && !idGreater(idHigh, idLow, st.lastHigh, st.lastLow)) {
    return { ok: false, code: ID_MISMATCH, reason: 'not-newer', replyHigh: now, replyLow: idLow };
  }
  return { ok: true, replyHigh: idHigh, replyLow: idLow };
}

export function acceptTimestamp(st: ReplayState, idHigh: number, idLow: number): void {
  st.primed = true;
  st.lastHigh = idHigh >>> 0;
  st.lastLow = idLow >>> 0;
}

/**
 * Home agent check of a nonce Identification (RFC 5944 §5.7.2): the high half must be the nonce
 * this HA issued last. Either way the reply carries `newNonce` in the high half and the request's
 * low half; the caller records the new nonce with issueNonce when it sends the reply.
 */
export function checkNonce(st: ReplayState, idHigh: number, idLow: number, newNonce: number): ReplayVerdict {
  if (!st.primed || idHigh >>> 0 !== st.nonce) return { ok: false, code: ID_MISMATCH, reason: 'bad-nonce', replyHigh: newNonce >>> 0, replyLow: idLow };
  return { ok: true, replyHigh: newNonce >>> 0, replyLow: idLow };
}

export function issueNonce(st: ReplayState, nonce: number): void {
  st.primed = true;
  st.nonce = nonce >>> 0;
}

/**
 * Mobile node side: the reply matches the request only when the low halves are equal
 * (RFC 5944 §5.7, §3.6.2.1).
 */
export function replyMatches(sentLow: number, replyLow: number): boolean {
  return sentLow >>> 0 === replyLow >>> 0;
}

/**
 * Mobile node side, after an authenticated 133 reply to a timestamp request: the clock offset to
 * add to its own NTP seconds so the next request falls inside the HA's window (RFC 5944 §5.7.1).
 */
export function resyncOffset(replyHigh: number, nowMs: number): number {
  return (replyHigh - ntpSeconds(nowMs)) | 0;
}
