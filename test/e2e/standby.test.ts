/**
 * Standby bindings in the whole deployment (root, network namespaces, real strongSwan): the node on
 * the wired link gets a second link behind the NAT whose default route arrives late (as DHCP may
 * add it after the address), registers a standby binding there, and loses nothing when the wired
 * link goes — the standby becomes current without a registration round trip.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { World, ADDR, ROOT, PREFIX_ROOT, waitFor } from './world';
import { UdpProbe } from './udp-probe';
import { sh } from './netns';

const w = new World(`${PREFIX_ROOT}${process.pid}-s-`);
let udp: UdpProbe;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type MnStatus = { counters: Record<string, number>; standbyBinding: { ifname: string; tunnel: string } | null; dataplaneState: { ifname: string; tunnel: string; vpn: string } };
const mnStatus = async (): Promise<MnStatus> => w.call('mn', { cmd: 'status' });
const stats = async (): Promise<Record<string, number>> => w.call('mn', { cmd: 'stats' });
const proxyCareOfs = async (): Promise<string[]> => ((await w.call('proxy', { cmd: 'bindings' })) as Array<{ careOf: string }>).map((b) => b.careOf).sort();

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces, TUN devices, strongSwan): run npm test as root');
  if (process.env.ROAMD_E2E_PREBUILT !== '1') execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { stdio: 'pipe' });
  await w.start().catch((e: Error) => {
    console.error(`standby set-up failed: ${e.stack ?? e}`);
    throw e;
  });
  udp = await UdpProbe.start(w);
  w.move('wired');
  await waitFor('node registered on the wired link, VPN up', async () => {
    const s = (await mnStatus()).dataplaneState;
    return s?.ifname === 'wired0' && s.tunnel === 'ipip' && s.vpn === 'up';
  }, 30_000);
  await waitFor('VPN SA installed', async () => !!w.sa('mn')?.children.some((c) => c.state === 'INSTALLED'), 30_000);
  await udp.resumed(Date.now(), 20_000);
});

test.after(() => w.teardown());

test('a link whose default route comes late: the standby registration fails at once and is retried, not left to the 1 s retransmission', async () => {
  const mn = w.ns.mn!;
  const before = await stats();
  w.lab.ip(mn, 'link', 'set', 'natp0', 'up');
  w.lab.ip(mn, 'addr', 'add', `${ADDR.natMn}/24`, 'dev', 'natp0');
  await sleep(150);
  const early = await stats();
  assert.ok((early.tx_retry_no_route ?? 0) > (before.tx_retry_no_route ?? 0), 'the request from the new address failed at once (unreachable exit), not on-link');
  w.lab.ip(mn, 'route', 'replace', 'default', 'via', '192.168.1.1', 'dev', 'natp0', 'metric', '300');
  await waitFor('standby binding behind the NAT', async () => (await mnStatus()).standbyBinding?.ifname === 'natp0', 10_000);
  const after = await stats();
  assert.is(after.retransmission ?? 0, before.retransmission ?? 0, 'no registration waited for a retransmission');
  const s = await mnStatus();
  assert.is(s.standbyBinding!.tunnel, 'udp', 'the NAT was detected for the standby (RFC 3519)');
  assert.is(s.dataplaneState.ifname, 'wired0', 'traffic stays on the preferred link');
  assert.equal(await proxyCareOfs(), [ADDR.natPublic, ADDR.wiredMn].sort(), 'the proxy holds both care-of addresses (the NAT one by its public address)');
});

test('the wired link goes: the standby becomes current, nothing lost, the dead binding pruned', async () => {
  await sleep(1500); // past the current address's re-registration that follows a standby one
  const t0 = Date.now();
  const before = await stats();
  // The wired link goes at once, as a cable pulled (World.move would bring the NAT link up again).
  sh('ip', ['-n', w.ns.mn!, '-batch', '-'], { input: 'addr flush dev wired0\nroute flush dev wired0\nlink set wired0 down\n' });
  w.place = 'nat';
  await waitFor('node on the NAT link', async () => (await mnStatus()).dataplaneState?.ifname === 'natp0', 10_000);
  await udp.resumed(Date.now(), 20_000);
  const g = udp.gap(t0, Date.now());
  const after = await stats();
  assert.is((after['standby-promoted'] ?? 0) - (before['standby-promoted'] ?? 0), 1);
  assert.is(g.lost, 0, `probe datagrams lost: ${g.lost} (largest gap ${g.interruptionMs} ms)`);
  await waitFor('the proxy holds the NAT binding alone', async () => JSON.stringify(await proxyCareOfs()) === JSON.stringify([ADDR.natPublic]), 10_000);
  console.log(`standby promotion: largest gap ${g.interruptionMs} ms, lost ${g.lost}`);
});

test.run();
