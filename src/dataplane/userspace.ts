/**
 * The `userspace` data plane: packets move through TUN devices and raw IPv4 sockets (protocol 4
 * for IP-in-IP, ICMP for agent discovery) in this process; RFC 3519 UDP tunnels go through the
 * daemon's Mobile IP socket. rtnetlink installs the addresses, routes and rules around them, all
 * tagged (route protocol 213, rule priorities 10000..10099) and removed on stop.
 *
 * Per role:
 * - ha: proxy ARP for away nodes on the home link; VPN-mode bindings routed toward the VPN gateway,
 *   tunnel-mode bindings routed into the TUN and tunnelled to the care-of address.
 * - proxy: the outer-address pool routed into the TUN; packets for an outer address tunnelled to
 *   every care-of address bound to it (simultaneous bindings); reverse-tunnelled packets accepted
 *   only from a care-of address bound to their inner source, then routed on by the kernel.
 * - fa: host routes to visitors on the access link; their packets reverse-tunnelled (RFC 3024) by
 *   a policy rule into the TUN; tunnelled packets for visitors decapsulated and delivered.
 * - mn: the mobility TUN holds the outer address, a second TUN the home address (the VPN inner
 *   address); policy routing hides the physical interfaces except for the agent's own traffic;
 *   the VPN client is brought up outside and terminated at home.
 */
import { RawSocket, Tun, Packet, gratuitousArp } from './native';
import { Rtnl, sysctl, RULE_BASE, type RouteSpec } from '../netlink/rtnl';
import { encapsulateIpip, tunnelDataFrame, decapsulateIpip, ipv4View, icmpEcho } from './packets';
import type { Action, LinkEvent } from '../roles/types';
import type { DataPlane, DataplaneHost } from './index';
import { VpnControl, VpnConfig } from './vpn';
import { DiscoverySockets } from './discovery';
import { IpProto } from '../wire/constants';
import { ipToString as ipStr } from '../platform/address';

export interface UserspaceOptions {
  role: 'ha' | 'proxy' | 'fa' | 'mn';
  tunName: string;
  mipPort: number;
  /** ha */
  haAddress?: number;
  homeInterface?: string;
  vpnGateway?: number;
  /** proxy */
  outside?: number;
  outerPool?: { first: number; count: number };
  /** fa */
  faInterfaces?: Array<{ ifname: string; address: number }>;
  /** mn */
  mnInterfaces?: string[];
  proxyOutside?: number;
  vpnTunName?: string;
  vpn?: VpnConfig;
  natKeepaliveS?: number;
  mtu?: number;
  /** Open the raw IP-in-IP socket (default). The kernel plane, which decapsulates itself, says no. */
  rawIpip?: boolean;
}

/** Routing tables roamd uses on the node: everything but the agent's traffic, and per-agent exits. */
const MN_TABLE = 210;
const MN_AGENT_TABLE = 211;
const FA_TABLE = 212;
/**
 * Per-interface exits of the node's other care-of addresses (standby binding, pending registration):
 * table MN_LINK_TABLE + the interface's position in the configuration.
 */
const MN_LINK_TABLE = 2100;
/**
 * The node reads its links this long after the first netlink notification of a burst: one scan per
 * change (an interface going down flushes addresses and routes: a dozen notifications), and soon
 * enough that a break-before-make move waits for the new link, not for the timer.
 */
const LINK_SCAN_DELAY_MS = 10;
/** Home agent: away nodes' home addresses toward the VPN gateway, for our own re-injected packets. */
const HA_VPN_TABLE = 214;


/**
 * How the main table leaves through an interface: its default route's gateway, 'dev' (a default
 * route without one: a point-to-point link), or 'none' (no default route through it yet: DHCP adds
 * it after the address).
 */
type Exit = number | 'dev' | 'none';
type RouteDump = Array<{ data: { dstLen?: number; table?: number }; attrs: { oif?: number; dst?: Buffer; gateway?: Buffer; table?: number } }>;

function exitOf(routes: RouteDump, index: number): Exit {
  const def = routes.find((r) => r.data.dstLen === 0 && r.attrs.oif === index && (r.attrs.table ?? r.data.table) === 254);
  return !def ? 'none' : def.attrs.gateway ? def.attrs.gateway.readUInt32BE(0) : 'dev';
}

/** The main table's on-link prefixes through an interface, for a care-of address's own table (an on-link agent needs no router). */
function onLinkRoutes(routes: RouteDump, index: number, table: number): RouteSpec[] {
  return routes.filter((r) => (r.data.dstLen ?? 0) > 0 && r.attrs.oif === index && !r.attrs.gateway && r.attrs.dst && (r.attrs.table ?? r.data.table) === 254)
    .map((r) => ({ dst: r.attrs.dst!.readUInt32BE(0), prefixLength: r.data.dstLen!, table, dev: index, scope: 'link' as const }));
}

/**
 * A care-of address's default route in its table: via the gateway; on the link; or, with no exit
 * yet, unreachable, so that a registration sent before DHCP's default route fails at once (the
 * daemon retries 50 ms later) instead of going out on-link toward an address nobody answers for.
 */
function exitRoute(table: number, dev: number, exit: Exit): RouteSpec {
  if (typeof exit === 'number') return { dst: 0, prefixLength: 0, table, gateway: exit, dev };
  return exit === 'dev' ? { dst: 0, prefixLength: 0, table, dev, scope: 'link' } : { dst: 0, prefixLength: 0, table, unreachable: true };
}

/** Largest CIDR blocks covering [first, first + count). */
export function coveringPrefixes(first: number, count: number): Array<{ network: number; length: number }> {
  const out: Array<{ network: number; length: number }> = [];
  let a = first;
  const end = first + count;
  while (a < end) {
    let len = 32;
    while (len > 0) {
      const size = 2 ** (32 - (len - 1));
      if (a % size !== 0 || a + size > end) break;
      len--;
    }
    out.push({ network: a >>> 0, length: len });
    a += 2 ** (32 - len);
  }
  return out;
}

interface Binding { careOf: number; tunnel: 'ipip' | 'udp'; port: number; vpn?: boolean }

export class UserspaceDataPlane implements DataPlane {
  readonly mode = 'userspace' as const;
  private nl!: Rtnl;
  private tun: Tun | undefined;
  private vpnTun: Tun | undefined;
  private ipip: RawSocket | undefined;
  private readonly icmp = new DiscoverySockets(this.host, (src, ifname, type) => {
    if (this.o.role === 'mn' && type === 9) this.agentHeard(src, ifname);
  });
  /** ha: home → bindings; proxy: outer → bindings; fa: visitor home → {homeAgent, careOf}. */
  private readonly bindings = new Map<number, Binding[]>();
  private readonly visitors = new Map<number, { homeAgent: number; careOf: number; ifname: string; rule: number }>();
  private readonly ruleSlots = new Set<number>();
  private homeIfIndex = 0;
  private mn: Extract<Action, { kind: 'mn-state' }> | undefined;
  private mnInstalled: { rules: Array<Parameters<Rtnl['addRule']>[0]>; routes: Array<Parameters<Rtnl['addRoute']>[0]>; addrs: Array<[number, number, number]> } = { rules: [], routes: [], addrs: [] };
  private vpn: VpnControl | undefined;
  /** The exit each care-of address's table was installed with (current and others), by interface. */
  private installedExits = new Map<string, Exit>();
  private keepalive: NodeJS.Timeout | undefined;
  private lastTx = 0;
  private linkTimer: NodeJS.Timeout | undefined;
  private readonly counters: Record<string, number> = {};

  constructor(private readonly host: DataplaneHost, private readonly o: UserspaceOptions) {}

  /** Packet paths never throw into the event loop: a failed send is counted and logged once a second. */
  private lastErrorLog = 0;
  private guard(where: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'error';
      this.count(`${where}_${code}`);
      const now = Date.now();
      if (now - this.lastErrorLog > 1000) {
        this.lastErrorLog = now;
        this.host.log('warn', 'dataplane-packet-error', { where, error: (e as Error).message });
      }
    }
  }

  private count(name: string, n = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + n;
  }

  async start(): Promise<void> {
    this.nl = new Rtnl();
    const removed = await this.nl.cleanup();
    if (removed) this.host.log('info', 'dataplane-cleanup', { removed, reason: 'left over from an earlier run' });
    const o = this.o;
    if (o.role !== 'mn') sysctl('net.ipv4.ip_forward', '1');
    this.tun = Tun.open(o.tunName, { up: true, mtu: o.mtu ?? 1400 });
    this.tun.onPackets((pkts) => this.guard('tun', () => this.fromTun(pkts)));
    if (o.rawIpip !== false) {
      this.ipip = RawSocket.open(IpProto.IPIP, { hdrincl: true, pktinfo: true });
      this.ipip.onPackets((pkts) => this.guard('ipip', () => this.fromIpip(pkts)));
    }
    const tunIndex = await this.nl.linkIndex(o.tunName);
    // Reverse-path filtering would drop what arrives on an interface the node has no route back
    // through (advertisements before it has an address there, tunnelled packets): loose on agents,
    // off on the node (rp_filter takes the maximum of 'all' and the interface's value).
    const rp = o.role === 'mn' ? '0' : '2';
    for (const k of ['all', 'default', o.tunName]) sysctl(`net.ipv4.conf.${k}.rp_filter`, rp);
    switch (o.role) {
      case 'ha':
        if (o.homeInterface) {
          this.homeIfIndex = await this.nl.linkIndex(o.homeInterface);
          if (o.vpnGateway) {
            // Packets we send bound to the home interface look up the VPN-gateway table first.
            await this.nl.addRule({ priority: RULE_BASE + 20, table: HA_VPN_TABLE, oif: o.homeInterface });
            this.homeSock = RawSocket.open(255, { hdrincl: true, device: o.homeInterface, pktinfo: false });
          }
          // The HA routes away nodes' packets back out the home link: no redirects to the senders.
          sysctl(`net.ipv4.conf.${o.homeInterface}.send_redirects`, '0');
          sysctl('net.ipv4.conf.all.send_redirects', '0');
        }
        break;
      case 'proxy':
        for (const p of coveringPrefixes(o.outerPool!.first, o.outerPool!.count)) await this.nl.addRoute({ dst: p.network, prefixLength: p.length, dev: tunIndex });
        break;
      case 'fa':
        await this.nl.addRoute({ dst: 0, prefixLength: 0, table: FA_TABLE, dev: tunIndex });
        for (const i of o.faInterfaces ?? []) this.icmp.open(i.ifname, [10]);
        break;
      case 'mn':
        this.vpnTun = Tun.open(o.vpnTunName ?? 'roamdvpn', { up: true, mtu: 1400 });
        this.vpnTun.onPackets(() => this.count('vpn_tun_rx')); // nothing is routed here; only its address matters
        for (const k of o.mnInterfaces ?? []) {
          try {
            this.icmp.open(k, [9]);
            sysctl(`net.ipv4.conf.${k}.rp_filter`, '0');
          } catch (e) {
            this.host.log('warn', 'interface-unavailable', { ifname: k, error: (e as Error).message });
          }
        }
        if (o.vpn) this.vpn = new VpnControl(o.vpn);
        this.nl.watch(() => this.scheduleLinkScan());
        await this.linkScan();
        this.keepalive = setInterval(() => this.guard('keepalive', () => this.natKeepalive()), 1000);
        break;
    }
    this.host.log('info', 'dataplane-started', { mode: 'userspace', role: o.role, tun: o.tunName });
  }

  /** When each agent's link route was last (re)installed: links go down and take routes with them. */
  private readonly agentRoutes = new Map<string, number>();

  /** The node reaches an advertising agent on its link even before it has an address there. */
  private agentHeard(src: number, ifname: string): void {
    const key = `${src}/${ifname}`;
    const now = Date.now();
    if (now - (this.agentRoutes.get(key) ?? 0) < 5000) return;
    this.agentRoutes.set(key, now);
    void (async () => {
      const index = await this.nl.linkIndex(ifname);
      await this.nl.addRoute({ dst: src, prefixLength: 32, dev: index, scope: 'link' });
      await this.nl.addRule({ priority: RULE_BASE + 2, table: 254, dst: src });
    })().catch((e) => {
      this.agentRoutes.delete(key);
      this.host.log('warn', 'agent-route-failed', { agent: ipStr(src), ifname, error: (e as Error).message });
    });
  }

  async apply(a: Action): Promise<void> {
    try {
      switch (a.kind) {
        case 'send-icmp':
          if (!this.icmp.send(a)) this.count('icmp_no_socket');
          return;
        case 'ha-binding': return await this.haBinding(a);
        case 'proxy-binding': return this.proxyBinding(a);
        case 'visitor': return await this.visitor(a);
        case 'mn-state': return await this.mnState(a);
        default:
      }
    } catch (e) {
      this.count('apply_error');
      this.host.log('error', 'dataplane-error', { action: a.kind, error: (e as Error).message });
    }
  }

  // --- home agent ----------------------------------------------------------------------------

  private async haBinding(a: Extract<Action, { kind: 'ha-binding' }>): Promise<void> {
    const list = this.bindings.get(a.home) ?? [];
    const rest = list.filter((b) => b.careOf !== a.careOf);
    if (a.op === 'set') rest.push({ careOf: a.careOf, tunnel: a.tunnel, port: a.port, vpn: a.mode === 'vpn' });
    if (rest.length) this.bindings.set(a.home, rest);
    else this.bindings.delete(a.home);
    const tunIndex = await this.nl.linkIndex(this.o.tunName);
    // Away nodes' packets are routed into the TUN: the kernel then proxy-ARPs for the home
    // address on the home link (it only does for routes through another device), and this data
    // plane tunnels them to the care-of address or, in VPN mode, hands them to the VPN gateway.
    const vpnRoute = this.o.vpnGateway && this.homeIfIndex ? { dst: a.home, prefixLength: 32, table: HA_VPN_TABLE, gateway: this.o.vpnGateway, dev: this.homeIfIndex } : undefined;
    if (rest.length) {
      await this.nl.addRoute({ dst: a.home, prefixLength: 32, dev: tunIndex });
      if (vpnRoute && a.mode === 'vpn') await this.nl.addRoute(vpnRoute);
      if (this.homeIfIndex) {
        await this.nl.addProxyNeighbour(this.homeIfIndex, a.home);
        // RFC 5944 §4.6: neighbours that still map the home address to the node's hardware
        // address learn the agent's instead (sent twice, as lost ARP is not retransmitted).
        if (list.length === 0) this.announce(this.o.homeInterface!, a.home);
      }
    } else {
      if (this.homeIfIndex) await this.nl.delProxyNeighbour(this.homeIfIndex, a.home);
      await this.nl.delRoute({ dst: a.home, prefixLength: 32, dev: tunIndex });
      if (vpnRoute) await this.nl.delRoute(vpnRoute);
    }
  }

  /** Gratuitous ARP for `ip` on `ifname`, now and once more half a second later. */
  private announce(ifname: string, ip: number): void {
    const send = () => this.guard('arp', () => gratuitousArp(ifname, ip));
    send();
    setTimeout(send, 500).unref();
    this.count('gratuitous_arp');
  }

  // --- proxy -----------------------------------------------------------------------------------

  private proxyBinding(a: Extract<Action, { kind: 'proxy-binding' }>): void {
    const list = (this.bindings.get(a.outer) ?? []).filter((b) => !(b.careOf === a.careOf && b.port === a.port));
    if (a.op === 'set') list.push({ careOf: a.careOf, tunnel: a.tunnel, port: a.port });
    if (list.length) this.bindings.set(a.outer, list);
    else this.bindings.delete(a.outer);
  }

  // --- foreign agent ---------------------------------------------------------------------------

  private async visitor(a: Extract<Action, { kind: 'visitor' }>): Promise<void> {
    const ifIndex = await this.nl.linkIndex(a.ifname);
    const old = this.visitors.get(a.home);
    if (a.op === 'del') {
      this.visitors.delete(a.home);
      if (old?.rule) {
        await this.nl.delRule({ priority: old.rule, table: FA_TABLE, src: a.home, iif: old.ifname });
        this.ruleSlots.delete(old.rule);
      }
      await this.nl.delRoute({ dst: a.home, prefixLength: 32, dev: ifIndex });
      return;
    }
    // Make-before-break (a renewal, a new care-of address or home agent): the visitor stays in the
    // map and its route and rule stay in place until the new ones are in, so no tunnelled packet for
    // it meets a missing entry (a renewal used to drop what arrived during its netlink round trips).
    await this.nl.addRoute({ dst: a.home, prefixLength: 32, dev: ifIndex, scope: 'link' });
    let rule = 0;
    if (a.reverse) {
      if (old?.rule && old.ifname === a.ifname) rule = old.rule;
      else {
        rule = RULE_BASE + 10;
        while (this.ruleSlots.has(rule)) rule++;
        this.ruleSlots.add(rule);
        await this.nl.addRule({ priority: rule, table: FA_TABLE, src: a.home, iif: a.ifname });
      }
    }
    this.visitors.set(a.home, { homeAgent: a.homeAgent, careOf: a.careOf, ifname: a.ifname, rule });
    if (old?.rule && old.rule !== rule) {
      await this.nl.delRule({ priority: old.rule, table: FA_TABLE, src: a.home, iif: old.ifname });
      this.ruleSlots.delete(old.rule);
    }
  }

  // --- mobile node -----------------------------------------------------------------------------

  private scheduleLinkScan(): void {
    if (this.linkTimer) return;
    this.linkTimer = setTimeout(() => {
      this.linkTimer = undefined;
      this.linkScan().catch((e) => this.host.log('warn', 'link-scan-failed', { error: (e as Error).message }));
    }, LINK_SCAN_DELAY_MS);
  }

  private lastLinks = new Map<string, string>();

  /**
   * Reads the physical interfaces' state and feeds changes to the role as link events. Losses go
   * first: when one scan sees an old link gone and a new one up (break-before-make), the role must
   * not register on the new link while it still believes in the old one, or the registration is
   * sent before the data plane has the new care-of address's exit (it went into the TUN, toward
   * the old link, and was lost: 1 s until the retransmission).
   */
  private async linkScan(): Promise<void> {
    const links = await this.nl.links();
    const addrs = await this.nl.addresses();
    const routes = await this.nl.sock.getRoutes({ family: 2 } as never);
    const changed: LinkEvent[] = [];
    const exitNow = new Map<string, Exit>();
    for (const name of this.o.mnInterfaces ?? []) {
      const l = links.find((x) => x.name === name);
      const ev: LinkEvent = { kind: 'link', ifname: name, up: !!l && l.up, addresses: [] };
      if (l) {
        ev.addresses = addrs.filter((x) => x.index === l.index).map((x) => ({ address: x.address, prefixLength: x.prefixLength }));
        const exit = exitOf(routes, l.index);
        if (typeof exit === 'number') ev.gateway = exit;
        if (l.up && ev.addresses.length) exitNow.set(name, exit);
      }
      const key = JSON.stringify(ev);
      if (this.lastLinks.get(name) === key) continue;
      this.lastLinks.set(name, key);
      changed.push(ev);
    }
    const lost = (ev: LinkEvent): number => (ev.up && ev.addresses.length > 0 ? 1 : 0);
    changed.sort((x, y) => lost(x) - lost(y));
    for (const ev of changed) this.host.dispatch(ev);
    // DHCP may add the default route after the address: a care-of address's exit (installed
    // `unreachable` until then) follows it. Only for links up with an address and their exit
    // installed (a link going down is the role's business: it detaches), with the node's state as
    // it is when the install runs (the role's answer to these events may be on its way); a failure
    // must not stop the scans.
    if ([...this.installedExits].some(([n, e]) => exitNow.has(n) && exitNow.get(n) !== e)) {
      await this.serially(async () => {
        const a = this.mn;
        if (a && a.location === 'foreign') await this.mnInstall(a, a);
      }).catch((e) => this.host.log('warn', 'dataplane-mn-failed', { error: (e as Error).message }));
    }
  }

  private mnChain: Promise<void> = Promise.resolve();

  /** Runs the node's installs one after the other: two interleaved would leave a mix of both states. */
  private serially(f: () => Promise<void>): Promise<void> {
    const p = this.mnChain.then(f);
    this.mnChain = p.catch(() => undefined);
    return p;
  }

  private async mnState(a: Extract<Action, { kind: 'mn-state' }>): Promise<void> {
    const prev = this.mn;
    this.mn = a;
    const same = prev && prev.location === a.location && prev.careOf === a.careOf && prev.agent === a.agent && prev.outerAddress === a.outerAddress
      && prev.homeAddress === a.homeAddress && prev.ifname === a.ifname && prev.tunnel === a.tunnel && JSON.stringify(prev.others) === JSON.stringify(a.others);
    // Leaving the VPN (home: pass-through) happens before the routes change, so nothing the node
    // sends next (its deregistration, its traffic) is routed into a tunnel that no longer leads anywhere.
    // A node between registrations ('down') keeps its SAs: nothing is renegotiated on a move.
    if (prev?.vpn !== 'pass-through' && a.vpn === 'pass-through') await this.mnVpn(a);
    if (!same) await this.serially(() => this.mnInstall(a, prev));
    if (a.vpn === 'up' && prev?.vpn !== 'up') void this.mnVpn(a);
  }

  private async mnInstall(a: Extract<Action, { kind: 'mn-state' }>, prev: Extract<Action, { kind: 'mn-state' }> | undefined): Promise<void> {
    const nl = this.nl;
    const inst = this.mnInstalled;
    const tunIndex = await nl.linkIndex(this.o.tunName);
    const vpnIndex = await nl.linkIndex(this.o.vpnTunName ?? 'roamdvpn');
    const want: typeof inst = { rules: [], routes: [], addrs: [] };
    const exits = new Map<string, Exit>();
    if (a.homeAddress) want.addrs.push([vpnIndex, a.homeAddress, 32]);
    if (a.location === 'foreign' && a.careOf) {
      const routes = await nl.sock.getRoutes({ family: 2 } as never);
      const phys = await nl.linkIndex(a.ifname).catch(() => 0);
      if (phys) {
        // The agent's own traffic — signalling from the care-of address, tunnelled packets sent
        // bound to the interface — leaves through this interface's own exit (table 211): the FA,
        // or the router the interface was configured with, whatever the main table says now.
        const exit = a.agent || exitOf(routes, phys);
        if (a.agent) want.routes.push({ dst: a.agent, prefixLength: 32, dev: phys, scope: 'link' });
        want.routes.push(...onLinkRoutes(routes, phys, MN_AGENT_TABLE), exitRoute(MN_AGENT_TABLE, phys, exit));
        if (!a.agent) want.rules.push({ priority: RULE_BASE, table: MN_AGENT_TABLE, src: a.careOf });
        want.rules.push({ priority: RULE_BASE + 1, table: MN_AGENT_TABLE, oif: a.ifname });
        if (!a.agent) exits.set(a.ifname, exit);
      }
      // Other co-located care-of addresses (a standby binding, a registration in flight from a new
      // link): what is sent from one leaves through its own link, by its own table. A foreign
      // agent's link needs nothing: the agent's host route (agentHeard) is enough.
      for (const o of a.others) {
        const pos = (this.o.mnInterfaces ?? []).indexOf(o.ifname);
        const idx = o.agent || !o.careOf || pos < 0 ? 0 : await nl.linkIndex(o.ifname).catch(() => 0);
        if (!idx) continue;
        const exit = exitOf(routes, idx);
        want.routes.push(...onLinkRoutes(routes, idx, MN_LINK_TABLE + pos), exitRoute(MN_LINK_TABLE + pos, idx, exit));
        want.rules.push({ priority: RULE_BASE, table: MN_LINK_TABLE + pos, src: o.careOf });
        exits.set(o.ifname, exit);
      }
    }
    // The outer address (the VPN's local address) and its route stay through a detached spell between
    // links: if the address disappeared, or the route to the VPN gateway left the tunnel for a new
    // link's address, even briefly, the IKE daemon would see an address change and reauthenticate.
    if (a.location !== 'home' && a.outerAddress && (a.careOf || a.location === 'detached')) {
      want.addrs.push([tunIndex, a.outerAddress, 32]);
      want.routes.push({ dst: 0, prefixLength: 0, table: MN_TABLE, dev: tunIndex, src: a.outerAddress });
      want.rules.push({ priority: RULE_BASE + 50, table: MN_TABLE });
    }
    // Install the new state before removing the old one (make-before-break for the routes).
    for (const [i, ad, l] of want.addrs) if (!inst.addrs.some((x) => x[0] === i && x[1] === ad)) await nl.addAddress(i, ad, l);
    for (const r of want.routes) await nl.addRoute(r);
    for (const r of want.rules) if (!inst.rules.some((x) => JSON.stringify(x) === JSON.stringify(r))) await nl.addRule(r);
    for (const r of inst.rules) if (!want.rules.some((x) => JSON.stringify(x) === JSON.stringify(r))) await nl.delRule(r);
    for (const r of inst.routes) if (!want.routes.some((x) => JSON.stringify(x) === JSON.stringify(r))) await nl.delRoute(r);
    for (const [i, ad, l] of inst.addrs) if (!want.addrs.some((x) => x[0] === i && x[1] === ad)) await nl.delAddress(i, ad, l);
    this.mnInstalled = want;
    this.installedExits = exits;
    // Back on the home link (RFC 5944 §4.6): neighbours map the home address to the node again.
    if (a.location === 'home' && a.homeAddress && a.ifname && prev?.location !== 'home') this.announce(a.ifname, a.homeAddress);
    this.host.log('info', 'dataplane-mn', { location: a.location, careOf: ipStr(a.careOf), outer: ipStr(a.outerAddress), agent: ipStr(a.agent), tunnel: a.tunnel, ifname: a.ifname });
  }

  private async mnVpn(a: Extract<Action, { kind: 'mn-state' }>): Promise<void> {
    if (!this.vpn) return;
    const t0 = Date.now();
    try {
      if (a.vpn === 'up') {
        const sa = await this.vpn.up();
        this.host.log('info', 'vpn-up', { ike: sa ? `${sa.ikeSpiI}_${sa.ikeSpiR}` : 'none', child: sa?.children.map((c) => `${c.spiIn}/${c.spiOut}`).join(',') ?? '', ms: Date.now() - t0 });
      } else {
        await this.vpn.down();
        this.host.log('info', 'vpn-pass-through', { ms: Date.now() - t0 });
      }
    } catch (e) {
      this.count('vpn_error');
      this.host.log('warn', 'vpn-failed', { want: a.vpn, error: (e as Error).message });
    }
  }

  /** Last keepalive sent from each standby care-of address (the current one counts its traffic: lastTx). */
  private readonly standbyTx = new Map<number, number>();

  private natKeepalive(): void {
    const a = this.mn;
    const proxy = this.o.proxyOutside;
    if (!a || a.location !== 'foreign' || !proxy) return;
    const k = (this.o.natKeepaliveS ?? 20) * 1000;
    const now = Date.now();
    // RFC 3519 §4.9: a UDP-encapsulated ICMP echo request to the home agent (here, the proxy).
    const ping = (careOf: number) => {
      // Straight to the socket: lastTx is the current care-of address's traffic alone.
      this.host.sendUdp(tunnelDataFrame(icmpEcho(a.outerAddress, proxy, 0x726d, now & 0xffff)), proxy, this.o.mipPort, careOf);
      if (careOf === a.careOf) this.lastTx = now;
      this.count('nat_keepalive');
    };
    if (a.tunnel === 'udp' && now - this.lastTx >= k) ping(a.careOf);
    // A standby binding behind a NAT carries no traffic of ours: its mapping needs keepalives too.
    for (const o of a.others) {
      if (o.tunnel !== 'udp') continue;
      const last = this.standbyTx.get(o.careOf);
      if (last === undefined) this.standbyTx.set(o.careOf, now); // just registered: the request opened the mapping
      else if (now - last >= k) {
        ping(o.careOf);
        this.standbyTx.set(o.careOf, now);
      }
    }
    for (const c of this.standbyTx.keys()) if (!a.others.some((o) => o.careOf === c && o.tunnel === 'udp')) this.standbyTx.delete(c);
  }

  private sendUdpTunnel(inner: Buffer, dst: number, port: number, src?: number): void {
    this.lastTx = Date.now();
    this.host.sendUdp(tunnelDataFrame(inner), dst, port, src);
  }

  // --- packets ---------------------------------------------------------------------------------

  /** Packets the kernel routed into our TUN. */
  private fromTun(pkts: Packet[]): void {
    const o = this.o;
    for (const p of pkts) {
      const v = ipv4View(p.data);
      if (!v) {
        this.count('tun_not_ipv4');
        continue;
      }
      const pkt = p.data.subarray(0, v.totalLength);
      switch (o.role) {
        case 'ha':
        case 'proxy': {
          // Toward every care-of address bound to the destination (home or outer address).
          const list = this.bindings.get(v.dst);
          if (!list) {
            this.count('tun_no_binding');
            continue;
          }
          const src = o.role === 'ha' ? o.haAddress! : o.outside!;
          for (const b of list) {
            if (b.vpn && this.homeSock) this.homeSock.send(pkt, v.dst); // toward the VPN gateway (table 214)
            else if (b.tunnel === 'udp') this.sendUdpTunnel(pkt, b.careOf, b.port, src);
            else if (this.ipip) this.ipip.send(encapsulateIpip(pkt, src, b.careOf), b.careOf);
          }
          this.count('tx_tunnelled', list.length);
          break;
        }
        case 'fa': {
          // Reverse tunnelling (RFC 3024): a visitor's packet, to its home agent.
          const vis = this.visitors.get(v.src);
          if (!vis) {
            this.count('tun_not_visitor');
            continue;
          }
          this.ipip?.send(encapsulateIpip(pkt, vis.careOf, vis.homeAgent), vis.homeAgent);
          this.count('tx_reverse_tunnelled');
          break;
        }
        case 'mn': {
          const a = this.mn;
          if (!a || a.location !== 'foreign') {
            this.count('tun_not_attached');
            continue;
          }
          if (a.tunnel === 'udp') this.sendUdpTunnel(pkt, o.proxyOutside!, o.mipPort, a.careOf);
          else if (a.agent) this.sendOnLink(pkt, a);
          else this.sendOnLink(encapsulateIpip(pkt, a.careOf, o.proxyOutside!), a);
          this.lastTx = Date.now();
          break;
        }
      }
    }
  }

  private agentSock: { ifname: string; sock: RawSocket } | undefined;
  private homeSock: RawSocket | undefined;

  /**
   * Sends a whole datagram out the current physical interface (the socket is bound to it, so the
   * interface's table 211 routes it, never the mobility TUN): IP-in-IP from a co-located address,
   * or, with a foreign agent care-of address, the packet itself (the FA reverse-tunnels it).
   */
  private sendOnLink(pkt: Buffer, a: Extract<Action, { kind: 'mn-state' }>): void {
    if (this.agentSock?.ifname !== a.ifname) {
      this.agentSock?.sock.close();
      this.agentSock = { ifname: a.ifname, sock: RawSocket.open(255, { hdrincl: true, device: a.ifname, pktinfo: false }) };
    }
    this.agentSock.sock.send(pkt, ipv4View(pkt)!.dst);
  }

  /** IP-in-IP packets received on the raw socket. */
  private fromIpip(pkts: Packet[]): void {
    for (const p of pkts) {
      const d = decapsulateIpip(p.data);
      const inner = d ? ipv4View(d.inner) : null;
      if (!d || !inner) {
        this.count('rx_ipip_malformed');
        continue;
      }
      if (!this.acceptInner(d.outerSrc, 0, inner.src, inner.dst, 'ipip')) continue;
      this.tun!.write(d.inner);
      this.count('rx_decapsulated');
    }
  }

  tunnelData(data: Buffer, src: number, srcPort: number): void {
    this.guard('udp', () => this.fromTunnelData(data, src, srcPort));
  }

  private fromTunnelData(data: Buffer, src: number, srcPort: number): void {
    if (data.length < 4 || data[1] !== IpProto.IPIP) {
      this.count('rx_tunnel_data_bad');
      return;
    }
    const innerBuf = data.subarray(4);
    const inner = ipv4View(innerBuf);
    if (!inner || !this.acceptInner(src, srcPort, inner.src, inner.dst, 'udp')) {
      if (!inner) this.count('rx_tunnel_data_bad');
      return;
    }
    this.tun!.write(innerBuf.subarray(0, inner.totalLength));
    this.count('rx_decapsulated');
  }

  /** Anti-spoofing: a tunnelled packet is accepted only from where its inner address is bound. */
  private acceptInner(outerSrc: number, port: number, innerSrc: number, innerDst: number, tunnel: 'ipip' | 'udp'): boolean {
    const o = this.o;
    let ok = false;
    switch (o.role) {
      case 'ha':
      case 'proxy':
        ok = !!this.bindings.get(innerSrc)?.some((b) => b.careOf === outerSrc && b.tunnel === tunnel && (tunnel === 'ipip' || b.port === port));
        break;
      case 'fa':
        ok = this.visitors.has(innerDst) && [...this.visitors.values()].some((x) => x.homeAgent === outerSrc);
        break;
      case 'mn':
        ok = !!this.mn && outerSrc === o.proxyOutside && innerDst === this.mn.outerAddress;
        break;
    }
    if (!ok) this.count('rx_spoofed_or_unbound');
    return ok;
  }

  status(): Record<string, unknown> {
    return {
      mode: 'userspace', tun: this.o.tunName, bindings: this.bindings.size, visitors: this.visitors.size, mn: this.mn ?? null,
      counters: this.counters, tunStats: this.tun?.stats(), ipipStats: this.ipip?.stats(),
    };
  }

  async stop(): Promise<void> {
    if (this.keepalive) clearInterval(this.keepalive);
    if (this.linkTimer) clearTimeout(this.linkTimer);
    if (this.mn?.vpn === 'up' && this.vpn) await this.vpn.down().catch(() => undefined);
    this.icmp.close();
    this.agentSock?.sock.close();
    this.homeSock?.close();
    this.ipip?.close();
    const removed = await this.nl.cleanup().catch(() => 0);
    for (const [i, a, l] of this.mnInstalled.addrs) await this.nl.delAddress(i, a, l);
    if (this.homeIfIndex) for (const home of this.bindings.keys()) await this.nl.delProxyNeighbour(this.homeIfIndex, home);
    this.tun?.close();
    this.vpnTun?.close();
    this.nl.close();
    this.host.log('info', 'dataplane-stopped', { removed });
  }
}
