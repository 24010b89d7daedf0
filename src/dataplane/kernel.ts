/**
 * The `kernel` data plane (issue #7): IP-in-IP runs in the Linux kernel, roamd only programs it over
 * rtnetlink. One IP-in-IP device in external (collect-metadata) mode per agent (`roamd-ipip`, like
 * `ip link add roamd-ipip type ipip external`) and one route per binding with a lightweight-tunnel
 * IP encapsulation to the care-of address (`ip route replace HOME/32 encap ip dst COA src OURS ttl
 * 64 dev roamd-ipip proto 213`): no interface per node; a move replaces the route in place. The
 * kernel decapsulates what arrives (on roamd-ipip, any local address) and routes it on.
 *
 * Anti-spoofing: tc flower filters on the ingress of roamd-ipip (clsact), one per accepted pair
 * (outer source = a registered care-of address, inner source = the address bound to it), then a
 * catch-all drop of whatever else came through a tunnel. The catch-all keys on tunnel metadata
 * (`enc_src_ip 0.0.0.0/1` and `128.0.0.0/1`): what xfrm decrypts from ESP that arrived tunnelled (the node's VPN on
 * the kernel's IPsec) is re-injected on this device without metadata and must pass, or the node
 * never hears its VPN (found in the VM lane; the ESP packet itself passed the node's filter). Why tc: after decapsulation the outer header is gone; with collect_md the outer
 * addresses survive only as the packet's tunnel metadata, which flower matches (`enc_src_ip`), while
 * policy rules and rp_filter see only the inner header, and nftables' `tunnel` expression (Debian
 * 12) matches the tunnel id/path, not the outer source. A classic ipip device per node (`remote
 * COA`) would check the source too, but that is an interface per node. All pass filters share one
 * priority and mask, so flower looks them up in one hash table however many bindings there are.
 *
 * Per role (same job as src/dataplane/userspace.ts, see docs/dataplane.md):
 * - proxy: OUTER/32 encap ip dst COA src OUTSIDE dev roamd-ipip; filter enc_src COA + src OUTER.
 * - ha, tunnel mode: HOME/32 encap ip dst COA src HA dev roamd-ipip; the proxy neighbour entry on the
 *   home interface answers ARP (the route leads through another device, roamd-ipip) and a
 *   gratuitous ARP is sent; filter enc_src COA + src HOME.
 * - fa: host route to the visitor on the access link; with reverse tunnelling a rule `iif ACCESS
 *   from HOME lookup T`, T holding `default encap ip dst HA src COA dev roamd-ipip` (one table per
 *   home agent and care-of address, from 1000); filter enc_src HA + dst HOME.
 * - mn, co-located IP-in-IP: table 210's default route `encap ip dst PROXY src COA dev roamd-ipip
 *   src OUTER` (the outer packet, from the care-of address, leaves by rule 10000); with a foreign
 *   agent `default via FA dev PHYS onlink src OUTER` (the FA reverse-tunnels); filter enc_src PROXY
 *   + dst OUTER. Addresses, rules, link watching, discovery and the VPN are the userspace plane's.
 *
 * RFC 3519 UDP tunnels, VPN-mode home-agent bindings and everything around the node's mobility
 * interface go to a UserspaceDataPlane this plane owns (composition): it is started first (its
 * start-up cleanup would otherwise remove this plane's routes) and its raw IP-in-IP socket is closed,
 * since the kernel now receives IP-in-IP (a raw socket would get a copy of every tunnelled packet).
 * Simultaneous bindings: a route has one encapsulation, so the route follows the newest registration
 * (replaced in place: make-before-break without a gap), and an egress filter copies each packet to
 * the other care-of addresses (syncCopies: tunnel_key + mirred); every registered care-of address is
 * accepted inbound. When the newest binding of an address is a UDP or VPN one, the userspace plane's
 * route (its TUN) carries it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Rtnl, sysctl, RULE_BASE, ROAMD_PROTO, RouteSpec, RuleSpec } from '../netlink/rtnl';
import { RTM, NLM_F, ipipExternalLink, routeMessage, routeDeleteMessage, clsactQdisc, flowerFilter, flowerDelete, KRoute } from '../netlink/lwtunnel';
import type { Action } from '../roles/types';
import type { DataPlane, DataplaneHost } from './index';
import { coveringPrefixes, UserspaceDataPlane, type UserspaceOptions } from './userspace';
import { ipToString as ipStr } from '../platform/address';
import { gratuitousArp } from './native';
import { DiscoverySockets } from './discovery';

export interface KernelOptions extends UserspaceOptions {
  /** The collect-metadata IP-in-IP device (default 'roamd-ipip'). */
  ipipName?: string;
}

/** The rtnetlink verbs this plane uses: Rtnl's, plus raw messages built in src/netlink/lwtunnel.ts. */
export interface KernelNetlink {
  linkIndex(name: string): Promise<number>;
  setUp(index: number, mtu?: number): Promise<void>;
  addRoute(r: RouteSpec): Promise<void>;
  delRoute(r: RouteSpec): Promise<void>;
  addRule(r: RuleSpec): Promise<void>;
  delRule(r: RuleSpec): Promise<void>;
  addProxyNeighbour(index: number, address: number): Promise<void>;
  delProxyNeighbour(index: number, address: number): Promise<void>;
  cleanup(): Promise<number>;
  /** Sends one request (NLM_F_REQUEST | NLM_F_ACK added) and waits for the kernel's answer. */
  raw(type: number, body: Buffer, flags: number): Promise<void>;
  delLink(index: number): Promise<void>;
  close(): void;
}

export interface KernelDeps {
  nl?: KernelNetlink;
  /** The plane for UDP tunnels, VPN-mode bindings and the node's surroundings; null: none (tests). */
  delegate?: DataPlane | null;
  sysctl?: (name: string, value: string) => void;
  gratuitousArp?: (ifname: string, ip: number) => void;
}

function rtnlAdapter(): KernelNetlink {
  const nl = new Rtnl();
  return {
    linkIndex: (n) => nl.linkIndex(n), setUp: (i, m) => nl.setUp(i, m),
    addRoute: (r) => nl.addRoute(r), delRoute: (r) => nl.delRoute(r), addRule: (r) => nl.addRule(r), delRule: (r) => nl.delRule(r),
    addProxyNeighbour: (i, a) => nl.addProxyNeighbour(i, a), delProxyNeighbour: (i, a) => nl.delProxyNeighbour(i, a),
    cleanup: () => nl.cleanup(),
    raw: async (type, body, flags) => {
      await nl.sock.request(type as never, [body], { flags } as never);
    },
    delLink: async (index) => {
      await nl.sock.delLink({ index } as never);
    },
    close: () => nl.close(),
  };
}

const MN_TABLE = 210;
/** fa: reverse-tunnelling tables, one per (home agent, care-of address), from here. */
const FA_TABLE_BASE = 1000;
/** tc priorities on roamd-ipip's ingress: the pass filters, then the catch-all drop. */
const PREF_PASS = 100;
const PREF_DROP = 65000;
/** tc priority of the copy filters on the egress of roamd-ipip and of the userspace plane's TUN. */
const PREF_COPY = 50;
const TTL = 64;
const errno = (e: unknown): string => (e as { code?: string })?.code ?? (e as Error)?.message ?? String(e);

interface KBinding { careOf: number; tunnel: 'ipip' | 'udp'; port: number; vpn: boolean; handle: number }
/** Bindings the userspace plane carries: RFC 3519 UDP tunnels and VPN-mode home-agent bindings. */
const delegated = (b: { tunnel: string; vpn: boolean }): boolean => b.vpn || b.tunnel !== 'ipip';

export class KernelDataPlane implements DataPlane {
  readonly mode = 'kernel' as const;

  /**
   * Whether this kernel can run the plane: the ipip module is loaded or loads (it also registers
   * the `ipip` link kind the plane creates). The tc modules (sch_ingress, cls_flower, act_gact) are
   * loaded on demand by the kernel; start() fails if the anti-spoofing filters cannot be installed.
   */
  static available(): { ok: boolean; why: string } {
    if (existsSync('/sys/module/ipip')) return { ok: true, why: 'ipip module loaded' };
    try {
      execFileSync('modprobe', ['-q', 'ipip'], { stdio: 'ignore', timeout: 5000 });
    } catch (e) {
      return { ok: false, why: `the kernel has no ipip module (modprobe ipip: ${(e as Error).message.split('\n')[0]})` };
    }
    return existsSync('/sys/module/ipip') ? { ok: true, why: 'ipip module loaded by modprobe' } : { ok: false, why: 'the kernel has no ipip module (/sys/module/ipip missing after modprobe)' };
  }

  private nl!: KernelNetlink;
  private delegate: DataPlane | null = null;
  private ipipIndex = 0;
  private homeIfIndex = 0;
  private readonly ipipName: string;
  /** ha: home → bindings, proxy: outer → bindings, oldest first. */
  private readonly bindings = new Map<number, KBinding[]>();
  /** The encap route installed per home/outer address. */
  private readonly routes = new Map<number, KRoute>();
  private readonly visitors = new Map<number, { ifname: string; table: number; reverse: boolean; handle: number; homeAgent: number; careOf: number }>();
  private readonly faTables = new Map<string, { table: number; users: number }>();
  private mnRoute: KRoute | undefined;
  /** fa: agent discovery sockets (the other roles' userspace plane has them). */
  private discovery: DiscoverySockets | undefined;
  private mnFilter: { handle: number; key: string } | undefined;
  /** ha/proxy: the egress filter copying packets for an address to its other care-of addresses. */
  private readonly copies = new Map<number, { dev: number; handle: number; key: string }>();
  /** The userspace plane's TUN, with a clsact qdisc for copy filters (0: none yet). */
  private tunIndex = 0;
  private nextHandle = 2;
  private readonly freeHandles: number[] = [];
  private readonly counters: Record<string, number> = {};
  private readonly setSysctl: (name: string, value: string) => void;
  private readonly arp: (ifname: string, ip: number) => void;

  constructor(private readonly host: DataplaneHost, private readonly o: KernelOptions, private readonly deps: KernelDeps = {}) {
    this.ipipName = o.ipipName ?? 'roamd-ipip';
    this.setSysctl = deps.sysctl ?? ((n, v) => void sysctl(n, v));
    this.arp = deps.gratuitousArp ?? gratuitousArp; // the native addon loads on first use
  }

  private count(name: string, n = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + n;
  }

  async start(): Promise<void> {
    const o = this.o;
    if (this.deps.delegate !== undefined) this.delegate = this.deps.delegate;
    else if (o.role !== 'fa') {
      // The kernel decapsulates IP-in-IP: a raw socket would get a copy of every tunnelled packet.
      this.delegate = new UserspaceDataPlane(this.host, { ...o, rawIpip: false });
    }
    if (this.delegate) {
      await this.delegate.start(); // first: its start-up cleanup removes every route tagged 213
    }
    this.nl = this.deps.nl ?? rtnlAdapter();
    if (!this.delegate) {
      const removed = await this.nl.cleanup();
      if (removed) this.host.log('info', 'dataplane-cleanup', { removed, reason: 'left over from an earlier run' });
    }
    // A device left by a crashed run goes (with its filters); then one fresh collect-metadata device.
    const stale = await this.nl.linkIndex(this.ipipName).catch(() => 0);
    if (stale) await this.nl.delLink(stale);
    try {
      await this.nl.raw(RTM.NEWLINK, ipipExternalLink(this.ipipName), NLM_F.CREATE | NLM_F.EXCL);
    } catch (e) {
      const why = errno(e) === 'EEXIST' ? 'a collect-metadata ipip device already exists in this namespace (one per namespace)' : errno(e);
      throw new Error(`creating ${this.ipipName} (ipip external): ${why}`);
    }
    this.ipipIndex = await this.nl.linkIndex(this.ipipName);
    await this.nl.setUp(this.ipipIndex);
    try {
      await this.nl.raw(RTM.NEWQDISC, clsactQdisc(this.ipipIndex), NLM_F.CREATE | NLM_F.EXCL);
      // Every tunnelled packet no pass filter took: two halves of the outer address space (an
      // all-zero mask would never match, see FlowerFilter.encSrcPrefix). Handles 1 and 2 of pref
      // PREF_DROP; the pass filters live in pref PREF_PASS, handles from 2.
      for (const [handle, encSrc] of [[1, 0], [2, 0x80000000]] as const) {
        await this.nl.raw(RTM.NEWTFILTER, flowerFilter({ ifindex: this.ipipIndex, pref: PREF_DROP, handle, protocol: 'all', encSrc, encSrcPrefix: 1, action: 'drop' }), NLM_F.CREATE | NLM_F.EXCL);
      }
    } catch (e) {
      await this.nl.delLink(this.ipipIndex).catch(() => undefined);
      throw new Error(`anti-spoofing filters on ${this.ipipName} (clsact, flower, gact): ${errno(e)}`);
    }
    if (o.role !== 'mn') {
      this.setSysctl('net.ipv4.ip_forward', '1');
      if (!this.delegate) for (const k of ['all', 'default']) this.setSysctl(`net.ipv4.conf.${k}.rp_filter`, '2');
    }
    this.setSysctl(`net.ipv4.conf.${this.ipipName}.rp_filter`, o.role === 'mn' ? '0' : '2');
    if (o.role === 'ha' && o.homeInterface) this.homeIfIndex = await this.nl.linkIndex(o.homeInterface);
    if (o.role === 'fa') {
      // The foreign agent has no userspace plane: agent discovery (solicitations in, advertisements
      // out) has its own sockets.
      this.discovery = new DiscoverySockets(this.host);
      for (const i of o.faInterfaces ?? []) this.discovery.open(i.ifname, [10]);
    }
    this.host.log('info', 'dataplane-started', { mode: 'kernel', role: o.role, device: this.ipipName, delegate: this.delegate ? 'userspace' : 'none' });
  }

  async apply(a: Action): Promise<void> {
    try {
      switch (a.kind) {
        case 'send-icmp':
          if (this.delegate) return await this.delegate.apply(a);
          if (!this.discovery?.send(a)) this.count('icmp_no_socket');
          return;
        case 'ha-binding':
          return await this.binding(a.home, a.op, { careOf: a.careOf, tunnel: a.tunnel, port: a.port, vpn: a.mode === 'vpn' }, (b) => b.careOf === a.careOf, a);
        case 'proxy-binding':
          return await this.binding(a.outer, a.op, { careOf: a.careOf, tunnel: a.tunnel, port: a.port, vpn: false }, (b) => b.careOf === a.careOf && b.port === a.port, a);
        case 'visitor': return await this.visitor(a);
        case 'mn-state': return await this.mnState(a);
        default:
      }
    } catch (e) {
      this.count('apply_error');
      this.host.log('error', 'dataplane-error', { action: a.kind, error: (e as Error).message });
    }
  }

  // --- anti-spoofing filters ---------------------------------------------------------------------

  private async addFilter(f: { encSrc: number; src?: number; dst?: number }): Promise<number> {
    const handle = this.freeHandles.pop() ?? this.nextHandle++;
    await this.nl.raw(RTM.NEWTFILTER, flowerFilter({ ifindex: this.ipipIndex, pref: PREF_PASS, handle, protocol: 'ip', action: 'pass', ...f }), NLM_F.CREATE | NLM_F.EXCL);
    return handle;
  }

  private async delFilter(handle: number): Promise<void> {
    if (!handle) return;
    await this.nl.raw(RTM.DELTFILTER, flowerDelete({ ifindex: this.ipipIndex, pref: PREF_PASS, handle, protocol: 'ip' }), 0).catch(() => undefined);
    this.freeHandles.push(handle);
  }

  private async setRoute(r: KRoute): Promise<void> {
    await this.nl.raw(RTM.NEWROUTE, routeMessage(r), NLM_F.CREATE | NLM_F.REPLACE);
  }

  private async delRoute(r: KRoute): Promise<void> {
    await this.nl.raw(RTM.DELROUTE, routeDeleteMessage(r), 0).catch(() => undefined);
  }

  // --- home agent and proxy ---------------------------------------------------------------------

  /**
   * One binding of `key` (ha: home address, proxy: outer address) set or removed. IP-in-IP bindings
   * are the kernel's (encap route, filter); the others go to the userspace plane. The route follows
   * the newest binding; the proxy ARP entry (ha) stays while any binding does.
   */
  private async binding(key: number, op: 'set' | 'del', b: Omit<KBinding, 'handle'>, same: (x: KBinding) => boolean, a: Extract<Action, { kind: 'ha-binding' | 'proxy-binding' }>): Promise<void> {
    const list = this.bindings.get(key) ?? [];
    const removed = list.filter(same);
    const rest = list.filter((x) => !same(x));
    const added = op === 'set' ? { ...b, handle: 0 } : undefined;
    // Accept the new care-of address before anything leads to it, and the old one until it is gone.
    if (added && !delegated(added)) {
      // A renewal from the same care-of address keeps its filter: flower refuses a second filter
      // with the same keys (EEXIST), and deleting first would open a gap.
      const kept = removed.find((x) => !delegated(x) && x.careOf === added.careOf && x.handle);
      if (kept) {
        added.handle = kept.handle;
        kept.handle = 0;
      } else {
        added.handle = await this.addFilter({ encSrc: added.careOf, src: key });
      }
    }
    if (added) rest.push(added);
    if (rest.length) this.bindings.set(key, rest);
    else this.bindings.delete(key);
    if (this.delegate) {
      if (added && delegated(added)) await this.delegate.apply(a);
      else if (removed.some(delegated)) await this.delegate.apply({ ...a, op: 'del' });
    }
    const newest = rest[rest.length - 1];
    const had = this.routes.get(key);
    if (newest && !delegated(newest)) {
      const r: KRoute = { dst: key, prefixLength: 32, dev: this.ipipIndex, encap: { dst: newest.careOf, src: this.ourAddress(), ttl: TTL }, protocol: ROAMD_PROTO };
      await this.setRoute(r);
      this.routes.set(key, r);
      this.count(had ? 'route_replaced' : 'route_added');
    } else if (had) {
      // The proxy's pool reaches its TUN through covering prefixes; one that is this very /32 (the
      // pool's first or last address) was replaced by our route: put it back by replacing ours in
      // place (deleting first left the address without a route for a moment: packets lost in the
      // VM lane on every move to a UDP binding). Otherwise the covering prefix takes over.
      if (this.o.role === 'proxy' && this.delegate && this.poolHostRoutes().has(key)) {
        await this.nl.addRoute({ dst: key, prefixLength: 32, dev: await this.nl.linkIndex(this.o.tunName) });
        this.count('pool_route_restored');
      } else if (newest && this.delegate && this.o.role === 'ha' && a.kind === 'ha-binding') {
        // The newest binding is the userspace plane's again: its route into the TUN, which ours
        // replaced, goes back the same way (a replace: no instant without a route).
        await this.delegate.apply({ ...a, op: 'set', careOf: newest.careOf, tunnel: newest.tunnel, port: newest.port, mode: newest.vpn ? 'vpn' : 'tunnel' });
      } else {
        await this.delRoute(had);
      }
      this.routes.delete(key);
      this.count('route_removed');
    }
    for (const r of removed) await this.delFilter(r.handle);
    if (this.o.role === 'ha' && this.homeIfIndex) {
      if (rest.length) {
        // Re-asserted after the userspace plane, which removes it when its own last binding goes.
        await this.nl.addProxyNeighbour(this.homeIfIndex, key);
        if (list.length === 0 && added && !delegated(added)) this.announce(this.o.homeInterface!, key);
      } else {
        await this.nl.delProxyNeighbour(this.homeIfIndex, key);
      }
    }
    await this.syncCopies(key);
    this.host.log('debug', 'dataplane-binding', { key: ipStr(key), op, careOf: ipStr(b.careOf), tunnel: b.tunnel, route: newest ? (delegated(newest) ? 'userspace' : `encap ${ipStr(newest.careOf)}`) : 'none' });
  }

  /**
   * Simultaneous bindings (RFC 5944 §3.6.1.2: "a separate copy of each arriving datagram to each
   * care-of address"). The route leads to the newest binding only; an egress filter on the device
   * it leads through copies every packet for `key` to the others. Through roamd-ipip (the newest is
   * IP-in-IP): match the packet by its inner destination and its tunnel destination (the newest
   * care-of address, so the clones, which carry another one, do not match again), then for each
   * other IP-in-IP binding set the tunnel destination and mirror a clone to roamd-ipip, mirror one
   * clone to the TUN when UDP or VPN-mode bindings exist (the userspace plane sends to all of
   * those), and put the newest destination back. Through the TUN (the newest is the userspace
   * plane's): a clone to roamd-ipip per IP-in-IP binding. A kernel without act_tunnel_key or
   * act_mirred gets no copies (counted, logged once): the newest binding still gets everything.
   */
  private async syncCopies(key: number): Promise<void> {
    const list = this.bindings.get(key) ?? [];
    const newest = list[list.length - 1];
    const others = list.slice(0, -1);
    let want: { dev: number; spec: Parameters<typeof flowerFilter>[0] } | undefined;
    if (newest && others.length) {
      const ours = this.ourAddress();
      const encap = (dst: number) => ({ src: ours, dst, ttl: TTL });
      const kernelCopies = others.filter((b) => !delegated(b)).map((b) => ({ dev: this.ipipIndex, encap: encap(b.careOf) }));
      if (!delegated(newest)) {
        const tun = others.some(delegated) && this.delegate ? await this.tunWithClsact() : 0;
        const copies = [...kernelCopies, ...(tun ? [{ dev: tun }] : [])];
        if (copies.length) {
          want = { dev: this.ipipIndex, spec: { ifindex: this.ipipIndex, hook: 'egress', pref: PREF_COPY, handle: 0, protocol: 'ip', dst: key, encDst: newest.careOf, action: { copies, after: encap(newest.careOf) } } };
        }
      } else if (kernelCopies.length && this.delegate) {
        const tun = await this.tunWithClsact();
        if (tun) want = { dev: tun, spec: { ifindex: tun, hook: 'egress', pref: PREF_COPY, handle: 0, protocol: 'ip', dst: key, action: { copies: kernelCopies, after: 'release' } } };
      }
    }
    const old = this.copies.get(key);
    if (!want && !old) return; // one binding, as most addresses have: nothing to copy, nothing to remove
    const wantKey = want ? JSON.stringify(want) : '';
    if (old?.key === wantKey) return;
    if (want) {
      const handle = this.freeHandles.pop() ?? this.nextHandle++;
      try {
        await this.nl.raw(RTM.NEWTFILTER, flowerFilter({ ...want.spec, handle }), NLM_F.CREATE | NLM_F.EXCL);
        this.copies.set(key, { dev: want.dev, handle, key: wantKey });
        this.count('copy_filter_set');
      } catch (e) {
        this.freeHandles.push(handle);
        this.copies.delete(key);
        this.count('copy_filter_failed');
        if ((this.counters.copy_filter_failed ?? 0) === 1) this.host.log('warn', 'simultaneous-copies-unavailable', { key: ipStr(key), error: errno(e), effect: 'only the newest binding receives packets' });
      }
    } else {
      this.copies.delete(key);
    }
    if (old) {
      await this.nl.raw(RTM.DELTFILTER, flowerDelete({ ifindex: old.dev, hook: 'egress', pref: PREF_COPY, handle: old.handle, protocol: 'ip' }), 0).catch(() => undefined);
      this.freeHandles.push(old.handle);
    }
  }

  /** The userspace plane's TUN index, with a clsact qdisc on it (added once); 0 when it cannot be had. */
  private async tunWithClsact(): Promise<number> {
    if (this.tunIndex) return this.tunIndex;
    try {
      const i = await this.nl.linkIndex(this.o.tunName);
      await this.nl.raw(RTM.NEWQDISC, clsactQdisc(i), NLM_F.CREATE | NLM_F.EXCL).catch((e) => {
        if (errno(e) !== 'EEXIST') throw e;
      });
      this.tunIndex = i;
    } catch (e) {
      this.count('copy_filter_failed');
      this.host.log('warn', 'tun-clsact-failed', { tun: this.o.tunName, error: errno(e) });
    }
    return this.tunIndex;
  }

  private hostRoutes: Set<number> | undefined;

  /** The proxy pool's covering prefixes that are single addresses (/32). */
  private poolHostRoutes(): Set<number> {
    const pool = this.o.outerPool;
    this.hostRoutes ??= new Set(pool ? coveringPrefixes(pool.first, pool.count).filter((p) => p.length === 32).map((p) => p.network) : []);
    return this.hostRoutes;
  }

  private ourAddress(): number {
    return (this.o.role === 'ha' ? this.o.haAddress : this.o.outside) ?? 0;
  }

  /** Gratuitous ARP for `ip` on `ifname`, now and once more half a second later (RFC 5944 §4.6). */
  private announce(ifname: string, ip: number): void {
    const send = () => {
      try {
        this.arp(ifname, ip);
      } catch (e) {
        this.count('arp_error');
        this.host.log('warn', 'gratuitous-arp-failed', { ifname, error: (e as Error).message });
      }
    };
    send();
    setTimeout(send, 500).unref();
    this.count('gratuitous_arp');
  }

  // --- foreign agent ----------------------------------------------------------------------------

  private async visitor(a: Extract<Action, { kind: 'visitor' }>): Promise<void> {
    const nl = this.nl;
    const ifIndex = await nl.linkIndex(a.ifname);
    const old = this.visitors.get(a.home);
    if (a.op === 'del') {
      this.visitors.delete(a.home);
      if (old) {
        if (old.reverse) await this.releaseFaTable(a.home, old);
        await this.delFilter(old.handle);
      }
      await nl.delRoute({ dst: a.home, prefixLength: 32, dev: ifIndex });
      return;
    }
    // Make-before-break (a renewal, a new care-of address or home agent): the old filter, route and
    // rule stay until the new ones are in; what did not change is kept (flower refuses a second
    // filter with the same keys, and a renewal must not open a gap for the visitor's packets).
    const handle = old && old.homeAgent === a.homeAgent ? old.handle : await this.addFilter({ encSrc: a.homeAgent, dst: a.home });
    await nl.addRoute({ dst: a.home, prefixLength: 32, dev: ifIndex, scope: 'link' });
    const sameTunnel = !!old && old.reverse && a.reverse && old.ifname === a.ifname && old.homeAgent === a.homeAgent && old.careOf === a.careOf;
    let table = sameTunnel ? old!.table : 0;
    if (a.reverse && !sameTunnel) {
      // RFC 3024: the visitor's packets, from its home address on the access link, to its home agent.
      const k = `${a.homeAgent}/${a.careOf}`;
      let t = this.faTables.get(k);
      if (!t) {
        const used = new Set([...this.faTables.values()].map((x) => x.table));
        let n = FA_TABLE_BASE;
        while (used.has(n)) n++;
        t = { table: n, users: 0 };
        await this.setRoute({ dst: 0, prefixLength: 0, table: n, dev: this.ipipIndex, encap: { dst: a.homeAgent, src: a.careOf, ttl: TTL }, protocol: ROAMD_PROTO });
        this.faTables.set(k, t);
      }
      t.users++;
      table = t.table;
      await nl.addRule({ priority: RULE_BASE + 10, table, src: a.home, iif: a.ifname });
    }
    this.visitors.set(a.home, { ifname: a.ifname, table, reverse: a.reverse, handle, homeAgent: a.homeAgent, careOf: a.careOf });
    if (old && !sameTunnel && old.reverse) await this.releaseFaTable(a.home, old);
    if (old && old.handle !== handle) await this.delFilter(old.handle);
  }

  private async releaseFaTable(home: number, v: { ifname: string; table: number; homeAgent: number; careOf: number }): Promise<void> {
    await this.nl.delRule({ priority: RULE_BASE + 10, table: v.table, src: home, iif: v.ifname });
    const k = `${v.homeAgent}/${v.careOf}`;
    const t = this.faTables.get(k);
    if (t && --t.users === 0) {
      await this.delRoute({ dst: 0, prefixLength: 0, table: t.table, dev: this.ipipIndex, protocol: ROAMD_PROTO });
      this.faTables.delete(k);
    }
  }

  // --- mobile node ------------------------------------------------------------------------------

  private async mnState(a: Extract<Action, { kind: 'mn-state' }>): Promise<void> {
    // Addresses, rules, the VPN and the UDP tunnel: the userspace plane (it installs table 210's
    // default into its TUN when the state changes; the kernel route below replaces it).
    if (this.delegate) await this.delegate.apply(a);
    const proxy = this.o.proxyOutside;
    let want: KRoute | undefined;
    if (a.location === 'foreign' && a.tunnel === 'ipip' && a.outerAddress && proxy) {
      if (a.agent) {
        const phys = await this.nl.linkIndex(a.ifname).catch(() => 0);
        if (phys) want = { dst: 0, prefixLength: 0, table: MN_TABLE, dev: phys, gateway: a.agent, onlink: true, src: a.outerAddress, protocol: ROAMD_PROTO };
      } else if (a.careOf) {
        want = { dst: 0, prefixLength: 0, table: MN_TABLE, dev: this.ipipIndex, src: a.outerAddress, encap: { dst: proxy, src: a.careOf, ttl: TTL }, protocol: ROAMD_PROTO };
      }
    }
    // Filter first (accept from the proxy for the outer address), then the route, then old state.
    const fkey = want && proxy ? `${proxy}/${a.outerAddress}` : '';
    const oldFilter = this.mnFilter;
    if (fkey && oldFilter?.key !== fkey) this.mnFilter = { handle: await this.addFilter({ encSrc: proxy!, dst: a.outerAddress }), key: fkey };
    if (want) await this.setRoute(want);
    else if (this.mnRoute) await this.delRoute(this.mnRoute);
    this.mnRoute = want;
    if (oldFilter && oldFilter.key !== fkey) {
      await this.delFilter(oldFilter.handle);
      if (!fkey) this.mnFilter = undefined;
    }
  }

  tunnelData(data: Buffer, src: number, srcPort: number, dst: number): void {
    if (this.delegate) this.delegate.tunnelData(data, src, srcPort, dst);
    else this.count('rx_tunnel_data_no_userspace');
  }

  status(): Record<string, unknown> {
    const d = this.delegate?.status();
    return {
      mode: 'kernel', device: this.ipipName, ifindex: this.ipipIndex, bindings: this.bindings.size, routes: this.routes.size,
      visitors: this.visitors.size, filters: this.nextHandle - 2 - this.freeHandles.length, mn: d?.mn ?? null,
      counters: this.counters, userspace: d ?? null,
    };
  }

  async stop(): Promise<void> {
    this.discovery?.close();
    // The userspace plane's stop removes every route tagged 213 and rule 10000-10099, ours included.
    if (this.delegate) await this.delegate.stop().catch((e) => this.host.log('warn', 'dataplane-stop-failed', { mode: 'userspace', error: (e as Error).message }));
    let removed = 0;
    if (this.nl) {
      if (!this.delegate) removed = await this.nl.cleanup().catch(() => 0);
      if (this.homeIfIndex) for (const home of this.bindings.keys()) await this.nl.delProxyNeighbour(this.homeIfIndex, home);
      // Deleting the device takes its qdisc, its filters and any route through it along.
      if (this.ipipIndex) await this.nl.delLink(this.ipipIndex).catch(() => undefined);
      this.nl.close();
    }
    this.host.log('info', 'dataplane-stopped', { mode: 'kernel', removed });
  }
}
