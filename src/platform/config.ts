/**
 * roamd's configuration: the UCI file (`/etc/config/roamd` on a router) read into one typed,
 * validated object per role. Every section and option is documented in docs/config.md; an
 * unknown option or section type is an error, so typos do not pass silently.
 */
import { RoamdError } from '../errors';
import { readUciFile, UciPackage, parseUci } from './uci';
import { SectionReader, sections, single, checkSectionTypes } from './config-reader';
import type { HaConfig } from '../roles/ha';
import type { ProxyConfig } from '../roles/proxy';
import type { FaConfig } from '../roles/fa';
import type { MnConfig } from '../roles/mn';
import { DEFAULT_VENDOR_ID } from '../roles/messages';
import { parseIp, parsePrefix } from './address';
import { buildFaConfig, buildMnConfig } from './config-agents';
import { readFileSync } from 'node:fs';
import { resolveRunAs, RunAs } from './users';

export type Role = 'ha' | 'fa' | 'proxy' | 'mn';
export const ROLES: readonly Role[] = ['ha', 'fa', 'proxy', 'mn'];
export type Dataplane = 'none' | 'userspace' | 'kernel';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface MainConfig {
  role: Role;
  /** Local addresses the Mobile IP UDP sockets bind to. */
  listen: number[];
  port: number;
  controlSocket: string;
  dataplane: Dataplane;
  /** Device profile name or path (targets/NAME.json). */
  profile: string;
  logLevel: LogLevel;
  snapshot?: string;
  /** Datagrams per second accepted from one source address (src/platform/rate-limit.ts); 0 = off. */
  rateLimit: number;
  /** `option user`/`group`: the account to switch to after setup (src/platform/privileges.ts). */
  runAs?: RunAs;
}

export type RoleConfig =
  | { role: 'ha'; ha: HaConfig }
  | { role: 'proxy'; proxy: ProxyConfig }
  | { role: 'fa'; fa: FaConfig }
  | { role: 'mn'; mn: MnConfig };

/** `config dataplane`: how the userspace data plane attaches to the system. */
export interface DataplaneConfig {
  tun: string;
  mtu: number;
  homeInterface?: string;
  vpnGateway?: number;
  vpnTun: string;
  vpnConnection?: string;
  vpnChild?: string;
  viciSocket?: string;
  natKeepalive: number;
}

export interface RoamdConfig {
  file: string;
  main: MainConfig;
  dataplane: DataplaneConfig;
  roleConfig: RoleConfig;
  /** Address ranges of the pools, for the tables. */
  homePool?: { first: number; count: number };
  outerPool?: { first: number; count: number };
}

const DEFAULT_PROFILE: Record<Role, string> = { ha: 'gateway', proxy: 'gateway', fa: 'router-128m', mn: 'router-128m' };

export function loadConfig(file: string): RoamdConfig {
  return buildConfig(file, readUciFile(file));
}

export function parseConfigText(text: string, file = '<config>'): RoamdConfig {
  return buildConfig(file, parseUci(text, file));
}

function buildConfig(file: string, p: UciPackage): RoamdConfig {
  const m = single(file, p, 'roamd', true)!;
  const role = m.oneOf<Role>('role', ROLES);
  const port = m.int('port', 1, 65535, 434);
  const main: MainConfig = {
    role,
    listen: m.list('listen').map((a, i) => {
      try {
        return parseIp(a);
      } catch {
        return m.fail('listen', `'${a}' (item ${i + 1}) is not allowed: an IPv4 address`);
      }
    }),
    port,
    controlSocket: m.str('control_socket', '/var/run/roamd.sock'),
    dataplane: m.oneOf<Dataplane>('dataplane', ['none', 'userspace', 'kernel'], 'none'),
    profile: m.str('profile', DEFAULT_PROFILE[role]),
    logLevel: m.oneOf<LogLevel>('log_level', ['debug', 'info', 'warn', 'error'], 'info'),
    snapshot: m.optStr('snapshot'),
    rateLimit: m.int('rate_limit', 0, 1_000_000, 100),
  };
  const user = m.optStr('user'), group = m.optStr('group');
  if (group !== undefined && user === undefined) m.fail('group', 'needs option user');
  if (user !== undefined) {
    const r = resolveRunAs(user, group, readOr('/etc/passwd'), readOr('/etc/group'));
    if ('error' in r) return m.fail(r.option, r.error);
    main.runAs = r;
  }
  const vendorId = m.int('vendor_id', 1, 0xffffffff, DEFAULT_VENDOR_ID);
  // Read by the OpenWrt init script (firewall zones to open), not by the daemon itself.
  m.list('firewall_zone');
  m.checkUnknown();
  const d = single(file, p, 'dataplane', false);
  const dataplane: DataplaneConfig = {
    tun: d?.str('tun', 'roamd0') ?? 'roamd0',
    mtu: d?.int('mtu', 576, 9000, 1400) ?? 1400,
    homeInterface: d?.optStr('home_interface'),
    vpnGateway: d?.optIp('vpn_gateway'),
    vpnTun: d?.str('vpn_tun', 'roamdvpn') ?? 'roamdvpn',
    vpnConnection: d?.optStr('vpn_connection'),
    vpnChild: d?.optStr('vpn_child'),
    viciSocket: d?.optStr('vici_socket'),
    natKeepalive: d?.int('nat_keepalive', 1, 3600, 20) ?? 20,
  };
  d?.checkUnknown();
  if (dataplane.vpnConnection && !dataplane.vpnChild) d!.fail('vpn_child', 'is required with vpn_connection');
  const out: RoamdConfig = { file, main, dataplane, roleConfig: undefined as never };
  switch (role) {
    case 'ha': {
      checkSectionTypes(file, p, ['roamd', 'home_agent', 'mobile_node', 'peer', 'dataplane']);
      const h = single(file, p, 'home_agent', true)!;
      const ha: HaConfig = {
        address: h.ip('address'),
        homeNetwork: h.prefix('home_network'),
        mipPort: port,
        maxLifetime: h.int('max_lifetime', 1, 65535, 1800),
        reverseTunnel: h.bool('reverse_tunnel', true),
        udpTunnel: h.bool('udp_tunnel', true),
        keepalive: h.int('keepalive', 0, 65535, 20),
        revocation: h.bool('revocation', true),
        mobileNodes: sections(file, p, 'mobile_node').map((s) => {
          const home = s.optIp('home_address') ?? 0;
          const nai = s.optStr('nai');
          if (home === 0 && !nai) s.fail('nai', 'is required when home_address is not set (dynamic home address, RFC 2794)');
          const node = { homeAddress: home, nai, sa: s.sa() };
          s.checkUnknown();
          return node;
        }),
        peers: sections(file, p, 'peer').map((s) => {
          const kind = s.oneOf('role', ['fa', 'proxy'] as const);
          const peer = { address: s.ip('address'), proxy: kind === 'proxy', sa: s.has('spi') ? s.sa() : undefined };
          s.checkUnknown();
          return peer;
        }),
      };
      const pool = h.optStr('home_pool');
      if (pool !== undefined) out.homePool = poolRange(h, 'home_pool', pool);
      h.checkUnknown();
      if (main.listen.length === 0) main.listen = [ha.address];
      out.roleConfig = { role: 'ha', ha };
      return out;
    }
    case 'proxy': {
      checkSectionTypes(file, p, ['roamd', 'proxy', 'mobile_node', 'peer', 'dataplane']);
      const x = single(file, p, 'proxy', true)!;
      const peers = sections(file, p, 'peer');
      const proxy: ProxyConfig = {
        outside: x.ip('outside'),
        inside: x.ip('inside'),
        mipPort: port,
        maxLifetime: x.int('max_lifetime', 1, 65535, 600),
        reverseTunnel: x.bool('reverse_tunnel', true),
        udpTunnel: x.bool('udp_tunnel', true),
        keepalive: x.int('keepalive', 0, 65535, 20),
        revocation: x.bool('revocation', true),
        vendorId,
        pendingTimeoutMs: x.int('pending_timeout', 1, 60, 7) * 1000,
        maxPending: x.int('max_pending', 1, 1_000_000, 1024),
        mobileNodes: sections(file, p, 'mobile_node').map((s) => {
          const node = { nai: s.str('nai'), sa: s.sa() };
          s.checkUnknown();
          return node;
        }),
        homeAgents: [],
        foreignAgents: [],
      };
      out.outerPool = poolRange(x, 'outer_pool', x.str('outer_pool'));
      x.checkUnknown();
      for (const s of peers) {
        const kind = s.oneOf('role', ['ha', 'fa'] as const);
        if (kind === 'ha') proxy.homeAgents.push({ address: s.ip('address'), port: s.int('port', 1, 65535, port), sa: s.sa() });
        else proxy.foreignAgents.push({ address: s.ip('address'), sa: s.has('spi') ? s.sa() : undefined });
        s.checkUnknown();
      }
      if (proxy.homeAgents.length === 0) throw new RoamdError('ERR_CONFIG_INVALID', `${file}: the proxy needs at least one 'config peer' with option role 'ha'`);
      if (main.listen.length === 0) main.listen = [proxy.outside, proxy.inside];
      out.roleConfig = { role: 'proxy', proxy };
      return out;
    }
    case 'fa': {
      checkSectionTypes(file, p, ['roamd', 'foreign_agent', 'interface', 'mobile_node', 'peer', 'dataplane']);
      const fa = buildFaConfig(file, p, port);
      if (main.listen.length === 0) main.listen = fa.interfaces.map((i) => i.address);
      out.roleConfig = { role: 'fa', fa };
      return out;
    }
    case 'mn': {
      checkSectionTypes(file, p, ['roamd', 'mobile', 'interface', 'dataplane']);
      const mn = buildMnConfig(file, p, port, vendorId);
      out.roleConfig = { role: 'mn', mn };
      return out;
    }
  }
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** A pool given as 'first-last' or as a prefix (its host addresses). */
export function poolRange(r: SectionReader, option: string, text: string): { first: number; count: number } {
  const dash = text.indexOf('-');
  try {
    if (dash > 0) {
      const first = parseIp(text.slice(0, dash).trim());
      const last = parseIp(text.slice(dash + 1).trim());
      if (last < first) r.fail(option, `'${text}': the last address is below the first`);
      return { first, count: last - first + 1 };
    }
    const p = parsePrefix(text);
    if (p.length > 30) r.fail(option, `'${text}': a prefix pool needs a length of at most 30`);
    return { first: p.network + 1, count: 2 ** (32 - p.length) - 2 };
  } catch (e) {
    if (e instanceof RoamdError && e.message.includes(option)) throw e;
    return r.fail(option, `'${text}' is not allowed: a range 'a.b.c.d-e.f.g.h' or a prefix 'a.b.c.d/n'`);
  }
}
