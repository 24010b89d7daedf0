/**
 * openwrt/files/roamd.init run in a plain POSIX sh with OpenWrt's helpers faked only where Debian
 * has none (fakes/: functions.sh config helpers, procd.sh procd and json calls, network.sh, validate_data,
 * jsonfilter). The UCI state the fakes serve comes from our own UCI parser. Checks the procd
 * message the script builds: command line with the profile's node flags, respawn, limits, env,
 * firewall data, triggers, validation; reload = SIGHUP; bad values stop the start.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseUci } from '../../../src/platform/uci';
import { parseConfigText } from '../../../src/platform/config';

const ROOT = join(__dirname, '..', '..', '..');
const INIT = join(ROOT, 'openwrt', 'files', 'roamd.init');
const FAKES = join(__dirname, 'fakes');

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** UCI text → the fakes' state: <pkg>.sh (CONFIG_* variables, as config_load sets) and <pkg>.json. */
function writeUci(dir: string, pkg: string, text: string): void {
  const p = parseUci(text, pkg);
  const sections = p.sections.map((s, i) => ({
    name: s.anonymous ? `cfg${(i + 1).toString(16).padStart(2, '0')}abcd` : s.name,
    type: s.type,
    options: Object.fromEntries([...s.options.values()].map((o) => [o.name, o.value])),
  }));
  const sh = sections.map((s) => [
    `CONFIG_SECTIONS="\${CONFIG_SECTIONS} ${s.name}"`,
    `CONFIG_${s.name}_TYPE=${shq(s.type)}`,
    ...Object.entries(s.options).map(([k, v]) => `CONFIG_${s.name}_${k}=${shq(Array.isArray(v) ? v.join(' ') : v)}`),
  ].join('\n')).join('\n');
  writeFileSync(join(dir, `${pkg}.sh`), sh + '\n');
  writeFileSync(join(dir, `${pkg}.json`), JSON.stringify({ sections }));
}

interface Run { rc: string; stderr: string; instance: any; triggers: string[][]; validate: any[]; calls: string[][] }

/** Rebuilds what procd would receive from the recorded procd_* / json_* calls. */
function rebuild(log: string): Omit<Run, 'rc' | 'stderr'> {
  const calls = log.split('\n').filter(Boolean).map((l) => l.split('\t'));
  let instance: any = null;
  const triggers: string[][] = [];
  const validate: any[] = [];
  const stack: any[] = [];
  let inValidate = false;
  const add = (key: string, v: any) => {
    const top = stack[stack.length - 1];
    if (Array.isArray(top)) top.push(v);
    else top[key] = v;
  };
  for (const [fn, ...a] of calls) {
    switch (fn) {
      case 'procd_open_instance': instance = { name: a[0] }; stack.push(instance); break;
      case 'procd_close_instance': stack.pop(); break;
      case 'procd_set_param':
        instance[a[0]!] = a[0] === 'limits' || a[0] === 'env'
          ? Object.fromEntries(a.slice(1).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
          : a.slice(1);
        break;
      case 'procd_open_data': instance.data = {}; stack.push(instance.data); break;
      case 'procd_close_data': stack.pop(); break;
      case 'procd_open_validate': inValidate = true; stack.push(validate); break;
      case 'procd_close_validate': inValidate = false; stack.pop(); break;
      case 'json_add_array': { const v: any[] = []; add(a[0]!, v); stack.push(v); break; }
      case 'json_add_object': { const v = {}; add(a[0]!, v); stack.push(v); break; }
      case 'json_close_array': case 'json_close_object': stack.pop(); break;
      case 'json_add_string': case 'json_add_int': case 'json_add_boolean': add(a[0]!, a[1]); break;
      default:
        if (fn!.startsWith('procd_add_') && fn!.endsWith('trigger')) triggers.push([fn!, ...a]);
    }
  }
  assert.not(inValidate, 'validation block closed');
  return { instance, triggers, validate, calls };
}

function run(configText: string, script: string, netifd = ''): Run {
  const dir = mkdtempSync(join(tmpdir(), 'roamd-init-'));
  try {
    writeUci(dir, 'roamd', configText);
    writeUci(dir, 'network', `config interface 'loopback'\n\toption device 'lo'\n\nconfig interface 'lan'\n\toption device 'br-lan'\n\nconfig interface 'wan'\n\toption device 'eth1'\n`);
    writeFileSync(join(dir, 'netifd.sh'), netifd);
    const log = join(dir, 'calls.log');
    writeFileSync(log, '');
    const r = spawnSync('sh', ['-c', `. "$IPKG_INSTROOT/lib/functions.sh"; . "$IPKG_INSTROOT/lib/functions/procd.sh"; . ${shq(INIT)}; ${script}`], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${join(FAKES, 'bin')}:${process.env.PATH}`, IPKG_INSTROOT: FAKES, FAKE_UCI: dir, FAKE_LOG: log, ROAMD_LIB: ROOT },
    });
    assert.is(r.error, undefined);
    const rc = /rc=(\d+)/.exec(r.stdout)?.[1] ?? '?';
    return { rc, stderr: r.stderr, ...rebuild(readFileSync(log, 'utf8')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const profile = (name: string) => JSON.parse(readFileSync(join(ROOT, 'targets', `${name}.json`), 'utf8'));
const DEFAULT = readFileSync(join(ROOT, 'openwrt', 'files', 'roamd.config'), 'utf8');

test('shipped config (fa): command line with the profile node flags, respawn, limits, env', () => {
  const r = run(DEFAULT, 'start_service; echo rc=$?');
  assert.is(r.rc, '0', r.stderr);
  const p = profile('router-128m');
  assert.equal(r.instance.command, ['/usr/bin/node', ...p.node_flags, `${ROOT}/dist/roamd.js`, 'run', '--config', '/etc/config/roamd']);
  assert.ok(r.instance.command.includes('--max-old-space-size=48'));
  assert.equal(r.instance.respawn, ['3600', '5', '5']);
  assert.equal(r.instance.limits, { core: '0 0', nofile: '1024 4096' });
  assert.equal(r.instance.env, { ROAMD_MAX_RSS_MB: String(p.max_rss_mb) });
  assert.equal(r.instance.term_timeout, ['5']);
  assert.equal(r.instance.stdout, ['1']);
});

test('shipped config (fa): firewall data opens UDP 434 and IP-in-IP to the care-of address', () => {
  const r = run(DEFAULT, 'start_service; echo rc=$?');
  assert.equal(r.instance.data.firewall, [
    { type: 'rule', name: 'roamd-udp-434-192.168.1.1', src: '*', family: 'ipv4', proto: 'udp', dest_port: '434', dest_ip: '192.168.1.1', target: 'ACCEPT' },
    { type: 'rule', name: 'roamd-4-192.168.1.1', src: '*', family: 'ipv4', proto: '4', dest_ip: '192.168.1.1', target: 'ACCEPT' },
  ]);
});

test('service_triggers: config reload trigger, interface trigger for the netifd interface owning br-lan, validation', () => {
  const r = run(DEFAULT, 'service_triggers; echo rc=$?', "NETIFD_lan_device='br-lan'\nNETIFD_lan_ipaddrs='192.168.1.1'\nNETIFD_wan_device='eth1'\nNETIFD_wan_ipaddrs='198.51.100.7'\n");
  assert.is(r.rc, '0', r.stderr);
  assert.equal(r.triggers, [
    ['procd_add_reload_trigger', 'roamd'],
    ['procd_add_interface_trigger', 'interface.*', 'lan', '/etc/init.d/roamd', 'reload'],
  ]);
  const main = r.validate.find((v) => v.type === 'roamd');
  assert.is(main.package, 'roamd');
  assert.is(main.data.role, 'or("ha","fa","proxy","mn")');
  assert.is(main.data.port, 'port');
  assert.is(main.data.listen, 'list(ip4addr)');
  assert.is(main.data.rate_limit, 'range(0,1000000)', 'rate_limit validated like the daemon (0 to 1 000 000)');
  assert.equal(r.validate.map((v) => v.type), ['roamd', 'home_agent', 'proxy', 'foreign_agent', 'mobile', 'interface', 'peer', 'mobile_node']);
});

test('service_triggers: no interface up with our addresses yet → reload on any interface up', () => {
  const r = run(DEFAULT, 'service_triggers; echo rc=$?', "NETIFD_wan_device='eth1'\n");
  assert.equal(r.triggers[1], ['procd_add_raw_trigger', 'interface.*.up', '2000', '/etc/init.d/roamd', 'reload']);
});

test('reload_service sends SIGHUP to the instance, nothing else (no restart)', () => {
  const r = run(DEFAULT, 'reload_service; echo rc=$?');
  assert.equal(r.calls, [['procd_send_signal', 'roamd', '*', 'HUP']]);
});

const PROXY = `config roamd 'main'
	option role 'proxy'
	option port '4434'
	option profile 'router-512m'

config proxy
	option outside '203.0.113.2'
	option inside '10.1.255.2'
	option outer_pool '203.0.113.128/25'

config mobile_node
	option nai 'alice@corp.example'
	option spi '257'
	option key '00112233445566778899aabbccddeeff'

config peer
	option role 'ha'
	option address '10.1.0.1'
	option spi '1000'
	option key 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0'
`;

test('proxy: port option, both addresses in the firewall data, the named profile\'s flags', () => {
  const r = run(PROXY, 'start_service; echo rc=$?');
  assert.is(r.rc, '0', r.stderr);
  assert.ok(r.instance.command.includes('--max-old-space-size=160'));
  const fw = r.instance.data.firewall.map((x: any) => `${x.proto}/${x.dest_port ?? ''}/${x.dest_ip}`);
  assert.equal(fw, ['udp/4434/203.0.113.2', '4//203.0.113.2', 'udp/4434/10.1.255.2', '4//10.1.255.2']);
  assert.equal(r.instance.env, { ROAMD_MAX_RSS_MB: '256' });
});

test('mn: no UDP listener to open, only IP-in-IP', () => {
  const mn = `config roamd\n\toption role 'mn'\n\nconfig mobile\n\toption nai 'a@b'\n\toption home_agent '10.1.0.1'\n\toption home_network '10.1.0.0/24'\n\toption spi '256'\n\toption key '00112233445566778899aabbccddeeff'\n\nconfig interface\n\toption ifname 'wan'\n`;
  const r = run(mn, 'start_service; echo rc=$?');
  assert.is(r.rc, '0', r.stderr);
  assert.equal(r.instance.data.firewall.map((x: any) => x.proto), ['4']);
  assert.is(r.instance.data.firewall[0].dest_ip, undefined);
  assert.ok(r.instance.command.includes('--max-old-space-size=48'), 'mn defaults to router-128m');
});

const BAD: [string, string, RegExp][] = [
  ['port out of range', DEFAULT.replace("option port '434'", "option port '99999'"), /port=99999/],
  ['unknown role', DEFAULT.replace("option role 'fa'", "option role 'router'"), /role=router/],
  ['bad care-of prefix', DEFAULT.replace("'192.168.1.1/24'", "'192.168.1.1/40'"), /address=192\.168\.1\.1\/40/],
  ['bad boolean', DEFAULT.replace("option revocation '1'", "option revocation 'maybe'"), /revocation=maybe/],
  ['bad SA key', PROXY.replace("'00112233445566778899aabbccddeeff'", "'xyz'"), /key=xyz/],
  ['reserved SPI', PROXY.replace("option spi '257'", "option spi '12'"), /spi=12/],
];
for (const [i, [name, text, why]] of BAD.entries()) {
  test(`validation #${i + 1} (${name}): not started, the bad value named; the daemon refuses it too`, () => {
    const r = run(text, 'start_service; echo rc=$?');
    assert.is(r.rc, '1');
    assert.is(r.instance, null, 'no procd instance opened');
    assert.match(r.stderr, why);
    assert.match(r.stderr, /not starting/);
    assert.throws(() => parseConfigText(text));
  });
}

test('fakes exist only where Debian has no real tool', () => {
  for (const tool of ['validate_data', 'jsonfilter']) {
    assert.is(spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0 || !existsSync(`/sbin/${tool}`), true);
  }
  assert.not(existsSync('/lib/functions.sh'), 'Debian has no /lib/functions.sh: the fake is needed');
});

test.run();
