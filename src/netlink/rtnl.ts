/**
 * rtnetlink verbs roamd needs, over the `netlink` package: links, addresses, routes, policy
 * rules, proxy neighbour entries, and link/address events. Everything roamd installs is tagged —
 * routes with protocol ROAMD_PROTO, rules with priorities from RULE_BASE — so `cleanup()` removes
 * exactly what roamd added (also after a crash, on the next start).
 */
import { createRtNetlink, RtNetlinkSocket, rt } from 'netlink';
import { readFileSync, writeFileSync } from 'node:fs';
import { RoamdError } from '../errors';
import { ipToString as fmt } from '../platform/address';

/** Route protocol number roamd tags its routes with (unassigned; `ip route show proto 213`). */
export const ROAMD_PROTO = 213;
/** Policy rule priorities roamd uses: RULE_BASE .. RULE_BASE + 99. */
export const RULE_BASE = 10000;
const AF_INET = 2;
const F_CREATE = 0x400, F_REPLACE = 0x100, F_EXCL = 0x200;

export interface RouteSpec {
  dst: number;
  prefixLength: number;
  table?: number;
  dev?: number;
  gateway?: number;
  src?: number;
  metric?: number;
  scope?: 'universe' | 'link';
  /** An `unreachable` route (no device): what is routed by it fails at once with EHOSTUNREACH. */
  unreachable?: boolean;
}

export interface RuleSpec {
  priority: number;
  table: number;
  src?: number;
  srcLength?: number;
  dst?: number;
  dstLength?: number;
  iif?: string;
  oif?: string;
}

const ip = (a: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(a >>> 0);
  return b;
};

function errno(e: unknown): string {
  return (e as { code?: string })?.code ?? (e as Error)?.message ?? String(e);
}

export class Rtnl {
  readonly sock: RtNetlinkSocket;
  /** One request at a time: the socket does not multiplex concurrent multipart answers. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor() {
    const sock = createRtNetlink();
    const request = sock.request.bind(sock);
    sock.request = ((...args: Parameters<typeof request>) => {
      const job = this.chain.then(() => request(...args));
      this.chain = job.catch(() => undefined);
      return job;
    }) as typeof sock.request;
    this.sock = sock;
  }

  /** The socket that listens for link/address/route changes (watch()); never used for requests. */
  private events: RtNetlinkSocket | undefined;

  close(): void {
    this.sock.socket.close();
    this.events?.socket.close();
  }

  async linkIndex(name: string): Promise<number> {
    const links = await this.sock.getLinks();
    const l = links.find((x) => x.attrs.ifname === name);
    if (!l) throw new RoamdError('ERR_CONFIG_INVALID', `interface '${name}' does not exist`);
    return l.data.index!;
  }

  async links(): Promise<Array<{ index: number; name: string; up: boolean; mac?: string }>> {
    return (await this.sock.getLinks()).map((l) => ({
      index: l.data.index!, name: l.attrs.ifname ?? '', up: !!((l.data.flags as { up?: boolean } | undefined)?.up),
      mac: l.attrs.address ? Buffer.from(l.attrs.address).toString('hex') : undefined,
    }));
  }

  async setUp(index: number, mtu?: number): Promise<void> {
    await this.sock.setLink({ index, flags: { up: true } as never, change: { up: true } as never }, mtu ? { mtu } : {});
  }

  async addresses(): Promise<Array<{ index: number; address: number; prefixLength: number }>> {
    return (await this.sock.getAddresses()).filter((a) => a.data.family === AF_INET && a.attrs.local).map((a) => ({
      index: a.data.index!, address: a.attrs.local!.readUInt32BE(0), prefixLength: a.data.prefixlen!,
    }));
  }

  async addAddress(index: number, address: number, prefixLength: number): Promise<void> {
    try {
      await this.sock.newAddress({ family: AF_INET, prefixlen: prefixLength, index }, { local: ip(address), address: ip(address) }, { flags: F_CREATE | F_REPLACE });
    } catch (e) {
      throw new RoamdError('ERR_CONFIG_INVALID', `adding address ${fmt(address)}/${prefixLength}: ${errno(e)}`);
    }
  }

  async delAddress(index: number, address: number, prefixLength: number): Promise<void> {
    await this.sock.delAddress({ family: AF_INET, prefixlen: prefixLength, index }, { local: ip(address), address: ip(address) }).catch(() => undefined);
  }

  private routeMsg(r: RouteSpec): [rt.Route, rt.RouteAttrs] {
    const table = r.table ?? 254;
    const data: rt.Route = { family: AF_INET, dstLen: r.prefixLength, table: table < 256 ? table : 252, protocol: ROAMD_PROTO as never,
      scope: (!r.unreachable && (r.scope === 'link' || (!r.gateway && r.dev !== undefined)) ? 253 : 0) as never, type: (r.unreachable ? 7 : 1) as never };
    const attrs: rt.RouteAttrs = { dst: ip(r.dst), table };
    if (r.dev !== undefined) attrs.oif = r.dev;
    if (r.gateway) attrs.gateway = ip(r.gateway);
    if (r.src) attrs.prefsrc = ip(r.src);
    if (r.metric !== undefined) attrs.priority = r.metric;
    return [data, attrs];
  }

  async addRoute(r: RouteSpec): Promise<void> {
    const [d, a] = this.routeMsg(r);
    try {
      await this.sock.newRoute(d, a, { flags: F_CREATE | F_REPLACE });
    } catch (e) {
      throw new RoamdError('ERR_CONFIG_INVALID', `adding route ${fmt(r.dst)}/${r.prefixLength}: ${errno(e)}`);
    }
  }

  async delRoute(r: RouteSpec): Promise<void> {
    const [d, a] = this.routeMsg(r);
    await this.sock.delRoute(d, a).catch(() => undefined);
  }

  private ruleMsg(r: RuleSpec): [rt.Rule, rt.RuleAttrs] {
    const data: rt.Rule = { family: AF_INET, srcLen: r.src !== undefined ? r.srcLength ?? 32 : 0, dstLen: r.dst !== undefined ? r.dstLength ?? 32 : 0,
      table: r.table < 256 ? r.table : 252, action: 1 as never };
    const attrs: rt.RuleAttrs = { priority: r.priority, table: r.table };
    if (r.src !== undefined) attrs.src = ip(r.src);
    if (r.dst !== undefined) attrs.dst = ip(r.dst);
    if (r.iif) attrs.iifname = r.iif;
    if (r.oif) attrs.oifname = r.oif;
    return [data, attrs];
  }

  async addRule(r: RuleSpec): Promise<void> {
    const [d, a] = this.ruleMsg(r);
    try {
      await this.sock.newRule(d, a, { flags: F_CREATE | F_EXCL });
    } catch (e) {
      if (!/EEXIST/.test(errno(e))) throw new RoamdError('ERR_CONFIG_INVALID', `adding rule ${r.priority}: ${errno(e)}`);
    }
  }

  async delRule(r: RuleSpec): Promise<void> {
    const [d, a] = this.ruleMsg(r);
    await this.sock.delRule(d, a).catch(() => undefined);
  }

  async addProxyNeighbour(index: number, address: number): Promise<void> {
    await this.sock.newNeighbor({ family: AF_INET, ifindex: index, flags: { proxy: true }, state: {} as never }, { dst: ip(address) }, { flags: F_CREATE | F_REPLACE });
  }

  async delProxyNeighbour(index: number, address: number): Promise<void> {
    await this.sock.delNeighbor({ family: AF_INET, ifindex: index, flags: { proxy: true } }, { dst: ip(address) }).catch(() => undefined);
  }

  /** Removes every route tagged ROAMD_PROTO and every rule in roamd's priority range. */
  async cleanup(): Promise<number> {
    let n = 0;
    for (const r of await this.sock.getRoutes({ family: AF_INET })) {
      if (Number(r.data.protocol) !== ROAMD_PROTO && r.data.protocol !== String(ROAMD_PROTO)) continue;
      await this.sock.delRoute(r.data, { dst: r.attrs.dst, table: r.attrs.table, oif: r.attrs.oif, gateway: r.attrs.gateway }).catch(() => undefined);
      n++;
    }
    for (const r of await this.sock.getRules({ family: AF_INET })) {
      const p = r.attrs.priority ?? 0;
      if (p < RULE_BASE || p >= RULE_BASE + 100) continue;
      await this.sock.delRule(r.data, r.attrs).catch(() => undefined);
      n++;
    }
    return n;
  }

  /**
   * Calls `fn` on link, IPv4 address and IPv4 route changes. The notifications come on a socket of
   * their own, as `ip monitor` does: on the request socket one could arrive between the parts of a
   * dump (on kernels before 6.10 NLMSG_DONE comes in a datagram of its own) and the netlink
   * package would fail the dump ("Multipart message not terminated properly").
   */
  watch(fn: () => void): void {
    const ev = (this.events ??= createRtNetlink());
    ev.addMembership('LINK' as never);
    ev.addMembership('IPV4_IFADDR' as never);
    ev.addMembership('IPV4_ROUTE' as never);
    ev.on('message', () => fn());
    ev.on('invalid', () => fn());
  }
}

/** Writes a sysctl under /proc/sys (e.g. 'net.ipv4.ip_forward', '1'); returns the previous value. */
export function sysctl(name: string, value: string): string {
  const path = `/proc/sys/${name.replace(/\./g, '/')}`;
  const old = readFileSync(path, 'utf8').trim();
  if (old !== value) writeFileSync(path, value);
  return old;
}

