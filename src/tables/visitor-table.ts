/**
 * Foreign agent visitor list and pending registrations (RFC 5944 §3.7.1, §3.7.2, §3.7.3).
 *
 * A visitor entry holds every field §3.7.1 requires: link-layer source address (MAC as 16 + 32
 * bits), IP source, IP destination, UDP source port, home agent, Identification, requested lifetime
 * and (through the timer wheel) the remaining lifetime; plus the care-of address offered and flags.
 * Visitors are keyed by home address (the delivery key for decapsulated packets).
 *
 * A pending registration is kept apart from the node's visitor entry until a successful reply
 * (§3.7.2: the existing entry "SHOULD NOT be deleted or modified"). Pending entries are keyed by a
 * node key — the home address, or the NAI hash when the home address is 0 (RFC 2794) — and chained
 * per node; at most `maxPendingPerNode` per node (§3.7.1 "typically 5") and `pendingCapacity` in
 * total. A pending entry expires at min(requested lifetime, pending time-out) (§3.7.2.2, and §3.7.1:
 * MAY delete after 7 s, reply code 78). A newcomer's pending entry reserves a visitor slot so a
 * successful reply normally finds room; `accept` can still return FULL in a documented race.
 *
 * One wheel serves both: visitor v is wheel slot v, pending p is wheel slot visitorCapacity + p.
 * Memory: see bytesPerVisitor() / bytesPerPending().
 */
import { HashIndex } from './hash-index';
import { TimerWheel } from './timer-wheel';
import { FULL, NODE_LIMIT, NONE } from './status';

/** RFC 5944 §3.7.1: a pending request MAY be deleted after 7 s (reply code 78). */
export const DEFAULT_PENDING_TIMEOUT_MS = 7000;
/** RFC 5944 §3.7.1: "a maximum number of pending registrations ... (typically 5)". */
export const DEFAULT_MAX_PENDING_PER_NODE = 5;

/** Caller-owned record used to pass the fields of one request without allocating. */
export interface VisitorFields {
  macHi: number; // top 16 bits of the link-layer source address
  macLo: number; // low 32 bits
  ipSrc: number;
  ipDst: number;
  udpSrcPort: number;
  homeAgent: number;
  home: number;
  careOf: number;
  identHi: number;
  identLo: number;
  /** Requested lifetime, seconds. */
  lifetime: number;
  flags: number;
}

export function emptyVisitorFields(): VisitorFields {
  return { macHi: 0, macLo: 0, ipSrc: 0, ipDst: 0, udpSrcPort: 0, homeAgent: 0, home: 0, careOf: 0,
    identHi: 0, identLo: 0, lifetime: 0, flags: 0 };
}

/** Column set shared by visitors and pending entries. */
class Columns {
  readonly macHi: Uint16Array;
  readonly macLo: Uint32Array;
  readonly ipSrc: Uint32Array;
  readonly ipDst: Uint32Array;
  readonly udpSrcPort: Uint16Array;
  readonly homeAgent: Uint32Array;
  readonly home: Uint32Array;
  readonly careOf: Uint32Array;
  readonly identHi: Uint32Array;
  readonly identLo: Uint32Array;
  readonly lifetime: Uint16Array;
  readonly flags: Uint8Array;
  /** 0 = free, 1 = live, 2 = live newcomer (pending only). */
  readonly state: Uint8Array;
  /** Free list, or for pending the per-node chain. */
  readonly link: Int32Array;
  static readonly BYTES = 2 + 4 * 8 + 2 + 2 + 1 + 1 + 4;

  constructor(n: number) {
    this.macHi = new Uint16Array(n);
    this.macLo = new Uint32Array(n);
    this.ipSrc = new Uint32Array(n);
    this.ipDst = new Uint32Array(n);
    this.udpSrcPort = new Uint16Array(n);
    this.homeAgent = new Uint32Array(n);
    this.home = new Uint32Array(n);
    this.careOf = new Uint32Array(n);
    this.identHi = new Uint32Array(n);
    this.identLo = new Uint32Array(n);
    this.lifetime = new Uint16Array(n);
    this.flags = new Uint8Array(n);
    this.state = new Uint8Array(n);
    this.link = new Int32Array(n);
  }

  write(i: number, f: VisitorFields): void {
    this.macHi[i] = f.macHi;
    this.macLo[i] = f.macLo;
    this.ipSrc[i] = f.ipSrc;
    this.ipDst[i] = f.ipDst;
    this.udpSrcPort[i] = f.udpSrcPort;
    this.homeAgent[i] = f.homeAgent;
    this.home[i] = f.home;
    this.careOf[i] = f.careOf;
    this.identHi[i] = f.identHi;
    this.identLo[i] = f.identLo;
    this.lifetime[i] = f.lifetime > 0xffff ? 0xffff : f.lifetime;
    this.flags[i] = f.flags;
  }

  copy(from: Columns, j: number, i: number): void {
    this.macHi[i] = from.macHi[j]!;
    this.macLo[i] = from.macLo[j]!;
    this.ipSrc[i] = from.ipSrc[j]!;
    this.ipDst[i] = from.ipDst[j]!;
    this.udpSrcPort[i] = from.udpSrcPort[j]!;
    this.homeAgent[i] = from.homeAgent[j]!;
    this.home[i] = from.home[j]!;
    this.careOf[i] = from.careOf[j]!;
    this.identHi[i] = from.identHi[j]!;
    this.identLo[i] = from.identLo[j]!;
    this.lifetime[i] = from.lifetime[j]!;
    this.flags[i] = from.flags[j]!;
  }

  /** Reads slot i into a caller-owned record. */
  read(i: number, out: VisitorFields): VisitorFields {
    out.macHi = this.macHi[i]!;
    out.macLo = this.macLo[i]!;
    out.ipSrc = this.ipSrc[i]!;
    out.ipDst = this.ipDst[i]!;
    out.udpSrcPort = this.udpSrcPort[i]!;
    out.homeAgent = this.homeAgent[i]!;
    out.home = this.home[i]!;
    out.careOf = this.careOf[i]!;
    out.identHi = this.identHi[i]!;
    out.identLo = this.identLo[i]!;
    out.lifetime = this.lifetime[i]!;
    out.flags = this.flags[i]!;
    return out;
  }

  resetFree(n: number): void {
    for (let i = 0; i < n; i++) this.link[i] = i + 1 < n ? i + 1 : -1;
    this.state.fill(0);
  }
}

export type SlotFn = (slot: number) => void;

export interface VisitorTableOptions {
  visitorCapacity: number;
  pendingCapacity: number;
  maxPendingPerNode: number;
  pendingTimeoutMs: number;
  tickMs: number;
  now: number;
}

export class VisitorTable {
  readonly visitorCapacity: number;
  readonly pendingCapacity: number;
  readonly maxPendingPerNode: number;
  readonly pendingTimeoutMs: number;
  /** Visitor columns, indexed by visitor slot. */
  readonly visitors: Columns;
  /** Pending columns, indexed by pending slot. */
  readonly pending: Columns;
  /** Pending node key: home address, or NAI hash when the home address is 0. */
  readonly pendingKey: Uint32Array;
  private readonly vIndex: HashIndex;
  private readonly pIndex: HashIndex;
  readonly wheel: TimerWheel;
  private vFree = 0;
  private pFree = 0;
  visitorCount = 0;
  pendingCount = 0;
  /** Pending entries of nodes without a visitor entry: each reserves a visitor slot. */
  private newcomers = 0;
  private onVisitor: SlotFn | null = null;
  private onPending: SlotFn | null = null;
  private readonly onWheel = (w: number): void => {
    const v = this.visitorCapacity;
    if (w < v) {
      this.onVisitor!(w);
      this.freeVisitor(w);
    } else {
      this.onPending!(w - v);
      this.freePending(w - v);
    }
  };

  constructor(opts: VisitorTableOptions) {
    const v = opts.visitorCapacity, p = opts.pendingCapacity;
    if (!(v >= 1 && p >= 1) || !Number.isInteger(v) || !Number.isInteger(p)) {
      throw new RangeError('capacities must be positive integers');
    }
    this.visitorCapacity = v;
    this.pendingCapacity = p;
    this.maxPendingPerNode = opts.maxPendingPerNode;
    this.pendingTimeoutMs = opts.pendingTimeoutMs;
    this.visitors = new Columns(v);
    this.pending = new Columns(p);
    this.pendingKey = new Uint32Array(p);
    this.vIndex = new HashIndex(v, this.visitors.home);
    this.pIndex = new HashIndex(p, this.pendingKey);
    this.wheel = new TimerWheel(v + p, opts.tickMs, opts.now);
    this.reset();
  }

  static bytesPerVisitor(): number {
    return Columns.BYTES + TimerWheel.BYTES_PER_SLOT + HashIndex.bytesPerEntry();
  }

  static bytesPerPending(): number {
    return Columns.BYTES + 4 + TimerWheel.BYTES_PER_SLOT + HashIndex.bytesPerEntry();
  }

  static fixedBytes(): number {
    return TimerWheel.FIXED_BYTES + 8;
  }

  static visitorCapacityFor(budgetBytes: number): number {
    return Math.max(0, Math.floor((budgetBytes - VisitorTable.fixedBytes()) / VisitorTable.bytesPerVisitor()));
  }

  static pendingCapacityFor(budgetBytes: number): number {
    return Math.max(0, Math.floor(budgetBytes / VisitorTable.bytesPerPending()));
  }

  private reset(): void {
    this.visitors.resetFree(this.visitorCapacity);
    this.pending.resetFree(this.pendingCapacity);
    this.vFree = 0;
    this.pFree = 0;
    this.visitorCount = 0;
    this.pendingCount = 0;
    this.newcomers = 0;
  }

  // ---- visitors ----

  findVisitor(home: number): number {
    return this.vIndex.find(home);
  }

  isVisitor(slot: number): boolean {
    return slot >= 0 && slot < this.visitorCapacity && this.visitors.state[slot] !== 0;
  }

  visitorExpiresAt(slot: number): number {
    return this.wheel.expiresAt(slot);
  }

  /** Remaining lifetime of a visitor entry, whole seconds (§3.7.1). */
  visitorRemaining(slot: number, now: number): number {
    const ms = this.wheel.expiresAt(slot) - now;
    return ms <= 0 ? 0 : Math.floor(ms / 1000);
  }

  /** Deletes a visitor entry (successful deregistration reply, or revocation). */
  removeVisitor(slot: number): void {
    if (!this.isVisitor(slot)) return;
    this.wheel.cancel(slot);
    this.freeVisitor(slot);
  }

  private freeVisitor(slot: number): void {
    this.vIndex.remove(this.visitors.home[slot]!);
    this.visitors.state[slot] = 0;
    this.visitors.link[slot] = this.vFree;
    this.vFree = slot;
    this.visitorCount--;
  }

  /** Creates or overwrites the visitor entry for f.home with an absolute expiry (restore). */
  putVisitor(f: VisitorFields, expiresAtMs: number): number {
    let slot = this.vIndex.find(f.home);
    if (slot === NONE) {
      if (this.vFree === NONE || this.visitorCount + this.newcomers >= this.visitorCapacity) return FULL;
      slot = this.allocVisitor(f.home);
    }
    this.visitors.write(slot, f);
    this.wheel.schedule(slot, expiresAtMs);
    return slot;
  }

  private allocVisitor(home: number): number {
    const slot = this.vFree;
    this.vFree = this.visitors.link[slot]!;
    this.visitors.home[slot] = home;
    this.visitors.state[slot] = 1;
    this.vIndex.insert(slot);
    this.visitorCount++;
    return slot;
  }

  // ---- pending registrations ----

  /**
   * Records a relayed request as pending. Returns the pending slot, FULL (total limit, or no visitor
   * slot left for a newcomer) or NODE_LIMIT (per-node limit); both map to reply code 66.
   */
  addPending(f: VisitorFields, nodeKey: number, now: number): number {
    const head = this.pIndex.find(nodeKey);
    if (head !== NONE) {
      let n = 0;
      for (let s = head; s !== NONE; s = this.pending.link[s]!) n++;
      if (n >= this.maxPendingPerNode) return NODE_LIMIT;
    }
    if (this.pFree === NONE) return FULL;
    const newcomer = f.home === 0 || this.vIndex.find(f.home) === NONE;
    if (newcomer && this.visitorCount + this.newcomers >= this.visitorCapacity) return FULL;
    const slot = this.pFree;
    this.pFree = this.pending.link[slot]!;
    this.pending.write(slot, f);
    this.pending.state[slot] = newcomer ? 2 : 1;
    if (newcomer) this.newcomers++;
    this.pendingKey[slot] = nodeKey;
    if (head === NONE) {
      this.pending.link[slot] = NONE;
      this.pIndex.insert(slot);
    } else {
      this.pending.link[slot] = this.pending.link[head]!;
      this.pending.link[head] = slot;
    }
    this.pendingCount++;
    const lifeMs = f.lifetime * 1000;
    const wait = lifeMs > 0 && lifeMs < this.pendingTimeoutMs ? lifeMs : this.pendingTimeoutMs;
    this.wheel.schedule(this.visitorCapacity + slot, now + wait);
    return slot;
  }

  /** Pending slot matching a reply: node key and the low 32 bits of Identification (§3.7.3.1). */
  findPending(nodeKey: number, identLo: number): number {
    let s = this.pIndex.find(nodeKey);
    while (s !== NONE && this.pending.identLo[s] !== identLo) s = this.pending.link[s]!;
    return s;
  }

  /** First pending entry of a node and the next one in its chain (NONE at the end). */
  firstPending(nodeKey: number): number {
    return this.pIndex.find(nodeKey);
  }

  nextPending(slot: number): number {
    return this.pending.link[slot]!;
  }

  isPending(slot: number): boolean {
    return slot >= 0 && slot < this.pendingCapacity && this.pending.state[slot] !== 0;
  }

  pendingCountOf(nodeKey: number): number {
    let n = 0;
    for (let s = this.pIndex.find(nodeKey); s !== NONE; s = this.pending.link[s]!) n++;
    return n;
  }

  /** Drops a pending entry (denial reply, or the request was answered by the FA itself). */
  removePending(slot: number): void {
    if (!this.isPending(slot)) return;
    this.wheel.cancel(this.visitorCapacity + slot);
    this.freePending(slot);
  }

  private freePending(slot: number): void {
    const key = this.pendingKey[slot]!;
    const head = this.pIndex.find(key);
    const nx = this.pending.link[slot]!;
    if (head === slot) {
      if (nx === NONE) this.pIndex.remove(key);
      else this.pIndex.replace(key, 0, nx);
    } else {
      let p = head;
      while (this.pending.link[p] !== slot) p = this.pending.link[p]!;
      this.pending.link[p] = nx;
    }
    if (this.pending.state[slot] === 2) this.newcomers--;
    this.pending.state[slot] = 0;
    this.pending.link[slot] = this.pFree;
    this.pFree = slot;
    this.pendingCount--;
  }

  /**
   * Successful registration reply (§3.7.3.2): the pending entry becomes the node's visitor entry
   * (created or overwritten) with the granted lifetime; `home` is the reply's Home Address (it may
   * have been 0 in the request, RFC 2794). Returns the visitor slot or FULL (rare race: a visitor
   * expired and its slot went to a newcomer). The pending entry is freed either way.
   */
  accept(pendingSlot: number, home: number, grantedLifetimeSec: number, now: number): number {
    const wasNewcomer = this.pending.state[pendingSlot] === 2;
    let slot = this.vIndex.find(home);
    if (slot === NONE) {
      // A newcomer's own reservation is released below, so it may take the last slot.
      const reserved = this.newcomers - (wasNewcomer ? 1 : 0);
      if (this.vFree === NONE || this.visitorCount + reserved >= this.visitorCapacity) {
        this.removePending(pendingSlot);
        return FULL;
      }
      if (wasNewcomer) {
        this.pending.state[pendingSlot] = 1;
        this.newcomers--;
      }
      slot = this.allocVisitor(home);
    }
    this.visitors.copy(this.pending, pendingSlot, slot);
    this.visitors.home[slot] = home;
    this.wheel.schedule(slot, now + grantedLifetimeSec * 1000);
    this.removePending(pendingSlot);
    return slot;
  }

  /**
   * Expires visitors (`onVisitorExpire(visitorSlot)`) and pending entries
   * (`onPendingExpire(pendingSlot)`, reply code 78 if the time-out struck) due at or before `now`.
   * Callbacks run before the slot is freed and must not modify this table.
   */
  advance(now: number, onVisitorExpire: SlotFn, onPendingExpire: SlotFn): number {
    this.onVisitor = onVisitorExpire;
    this.onPending = onPendingExpire;
    const n = this.wheel.advance(now, this.onWheel);
    this.onVisitor = null;
    this.onPending = null;
    return n;
  }

  forEachVisitor(fn: (slot: number) => void): void {
    for (let i = 0; i < this.visitorCapacity; i++) if (this.visitors.state[i] !== 0) fn(i);
  }

  clear(): void {
    this.vIndex.clear();
    this.pIndex.clear();
    this.wheel.clear();
    this.reset();
  }
}

export type { Columns as VisitorColumns };
