/**
 * Hierarchical timing wheel (Varghese & Lauck scheme 7) for binding lifetimes, visitor lifetimes
 * and pending-registration time-outs (RFC 5944 §3.7.1, §3.7.2.2, §3.8.2.2).
 *
 * Time is integer milliseconds on the caller's clock, passed in as `now`; nothing here reads a clock.
 * An entry expiring at E fires on the first `advance(now)` with now ≥ E rounded up to a tick, never
 * earlier. 4 levels × 256 buckets cover the full uint32 tick range; each entry is cascaded at most
 * three times, so `advance` is O(1) per tick plus O(1) amortised per expiry.
 *
 * Memory: 12 bytes per slot (due tick, prev, next) + 4 KiB of bucket heads.
 */
const BITS = 8;
const SIZE = 1 << BITS;
const MASK = SIZE - 1;
const LEVELS = 4;
const NIL = -1;
const MAX_TICK = 0xffffffff;

export type ExpireFn = (slot: number) => void;

export class TimerWheel {
  static readonly BYTES_PER_SLOT = 12;
  static readonly FIXED_BYTES = LEVELS * SIZE * 4;

  /** Due tick per slot. */
  readonly due: Uint32Array;
  /** prev: previous slot, or -2 - bucket when head of a bucket, or NIL when not scheduled. */
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly heads: Int32Array;
  /** Next tick to process. */
  private cur = 0;
  size = 0;

  constructor(readonly slots: number, readonly tickMs: number, readonly epochMs: number) {
    if (!(tickMs >= 1) || !Number.isInteger(tickMs)) throw new RangeError('tickMs must be a positive integer');
    this.due = new Uint32Array(slots);
    this.prev = new Int32Array(slots).fill(NIL);
    this.next = new Int32Array(slots).fill(NIL);
    this.heads = new Int32Array(LEVELS * SIZE).fill(NIL);
  }

  /** Tick at or after `ms` (ceil), clamped to the uint32 range. */
  tickAtOrAfter(ms: number): number {
    const t = Math.ceil((ms - this.epochMs) / this.tickMs);
    return t <= 0 ? 0 : t >= MAX_TICK ? MAX_TICK : t;
  }

  /** Wall time (ms) at which slot's due tick fires. */
  expiresAt(slot: number): number {
    return this.epochMs + this.due[slot]! * this.tickMs;
  }

  isScheduled(slot: number): boolean {
    return this.prev[slot] !== NIL;
  }

  /** (Re)schedules slot to fire at the first tick ≥ expiresAtMs. */
  schedule(slot: number, expiresAtMs: number): void {
    if (this.prev[slot] !== NIL) this.unlink(slot);
    let t = this.tickAtOrAfter(expiresAtMs);
    if (t < this.cur) t = this.cur;
    this.due[slot] = t;
    this.link(slot, t);
    this.size++;
  }

  cancel(slot: number): void {
    if (this.prev[slot] === NIL) return;
    this.unlink(slot);
  }

  private bucketFor(t: number): number {
    const delta = t - this.cur;
    if (delta < SIZE) return t & MASK;
    if (delta < SIZE * SIZE) return SIZE + ((t >>> BITS) & MASK);
    if (delta < SIZE * SIZE * SIZE) return 2 * SIZE + ((t >>> (2 * BITS)) & MASK);
    return 3 * SIZE + ((t >>> (3 * BITS)) & MASK);
  }

  private link(slot: number, t: number): void {
    const b = this.bucketFor(t);
    const h = this.heads[b]!;
    this.next[slot] = h;
    this.prev[slot] = -2 - b;
    if (h !== NIL) this.prev[h] = slot;
    this.heads[b] = slot;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot]!, n = this.next[slot]!;
    if (p >= 0) this.next[p] = n;
    else this.heads[-2 - p] = n;
    if (n !== NIL) this.prev[n] = p;
    this.prev[slot] = NIL;
    this.next[slot] = NIL;
    this.size--;
  }

  /** Re-files every entry of bucket b relative to the current tick. */
  private cascade(b: number): void {
    let s = this.heads[b]!;
    this.heads[b] = NIL;
    while (s !== NIL) {
      const n = this.next[s]!;
      this.link(s, this.due[s]!);
      s = n;
    }
  }

  /**
   * Fires every slot due at or before `now`. Each slot is unscheduled before `onExpire(slot)` runs,
   * so the callback may reschedule it (a due time ≤ now lands on the next tick). Returns the count.
   */
  advance(now: number, onExpire: ExpireFn): number {
    const target = Math.floor((now - this.epochMs) / this.tickMs);
    if (target < this.cur) return 0;
    if (this.size === 0) {
      this.cur = Math.min(target + 1, MAX_TICK);
      return 0;
    }
    let fired = 0;
    while (this.cur <= target) {
      const t = this.cur;
      if ((t & MASK) === 0 && t !== 0) {
        // Higher levels first so their entries can fall through to level 0 in this same tick.
        if (((t >>> BITS) & MASK) === 0) {
          if (((t >>> (2 * BITS)) & MASK) === 0) this.cascade(3 * SIZE + ((t >>> (3 * BITS)) & MASK));
          this.cascade(2 * SIZE + ((t >>> (2 * BITS)) & MASK));
        }
        this.cascade(SIZE + ((t >>> BITS) & MASK));
      }
      this.cur = t + 1;
      const b = t & MASK;
      let s: number;
      while ((s = this.heads[b]!) !== NIL) {
        this.unlink(s);
        fired++;
        onExpire(s);
      }
      if (this.size === 0) {
        this.cur = Math.min(target + 1, MAX_TICK);
        break;
      }
      if (t === MAX_TICK) break;
    }
    return fired;
  }

  clear(): void {
    this.prev.fill(NIL);
    this.next.fill(NIL);
    this.heads.fill(NIL);
    this.size = 0;
  }
}
