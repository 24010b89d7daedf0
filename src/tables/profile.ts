/**
 * Device profiles (targets/*.json): a memory budget per table and per-node limits, turned into
 * fixed table capacities at start-up. Capacities never change at run time; a full table answers
 * "insufficient resources" (RFC 5944 §3.4 codes 66 / 130) instead of growing.
 *
 * `parseProfile` validates a parsed JSON value and throws RoamdError('ERR_CONFIG_INVALID') naming
 * the offending field; `computeCapacities` derives every capacity; `formatCapacities` renders the
 * one key=value log line the daemon prints.
 */
import { readFileSync } from 'node:fs';
import { RoamdError } from '../errors';
import { AddressPool } from './address-pool';
import { BindingTable } from './binding-table';
import { ProxyMap } from './proxy-map';
import { DEFAULT_PENDING_TIMEOUT_MS, VisitorTable } from './visitor-table';

export interface TableBudgets {
  binding_list: number;
  visitor_list: number;
  pending: number;
  proxy_map: number;
  home_pool: number;
  outer_pool: number;
}

export interface Profile {
  name: string;
  description: string;
  node_flags: string[];
  max_rss_mb: number;
  tables: {
    budget_bytes: TableBudgets;
    /** Simultaneous bindings per node, RFC 5944 §3.8.2.3 (code 135 beyond it). */
    max_simultaneous_bindings: number;
    /** Pending registrations per node, RFC 5944 §3.7.1 ("typically 5"). */
    max_pending_per_node: number;
    /** RFC 5944 §3.7.1: pending MAY be deleted after 7 s. */
    pending_timeout_ms: number;
    /** How long a released address stays reserved for the same NAI. */
    pool_hold_ms: number;
    /** Proxy care-of slots per node slot (≥ 1). */
    proxy_coa_per_node: number;
    tick_ms: number;
  };
}

export interface Capacities {
  profile: string;
  bindings: number;
  visitors: number;
  pending: number;
  proxy_nodes: number;
  proxy_coas: number;
  home_pool: number;
  outer_pool: number;
  max_simultaneous: number;
  max_pending_per_node: number;
  pending_timeout_ms: number;
  pool_hold_ms: number;
  tick_ms: number;
  /** Typed-array bytes the tables will allocate at these capacities. */
  table_bytes: number;
}

const BUDGET_KEYS: readonly (keyof TableBudgets)[] =
  ['binding_list', 'visitor_list', 'pending', 'proxy_map', 'home_pool', 'outer_pool'];

function bad(field: string, why: string): never {
  throw new RoamdError('ERR_CONFIG_INVALID', `profile: ${field} ${why}`);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(o: Record<string, unknown>, key: string, path: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v)) bad(`${path}${key}`, 'must be an integer');
  if (v < min || v > max) bad(`${path}${key}`, `must be between ${min} and ${max}`);
  return v;
}

export function parseProfile(json: unknown): Profile {
  if (!isObj(json)) bad('(root)', 'must be an object');
  const name = json.name;
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(name)) bad('name', 'must be a kebab-case string');
  if (typeof json.description !== 'string') bad('description', 'must be a string');
  const flags = json.node_flags;
  if (!Array.isArray(flags) || !flags.every((f) => typeof f === 'string' && f.startsWith('--'))) {
    bad('node_flags', 'must be an array of --flag strings');
  }
  const maxRss = int(json, 'max_rss_mb', '', 16, 1 << 20);
  const t = json.tables;
  if (!isObj(t)) bad('tables', 'must be an object');
  const b = t.budget_bytes;
  if (!isObj(b)) bad('tables.budget_bytes', 'must be an object');
  const budgets = {} as TableBudgets;
  let total = 0;
  for (const k of BUDGET_KEYS) {
    budgets[k] = int(b, k, 'tables.budget_bytes.', 0, Number.MAX_SAFE_INTEGER);
    total += budgets[k];
  }
  for (const k of Object.keys(b)) if (!BUDGET_KEYS.includes(k as keyof TableBudgets)) bad(`tables.budget_bytes.${k}`, 'is not a known table');
  if (total > maxRss * 1048576) bad('tables.budget_bytes', `sum ${total} exceeds max_rss_mb`);
  const coaPerNode = t.proxy_coa_per_node;
  if (typeof coaPerNode !== 'number' || !(coaPerNode >= 1 && coaPerNode <= 16)) {
    bad('tables.proxy_coa_per_node', 'must be a number between 1 and 16');
  }
  return {
    name, description: json.description, node_flags: flags as string[], max_rss_mb: maxRss,
    tables: {
      budget_bytes: budgets,
      max_simultaneous_bindings: int(t, 'max_simultaneous_bindings', 'tables.', 1, 255),
      max_pending_per_node: int(t, 'max_pending_per_node', 'tables.', 1, 255),
      pending_timeout_ms: int(t, 'pending_timeout_ms', 'tables.', 100, 600_000),
      pool_hold_ms: int(t, 'pool_hold_ms', 'tables.', 0, 30 * 86_400_000),
      proxy_coa_per_node: coaPerNode,
      tick_ms: int(t, 'tick_ms', 'tables.', 1, 60_000),
    },
  };
}

export function loadProfile(path: string): Profile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RoamdError('ERR_CONFIG_INVALID', `profile ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RoamdError('ERR_CONFIG_INVALID', `profile ${path}: not JSON: ${(e as Error).message}`);
  }
  return parseProfile(json);
}

export function computeCapacities(p: Profile): Capacities {
  const b = p.tables.budget_bytes;
  const proxy = ProxyMap.capacityFor(b.proxy_map, p.tables.proxy_coa_per_node);
  const caps: Capacities = {
    profile: p.name,
    bindings: BindingTable.capacityFor(b.binding_list),
    visitors: VisitorTable.visitorCapacityFor(b.visitor_list),
    pending: VisitorTable.pendingCapacityFor(b.pending),
    proxy_nodes: proxy.nodes,
    proxy_coas: proxy.coas,
    home_pool: AddressPool.capacityFor(b.home_pool),
    outer_pool: AddressPool.capacityFor(b.outer_pool),
    max_simultaneous: p.tables.max_simultaneous_bindings,
    max_pending_per_node: p.tables.max_pending_per_node,
    pending_timeout_ms: p.tables.pending_timeout_ms ?? DEFAULT_PENDING_TIMEOUT_MS,
    pool_hold_ms: p.tables.pool_hold_ms,
    tick_ms: p.tables.tick_ms,
    table_bytes: 0,
  };
  caps.table_bytes = Math.ceil(
    caps.bindings * BindingTable.bytesPerEntry() + BindingTable.fixedBytes() +
    caps.visitors * VisitorTable.bytesPerVisitor() + caps.pending * VisitorTable.bytesPerPending() +
    VisitorTable.fixedBytes() +
    caps.proxy_nodes * ProxyMap.bytesPerNode() + caps.proxy_coas * ProxyMap.bytesPerCareOf() +
    ProxyMap.fixedBytes() + (caps.home_pool + caps.outer_pool) * AddressPool.bytesPerEntry());
  return caps;
}

/** One log line: `profile=router-128m bindings=47000 ...`. */
export function formatCapacities(c: Capacities): string {
  return Object.entries(c).map(([k, v]) => `${k}=${v}`).join(' ');
}
