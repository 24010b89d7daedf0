/**
 * Configuration of the foreign agent (`config foreign_agent`, `config interface`, `config peer`,
 * `config mobile_node`) and of the mobile node (`config mobile`, `config interface`).
 */
import { RoamdError } from '../errors';
import type { UciPackage } from './uci';
import { sections, single } from './config-reader';
import type { FaConfig } from '../roles/fa';
import type { MnConfig } from '../roles/mn';

export function buildFaConfig(file: string, p: UciPackage, port: number): FaConfig {
  const f = single(file, p, 'foreign_agent', true)!;
  const cfg: FaConfig = {
    interfaces: sections(file, p, 'interface').map((s) => {
      const ifname = s.str('ifname');
      const { address, prefixLength } = s.ipWithPrefix('address');
      s.checkUnknown();
      return { ifname, address, prefixLength };
    }),
    advertiseInterval: f.int('advertise_interval', 0, 1800, 5),
    advertisementLifetime: f.int('advertisement_lifetime', 0, 9000, 0),
    registrationLifetime: f.int('registration_lifetime', 1, 65535, 600),
    registrationRequired: f.bool('registration_required', false),
    reverseTunnel: f.oneOf('reverse_tunnel', ['no', 'optional', 'required'] as const, 'optional'),
    behindNat: f.bool('behind_nat', false),
    revocation: f.bool('revocation', true),
    challenge: f.bool('challenge', false),
    mobilityOnly: f.bool('mobility_only', false),
    maxPendingPerNode: f.int('max_pending_per_node', 1, 64, 5),
    pendingTimeoutMs: f.int('pending_timeout', 1, 60, 7) * 1000,
    homeAgents: sections(file, p, 'peer').map((s) => {
      s.oneOf('role', ['ha', 'proxy'] as const, 'ha');
      const peer = { address: s.ip('address'), sa: s.has('spi') ? s.sa() : undefined };
      s.checkUnknown();
      return peer;
    }),
    restrictHomeAgents: f.bool('restrict_home_agents', false),
    mobileNodes: sections(file, p, 'mobile_node').map((s) => {
      const node = { nai: s.optStr('nai'), home: s.optIp('home_address'), sa: s.sa() };
      if (!node.nai && node.home === undefined) s.fail('nai', 'is required when home_address is not set');
      s.checkUnknown();
      return node;
    }),
    mipPort: port,
  };
  if (cfg.interfaces.length === 0) throw new RoamdError('ERR_CONFIG_INVALID', `${file}: the foreign agent needs at least one 'config interface' section`);
  f.checkUnknown();
  return cfg;
}

export function buildMnConfig(file: string, p: UciPackage, port: number, vendorId: number): MnConfig {
  const m = single(file, p, 'mobile', true)!;
  const hasProxy = m.has('proxy_outside');
  const cfg: MnConfig = {
    nai: m.str('nai'),
    homeAddress: m.optIp('home_address') ?? 0,
    homeAgent: m.ip('home_agent'),
    homeNetwork: m.prefix('home_network'),
    homeSa: m.sa(),
    proxy: hasProxy ? { outside: m.ip('proxy_outside'), inside: m.ip('proxy_inside'), sa: m.sa('proxy_'), vendorId } : null,
    interfaces: sections(file, p, 'interface').map((s) => {
      const i = { ifname: s.str('ifname'), preference: s.int('preference', 0, 1000, 10) };
      s.checkUnknown();
      return i;
    }),
    lifetime: m.int('lifetime', 1, 65535, 600),
    reverseTunnel: m.bool('reverse_tunnel', true),
    forceUdpTunnel: m.bool('force_udp_tunnel', false),
    alwaysUdpTunnel: m.bool('always_udp_tunnel', true),
    simultaneousBindings: m.bool('simultaneous_bindings', true),
    standbyBindings: m.bool('standby_bindings', false),
    mipPort: port,
    solicitInterval: m.int('solicit_interval', 1, 600, 3),
    maxRetransmitInterval: m.int('max_retransmit', 1, 600, 8),
  };
  if (cfg.interfaces.length === 0) throw new RoamdError('ERR_CONFIG_INVALID', `${file}: the mobile node needs at least one 'config interface' section`);
  m.checkUnknown();
  return cfg;
}
