/**
 * Simulated mobile nodes shared by the registration benches and their load generator: node i has a
 * deterministic NAI, home address and MN–HA / MN–proxy keys, so the orchestrator can write UCI
 * configs with thousands of `config mobile_node` sections and the load generator (a separate
 * process) can sign requests for the same nodes without exchanging keys. Addresses are all on
 * loopback (127.100.0.0/16 home network, 127.101/16 proxy, 127.102/16 baselines, 127.103/16 CoAs).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export const ADDR = {
  ha: '127.100.0.1',
  homeNetwork: '127.100.0.0/16',
  proxyOutside: '127.101.0.2',
  proxyInside: '127.101.0.3',
  outerPool: '127.101.1.0-127.101.60.255',
  echo: '127.102.0.1',
  relay: '127.102.0.2',
  client: '127.0.0.1',
} as const;

/** Home addresses start here: 127.100.0.10 + i. */
export const HOME_BASE = (127 << 24 | 100 << 16 | 10) >>> 0;
/** Care-of addresses: 127.103.0.0 + (i mod 2^15) + 2^15 × (move parity). */
export const COA_BASE = (127 << 24 | 103 << 16) >>> 0;
export const MAX_NODES = 60_000;

export const SPI = { mnHa: 256, mnProxy: 257, proxyHa: 1000 } as const;
export const PROXY_HA_KEY = 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0';

export function keyHex(kind: 'ha' | 'proxy', i: number): string {
  return createHash('md5').update(`roamd-bench/${kind}/${i}`).digest('hex');
}
export const naiOf = (i: number): string => `n${i}@bench.example`;
export const homeOf = (i: number): number => (HOME_BASE + i) >>> 0;

function ipStr(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

interface Common { port: number; socket: string; logLevel?: string; profile?: string }

function main(role: string, listen: string[], c: Common): string {
  return `config roamd 'main'
	option role '${role}'
${listen.map((l) => `	list listen '${l}'`).join('\n')}
	option port '${c.port}'
	option control_socket '${c.socket}'
	option dataplane 'none'
	option profile '${c.profile ?? 'router-128m'}'
	option log_level '${c.logLevel ?? 'info'}'
	option rate_limit '1000000'
`;
}

/**
 * The load generator sends every node's requests from one address, so the per-source limiter
 * (rate_limit, default 100/s) is set to its maximum: its lookup still runs, it never drops.
 */
/** HA config: `nodes` static-home nodes with their MN–HA SAs, and the bench proxy as a peer. */
export function haConfig(nodes: number, c: Common): string {
  const parts = [main('ha', [ADDR.ha], c), `
config home_agent
	option address '${ADDR.ha}'
	option home_network '${ADDR.homeNetwork}'
	option max_lifetime '1800'

config peer
	option role 'proxy'
	option address '${ADDR.proxyInside}'
	option spi '${SPI.proxyHa}'
	option key '${PROXY_HA_KEY}'
`];
  for (let i = 0; i < nodes; i++) {
    parts.push(`
config mobile_node
	option home_address '${ipStr(homeOf(i))}'
	option nai '${naiOf(i)}'
	option spi '${SPI.mnHa}'
	option key '${keyHex('ha', i)}'
`);
  }
  return parts.join('');
}

/** Proxy config: `nodes` nodes with their MN–proxy SAs, relaying to the bench HA. */
export function proxyConfig(nodes: number, c: Common & { maxPending?: number }): string {
  const parts = [main('proxy', [ADDR.proxyOutside, ADDR.proxyInside], c), `
config proxy
	option outside '${ADDR.proxyOutside}'
	option inside '${ADDR.proxyInside}'
	option outer_pool '${ADDR.outerPool}'
	option max_lifetime '600'
	option max_pending '${c.maxPending ?? 1024}'

config peer
	option role 'ha'
	option address '${ADDR.ha}'
	option spi '${SPI.proxyHa}'
	option key '${PROXY_HA_KEY}'
`];
  for (let i = 0; i < nodes; i++) {
    parts.push(`
config mobile_node
	option nai '${naiOf(i)}'
	option spi '${SPI.mnProxy}'
	option key '${keyHex('proxy', i)}'
`);
  }
  return parts.join('');
}

export const BENCH_DIR = __dirname;
export const ROOT = join(__dirname, '..');
/** The bundle under test; ROAMD_BENCH_BUNDLE points at another build (A/B of an optimisation). */
export const BUNDLE = process.env.ROAMD_BENCH_BUNDLE ?? join(ROOT, 'dist', 'roamd.js');
