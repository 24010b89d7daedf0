/**
 * Visitor-list exhaustion at a running foreign agent with a home agent that accepts (both
 * `roamd run` from the bundle, loopback, dataplane none). The FA's tiny profile has room for 3
 * visitors; its registration lifetime is 2 s. Nodes 0-2 register through the FA and the HA
 * (code 0); node 3 gets 66 from the FA (RFC 5944 §3.4 "insufficient resources": the visitor list
 * cannot take a newcomer, checked before relaying, §3.7.1) and is not relayed; node 0 renewing
 * while the list is full is still served (it holds its entry); once the visitor entries expire on
 * the FA's timer wheel, node 3 registers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBundle, startDaemon, RunningDaemon, tempDir, until, loopbackHaConfig } from '../util/daemon';
import { encodeRequest } from '../../src/roles/messages';
import { SecurityAssociation } from '../../src/auth/security-association';
import { timestampId } from '../../src/auth/replay';
import * as reply from '../../src/wire/registration-reply';
import { parseIp } from '../../src/platform/address';
import { VisitorTable } from '../../src/tables/visitor-table';

const PORT = 20000 + ((process.pid + 6007) % 20000);
const FA = '127.11.0.10', HA = '127.11.9.1';
const NODES = 4, VISITORS = 3;
const home = (i: number) => `127.11.9.${50 + i}`;
const keyHex = (i: number) => `6b${i.toString(16).padStart(2, '0')}`.repeat(8);
const FA_HA_KEY = '0123456789abcdef0123456789abcdef';
const sas = Array.from({ length: NODES }, (_, i) => new SecurityAssociation({ spi: 256, algorithm: 'hmac-md5', key: Buffer.from(keyHex(i), 'hex') }));
const { dir, cleanup } = tempDir('roamd-exh-visitors-');
const sock = (n: string) => join(dir, `${n}.sock`);
let fa: RunningDaemon, ha: RunningDaemon;

// Exactly 3 visitor slots (and pending room to spare, so the visitor list is what runs out).
let visitorBudget = VisitorTable.fixedBytes() + VISITORS * VisitorTable.bytesPerVisitor();
while (VisitorTable.visitorCapacityFor(visitorBudget) > VISITORS) visitorBudget--;
const PROFILE = {
  name: 'tiny-fa-visitors', description: 'reliability lane: 3 visitors', node_flags: [], max_rss_mb: 64,
  tables: { budget_bytes: { binding_list: 0, visitor_list: visitorBudget, pending: 16 * VisitorTable.bytesPerPending(), proxy_map: 0, home_pool: 0, outer_pool: 0 },
    max_simultaneous_bindings: 1, max_pending_per_node: 5, pending_timeout_ms: 7000, pool_hold_ms: 0, proxy_coa_per_node: 1, tick_ms: 100 },
};

const HA_CONF = loopbackHaConfig({
  address: HA, port: PORT, socket: sock('ha'), homeNetwork: '127.11.9.0/24', maxLifetime: 2,
  nodes: Array.from({ length: NODES }, (_, i) => ({ home: home(i), key: keyHex(i) })),
  peers: [{ role: 'fa', address: FA, spi: 1001, key: FA_HA_KEY }],
});

const FA_CONF = () => `config roamd 'main'
	option role 'fa'
	list listen '${FA}'
	option port '${PORT}'
	option control_socket '${sock('fa')}'
	option dataplane 'none'
	option profile '${join(dir, 'tiny.json')}'
	option rate_limit '0'

config foreign_agent
	option advertise_interval '0'
	option registration_lifetime '2'

config interface
	option ifname 'fa0'
	option address '${FA}/16'

config peer
	option role 'ha'
	option address '${HA}'
	option spi '1001'
	option key '${FA_HA_KEY}'
`;

test.before(async () => {
  buildBundle();
  writeFileSync(join(dir, 'tiny.json'), JSON.stringify(PROFILE));
  ha = await startDaemon('ha', dir, HA_CONF, sock('ha'));
  fa = await startDaemon('fa', dir, FA_CONF(), sock('fa'));
});

test.after(async () => {
  const codes = [await fa.stop(), await ha.stop()];
  if (process.env.ROAMD_TEST_VERBOSE) console.log(fa.output, ha.output);
  cleanup();
  assert.equal(codes, [0, 0]);
});

let low = 1;
function request(i: number): Buffer {
  const id = timestampId(Date.now(), low++);
  return encodeRequest({ type: 1, flags: 0, lifetime: 2, homeAddress: parseIp(home(i)), homeAgent: parseIp(HA), careOfAddress: parseIp(FA),
    idHigh: id.high, idLow: id.low, extensions: [] }, [{ type: 32, sa: sas[i]! }]);
}

/** Node i registers through the FA (it answers to the home address and source port); the reply code or null. */
function register(i: number, ms = 1500): Promise<number | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => { s.close(); resolve(null); }, ms);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(reply.decode(m).code); });
    s.bind(0, home(i), () => s.send(request(i), PORT, FA));
  });
}

const stats = async (d: RunningDaemon) => (await d.call({ cmd: 'stats' })) as Record<string, number>;
const visitors = async () => ((await fa.call({ cmd: 'visitors' })) as Array<Record<string, unknown>>).filter((v) => v.state === 'visitor').map((v) => v.home).sort();

test('visitor list full → 66 without relaying, a held visitor still renews, recovery as visitors expire', async () => {
  assert.is(((await fa.call({ cmd: 'status' })) as { capacities: { visitors: number } }).capacities.visitors, VISITORS);
  const codes: Array<number | null> = [];
  for (let i = 0; i < VISITORS; i++) codes.push(await register(i));
  assert.equal(codes, [0, 0, 0], 'three nodes registered through the FA and the accepting HA');
  const tFull = Date.now();
  assert.equal(await visitors(), [home(0), home(1), home(2)]);
  const haBefore = (await stats(ha)).rx_request ?? 0;
  const full = await register(3);
  assert.is(full, 66, 'the fourth node: 66 insufficient resources from the FA');
  const s1 = await stats(fa);
  assert.ok((s1.table_full ?? 0) >= 1, `table_full counted: ${JSON.stringify(s1)}`);
  assert.is((await stats(ha)).rx_request ?? 0, haBefore, 'the refused request never reached the HA');
  // A node that holds a visitor entry is not a newcomer: it renews while the list is full.
  assert.is(await register(0), 0, 'node 0 renews while the list is full');
  assert.equal(await visitors(), [home(0), home(1), home(2)]);
  // Recovery: nodes 1 and 2 expire 2 s after they registered (node 0 was renewed).
  let attempts = 0;
  await until('node 3 registered', async () => {
    attempts++;
    return (await register(3, 400)) === 0;
  }, 8000);
  const recoveredMs = Date.now() - tFull;
  const s2 = await stats(fa);
  assert.ok(recoveredMs >= 1000, `not before the visitors expired (${recoveredMs} ms)`);
  assert.ok(await visitors().then((v) => v.includes(home(3))), 'node 3 is a visitor now');
  console.log(`figure: exhaustion fa visitors capacity=${VISITORS} codes=${codes.join(',')},${full} renewal_while_full=0 ` +
    `recovered_after_ms=${recoveredMs} attempts=${attempts} (registration_lifetime 2 s) table_full=${s2.table_full} visitor_expired=${s2.visitor_expired ?? 0}`);
});

test.run();
