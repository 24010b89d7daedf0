/**
 * What each role keeps after setup (issue 9 "Privileges"), and dropping the rest.
 *
 * - `CAP_NET_BIND_SERVICE` only to bind the Mobile IP port below 1024 (434): needed until the
 *   sockets are open, never after. (A reload that adds a `listen` address below 1024 then fails
 *   with EACCES and the old configuration stays: restart the daemon to add addresses.)
 * - With a data plane (`userspace`, `kernel`), every role keeps `CAP_NET_ADMIN` (TUN, addresses,
 *   routes, rules, neighbour/proxy ARP, sysctls under /proc/sys/net, changed on every move) and
 *   `CAP_NET_RAW` (raw ICMP for agent discovery, raw IP-in-IP, SO_BINDTODEVICE, AF_PACKET for
 *   gratuitous ARP; the mobile node opens new raw sockets when it moves).
 * - With `dataplane none` nothing is kept.
 *
 * Everything else (CAP_SYS_ADMIN, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_MKNOD, CAP_SETUID, …) is
 * removed from every thread's effective, permitted, inheritable and bounding sets, the ambient
 * set is cleared, and no_new_privs plus SECBIT_NOROOT(_LOCKED) stop an execve (swanctl in VPN mode)
 * from gaining anything back.
 *
 * With `option user` (and `group`) the process also leaves uid 0, keeping the capabilities above:
 *   1. every thread drops to keep + CAP_SETUID/SETGID/SETPCAP and sets SECBIT_NO_SETUID_FIXUP, so
 *      that leaving uid 0 does not clear its sets (capabilities(7), "effect of user ID changes");
 *   2. setgroups([gid]), setgid, setuid (libc runs each on every thread: glibc's SIGSETXID, musl's
 *      __synccall; a thread our own signal cannot reach changes uid too and, without the securebit,
 *      loses every capability);
 *   3. every thread drops to keep (bounding set included, CAP_SETPCAP last);
 *   4. /proc/self/task/* is read back: every thread's real/effective/saved/fs uid and gid must be
 *      the target ones and the permitted set must be `keep`, or the daemon stops.
 * Without `option user` the uid stays 0 (file access by DAC ownership is unchanged).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Dataplane, Role } from './config';
import { CAPABILITIES, dropCapabilities } from '../dataplane/native';
import { RoamdError } from '../errors';
import type { RunAs } from './users';

export const DATAPLANE_CAPS = ['CAP_NET_ADMIN', 'CAP_NET_RAW'] as const;

export interface CapabilityPlan {
  /** Needed while setting up (opening sockets, TUN, raw sockets). */
  setup: string[];
  /** Kept for the rest of the run. */
  keep: string[];
}

/** The capabilities `role` needs with `dataplane` and the Mobile IP `port`. */
export function capabilityPlan(role: Role, dataplane: Dataplane, port: number): CapabilityPlan {
  const keep: string[] = dataplane === 'none' ? [] : [...DATAPLANE_CAPS];
  // The node binds only ephemeral ports on its care-of addresses; agents bind `port`.
  const bind = role !== 'mn' && port < 1024 ? ['CAP_NET_BIND_SERVICE'] : [];
  return { setup: [...bind, ...keep], keep };
}

/** The capability sets of this thread from /proc/self/status (hex strings), or null off Linux. */
export function currentCapabilities(): { CapInh: bigint; CapPrm: bigint; CapEff: bigint; CapBnd: bigint; CapAmb: bigint; NoNewPrivs: number } | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return null;
  }
  const hex = (k: string) => BigInt(`0x${new RegExp(`^${k}:\\s*([0-9a-f]+)`, 'm').exec(text)?.[1] ?? '0'}`);
  const nnp = /^NoNewPrivs:\s*(\d)/m.exec(text);
  return { CapInh: hex('CapInh'), CapPrm: hex('CapPrm'), CapEff: hex('CapEff'), CapBnd: hex('CapBnd'), CapAmb: hex('CapAmb'), NoNewPrivs: nnp ? Number(nnp[1]) : 0 };
}

export interface DropResult {
  /** 'dropped', or why nothing was done. */
  outcome: 'dropped' | 'nothing-to-drop' | 'unsupported';
  kept: string[];
  threads?: number;
  /** Threads that block every signal and kept their sets (Node 20: the inspector's SIGUSR1 watcher). */
  unreachable?: number;
  /** Permitted set before and after, as hex (for the log line). */
  before?: string;
  after?: string;
  reason?: string;
  /** With `option user`: the ids every thread has now. */
  uid?: number;
  gid?: number;
}

type DropFn = (keep: string[], keepAcrossSetuid?: boolean) => { threads: number; unreachable: number };

/** Real, effective, saved and fs uid and gid of every thread (threads that exit meanwhile are skipped). */
export function threadIds(): Array<{ tid: string; uid: number[]; gid: number[] }> {
  const out: Array<{ tid: string; uid: number[]; gid: number[] }> = [];
  for (const tid of readdirSync('/proc/self/task')) {
    let s: string;
    try {
      s = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
    } catch {
      continue;
    }
    const ids = (k: string) => (new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(s)?.[1] ?? '').trim().split(/\s+/).map(Number);
    out.push({ tid, uid: ids('Uid'), gid: ids('Gid') });
  }
  return out;
}

const SWITCH_CAPS = ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP'];
const mask = (names: string[]) => names.reduce((m, n) => m | (1n << BigInt(CAPABILITIES[n]!)), 0n);
const allIds = (want: number, got: number[]) => got.length === 4 && got.every((v) => v === want);

/**
 * Drops every capability the role does not keep (`capabilityPlan(...).keep`). Call it once the
 * sockets are bound and the data plane has started. Does nothing when the process holds no
 * capabilities at all (an unprivileged test run) or is not on Linux; throws if the drop fails
 * half-way (the daemon should then exit rather than run with an unknown set).
 */
export function dropPrivileges(role: Role, dataplane: Dataplane, port: number,
  opts: { runAs?: RunAs; drop?: DropFn } = {}): DropResult {
  const drop = opts.drop ?? dropCapabilities;
  const runAs = opts.runAs;
  const { keep } = capabilityPlan(role, dataplane, port);
  const before = currentCapabilities();
  if (!before) {
    if (runAs) throw new RoamdError('ERR_PRIVILEGES', `option user '${runAs.user}': cannot switch users without /proc/self/status`);
    return { outcome: 'unsupported', kept: keep, reason: 'no /proc/self/status' };
  }
  // Already the configured account (started by procd/systemd as that user): nothing to switch.
  const switching = runAs !== undefined && !threadIds().every((t) => allIds(runAs.uid, t.uid) && allIds(runAs.gid, t.gid));
  if (switching) {
    const need = mask(SWITCH_CAPS);
    if ((before.CapEff & need) !== need) {
      throw new RoamdError('ERR_PRIVILEGES', `option user '${runAs!.user}': switching to uid ${runAs!.uid} needs CAP_SETUID, CAP_SETGID and CAP_SETPCAP (start roamd as root)`);
    }
  } else if (before.CapPrm === 0n && before.CapBnd === 0n) {
    return { outcome: 'nothing-to-drop', kept: [] };
  }
  try {
    if (switching) {
      drop([...keep, ...SWITCH_CAPS], true);
      process.setgroups!([runAs!.gid]);
      process.setgid!(runAs!.gid);
      process.setuid!(runAs!.uid);
    }
    const r = drop(keep);
    const after = currentCapabilities()!;
    const res: DropResult = { outcome: 'dropped', kept: keep, threads: r.threads, unreachable: r.unreachable, before: before.CapPrm.toString(16), after: after.CapPrm.toString(16) };
    if (runAs) {
      const bad = threadIds().filter((t) => !allIds(runAs.uid, t.uid) || !allIds(runAs.gid, t.gid));
      if (bad.length) throw new RoamdError('ERR_PRIVILEGES', `option user '${runAs.user}': threads ${bad.map((t) => t.tid).join(',')} kept other ids`);
      const want = mask(keep) & before.CapPrm;
      if (after.CapPrm !== want || after.CapEff !== want) {
        throw new RoamdError('ERR_PRIVILEGES', `option user '${runAs.user}': capabilities ${after.CapPrm.toString(16)} after the switch, expected ${want.toString(16)}`);
      }
      res.uid = runAs.uid;
      res.gid = runAs.gid;
    }
    return res;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_NATIVE_MISSING' && !runAs) return { outcome: 'unsupported', kept: keep, reason: (e as Error).message };
    throw e;
  }
}
