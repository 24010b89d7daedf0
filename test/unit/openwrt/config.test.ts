/**
 * openwrt/files/roamd.config, the default /etc/config/roamd: as shipped (foreign agent) and with
 * each role's commented block enabled the way its header tells users to, it must be accepted by
 * the daemon's parser. Placeholder keys ('CHANGE-ME…') must be refused, so a default key can never
 * go live; with the placeholder removed the key is the hex that follows.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText, Role } from '../../../src/platform/config';

const FILE = join(__dirname, '..', '..', '..', 'openwrt', 'files', 'roamd.config');
const TEXT = readFileSync(FILE, 'utf8');

/** Enables the block of `role`: uncomments its config/option lines, comments out the others'. */
function forRole(text: string, role: Role): string {
  let block = '';
  return text.split('\n').map((line) => {
    const h = /^# ---- (\w+):/.exec(line);
    if (h) {
      block = h[1]!;
      return line;
    }
    if (block === '') return line.replace(/^(\toption role )'\w+'/, `$1'${role}'`);
    if (block === role) return line.replace(/^#(?=config |\t|$)/, '');
    return /^(config |\t)/.test(line) ? `#${line}` : line;
  }).join('\n');
}

test('the shipped file is a foreign agent on br-lan', () => {
  const c = parseConfigText(TEXT, FILE);
  assert.is(c.main.role, 'fa');
  assert.is(c.main.port, 434);
  assert.is(c.main.profile, 'router-128m');
  assert.is(c.roleConfig.role === 'fa' && c.roleConfig.fa.interfaces[0]!.ifname, 'br-lan');
});

test('every role has a block', () => {
  for (const role of ['fa', 'ha', 'proxy', 'mn']) assert.match(TEXT, new RegExp(`^# ---- ${role}:`, 'm'));
});

for (const role of ['fa', 'ha', 'proxy', 'mn'] as Role[]) {
  test(`role ${role}: placeholder keys are refused`, () => {
    const text = forRole(TEXT, role);
    const active = /^\toption (proxy_)?key 'CHANGE-ME/m.test(text);
    assert.is(active, role !== 'fa', 'ha, proxy and mn examples hold keys; the fa default holds none');
    if (active) assert.throws(() => parseConfigText(text, FILE), /key/);
  });
  test(`role ${role}: the example parses once keys are set`, () => {
    const text = forRole(TEXT, role).replace(/CHANGE-ME/g, '');
    const c = parseConfigText(text, FILE);
    assert.is(c.main.role, role);
    assert.is(c.roleConfig.role, role);
  });
}

test('the role blocks are really different configurations', () => {
  const mn = parseConfigText(forRole(TEXT, 'mn').replace(/CHANGE-ME/g, ''), FILE);
  assert.ok(mn.roleConfig.role === 'mn' && mn.roleConfig.mn.interfaces.length === 3);
  const proxy = parseConfigText(forRole(TEXT, 'proxy').replace(/CHANGE-ME/g, ''), FILE);
  assert.is(proxy.outerPool?.count, 126);
});

test.run();
