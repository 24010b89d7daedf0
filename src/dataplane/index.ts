/**
 * The data plane: carries packets for the bindings the role state machines decide on. The role
 * emits `ha-binding`, `proxy-binding`, `visitor` and `mn-state` actions and agent discovery
 * `send-icmp` actions; a data plane turns them into interfaces, addresses, routes, rules and
 * packet forwarding.
 *
 * - `none`: signalling only; nothing is installed (actions are recorded for `status`).
 * - `userspace`: TUN devices and raw IPv4 sockets from the native addon (src/dataplane/native.ts)
 *   carry IP-in-IP (RFC 2003) and RFC 3519 UDP tunnels in this process; rtnetlink
 *   (src/netlink/rtnl.ts) installs addresses, routes and rules, all tagged and removed on stop.
 * - `kernel`: IP-in-IP in the kernel (src/dataplane/kernel.ts: collect-metadata device, one
 *   lightweight-tunnel route per binding, tc flower anti-spoofing), falling back to `userspace`
 *   when the kernel has no ipip module.
 */
import type { Action, LogFields, LogLevel, RoleEvent } from '../roles/types';

export interface DataplaneHost {
  /** Sends a datagram from the daemon's Mobile IP socket bound to `src` (tunnel data, keepalives). */
  sendUdp(data: Buffer, dst: number, port: number, src?: number): void;
  log(level: LogLevel, event: string, fields?: LogFields): void;
  count(name: string, n?: number): void;
  /** Feeds an event to the role: received ICMP discovery messages, link and address changes. */
  dispatch(ev: RoleEvent): void;
}

export interface DataPlane {
  readonly mode: 'none' | 'userspace' | 'kernel';
  start(): Promise<void>;
  /** Carries out one data-plane action, in order with the role's other actions. */
  apply(a: Action): Promise<void>;
  /** An RFC 3519 tunnel data message (type 4) arrived on the Mobile IP UDP socket. */
  tunnelData(data: Buffer, src: number, srcPort: number, dst: number): void;
  status(): Record<string, unknown>;
  /** Removes everything this data plane installed. */
  stop(): Promise<void>;
}

/** Signalling only: remembers the last state per binding for `status`. */
export class NoDataPlane implements DataPlane {
  readonly mode = 'none' as const;
  private readonly state = new Map<string, Action>();
  private icmpWarned = false;

  constructor(private readonly host: DataplaneHost) {}

  async start(): Promise<void> {}

  async apply(a: Action): Promise<void> {
    if (a.kind === 'send-icmp') {
      this.host.count('icmp_unsupported');
      if (!this.icmpWarned) {
        this.icmpWarned = true;
        this.host.log('warn', 'icmp-unavailable', { reason: "dataplane 'none' has no raw ICMP socket: agent advertisements and solicitations are not sent" });
      }
      return;
    }
    const key = a.kind === 'mn-state' ? 'mn' : 'home' in a ? `${a.kind}/${a.home}/${'careOf' in a ? a.careOf : 0}` : a.kind;
    if ('op' in a && a.op === 'del') this.state.delete(key);
    else this.state.set(key, a);
  }

  tunnelData(): void {
    this.host.count('rx_tunnel_data_no_dataplane');
  }

  status(): Record<string, unknown> {
    return { mode: 'none', mn: this.state.get('mn') ?? null, entries: this.state.size };
  }

  async stop(): Promise<void> {}
}
