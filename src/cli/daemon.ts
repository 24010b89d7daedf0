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
import { DataPlane, DataplaneHost, NoDataPlane } from '../dataplane/index';
import type { UserspaceOptions } from '../dataplane/userspace';
import { MsgType } from '../wire/constants';
import { StateStore } from './persist';
import { dropPrivileges } from '../platform/privileges';
import { chownSync, renameSync } from 'node:fs';
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
  private dp!: DataPlane;
  private store: StateStore | undefined;
  private compactTimer: NodeJS.Timeout | undefined;
  /** Actions run in order; a data-plane step (netlink) completes before the next send. */
  private queue: Promise<void> = Promise.resolve();
  private stopping = false;
  /** Per-source token buckets in front of the role (fixed table: 4096 sources, 64 KiB). */
  private limiter: RateLimiter | undefined;

  constructor(private readonly opts: DaemonOptions) {}

  async start(): Promise<void> {
    this.cfg = loadConfig(this.opts.configFile);
    this.log = new Logger(this.cfg.main.logLevel);
    await initCrypto().catch(() => undefined); // libsodium only matters for SHA-256/BLAKE2b SAs
    const profilePath = resolveProfile(this.opts.profile ?? this.cfg.main.profile);
    const profile = loadProfile(profilePath);
    this.caps = computeCapacities(profile);
    this.log.log('info', 'capacities', { line: formatCapacities(this.caps) });
    const now = Date.now();
    this.rt = buildRuntime(this.cfg, this.caps, now);
    if (this.cfg.main.role !== 'mn') for (const a of this.cfg.main.listen) await this.openSocket(a, this.cfg.main.port);
    this.dp = await this.buildDataplane();
    await this.dp.start();
    await this.restoreState();
    this.control = await serveControl(this.cfg.main.controlSocket, (req) => this.onControl(req));
    // Everything that needs privileges is set up: keep only what the role and data plane use from
    // now on (CAP_NET_ADMIN and CAP_NET_RAW with a data plane). A failure stops the daemon rather
    // than letting it run with an unknown set of capabilities.
    // With `option user` the state files must stay writable after the switch: hand them over, then
    // rewrite the snapshot once as that user, so an unwritable directory stops the start here.
    const runAs = this.cfg.main.runAs;
    if (runAs && this.store) for (const f of [this.store.path, this.store.journal]) chownSync(f, runAs.uid, runAs.gid);
    const priv = dropPrivileges(this.cfg.main.role, this.cfg.main.dataplane, this.cfg.main.port, { runAs });
    this.log.log('info', 'privileges', { outcome: priv.outcome, kept: priv.kept.join(',') || 'none', threads: priv.threads ?? 0,
      unreachable: priv.unreachable ?? 0, before: priv.before ?? '', after: priv.after ?? '', ...(runAs ? { user: runAs.user, uid: priv.uid ?? runAs.uid, gid: priv.gid ?? runAs.gid } : {}) });
    if (runAs && this.store && this.rt.persist) this.store.compact(this.rt.persist.exportAll());
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

  /** Snapshot + journal → role state; the restored bindings are installed in the data plane. */
  private async restoreState(): Promise<void> {
    const path = this.cfg.main.snapshot;
    if (!path || !this.rt.persist) return;
    this.store = new StateStore(path, this.rt.role);
    const t0 = Date.now();
    let loaded;
    try {
      loaded = this.store.load();
    } catch (e) {
      // Never start on top of state we cannot read without saying so; keep the file for inspection.
      const aside = `${path}.bad-${Date.now()}`;
      try {
        renameSync(path, aside);
      } catch {
        // nothing to move
      }
      this.log.log('error', 'state-unreadable', { file: path, movedTo: aside, error: (e as Error).message });
      loaded = { records: [], snapshotRecords: 0, journalRecords: 0, corrupt: 0 };
    }
    const actions = this.rt.persist.importAll(loaded.records, Date.now());
    loaded.records.length = 0;
    await this.performAll(actions, false);
    this.store.compact(this.rt.persist.exportAll());
    this.log.log('info', 'state-restored', { file: path, snapshot: loaded.snapshotRecords, journal: loaded.journalRecords, corrupt: loaded.corrupt, bindings: actions.length, ms: Date.now() - t0 });
    this.compactTimer = setInterval(() => this.compact(), 60_000);
    this.compactTimer.unref();
  }

  private compact(): void {
    if (!this.store || !this.rt.persist) return;
    try {
      this.store.compact(this.rt.persist.exportAll());
    } catch (e) {
      this.count('snapshot_error');
      this.log.log('error', 'snapshot-failed', { error: (e as Error).message });
    }
  }

  private async buildDataplane(): Promise<DataPlane> {
    const host: DataplaneHost = {
      sendUdp: (data, dst, port, src) => this.sendUdp(data, dst, port, src),
      log: (level, event, fields) => this.log.log(level, event, fields),
      count: (name, n = 1) => {
        this.counters[name] = (this.counters[name] ?? 0) + n;
      },
      dispatch: (ev) => this.dispatch(ev),
    };
    if (this.cfg.main.dataplane === 'none') return new NoDataPlane(host);
    const { UserspaceDataPlane } = await import('../dataplane/userspace');
    const c = this.cfg, d = c.dataplane, rc = c.roleConfig;
    const opts: UserspaceOptions = {
      role: rc.role, tunName: d.tun, mtu: d.mtu, mipPort: c.main.port,
      haAddress: rc.role === 'ha' ? rc.ha.address : undefined, homeInterface: d.homeInterface, vpnGateway: d.vpnGateway,
      outside: rc.role === 'proxy' ? rc.proxy.outside : undefined, outerPool: c.outerPool,
      faInterfaces: rc.role === 'fa' ? rc.fa.interfaces.map((i) => ({ ifname: i.ifname, address: i.address })) : undefined,
      mnInterfaces: rc.role === 'mn' ? rc.mn.interfaces.map((i) => i.ifname) : undefined,
      proxyOutside: rc.role === 'mn' ? rc.mn.proxy?.outside : undefined, vpnTunName: d.vpnTun, natKeepaliveS: d.natKeepalive,
      vpn: d.vpnConnection ? { connection: d.vpnConnection, child: d.vpnChild!, uri: d.viciSocket } : undefined,
    };
    if (c.main.dataplane === 'kernel') {
      const { KernelDataPlane } = await import('../dataplane/kernel');
      const av = KernelDataPlane.available();
      if (av.ok) return new KernelDataPlane(host, opts);
      // Said once, at start: the userspace plane does the same job in this process.
      this.log.log('warn', 'dataplane-fallback', { wanted: 'kernel', using: 'userspace', reason: av.why });
    }
    return new UserspaceDataPlane(host, opts);
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
      // RFC 3519 tunnel data rides the Mobile IP port: it is data-plane traffic, not signalling,
      // so it is not rate limited here (the data plane accepts it only from bound care-of addresses).
      if (data[0] === MsgType.TUNNEL_DATA) {
        this.dp.tunnelData(data, src, rinfo.port, address);
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
        sock.setBroadcast(true); // replies to nodes without an address go to 255.255.255.255 (RFC 5944 §3.7.2.3)
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
    if (actions.length === 0) return;
    this.queue = this.queue.then(() => this.performAll(actions)).catch((e) => {
      this.count('action_error');
      this.log.log('error', 'action-error', { error: (e as Error).message });
    });
  }

  private async performAll(actions: Action[], journal = true): Promise<void> {
    // Journal binding changes before anything of this batch (the acknowledgement) leaves.
    if (journal && this.store && this.rt.persist) {
      const recs: unknown[] = [];
      // One record per node: a move is two actions (new binding set, old one deleted) for the same
      // home address, and the record is the node's whole state after both.
      let last = -1;
      for (const a of actions) {
        if ((a.kind !== 'ha-binding' && a.kind !== 'proxy-binding') || a.home === last) continue;
        last = a.home;
        const r = this.rt.persist.record(a);
        if (r) recs.push(r);
      }
      try {
        this.store.append(recs);
      } catch (e) {
        this.count('journal_error');
        this.log.log('error', 'journal-failed', { error: (e as Error).message });
      }
    }
    // Data-plane state first, then what goes on the wire: a binding is installed before its
    // acknowledgement leaves, and a node's routes for a new care-of address exist before the
    // registration it sends from there.
    let sends = 0;
    for (const a of actions) {
      switch (a.kind) {
        case 'log':
          this.log.log(a.level, a.event, a.fields);
          break;
        case 'send-udp':
          sends++;
          break;
        default:
          if (this.log.enabled('debug')) this.log.log('debug', 'dataplane', { action: a.kind, op: 'op' in a ? a.op : 'set' });
          await this.dp.apply(a);
      }
    }
    if (sends) for (const a of actions) if (a.kind === 'send-udp') this.sendUdp(a.data, a.dst, a.dstPort, a.src);
  }

  private sendUdp(data: Buffer, dst: number, dstPort: number, srcAddr?: number, attempt = 0): void {
    const src = srcAddr ?? this.cfg.main.listen[0] ?? 0;
    const send = (s: Socket) => s.send(data, dstPort, ipToString(dst), (err) => {
      if (!err) return;
      // A node that just got an address may not have its route yet (DHCP adds it a moment
      // later): try again shortly instead of waiting a whole retransmission interval. The
      // datagram never left, so this is not a duplicate.
      const code = (err as NodeJS.ErrnoException).code;
      if (this.cfg.main.role === 'mn' && attempt < 5 && (code === 'ENETUNREACH' || code === 'EHOSTUNREACH' || code === 'EADDRNOTAVAIL')) {
        this.count('tx_retry_no_route');
        setTimeout(() => this.sendUdp(data, dst, dstPort, srcAddr, attempt + 1), 50).unref();
        return;
      }
      this.count('tx_error');
      this.log.log('warn', 'send-failed', { dst: ipToString(dst), error: err.message });
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
  }

  private async onControl(req: Record<string, unknown>): Promise<unknown> {
    const now = Date.now();
    switch (req.cmd) {
      case 'status':
        return {
          role: this.rt.role, pid: process.pid, uptime: Math.round((now - this.started) / 1000), config: this.cfg.file,
          dataplane: this.cfg.main.dataplane, capacities: this.caps, ...this.rt.status(),
          dataplaneStatus: this.dp.status(),
          ...(this.rt.role === 'mn' ? { dataplaneState: (this.dp.status().mn as Action | null) ?? null } : {}),
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
    if (JSON.stringify(next.main.runAs) !== JSON.stringify(this.cfg.main.runAs)) throw new RoamdError('ERR_CONFIG_INVALID', 'user and group cannot change on reload: restart the daemon');
    await initCrypto().catch(() => undefined);
    const actions = this.rt.reload(next, Date.now());
    this.cfg = next;
    this.log.level = next.main.logLevel;
    for (const a of next.main.role === 'mn' ? [] : next.main.listen) await this.openSocket(a, next.main.port);
    await this.performAll(actions);
    this.log.log('info', 'reloaded', { config: next.file });
  }

  async stop(code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.dispatch({ kind: 'shutdown' });
    if (this.tick) clearInterval(this.tick);
    if (this.compactTimer) clearInterval(this.compactTimer);
    await this.queue;
    this.compact();
    this.store?.close();
    // Give the deregistrations and acknowledgements a moment to leave.
    await new Promise((r) => setTimeout(r, 100));
    await this.dp?.stop().catch((e) => this.log.log('warn', 'dataplane-stop-failed', { error: (e as Error).message }));
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
