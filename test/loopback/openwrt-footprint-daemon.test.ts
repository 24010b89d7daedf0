/**
 * The proxy daemon itself (`roamd run` from the bundle, userspace data plane off so no root
 * side effects, the native addon loaded) started with the smallest profile's node flags
 * (targets/router-128m.json, as /etc/init.d/roamd starts it) and brought to a full table: one
 * configured node per outer-pool address, every node bound, restored through the real restart
 * path (snapshot → role import) — then its RSS, which must stay below max_rss_mb.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildBundle, startDaemon, tempDir, ROOT } from '../util/daemon';
import { loadProfile, computeCapacities } from '../../src/tables/profile';
import { loadNative } from '../../src/dataplane/native';

const PROFILE = join(ROOT, 'targets', 'router-128m.json');

test('proxy daemon with a full router-128m table under the profile node flags: RSS below max_rss_mb', async () => {
  buildBundle();
  loadNative(); // the addon must be present: the test below measures the daemon with it loaded
  const profile = JSON.parse(readFileSync(PROFILE, 'utf8'));
  const caps = computeCapacities(loadProfile(PROFILE));
  const nodes = Math.min(caps.outer_pool, caps.proxy_nodes);
  const { dir, cleanup } = tempDir('roamd-footprint-daemon-');
  const first = 0x0a800001; // 10.128.0.1: outer pool
  const ip = (a: number) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  try {
    let conf = `config roamd 'main'
	option role 'proxy'
	list listen '127.0.0.2'
	list listen '127.0.0.3'
	option port '${20000 + ((process.pid + 11) % 20000)}'
	option control_socket '${join(dir, 'proxy.sock')}'
	option profile '${PROFILE}'
	option snapshot '${join(dir, 'proxy.state')}'
	option log_level 'warn'
config proxy
	option outside '127.0.0.2'
	option inside '127.0.0.3'
	option outer_pool '${ip(first)}-${ip(first + nodes - 1)}'
config peer
	option role 'ha'
	option address '127.1.0.1'
	option spi '1000'
	option key '00112233445566778899aabbccddeeff'
`;
    const expires = Date.now() + 3_600_000;
    const records: string[] = [JSON.stringify({ magic: 'roamd-state', version: 1, role: 'proxy', written: new Date().toISOString(), records: nodes })];
    for (let i = 0; i < nodes; i++) {
      const nai = `n${i}@corp.example`;
      conf += `config mobile_node\n\toption nai '${nai}'\n\toption spi '257'\n\toption key '${(i + 1).toString(16).padStart(32, '0')}'\n`;
      const home = 0x0a010000 + i, outer = first + i;
      records.push(JSON.stringify({ nai, outer, homeBinding: { home, ha: 0x7f010001, expiresAt: expires },
        coas: [{ home, careOf: 0xc6336400 + (i & 0xffff), port: 0, tunnel: 0, flags: 0x22, idHi: i, idLo: i, lifetime: 3600, expiresAt: expires, agent: 0, rev: 0 }],
        replay: { primed: true, lastHigh: 1, lastLow: i, nonce: 0 } }));
    }
    writeFileSync(join(dir, 'proxy.state'), records.join('\n') + '\n');
    // startDaemon runs `node dist/roamd.js run`; the profile's node flags go through NODE_OPTIONS.
    process.env.NODE_OPTIONS = profile.node_flags.join(' ');
    const d = await startDaemon('proxy', dir, conf, join(dir, 'proxy.sock'));
    delete process.env.NODE_OPTIONS;
    try {
      const st = await d.call({ cmd: 'status' });
      const rss = Number(readFileSync(`/proc/${d.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)![1]) / 1024;
      console.log(`  roamd proxy (router-128m, ${profile.node_flags.join(' ')}): ${st.nodes} nodes / ${st.bindings} bindings restored, ` +
        `${nodes} configured nodes, RSS ${rss.toFixed(1)} MB (max_rss_mb ${profile.max_rss_mb})`);
      assert.is(st.nodes, nodes, 'every configured node bound (the outer pool is full)');
      assert.is(st.outerPool.free, 0);
      assert.ok(rss < profile.max_rss_mb, `RSS ${rss.toFixed(1)} MB over the ${profile.max_rss_mb} MB budget`);
    } finally {
      await d.stop();
    }
  } finally {
    delete process.env.NODE_OPTIONS;
    cleanup();
  }
});

test.run();
