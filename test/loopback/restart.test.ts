/**
 * Crash and restart (issue #9): `kill -9` of the home agent and the proxy with a node registered,
 * then a restart as procd would do it. Bindings acknowledged before the crash come back from the
 * snapshot and journal, a move is handled by the restarted proxy without a new home registration,
 * the replay state survives (an old request is refused with 133), and the outer-address pool
 * hands a second node a different address.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { buildBundle, startDaemon, RunningDaemon, tempDir } from '../util/daemon';
import { encodeRequest, nvse, NvseType, DEFAULT_VENDOR_ID } from '../../src/roles/messages';
import { SecurityAssociation } from '../../src/auth/security-association';
import { timestampId } from '../../src/auth/replay';
import * as reply from '../../src/wire/registration-reply';
import { parseIp } from '../../src/platform/address';

const PORT = 20000 + ((process.pid + 7) % 20000);
const K = { aHa: '00112233445566778899aabbccddeeff', aPx: '102132435465768798a9bacbdcedfe0f', bHa: '0f0e0d0c0b0a09080706050403020100', bPx: 'ffeeddccbbaa99887766554433221100', pxHa: 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0' };
const { dir, cleanup } = tempDir('roamd-restart-');
const sock = (n: string) => join(dir, `${n}.sock`);
const running: RunningDaemon[] = [];

const HA = `config roamd 'main'
	option role 'ha'
	list listen '127.1.0.1'
	option port '${PORT}'
	option control_socket '${sock('ha')}'
	option profile 'router-128m'
	option snapshot '${join(dir, 'ha.state')}'
config home_agent
	option address '127.1.0.1'
	option home_network '127.1.0.0/24'
config mobile_node
	option home_address '127.1.0.50'
	option nai 'alice@corp.example'
	option spi '256'
	option key '${K.aHa}'
config mobile_node
	option home_address '127.1.0.51'
	option nai 'bob@corp.example'
	option spi '256'
	option key '${K.bHa}'
config peer
	option role 'proxy'
	option address '127.0.0.3'
	option spi '1000'
	option key '${K.pxHa}'
`;
const PROXY = `config roamd 'main'
	option role 'proxy'
	list listen '127.0.0.2'
	list listen '127.0.0.3'
	option port '${PORT}'
	option control_socket '${sock('proxy')}'
	option profile 'router-128m'
	option snapshot '${join(dir, 'proxy.state')}'
config proxy
	option outside '127.0.0.2'
	option inside '127.0.0.3'
	option outer_pool '127.2.0.10-127.2.0.20'
config mobile_node
	option nai 'alice@corp.example'
	option spi '257'
	option key '${K.aPx}'
config mobile_node
	option nai 'bob@corp.example'
	option spi '257'
	option key '${K.bPx}'
config peer
	option role 'ha'
	option address '127.1.0.1'
	option spi '1000'
	option key '${K.pxHa}'
`;

const sa = (k: string, spi: number) => new SecurityAssociation({ spi, algorithm: 'hmac-md5', key: Buffer.from(k, 'hex') });
let low = 1;
function ids(now = Date.now()) {
  const id = timestampId(now, low++);
  return { idHigh: id.high, idLow: id.low };
}

function exchange(data: Buffer, from: string): Promise<reply.RegistrationReply> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('no reply'));
    }, 4000);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(reply.decode(m));
    });
    s.bind(0, from, () => s.send(data, PORT, '127.0.0.2'));
  });
}

function attach(nai: string, home: string, kHa: string, kPx: string, coa: string): Buffer {
  const homeReq = encodeRequest({ type: 1, flags: 2, lifetime: 1800, homeAddress: parseIp(home), homeAgent: parseIp('127.1.0.1'), careOfAddress: parseIp('127.0.0.3'), ...ids(), extensions: [] }, [{ type: 32, sa: sa(kHa, 256) }]);
  return encodeRequest({ type: 1, flags: 0x22, lifetime: 300, homeAddress: 0, homeAgent: parseIp('127.0.0.2'), careOfAddress: parseIp(coa), ...ids(),
    extensions: [{ kind: 'nai', nai }, nvse(DEFAULT_VENDOR_ID, NvseType.HOME_REQUEST, homeReq)] }, [{ type: 32, sa: sa(kPx, 257) }]);
}

test.before(async () => {
  buildBundle();
});

test.after(async () => {
  for (const d of running) await d.stop('SIGKILL');
  cleanup();
});

test('bindings acknowledged before kill -9 are back after a restart; moves and replay protection work on', async () => {
  let ha = await startDaemon('ha', dir, HA, sock('ha'));
  let proxy = await startDaemon('proxy', dir, PROXY, sock('proxy'));
  running.push(ha, proxy);
  const first = attach('alice@corp.example', '127.1.0.50', K.aHa, K.aPx, '127.0.0.30');
  const r1 = await exchange(first, '127.0.0.30');
  assert.is(r1.code, 0);
  const outer = r1.homeAddress;
  // The crash: no shutdown, no snapshot written on the way out.
  assert.is(await ha.stop('SIGKILL'), 128);
  assert.is(await proxy.stop('SIGKILL'), 128);
  const t0 = Date.now();
  ha = await startDaemon('ha', dir, HA, sock('ha'));
  proxy = await startDaemon('proxy', dir, PROXY, sock('proxy'));
  running.push(ha, proxy);
  const restartMs = Date.now() - t0;
  const hb = (await ha.call({ cmd: 'bindings' })) as any[];
  assert.equal(hb.map((b) => [b.home, b.careOf, b.mode]), [['127.1.0.50', '127.0.0.3', 'vpn']], 'HA binding restored');
  const pb = (await proxy.call({ cmd: 'bindings' })) as any[];
  assert.equal(pb.map((b) => [b.home, b.careOf]), [['127.1.0.50', '127.0.0.30']], 'proxy binding restored');
  assert.is(pb[0].outer, `127.2.0.${outer & 255}`);
  assert.match(proxy.output, /state-restored .*journal=1/);

  // A move after the restart: the proxy still knows the home binding, the HA is not asked.
  const haRequests = (await ha.call({ cmd: 'stats' })).rx_request ?? 0;
  const move = encodeRequest({ type: 1, flags: 0x22, lifetime: 300, homeAddress: outer, homeAgent: parseIp('127.0.0.2'), careOfAddress: parseIp('127.0.0.31'), ...ids(),
    extensions: [{ kind: 'nai', nai: 'alice@corp.example' }] }, [{ type: 32, sa: sa(K.aPx, 257) }]);
  assert.is((await exchange(move, '127.0.0.31')).code, 0);
  assert.is((await ha.call({ cmd: 'stats' })).rx_request ?? 0, haRequests);
  // The first request again: its identification is older than what the proxy accepted.
  assert.is((await exchange(first, '127.0.0.30')).code, 133, 'replay state survived the crash');
  // A second node gets another outer address: nothing is handed out twice.
  const r2 = await exchange(attach('bob@corp.example', '127.1.0.51', K.bHa, K.bPx, '127.0.0.32'), '127.0.0.32');
  assert.is(r2.code, 0);
  assert.ok(r2.homeAddress !== outer, 'a different outer address for another node');
  console.log(`  restart of HA + proxy to serving restored bindings: ${restartMs} ms`);
});

test.run();
