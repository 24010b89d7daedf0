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
  /**
   * Per binding action kind: home address → the last action per care-of address (numbers as keys:
   * no string per action; a short array per address, not a Map: a Map per node cost 4-5 MB of RSS
   * with a full router-128m proxy table, an array of one costs what the old string key did).
   */
  private readonly state = new Map<string, Map<number, Action[]>>();
  private mn: Action | null = null;
  private entries = 0;
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
    if (a.kind === 'mn-state') {
      this.mn = a;
      return;
    }
    if (!('home' in a)) return;
    let byHome = this.state.get(a.kind);
    if (!byHome) this.state.set(a.kind, (byHome = new Map()));
    const list = byHome.get(a.home);
    const i = list ? list.findIndex((x) => 'careOf' in x && x.careOf === a.careOf) : -1;
    if (a.op === 'del') {
      if (i < 0) return;
      list!.splice(i, 1);
      this.entries--;
      if (list!.length === 0) byHome.delete(a.home);
    } else if (i >= 0) {
      list![i] = a;
    } else {
      if (list) list.push(a);
      else byHome.set(a.home, [a]);
      this.entries++;
    }
  }

  tunnelData(): void {
    this.host.count('rx_tunnel_data_no_dataplane');
  }

  status(): Record<string, unknown> {
    return { mode: 'none', mn: this.mn, entries: this.entries + (this.mn ? 1 : 0) };
  }

  async stop(): Promise<void> {}
}
