/** roamd's configuration: every role's file parses; every mistake names file, line, option and what is allowed. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync, mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, loadConfig } from '../../../src/platform/config';
import { RoamdError } from '../../../src/errors';
import { ip } from '../../util/hex';
import { ISSUE_HA_CONFIG } from '../../util/issue-config';

const HA = ISSUE_HA_CONFIG;

test('the home agent example from issue #4 parses to the expected configuration', () => {
  const c = parseConfigText(HA, '/etc/config/roamd');
  assert.is(c.main.role, 'ha');
  assert.equal(c.main.listen, [ip('127.0.0.1')]);
  assert.is(c.main.port, 4434);
  assert.is(c.main.controlSocket, '/tmp/roamd-ha.sock');
  assert.is(c.main.dataplane, 'none');
  if (c.roleConfig.role !== 'ha') throw new Error('role');
  const ha = c.roleConfig.ha;
  assert.is(ha.address, ip('10.1.0.1'));
  assert.equal(ha.homeNetwork, { network: ip('10.1.0.0'), length: 24 });
  assert.is(ha.mobileNodes.length, 1);
  assert.is(ha.mobileNodes[0]!.sa.spi, 256);
  assert.is(ha.mobileNodes[0]!.sa.algorithm, 'hmac-md5');
  assert.not.match(JSON.stringify(c), /00112233445566778899aabbccddeeff/, 'the key never shows in a dump of the config');
});

const ERRORS: Array<[string, string, RegExp]> = [
  ['bad port', HA.replace("'4434'", "'99999'"), /<f>:4: option 'port' of section 'main' \(roamd\): '99999' is not allowed: an integer 1\.\.65535/],
  ['unknown role', HA.replace("'ha'", "'router'"), /<f>:2: option 'role' .*'router' is not allowed: one of ha, fa, proxy, mn/],
  ['bad address', HA.replace("'10.1.0.1'", "'10.1.0.300'"), /<f>:9: option 'address' of section '@home_agent\[0\]' \(home_agent\): '10\.1\.0\.300' is not allowed: an IPv4 address/],
  ['prefix with host bits', HA.replace("'10.1.0.0/24'", "'10.1.0.5/24'"), /<f>:10: option 'home_network'.*host bits set/],
  ['short key', HA.replace("'00112233445566778899aabbccddeeff'", "'001'"), /<f>:17: option 'key'.*even number of hex digits/],
  ['reserved SPI', HA.replace("'256'", "'255'"), /<f>:15: option 'spi'.*an integer 256\.\.4294967295/],
  ['unknown algorithm', HA.replace("'hmac-md5'", "'md4'"), /<f>:16: option 'algorithm'.*one of hmac-md5, hmac-sha256, blake2b/],
  ['typo in an option name', HA.replace("option replay ", "option replya "), /<f>:18: option 'replya' .*is not a known option/],
  ['unknown section type', HA + "\nconfig bogus\n\toption a 'b'\n", /<f>:20: section type 'bogus' is not used by this role/],
  ['missing home agent section', HA.split('config home_agent')[0]!, /a 'config home_agent' section is required/],
  ['dynamic node without NAI', HA.replace("\toption nai 'alice@corp.example'\n", '').replace("\toption home_address '10.1.0.50'\n", ''), /option 'nai' .*is required when home_address is not set/],
  ['bad boolean', HA.replace("option home_network '10.1.0.0/24'", "option home_network '10.1.0.0/24'\n\toption revocation 'maybe'"), /option 'revocation'.*'maybe' is not allowed: a boolean/],
  ['UCI syntax error', HA.replace("option port '4434'", "option port '4434"), /<f>:\d+: .*unterminated/],
  ['no roamd section', "config home_agent\n\toption address '10.1.0.1'\n", /a 'config roamd' section is required/],
];
ERRORS.forEach(([name, text, re], i) => {
  test(`config error #${i + 1}: ${name}`, () => {
    try {
      parseConfigText(text, '<f>');
    } catch (e) {
      assert.instance(e, RoamdError);
      assert.is((e as RoamdError).code, 'ERR_CONFIG_INVALID');
      assert.match((e as Error).message, re);
      assert.not.match((e as Error).message, /00112233445566778899aabbccddeeff/);
      return;
    }
    assert.unreachable('parsed');
  });
});

test('proxy, foreign agent and mobile node files parse', () => {
  const proxy = parseConfigText(`config roamd 'main'
	option role 'proxy'
config proxy
	option outside '203.0.113.2'
	option inside '10.1.0.2'
	option outer_pool '198.18.0.0/24'
config mobile_node
	option nai 'alice@corp.example'
	option spi '257'
	option key '0011'
config peer
	option role 'ha'
	option address '10.1.0.1'
	option spi '1000'
	option key '2233'
`);
  assert.equal(proxy.outerPool, { first: ip('198.18.0.1'), count: 254 });
  assert.equal(proxy.main.listen, [ip('203.0.113.2'), ip('10.1.0.2')]);
  const fa = parseConfigText(`config roamd
	option role 'fa'
config foreign_agent
	option advertise_interval '3'
	option reverse_tunnel 'required'
config interface
	option ifname 'wlan0'
	option address '192.0.2.1/24'
`);
  if (fa.roleConfig.role !== 'fa') throw new Error('role');
  assert.equal(fa.roleConfig.fa.interfaces, [{ ifname: 'wlan0', address: ip('192.0.2.1'), prefixLength: 24 }]);
  assert.is(fa.roleConfig.fa.reverseTunnel, 'required');
  const mn = parseConfigText(`config roamd
	option role 'mn'
config mobile
	option nai 'alice@corp.example'
	option home_address '10.1.0.50'
	option home_agent '10.1.0.1'
	option home_network '10.1.0.0/24'
	option spi '256'
	option key '0011'
	option proxy_outside '203.0.113.2'
	option proxy_inside '10.1.0.2'
	option proxy_spi '257'
	option proxy_key '2233'
config interface
	option ifname 'eth0'
	option preference '30'
config interface
	option ifname 'wlan0'
	option preference '20'
`);
  if (mn.roleConfig.role !== 'mn') throw new Error('role');
  assert.is(mn.roleConfig.mn.proxy!.sa.spi, 257);
  assert.equal(mn.roleConfig.mn.interfaces, [{ ifname: 'eth0', preference: 30 }, { ifname: 'wlan0', preference: 20 }]);
  assert.equal({ s: mn.roleConfig.mn.simultaneousBindings, standby: mn.roleConfig.mn.standbyBindings }, { s: true, standby: false }, 'defaults');
  const sb = parseConfigText(`config roamd
	option role 'mn'
config mobile
	option nai 'alice@corp.example'
	option home_agent '10.1.0.1'
	option home_network '10.1.0.0/24'
	option spi '256'
	option key '0011'
	option standby_bindings '1'
config interface
	option ifname 'eth0'
`);
  assert.is(sb.roleConfig.role === 'mn' && sb.roleConfig.mn.standbyBindings, true);
  assert.throws(() => parseConfigText(`config roamd
	option role 'mn'
config mobile
	option nai 'a@b'
	option home_agent '10.1.0.1'
	option home_network '10.1.0.0/24'
	option spi '256'
	option key '0011'
	option standby_bindings 'sometimes'
config interface
	option ifname 'eth0'
`), /standby_bindings/);
});

test('keys can come from a file readable by its owner only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'roamd-key-'));
  try {
    const key = join(dir, 'alice.key');
    writeFileSync(key, '00112233445566778899aabbccddeeff\n');
    chmodSync(key, 0o600);
    const file = join(dir, 'roamd');
    writeFileSync(file, HA.replace("option key '00112233445566778899aabbccddeeff'", `option key_file '${key}'`));
    const c = loadConfig(file);
    assert.is(c.roleConfig.role === 'ha' && c.roleConfig.ha.mobileNodes[0]!.sa.spi, 256);
    chmodSync(key, 0o644);
    assert.throws(() => loadConfig(file), (e: Error) => /mode 644: keys must not be accessible by group or others/.test(e.message) && !e.message.includes('001122'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
