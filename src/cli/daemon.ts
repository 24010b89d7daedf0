/**
 * `roamd run --config FILE`: one process per role instance. Reads and validates the UCI config
 * (refuses to start on an invalid one), sizes the tables from the device profile and logs the
 * capacities, opens the Mobile IP UDP sockets and the control socket, and drives the role state
 * machine: datagrams, a periodic tick, control commands and signals become events; the actions it
 * returns are carried out here (the only place that awaits). SIGHUP reloads the config without
 * dropping bindings; SIGTERM/SIGINT shut down cleanly.
 */
import { createSocket, Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { dirname, join, isAbsolute } from 'node:path';
import { loadConfig, RoamdConfig } from '../platform/config';
import { Logger } from '../platform/log';
import { serveControl, ControlServer } from '../platform/control';
import { ipToString, parseIp } from '../platform/address';
import { loadProfile, computeCapacities, formatCapacities, Capacities } from '../tables/profile';
import { initCrypto } from '../auth/algorithms';
import type { Action, RoleEvent, Counters, LinkEvent } from '../roles/types';
import { buildRuntime, Runtime } from './runtime';
import { RoamdError } from '../errors';
import { RateLimiter } from '../platform/rate-limit';

export interface DaemonOptions { configFile: string; profile?: string }

/** Where device profiles live: beside the bundle (dist/../targets), or /usr/share/roamd/targets. */
export function resolveProfile(name: string): string {
  if (name.endsWith('.json') || isAbsolute(name)) return name;
  const candidates = [join(dirname(__filename), '..', 'targets'), join(dirname(__filename), '..', '..', 'targets'), '/usr/share/roamd/targets'];
  for (const d of candidates) if (existsSync(join(d, `${name}.json`))) return join(d, `${name}.json`);
  throw new RoamdError('ERR_CONFIG_INVALID', `device profile '${name}' not found (looked in ${candidates.join(', ')})`);
}

export class Daemon {
  private cfg!: RoamdConfig;
  private rt!: Runtime;
  private caps!: Capacities;
  private log!: Logger;
  private readonly sockets = new Map<number, Socket>();
  private control: ControlServer | undefined;
  private tick: NodeJS.Timeout | undefined;
  private readonly started = Date.now();
  /** Daemon-level counters (socket errors, unsupported actions), merged into `stats`. */
  private readonly counters: Counters = {};
  /** Last data-plane state per key, shown by `status` (the data plane itself is issue #5's). */
  private readonly dataplaneState = new Map<string, Action>();
  private stopping = false;
  /** Per-source token buckets in front of the role (fixed table: 4096 sources, 64 KiB). */
  private limiter: RateLimiter | undefined;

  constructor(private readonly opts: DaemonOptions) {}

  async start(): Promise<void> {
    this.cfg = loadConfig(this.opts.configFile);
    this.log = new Logger(this.cfg.main.logLevel);
    if (this.cfg.main.dataplane !== 'none') {
      throw new RoamdError('ERR_CONFIG_INVALID', `${this.cfg.file}: dataplane '${this.cfg.main.dataplane}' is not available in this build yet; use 'none' (signalling only)`);
    }
    await initCrypto().catch(() => undefined); // libsodium only matters for SHA-256/BLAKE2b SAs
    const profilePath = resolveProfile(this.opts.profile ?? this.cfg.main.profile);
    const profile = loadProfile(profilePath);
    this.caps = computeCapacities(profile);
    this.log.log('info', 'capacities', { line: formatCapacities(this.caps) });
    const now = Date.now();
    this.rt = buildRuntime(this.cfg, this.caps, now);
    if (this.cfg.main.role !== 'mn') for (const a of this.cfg.main.listen) await this.openSocket(a, this.cfg.main.port);
    this.control = await serveControl(this.cfg.main.controlSocket, (req) => this.onControl(req));
    this.tick = setInterval(() => this.dispatch({ kind: 'tick' }), this.caps.tick_ms);
    process.on('SIGHUP', () => this.reload().catch((e) => this.log.log('error', 'reload-failed', { error: (e as Error).message })));
    process.on('SIGTERM', () => void this.stop(0));
    process.on('SIGINT', () => void this.stop(0));
    this.log.log('info', 'started', {
      role: this.rt.role, pid: process.pid, config: this.cfg.file, listen: this.cfg.main.listen.map(ipToString).join(','),
      port: this.cfg.main.port, control: this.cfg.main.controlSocket, dataplane: this.cfg.main.dataplane, profile: profile.name,
    });
    this.dispatch({ kind: 'tick' });
  }

  private openSocket(address: number, port: number): Promise<Socket> {
    const existing = this.sockets.get(address);
    if (existing) return Promise.resolve(existing);
    const sock = createSocket({ type: 'udp4', reuseAddr: false });
    this.sockets.set(address, sock);
    sock.on('message', (data, rinfo) => {
      let src: number;
      try {
        src = parseIp(rinfo.address);
      } catch {
        this.count('rx_bad_source');
        return;
      }
      const rate = this.cfg.main.rateLimit;
      if (this.limiter?.opts.rate !== rate) this.limiter = new RateLimiter({ rate, burst: 2 * rate, capacity: 4096 });
      if (!this.limiter.allow(src, Date.now())) {
        this.count('rx_rate_limited');
        return;
      }
      this.dispatch({ kind: 'udp', src, srcPort: rinfo.port, dst: address, dstPort: port, data });
    });
    sock.on('error', (e) => {
      this.count('socket_error');
      this.log.log('error', 'socket-error', { address: ipToString(address), error: e.message });
    });
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, ipToString(address), () => {
        sock.off('error', reject);
        resolve(sock);
      });
    });
  }

  private count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1;
  }

  /** Steps the role and carries out its actions. Never throws: a bug in a role is logged and counted. */
  dispatch(ev: RoleEvent): void {
    let actions: Action[];
    try {
      actions = this.rt.step(ev, Date.now());
    } catch (e) {
      this.count('role_exception');
      this.log.log('error', 'role-exception', { event: ev.kind, error: (e as Error).stack ?? String(e) });
      return;
    }
    for (const a of actions) this.perform(a);
  }

  private perform(a: Action): void {
    switch (a.kind) {
      case 'log':
        this.log.log(a.level, a.event, a.fields);
        return;
      case 'send-udp': {
        const src = a.src ?? this.cfg.main.listen[0] ?? 0;
        const send = (s: Socket) => s.send(a.data, a.dstPort, ipToString(a.dst), (err) => {
          if (err) {
            this.count('tx_error');
            this.log.log('warn', 'send-failed', { dst: ipToString(a.dst), error: err.message });
          }
        });
        const sock = this.sockets.get(src);
        if (sock) send(sock);
        else if (this.cfg.main.role === 'mn') {
          // The node sends from its current care-of address: bind it on first use (ephemeral port).
          this.openSocket(src, 0).then(send, (e: Error) => {
            this.count('tx_error');
            this.log.log('warn', 'bind-failed', { address: ipToString(src), error: e.message });
          });
        } else {
          this.count('tx_no_socket');
          this.log.log('warn', 'no-socket', { src: ipToString(src) });
        }
        return;
      }
      case 'send-icmp':
        // Agent discovery needs raw ICMP, which only the userspace/kernel data planes provide.
        if (this.count('icmp_unsupported'), this.counters.icmp_unsupported === 1) {
          this.log.log('warn', 'icmp-unavailable', { reason: "dataplane 'none' has no raw ICMP socket: agent advertisements and solicitations are not sent" });
        }
        return;
      case 'ha-binding':
      case 'proxy-binding':
      case 'visitor':
      case 'mn-state': {
        const key = a.kind === 'mn-state' ? 'mn' : `${a.kind}/${a.home}/${'careOf' in a ? a.careOf : 0}`;
        if (a.kind !== 'mn-state' && a.op === 'del') this.dataplaneState.delete(key);
        else this.dataplaneState.set(key, a);
        this.log.log('debug', 'dataplane', { action: a.kind, op: 'op' in a ? a.op : 'set' });
        return;
      }
    }
  }

  private async onControl(req: Record<string, unknown>): Promise<unknown> {
    const now = Date.now();
    switch (req.cmd) {
      case 'status':
        return {
          role: this.rt.role, pid: process.pid, uptime: Math.round((now - this.started) / 1000), config: this.cfg.file,
          dataplane: this.cfg.main.dataplane, capacities: this.caps, ...this.rt.status(),
          ...(this.rt.role === 'mn' ? { dataplaneState: this.dataplaneState.get('mn') ?? null } : {}),
        };
      case 'bindings':
        return this.rt.bindings(now);
      case 'visitors':
        return this.rt.visitors();
      case 'stats':
        return { ...this.rt.counters(), ...this.counters, control_bad_requests: this.control?.badRequests ?? 0 };
      case 'revoke': {
        if (typeof req.home !== 'string') throw new RoamdError('ERR_USAGE', "revoke needs \"home\": the home address as a string");
        const home = parseIp(req.home);
        this.dispatch({ kind: 'revoke', home });
        return { revoked: req.home };
      }
      case 'reload':
        await this.reload();
        return { reloaded: this.cfg.file };
      case 'link':
        this.dispatch(parseLinkEvent(req));
        return { accepted: true };
      default:
        throw new RoamdError('ERR_USAGE', `unknown command '${String(req.cmd)}' (status, bindings, visitors, stats, revoke, reload, link)`);
    }
  }

  /** Re-reads the config; on error the daemon keeps the old one and says why. */
  async reload(): Promise<void> {
    const next = loadConfig(this.opts.configFile);
    if (next.main.role !== this.cfg.main.role) throw new RoamdError('ERR_CONFIG_INVALID', 'the role cannot change on reload: restart the daemon');
    await initCrypto().catch(() => undefined);
    const actions = this.rt.reload(next, Date.now());
    this.cfg = next;
    this.log.level = next.main.logLevel;
    for (const a of next.main.role === 'mn' ? [] : next.main.listen) await this.openSocket(a, next.main.port);
    for (const a of actions) this.perform(a);
    this.log.log('info', 'reloaded', { config: next.file });
  }

  async stop(code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.dispatch({ kind: 'shutdown' });
    if (this.tick) clearInterval(this.tick);
    // Give the deregistrations and acknowledgements a moment to leave.
    await new Promise((r) => setTimeout(r, 100));
    this.control?.close();
    for (const s of this.sockets.values()) s.close();
    this.log.log('info', 'stopped', { code });
    process.exit(code);
  }
}

/** `{"cmd":"link","ifname":"eth0","up":true,"addresses":["192.0.2.10/24"],"gateway":"192.0.2.1"}` */
export function parseLinkEvent(req: Record<string, unknown>): LinkEvent {
  if (typeof req.ifname !== 'string' || !/^[\w.:-]{1,15}$/.test(req.ifname)) throw new RoamdError('ERR_USAGE', 'link needs "ifname": an interface name');
  if (typeof req.up !== 'boolean') throw new RoamdError('ERR_USAGE', 'link needs "up": true or false');
  const list = req.addresses ?? [];
  if (!Array.isArray(list) || list.length > 64) throw new RoamdError('ERR_USAGE', 'link "addresses" must be a list of "a.b.c.d/n"');
  const addresses = list.map((s) => {
    const m = typeof s === 'string' ? /^([\d.]+)\/(\d{1,2})$/.exec(s) : null;
    if (!m || Number(m[2]) > 32) throw new RoamdError('ERR_USAGE', `link address ${JSON.stringify(s)} is not "a.b.c.d/n"`);
    return { address: parseIp(m[1]!), prefixLength: Number(m[2]) };
  });
  const gateway = req.gateway === undefined ? undefined : typeof req.gateway === 'string' ? parseIp(req.gateway) : NaN;
  if (Number.isNaN(gateway)) throw new RoamdError('ERR_USAGE', 'link "gateway" must be an address string');
  return { kind: 'link', ifname: req.ifname, up: req.up, addresses, ...(gateway !== undefined ? { gateway } : {}) };
}
