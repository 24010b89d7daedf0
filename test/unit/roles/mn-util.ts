/**
 * Fixtures for the mobile node tests: addresses, SAs, a configuration, events, and fake agents
 * (FA advertisements, the proxy and the i-HA) built with the wire codecs and src/auth.
 */
import * as assert from 'uvu/assert';
import { SecurityAssociation } from '../../../src/auth/security-association';
import { ntpSeconds } from '../../../src/auth/replay';
import * as advertisement from '../../../src/wire/agent-advertisement';
import * as request from '../../../src/wire/registration-request';
import type { RegistrationRequest } from '../../../src/wire/registration-request';
import type { RegistrationReply } from '../../../src/wire/registration-reply';
import type { Extension } from '../../../src/wire/extensions';
import { AdvFlag } from '../../../src/wire/constants';
import { encodeReply, checkAuth, authExtensions, findNvse, nvse, NvseType, DEFAULT_VENDOR_ID } from '../../../src/roles/messages';
import type { Action, IcmpEvent, LinkEvent, UdpEvent } from '../../../src/roles/types';
import { createMn, stepMn, type MnConfig, type MnState } from '../../../src/roles/mn';
import { mulberry32 } from '../../util/prng';

export function ip(s: string): number {
  return s.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
}
export function str(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');
}

export const T0 = Date.UTC(2026, 0, 15, 9, 0, 0, 0);
export const PORT = 4434;
export const HA = ip('10.1.0.1');
export const HOME = ip('10.1.0.50');
export const PROXY_OUT = ip('203.0.113.2');
export const PROXY_IN = ip('10.1.0.2');
export const OUTER = ip('198.18.0.7');
export const FA = ip('192.0.2.1');
export const FA_COA = ip('192.0.2.1');
export const WIFI_ADDR = ip('198.51.100.10');
export const WIRED_ADDR = ip('100.64.3.20');
export const NAI = 'alice@example.com';

export type Replay = 'timestamp' | 'nonce';
export function proxySa(replay: Replay = 'timestamp', key = 'proxy-secret'): SecurityAssociation {
  return new SecurityAssociation({ spi: 1000, algorithm: 'hmac-md5', key: Buffer.from(key), replay });
}
export function homeSa(replay: Replay = 'timestamp', key = 'home-secret'): SecurityAssociation {
  return new SecurityAssociation({ spi: 2000, algorithm: 'hmac-md5', key: Buffer.from(key), replay });
}

export function config(over: Partial<MnConfig> = {}, replay: { proxy?: Replay; home?: Replay } = {}): MnConfig {
  return {
    nai: NAI,
    homeAddress: HOME,
    homeAgent: HA,
    homeNetwork: { network: ip('10.1.0.0'), length: 16 },
    homeSa: homeSa(replay.home),
    proxy: { outside: PROXY_OUT, inside: PROXY_IN, sa: proxySa(replay.proxy), vendorId: DEFAULT_VENDOR_ID },
    interfaces: [{ ifname: 'eth0', preference: 30 }, { ifname: 'wlan0', preference: 20 }, { ifname: 'wwan0', preference: 10 }],
    lifetime: 600,
    reverseTunnel: true,
    forceUdpTunnel: false,
    simultaneousBindings: true,
    mipPort: PORT,
    solicitInterval: 1,
    ...over,
  };
}

export function mn(over: Partial<MnConfig> = {}, replay: { proxy?: Replay; home?: Replay } = {}, seed = 1): MnState {
  return createMn(config(over, replay), { random: mulberry32(seed), now: T0 });
}

// ---------------------------------------------------------------- events

export function link(ifname: string, up: boolean, addrs: number[] = [], prefixLength = 24): LinkEvent {
  return { kind: 'link', ifname, up, addresses: addrs.map((address) => ({ address, prefixLength })), gateway: 0 };
}

export interface AdvOpts { src?: number; flags?: number; coas?: number[]; seq?: number; lifetime?: number; regLifetime?: number }
export function advBytes(o: AdvOpts = {}): Buffer {
  const m: advertisement.AgentAdvertisement = {
    type: 9, code: 0, lifetime: o.lifetime ?? 30, routers: [],
    extensions: [{
      kind: 'mobility-agent', sequence: o.seq ?? 1, registrationLifetime: o.regLifetime ?? 300,
      flags: o.flags ?? (AdvFlag.F | AdvFlag.T | AdvFlag.R), careOfAddresses: o.coas ?? [FA_COA],
    }],
  };
  const buf = Buffer.alloc(advertisement.encodingLength(m));
  advertisement.encode(m, buf, 0);
  return buf;
}
export function adv(ifname: string, o: AdvOpts = {}): IcmpEvent {
  return { kind: 'icmp', src: o.src ?? FA, dst: ip('224.0.0.1'), ifname, ttl: 1, data: advBytes(o) };
}
export function udp(data: Buffer, src = PROXY_OUT): UdpEvent {
  return { kind: 'udp', src, srcPort: PORT, dst: 0, dstPort: PORT, data };
}

// ---------------------------------------------------------------- actions

export type Send = Extract<Action, { kind: 'send-udp' }>;
export type MnView = Extract<Action, { kind: 'mn-state' }>;
export function sends(a: Action[]): Send[] {
  return a.filter((x): x is Send => x.kind === 'send-udp');
}
export function icmps(a: Action[]): Array<Extract<Action, { kind: 'send-icmp' }>> {
  return a.filter((x): x is Extract<Action, { kind: 'send-icmp' }> => x.kind === 'send-icmp');
}
export function states(a: Action[]): MnView[] {
  return a.filter((x): x is MnView => x.kind === 'mn-state');
}
export function lastState(a: Action[]): MnView | undefined {
  return states(a).at(-1);
}
export function one<T>(xs: T[], what = 'item'): T {
  assert.is(xs.length, 1, `expected exactly one ${what}, got ${xs.length}`);
  return xs[0]!;
}

/** A received request: decoded, with its bytes, the home request inside it, and auth checks. */
export interface Rx {
  bytes: Buffer;
  req: RegistrationRequest;
  home: { bytes: Buffer; req: RegistrationRequest } | null;
}
export function parse(s: Send, vendorId = DEFAULT_VENDOR_ID): Rx {
  const req = request.decode(s.data);
  const nv = findNvse(req.extensions, vendorId, NvseType.HOME_REQUEST);
  const home = nv ? { bytes: Buffer.from(nv.value), req: request.decode(Buffer.from(nv.value)) } : null;
  return { bytes: s.data, req, home };
}
export function verifies(sa: SecurityAssociation, bytes: Buffer, req: { extensions: Extension[] }): boolean {
  const a = authExtensions(req.extensions, 32);
  return a.length === 1 && checkAuth(sa, bytes, 0, a[0]);
}

// ---------------------------------------------------------------- fake proxy / i-HA

export interface ReplyOpts {
  code?: number;
  lifetime?: number;
  outer?: number;
  /** Inner (home) reply; null = omit it even when the request had one. */
  inner?: { code?: number; lifetime?: number; home?: number; idHigh?: number } | null;
  udp?: { code: number; keepalive: number; forced?: boolean };
  idHigh?: number;
  message?: string;
  proxySa?: SecurityAssociation;
  homeSa?: SecurityAssociation;
  vendorId?: number;
}

/** The proxy's outer reply to an outer request, with the i-HA's home reply in the NVSE. */
export function proxyReply(rx: Rx, o: ReplyOpts = {}): Buffer {
  const exts: Extension[] = [];
  if (rx.home && o.inner !== null) {
    const i = o.inner ?? {};
    const inner = encodeReply({
      type: 3, code: i.code ?? 0, lifetime: i.lifetime ?? rx.home.req.lifetime, homeAddress: i.home ?? (rx.home.req.homeAddress || HOME),
      homeAgent: HA, idHigh: i.idHigh ?? rx.home.req.idHigh, idLow: rx.home.req.idLow, extensions: [],
    }, [{ type: 32, sa: o.homeSa ?? homeSa() }]);
    exts.push(nvse(o.vendorId ?? DEFAULT_VENDOR_ID, NvseType.HOME_REPLY, inner));
  }
  if (o.udp) exts.push({ kind: 'udp-tunnel-reply', subtype: 0, code: o.udp.code, flags: o.udp.forced ? 0x8000 : 0, keepalive: o.udp.keepalive });
  if (o.message) exts.push({ kind: 'message-string', subtype: 1, text: o.message });
  const m: RegistrationReply = {
    type: 3, code: o.code ?? 0, lifetime: o.lifetime ?? rx.req.lifetime, homeAddress: o.outer ?? (rx.req.homeAddress || OUTER),
    homeAgent: PROXY_OUT, idHigh: o.idHigh ?? rx.req.idHigh, idLow: rx.req.idLow, extensions: exts,
  };
  return encodeReply(m, [{ type: 32, sa: o.proxySa ?? proxySa() }]);
}

/** A reply from the i-HA (plain mode or the home deregistration). */
export function haReply(rx: Rx, o: { code?: number; lifetime?: number; home?: number; idHigh?: number; sa?: SecurityAssociation } = {}): Buffer {
  return encodeReply({
    type: 3, code: o.code ?? 0, lifetime: o.lifetime ?? rx.req.lifetime, homeAddress: o.home ?? (rx.req.homeAddress || HOME),
    homeAgent: HA, idHigh: o.idHigh ?? rx.req.idHigh, idLow: rx.req.idLow, extensions: [],
  }, [{ type: 32, sa: o.sa ?? homeSa() }]);
}

export function ntp(ms: number): number {
  return ntpSeconds(ms);
}

/**
 * Brings a node up on wlan0 with a co-located address and answers the first registration:
 * the common start of several flows. Returns the node and the actions of the reply.
 */
export function attached(over: Partial<MnConfig> = {}, o: ReplyOpts = {}, at = T0): { st: MnState; rx: Rx; acts: Action[] } {
  const st = mn(over);
  const a1 = stepMn(st, link('wlan0', true, [WIFI_ADDR]), at);
  const rx = parse(one(sends(a1), 'registration'));
  const acts = stepMn(st, udp(proxyReply(rx, o)), at + 200);
  return { st, rx, acts };
}
