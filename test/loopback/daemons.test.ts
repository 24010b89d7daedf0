/**
 * Loopback lane: real `roamd run` processes (from the bundle) for the home agent, the proxy, a
 * foreign agent and a mobile node on 127.x addresses, exchanging real UDP. The node registers
 * (home registration relayed by the proxy), moves to a new care-of address (the home agent is not
 * involved), goes home and deregisters; a second, scripted node moves behind the foreign agent.
 * State is checked through each daemon's control socket. Signalling only (dataplane 'none').
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { buildBundle, startDaemon, RunningDaemon, tempDir, until, sleep } from '../util/daemon';
import { encodeRequest, nvse, NvseType, DEFAULT_VENDOR_ID, findNvse, firstAuth } from '../../src/roles/messages';
import { SecurityAssociation } from '../../src/auth/security-association';
import { timestampId } from '../../src/auth/replay';
import { verify } from '../../src/auth/authenticator';
import * as reply from '../../src/wire/registration-reply';
import { parseIp } from '../../src/platform/address';

const PORT = 20000 + (process.pid % 20000);
const K = { mnHa: '00112233445566778899aabbccddeeff', mnProxy: '102132435465768798a9bacbdcedfe0f', proxyHa: 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0', faProxy: 'c1c2c3c4c5c6c7c8c9cacbcccdcecfd0', bobHa: '0f0e0d0c0b0a09080706050403020100', bobProxy: 'ffeeddccbbaa99887766554433221100' };

const { dir, cleanup } = tempDir('roamd-loopback-');
const sock = (n: string) => join(dir, `${n}.sock`);
const daemons: RunningDaemon[] = [];
let ha: RunningDaemon, proxy: RunningDaemon, fa: RunningDaemon, mn: RunningDaemon;

const common = (role: string, listen: string[], extra = '') => `config roamd 'main'
	option role '${role}'
${listen.map((l) => `	list listen '${l}'`).join('\n')}
	option port '${PORT}'
	option control_socket '${sock(role)}'
	option dataplane 'none'
	option profile 'router-128m'
	option log_level 'debug'
${extra}
`;

const HA_CONF = common('ha', ['127.1.0.1']) + `
config home_agent
	option address '127.1.0.1'
	option home_network '127.1.0.0/24'
	option max_lifetime '1800'

config mobile_node
	option home_address '127.1.0.50'
	option nai 'alice@corp.example'
	option spi '256'
	option key '${K.mnHa}'

config mobile_node
	option home_address '127.1.0.51'
	option nai 'bob@corp.example'
	option spi '256'
	option key '${K.bobHa}'

config peer
	option role 'proxy'
	option address '127.0.0.3'
	option spi '1000'
	option key '${K.proxyHa}'
`;

const PROXY_CONF = common('proxy', ['127.0.0.2', '127.0.0.3']) + `
config proxy
	option outside '127.0.0.2'
	option inside '127.0.0.3'
	option outer_pool '127.2.0.10-127.2.0.20'
	option max_lifetime '300'

config mobile_node
	option nai 'alice@corp.example'
	option spi '257'
	option key '${K.mnProxy}'

config mobile_node
	option nai 'bob@corp.example'
	option spi '257'
	option key '${K.bobProxy}'

config peer
	option role 'ha'
	option address '127.1.0.1'
	option spi '1000'
	option key '${K.proxyHa}'

config peer
	option role 'fa'
	option address '127.0.0.10'
	option spi '1001'
	option key '${K.faProxy}'
`;

const FA_CONF = common('fa', ['127.0.0.10']) + `
config foreign_agent
	option advertise_interval '5'
	option registration_lifetime '600'

config interface
	option ifname 'fa0'
	option address '127.0.0.10/8'

config peer
	option role 'ha'
	option address '127.0.0.2'
	option spi '1001'
	option key '${K.faProxy}'
`;

const MN_CONF = common('mn', []) + `
config mobile
	option nai 'alice@corp.example'
	option home_address '127.1.0.50'
	option home_agent '127.1.0.1'
	option home_network '127.1.0.0/24'
	option spi '256'
	option key '${K.mnHa}'
	option proxy_outside '127.0.0.2'
	option proxy_inside '127.0.0.3'
	option proxy_spi '257'
	option proxy_key '${K.mnProxy}'
	option lifetime '300'

config interface
	option ifname 'eth0'
	option preference '20'
`;

test.before(async () => {
  buildBundle();
  ha = await startDaemon('ha', dir, HA_CONF, sock('ha'));
  daemons.push(ha);
  proxy = await startDaemon('proxy', dir, PROXY_CONF, sock('proxy'));
  daemons.push(proxy);
  fa = await startDaemon('fa', dir, FA_CONF, sock('fa'));
  daemons.push(fa);
  mn = await startDaemon('mn', dir, MN_CONF, sock('mn'));
  daemons.push(mn);
});

test.after(async () => {
  const codes = await Promise.all(daemons.map((d) => d.stop()));
  if (process.env.ROAMD_TEST_VERBOSE) for (const d of daemons) console.log(`--- ${d.name}\n${d.output}`);
  cleanup();
  assert.equal(codes, daemons.map(() => 0), 'every daemon exits 0 on SIGTERM');
});

const proxyCareOf = async (home: string) => ((await proxy.call({ cmd: 'bindings' })) as Array<Record<string, unknown>>).filter((b) => b.home === home).map((b) => b.careOf);

test('the node attaches with a co-located care-of address: home registration relayed, VPN delivery at the HA', async () => {
  await mn.call({ cmd: 'link', ifname: 'eth0', up: true, addresses: ['127.0.0.20/8'] });
  await until('proxy binding for 127.1.0.50 at 127.0.0.20', async () => (await proxyCareOf('127.1.0.50')).includes('127.0.0.20'));
  const hb = await until('HA binding', async () => ((await ha.call({ cmd: 'bindings' })) as any[]).find((b) => b.home === '127.1.0.50'));
  assert.is(hb.careOf, '127.0.0.3', 'the HA sees the proxy as the care-of address');
  assert.is(hb.mode, 'vpn');
  assert.is(hb.via, '127.0.0.3');
  const st = await until('mn registered', async () => {
    const s = await mn.call({ cmd: 'status' });
    return s.dataplaneState?.vpn === 'up' ? s : undefined;
  });
  assert.is(st.dataplaneState.location, 'foreign');
  assert.ok(st.dataplaneState.outerAddress >= parseIp('127.2.0.10') && st.dataplaneState.outerAddress <= parseIp('127.2.0.20'));
  assert.is(st.dataplaneState.homeAddress, parseIp('127.1.0.50'));
});

test('the node moves to a new care-of address: one round trip to the proxy, the HA is not involved', async () => {
  const before = (await ha.call({ cmd: 'stats' })).rx_request;
  const outerBefore = (await mn.call({ cmd: 'status' })).dataplaneState.outerAddress;
  await mn.call({ cmd: 'link', ifname: 'eth0', up: true, addresses: ['127.0.0.21/8'] });
  await until('proxy binding moved to 127.0.0.21', async () => {
    const c = await proxyCareOf('127.1.0.50');
    return c.length === 1 && c[0] === '127.0.0.21';
  });
  assert.is((await ha.call({ cmd: 'stats' })).rx_request, before, 'no new request at the HA');
  assert.is((await mn.call({ cmd: 'status' })).dataplaneState.outerAddress, outerBefore, 'same outer address');
});

test('SIGHUP reloads the HA without dropping bindings', async () => {
  ha.proc.kill('SIGHUP');
  await sleep(300);
  const b = (await ha.call({ cmd: 'bindings' })) as any[];
  assert.ok(b.some((x) => x.home === '127.1.0.50'));
  assert.match(ha.output, /reloaded/);
});

// A second node, scripted here, moves behind the foreign agent.
const bobHa = new SecurityAssociation({ spi: 256, algorithm: 'hmac-md5', key: Buffer.from(K.bobHa, 'hex') });
const bobProxy = new SecurityAssociation({ spi: 257, algorithm: 'hmac-md5', key: Buffer.from(K.bobProxy, 'hex') });
let bobOuter = 0;
let low = 1;

function udpExchange(dst: string, data: Buffer, bindAddr = '0.0.0.0'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`no reply from ${dst}`));
    }, 4000);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.bind(0, bindAddr, () => s.send(data, PORT, dst));
  });
}

test('a scripted node attaches directly, then registers through the foreign agent', async () => {
  const now = Date.now();
  const homeReq = encodeRequest({ type: 1, flags: 0x02, lifetime: 1800, homeAddress: parseIp('127.1.0.51'), homeAgent: parseIp('127.1.0.1'),
    careOfAddress: parseIp('127.0.0.3'), ...ids(now), extensions: [] }, [{ type: 32, sa: bobHa }]);
  const first = encodeRequest({ type: 1, flags: 0x22, lifetime: 300, homeAddress: 0, homeAgent: parseIp('127.0.0.2'), careOfAddress: parseIp('127.0.0.30'),
    ...ids(now), extensions: [{ kind: 'nai', nai: 'bob@corp.example' }, nvse(DEFAULT_VENDOR_ID, NvseType.HOME_REQUEST, homeReq)] }, [{ type: 32, sa: bobProxy }]);
  const r1buf = await udpExchange('127.0.0.2', first, '127.0.0.30');
  const r1 = reply.decode(r1buf);
  assert.is(r1.code, 0);
  assert.ok(verify(bobProxy, r1buf, 0, firstAuth(r1.extensions, 32)!));
  const inner = Buffer.from(findNvse(r1.extensions, DEFAULT_VENDOR_ID, NvseType.HOME_REPLY)!.value);
  assert.ok(verify(bobHa, inner, 0, firstAuth(reply.decode(inner).extensions, 32)!), 'home reply signed by the HA');
  bobOuter = r1.homeAddress;

  // Behind the FA: care-of address = the FA's; the request goes to the FA, which relays it.
  const viaFa = encodeRequest({ type: 1, flags: 0x02, lifetime: 300, homeAddress: bobOuter, homeAgent: parseIp('127.0.0.2'), careOfAddress: parseIp('127.0.0.10'),
    ...ids(Date.now()), extensions: [{ kind: 'nai', nai: 'bob@corp.example' }] }, [{ type: 32, sa: bobProxy }]);
  const r2buf = await udpExchange('127.0.0.10', viaFa);
  const r2 = reply.decode(r2buf);
  assert.is(r2.code, 0);
  assert.ok(verify(bobProxy, r2buf, 0, firstAuth(r2.extensions, 32)!), 'MN-HA intact after the FA relayed it');
  assert.equal(await proxyCareOf('127.1.0.51'), ['127.0.0.10']);
  const visitors = (await fa.call({ cmd: 'visitors' })) as any;
  assert.match(JSON.stringify(visitors), /127\.2\.0\.\d+/);
});

function ids(now: number): { idHigh: number; idLow: number } {
  const id = timestampId(now, low++);
  return { idHigh: id.high, idLow: id.low };
}

test('revocation by the HA reaches the proxy and removes the node there', async () => {
  await ha.call({ cmd: 'revoke', home: '127.1.0.51' });
  await until('proxy forgot bob', async () => (await proxyCareOf('127.1.0.51')).length === 0);
  await until('revocation acknowledged', async () => (await ha.call({ cmd: 'stats' })).revocation_acked === 1);
});

test('the node goes home and deregisters at the HA and the proxy', async () => {
  await mn.call({ cmd: 'link', ifname: 'eth0', up: true, addresses: ['127.1.0.50/24'] });
  await until('HA binding removed', async () => ((await ha.call({ cmd: 'bindings' })) as any[]).every((b) => b.home !== '127.1.0.50'));
  await until('proxy binding removed', async () => (await proxyCareOf('127.1.0.50')).length === 0);
  const st = await until('mn at home', async () => {
    const s = await mn.call({ cmd: 'status' });
    return s.dataplaneState?.location === 'home' ? s : undefined;
  });
  assert.is(st.dataplaneState.vpn, 'pass-through');
});

test('control socket refuses bad requests with clear errors and counts them', async () => {
  let err = '';
  try {
    await ha.call({ cmd: 'frobnicate' });
  } catch (e) {
    err = (e as Error).message;
  }
  assert.match(err, /unknown command 'frobnicate'/);
  try {
    await ha.call({ cmd: 'revoke', home: 'not-an-address' });
  } catch (e) {
    err = (e as Error).message;
  }
  assert.match(err, /not an IPv4 address/);
  const stats = await ha.call({ cmd: 'stats' });
  assert.type(stats.control_bad_requests, 'number');
});

test.run();
