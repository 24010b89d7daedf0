/**
 * Builds every table of a role from computed capacities (profile.ts). Pools need their address
 * ranges from configuration; a pool range larger than its computed capacity is refused.
 */
import { RoamdError } from '../errors';
import { AddressPool } from './address-pool';
import { BindingTable } from './binding-table';
import type { Capacities } from './profile';
import { ProxyMap } from './proxy-map';
import { VisitorTable } from './visitor-table';

export interface PoolRange { first: number; count: number }

export interface Tables {
  bindings?: BindingTable;
  visitors?: VisitorTable;
  proxy?: ProxyMap;
  homePool?: AddressPool;
  outerPool?: AddressPool;
}

export function createTables(c: Capacities, want: {
  bindings?: boolean; visitors?: boolean; proxy?: boolean; homePool?: PoolRange; outerPool?: PoolRange;
}, now: number): Tables {
  const t: Tables = {};
  const need = (what: string, cap: number): void => {
    if (cap < 1) throw new RoamdError('ERR_CONFIG_INVALID', `profile ${c.profile}: budget for ${what} gives capacity 0`);
  };
  if (want.bindings) {
    need('binding_list', c.bindings);
    t.bindings = new BindingTable({ capacity: c.bindings, maxPerNode: c.max_simultaneous, tickMs: c.tick_ms, now });
  }
  if (want.visitors) {
    need('visitor_list', c.visitors);
    need('pending', c.pending);
    t.visitors = new VisitorTable({ visitorCapacity: c.visitors, pendingCapacity: c.pending,
      maxPendingPerNode: c.max_pending_per_node, pendingTimeoutMs: c.pending_timeout_ms, tickMs: c.tick_ms, now });
  }
  if (want.proxy) {
    need('proxy_map', c.proxy_nodes);
    t.proxy = new ProxyMap({ nodeCapacity: c.proxy_nodes, coaCapacity: c.proxy_coas,
      maxPerNode: c.max_simultaneous, tickMs: c.tick_ms, now });
  }
  const pool = (name: string, r: PoolRange, cap: number): AddressPool => {
    if (r.count > cap) {
      throw new RoamdError('ERR_CONFIG_INVALID', `${name} range of ${r.count} addresses exceeds profile capacity ${cap}`);
    }
    return new AddressPool({ first: r.first, count: r.count, holdMs: c.pool_hold_ms });
  };
  if (want.homePool) t.homePool = pool('home_pool', want.homePool, c.home_pool);
  if (want.outerPool) t.outerPool = pool('outer_pool', want.outerPool, c.outer_pool);
  return t;
}
