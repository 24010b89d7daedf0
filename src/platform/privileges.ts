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
 * from gaining anything back. The uid stays 0 (file access by DAC ownership is unchanged): running
 * as another user needs a procd jail/`user` or systemd `User=`, see docs/reliability.md.
 */
import { readFileSync } from 'node:fs';
import type { Dataplane, Role } from './config';
import { dropCapabilities } from '../dataplane/native';

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
}

/**
 * Drops every capability the role does not keep (`capabilityPlan(...).keep`). Call it once the
 * sockets are bound and the data plane has started. Does nothing when the process holds no
 * capabilities at all (an unprivileged test run) or is not on Linux; throws if the drop fails
 * half-way (the daemon should then exit rather than run with an unknown set).
 */
export function dropPrivileges(role: Role, dataplane: Dataplane, port: number,
  drop: (keep: string[]) => { threads: number; unreachable: number } = dropCapabilities): DropResult {
  const { keep } = capabilityPlan(role, dataplane, port);
  const before = currentCapabilities();
  if (!before) return { outcome: 'unsupported', kept: keep, reason: 'no /proc/self/status' };
  if (before.CapPrm === 0n && before.CapBnd === 0n) return { outcome: 'nothing-to-drop', kept: [] };
  try {
    const r = drop(keep);
    const after = currentCapabilities()!;
    return { outcome: 'dropped', kept: keep, threads: r.threads, unreachable: r.unreachable, before: before.CapPrm.toString(16), after: after.CapPrm.toString(16) };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_NATIVE_MISSING') return { outcome: 'unsupported', kept: keep, reason: (e as Error).message };
    throw e;
  }
}
