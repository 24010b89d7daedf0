/**
 * Proxy table exhaustion against running daemons (`roamd run` from the bundle, loopback, dataplane
 * none): a real home agent that accepts, and two proxies with tiny profiles and 2 s outer lifetimes.
 * - proxy A: outer pool of 2 addresses (proxy map room to spare). The third node gets 130 (RFC 5944
 *   §3.4 "insufficient resources") at once, before anything is relayed to the HA; once the first
 *   bindings expire, their outer addresses return to the pool and the third node registers.
 * - proxy B: proxy map with room for 2 nodes (outer pool of 4). The third node's home registration
 *   is relayed and accepted by the HA, the proxy cannot add the node to its map and answers 130;
 *   the outer address it had taken goes back to the pool; recovery as above.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBundle, startDaemon, RunningDaemon, tempDir, until, loopbackHaConfig } from '../util/daemon';
import { encodeRequest, nvse, NvseType, DEFAULT_VENDOR_ID } from '../../src/roles/messages';
import { SecurityAssociation } from '../../src/auth/security-association';
import { timestampId } from '../../src/auth/replay';
import * as reply from '../../src/wire/registration-reply';
import { parseIp } from '../../src/platform/address';
import { ProxyMap } from '../../src/tables/proxy-map';
import { AddressPool } from '../../src/tables/address-pool';

const PORT = 20000 + ((process.pid + 4051) % 20000);
const HA = '127.12.1.1';
const NODES = 3;
const home = (i: number) => `127.12.1.${50 + i}`;
const nai = (i: number) => `n${i}@corp.example`;
const hex = (tag: string, i: number) => `${tag}${i.toString(16).padStart(2, '0')}`.repeat(8);
const PX_HA_KEY = 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0';
const sa = (k: string, spi: number) => new SecurityAssociation({ spi, algorithm: 'hmac-md5', key: Buffer.from(k, 'hex') });
const { dir, cleanup } = tempDir('roamd-exh-proxy-');
const sock = (n: string) => join(dir, `${n}.sock`);
const running: RunningDaemon[] = [];

interface ProxySpec { name: string; outside: string; inside: string; pool: string; poolSize: number; mapNodes: number }
const A: ProxySpec = { name: 'proxy-a', outside: '127.12.0.2', inside: '127.12.0.3', pool: '127.12.2.10-127.12.2.11', poolSize: 2, mapNodes: 8 };
const B: ProxySpec = { name: 'proxy-b', outside: '127.12.0.4', inside: '127.12.0.5', pool: '127.12.3.10-127.12.3.13', poolSize: 4, mapNodes: 2 };

/** A profile with exactly `mapNodes` proxy-map nodes (one care-of each) and room for `poolSize` outer addresses. */
function profile(s: ProxySpec): object {
  let map = ProxyMap.fixedBytes() + s.mapNodes * (ProxyMap.bytesPerNode() + ProxyMap.bytesPerCareOf());
  while (ProxyMap.capacityFor(map, 1).nodes > s.mapNodes) map--;
  return {
    name: `tiny-${s.name}`, description: 'reliability lane: proxy exhaustion', node_flags: [], max_rss_mb: 64,
    tables: { budget_bytes: { binding_list: 0, visitor_list: 0, pending: 0, proxy_map: map, home_pool: 0, outer_pool: 4 + s.poolSize * AddressPool.bytesPerEntry() },
      max_simultaneous_bindings: 1, max_pending_per_node: 5, pending_timeout_ms: 7000, pool_hold_ms: 0, proxy_coa_per_node: 1, tick_ms: 100 },
  };
}

const HA_CONF = loopbackHaConfig({
  address: HA, port: PORT, socket: sock('ha'), homeNetwork: '127.12.1.0/24', maxLifetime: 60,
  nodes: Array.from({ length: NODES }, (_, i) => ({ home: home(i), nai: nai(i), key: hex('c1', i) })),
  peers: [A, B].map((p) => ({ role: 'proxy' as const, address: p.inside, spi: 1000, key: PX_HA_KEY })),
});

const proxyConf = (p: ProxySpec) => `config roamd 'main'
	option role 'proxy'
	list listen '${p.outside}'
	list listen '${p.inside}'
	option port '${PORT}'
	option control_socket '${sock(p.name)}'
	option dataplane 'none'
	option profile '${join(dir, `${p.name}.json`)}'
	option rate_limit '0'

config proxy
	option outside '${p.outside}'
	option inside '${p.inside}'
	option outer_pool '${p.pool}'
	option max_lifetime '2'

${Array.from({ length: NODES }, (_, i) => `config mobile_node
	option nai '${nai(i)}'
	option spi '257'
	option key '${hex('d2', i)}'
`).join('\n')}
config peer
	option role 'ha'
	option address '${HA}'
	option spi '1000'
	option key '${PX_HA_KEY}'
`;

let low = 1;
function ids() {
  const id = timestampId(Date.now(), low++);
  return { idHigh: id.high, idLow: id.low };
}

/** Node i's first attach through proxy p: outer request (lifetime 2 s) carrying the home registration. */
function attach(i: number, p: ProxySpec, coa: string): Buffer {
  const homeReq = encodeRequest({ type: 1, flags: 2, lifetime: 60, homeAddress: parseIp(home(i)), homeAgent: parseIp(HA), careOfAddress: parseIp(p.inside), ...ids(), extensions: [] },
    [{ type: 32, sa: sa(hex('c1', i), 256) }]);
  return encodeRequest({ type: 1, flags: 0x02, lifetime: 2, homeAddress: 0, homeAgent: parseIp(p.outside), careOfAddress: parseIp(coa), ...ids(),
    extensions: [{ kind: 'nai', nai: nai(i) }, nvse(DEFAULT_VENDOR_ID, NvseType.HOME_REQUEST, homeReq)] }, [{ type: 32, sa: sa(hex('d2', i), 257) }]);
}

function register(i: number, p: ProxySpec, ms = 2000): Promise<reply.RegistrationReply | null> {
  const coa = `127.12.${p === A ? 4 : 5}.${10 + i}`;
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => { s.close(); resolve(null); }, ms);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(reply.decode(m)); });
    s.bind(0, coa, () => s.send(attach(i, p, coa), PORT, p.outside));
  });
}

const stats = async (d: RunningDaemon) => (await d.call({ cmd: 'stats' })) as Record<string, number>;
let ha: RunningDaemon;
const proxies = new Map<ProxySpec, RunningDaemon>();

test.before(async () => {
  buildBundle();
  ha = await startDaemon('ha', dir, HA_CONF, sock('ha'));
  running.push(ha);
  for (const p of [A, B]) {
    writeFileSync(join(dir, `${p.name}.json`), JSON.stringify(profile(p)));
    const d = await startDaemon(p.name, dir, proxyConf(p), sock(p.name));
    proxies.set(p, d);
    running.push(d);
  }
});

test.after(async () => {
  const codes: number[] = [];
  for (const d of running) codes.push(await d.stop());
  if (process.env.ROAMD_TEST_VERBOSE) for (const d of running) console.log(d.output);
  cleanup();
  assert.equal(codes, running.map(() => 0));
});

/** Registers nodes 0..NODES-1 through p; then polls node 2 until it is accepted. */
async function exhaust(p: ProxySpec): Promise<{ codes: Array<number | null>; recoveredMs: number; haRelayed: number; st: Record<string, number>; status: any }> {
  const px = proxies.get(p)!;
  const codes: Array<number | null> = [];
  let haRelayed = 0;
  for (let i = 0; i < NODES; i++) {
    const before = (await stats(ha)).rx_request ?? 0;
    codes.push((await register(i, p))?.code ?? null);
    haRelayed = ((await stats(ha)).rx_request ?? 0) - before; // of the last node
  }
  const tFull = Date.now();
  const status = await px.call({ cmd: 'status' });
  await until('node 2 accepted', async () => (await register(2, p, 500))?.code === 0, 8000);
  return { codes, recoveredMs: Date.now() - tFull, haRelayed, st: await stats(px), status };
}

test('proxy outer pool full: 130 before relaying, recovery as bindings expire', async () => {
  const r = await exhaust(A);
  assert.equal(r.codes, [0, 0, 130], 'pool of 2 outer addresses: the third node gets 130');
  assert.is(r.haRelayed, 0, 'the refused request was not relayed to the HA');
  assert.equal(r.status.outerPool, { size: 2, free: 0 });
  assert.ok(r.recoveredMs >= 1000, `recovered only after the 2 s bindings expired (${r.recoveredMs} ms)`);
  assert.ok((r.st.deny_130 ?? 0) >= 1 && (r.st.expired ?? 0) >= 1, JSON.stringify(r.st));
  const b = (await proxies.get(A)!.call({ cmd: 'bindings' })) as Array<Record<string, unknown>>;
  assert.ok(b.some((x) => x.home === home(2)), 'node 2 holds a binding after recovery');
  console.log(`figure: exhaustion proxy outer_pool=2 codes=${r.codes.join(',')} relayed_to_ha=${r.haRelayed} recovered_after_ms=${r.recoveredMs} deny_130=${r.st.deny_130} expired=${r.st.expired}`);
});

test('proxy map full: the HA accepts, the proxy answers 130 and frees the outer address; recovery as bindings expire', async () => {
  const r = await exhaust(B);
  assert.equal(r.codes, [0, 0, 130], 'proxy map of 2 nodes: the third node gets 130');
  assert.is(r.haRelayed, 1, 'the third home registration was relayed (the map is checked on the HA reply)');
  assert.equal([r.status.nodes, r.status.nodeCapacity], [2, 2]);
  assert.equal(r.status.outerPool, { size: 4, free: 2 }, 'the refused node took no outer address');
  assert.ok(r.recoveredMs >= 1000, `recovered only after the 2 s bindings expired (${r.recoveredMs} ms)`);
  assert.ok((r.st.deny_130 ?? 0) >= 1, JSON.stringify(r.st));
  console.log(`figure: exhaustion proxy map_nodes=2 codes=${r.codes.join(',')} relayed_to_ha=${r.haRelayed} recovered_after_ms=${r.recoveredMs} deny_130=${r.st.deny_130} expired=${r.st.expired}`);
});

test.run();
