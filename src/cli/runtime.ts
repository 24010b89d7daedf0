/**
 * One role behind one interface for the daemon: step events, answer the control socket's views,
 * reload. Builds the role's tables from the device profile's capacities.
 */
import { randomBytes } from 'node:crypto';
import type { RoamdConfig, Role } from '../platform/config';
import type { Capacities } from '../tables/profile';
import { createTables } from '../tables/create';
import type { Action, Counters, RoleEvent } from '../roles/types';
import { createHa, stepHa, haStatus, haBindings, reloadHa, haRecord, haExport, haImportAll, HaNodeRecord } from '../roles/ha';
import { createProxy, stepProxy, proxyStatus, proxyBindings, reloadProxy, proxyRecord, proxyNaiOf, proxyExport, proxyImportAll, ProxyNodeRecord } from '../roles/proxy';
import { createFa, stepFa, faStatus, faVisitors, reloadFa } from '../roles/fa';
import { createMn, stepMn, mnStatus, reloadMn } from '../roles/mn';
import { ipToString } from '../platform/address';
import { RoamdError } from '../errors';

export interface Runtime {
  role: Role;
  step(ev: RoleEvent, now: number): Action[];
  status(): Record<string, unknown>;
  bindings(now: number): unknown;
  visitors(): unknown;
  reload(cfg: RoamdConfig, now: number): Action[];
  counters(): Counters;
  /** Roles whose bindings survive a restart (ha, proxy): see src/cli/persist.ts. */
  persist?: {
    /** The record to journal for a data-plane action, or null. */
    record(a: Action): unknown;
    exportAll(): unknown[];
    importAll(recs: unknown[], now: number): Action[];
  };
}

/** uint32 from the system CSPRNG: nonces, challenges, identification low bits. */
export function random32(): number {
  return randomBytes(4).readUInt32BE(0);
}

export function buildRuntime(cfg: RoamdConfig, caps: Capacities, now: number): Runtime {
  const rc = cfg.roleConfig;
  switch (rc.role) {
    case 'ha': {
      const t = createTables(caps, { bindings: true, homePool: cfg.homePool }, now);
      const st = createHa(rc.ha, { bindings: t.bindings!, homePool: t.homePool }, random32);
      return {
        role: 'ha',
        step: (ev, n) => stepHa(st, ev, n),
        status: () => haStatus(st),
        bindings: (n) => haBindings(st, n, ipToString),
        visitors: () => notThisRole('visitors', 'fa'),
        reload: (c, n) => (c.roleConfig.role === 'ha' ? reloadHa(st, c.roleConfig.ha, n) : roleChanged()),
        counters: () => st.counters,
        persist: {
          record: (a) => (a.kind === 'ha-binding' ? haRecord(st, a.home) : null),
          exportAll: () => haExport(st),
          importAll: (recs, n) => haImportAll(st, recs as HaNodeRecord[], n),
        },
      };
    }
    case 'proxy': {
      const t = createTables(caps, { proxy: true, outerPool: cfg.outerPool }, now);
      const st = createProxy(rc.proxy, { proxy: t.proxy!, outerPool: t.outerPool! }, random32);
      return {
        role: 'proxy',
        step: (ev, n) => stepProxy(st, ev, n),
        status: () => proxyStatus(st),
        bindings: (n) => proxyBindings(st, n, ipToString),
        visitors: () => notThisRole('visitors', 'fa'),
        reload: (c) => (c.roleConfig.role === 'proxy' ? reloadProxy(st, c.roleConfig.proxy) : roleChanged()),
        counters: () => st.counters,
        persist: {
          record: (a) => {
            const nai = a.kind === 'proxy-binding' ? proxyNaiOf(st, a.home) : null;
            return nai ? proxyRecord(st, nai) : null;
          },
          exportAll: () => proxyExport(st),
          importAll: (recs, n) => proxyImportAll(st, recs as ProxyNodeRecord[], n),
        },
      };
    }
    case 'fa': {
      const st = createFa(rc.fa, { visitorCapacity: caps.visitors, pendingCapacity: caps.pending, random: random32, now });
      return {
        role: 'fa',
        step: (ev, n) => stepFa(st, ev, n),
        status: () => faStatus(st),
        bindings: () => faVisitors(st, ipToString),
        visitors: () => faVisitors(st, ipToString),
        reload: (c) => (c.roleConfig.role === 'fa' ? reloadFa(st, c.roleConfig.fa) : roleChanged()),
        counters: () => st.counters,
      };
    }
    case 'mn': {
      const st = createMn(rc.mn, { random: random32, now });
      return {
        role: 'mn',
        step: (ev, n) => stepMn(st, ev, n),
        status: () => mnStatus(st, ipToString),
        bindings: () => mnStatus(st, ipToString),
        visitors: () => notThisRole('visitors', 'fa'),
        reload: (c) => (c.roleConfig.role === 'mn' ? reloadMn(st, c.roleConfig.mn) : roleChanged()),
        counters: () => st.counters,
      };
    }
  }
}

function notThisRole(cmd: string, role: string): never {
  throw new RoamdError('ERR_USAGE', `'${cmd}' is only available in role '${role}'`);
}

function roleChanged(): never {
  throw new RoamdError('ERR_CONFIG_INVALID', 'the role cannot change on reload: restart the daemon');
}
