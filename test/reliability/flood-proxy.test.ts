/**
 * The proxy's `max_pending` (relayed requests awaiting a home agent, RFC 5944 §3.7.1 as it applies
 * to a relaying agent) under floods against a running proxy (`roamd run`, loopback, dataplane none,
 * `rate_limit 0` so that the pending limit itself is what is exercised). A real home agent serves
 * the legitimate node; a second configured home agent is down (a test socket that counts what it
 * gets and never answers), so every request relayed to it stays pending until `pending_timeout`
 * (1 s, then 88 to the node). `max_pending 4`. Three floods, each while the legitimate node
 * registers every 200 ms:
 * - forged: 16 nodes' NAIs with wrong keys from 32 sources — nothing gets past authentication
 *   (131), nothing is relayed, the legitimate node is served throughout;
 * - one authenticated node sending fresh requests: a node has at most one pending entry (a new
 *   request supersedes its old one), the legitimate node is served throughout;
 * - 16 authenticated nodes (more than `max_pending`): the pending table fills, the excess gets 130
 *   ("insufficient resources", §3.4) and is not relayed; pending never exceeds 4; the legitimate
 *   node is refused while the flood holds every slot and is served once the entries time out.
 * RSS of the proxy before and after is printed and bounded by the profile.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBundle, startDaemon, RunningDaemon, tempDir, sleep, loopbackHaConfig } from '../util/daemon';
import { encodeRequest, nvse, NvseType, DEFAULT_VENDOR_ID } from '../../src/roles/messages';
import { SecurityAssociation } from '../../src/auth/security-association';
import { timestampId } from '../../src/auth/replay';
import * as reply from '../../src/wire/registration-reply';
import { parseIp } from '../../src/platform/address';

const PORT = 20000 + ((process.pid + 3001) % 20000);
const HA = '127.13.1.1', DEAD_HA = '127.13.8.1', OUTSIDE = '127.13.0.2', INSIDE = '127.13.0.3';
const FLOODERS = 16, MAX_PENDING = 4, MAX_RSS_MB = 96;
const LEGIT = { nai: 'legit@corp.example', home: '127.13.1.50', coa: '127.13.5.1', haKey: '11'.repeat(16), pxKey: '22'.repeat(16) };
const fnai = (i: number) => `f${i}@corp.example`;
const fkey = (i: number) => `f3${i.toString(16).padStart(2, '0')}`.repeat(8);
const PX_HA_KEY = 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0';
const sa = (k: string, spi: number) => new SecurityAssociation({ spi, algorithm: 'hmac-md5', key: Buffer.from(k, 'hex') });
const { dir, cleanup } = tempDir('roamd-flood-proxy-');
const sock = (n: string) => join(dir, `${n}.sock`);
let ha: RunningDaemon, proxy: RunningDaemon, deadHa: Socket;
let deadHaReceived = 0;

const HA_CONF = loopbackHaConfig({
  address: HA, port: PORT, socket: sock('ha'), homeNetwork: '127.13.1.0/24',
  nodes: [{ home: LEGIT.home, nai: LEGIT.nai, key: LEGIT.haKey }],
  peers: [{ role: 'proxy', address: INSIDE, spi: 1000, key: PX_HA_KEY }],
});

const PROXY_CONF = `config roamd 'main'
	option role 'proxy'
	list listen '${OUTSIDE}'
	list listen '${INSIDE}'
	option port '${PORT}'
	option control_socket '${sock('proxy')}'
	option dataplane 'none'
	option profile 'router-128m'
	option rate_limit '0'

config proxy
	option outside '${OUTSIDE}'
	option inside '${INSIDE}'
	option outer_pool '127.13.2.0/24'
	option max_pending '${MAX_PENDING}'
	option pending_timeout '1'

config mobile_node
	option nai '${LEGIT.nai}'
	option spi '257'
	option key '${LEGIT.pxKey}'

${Array.from({ length: FLOODERS }, (_, i) => `config mobile_node
	option nai '${fnai(i)}'
	option spi '257'
	option key '${fkey(i)}'
`).join('\n')}
${[HA, DEAD_HA].map((a) => `config peer
	option role 'ha'
	option address '${a}'
	option spi '1000'
	option key '${PX_HA_KEY}'
`).join('\n')}`;

let low = 1;
function ids() {
  const id = timestampId(Date.now(), low++);
  return { idHigh: id.high, idLow: id.low };
}

/** An outer registration carrying a home registration (first attach / home renewal). */
function attach(nai: string, homeAddr: string, homeAgent: string, haKey: string, pxKey: string, coa: string): Buffer {
  const homeReq = encodeRequest({ type: 1, flags: 2, lifetime: 60, homeAddress: parseIp(homeAddr), homeAgent: parseIp(homeAgent), careOfAddress: parseIp(INSIDE), ...ids(), extensions: [] },
    [{ type: 32, sa: sa(haKey, 256) }]);
  return encodeRequest({ type: 1, flags: 0x02, lifetime: 30, homeAddress: 0, homeAgent: parseIp(OUTSIDE), careOfAddress: parseIp(coa), ...ids(),
    extensions: [{ kind: 'nai', nai }, nvse(DEFAULT_VENDOR_ID, NvseType.HOME_REQUEST, homeReq)] }, [{ type: 32, sa: sa(pxKey, 257) }]);
}

const flooder = (i: number, forged: boolean, coa: string) =>
  attach(fnai(i), `127.13.9.${10 + i}`, DEAD_HA, fkey(i), forged ? '77'.repeat(16) : fkey(i), coa);

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const stats = async () => (await proxy.call({ cmd: 'stats' })) as Record<string, number>;

test.before(async () => {
  buildBundle();
  deadHa = createSocket('udp4');
  deadHa.on('message', () => deadHaReceived++);
  await new Promise<void>((r) => deadHa.bind(PORT, DEAD_HA, () => r()));
  ha = await startDaemon('ha', dir, HA_CONF, sock('ha'));
  proxy = await startDaemon('proxy', dir, PROXY_CONF, sock('proxy'));
});

test.after(async () => {
  const codes = [await proxy.stop(), await ha.stop()];
  deadHa.close();
  if (process.env.ROAMD_TEST_VERBOSE) console.log(proxy.output);
  cleanup();
  assert.equal(codes, [0, 0]);
});

/** One legitimate registration attempt: the reply code (null = no reply in 300 ms) and the latency. */
function legitOnce(): Promise<number | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const done = (code: number | null) => { s.close(); resolve(code); };
    const timer = setTimeout(() => done(null), 300);
    s.on('message', (m) => { clearTimeout(timer); done(reply.decode(m).code); });
    s.bind(0, LEGIT.coa, () => s.send(attach(LEGIT.nai, LEGIT.home, HA, LEGIT.haKey, LEGIT.pxKey, LEGIT.coa), PORT, OUTSIDE));
  });
}

/** A registration like a node makes it: retransmitted after 300 ms of silence, up to 3 sends. */
async function legitAttempt(): Promise<{ code: number | null; ms: number; retransmissions: number }> {
  const t = process.hrtime.bigint();
  let code: number | null = null, n = 0;
  while (code === null && n < 3) {
    code = await legitOnce();
    n++;
  }
  return { code, ms: Number(process.hrtime.bigint() - t) / 1e6, retransmissions: n - 1 };
}

interface FloodResult { sent: number; replies: Map<number, number>; legit: Array<{ code: number | null; ms: number; retransmissions: number }>; maxPending: number; rss: [number, number]; st: Record<string, number> }

/**
 * Floods for `ms`: every 10 ms each of the `nodes` flooding nodes sends a fresh request (from
 * `sources` bound addresses, round robin), while the legitimate node tries every 200 ms and the
 * proxy's pending count is sampled every 50 ms.
 */
async function flood(nodes: number[], sources: number, forged: boolean, ms: number): Promise<FloodResult> {
  const rss0 = rssKb(proxy.proc.pid!);
  const replies = new Map<number, number>();
  const socks: Socket[] = [];
  for (let k = 0; k < sources; k++) {
    const s = createSocket('udp4');
    s.on('message', (m) => { const c = reply.decode(m).code; replies.set(c, (replies.get(c) ?? 0) + 1); });
    await new Promise<void>((r) => s.bind(0, `127.13.6.${k + 1}`, () => r()));
    socks.push(s);
  }
  let sent = 0, stop = false, maxPending = 0;
  const end = Date.now() + ms;
  const sender = (async () => {
    for (let round = 0; !stop && Date.now() < end; round++) {
      for (const i of nodes) {
        const s = socks[(round * nodes.length + i) % sources]!;
        s.send(flooder(i, forged, `127.13.6.${((round * nodes.length + i) % sources) + 1}`), PORT, OUTSIDE);
        sent++;
      }
      await sleep(10);
    }
  })();
  const sampler = (async () => {
    while (!stop && Date.now() < end) {
      maxPending = Math.max(maxPending, ((await proxy.call({ cmd: 'status' })) as { pending: number }).pending);
      await sleep(50);
    }
  })();
  const legit: FloodResult['legit'] = [];
  while (Date.now() < end) {
    legit.push(await legitAttempt());
    await sleep(200);
  }
  stop = true;
  await Promise.all([sender, sampler]);
  await sleep(100); // the last replies
  for (const s of socks) s.close();
  return { sent, replies, legit, maxPending, rss: [rss0, rssKb(proxy.proc.pid!)], st: await stats() };
}

const okCount = (r: FloodResult) => r.legit.filter((l) => l.code === 0).length;
const fmt = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]).map(([c, n]) => `${c}:${n}`).join(' ') || 'none';
const retr = (r: FloodResult) => r.legit.reduce((n, l) => n + l.retransmissions, 0);
const p50 = (r: FloodResult) => {
  const ok = r.legit.filter((l) => l.code === 0).map((l) => l.ms).sort((a, b) => a - b);
  return ok.length ? ok[Math.floor(ok.length / 2)]!.toFixed(1) : 'n/a';
};

test('forged flood: nothing becomes pending, the legitimate node is served throughout', async () => {
  const before = await stats();
  const r = await flood(Array.from({ length: FLOODERS }, (_, i) => i), 32, true, 2000);
  console.log(`figure: proxy flood forged nodes=${FLOODERS} sources=32 sent=${r.sent} replies=${fmt(r.replies)} max_pending=${r.maxPending} ` +
    `legit ok=${okCount(r)}/${r.legit.length} retransmissions=${retr(r)} p50_ms=${p50(r)} relayed_to_dead_ha=${deadHaReceived} rss_kb ${r.rss[0]}->${r.rss[1]}`);
  // The only pending entry ever seen is the legitimate node's own (relayed to the live HA for ~1 ms).
  assert.ok(r.maxPending <= 1, `no forged request becomes pending (${r.maxPending})`);
  assert.is(deadHaReceived, 0, 'nothing relayed to the home agent the flood names');
  assert.ok((r.st.deny_131 ?? 0) - (before.deny_131 ?? 0) > 0, 'forged requests refused with 131 and counted');
  assert.is(okCount(r), r.legit.length, 'every legitimate attempt served');
});

test('one authenticated node flooding: at most one pending entry for it, the legitimate node is served throughout', async () => {
  const relayed0 = deadHaReceived;
  const r = await flood([0], 4, false, 2000);
  console.log(`figure: proxy flood one-node sent=${r.sent} replies=${fmt(r.replies)} max_pending=${r.maxPending} relayed_to_dead_ha=${deadHaReceived - relayed0} ` +
    `legit ok=${okCount(r)}/${r.legit.length} retransmissions=${retr(r)} p50_ms=${p50(r)} home_timeout=${r.st.home_timeout ?? 0}`);
  // Its own entry plus, at times, the legitimate node's.
  assert.ok(r.maxPending <= 2, `one node holds at most one pending entry (${r.maxPending})`);
  assert.ok(deadHaReceived - relayed0 > 10, 'its requests were relayed (each superseding the last)');
  assert.is(okCount(r), r.legit.length, 'every legitimate attempt served');
});

test('16 authenticated nodes flooding: pending full → 130, bounded at max_pending, the legitimate node served once entries time out', async () => {
  await sleep(1200); // the previous flood's pending entry times out
  const before = await stats();
  const relayed0 = deadHaReceived;
  const r = await flood(Array.from({ length: FLOODERS }, (_, i) => i), 16, false, 3000);
  const tStop = Date.now();
  const d = (k: string) => (r.st[k] ?? 0) - (before[k] ?? 0);
  const refused = r.legit.filter((l) => l.code === 130).length;
  // After the flood: the legitimate node, trying like a node every 200 ms, is served once the flood's entries time out.
  let after: { code: number | null } = { code: null };
  let tries = 0;
  while (Date.now() - tStop < 5000) {
    tries++;
    after = await legitAttempt();
    if (after.code === 0) break;
    await sleep(200);
  }
  const servedAfterMs = Date.now() - tStop;
  const st = await stats();
  console.log(`figure: proxy flood authenticated nodes=${FLOODERS} max_pending=${MAX_PENDING} sent=${r.sent} (${Math.round(r.sent / 3)}/s) replies=${fmt(r.replies)} ` +
    `deny_130=${d('deny_130')} relayed=${d('relayed')} relayed_to_dead_ha=${deadHaReceived - relayed0} home_timeout=${d('home_timeout')} max_pending_seen=${r.maxPending} ` +
    `legit during flood: ok=${okCount(r)} refused_130=${refused} of ${r.legit.length}; after the flood served in ${servedAfterMs} ms (${tries} tries) rss_kb ${r.rss[0]}->${r.rss[1]}`);
  assert.ok(r.maxPending <= MAX_PENDING, `pending never above max_pending (${r.maxPending})`);
  assert.is(r.maxPending, MAX_PENDING, 'the flood filled the pending table');
  assert.ok((r.replies.get(130) ?? 0) > 100, 'the excess refused with 130');
  assert.ok(d('deny_130') >= (r.replies.get(130) ?? 0), 'and counted (deny_130)');
  assert.ok(d('home_timeout') >= MAX_PENDING && (r.replies.get(88) ?? 0) >= MAX_PENDING, 'pending entries time out with 88');
  assert.ok(deadHaReceived - relayed0 <= d('home_timeout') + MAX_PENDING, 'only what fit in the table was relayed');
  assert.ok(refused > 0, 'the legitimate node was refused while the flood held the table');
  assert.is(after.code, 0, 'the legitimate node is served after the flood');
  assert.ok(servedAfterMs < 2000, `within pending_timeout + a retry (${servedAfterMs} ms)`);
  assert.ok(r.rss[1] < MAX_RSS_MB * 1024, `RSS ${r.rss[1]} kB within the profile's ${MAX_RSS_MB} MB`);
  assert.ok(st.deny_130 >= d('deny_130'));
});

test.run();
