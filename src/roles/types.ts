/**
 * The contract between the role state machines and the daemon: events in, actions out.
 *
 * A role is `step(state, event, now) → Action[]` (STYLE.md §6). The state holds its tables and
 * an injected `random()`; `now` is Unix time in milliseconds (the tables store absolute expiry
 * times for snapshots). Nothing in src/roles touches a socket, a file, a timer or the clock.
 * The daemon (src/cli/daemon.ts) performs the actions; the data plane acts on the `*-binding`,
 * `visitor` and `mn-*` actions (signalling-only daemons with `dataplane none` just log them).
 */

/** A datagram received on the Mobile IP UDP socket. */
export interface UdpEvent {
  kind: 'udp';
  src: number;
  srcPort: number;
  /** Local address it arrived on (0 when unknown). */
  dst: number;
  dstPort: number;
  /** Arrival interface, when the socket layer knows it. */
  ifname?: string;
  /** IP TTL of the datagram and link-layer source (12 hex digits), when the socket layer knows them. */
  ttl?: number;
  linkSrc?: string;
  data: Buffer;
}

/** An ICMP agent advertisement or solicitation received on an interface. */
export interface IcmpEvent {
  kind: 'icmp';
  src: number;
  dst: number;
  ifname: string;
  ttl: number;
  /** Link-layer source address as 12 hex digits, when known. */
  linkSrc?: string;
  data: Buffer;
}

/** Periodic tick: timers, lifetimes, retransmissions, advertisements. */
export interface TickEvent { kind: 'tick' }

/** An interface or address change (from netlink, hotplug, or a test script). */
export interface LinkEvent {
  kind: 'link';
  ifname: string;
  up: boolean;
  /** IPv4 addresses on the interface with prefix lengths. */
  addresses: Array<{ address: number; prefixLength: number }>;
  /** Default gateway reachable through this interface, if any (0 = none). */
  gateway?: number;
}

/** Operator commands from the control socket that change state. */
export type ControlEvent =
  | { kind: 'revoke'; home: number }
  | { kind: 'shutdown' };

export type RoleEvent = UdpEvent | IcmpEvent | TickEvent | LinkEvent | ControlEvent;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean>;

export type TunnelType = 'ipip' | 'udp';

export type Action =
  /** Send a UDP datagram from the Mobile IP socket (src/srcPort default to the socket's). */
  | { kind: 'send-udp'; dst: number; dstPort: number; src?: number; ifname?: string; data: Buffer }
  /** Send an ICMP message on an interface (agent discovery: TTL 1). */
  | { kind: 'send-icmp'; ifname: string; dst: number; ttl: number; data: Buffer }
  /** Home agent: deliver packets for `home` to `careOf` (tunnel) or toward the VPN gateway. */
  | { kind: 'ha-binding'; op: 'set' | 'del'; home: number; careOf: number; mode: 'tunnel' | 'vpn'; tunnel: TunnelType; port: number; reverse: boolean }
  /** Proxy: packets for `outer` go to `careOf` (IP-in-IP, or UDP to careOf:port behind NAT). */
  | { kind: 'proxy-binding'; op: 'set' | 'del'; home: number; outer: number; careOf: number; tunnel: TunnelType; port: number }
  /** Foreign agent: deliver packets for `home` on `ifname` to `linkAddr`; reverse-tunnel to `homeAgent`. */
  | { kind: 'visitor'; op: 'set' | 'del'; home: number; ifname: string; linkAddr: string; homeAgent: number; careOf: number; reverse: boolean }
  /** Mobile node: the addresses and tunnel endpoint the data plane must use now. */
  | { kind: 'mn-state'; location: 'home' | 'foreign' | 'detached'; homeAddress: number; outerAddress: number; careOf: number; ifname: string; agent: number; tunnel: TunnelType | 'none'; natPort: number; vpn: 'up' | 'pass-through' | 'down';
      /** Other care-of addresses: the standby binding, and those a registration is pending from (tunnel 'none'). */
      others: Array<{ ifname: string; careOf: number; agent: number; tunnel: TunnelType | 'none' }> }
  | { kind: 'log'; level: LogLevel; event: string; fields: LogFields };

/** A counter set: every drop and every protocol event has a name here (STYLE.md §10). */
export type Counters = Record<string, number>;

export function count(c: Counters, name: string, n = 1): void {
  c[name] = (c[name] ?? 0) + n;
}

export function log(level: LogLevel, event: string, fields: LogFields = {}): Action {
  return { kind: 'log', level, event, fields };
}

/** Dotted quad of a uint32 address, for log fields (roles do not import the edges' ip-address). */
export function ipStr(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** Random source injected into a role: returns a uint32. */
export type Random32 = () => number;
