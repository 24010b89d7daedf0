/**
 * Home agent mobility binding list (RFC 5944 §3.8.1): home address → one or more care-of addresses
 * (simultaneous bindings, 'S' bit, §3.6.1.2 / §3.8.2.2), each with its own Identification, flags,
 * delivery mode and lifetime. Deregistration of one care-of address or all of them per §3.8.2.2.
 *
 * Layout: struct-of-arrays, one slot per (home, care-of) binding; the bindings of one home address
 * form a singly-linked chain (`sibling`) whose head the hash index points at. Chains are at most
 * `maxPerNode` long, so every operation is O(1). Slots are preallocated; nothing is allocated on
 * register/find/remove/advance. Full table → FULL; per-node limit → NODE_LIMIT (see status.ts).
 *
 * Memory per binding: 24 bytes of columns + 12 (timer wheel) + 8 (hash index) = 44 bytes.
 */
import { HashIndex } from './hash-index';
import { TimerWheel } from './timer-wheel';
import { FULL, NODE_LIMIT, NONE } from './status';

/** Registration flag bits (RFC 5944 §3.3, first byte after Type). */
export const FLAG_S = 0x80; // simultaneous bindings
export const FLAG_B = 0x40;
export const FLAG_D = 0x20;
export const FLAG_M = 0x10;
export const FLAG_G = 0x08;
export const FLAG_T = 0x02; // reverse tunnelling, RFC 3024

/** Delivery mode of a binding at the home agent (ARCHITECTURE.md, role `ha`). */
export const MODE_TUNNEL = 0; // IP-in-IP (or per flags, GRE/minimal) to the care-of address
export const MODE_VPN_GATEWAY = 1; // node registered through the proxy: route toward the VPN gateway
const MODE_FREE = 0xff;

export type BindingExpireFn = (slot: number) => void;

export interface BindingTableOptions {
  capacity: number;
  /** Per-node limit of simultaneous bindings (policy, answered with code 135). */
  maxPerNode: number;
  tickMs: number;
  /** Initial `now` (ms); the wheel's epoch. */
  now: number;
}

export class BindingTable {
  readonly capacity: number;
  readonly maxPerNode: number;
  readonly home: Uint32Array;
  readonly careOf: Uint32Array;
  /** 64-bit Identification from the Registration Reply (§3.8.1), high and low words. */
  readonly identHi: Uint32Array;
  readonly identLo: Uint32Array;
  /** Lifetime granted (seconds), kept to cap duplicates (§3.8.2.2). */
  readonly lifetime: Uint16Array;
  readonly flags: Uint8Array;
  readonly mode: Uint8Array;
  private readonly sibling: Int32Array;
  private readonly index: HashIndex;
  readonly wheel: TimerWheel;
  private freeHead = 0;
  size = 0;
  private userExpire: BindingExpireFn | null = null;
  private readonly onWheel = (slot: number): void => {
    this.userExpire!(slot);
    this.unlinkAndFree(slot);
  };

  constructor(opts: BindingTableOptions) {
    const cap = opts.capacity;
    if (!(cap >= 1) || !Number.isInteger(cap)) throw new RangeError('capacity must be a positive integer');
    this.capacity = cap;
    this.maxPerNode = opts.maxPerNode;
    this.home = new Uint32Array(cap);
    this.careOf = new Uint32Array(cap);
    this.identHi = new Uint32Array(cap);
    this.identLo = new Uint32Array(cap);
    this.lifetime = new Uint16Array(cap);
    this.flags = new Uint8Array(cap);
    this.mode = new Uint8Array(cap);
    this.sibling = new Int32Array(cap);
    this.index = new HashIndex(cap, this.home);
    this.wheel = new TimerWheel(cap, opts.tickMs, opts.now);
    this.resetFree();
  }

  /** Exact typed-array bytes per binding slot, including the hash index at its load factor. */
  static bytesPerEntry(): number {
    return 4 * 4 + 2 + 1 + 1 + 4 + TimerWheel.BYTES_PER_SLOT + HashIndex.bytesPerEntry();
  }

  /** Bytes that do not scale with capacity. */
  static fixedBytes(): number {
    return TimerWheel.FIXED_BYTES + 4;
  }

  static capacityFor(budgetBytes: number): number {
    return Math.max(0, Math.floor((budgetBytes - BindingTable.fixedBytes()) / BindingTable.bytesPerEntry()));
  }

  /** Typed-array bytes actually allocated by this instance. */
  allocatedBytes(): number {
    return this.capacity * (BindingTable.bytesPerEntry() - HashIndex.bytesPerEntry()) +
      this.index.buckets.byteLength + TimerWheel.FIXED_BYTES;
  }

  private resetFree(): void {
    const cap = this.capacity;
    for (let i = 0; i < cap; i++) this.sibling[i] = i + 1 < cap ? i + 1 : -1;
    this.mode.fill(MODE_FREE);
    this.freeHead = 0;
    this.size = 0;
  }

  /** First binding slot of a home address, or NONE. */
  find(home: number): number {
    return this.index.find(home);
  }

  /** Next binding of the same home address, or NONE. */
  next(slot: number): number {
    return this.sibling[slot]!;
  }

  /** Binding slot of (home, careOf), or NONE. */
  findCareOf(home: number, careOf: number): number {
    let s = this.index.find(home);
    while (s !== NONE && this.careOf[s] !== careOf) s = this.sibling[s]!;
    return s;
  }

  count(home: number): number {
    let n = 0;
    for (let s = this.index.find(home); s !== NONE; s = this.sibling[s]!) n++;
    return n;
  }

  isLive(slot: number): boolean {
    return slot >= 0 && slot < this.capacity && this.mode[slot] !== MODE_FREE;
  }

  expiresAt(slot: number): number {
    return this.wheel.expiresAt(slot);
  }

  /** Remaining lifetime in whole seconds (rounded down, ≥ 0). */
  remaining(slot: number, now: number): number {
    const ms = this.wheel.expiresAt(slot) - now;
    return ms <= 0 ? 0 : Math.floor(ms / 1000);
  }

  /**
   * Accepts a registration with nonzero lifetime (§3.8.2.2): with FLAG_S the binding is added to
   * (or updated among) the node's bindings, otherwise it replaces them all. Returns the slot,
   * FULL or NODE_LIMIT; on failure nothing changes.
   */
  register(home: number, careOf: number, lifetimeSec: number, identHi: number, identLo: number,
    flags: number, mode: number, now: number): number {
    return this.put(home, careOf, identHi, identLo, flags, mode, lifetimeSec, now + lifetimeSec * 1000,
      (flags & FLAG_S) !== 0);
  }

  /** Adds a binding with an absolute expiry, keeping the node's others (snapshot restore). */
  restore(home: number, careOf: number, identHi: number, identLo: number, flags: number, mode: number,
    lifetimeSec: number, expiresAtMs: number): number {
    return this.put(home, careOf, identHi, identLo, flags, mode, lifetimeSec, expiresAtMs, true);
  }

  private put(home: number, careOf: number, identHi: number, identLo: number, flags: number,
    mode: number, lifetimeSec: number, expiresAtMs: number, keep: boolean): number {
    const head = this.index.find(home);
    let slot = NONE;
    if (head !== NONE) {
      slot = this.findCareOf(home, careOf);
      if (slot === NONE) {
        if (!keep) slot = head;
        else if (this.count(home) >= this.maxPerNode) return NODE_LIMIT;
      }
    }
    if (slot === NONE) {
      if (this.freeHead === NONE) return FULL;
      slot = this.freeHead;
      this.freeHead = this.sibling[slot]!;
      this.size++;
      this.home[slot] = home;
      if (head === NONE) {
        this.sibling[slot] = NONE;
        this.index.insert(slot);
      } else {
        this.sibling[slot] = this.sibling[head]!;
        this.sibling[head] = slot;
      }
    }
    this.careOf[slot] = careOf;
    this.identHi[slot] = identHi;
    this.identLo[slot] = identLo;
    this.lifetime[slot] = lifetimeSec > 0xffff ? 0xffff : lifetimeSec;
    this.flags[slot] = flags;
    this.mode[slot] = mode;
    this.wheel.schedule(slot, expiresAtMs);
    if (!keep) this.removeOthers(home, slot);
    return slot;
  }

  private removeOthers(home: number, keepSlot: number): void {
    let s = this.index.find(home);
    while (s !== NONE) {
      const n = this.sibling[s]!;
      if (s !== keepSlot) this.remove(s);
      s = n;
    }
  }

  /**
   * Lifetime-zero registration (§3.8.2.2): careOf === home removes every binding of the node,
   * otherwise only that care-of address. Returns the number of bindings removed.
   */
  deregister(home: number, careOf: number): number {
    if (careOf === home) {
      let n = 0;
      let s = this.index.find(home);
      while (s !== NONE) {
        const nx = this.sibling[s]!;
        this.remove(s);
        n++;
        s = nx;
      }
      return n;
    }
    const s = this.findCareOf(home, careOf);
    if (s === NONE) return 0;
    this.remove(s);
    return 1;
  }

  remove(slot: number): void {
    if (!this.isLive(slot)) return;
    this.wheel.cancel(slot);
    this.unlinkAndFree(slot);
  }

  private unlinkAndFree(slot: number): void {
    const home = this.home[slot]!;
    const head = this.index.find(home);
    const nx = this.sibling[slot]!;
    if (head === slot) {
      if (nx === NONE) this.index.remove(home);
      else this.index.replace(home, 0, nx);
    } else {
      let p = head;
      while (this.sibling[p] !== slot) p = this.sibling[p]!;
      this.sibling[p] = nx;
    }
    this.mode[slot] = MODE_FREE;
    this.sibling[slot] = this.freeHead;
    this.freeHead = slot;
    this.size--;
  }

  /**
   * Expires every binding whose lifetime ended at or before `now` (§3.8.2.2: "MUST delete").
   * `onExpire(slot)` runs before the slot is freed, so it can read the columns; it must not
   * modify this table.
   */
  advance(now: number, onExpire: BindingExpireFn): number {
    this.userExpire = onExpire;
    const n = this.wheel.advance(now, this.onWheel);
    this.userExpire = null;
    return n;
  }

  /** Visits every live binding slot (not on a hot path). */
  forEach(fn: (slot: number) => void): void {
    for (let i = 0; i < this.capacity; i++) if (this.mode[i] !== MODE_FREE) fn(i);
  }

  clear(): void {
    this.index.clear();
    this.wheel.clear();
    this.resetFree();
  }
}
