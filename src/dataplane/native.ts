/**
 * Typed wrapper of roamd's native addon (native/, N-API C): TUN devices (IFF_TUN | IFF_NO_PI) and
 * raw IPv4 sockets (ICMP for agent discovery, RFC 5944 §2; protocol 4 for IP-in-IP, RFC 2003,
 * without the kernel ipip module). Every fd is owned by one small object with an explicit
 * close(); a finalizer closes it if the object is collected first. Reads are batched: libuv
 * polls the fd and, per wake-up, the addon reads up to `batch` packets without blocking and
 * calls back once with the array. Writes hand the caller's memory to the kernel without a copy.
 *
 * Addresses are uint32 numbers (host order), as everywhere inside roamd. System errors carry
 * Node-style `code` ('ENODEV'), `errno` and `syscall`.
 *
 * The addon is loaded lazily on first use, so importing this module never fails: from
 * $ROAMD_NATIVE, beside the bundle, or from native/build/Release relative to the bundle (dist/) or
 * to this file (src/dataplane, under tsx).
 */
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';

/** One received packet. Raw sockets and TUN deliver the whole IPv4 datagram, header included. */
export interface Packet {
  data: Buffer;
  /** Arrival interface: IP_PKTINFO for raw sockets, the device itself for a TUN. */
  ifindex: number;
  /** IPv4 source (raw sockets: from the socket address; TUN: from the header, 0 if not IPv4). */
  src: number;
  /** IPv4 TTL from the header, when the packet is IPv4. */
  ttl?: number;
}

export type PacketCallback = (pkts: Packet[]) => void;

/** A system error thrown or reported by the addon. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export interface NativeStats {
  rxPackets: number;
  rxBytes: number;
  /** Poll wake-ups; rxPackets / rxWakeups is the mean batch size. */
  rxWakeups: number;
  /** Raw sockets: datagrams longer than maxPacket, dropped. */
  rxTruncated: number;
  rxErrors: number;
  txPackets: number;
  txBytes: number;
  /** Sends the kernel refused for lack of room (EAGAIN, ENOBUFS): dropped, not thrown. */
  txDropped: number;
}

export interface TunOptions {
  /** Sets the device MTU (68..65535) after creation. */
  mtu?: number;
  /** Sets IFF_UP after creation (addresses and routes are netlink's job). */
  up?: boolean;
}

export interface RawSocketOptions {
  /** IP_HDRINCL: the buffers passed to send() start with the IPv4 header (caller-built). */
  hdrincl?: boolean;
  /** SO_BINDTODEVICE at open. */
  device?: string;
  /** IP_PKTINFO, for Packet.ifindex. Default true. */
  pktinfo?: boolean;
  /** IP_TTL for unicast sends without hdrincl. */
  ttl?: number;
  /** IP_MULTICAST_TTL (agent solicitations: 1, RFC 5944 §2.2). */
  multicastTtl?: number;
  /** IP_MULTICAST_IF by interface index (struct ip_mreqn). */
  multicastIf?: string;
  /** IP_MULTICAST_LOOP; the kernel default (on) is kept when absent. */
  multicastLoop?: boolean;
  /** SO_RCVBUF(FORCE) / SO_SNDBUF(FORCE) in bytes. */
  recvBuf?: number;
  sendBuf?: number;
  /** Largest datagram received whole (default 65535; longer ones are counted and dropped). */
  maxPacket?: number;
  /** ICMP sockets: ICMP_FILTER so only these types (0..31) are queued, e.g. [9, 10]. */
  icmpTypes?: number[];
}

interface Binding {
  ifIndex(name: string): number;
  ifName(index: number): string;
  tunOpen(name: string, opts: TunOptions): [object, number, string, number];
  tunWrite(h: object, buf: Uint8Array, off?: number, len?: number): number;
  tunWriteBatch(h: object, bufs: Uint8Array[]): number;
  rawOpen(protocol: number, opts: Record<string, unknown>): [object, number];
  rawSend(h: object, buf: Uint8Array, dst: number, off?: number, len?: number): number;
  rawSendBatch(h: object, bufs: Uint8Array[], dsts: number[]): number;
  rawBindDevice(h: object, ifname: string): void;
  rawMembership(h: object, join: boolean, group: number, ifname: string): void;
  start(h: object, cb: (pkts: Packet[], err?: NativeError) => void, batch: number): void;
  stop(h: object): void;
  close(h: object): void;
  stats(h: object): NativeStats;
  setRef(h: object, ref: boolean): void;
  gratuitousArp(ifname: string, ip: number): void;
  dropCapabilities(keep: number[], keepAcrossSetuid?: boolean): { threads: number; passes: number; unreachable: number };
}

const ADDON_FILE = 'roamd_native.node';
/** Packets per wake-up when the caller does not say (the kernel's NAPI budget is 64 as well). */
export const DEFAULT_BATCH = 64;
export const MAX_BATCH = 1024;

/** Where the addon is looked for, in order. */
export function addonCandidates(): string[] {
  const list: string[] = [];
  if (process.env.ROAMD_NATIVE) list.push(process.env.ROAMD_NATIVE);
  list.push(
    join(__dirname, ADDON_FILE), // installed beside the bundle (OpenWrt package)
    join(__dirname, '..', 'native', 'build', 'Release', ADDON_FILE), // dist/roamd.js in the repo
    join(__dirname, '..', '..', 'native', 'build', 'Release', ADDON_FILE), // src/dataplane under tsx
  );
  return list;
}

let binding: Binding | undefined;

/** Loads the addon once; throws a clear error naming the paths tried and how to build it. */
export function loadNative(): Binding {
  if (binding) return binding;
  const tried = addonCandidates();
  const path = tried.find((p) => existsSync(p));
  if (!path) {
    const err = new Error(`roamd native addon not found (tried ${tried.join(', ')}); build it with \`npm run build:native\` (node-gyp) or set ROAMD_NATIVE`) as NativeError;
    err.code = 'ERR_NATIVE_MISSING';
    throw err;
  }
  const mod = { exports: {} as Binding };
  process.dlopen(mod, path, constants.dlopen.RTLD_NOW);
  binding = mod.exports;
  return binding;
}

/** if_nametoindex(3); throws ENODEV for an unknown name. */
export function ifIndex(name: string): number {
  return loadNative().ifIndex(name);
}

/** if_indextoname(3); throws ENODEV for an unknown index. */
/**
 * Broadcasts a gratuitous ARP request announcing `ip` with `ifname`'s hardware address
 * (RFC 5944 §4.6): neighbours on the link update their caches.
 */
export function gratuitousArp(ifname: string, ip: number): void {
  loadNative().gratuitousArp(ifname, ip >>> 0);
}

/** Linux capability numbers (include/uapi/linux/capability.h; a stable kernel ABI). */
export const CAPABILITIES: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5, CAP_SETGID: 6,
  CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9, CAP_NET_BIND_SERVICE: 10, CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15, CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17, CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20, CAP_SYS_ADMIN: 21, CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23, CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25, CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29, CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31, CAP_MAC_OVERRIDE: 32, CAP_MAC_ADMIN: 33, CAP_SYSLOG: 34, CAP_WAKE_ALARM: 35, CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37, CAP_PERFMON: 38, CAP_BPF: 39, CAP_CHECKPOINT_RESTORE: 40,
};

/**
 * Keeps only the capabilities named in `keep` (e.g. ['CAP_NET_ADMIN', 'CAP_NET_RAW']) in the
 * effective, permitted and inheritable sets of every thread of the process, drops all others from
 * the bounding set, clears the ambient set, sets no_new_privs and the NOROOT securebits (an execve
 * as root gains nothing back). Irreversible. Throws a NativeError (EPERM, ...) or a TypeError for
 * an unknown name. Returns how many threads the process had, how many passes it took, and how many
 * threads could not be reached because they block every signal (Node 20: the inspector's SIGUSR1
 * watcher thread, which only waits on a semaphore; see native/src/caps.c). `keepAcrossSetuid` also
 * sets SECBIT_NO_SETUID_FIXUP, so that a following setuid away from 0 keeps the sets.
 */
export function dropCapabilities(keep: string[], keepAcrossSetuid = false): { threads: number; passes: number; unreachable: number } {
  const nums = keep.map((n) => {
    const c = CAPABILITIES[n.toUpperCase().startsWith('CAP_') ? n.toUpperCase() : `CAP_${n.toUpperCase()}`];
    if (c === undefined) throw new TypeError(`unknown capability ${JSON.stringify(n)}`);
    return c;
  });
  return loadNative().dropCapabilities(nums, keepAcrossSetuid);
}

export function ifName(index: number): string {
  return loadNative().ifName(index);
}

/** Objects that are polling stay reachable here, so a forgotten reference cannot stop delivery. */
const polling = new Set<PacketSource>();

abstract class PacketSource {
  protected closed = false;

  protected constructor(protected readonly handle: object, readonly fd: number) {}

  /**
   * Starts delivering packets: one call per wake-up with up to `batch` packets, read without
   * blocking until EAGAIN. Calling again replaces the callback and batch size. A read error stops
   * delivery and goes to `onError` (thrown as an uncaught exception when there is none).
   */
  onPackets(cb: PacketCallback, batch = DEFAULT_BATCH, onError?: (err: NativeError) => void): void {
    if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) throw new RangeError(`batch must be an integer in [1, ${MAX_BATCH}]`);
    loadNative().start(this.handle, (pkts, err) => {
      if (pkts.length) cb(pkts);
      if (err) {
        polling.delete(this);
        if (onError) onError(err);
        else throw err;
      }
    }, batch);
    polling.add(this);
  }

  /** Stops delivery (the fd stays open; packets queue in the kernel up to its buffer). */
  offPackets(): void {
    if (this.closed) return;
    loadNative().stop(this.handle);
    polling.delete(this);
  }

  /** Whether active polling keeps the process alive (default yes), like a socket's ref/unref. */
  ref(): this { loadNative().setRef(this.handle, true); return this; }
  unref(): this { loadNative().setRef(this.handle, false); return this; }

  stats(): NativeStats {
    return loadNative().stats(this.handle);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops polling and closes the fd; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    polling.delete(this);
    loadNative().close(this.handle);
  }
}

/** A TUN device: IPv4 packets in and out of the kernel's stack, no packet-info prefix. */
export class Tun extends PacketSource {
  private constructor(handle: object, fd: number, readonly name: string, readonly ifindex: number) {
    super(handle, fd);
  }

  /** Creates (or attaches to) the TUN device `name` ('' or a pattern like 'roamd%d' lets the kernel pick). */
  static open(name: string, opts: TunOptions = {}): Tun {
    const [h, fd, actual, ifindex] = loadNative().tunOpen(name, opts);
    return new Tun(h, fd, actual, ifindex);
  }

  /** Writes one packet from buf[off, off+len) straight from its memory; -1 if the kernel dropped it. */
  write(buf: Uint8Array, off?: number, len?: number): number {
    return loadNative().tunWrite(this.handle, buf, off, len);
  }

  /** Writes packets in order; returns how many went in (fewer if the kernel ran out of room). */
  writeBatch(bufs: Uint8Array[]): number {
    return loadNative().tunWriteBatch(this.handle, bufs);
  }
}

/** A raw IPv4 socket for one protocol (1 ICMP, 4 IP-in-IP, ...). */
export class RawSocket extends PacketSource {
  private constructor(handle: object, fd: number, readonly protocol: number) {
    super(handle, fd);
  }

  static open(protocol: number, opts: RawSocketOptions = {}): RawSocket {
    const { icmpTypes, ...rest } = opts;
    const o: Record<string, unknown> = { ...rest };
    if (icmpTypes) {
      let mask = 0;
      for (const t of icmpTypes) {
        if (!Number.isInteger(t) || t < 0 || t > 31) throw new RangeError(`ICMP type ${t} cannot be filtered (0..31 only)`);
        mask |= 1 << t;
      }
      o.icmpAccept = mask;
    }
    const [h, fd] = loadNative().rawOpen(protocol, o);
    return new RawSocket(h, fd, protocol);
  }

  /**
   * sendto(2) of buf[off, off+len) to `dst`, without copying. With hdrincl the bytes start with
   * the IPv4 header and `dst` only picks the route. Returns bytes sent, -1 if the kernel dropped it.
   */
  send(buf: Uint8Array, dst: number, off?: number, len?: number): number {
    return loadNative().rawSend(this.handle, buf, dst >>> 0, off, len);
  }

  /** sendmmsg(2) of whole buffers to the matching destinations; returns how many went out. */
  sendBatch(bufs: Uint8Array[], dsts: number[]): number {
    return loadNative().rawSendBatch(this.handle, bufs, dsts);
  }

  /** SO_BINDTODEVICE; '' unbinds. */
  bindDevice(ifname: string): void {
    loadNative().rawBindDevice(this.handle, ifname);
  }

  /** IP_ADD_MEMBERSHIP on `ifname` (needed to receive e.g. 224.0.0.11, RFC 5944 §2.4.2). */
  joinMulticast(group: number, ifname: string): void {
    loadNative().rawMembership(this.handle, true, group >>> 0, ifname);
  }

  leaveMulticast(group: number, ifname: string): void {
    loadNative().rawMembership(this.handle, false, group >>> 0, ifname);
  }
}
