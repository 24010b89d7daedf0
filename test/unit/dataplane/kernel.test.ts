/**
 * The kernel data plane (src/dataplane/kernel.ts) and its netlink builders (src/netlink/lwtunnel.ts).
 *
 * 1. Bytes: every builder against what iproute2 6.1 itself sends for the same command, captured with
 *    `strace -e trace=sendmsg -xx ip|tc ...` in a namespace (nlmsghdr type and flags, then the body;
 *    length, sequence and pid left out). The ifindex of the device was 3 in every capture.
 * 2. The encap route through the real kernel (root, namespace): this machine's kernel has
 *    lightweight tunnels but no ipip module, so the route goes through a veth; `ip route show` must
 *    read back what roamd sent.
 * 3. Decisions: which routes, rules, filters and proxy ARP entries each action leads to, with a fake
 *    netlink and a fake userspace plane (the VM lane runs the real thing: test/vm/).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import * as L from '../../../src/netlink/lwtunnel';
import { KernelDataPlane, KernelNetlink } from '../../../src/dataplane/kernel';
import type { DataPlane, DataplaneHost } from '../../../src/dataplane/index';
import type { Action } from '../../../src/roles/types';
import type { RouteSpec, RuleSpec } from '../../../src/netlink/rtnl';
import { withNetns, netnsAvailable } from '../../util/netns';

const ip = (s: string): number => s.split('.').reduce((a, x) => a * 256 + Number(x), 0) >>> 0;
const CREATE_EXCL = 0x600, CREATE_REPLACE = 0x500;

/** [command, nlmsg_type, nlmsg_flags without REQUEST|ACK, body hex] as captured from iproute2 6.1. */
const IPROUTE2: Array<[string, number, number, string, Buffer]> = [
  ['ip route add 10.1.0.5/32 encap ip dst 192.0.2.1 src 198.51.100.1 ttl 64 dev v0 proto 213', 0x18, CREATE_EXCL,
    '02200000fed5fd0100000000080001000a0100051c00168008000200c000020108000300c6336401050004004000000006001500020000000800040003000000',
    L.routeMessage({ dst: ip('10.1.0.5'), prefixLength: 32, dev: 3, encap: { dst: ip('192.0.2.1'), src: ip('198.51.100.1'), ttl: 64 }, protocol: 213 })],
  ['ip route replace 10.1.0.5/32 encap ip dst 192.0.2.9 src 198.51.100.1 ttl 64 dev v0 proto 213', 0x18, CREATE_REPLACE,
    '02200000fed5fd0100000000080001000a0100051c00168008000200c000020908000300c6336401050004004000000006001500020000000800040003000000',
    L.routeMessage({ dst: ip('10.1.0.5'), prefixLength: 32, dev: 3, encap: { dst: ip('192.0.2.9'), src: ip('198.51.100.1'), ttl: 64 }, protocol: 213 })],
  ['ip route replace default table 1001 encap ip dst 192.0.2.1 src 198.51.100.1 ttl 64 dev v0 proto 213', 0x18, CREATE_REPLACE,
    '0200000000d5fd010000000008000f00e90300001c00168008000200c000020108000300c6336401050004004000000006001500020000000800040003000000',
    L.routeMessage({ dst: 0, prefixLength: 0, table: 1001, dev: 3, encap: { dst: ip('192.0.2.1'), src: ip('198.51.100.1'), ttl: 64 }, protocol: 213 })],
  ['ip route replace default table 210 via 198.51.100.254 src 10.9.9.9 dev v0 onlink proto 213', 0x18, CREATE_REPLACE,
    '02000000d2d500010400000008000500c63364fe080007000a0909090800040003000000',
    L.routeMessage({ dst: 0, prefixLength: 0, table: 210, dev: 3, gateway: ip('198.51.100.254'), onlink: true, src: ip('10.9.9.9'), protocol: 213 })],
  ['ip route del 10.1.0.5/32 dev v0 proto 213', 0x19, 0,
    '02200000fed5ff0000000000080001000a0100050800040003000000',
    L.routeDeleteMessage({ dst: ip('10.1.0.5'), prefixLength: 32, dev: 3, protocol: 213 })],
  ['ip route del default table 1001 dev v0 proto 213', 0x19, 0,
    '0200000000d5ff000000000008000f00e90300000800040003000000',
    L.routeDeleteMessage({ dst: 0, prefixLength: 0, table: 1001, dev: 3, protocol: 213 })],
  ['ip link add roamd-ipip type ipip external', 0x10, CREATE_EXCL,
    '000000000000000000000000000000000f000300726f616d642d6970697000001c001200080001006970697010000200050009000000000004001300',
    L.ipipExternalLink('roamd-ipip')],
  ['tc qdisc add dev v0 clsact', 0x24, CREATE_EXCL,
    '00000000030000000000fffff1ffffff000000000b000100636c736163740000', L.clsactQdisc(3)],
  ['tc filter add dev v0 ingress protocol ip pref 100 handle 7 flower enc_src_ip 192.0.2.1 src_ip 10.1.0.5 action pass', 0x2c, CREATE_EXCL,
    '000000000300000007000000f2ffffff080064000b000100666c6f77657200006400020008001b00c000020108001c00ffffffff08000a000a01000508000b00ffffffff300003002c0001000900010067616374000000001c00028018000200000000000000000000000000000000000000000008001600000000000600080008000000',
    L.flowerFilter({ ifindex: 3, pref: 100, handle: 7, protocol: 'ip', encSrc: ip('192.0.2.1'), src: ip('10.1.0.5'), action: 'pass' })],
  ['tc filter add dev v0 ingress protocol ip pref 100 handle 8 flower enc_src_ip 192.0.2.1 dst_ip 10.1.0.5 action pass', 0x2c, CREATE_EXCL,
    '000000000300000008000000f2ffffff080064000b000100666c6f77657200006400020008001b00c000020108001c00ffffffff08000c000a01000508000d00ffffffff300003002c0001000900010067616374000000001c00028018000200000000000000000000000000000000000000000008001600000000000600080008000000',
    L.flowerFilter({ ifindex: 3, pref: 100, handle: 8, protocol: 'ip', encSrc: ip('192.0.2.1'), dst: ip('10.1.0.5'), action: 'pass' })],
  ['tc filter add dev v0 ingress protocol all pref 65000 handle 1 flower action drop', 0x2c, CREATE_EXCL,
    '000000000300000001000000f2ffffff0003e8fd0b000100666c6f77657200003c000200300003002c0001000900010067616374000000001c0002801800020000000000000000000200000000000000000000000800160000000000',
    L.flowerFilter({ ifindex: 3, pref: 65000, handle: 1, protocol: 'all', action: 'drop' })],
  // Captured with strace from iproute2 6.1 (tc), ifindex as above.
  ['tc filter add dev v0 ingress protocol all pref 65000 handle 1 flower enc_src_ip 0.0.0.0/1 action drop', 0x2c, CREATE_EXCL,
    '000000000300000001000000f2ffffff0003e8fd0b000100666c6f77657200004c00020008001b000000000008001c0080000000300003002c0001000900010067616374000000001c0002801800020000000000000000000200000000000000000000000800160000000000',
    L.flowerFilter({ ifindex: 3, pref: 65000, handle: 1, protocol: 'all', encSrc: 0, encSrcPrefix: 1, action: 'drop' })],
  ['tc filter add dev v0 ingress protocol all pref 65000 handle 2 flower enc_src_ip 128.0.0.0/1 action drop', 0x2c, CREATE_EXCL,
    '000000000300000002000000f2ffffff0003e8fd0b000100666c6f77657200004c00020008001b008000000008001c0080000000300003002c0001000900010067616374000000001c0002801800020000000000000000000200000000000000000000000800160000000000',
    L.flowerFilter({ ifindex: 3, pref: 65000, handle: 2, protocol: 'all', encSrc: 0x80000000, encSrcPrefix: 1, action: 'drop' })],
  ['tc filter del dev v0 ingress protocol ip pref 100 handle 7 flower', 0x2d, 0,
    '000000000300000007000000f2ffffff080064000b000100666c6f77657200001400020008001600000000000600080008000000',
    L.flowerDelete({ ifindex: 3, pref: 100, handle: 7, protocol: 'ip' })],
];

test('1. builders: byte for byte what iproute2 sends for the same commands', () => {
  for (const [cmd, , , hex, ours] of IPROUTE2) assert.is(ours.toString('hex'), hex, cmd);
});

test('1b. message types and flags the plane uses are those iproute2 used', () => {
  assert.is(L.RTM.NEWROUTE, 0x18);
  assert.is(L.RTM.DELROUTE, 0x19);
  assert.is(L.RTM.NEWLINK, 0x10);
  assert.is(L.RTM.NEWQDISC, 0x24);
  assert.is(L.RTM.NEWTFILTER, 0x2c);
  assert.is(L.RTM.DELTFILTER, 0x2d);
  assert.is(L.NLM_F.CREATE | L.NLM_F.EXCL, CREATE_EXCL);
  assert.is(L.NLM_F.CREATE | L.NLM_F.REPLACE, CREATE_REPLACE);
});

test('1c. RTA_ENCAP layout: nested flag, LWTUNNEL_IP_DST 2 / SRC 3 / TTL 4, type LWTUNNEL_ENCAP_IP 2', () => {
  const m = L.routeMessage({ dst: ip('10.1.0.5'), prefixLength: 32, dev: 9, encap: { dst: ip('192.0.2.1'), src: ip('198.51.100.1'), ttl: 64 }, protocol: 213 });
  let off = 12;
  const seen: Record<number, Buffer> = {};
  while (off < m.length) {
    const len = m.readUInt16LE(off), type = m.readUInt16LE(off + 2);
    seen[type] = m.subarray(off + 4, off + len);
    off += (len + 3) & ~3;
  }
  assert.ok(seen[22 | 0x8000], 'RTA_ENCAP with NLA_F_NESTED');
  assert.is(seen[21]!.readUInt16LE(0), 2);
  const inner = seen[22 | 0x8000]!;
  assert.equal([...inner.subarray(0, 8)], [8, 0, 2, 0, 192, 0, 2, 1]);
  assert.equal([...inner.subarray(8, 16)], [8, 0, 3, 0, 198, 51, 100, 1]);
  assert.equal([...inner.subarray(16, 21)], [5, 0, 4, 0, 64]);
});

// --- the real kernel --------------------------------------------------------------------------

const root = netnsAvailable();

test('2. encap route installed, moved and removed through the kernel with roamd\'s bytes', async () => {
  if (!root) {
    console.log('  (skipped: needs root and iproute2 for a namespace)');
    return;
  }
  await withNetns(1, async (ns) => {
    ns.ip('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    ns.ip('link', 'set', 'v0', 'up');
    ns.ip('addr', 'add', '198.51.100.1/24', 'dev', 'v0');
    const idx = Number(/^(\d+):/.exec(ns.ip('-o', 'link', 'show', 'v0'))![1]);
    const lw = join(__dirname, '..', '..', '..', 'src', 'netlink', 'lwtunnel.ts');
    const send = (calls: string) => execFileSync('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', '-e', `
      const { createRtNetlink } = require('netlink'); const L = require(${JSON.stringify(lw)});
      const s = createRtNetlink(); const ip = (x) => x.split('.').reduce((a, y) => a * 256 + Number(y), 0) >>> 0;
      (async () => { ${calls}; s.socket.close(); })().catch((e) => { console.error(e.code || e.message); process.exit(1); });`], { encoding: 'utf8', cwd: join(__dirname, '..', '..', '..') });
    const route = (dst: string) => `await s.request(24, [L.routeMessage({ dst: ip('10.1.0.5'), prefixLength: 32, dev: ${idx}, encap: { dst: ip('${dst}'), src: ip('198.51.100.1'), ttl: 64 }, protocol: 213 })], { flags: 0x500 })`;
    send(route('192.0.2.1'));
    assert.match(ns.ip('route', 'show', 'proto', '213'), /^10\.1\.0\.5 +encap ip id 0 src 198\.51\.100\.1 dst 192\.0\.2\.1 ttl 64 tos 0 dev v0 scope link/m);
    send(route('192.0.2.9')); // a move: replaced in place, still one route
    const after = ns.ip('route', 'show', 'proto', '213').trim().split('\n');
    assert.is(after.length, 1, after.join('\n'));
    assert.match(after[0]!, /dst 192\.0\.2\.9 ttl 64/);
    send(`await s.request(25, [L.routeDeleteMessage({ dst: ip('10.1.0.5'), prefixLength: 32, dev: ${idx}, protocol: 213 })], { flags: 0 })`);
    assert.is(ns.ip('route', 'show', 'proto', '213').trim(), '');
    // Table >= 256 and a default route (the FA's reverse-tunnelling table).
    send(`await s.request(24, [L.routeMessage({ dst: 0, prefixLength: 0, table: 1001, dev: ${idx}, encap: { dst: ip('192.0.2.1'), src: ip('198.51.100.1'), ttl: 64 }, protocol: 213 })], { flags: 0x500 })`);
    assert.match(ns.ip('route', 'show', 'table', '1001'), /^default +encap ip id 0 src 198\.51\.100\.1 dst 192\.0\.2\.1 ttl 64 tos 0 dev v0 proto 213 scope link/m);
  });
});

// --- decisions --------------------------------------------------------------------------------

const IPIP = 40, PHYS = 5, HOME_IF = 6, ACCESS = 7, TUN = 8;

/** A flower filter's action list beyond gact: `set DST` (tunnel_key), `unset`, `mirror IFINDEX`. */
function actionList(v: Buffer): string[] {
  const out: string[] = [];
  const each = (b: Buffer, f: (t: number, x: Buffer) => void) => {
    for (let off = 0; off < b.length;) {
      const len = b.readUInt16LE(off);
      f(b.readUInt16LE(off + 2) & 0x7fff, b.subarray(off + 4, off + len));
      off += (len + 3) & ~3;
    }
  };
  each(v, (_order, a) => {
    let kind = '';
    each(a, (t, x) => {
      if (t === 1) kind = x.toString().replace(/\0.*$/, '');
      if (t !== 2 || kind === 'gact') return;
      each(x, (ot, ov) => {
        if (kind === 'mirred' && ot === 2) out.push(`mirror ${ov.readUInt32LE(24)}${ov.readInt32LE(20) === 2 ? '' : ' (not egress mirror)'}`);
        if (kind === 'tunnel_key' && ot === 2 && ov.readInt32LE(20) === 2) out.push('unset');
        if (kind === 'tunnel_key' && ot === 4) out.push(`set ${ov[0]}.${ov[1]}.${ov[2]}.${ov[3]}`);
      });
    });
  });
  return out;
}

function decode(type: number, body: Buffer): string {
  const a = (x: number) => `${body[x]}.${body[x + 1]}.${body[x + 2]}.${body[x + 3]}`;
  const attrs = (start: number): Map<number, Buffer> => {
    const m = new Map<number, Buffer>();
    for (let off = start; off < body.length;) {
      const len = body.readUInt16LE(off);
      m.set(body.readUInt16LE(off + 2) & 0x7fff, body.subarray(off + 4, off + len));
      off += (len + 3) & ~3;
    }
    return m;
  };
  const q = (b?: Buffer) => (b ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : '');
  switch (type) {
    case L.RTM.NEWROUTE: case L.RTM.DELROUTE: {
      const m = attrs(12);
      const table = body[4] || m.get(15)!.readUInt32LE(0);
      const e = m.get(22);
      const enc = e ? ` encap ${q(e.subarray(4, 8))}<-${q(e.subarray(12, 16))} ttl ${e[20]}` : '';
      const via = m.get(5) ? ` via ${q(m.get(5))}${body.readUInt32LE(8) & 4 ? ' onlink' : ''}` : '';
      const src = m.get(7) ? ` src ${q(m.get(7))}` : '';
      return `${type === L.RTM.NEWROUTE ? 'route' : 'unroute'} ${m.get(1) ? q(m.get(1)) : '0.0.0.0'}/${body[1]} t${table}${via}${enc}${src} dev ${m.get(4)!.readUInt32LE(0)}`;
    }
    case L.RTM.NEWTFILTER: case L.RTM.DELTFILTER: {
      const handle = body.readUInt32LE(8), pref = body.readUInt32LE(16) >>> 16;
      if (type === L.RTM.DELTFILTER) return `unfilter ${handle}`;
      const m = attrs(20);
      const o = m.get(2)!;
      const keys: string[] = [];
      for (let off = 0; off < o.length;) {
        const len = o.readUInt16LE(off), t = o.readUInt16LE(off + 2);
        const v = o.subarray(off + 4, off + len);
        if (t === 27) keys.push(`enc_src ${q(v)}`);
        if (t === 29) keys.push(`enc_dst ${q(v)}`);
        if (t === 10) keys.push(`src ${q(v)}`);
        if (t === 12) keys.push(`dst ${q(v)}`);
        if (t === 3) keys.push(...actionList(v));
        off += (len + 3) & ~3;
      }
      const egress = body.readUInt32LE(12) === 0xfffffff3 ? 'egress ' : '';
      return `filter ${egress}${pref}/${handle} ${keys.join(' ')}`.trim();
    }
    case L.RTM.NEWLINK: return 'link ipip external';
    case L.RTM.NEWQDISC: return 'qdisc clsact';
    default: return `type ${type} ${a(0)}`;
  }
}

class FakeNl implements KernelNetlink {
  log: string[] = [];
  readonly links: Record<string, number> = { 'roamd-ipip': IPIP, eth0: PHYS, home0: HOME_IF, acc0: ACCESS, roamd0: TUN };
  created = false;
  async linkIndex(n: string): Promise<number> {
    if (n === 'roamd-ipip' && !this.created) throw Object.assign(new Error('no'), { code: 'ENODEV' });
    const i = this.links[n];
    if (!i) throw new Error(`no ${n}`);
    return i;
  }
  async setUp(i: number): Promise<void> { this.log.push(`up ${i}`); }
  async addRoute(r: RouteSpec): Promise<void> { this.log.push(`rtnl-route ${r.dst === 0 ? '0.0.0.0' : fmt(r.dst)}/${r.prefixLength} dev ${r.dev}`); }
  async delRoute(r: RouteSpec): Promise<void> { this.log.push(`rtnl-unroute ${fmt(r.dst)}/${r.prefixLength} dev ${r.dev}`); }
  async addRule(r: RuleSpec): Promise<void> { this.log.push(`rule ${r.priority} iif ${r.iif} from ${fmt(r.src!)} t${r.table}`); }
  async delRule(r: RuleSpec): Promise<void> { this.log.push(`unrule ${r.priority} from ${fmt(r.src!)} t${r.table}`); }
  async addProxyNeighbour(i: number, a: number): Promise<void> { this.log.push(`pneigh ${i} ${fmt(a)}`); }
  async delProxyNeighbour(i: number, a: number): Promise<void> { this.log.push(`unpneigh ${i} ${fmt(a)}`); }
  async cleanup(): Promise<number> { this.log.push('cleanup'); return 0; }
  /** Refuse egress filters (a kernel without act_tunnel_key / act_mirred). */
  failEgress = false;
  async raw(type: number, body: Buffer): Promise<void> {
    if (type === L.RTM.NEWLINK) this.created = true;
    if (this.failEgress && type === L.RTM.NEWTFILTER && body.readUInt32LE(12) === 0xfffffff3) throw Object.assign(new Error('no'), { code: 'ENOENT' });
    this.log.push(decode(type, body));
  }
  async delLink(i: number): Promise<void> { this.log.push(`dellink ${i}`); }
  close(): void { this.log.push('close'); }
  take(): string[] {
    const l = this.log;
    this.log = [];
    return l;
  }
}

const fmt = (a: number) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;

class FakeDelegate implements DataPlane {
  readonly mode = 'userspace' as const;
  applied: string[] = [];
  async start(): Promise<void> { this.applied.push('start'); }
  async apply(a: Action): Promise<void> {
    if (a.kind === 'ha-binding' || a.kind === 'proxy-binding') this.applied.push(`${a.kind} ${a.op} ${fmt(a.careOf)} ${a.tunnel}${a.kind === 'ha-binding' ? ` ${a.mode}` : ''}`);
    else if (a.kind === 'mn-state') this.applied.push(`mn ${a.location} ${a.tunnel}`);
  }
  tunnelData(): void { this.applied.push('tunnel-data'); }
  status(): Record<string, unknown> { return { mode: 'userspace', mn: null }; }
  async stop(): Promise<void> { this.applied.push('stop'); }
}

function host(): DataplaneHost & { logs: string[] } {
  const logs: string[] = [];
  return { logs, sendUdp: () => undefined, log: (l, e, f) => void logs.push(`${l} ${e} ${JSON.stringify(f ?? {})}`), count: () => undefined, dispatch: () => undefined };
}

async function plane(role: 'ha' | 'proxy' | 'fa' | 'mn', extra: Record<string, unknown> = {}) {
  const nl = new FakeNl();
  const delegate = role === 'fa' ? null : new FakeDelegate();
  const arps: string[] = [];
  const sysctls: string[] = [];
  const dp = new KernelDataPlane(host(), { role, tunName: 'roamd0', mipPort: 434, ...extra } as never, {
    nl, delegate, sysctl: (n, v) => void sysctls.push(`${n}=${v}`), gratuitousArp: (i, a) => void arps.push(`${i} ${fmt(a)}`),
  });
  await dp.start();
  return { dp, nl, delegate, arps, sysctls, start: nl.take() };
}

const proxyB = (op: 'set' | 'del', outer: string, careOf: string, tunnel: 'ipip' | 'udp' = 'ipip', port = 0): Action =>
  ({ kind: 'proxy-binding', op, home: ip('10.8.0.2'), outer: ip(outer), careOf: ip(careOf), tunnel, port });

test('3. start: userspace plane first, then one ipip external device, clsact and the catch-all drop', async () => {
  const { start, delegate, sysctls } = await plane('proxy', { outside: ip('198.51.100.1') });
  assert.equal(delegate!.applied, ['start']);
  assert.equal(start, ['link ipip external', `up ${IPIP}`, 'qdisc clsact', 'filter 65000/1 enc_src 0.0.0.0', 'filter 65000/2 enc_src 128.0.0.0']);
  assert.ok(sysctls.includes('net.ipv4.ip_forward=1'));
  assert.ok(sysctls.includes('net.ipv4.conf.roamd-ipip.rp_filter=2'));
});

test('4. proxy: filter before route, move replaces the route in place, old CoA accepted until removed', async () => {
  const { dp, nl, delegate } = await plane('proxy', { outside: ip('198.51.100.1') });
  await dp.apply(proxyB('set', '100.64.0.7', '192.0.2.10'));
  assert.equal(nl.take(), ['filter 100/2 enc_src 192.0.2.10 src 100.64.0.7', `route 100.64.0.7/32 t254 encap 192.0.2.10<-198.51.100.1 ttl 64 dev ${IPIP}`]);
  // Make-before-break: the new care-of address is registered before the old one is removed.
  // Both bound (S): the route leads to the newest, an egress filter copies each packet to the other
  // (tunnel destination set, a clone mirrored to roamd-ipip, the newest's destination put back).
  await dp.apply(proxyB('set', '100.64.0.7', '192.0.2.20'));
  assert.equal(nl.take(), ['filter 100/3 enc_src 192.0.2.20 src 100.64.0.7', `route 100.64.0.7/32 t254 encap 192.0.2.20<-198.51.100.1 ttl 64 dev ${IPIP}`,
    `filter egress 50/4 enc_dst 192.0.2.20 dst 100.64.0.7 set 192.0.2.10 mirror ${IPIP} set 192.0.2.20`]);
  await dp.apply(proxyB('del', '100.64.0.7', '192.0.2.10'));
  assert.equal(nl.take(), [`route 100.64.0.7/32 t254 encap 192.0.2.20<-198.51.100.1 ttl 64 dev ${IPIP}`, 'unfilter 2', 'unfilter 4']);
  // A UDP binding (behind NAT) becomes the newest: the kernel route goes, the pool route into the TUN
  // carries it, and the TUN's egress copies each packet to the IP-in-IP binding still held.
  await dp.apply(proxyB('set', '100.64.0.7', '203.0.113.5', 'udp', 4500));
  assert.equal(nl.take(), [`unroute 100.64.0.7/32 t254 dev ${IPIP}`, 'qdisc clsact', `filter egress 50/4 dst 100.64.0.7 set 192.0.2.20 mirror ${IPIP} unset`]);
  assert.equal(delegate!.applied.slice(1), ['proxy-binding set 203.0.113.5 udp']);
  // An IP-in-IP binding newest again, the UDP one held: a clone of each packet goes to the TUN.
  await dp.apply(proxyB('set', '100.64.0.7', '192.0.2.20'));
  assert.equal(nl.take(), [`route 100.64.0.7/32 t254 encap 192.0.2.20<-198.51.100.1 ttl 64 dev ${IPIP}`,
    `filter egress 50/2 enc_dst 192.0.2.20 dst 100.64.0.7 mirror ${TUN} set 192.0.2.20`, 'unfilter 4']);
  await dp.apply(proxyB('del', '100.64.0.7', '192.0.2.20'));
  assert.equal(nl.take(), [`unroute 100.64.0.7/32 t254 dev ${IPIP}`, 'unfilter 3', 'unfilter 2']);
  await dp.apply(proxyB('del', '100.64.0.7', '203.0.113.5', 'udp', 4500));
  assert.equal(nl.take(), []);
  assert.equal(delegate!.applied.slice(-1), ['proxy-binding del 203.0.113.5 udp']);
  assert.is((dp.status() as { bindings: number }).bindings, 0);
});

test('4c. proxy: a kernel that refuses the copy filter: counted, logged once, the newest binding still routed', async () => {
  const { dp, nl } = await plane('proxy', { outside: ip('198.51.100.1') });
  nl.failEgress = true;
  await dp.apply(proxyB('set', '100.64.0.7', '192.0.2.10'));
  await dp.apply(proxyB('set', '100.64.0.7', '192.0.2.20'));
  assert.equal(nl.take().slice(-1), [`route 100.64.0.7/32 t254 encap 192.0.2.20<-198.51.100.1 ttl 64 dev ${IPIP}`]);
  await dp.apply(proxyB('set', '100.64.0.8', '192.0.2.30'));
  await dp.apply(proxyB('set', '100.64.0.8', '192.0.2.40'));
  const st = dp.status() as { counters: Record<string, number> };
  assert.is(st.counters.copy_filter_failed, 2);
  assert.is(st.counters.apply_error ?? 0, 0);
  nl.failEgress = false;
  await dp.apply(proxyB('del', '100.64.0.7', '192.0.2.10'));
  assert.ok(!nl.take().some((l) => l.startsWith('unfilter') && l !== 'unfilter 2'), 'no copy filter to remove');
});

test('4b. proxy: a pool address that is a covering /32 of its own gets its route into the TUN back, in place, when the kernel route goes', async () => {
  // Pool 100.64.0.7 + 9: covering prefixes 100.64.0.7/32 and 100.64.0.8/29; the first is the same route as the binding's.
  const { dp, nl } = await plane('proxy', { outside: ip('198.51.100.1'), outerPool: { first: ip('100.64.0.7'), count: 9 } });
  await dp.apply(proxyB('set', '100.64.0.7', '192.0.2.10'));
  nl.take();
  await dp.apply(proxyB('set', '100.64.0.7', '203.0.113.5', 'udp', 4500));
  const l = nl.take();
  // Replaced in place (a replace, never a delete first: no instant without a route).
  assert.equal(l[0], `rtnl-route 100.64.0.7/32 dev ${TUN}`);
  assert.not.ok(l.some((x) => x.startsWith('unroute')), l.join('\n'));
  // Any other pool address is covered by a wider prefix: nothing to put back.
  await dp.apply(proxyB('set', '100.64.0.9', '192.0.2.10'));
  await dp.apply(proxyB('set', '100.64.0.9', '203.0.113.5', 'udp', 4501));
  assert.not.ok(nl.take().some((x) => x.startsWith('rtnl-route')));
});

test('5. proxy: the filter handle of a removed binding is reused', async () => {
  const { dp, nl } = await plane('proxy', { outside: ip('198.51.100.1') });
  await dp.apply(proxyB('set', '100.64.0.7', '192.0.2.10'));
  await dp.apply(proxyB('del', '100.64.0.7', '192.0.2.10'));
  nl.take();
  await dp.apply(proxyB('set', '100.64.0.8', '192.0.2.11'));
  assert.equal(nl.take()[0], 'filter 100/2 enc_src 192.0.2.11 src 100.64.0.8');
});

test('5b. proxy: a renewal from the same care-of address keeps its filter (flower refuses a duplicate: EEXIST)', async () => {
  const { dp, nl } = await plane('proxy', { outside: ip('198.51.100.1') });
  await dp.apply(proxyB('set', '100.64.0.7', '192.0.2.10'));
  nl.take();
  await dp.apply(proxyB('set', '100.64.0.7', '192.0.2.10'));
  assert.equal(nl.take(), [`route 100.64.0.7/32 t254 encap 192.0.2.10<-198.51.100.1 ttl 64 dev ${IPIP}`]);
  await dp.apply(proxyB('del', '100.64.0.7', '192.0.2.10'));
  assert.equal(nl.take(), [`unroute 100.64.0.7/32 t254 dev ${IPIP}`, 'unfilter 2']);
  assert.is((dp.status() as { filters: number }).filters, 0);
});

const haB = (op: 'set' | 'del', careOf: string, mode: 'tunnel' | 'vpn' = 'tunnel'): Action =>
  ({ kind: 'ha-binding', op, home: ip('10.1.0.5'), careOf: ip(careOf), mode, tunnel: 'ipip', port: 0, reverse: true });

test('6. ha tunnel mode: encap route to the CoA, proxy ARP on the home link, gratuitous ARP once', async () => {
  const { dp, nl, arps } = await plane('ha', { haAddress: ip('10.1.0.1'), homeInterface: 'home0' });
  await dp.apply(haB('set', '192.0.2.10'));
  assert.equal(nl.take(), ['filter 100/2 enc_src 192.0.2.10 src 10.1.0.5', `route 10.1.0.5/32 t254 encap 192.0.2.10<-10.1.0.1 ttl 64 dev ${IPIP}`, `pneigh ${HOME_IF} 10.1.0.5`]);
  assert.equal(arps, ['home0 10.1.0.5']);
  await dp.apply(haB('set', '192.0.2.10')); // re-registration: same route, same filter, no new ARP
  assert.equal(arps.length, 1);
  assert.not.ok(nl.take().some((l) => l.startsWith('filter')), 'no second filter with the same keys');
  await dp.apply(haB('del', '192.0.2.10'));
  assert.equal(nl.take(), [`unroute 10.1.0.5/32 t254 dev ${IPIP}`, 'unfilter 2', `unpneigh ${HOME_IF} 10.1.0.5`]);
});

test('7. ha VPN mode goes to the userspace plane; an IP-in-IP binding replacing it is the kernel\'s', async () => {
  const { dp, nl, delegate } = await plane('ha', { haAddress: ip('10.1.0.1'), homeInterface: 'home0', vpnGateway: ip('10.1.0.254') });
  await dp.apply(haB('set', '198.51.100.1', 'vpn'));
  assert.equal(delegate!.applied.slice(1), ['ha-binding set 198.51.100.1 ipip vpn']);
  assert.equal(nl.take(), [`pneigh ${HOME_IF} 10.1.0.5`]);
  await dp.apply(haB('set', '192.0.2.10'));
  // The VPN-mode binding is still held (S): a clone of each packet goes to the TUN, whose plane sends it toward the VPN gateway.
  assert.equal(nl.take(), ['filter 100/2 enc_src 192.0.2.10 src 10.1.0.5', `route 10.1.0.5/32 t254 encap 192.0.2.10<-10.1.0.1 ttl 64 dev ${IPIP}`, `pneigh ${HOME_IF} 10.1.0.5`,
    'qdisc clsact', `filter egress 50/3 enc_dst 192.0.2.10 dst 10.1.0.5 mirror ${TUN} set 192.0.2.10`]);
  // The IP-in-IP binding goes: the VPN binding is the newest again and the userspace plane re-installs its route.
  await dp.apply(haB('del', '192.0.2.10'));
  // No delete of our route first: the userspace plane's route replaces it in place.
  assert.equal(nl.take(), ['unfilter 2', `pneigh ${HOME_IF} 10.1.0.5`, 'unfilter 3']);
  assert.equal(delegate!.applied.slice(-1), ['ha-binding set 198.51.100.1 ipip vpn']);
});

const visitor = (op: 'set' | 'del', home: string, homeAgent = '198.51.100.1', reverse = true): Action =>
  ({ kind: 'visitor', op, home: ip(home), ifname: 'acc0', linkAddr: '020000000001', homeAgent: ip(homeAgent), careOf: ip('192.0.2.1'), reverse });

test('8. fa: host route, reverse tunnelling through one table per home agent, filter on the HA', async () => {
  const { dp, nl, start } = await plane('fa');
  assert.equal(start[0], 'cleanup');
  await dp.apply(visitor('set', '100.64.0.7'));
  assert.equal(nl.take(), ['filter 100/2 enc_src 198.51.100.1 dst 100.64.0.7', `rtnl-route 100.64.0.7/32 dev ${ACCESS}`,
    `route 0.0.0.0/0 t1000 encap 198.51.100.1<-192.0.2.1 ttl 64 dev ${IPIP}`, 'rule 10010 iif acc0 from 100.64.0.7 t1000']);
  await dp.apply(visitor('set', '100.64.0.8'));
  assert.equal(nl.take(), ['filter 100/3 enc_src 198.51.100.1 dst 100.64.0.8', `rtnl-route 100.64.0.8/32 dev ${ACCESS}`, 'rule 10010 iif acc0 from 100.64.0.8 t1000']);
  await dp.apply(visitor('set', '100.64.0.9', '198.51.100.2'));
  assert.ok(nl.take().includes(`route 0.0.0.0/0 t1001 encap 198.51.100.2<-192.0.2.1 ttl 64 dev ${IPIP}`));
  await dp.apply(visitor('del', '100.64.0.7'));
  assert.equal(nl.take(), ['unrule 10010 from 100.64.0.7 t1000', 'unfilter 2', `rtnl-unroute 100.64.0.7/32 dev ${ACCESS}`]);
  await dp.apply(visitor('del', '100.64.0.8'));
  assert.equal(nl.take(), ['unrule 10010 from 100.64.0.8 t1000', `unroute 0.0.0.0/0 t1000 dev ${IPIP}`, 'unfilter 3', `rtnl-unroute 100.64.0.8/32 dev ${ACCESS}`]);
});

test('8b. fa: a renewal keeps filter, rule and table (no gap); a new home agent goes in before the old one goes', async () => {
  const { dp, nl } = await plane('fa');
  await dp.apply(visitor('set', '100.64.0.7'));
  nl.take();
  await dp.apply(visitor('set', '100.64.0.7'));
  assert.equal(nl.take(), [`rtnl-route 100.64.0.7/32 dev ${ACCESS}`], 'only the host route is re-asserted (replace)');
  await dp.apply(visitor('set', '100.64.0.7', '198.51.100.2'));
  assert.equal(nl.take(), [
    'filter 100/3 enc_src 198.51.100.2 dst 100.64.0.7', `rtnl-route 100.64.0.7/32 dev ${ACCESS}`,
    `route 0.0.0.0/0 t1001 encap 198.51.100.2<-192.0.2.1 ttl 64 dev ${IPIP}`, 'rule 10010 iif acc0 from 100.64.0.7 t1001',
    'unrule 10010 from 100.64.0.7 t1000', `unroute 0.0.0.0/0 t1000 dev ${IPIP}`, 'unfilter 2',
  ]);
});

const mn = (location: 'home' | 'foreign' | 'detached', tunnel: 'ipip' | 'udp' | 'none', agent = '0.0.0.0', careOf = '192.0.2.50'): Action =>
  ({ kind: 'mn-state', location, homeAddress: ip('10.1.0.5'), outerAddress: ip('100.64.0.7'), careOf: ip(careOf), ifname: 'eth0', agent: ip(agent), tunnel, natPort: 0, vpn: 'up', others: [] });

test('9. mn: table 210 default encapsulated to the proxy from the CoA, or via the FA; removed at home', async () => {
  const { dp, nl, delegate, sysctls } = await plane('mn', { proxyOutside: ip('198.51.100.1') });
  assert.ok(sysctls.includes('net.ipv4.conf.roamd-ipip.rp_filter=0'));
  assert.ok(!sysctls.includes('net.ipv4.ip_forward=1'));
  await dp.apply(mn('foreign', 'ipip'));
  assert.equal(nl.take(), ['filter 100/2 enc_src 198.51.100.1 dst 100.64.0.7', `route 0.0.0.0/0 t210 encap 198.51.100.1<-192.0.2.50 ttl 64 src 100.64.0.7 dev ${IPIP}`]);
  await dp.apply(mn('foreign', 'ipip', '0.0.0.0', '192.0.2.60')); // a move: same filter, route replaced
  assert.equal(nl.take(), [`route 0.0.0.0/0 t210 encap 198.51.100.1<-192.0.2.60 ttl 64 src 100.64.0.7 dev ${IPIP}`]);
  await dp.apply(mn('foreign', 'ipip', '192.0.2.1', '192.0.2.1')); // foreign agent care-of address
  assert.equal(nl.take(), [`route 0.0.0.0/0 t210 via 192.0.2.1 onlink src 100.64.0.7 dev ${PHYS}`]);
  await dp.apply(mn('foreign', 'udp')); // behind NAT: the userspace plane's TUN route
  assert.equal(nl.take(), [`unroute 0.0.0.0/0 t210 dev ${PHYS}`, 'unfilter 2']);
  await dp.apply(mn('foreign', 'ipip'));
  nl.take();
  await dp.apply(mn('home', 'none'));
  assert.equal(nl.take(), [`unroute 0.0.0.0/0 t210 dev ${IPIP}`, 'unfilter 2']);
  assert.equal(delegate!.applied.filter((x) => x.startsWith('mn')), ['mn foreign ipip', 'mn foreign ipip', 'mn foreign ipip', 'mn foreign udp', 'mn foreign ipip', 'mn home none']);
});

test('10. stop: userspace plane stopped (its cleanup takes the tagged routes), proxy ARP and device removed', async () => {
  const { dp, nl, delegate } = await plane('ha', { haAddress: ip('10.1.0.1'), homeInterface: 'home0' });
  await dp.apply(haB('set', '192.0.2.10'));
  nl.take();
  await dp.stop();
  assert.equal(delegate!.applied.slice(-1), ['stop']);
  assert.equal(nl.take(), [`unpneigh ${HOME_IF} 10.1.0.5`, `dellink ${IPIP}`, 'close']);
});

test('11. available(): reports the ipip module state without throwing', () => {
  const r = KernelDataPlane.available();
  assert.type(r.ok, 'boolean');
  assert.type(r.why, 'string');
  if (!r.ok) assert.match(r.why, /ipip/);
});

test.run();
