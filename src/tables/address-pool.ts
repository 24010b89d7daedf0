/**
 * Address pool: home addresses for NAI-based dynamic assignment (RFC 2794 §2; RFC 5944 §3.8.1
 * "dynamically associate a home address") and the proxy's invariant outer-address pool
 * (ARCHITECTURE.md, RFC 5265 x-HA).
 *
 * The pool is the range [first, first + count). Each address is FREE, ALLOCATED or HELD. A released
 * address is held for `holdMs` under its owner's NAI so that the same node returning within the hold
 * time gets the same address back (keeps sessions and the VPN outer address stable). The hold time
 * is one constant, so held addresses expire in release order: a FIFO list, O(1) per expiry, no wheel.
 * With no free address left, `allocate` reclaims the oldest held address.
 *
 * The owner is identified by a 64-bit NAI hash (two independent 32-bit hashes, see `naiHash`); the
 * index keys on both words, so a false match needs a 64-bit collision. Unowned allocations (hash 0,0)
 * are not indexed. Memory: bytesPerEntry() per address, no allocation after construction.
 */
import { HashIndex } from './hash-index';
import { FULL, NONE } from './status';

export const FREE = 0;
export const ALLOCATED = 1;
export const HELD = 2;

export interface AddressPoolOptions {
  first: number;
  count: number;
  holdMs: number;
}

/**
 * 32-bit FNV-1a over bytes [off, off+len), seeded; `naiHash(b,o,l,0)` and `naiHash(b,o,l,1)` give
 * the two words of an NAI's 64-bit hash. NAIs compare case-sensitively (RFC 2794 defers to RFC 2486).
 */
export function naiHash(buf: Uint8Array, off: number, len: number, seed: number): number {
  let h = seed === 0 ? 0x811c9dc5 : 0x01000193 ^ 0x9e3779b9;
  for (let i = off; i < off + len; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  // Final avalanche so both words use all their bits.
  h ^= h >>> 15;
  h = Math.imul(h, seed === 0 ? 0x2c1b3c6d : 0x297a2d39);
  h ^= h >>> 12;
  return h >>> 0;
}

/** Same hash over a string's UTF-8 bytes (config and tests; allocates). */
export function naiHashString(nai: string, seed: number): number {
  const b = Buffer.from(nai, 'utf8');
  return naiHash(b, 0, b.length, seed);
}

export class AddressPool {
  readonly first: number;
  readonly count: number;
  readonly holdMs: number;
  readonly state: Uint8Array;
  readonly naiHi: Uint32Array;
  readonly naiLo: Uint32Array;
  /** Hold deadline (ms) of HELD addresses. */
  readonly heldUntil: Float64Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly index: HashIndex;
  private freeHead = NONE;
  private freeTail = NONE;
  private heldHead = NONE;
  private heldTail = NONE;
  allocated = 0;
  held = 0;

  constructor(opts: AddressPoolOptions) {
    const n = opts.count;
    if (!(n >= 1) || !Number.isInteger(n) || !Number.isInteger(opts.first) || opts.first < 0 ||
      opts.first + n > 0x100000000) throw new RangeError('pool range must lie within uint32');
    this.first = opts.first;
    this.count = n;
    this.holdMs = opts.holdMs;
    this.state = new Uint8Array(n);
    this.naiHi = new Uint32Array(n);
    this.naiLo = new Uint32Array(n);
    this.heldUntil = new Float64Array(n);
    this.prev = new Int32Array(n);
    this.next = new Int32Array(n);
    this.index = new HashIndex(n, this.naiHi, this.naiLo);
    this.reset();
  }

  static bytesPerEntry(): number {
    return 1 + 4 + 4 + 8 + 4 + 4 + HashIndex.bytesPerEntry();
  }

  static capacityFor(budgetBytes: number): number {
    return Math.max(0, Math.floor((budgetBytes - 4) / AddressPool.bytesPerEntry()));
  }

  private reset(): void {
    const n = this.count;
    for (let i = 0; i < n; i++) {
      this.prev[i] = i - 1;
      this.next[i] = i + 1 < n ? i + 1 : NONE;
    }
    this.state.fill(FREE);
    this.freeHead = 0;
    this.freeTail = n - 1;
    this.heldHead = this.heldTail = NONE;
    this.allocated = this.held = 0;
  }

  get free(): number {
    return this.count - this.allocated - this.held;
  }

  addressOf(slot: number): number {
    return this.first + slot;
  }

  /** Slot of an address in this pool, or NONE. */
  slotOf(address: number): number {
    const s = address - this.first;
    return s >= 0 && s < this.count ? s : NONE;
  }

  /** Slot allocated to or held for this NAI hash, or NONE. */
  find(naiHi: number, naiLo: number): number {
    if (naiHi === 0 && naiLo === 0) return NONE;
    return this.index.find(naiHi, naiLo);
  }

  /**
   * Address for a node: its current allocation, else the address held for it, else a free one, else
   * the oldest held one. Returns the slot (see addressOf) or FULL when every address is allocated.
   */
  allocate(naiHi: number, naiLo: number, now: number): number {
    let s = this.find(naiHi, naiLo);
    if (s !== NONE) {
      if (this.state[s] === HELD) {
        this.unlinkHeld(s);
        this.state[s] = ALLOCATED;
        this.allocated++;
      }
      return s;
    }
    this.advance(now);
    if (this.freeHead !== NONE) s = this.freeHead;
    else if (this.heldHead !== NONE) {
      s = this.heldHead;
      this.unlinkHeld(s);
      this.unindex(s);
      this.state[s] = FREE;
      this.pushFree(s);
    } else return FULL;
    this.take(s, naiHi, naiLo);
    return s;
  }

  /** Allocates a specific address (static assignment, restore). FULL if it is not available. */
  allocateAddress(address: number, naiHi: number, naiLo: number): number {
    const s = this.slotOf(address);
    if (s === NONE) return FULL;
    if (this.state[s] === ALLOCATED) return this.naiHi[s] === naiHi && this.naiLo[s] === naiLo ? s : FULL;
    if (this.state[s] === HELD) {
      if (this.naiHi[s] !== naiHi || this.naiLo[s] !== naiLo) return FULL;
      this.unlinkHeld(s);
      this.state[s] = ALLOCATED;
      this.allocated++;
      return s;
    }
    if (this.find(naiHi, naiLo) !== NONE) return FULL; // that NAI already owns another address
    this.take(s, naiHi, naiLo);
    return s;
  }

  private take(s: number, naiHi: number, naiLo: number): void {
    this.unlinkFree(s);
    this.state[s] = ALLOCATED;
    this.naiHi[s] = naiHi;
    this.naiLo[s] = naiLo;
    if (naiHi !== 0 || naiLo !== 0) this.index.insert(s);
    this.allocated++;
  }

  /** Releases an allocated address (binding expired or deregistered): held for holdMs if owned. */
  release(slot: number, now: number): void {
    if (slot < 0 || slot >= this.count || this.state[slot] !== ALLOCATED) return;
    this.allocated--;
    if ((this.naiHi[slot] === 0 && this.naiLo[slot] === 0) || this.holdMs <= 0) {
      this.unindex(slot);
      this.state[slot] = FREE;
      this.pushFree(slot);
      return;
    }
    this.state[slot] = HELD;
    this.heldUntil[slot] = now + this.holdMs;
    this.prev[slot] = this.heldTail;
    this.next[slot] = NONE;
    if (this.heldTail !== NONE) this.next[this.heldTail] = slot;
    else this.heldHead = slot;
    this.heldTail = slot;
    this.held++;
  }

  /** Re-holds an address with an absolute deadline, in FIFO order (snapshot restore only). */
  restoreHeld(address: number, naiHi: number, naiLo: number, heldUntilMs: number): number {
    const s = this.allocateAddress(address, naiHi, naiLo);
    if (s < 0) return s;
    this.release(s, heldUntilMs - this.holdMs);
    return s;
  }

  /** Frees held addresses whose hold time has passed; returns how many. */
  advance(now: number): number {
    let n = 0;
    while (this.heldHead !== NONE && this.heldUntil[this.heldHead]! <= now) {
      const s = this.heldHead;
      this.unlinkHeld(s);
      this.unindex(s);
      this.state[s] = FREE;
      this.pushFree(s);
      n++;
    }
    return n;
  }

  /** Held slots oldest first: first, then nextHeld (snapshot). */
  firstHeld(): number {
    return this.heldHead;
  }

  nextHeld(slot: number): number {
    return this.next[slot]!;
  }

  private unindex(s: number): void {
    if (this.naiHi[s] !== 0 || this.naiLo[s] !== 0) this.index.remove(this.naiHi[s]!, this.naiLo[s]!);
    this.naiHi[s] = 0;
    this.naiLo[s] = 0;
  }

  private unlinkHeld(s: number): void {
    const p = this.prev[s]!, n = this.next[s]!;
    if (p !== NONE) this.next[p] = n;
    else this.heldHead = n;
    if (n !== NONE) this.prev[n] = p;
    else this.heldTail = p;
    this.held--;
  }

  private unlinkFree(s: number): void {
    const p = this.prev[s]!, n = this.next[s]!;
    if (p !== NONE) this.next[p] = n;
    else this.freeHead = n;
    if (n !== NONE) this.prev[n] = p;
    else this.freeTail = p;
  }

  /** Appends to the free list tail, so a just-freed address is reused last (least surprise). */
  private pushFree(s: number): void {
    this.prev[s] = this.freeTail;
    this.next[s] = NONE;
    if (this.freeTail !== NONE) this.next[this.freeTail] = s;
    else this.freeHead = s;
    this.freeTail = s;
  }

  clear(): void {
    this.index.clear();
    this.naiHi.fill(0);
    this.naiLo.fill(0);
    this.reset();
  }
}
