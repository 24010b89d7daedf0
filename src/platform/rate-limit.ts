/**
 * Per-source rate limiting of received Mobile IP datagrams: a token bucket per source address in
 * a fixed-capacity, open-addressed table (typed arrays, allocated once). `allow(src, now)` is O(1)
 * on average (linear probing over at most PROBE slots) and allocates nothing, so a flood from
 * many spoofed sources costs a bounded amount of memory and time per packet.
 *
 * When the table is full and the probe window holds no free or idle slot, the least recently seen
 * slot in the window is taken over: a flood of new sources can evict other flooders, but a source
 * that keeps sending within its rate keeps refreshing its slot. Memory: capacity * 16 bytes.
 */

/** Slots probed per lookup; bounds the work per packet. */
const PROBE = 8;

export interface RateLimitOptions {
  /** Datagrams per second allowed per source (sustained); 0 disables the limiter. */
  rate: number;
  /** Bucket depth: datagrams a source may send in a burst. */
  burst: number;
  /** Sources tracked at once (rounded up to a power of two). */
  capacity: number;
}

export class RateLimiter {
  readonly capacity: number;
  private readonly mask: number;
  private readonly keys: Uint32Array;
  /** Tokens, in thousandths of a datagram (integer arithmetic). */
  private readonly tokens: Int32Array;
  /** Last refill time (ms, relative to `epoch`), 0 = free slot. */
  private readonly seen: Float64Array;
  private readonly ratePerMs: number;
  private readonly burstMilli: number;
  dropped = 0;

  constructor(readonly opts: RateLimitOptions) {
    let cap = 16;
    while (cap < opts.capacity) cap *= 2;
    this.capacity = cap;
    this.mask = cap - 1;
    this.keys = new Uint32Array(cap);
    this.tokens = new Int32Array(cap);
    this.seen = new Float64Array(cap);
    this.ratePerMs = opts.rate; // thousandths of a datagram per ms = datagrams per second
    this.burstMilli = Math.max(1, opts.burst) * 1000;
  }

  static bytesPerEntry(): number {
    return 16;
  }

  /** True when a datagram from `src` at time `now` (ms) is within its rate; counts drops. */
  allow(src: number, now: number): boolean {
    if (this.opts.rate <= 0) return true;
    const t = now > 0 ? now : 1;
    let h = Math.imul(src ^ (src >>> 16), 0x45d9f3b) >>> 0;
    h = (h ^ (h >>> 16)) & this.mask;
    let victim = h, oldest = Infinity;
    for (let i = 0; i < PROBE; i++) {
      const s = (h + i) & this.mask;
      const last = this.seen[s]!;
      if (last !== 0 && this.keys[s] === src >>> 0) return this.take(s, t);
      // A free slot, or one whose bucket has refilled completely (idle long enough), is reusable.
      const idle = last === 0 || (t - last) * this.ratePerMs >= this.burstMilli;
      if (idle) { victim = s; oldest = -1; break; }
      if (last < oldest) { oldest = last; victim = s; }
    }
    this.keys[victim] = src >>> 0;
    this.tokens[victim] = this.burstMilli;
    this.seen[victim] = t;
    return this.take(victim, t);
  }

  private take(s: number, now: number): boolean {
    const last = this.seen[s]!;
    let tok = this.tokens[s]! + Math.floor(Math.max(0, now - last) * this.ratePerMs);
    if (tok > this.burstMilli) tok = this.burstMilli;
    this.seen[s] = now;
    if (tok < 1000) {
      this.tokens[s] = tok;
      this.dropped++;
      return false;
    }
    this.tokens[s] = tok - 1000;
    return true;
  }
}
