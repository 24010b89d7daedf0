/**
 * Open-addressing index from a uint32 key (or a key pair) to a table slot, shared by every table.
 *
 * Linear probing with backward-shift deletion (Knuth 6.4 algorithm R): a delete moves later
 * members of the probe run back, so there are no tombstones and lookups stay O(1) under any churn.
 * The index stores only slot numbers; keys are read from the owning table's columns (`k1[slot]`,
 * `k2[slot]`), so a table must write its key columns before `insert` and remove before clearing them.
 *
 * Memory: 4 bytes per bucket, buckets = ceil(capacity / LOAD_FACTOR) + 1 (never full).
 */

/** Load factor at full table capacity; 0.5 keeps the expected probe length of a miss near 2.5. */
export const LOAD_FACTOR = 0.5;
const EMPTY = -1;

/** murmur3 fmix32: a full-avalanche integer mix, no allocation. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Mix of a key pair (address, port) or (hash1, hash2). */
export function mix2(a: number, b: number): number {
  return mix32(a ^ Math.imul(b ^ 0x5bd1e995, 0x9e3779b1));
}

export type KeyColumn = Uint32Array | Uint16Array;

export class HashIndex {
  readonly buckets: Int32Array;
  readonly nBuckets: number;
  /** Live keys; at most the capacity given to the constructor. */
  size = 0;

  constructor(
    readonly capacity: number,
    private readonly k1: KeyColumn,
    private readonly k2: KeyColumn | null = null,
  ) {
    this.nBuckets = HashIndex.bucketsFor(capacity);
    this.buckets = new Int32Array(this.nBuckets).fill(EMPTY);
  }

  static bucketsFor(capacity: number): number {
    return Math.ceil(capacity / LOAD_FACTOR) + 1;
  }

  /** Bytes of this index per table slot (at full capacity, excluding the +1 bucket). */
  static bytesPerEntry(): number {
    return 4 / LOAD_FACTOR;
  }

  /** Home bucket: Lemire's multiply-shift range reduction (nBuckets need not be a power of two). */
  private home(a: number, b: number): number {
    const h = this.k2 === null ? mix32(a) : mix2(a, b);
    return Math.floor((h * this.nBuckets) / 4294967296);
  }

  private homeOfSlot(slot: number): number {
    return this.home(this.k1[slot]!, this.k2 === null ? 0 : this.k2[slot]!);
  }

  /** Bucket holding the key, or -1. */
  findBucket(a: number, b = 0): number {
    const buckets = this.buckets, k1 = this.k1, k2 = this.k2, n = this.nBuckets;
    let i = this.home(a, b);
    for (;;) {
      const s = buckets[i]!;
      if (s === EMPTY) return -1;
      if (k1[s] === a && (k2 === null || k2[s] === b)) return i;
      if (++i === n) i = 0;
    }
  }

  /** Slot stored under the key, or -1. */
  find(a: number, b = 0): number {
    const i = this.findBucket(a, b);
    return i < 0 ? -1 : this.buckets[i]!;
  }

  /** Adds `slot` (whose key columns are already written). The caller ensures the key is absent. */
  insert(slot: number): void {
    const buckets = this.buckets, n = this.nBuckets;
    let i = this.homeOfSlot(slot);
    while (buckets[i] !== EMPTY) if (++i === n) i = 0;
    buckets[i] = slot;
    this.size++;
  }

  /** Points an existing key at another slot with the same key (e.g. a new chain head). */
  replace(a: number, b: number, slot: number): boolean {
    const i = this.findBucket(a, b);
    if (i < 0) return false;
    this.buckets[i] = slot;
    return true;
  }

  /** Removes the key; returns the slot it held or -1. */
  remove(a: number, b = 0): number {
    const i = this.findBucket(a, b);
    if (i < 0) return -1;
    const slot = this.buckets[i]!;
    this.shiftBack(i);
    this.size--;
    return slot;
  }

  /** Backward shift: pull later run members into the hole unless that would move them before home. */
  private shiftBack(hole: number): void {
    const buckets = this.buckets, n = this.nBuckets;
    let j = hole;
    for (;;) {
      if (++j === n) j = 0;
      const s = buckets[j]!;
      if (s === EMPTY) break;
      const h = this.homeOfSlot(s);
      // s may fill the hole iff its home is not cyclically inside (hole, j].
      const between = hole <= j ? h > hole && h <= j : h > hole || h <= j;
      if (!between) {
        buckets[hole] = s;
        hole = j;
      }
    }
    buckets[hole] = EMPTY;
  }

  clear(): void {
    this.buckets.fill(EMPTY);
    this.size = 0;
  }
}
