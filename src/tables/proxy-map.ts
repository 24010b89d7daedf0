/**
 * DMZ proxy map (RFC 5265 x-HA; ARCHITECTURE.md role `proxy`): home address ↔ invariant VPN outer
 * address ↔ current care-of address(es), with per-binding tunnel type and lifetime.
 *
 * Two slot spaces. A node slot holds (home, outer) and is indexed by both. A care-of slot holds one
 * binding of a node (care-of address, UDP port, tunnel type, flags, Identification, lifetime);
 * a node's bindings form a chain (at most `maxPerNode`, simultaneous bindings per RFC 5944 §3.8.2.2).
 *
 * Care-of lookup key is (care-of address, port): port is the NAT-mapped UDP source port for
 * RFC 3519 UDP tunnels and 0 for IP-in-IP. Several nodes can share one key — every node visiting
 * the same foreign agent shares its care-of address — so the CoA index points at the head of a
 * doubly-linked list of care-of slots with that key (`findByCareOf`, `nextSameCareOf`). Two nodes
 * behind one NAT share the address but differ by port, so UDP keys are normally unique. Data-path
 * demultiplexing of reverse-tunnelled packets should use the inner source (the outer address) and
 * then check the care-of address; the CoA key serves NAT keep-alives, revocations and teardown.
 *
 * A node is removed with its last care-of binding (by unbind or expiry). Full → FULL (code 130).
 * Memory: bytesPerNode() + coaPerNode × bytesPerCareOf() per node.
 */
import { HashIndex } from './hash-index';
import { TimerWheel } from './timer-wheel';
import { CONFLICT, FULL, NODE_LIMIT, NONE } from './status';
import { FLAG_S } from './binding-table';

export const TUNNEL_IPIP = 0; // RFC 2003
export const TUNNEL_UDP = 1; // RFC 3519, NAT traversal
const FREE = 0xff;

export interface ProxyMapOptions {
  nodeCapacity: number;
  coaCapacity: number;
  maxPerNode: number;
  tickMs: number;
  now: number;
}

export type CoaExpireFn = (coaSlot: number) => void;

export class ProxyMap {
  readonly nodeCapacity: number;
  readonly coaCapacity: number;
  readonly maxPerNode: number;
  // node columns
  readonly home: Uint32Array;
  readonly outer: Uint32Array;
  private readonly firstCoaOf: Int32Array;
  private readonly nodeLink: Int32Array; // free list
  private readonly nodeState: Uint8Array;
  private readonly byHome: HashIndex;
  private readonly byOuter: HashIndex;
  // care-of columns
  readonly node: Int32Array;
  readonly careOf: Uint32Array;
  readonly port: Uint16Array;
  readonly tunnel: Uint8Array;
  readonly flags: Uint8Array;
  readonly identHi: Uint32Array;
  readonly identLo: Uint32Array;
  readonly lifetime: Uint16Array;
  private readonly sibling: Int32Array; // chain per node, free list when free
  private readonly kPrev: Int32Array; // list per (careOf, port)
  private readonly kNext: Int32Array;
  private readonly byCareOf: HashIndex;
  readonly wheel: TimerWheel;
  private nodeFree = 0;
  private coaFree = 0;
  nodeCount = 0;
  coaCount = 0;
  private userExpire: CoaExpireFn | null = null;
  private readonly onWheel = (slot: number): void => {
    this.userExpire!(slot);
    this.freeCoa(slot);
  };

  constructor(opts: ProxyMapOptions) {
    const n = opts.nodeCapacity, c = opts.coaCapacity;
    if (!(n >= 1 && c >= 1) || !Number.isInteger(n) || !Number.isInteger(c)) {
      throw new RangeError('capacities must be positive integers');
    }
    this.nodeCapacity = n;
    this.coaCapacity = c;
    this.maxPerNode = opts.maxPerNode;
    this.home = new Uint32Array(n);
    this.outer = new Uint32Array(n);
    this.firstCoaOf = new Int32Array(n);
    this.nodeLink = new Int32Array(n);
    this.nodeState = new Uint8Array(n);
    this.byHome = new HashIndex(n, this.home);
    this.byOuter = new HashIndex(n, this.outer);
    this.node = new Int32Array(c);
    this.careOf = new Uint32Array(c);
    this.port = new Uint16Array(c);
    this.tunnel = new Uint8Array(c);
    this.flags = new Uint8Array(c);
    this.identHi = new Uint32Array(c);
    this.identLo = new Uint32Array(c);
    this.lifetime = new Uint16Array(c);
    this.sibling = new Int32Array(c);
    this.kPrev = new Int32Array(c);
    this.kNext = new Int32Array(c);
    this.byCareOf = new HashIndex(c, this.careOf, this.port);
    this.wheel = new TimerWheel(c, opts.tickMs, opts.now);
    this.reset();
  }

  static bytesPerNode(): number {
    return 4 + 4 + 4 + 4 + 1 + 2 * HashIndex.bytesPerEntry();
  }

  static bytesPerCareOf(): number {
    return 4 + 4 + 2 + 1 + 1 + 4 + 4 + 2 + 4 + 4 + 4 + TimerWheel.BYTES_PER_SLOT + HashIndex.bytesPerEntry();
  }

  static fixedBytes(): number {
    return TimerWheel.FIXED_BYTES + 12;
  }

  /** Node and care-of capacities for a budget, with `coaPerNode` care-of slots per node slot. */
  static capacityFor(budgetBytes: number, coaPerNode: number): { nodes: number; coas: number } {
    const per = ProxyMap.bytesPerNode() + coaPerNode * ProxyMap.bytesPerCareOf();
    const nodes = Math.max(0, Math.floor((budgetBytes - ProxyMap.fixedBytes()) / per));
    return { nodes, coas: Math.floor(nodes * coaPerNode) };
  }

  private reset(): void {
    for (let i = 0; i < this.nodeCapacity; i++) this.nodeLink[i] = i + 1 < this.nodeCapacity ? i + 1 : -1;
    for (let i = 0; i < this.coaCapacity; i++) this.sibling[i] = i + 1 < this.coaCapacity ? i + 1 : -1;
    this.nodeState.fill(0);
    this.tunnel.fill(FREE);
    this.nodeFree = 0;
    this.coaFree = 0;
    this.nodeCount = 0;
    this.coaCount = 0;
  }

  findByHome(home: number): number {
    return this.byHome.find(home);
  }

  findByOuter(outer: number): number {
    return this.byOuter.find(outer);
  }

  /** First care-of slot with this (careOf, port); port 0 for IP-in-IP. */
  findByCareOf(careOf: number, port: number): number {
    return this.byCareOf.find(careOf, port);
  }

  nextSameCareOf(coaSlot: number): number {
    return this.kNext[coaSlot]!;
  }

  firstCoa(nodeSlot: number): number {
    return this.firstCoaOf[nodeSlot]!;
  }

  nextCoa(coaSlot: number): number {
    return this.sibling[coaSlot]!;
  }

  /** Care-of slot of (node, careOf, port) or NONE. */
  findCoa(nodeSlot: number, careOf: number, port: number): number {
    let s = this.firstCoaOf[nodeSlot]!;
    while (s !== NONE && (this.careOf[s] !== careOf || this.port[s] !== port)) s = this.sibling[s]!;
    return s;
  }

  coaCountOf(nodeSlot: number): number {
    let n = 0;
    for (let s = this.firstCoaOf[nodeSlot]!; s !== NONE; s = this.sibling[s]!) n++;
    return n;
  }

  isNode(slot: number): boolean {
    return slot >= 0 && slot < this.nodeCapacity && this.nodeState[slot] !== 0;
  }

  isCoa(slot: number): boolean {
    return slot >= 0 && slot < this.coaCapacity && this.tunnel[slot] !== FREE;
  }

  expiresAt(coaSlot: number): number {
    return this.wheel.expiresAt(coaSlot);
  }

  /**
   * Registers (home, outer) at (careOf, port) — creating the node if needed. With FLAG_S the
   * binding joins the node's others, otherwise it replaces them. Returns the care-of slot, FULL,
   * NODE_LIMIT, or CONFLICT (home bound to another outer address, or outer to another home).
   * Nothing changes on failure.
   */
  bind(home: number, outer: number, careOf: number, port: number, tunnel: number, flags: number,
    identHi: number, identLo: number, lifetimeSec: number, now: number): number {
    return this.put(home, outer, careOf, port, tunnel, flags, identHi, identLo, lifetimeSec,
      now + lifetimeSec * 1000, (flags & FLAG_S) !== 0);
  }

  /** Adds a binding with an absolute expiry, keeping the node's others (snapshot restore). */
  restore(home: number, outer: number, careOf: number, port: number, tunnel: number, flags: number,
    identHi: number, identLo: number, lifetimeSec: number, expiresAtMs: number): number {
    return this.put(home, outer, careOf, port, tunnel, flags, identHi, identLo, lifetimeSec, expiresAtMs, true);
  }

  private put(home: number, outer: number, careOf: number, port: number, tunnel: number, flags: number,
    identHi: number, identLo: number, lifetimeSec: number, expiresAtMs: number, keep: boolean): number {
    let nd = this.byHome.find(home);
    const byOuter = this.byOuter.find(outer);
    if (nd === NONE ? byOuter !== NONE : byOuter !== nd) return CONFLICT;
    let slot = NONE;
    if (nd !== NONE) {
      slot = this.findCoa(nd, careOf, port);
      if (slot === NONE) {
        if (!keep) slot = this.firstCoaOf[nd]!;
        else if (this.coaCountOf(nd) >= this.maxPerNode) return NODE_LIMIT;
      }
    } else if (this.nodeFree === NONE) return FULL;
    if (slot === NONE && this.coaFree === NONE) return FULL;
    if (nd === NONE) {
      nd = this.nodeFree;
      this.nodeFree = this.nodeLink[nd]!;
      this.home[nd] = home;
      this.outer[nd] = outer;
      this.firstCoaOf[nd] = NONE;
      this.nodeState[nd] = 1;
      this.byHome.insert(nd);
      this.byOuter.insert(nd);
      this.nodeCount++;
    }
    if (slot !== NONE && (this.careOf[slot] !== careOf || this.port[slot] !== port)) {
      this.unlinkKey(slot); // the reused head slot changes its care-of key
      this.careOf[slot] = careOf;
      this.port[slot] = port;
      this.linkKey(slot);
    } else if (slot === NONE) {
      slot = this.coaFree;
      this.coaFree = this.sibling[slot]!;
      this.coaCount++;
      this.node[slot] = nd;
      this.careOf[slot] = careOf;
      this.port[slot] = port;
      this.sibling[slot] = this.firstCoaOf[nd]!;
      this.firstCoaOf[nd] = slot;
      this.linkKey(slot);
    }
    this.tunnel[slot] = tunnel;
    this.flags[slot] = flags;
    this.identHi[slot] = identHi;
    this.identLo[slot] = identLo;
    this.lifetime[slot] = lifetimeSec > 0xffff ? 0xffff : lifetimeSec;
    this.wheel.schedule(slot, expiresAtMs);
    if (!keep) {
      let s = this.firstCoaOf[nd]!;
      while (s !== NONE) {
        const n = this.sibling[s]!;
        if (s !== slot) this.removeCoa(s);
        s = n;
      }
    }
    return slot;
  }

  private linkKey(slot: number): void {
    const head = this.byCareOf.find(this.careOf[slot]!, this.port[slot]!);
    this.kPrev[slot] = NONE;
    if (head === NONE) {
      this.kNext[slot] = NONE;
      this.byCareOf.insert(slot);
    } else {
      // Insert second so the index entry stays valid.
      const n = this.kNext[head]!;
      this.kNext[slot] = n;
      this.kPrev[slot] = head;
      if (n !== NONE) this.kPrev[n] = slot;
      this.kNext[head] = slot;
    }
  }

  private unlinkKey(slot: number): void {
    const p = this.kPrev[slot]!, n = this.kNext[slot]!;
    if (p === NONE) {
      if (n === NONE) this.byCareOf.remove(this.careOf[slot]!, this.port[slot]!);
      else {
        this.byCareOf.replace(this.careOf[slot]!, this.port[slot]!, n);
        this.kPrev[n] = NONE;
      }
    } else {
      this.kNext[p] = n;
      if (n !== NONE) this.kPrev[n] = p;
    }
  }

  /**
   * Lifetime-zero registration: careOf === home of the node removes all its bindings (and the
   * node), otherwise the one (careOf, port) binding. Returns the number of bindings removed.
   */
  unbind(home: number, careOf: number, port: number): number {
    const nd = this.byHome.find(home);
    if (nd === NONE) return 0;
    if (careOf === home) {
      const n = this.coaCountOf(nd);
      this.removeNode(nd);
      return n;
    }
    const s = this.findCoa(nd, careOf, port);
    if (s === NONE) return 0;
    this.removeCoa(s);
    return 1;
  }

  /** Removes a node and all its care-of bindings. */
  removeNode(nodeSlot: number): void {
    if (!this.isNode(nodeSlot)) return;
    let s = this.firstCoaOf[nodeSlot]!;
    while (s !== NONE) {
      const n = this.sibling[s]!;
      this.removeCoa(s);
      s = n;
    }
  }

  /** Removes one care-of binding; its node goes with its last binding. */
  removeCoa(coaSlot: number): void {
    if (!this.isCoa(coaSlot)) return;
    this.wheel.cancel(coaSlot);
    this.freeCoa(coaSlot);
  }

  /** True when removing this binding would remove its node too. */
  isLastCoa(coaSlot: number): boolean {
    const nd = this.node[coaSlot]!;
    return this.firstCoaOf[nd] === coaSlot && this.sibling[coaSlot] === NONE;
  }

  private freeCoa(slot: number): void {
    const nd = this.node[slot]!;
    this.unlinkKey(slot);
    const nx = this.sibling[slot]!;
    if (this.firstCoaOf[nd] === slot) this.firstCoaOf[nd] = nx;
    else {
      let p = this.firstCoaOf[nd]!;
      while (this.sibling[p] !== slot) p = this.sibling[p]!;
      this.sibling[p] = nx;
    }
    this.tunnel[slot] = FREE;
    this.sibling[slot] = this.coaFree;
    this.coaFree = slot;
    this.coaCount--;
    if (this.firstCoaOf[nd] === NONE) {
      this.byHome.remove(this.home[nd]!);
      this.byOuter.remove(this.outer[nd]!);
      this.nodeState[nd] = 0;
      this.nodeLink[nd] = this.nodeFree;
      this.nodeFree = nd;
      this.nodeCount--;
    }
  }

  /**
   * Expires care-of bindings due at or before `now`. `onExpire(coaSlot)` runs before the slot is
   * freed (check `isLastCoa` to learn that the node and its outer address go too); it must not
   * modify this map.
   */
  advance(now: number, onExpire: CoaExpireFn): number {
    this.userExpire = onExpire;
    const n = this.wheel.advance(now, this.onWheel);
    this.userExpire = null;
    return n;
  }

  forEachCoa(fn: (coaSlot: number) => void): void {
    for (let i = 0; i < this.coaCapacity; i++) if (this.tunnel[i] !== FREE) fn(i);
  }

  clear(): void {
    this.byHome.clear();
    this.byOuter.clear();
    this.byCareOf.clear();
    this.wheel.clear();
    this.reset();
  }
}
