/**
 * The whole deployment in network namespaces (ARCHITECTURE.md): intranet with a correspondent
 * node (cn), the home agent (ha) and the VPN gateway (gw); the DMZ with the gateway's outside and
 * the proxy (px); an internet router (inet); a hotspot with a foreign agent (hs); a wired subnet
 * (wd); a NAT (nat); and the mobile node (mn) with one interface toward each. strongSwan runs for
 * real on gw and mn (charon-systemd + swanctl, kernel-libipsec), roamd runs as ha, px, hs and mn
 * with the userspace data plane. Used by the e2e lane and by `npm run demo`.
 *
 * The VM lane (test/vm/) runs the same world in Debian's kernel with the kernel data plane and
 * strongSwan on xfrm, and adds netem delay: WorldOptions `ipsec`, `dataplane` and `accessDelayMs`,
 * whose defaults come from ROAMD_WORLD_IPSEC, ROAMD_WORLD_DATAPLANE and ROAMD_WORLD_DELAY_MS so that
 * the e2e lane and the benchmarks run there unchanged.
 */
import { mkdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ChildProcess } from 'node:child_process';
import { Lab, sh, sweep } from './netns';
import { callControl } from '../../src/platform/control';
import { parseListSas, SaInfo } from '../../src/dataplane/vpn';

/** The project root (ROAMD_ROOT when this file runs bundled somewhere else, as in the VM lane). */
export const ROOT = process.env.ROAMD_ROOT ?? join(__dirname, '..', '..');
export const BUNDLE = join(ROOT, 'dist', 'roamd.js');
export const PREFIX_ROOT = 're';

const K = { mnHa: '00112233445566778899aabbccddeeff', mnPx: '102132435465768798a9bacbdcedfe0f', pxHa: 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0', faPx: 'c1c2c3c4c5c6c7c8c9cacbcccdcecfd0' };
export const ADDR = { cn: '10.1.0.9', ha: '10.1.0.1', gwIn: '10.1.0.254', gwOut: '203.0.113.1', pxIn: '10.1.0.2', pxOut: '203.0.113.2', home: '10.1.0.50', fa: '192.0.2.1', wiredMn: '198.51.100.10', natMn: '192.168.1.10', natPublic: '100.64.3.2' };

export type Place = 'home' | 'hotspot' | 'wired' | 'nat';
export const IFACE: Record<Place, string> = { home: 'home0', hotspot: 'wlan0', wired: 'wired0', nat: 'natp0' };

export interface Daemon { name: string; ns: string; proc: ChildProcess; log: string; socket: string }

/** Options for baselines without roamd (bench/handoff.ts, bench/dataplane.ts); the e2e lane uses none. */
export interface WorldOptions {
  /** Give the node this co-located address (/24, default route via the hotspot router) on the hotspot link, as plain DHCP would, instead of relying on a foreign agent. */
  hotspotAddress?: string;
  /** strongSwan's IPsec: userspace ESP in charon (`libipsec`, default) or the kernel's xfrm (`xfrm`: needs the xfrm/esp4 modules). */
  ipsec?: 'libipsec' | 'xfrm';
  /** roamd's data plane on every daemon (default `userspace`). */
  dataplane?: 'userspace' | 'kernel';
  /** netem delay, each way, between the node and everything beyond its access links (on both ends of each access link). */
  accessDelayMs?: number;
  /** The node's `standby_bindings` (default on: the whole product; off shows plain make-before-break). */
  standbyBindings?: boolean;
}

/** WorldOptions defaults from the environment (see the top of this file). */
export function worldDefaults(env: NodeJS.ProcessEnv = process.env): WorldOptions {
  const o: WorldOptions = {};
  if (env.ROAMD_WORLD_IPSEC) {
    if (env.ROAMD_WORLD_IPSEC !== 'libipsec' && env.ROAMD_WORLD_IPSEC !== 'xfrm') throw new Error(`ROAMD_WORLD_IPSEC: libipsec or xfrm, not ${env.ROAMD_WORLD_IPSEC}`);
    o.ipsec = env.ROAMD_WORLD_IPSEC;
  }
  if (env.ROAMD_WORLD_DATAPLANE) {
    if (env.ROAMD_WORLD_DATAPLANE !== 'userspace' && env.ROAMD_WORLD_DATAPLANE !== 'kernel') throw new Error(`ROAMD_WORLD_DATAPLANE: userspace or kernel, not ${env.ROAMD_WORLD_DATAPLANE}`);
    o.dataplane = env.ROAMD_WORLD_DATAPLANE;
  }
  if (env.ROAMD_WORLD_DELAY_MS) {
    const ms = Number(env.ROAMD_WORLD_DELAY_MS);
    if (!Number.isInteger(ms) || ms < 0 || ms > 10_000) throw new Error(`ROAMD_WORLD_DELAY_MS: an integer 0-10000, not ${env.ROAMD_WORLD_DELAY_MS}`);
    o.accessDelayMs = ms;
  }
  return o;
}

export interface StrongswanOptions {
  /** MOBIKE (RFC 4555) on both ends: the baseline where the node's IKE SA uses its physical address. */
  mobike?: boolean;
}

/** Runs `ip` commands (one per line) in namespace `ns` as one batch. */
function ipBatch(ns: string, cmds: string[]): void {
  sh('ip', ['-n', ns, '-batch', '-'], { input: cmds.join('\n') + '\n' });
}

export class World {
  readonly lab: Lab;
  readonly dir: string;
  readonly ns: Record<string, string> = {};
  readonly daemons: Daemon[] = [];
  readonly charon: Record<string, ChildProcess> = {};
  place: Place = 'home';

  readonly options: WorldOptions;

  constructor(readonly tag = `${PREFIX_ROOT}${process.pid}-`, options: WorldOptions = {}) {
    this.options = { ...worldDefaults(), ...options };
    sweep(PREFIX_ROOT);
    this.lab = new Lab(tag);
    this.dir = join('/tmp', `roamd-e2e-${process.pid}`);
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
  }

  /** The whole deployment up: namespaces, strongSwan on gw and mn, the four roamd daemons answering. */
  async start(): Promise<void> {
    this.build();
    this.startStrongswan();
    await this.loadStrongswan();
    this.startRoamd();
    await this.ready();
  }

  /** Builds namespaces, links, addresses and routes. */
  build(): void {
    const L = this.lab;
    for (const n of ['cn', 'ha', 'gw', 'px', 'inet', 'hs', 'wd', 'nat', 'mn', 'lan']) this.ns[n] = L.ns(n);
    const N = this.ns as Record<string, string>;
    // Intranet LAN: a bridge in 'lan'.
    L.bridge(N.lan!, 'br0', [[N.cn!, 'eth0'], [N.ha!, 'eth0'], [N.gw!, 'in0'], [N.px!, 'in0'], [N.mn!, 'home0']]);
    L.ip(N.cn!, 'addr', 'add', `${ADDR.cn}/24`, 'dev', 'eth0');
    L.ip(N.ha!, 'addr', 'add', `${ADDR.ha}/24`, 'dev', 'eth0');
    L.ip(N.gw!, 'addr', 'add', `${ADDR.gwIn}/24`, 'dev', 'in0');
    L.ip(N.px!, 'addr', 'add', `${ADDR.pxIn}/24`, 'dev', 'in0');
    for (const n of ['cn', 'ha']) L.ip(N[n]!, 'route', 'add', 'default', 'via', ADDR.gwIn);
    for (const n of ['cn']) L.sysctl(N[n]!, 'net.ipv4.conf.all.accept_redirects', '0');
    // DMZ: a bridge in 'inet', which is also the internet router.
    L.ip(N.inet!, 'link', 'add', 'dmz', 'type', 'bridge');
    L.ip(N.inet!, 'link', 'set', 'dmz', 'up');
    L.ip(N.inet!, 'addr', 'add', '203.0.113.254/24', 'dev', 'dmz');
    for (const [n, ifn] of [['gw', 'out0'], ['px', 'out0']] as const) {
      L.link(N.inet!, `dmz-${n}`, N[n]!, ifn);
      L.ip(N.inet!, 'link', 'set', `dmz-${n}`, 'master', 'dmz');
    }
    L.ip(N.gw!, 'addr', 'add', `${ADDR.gwOut}/24`, 'dev', 'out0');
    L.ip(N.px!, 'addr', 'add', `${ADDR.pxOut}/24`, 'dev', 'out0');
    L.ip(N.gw!, 'route', 'add', 'default', 'via', '203.0.113.254');
    L.ip(N.px!, 'route', 'add', 'default', 'via', '203.0.113.254');
    L.ip(N.gw!, 'route', 'add', '198.18.0.0/24', 'via', ADDR.pxOut); // the outer pool lives behind the proxy
    for (const n of ['gw', 'px', 'inet', 'hs', 'wd', 'nat']) L.sysctl(N[n]!, 'net.ipv4.ip_forward', '1');
    // Access networks behind the internet router.
    const access: Array<[string, string, string, string, string]> = [['hs', '100.64.1', 'wlan0', '192.0.2.1/24', '192.0.2.0/24'], ['wd', '100.64.2', 'wired0', '198.51.100.1/24', '198.51.100.0/24'], ['nat', '100.64.3', 'natp0', '192.168.1.1/24', '']];
    for (const [n, net, mnIf, lanAddr, routed] of access) {
      L.link(N.inet!, `to-${n}`, N[n]!, 'up0');
      L.ip(N.inet!, 'addr', 'add', `${net}.1/30`, 'dev', `to-${n}`);
      L.ip(N[n]!, 'addr', 'add', `${net}.2/30`, 'dev', 'up0');
      L.ip(N[n]!, 'route', 'add', 'default', 'via', `${net}.1`);
      if (routed) L.ip(N.inet!, 'route', 'add', routed, 'via', `${net}.2`);
      L.link(N[n]!, 'lan0', N.mn!, mnIf);
      L.ip(N[n]!, 'addr', 'add', lanAddr, 'dev', 'lan0');
    }
    sh('nft', ['-f', '-'], { ns: N.nat!, input: 'table ip nat {\n chain post {\n  type nat hook postrouting priority 100;\n  oifname "up0" masquerade\n }\n}\n' });
    // The node starts at home.
    L.ip(N.mn!, 'addr', 'add', `${ADDR.home}/24`, 'dev', 'home0');
    L.ip(N.mn!, 'route', 'add', 'default', 'via', ADDR.gwIn);
    for (const ifn of ['wlan0', 'wired0', 'natp0']) L.ip(N.mn!, 'link', 'set', ifn, 'down');
    for (const k of ['all', 'default']) L.sysctl(N.mn!, `net.ipv4.conf.${k}.rp_filter`, '0');
    const delay = this.options.accessDelayMs ?? 0;
    if (delay > 0) {
      // Both directions of every access link: the node's side and the access router's side.
      const ends: Array<[string, string]> = [[N.mn!, 'wlan0'], [N.mn!, 'wired0'], [N.mn!, 'natp0'], [N.hs!, 'lan0'], [N.wd!, 'lan0'], [N.nat!, 'lan0']];
      for (const [ns, dev] of ends) sh('tc', ['qdisc', 'replace', 'dev', dev, 'root', 'netem', 'delay', `${delay}ms`, 'limit', '10000'], { ns });
    }
  }

  /** strongSwan on the gateway (responder) and the node (initiator), kernel-libipsec (or xfrm, see WorldOptions), PSK. */
  startStrongswan(opts: StrongswanOptions = {}): void {
    const xfrm = this.options.ipsec === 'xfrm';
    for (const who of ['gw', 'mn'] as const) {
      const d = join(this.dir, `sw-${who}`);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'strongswan.conf'), `charon-systemd {
  load = random nonce kdf openssl pem pkcs1 x509 revocation constraints pubkey hmac sha1 sha2 aes${xfrm ? '' : ' kernel-libipsec'} kernel-netlink socket-default vici updown counters
  install_routes = yes
  retransmit_tries = 3${opts.mobike ? `
  # MOBIKE at its best: move to a better path as soon as one appears (the default waits until
  # the old path is gone, which is break-before-make and not a fair baseline).
  prefer_best_path = yes` : ''}
  plugins {
    vici { socket = unix://${d}/charon.vici }${xfrm ? '' : `
    kernel-libipsec { load = yes }`}
  }
  journal { default = -1 }
  filelog { main { path = ${d}/charon.log
    default = 1
    ike = 2
    time_format = %H:%M:%S } }
}
`);
      const gw = who === 'gw';
      writeFileSync(join(d, 'swanctl.conf'), `connections {
  vpn {
    version = 2
    local_addrs = ${gw ? ADDR.gwOut : '%any'}
    remote_addrs = ${gw ? '%any' : ADDR.gwOut}
    proposals = aes128-sha256-modp2048
    mobike = ${opts.mobike ? 'yes' : 'no'}
    dpd_delay = 0
    rekey_time = 0
    reauth_time = 0
    local {
      auth = psk
      id = ${gw ? 'gw@corp.example' : 'alice@corp.example'}
    }
    remote {
      auth = psk
      id = ${gw ? 'alice@corp.example' : 'gw@corp.example'}
    }
    children {
      net {
        local_ts = ${gw ? '10.1.0.0/24' : `${ADDR.home}/32`}
        remote_ts = ${gw ? `${ADDR.home}/32` : '10.1.0.0/24'}
        esp_proposals = aes128-sha256
        rekey_time = 0
        dpd_action = none
      }
    }
  }
}
secrets {
  ike-alice {
    id-1 = alice@corp.example
    id-2 = gw@corp.example
    secret = "roamd-e2e-not-a-real-secret"
  }
}
`);
      this.charon[who] = this.lab.spawn(this.ns[who]!, '/usr/sbin/charon-systemd', [], { ...process.env, STRONGSWAN_CONF: join(d, 'strongswan.conf') });
    }
  }

  async loadStrongswan(): Promise<void> {
    for (const who of ['gw', 'mn'] as const) {
      const d = join(this.dir, `sw-${who}`);
      await waitFor(`charon on ${who}`, async () => existsSync(join(d, 'charon.vici')));
      sh('swanctl', ['--load-all', '--file', join(d, 'swanctl.conf'), '--uri', `unix://${d}/charon.vici`], { ns: this.ns[who], env: { ...process.env, STRONGSWAN_CONF: join(d, 'strongswan.conf') } });
    }
  }

  vici(who: 'gw' | 'mn'): string {
    return `unix://${join(this.dir, `sw-${who}`)}/charon.vici`;
  }

  /** The node's IKE and CHILD SA (SPIs), or null. */
  sa(who: 'gw' | 'mn' = 'mn'): SaInfo | null {
    const out = sh('swanctl', ['--list-sas', '--raw', '--uri', this.vici(who)], { ns: this.ns[who], allowFail: true });
    return parseListSas(out, 'vpn');
  }

  /** IKE messages charon has sent and received so far (counters plugin). */
  ikeMessages(who: 'gw' | 'mn' = 'mn'): number {
    const out = sh('swanctl', ['--counters', '--raw', '--uri', this.vici(who)], { ns: this.ns[who], allowFail: true });
    let n = 0;
    for (const m of out.matchAll(/\b(ike-init-in-req|ike-init-in-resp|ike-init-out-req|ike-init-out-resp|ike-auth-in-req|ike-auth-in-resp|ike-auth-out-req|ike-auth-out-resp|info-in-req|info-in-resp|info-out-req|info-out-resp|create-child-in-req|create-child-in-resp|create-child-out-req|create-child-out-resp|ike-rekey-init|ike-rekey-resp|child-rekey|ike-dpd-init|ike-dpd-resp)=(\d+)/g)) n += Number(m[2]);
    return n;
  }

  private config(role: string, body: string, extra = ''): string {
    const snap = role === 'ha' || role === 'proxy' ? `\n\toption snapshot '${join(this.dir, `${role}.state`)}'` : '';
    return `config roamd 'main'
	option role '${role}'${snap}
	option port '434'
	option control_socket '${join(this.dir, `${role}.sock`)}'
	option dataplane '${this.options.dataplane ?? 'userspace'}'
	option profile 'router-128m'
	option log_level 'info'
${extra}
${body}`;
  }

  startRoamd(): void {
    const cfgs: Record<string, [string, string]> = {
      ha: [this.ns.ha!, this.config('ha', `
config home_agent
	option address '${ADDR.ha}'
	option home_network '10.1.0.0/24'
config mobile_node
	option home_address '${ADDR.home}'
	option nai 'alice@corp.example'
	option spi '256'
	option key '${K.mnHa}'
config peer
	option role 'proxy'
	option address '${ADDR.pxIn}'
	option spi '1000'
	option key '${K.pxHa}'
config dataplane
	option home_interface 'eth0'
	option vpn_gateway '${ADDR.gwIn}'
`)],
      proxy: [this.ns.px!, this.config('proxy', `
config proxy
	option outside '${ADDR.pxOut}'
	option inside '${ADDR.pxIn}'
	option outer_pool '198.18.0.0/24'
	option keepalive '10'
config mobile_node
	option nai 'alice@corp.example'
	option spi '257'
	option key '${K.mnPx}'
config peer
	option role 'ha'
	option address '${ADDR.ha}'
	option spi '1000'
	option key '${K.pxHa}'
config peer
	option role 'fa'
	option address '${ADDR.fa}'
	option spi '1001'
	option key '${K.faPx}'
`)],
      fa: [this.ns.hs!, this.config('fa', `
config foreign_agent
	option advertise_interval '1'
	option registration_lifetime '600'
config interface
	option ifname 'lan0'
	option address '${ADDR.fa}/24'
config peer
	option role 'ha'
	option address '${ADDR.pxOut}'
	option spi '1001'
	option key '${K.faPx}'
`)],
      mn: [this.ns.mn!, this.config('mn', `
config mobile
	option nai 'alice@corp.example'
	option home_address '${ADDR.home}'
	option home_agent '${ADDR.ha}'
	option home_network '10.1.0.0/24'
	option spi '256'
	option key '${K.mnHa}'
	option proxy_outside '${ADDR.pxOut}'
	option proxy_inside '${ADDR.pxIn}'
	option proxy_spi '257'
	option proxy_key '${K.mnPx}'
	option lifetime '300'
	option solicit_interval '1'
	option standby_bindings '${this.options.standbyBindings === false ? 0 : 1}'
config interface
	option ifname 'wired0'
	option preference '30'
config interface
	option ifname 'home0'
	option preference '25'
config interface
	option ifname 'wlan0'
	option preference '20'
config interface
	option ifname 'natp0'
	option preference '10'
config dataplane
	option vpn_connection 'vpn'
	option vpn_child 'net'
	option vici_socket '${this.vici('mn')}'
	option nat_keepalive '10'
`)],
    };
    for (const [name, [ns, text]] of Object.entries(cfgs)) {
      writeFileSync(join(this.dir, `${name}.conf`), text);
      this.daemons.push(this.spawnDaemon(name, ns));
    }
  }

  private spawnDaemon(name: string, ns: string): Daemon {
    const proc = this.lab.spawn(ns, process.execPath, [BUNDLE, 'run', '--config', join(this.dir, `${name}.conf`)]);
    const d: Daemon = { name, ns, proc, log: '', socket: join(this.dir, `${name}.sock`) };
    proc.stdout!.on('data', (b) => (d.log += b));
    proc.stderr!.on('data', (b) => (d.log += b));
    return d;
  }

  /** kill -9 a daemon and start it again with the same configuration (as procd would respawn it). */
  async crashAndRestart(name: string): Promise<number> {
    const old = this.daemon(name);
    old.proc.kill('SIGKILL');
    await new Promise((r) => old.proc.once('exit', r));
    const t0 = Date.now();
    const d = this.spawnDaemon(name, old.ns);
    d.log = `${old.log}--- restarted\n`;
    this.daemons[this.daemons.indexOf(old)] = d;
    await waitFor(`roamd ${name} restarted`, async () => !!(await this.call(name, { cmd: 'status' }).catch(() => null)), 15_000);
    return Date.now() - t0;
  }

  daemon(name: string): Daemon {
    return this.daemons.find((d) => d.name === name)!;
  }

  async call(name: string, req: Record<string, unknown>): Promise<any> {
    const r = await callControl(this.daemon(name).socket, req);
    if (!r.ok) throw new Error(`${name}: ${r.error}`);
    return r.result;
  }

  async ready(): Promise<void> {
    // A liveness bound, not a timing check: < 1 s here, 4-7 s in the VM lane's emulated guest, and
    // over 15 s there when the host is busy (the daemons start in parallel; this waits for each).
    for (const d of this.daemons) await waitFor(`roamd ${d.name}`, async () => existsSync(d.socket) && !!(await this.call(d.name, { cmd: 'status' }).catch(() => null)), 45_000);
  }

  /**
   * Moves the node: the new link comes up (with its address and default route, as DHCP would
   * give), then the old one goes away (make-before-break when both are foreign: `finishMove()`).
   * With `breakFirst` the old link goes away before the new one comes up (break-before-make).
   */
  move(to: Place, opts: { breakFirst?: boolean } = {}): void {
    const mn = this.ns.mn!;
    const from = this.place;
    const ifn = IFACE[to];
    const detach = (): string[] => {
      const old = IFACE[from];
      return [`addr flush dev ${old}`, `route flush dev ${old}`, `link set ${old} down`];
    };
    const early = opts.breakFirst === true && from !== to;
    const cmds: string[] = early ? detach() : [];
    cmds.push(`link set ${ifn} up`);
    const addr = to === 'home' ? `${ADDR.home}/24` : to === 'wired' ? `${ADDR.wiredMn}/24` : to === 'nat' ? `${ADDR.natMn}/24`
      : to === 'hotspot' && this.options.hotspotAddress ? `${this.options.hotspotAddress}/24` : '';
    if (addr) cmds.push(`addr add ${addr} dev ${ifn}`);
    if (!early && (from === 'home' || to === 'home')) cmds.push(...detach());
    // One default route per interface, with a metric, as DHCP clients install them.
    const gw = to === 'wired' ? '198.51.100.1 metric 100' : to === 'nat' ? '192.168.1.1 metric 300' : to === 'home' ? `${ADDR.gwIn} metric 50`
      : to === 'hotspot' && this.options.hotspotAddress ? `${ADDR.fa} metric 200` : '';
    if (gw) cmds.push(`route replace default via ${gw.replace(' metric', ` dev ${ifn} metric`)}`);
    // One `ip -batch` per step: a link change happens at once, as it does on a real interface,
    // not over the tens of milliseconds that six `ip` processes take on a loaded machine (a gap
    // roamd and the strongSwan baselines would both pay, in every break-before-make move).
    ipBatch(mn, cmds);
    if (!early && from !== 'home' && to !== 'home') {
      const later = detach();
      this.pendingDetach = () => ipBatch(mn, later);
    }
    this.place = to;
  }

  pendingDetach: (() => void) | undefined;

  /** Completes a make-before-break move: the old link goes. */
  finishMove(): void {
    this.pendingDetach?.();
    this.pendingDetach = undefined;
  }

  teardown(): void {
    for (const d of this.daemons) if (d.proc.exitCode === null) d.proc.kill('SIGTERM');
    sh('sleep', ['0.5'], { allowFail: true });
    this.lab.teardown();
    // ROAMD_E2E_KEEP=1 keeps the configs, control sockets and charon logs for a look afterwards.
    if (process.env.ROAMD_E2E_KEEP === '1') console.log(`e2e: kept ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function waitFor(what: string, fn: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
