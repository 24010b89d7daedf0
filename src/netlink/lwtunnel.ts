/**
 * rtnetlink message bodies the `netlink` package cannot encode, built here byte by byte for the
 * kernel data plane (src/dataplane/kernel.ts):
 *
 * - an IP-in-IP device in external (collect-metadata) mode: IFLA_LINKINFO { IFLA_INFO_KIND "ipip",
 *   IFLA_INFO_DATA { IFLA_IPTUN_PMTUDISC 0, IFLA_IPTUN_COLLECT_METADATA } } (`ip link add NAME type
 *   ipip external`);
 * - routes with a lightweight-tunnel IP encapsulation: RTA_ENCAP { LWTUNNEL_IP_DST, LWTUNNEL_IP_SRC,
 *   LWTUNNEL_IP_TTL } + RTA_ENCAP_TYPE LWTUNNEL_ENCAP_IP (`ip route add P encap ip dst D src S ttl
 *   64 dev DEV`), and plain routes with a gateway, `onlink`, a preferred source or a table >= 256;
 * - the anti-spoofing filters: a clsact qdisc and tc flower filters matching the tunnel metadata
 *   (`enc_src_ip`) and the inner addresses, with a gact pass or drop action.
 *
 * Every builder returns the message body (what follows struct nlmsghdr) with the attributes in the
 * order iproute2 6.1 sends them for the equivalent command, so test/unit/dataplane/kernel.test.ts
 * compares them byte for byte with what `ip` and `tc` send (captured with strace). Attribute
 * layout (include/uapi/linux/netlink.h): struct nlattr { u16 len; u16 type; } then the payload,
 * padded to 4 bytes; len counts header + payload, not the padding.
 */

/** rtnetlink message types (include/uapi/linux/rtnetlink.h). */
export const RTM = {
  NEWLINK: 16, DELLINK: 17, NEWROUTE: 24, DELROUTE: 25, NEWQDISC: 36, DELQDISC: 37, NEWTFILTER: 44, DELTFILTER: 45,
} as const;

/** nlmsghdr flags (NLM_F_REQUEST and NLM_F_ACK are added by the socket). */
export const NLM_F = { REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400 } as const;

export const NLA_F_NESTED = 0x8000;
const AF_INET = 2;
const RTN_UNICAST = 1;
const RT_SCOPE_UNIVERSE = 0, RT_SCOPE_LINK = 253, RT_SCOPE_NOWHERE = 255;
const RTNH_F_ONLINK = 4;
const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PREFSRC: 7, TABLE: 15, ENCAP_TYPE: 21, ENCAP: 22 } as const;
/** include/uapi/linux/lwtunnel.h */
export const LWTUNNEL_ENCAP_IP = 2;
const LWTUNNEL_IP = { ID: 1, DST: 2, SRC: 3, TTL: 4, TOS: 5, FLAGS: 6 } as const;
const IFLA = { IFNAME: 3, LINKINFO: 18 } as const;
const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
const IFLA_IPTUN = { PMTUDISC: 9, COLLECT_METADATA: 19 } as const;

/** One attribute: header, payload, zero padding to 4 bytes. */
export function attr(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}

/** A nested attribute; `flag` sets NLA_F_NESTED in the type (iproute2 does for some nests only). */
export function nest(type: number, children: Buffer[], flag = false): Buffer {
  return attr(flag ? type | NLA_F_NESTED : type, Buffer.concat(children));
}

const u8 = (v: number): Buffer => Buffer.from([v & 255]);
const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const u16be = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
/** An IPv4 address (uint32, host order as everywhere in roamd) in network order. */
const ip4 = (a: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(a >>> 0);
  return b;
};

// --- links -------------------------------------------------------------------------------------

/**
 * RTM_NEWLINK body for `ip link add NAME type ipip external` (send with NLM_F.CREATE | NLM_F.EXCL):
 * struct ifinfomsg all zero, IFLA_IFNAME, IFLA_LINKINFO { KIND "ipip" (no NUL, as iproute2),
 * DATA { PMTUDISC u8 0, COLLECT_METADATA flag } }. In collect-metadata mode the device takes its
 * endpoints from each packet's tunnel metadata (the encap routes) and records the outer addresses
 * of what it receives in that metadata (what the flower filters match). One per namespace.
 */
export function ipipExternalLink(name: string): Buffer {
  const ifinfo = Buffer.alloc(16);
  const linkinfo = nest(IFLA.LINKINFO, [
    attr(IFLA_INFO.KIND, Buffer.from('ipip')),
    nest(IFLA_INFO.DATA, [attr(IFLA_IPTUN.PMTUDISC, u8(0)), attr(IFLA_IPTUN.COLLECT_METADATA)]),
  ]);
  return Buffer.concat([ifinfo, attr(IFLA.IFNAME, Buffer.from(`${name}\0`)), linkinfo]);
}

// --- routes ------------------------------------------------------------------------------------

export interface IpEncap {
  /** Outer destination: the care-of address (or the home agent / proxy). */
  dst: number;
  /** Outer source: our address. */
  src: number;
  /** Outer TTL (0 = inherit the inner TTL). */
  ttl: number;
}

/** The payload of RTA_ENCAP for LWTUNNEL_ENCAP_IP: { LWTUNNEL_IP_DST, LWTUNNEL_IP_SRC, LWTUNNEL_IP_TTL }. */
export function ipEncap(e: IpEncap): Buffer {
  return Buffer.concat([attr(LWTUNNEL_IP.DST, ip4(e.dst)), attr(LWTUNNEL_IP.SRC, ip4(e.src)), attr(LWTUNNEL_IP.TTL, u8(e.ttl))]);
}

export interface KRoute {
  dst: number;
  prefixLength: number;
  /** Routing table (default main, 254); >= 256 goes in RTA_TABLE. */
  table?: number;
  /** Output interface index. */
  dev: number;
  gateway?: number;
  /** The gateway is on the link even without a route to it (RTNH_F_ONLINK). */
  onlink?: boolean;
  /** Preferred source address (RTA_PREFSRC). */
  src?: number;
  encap?: IpEncap;
  /** Route protocol tag (roamd: 213). */
  protocol: number;
}

function rtmsg(dstLen: number, table: number, protocol: number, scope: number, type: number, flags: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(AF_INET, 0);
  b.writeUInt8(dstLen, 1);
  b.writeUInt8(table < 256 ? table : 0, 4);
  b.writeUInt8(protocol, 5);
  b.writeUInt8(scope, 6);
  b.writeUInt8(type, 7);
  b.writeUInt32LE(flags, 8);
  return b;
}

/**
 * RTM_NEWROUTE body (send with CREATE | REPLACE to install or move a binding). Attribute order as
 * `ip route replace DST [table T] [via GW] [src S] [encap ip dst D src S ttl N] dev DEV [onlink]`:
 * DST, TABLE, GATEWAY, PREFSRC, ENCAP (nested, NLA_F_NESTED), ENCAP_TYPE, OIF. Scope link without a
 * gateway, universe with one (as iproute2 picks).
 */
export function routeMessage(r: KRoute): Buffer {
  const table = r.table ?? 254;
  const parts: Buffer[] = [rtmsg(r.prefixLength, table, r.protocol, r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK, RTN_UNICAST, r.onlink ? RTNH_F_ONLINK : 0)];
  if (r.prefixLength) parts.push(attr(RTA.DST, ip4(r.dst)));
  if (table >= 256) parts.push(attr(RTA.TABLE, u32(table)));
  if (r.gateway) parts.push(attr(RTA.GATEWAY, ip4(r.gateway)));
  if (r.src) parts.push(attr(RTA.PREFSRC, ip4(r.src)));
  if (r.encap) {
    parts.push(nest(RTA.ENCAP, [ipEncap(r.encap)], true));
    parts.push(attr(RTA.ENCAP_TYPE, u16(LWTUNNEL_ENCAP_IP)));
  }
  parts.push(attr(RTA.OIF, u32(r.dev)));
  return Buffer.concat(parts);
}

/**
 * RTM_DELROUTE body as `ip route del DST [table T] dev DEV proto P`: scope nowhere and type 0 (match
 * any), the protocol and output interface given, so only roamd's route through DEV goes (not
 * another route for the same prefix, such as the userspace plane's route into its TUN).
 */
export function routeDeleteMessage(r: Pick<KRoute, 'dst' | 'prefixLength' | 'table' | 'dev' | 'protocol'>): Buffer {
  const table = r.table ?? 254;
  const parts: Buffer[] = [rtmsg(r.prefixLength, table, r.protocol, RT_SCOPE_NOWHERE, 0, 0)];
  if (r.prefixLength) parts.push(attr(RTA.DST, ip4(r.dst)));
  if (table >= 256) parts.push(attr(RTA.TABLE, u32(table)));
  parts.push(attr(RTA.OIF, u32(r.dev)));
  return Buffer.concat(parts);
}

// --- tc: clsact + flower -----------------------------------------------------------------------

const TC_H_CLSACT = 0xfffffff1;
const TC_H_INGRESS_HANDLE = 0xffff0000;
/** clsact's ingress hook: TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS). */
const TC_H_INGRESS_PARENT = 0xfffffff2;
/** clsact's egress hook: TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS). */
const TC_H_EGRESS_PARENT = 0xfffffff3;
const TCA = { KIND: 1, OPTIONS: 2 } as const;
const FLOWER = { ACT: 3, ETH_TYPE: 8, IPV4_SRC: 10, IPV4_SRC_MASK: 11, IPV4_DST: 12, IPV4_DST_MASK: 13, FLAGS: 22, ENC_IPV4_SRC: 27, ENC_IPV4_SRC_MASK: 28, ENC_IPV4_DST: 29, ENC_IPV4_DST_MASK: 30 } as const;
const TCA_ACT = { KIND: 1, OPTIONS: 2 } as const;
const TCA_GACT_PARMS = 2;
const TC_ACT_OK = 0, TC_ACT_SHOT = 2, TC_ACT_PIPE = 3;
/** linux/tc_act/tc_tunnel_key.h, tc_mirred.h. */
const TUNNEL_KEY = { PARMS: 2, ENC_IPV4_SRC: 3, ENC_IPV4_DST: 4, ENC_KEY_ID: 7, NO_CSUM: 10, ENC_TTL: 13, ACT_SET: 1, ACT_RELEASE: 2 } as const;
const TCA_MIRRED_PARMS = 2;
const TCA_EGRESS_MIRROR = 2;
const ETH_P_IP = 0x0800, ETH_P_ALL = 0x0003;

function tcmsg(ifindex: number, handle: number, parent: number, info: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeInt32LE(ifindex, 4);
  b.writeUInt32LE(handle >>> 0, 8);
  b.writeUInt32LE(parent >>> 0, 12);
  b.writeUInt32LE(info >>> 0, 16);
  return b;
}

/** tcm_info of a filter: priority in the high 16 bits, the protocol in network order in the low 16. */
function filterInfo(pref: number, protocol: number): number {
  return ((pref << 16) | ((protocol >> 8) & 255) | ((protocol & 255) << 8)) >>> 0;
}

/** RTM_NEWQDISC / RTM_DELQDISC body for `tc qdisc add|del dev DEV clsact`. */
export function clsactQdisc(ifindex: number): Buffer {
  return Buffer.concat([tcmsg(ifindex, TC_H_INGRESS_HANDLE, TC_H_CLSACT, 0), attr(TCA.KIND, Buffer.from('clsact\0'))]);
}

export interface FlowerFilter {
  ifindex: number;
  pref: number;
  handle: number;
  /** 'ip': IPv4 only (key eth_type 0x0800); 'all': every packet (no keys: the catch-all). */
  protocol: 'ip' | 'all';
  /** Outer (tunnel metadata) source and destination addresses, /32. */
  encSrc?: number;
  /**
   * Prefix length of `encSrc` (default 32). A filter with any outer-address key matches only packets
   * that carry IPv4 tunnel metadata. The mask must not be 0: with an all-zero mask flower leaves the
   * tunnel keys out of its dissector and the filter never matches (seen in the VM lane), so "any
   * tunnelled packet" takes two filters, 0.0.0.0/1 and 128.0.0.0/1.
   */
  encSrcPrefix?: number;
  encDst?: number;
  /** Inner source and destination addresses, /32. */
  src?: number;
  dst?: number;
  /** Default 'ingress'. */
  hook?: 'ingress' | 'egress';
  /**
   * pass, drop, or copies: for each, the packet's tunnel metadata set to `encap` (none: left as it
   * is) and a clone sent out of `dev` (`tunnel_key set` + `mirred egress mirror`); then the original
   * goes on with `after` as its metadata (`release`: none; undefined: as the last copy left it).
   */
  action: 'pass' | 'drop' | { copies: Array<{ dev: number; encap?: { src: number; dst: number; ttl: number } }>; after?: { src: number; dst: number; ttl: number } | 'release' };
}

function gact(action: number): Buffer {
  // struct tc_gact { tc_gen: index, capab, action, refcnt, bindcnt }
  const parms = Buffer.alloc(20);
  parms.writeInt32LE(action, 8);
  return nest(FLOWER.ACT, [nest(1, [attr(TCA_ACT.KIND, Buffer.from('gact\0')), nest(TCA_ACT.OPTIONS, [attr(TCA_GACT_PARMS, parms)], true)])]);
}

/** struct tc_gen: index, capab, action, refcnt, bindcnt (20 bytes), the action code at 8. */
function tcGen(size: number, action: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeInt32LE(action, 8);
  return b;
}

/** One action of a list: order `n`, kind, options. */
function act(n: number, kind: string, options: Buffer[]): Buffer {
  return nest(n, [attr(TCA_ACT.KIND, Buffer.from(`${kind}\0`)), nest(TCA_ACT.OPTIONS, options, true)]);
}

/** `tunnel_key set src_ip S dst_ip D id 0 ttl T nocsum pipe`, or `tunnel_key unset pipe`. */
function tunnelKey(n: number, e: { src: number; dst: number; ttl: number } | 'release'): Buffer {
  const parms = tcGen(24, TC_ACT_PIPE);
  parms.writeInt32LE(e === 'release' ? TUNNEL_KEY.ACT_RELEASE : TUNNEL_KEY.ACT_SET, 20);
  const opts = [attr(TUNNEL_KEY.PARMS, parms)];
  if (e !== 'release') {
    opts.push(attr(TUNNEL_KEY.ENC_IPV4_SRC, ip4(e.src)), attr(TUNNEL_KEY.ENC_IPV4_DST, ip4(e.dst)), attr(TUNNEL_KEY.ENC_KEY_ID, ip4(0)),
      attr(TUNNEL_KEY.NO_CSUM, Buffer.from([1])), attr(TUNNEL_KEY.ENC_TTL, Buffer.from([e.ttl])));
  }
  return act(n, 'tunnel_key', opts);
}

/** `mirred egress mirror dev IFINDEX pipe`. */
function mirror(n: number, ifindex: number): Buffer {
  const parms = tcGen(28, TC_ACT_PIPE);
  parms.writeInt32LE(TCA_EGRESS_MIRROR, 20);
  parms.writeUInt32LE(ifindex, 24);
  return act(n, 'mirred', [attr(TCA_MIRRED_PARMS, parms)]);
}

function actions(a: FlowerFilter['action']): Buffer {
  if (a === 'pass' || a === 'drop') return gact(a === 'pass' ? TC_ACT_OK : TC_ACT_SHOT);
  const list: Buffer[] = [];
  for (const c of a.copies) {
    if (c.encap) list.push(tunnelKey(list.length + 1, c.encap));
    list.push(mirror(list.length + 1, c.dev));
  }
  if (a.after) list.push(tunnelKey(list.length + 1, a.after));
  return nest(FLOWER.ACT, list);
}

const full = (): Buffer => Buffer.from([255, 255, 255, 255]);

/**
 * RTM_NEWTFILTER body (CREATE | EXCL) for `tc filter add dev DEV ingress protocol ip|all pref P
 * handle H flower [enc_src_ip A] [enc_dst_ip B] [src_ip C] [dst_ip D] action pass|drop`.
 */
export function flowerFilter(f: FlowerFilter): Buffer {
  const proto = f.protocol === 'ip' ? ETH_P_IP : ETH_P_ALL;
  const keys: Buffer[] = [];
  if (f.encSrc !== undefined) {
    const len = f.encSrcPrefix ?? 32;
    if (!Number.isInteger(len) || len < 1 || len > 32) throw new RangeError(`flower enc_src_ip prefix length ${len}: 1-32`);
    keys.push(attr(FLOWER.ENC_IPV4_SRC, ip4(f.encSrc)), attr(FLOWER.ENC_IPV4_SRC_MASK, ip4(len === 32 ? 0xffffffff : (0xffffffff << (32 - len)) >>> 0)));
  }
  if (f.encDst !== undefined) keys.push(attr(FLOWER.ENC_IPV4_DST, ip4(f.encDst)), attr(FLOWER.ENC_IPV4_DST_MASK, full()));
  if (f.src !== undefined) keys.push(attr(FLOWER.IPV4_SRC, ip4(f.src)), attr(FLOWER.IPV4_SRC_MASK, full()));
  if (f.dst !== undefined) keys.push(attr(FLOWER.IPV4_DST, ip4(f.dst)), attr(FLOWER.IPV4_DST_MASK, full()));
  keys.push(actions(f.action), attr(FLOWER.FLAGS, u32(0)));
  if (f.protocol === 'ip') keys.push(attr(FLOWER.ETH_TYPE, u16be(ETH_P_IP)));
  return Buffer.concat([tcmsg(f.ifindex, f.handle, parentOf(f.hook), filterInfo(f.pref, proto)), attr(TCA.KIND, Buffer.from('flower\0')), nest(TCA.OPTIONS, keys)]);
}

const parentOf = (hook: FlowerFilter['hook']): number => (hook === 'egress' ? TC_H_EGRESS_PARENT : TC_H_INGRESS_PARENT);

/** RTM_DELTFILTER body for `tc filter del dev DEV ingress protocol ip|all pref P handle H flower`. */
export function flowerDelete(f: Pick<FlowerFilter, 'ifindex' | 'pref' | 'handle' | 'protocol' | 'hook'>): Buffer {
  const proto = f.protocol === 'ip' ? ETH_P_IP : ETH_P_ALL;
  const opts: Buffer[] = [attr(FLOWER.FLAGS, u32(0))];
  if (f.protocol === 'ip') opts.push(attr(FLOWER.ETH_TYPE, u16be(ETH_P_IP)));
  return Buffer.concat([tcmsg(f.ifindex, f.handle, parentOf(f.hook), filterInfo(f.pref, proto)), attr(TCA.KIND, Buffer.from('flower\0')), nest(TCA.OPTIONS, opts)]);
}

/** Names for tests and logs. */
export const LWT = { LWTUNNEL_IP, IFLA_IPTUN, RTA } as const;
