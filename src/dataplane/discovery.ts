/**
 * Agent discovery sockets (RFC 1256, RFC 5944 §2): one raw ICMP socket per interface, bound to it,
 * receiving only the given ICMP types, joined to 224.0.0.1 and 224.0.0.11. Agents receive
 * solicitations (10) and send advertisements; nodes receive advertisements (9) and send
 * solicitations. Both data planes use it: the kernel plane tunnels in the kernel but discovery
 * stays in roamd.
 */
import { RawSocket, Packet } from './native';
import { ipv4View } from './packets';
import { IpProto } from '../wire/constants';
import type { Action } from '../roles/types';
import type { DataplaneHost } from './index';

export class DiscoverySockets {
  private readonly socks = new Map<string, RawSocket>();

  /** `heard(src, ifname, icmpType)` runs before each ICMP message is dispatched to the role. */
  constructor(private readonly host: DataplaneHost, private readonly heard?: (src: number, ifname: string, type: number) => void) {}

  private lastErrorLog = 0;

  /** Opens the socket of `ifname` for `types` (throws when the interface does not exist). */
  open(ifname: string, types: number[]): void {
    const s = RawSocket.open(IpProto.ICMP, { device: ifname, pktinfo: true, multicastTtl: 1, multicastIf: ifname, multicastLoop: false, icmpTypes: types });
    s.joinMulticast(0xe0000001, ifname); // 224.0.0.1, advertisements (RFC 1256)
    s.joinMulticast(0xe000000b, ifname); // 224.0.0.11, mobile agents (RFC 5944 §2.2)
    s.onPackets((pkts: Packet[]) => {
      try {
        for (const p of pkts) {
          const v = ipv4View(p.data);
          if (!v || v.protocol !== IpProto.ICMP) continue;
          this.heard?.(v.src, ifname, p.data[v.headerLength]!);
          this.host.dispatch({ kind: 'icmp', src: v.src, dst: v.dst, ifname, ttl: p.ttl ?? p.data[8]!, data: p.data.subarray(v.headerLength, v.totalLength) });
        }
      } catch (e) {
        // A bad batch is counted and logged at most once a second; the socket keeps running.
        this.host.count(`icmp_${(e as { code?: string }).code ?? 'error'}`);
        const now = Date.now();
        if (now - this.lastErrorLog > 1000) {
          this.lastErrorLog = now;
          this.host.log('warn', 'dataplane-packet-error', { where: 'icmp', error: (e as Error).message });
        }
      }
    });
    this.socks.set(ifname, s);
  }

  /** Sends a `send-icmp` action on its interface's socket; false when there is none. */
  send(a: Extract<Action, { kind: 'send-icmp' }>): boolean {
    const s = this.socks.get(a.ifname);
    if (!s) return false;
    s.send(a.data, a.dst);
    return true;
  }

  close(): void {
    for (const s of this.socks.values()) s.close();
    this.socks.clear();
  }
}
