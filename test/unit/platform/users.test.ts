import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveRunAs } from '../../../src/platform/users';
import { parseConfigText } from '../../../src/platform/config';

const PASSWD = `root:x:0:0:root:/root:/bin/ash
# a comment line
daemon:*:1:1:daemon:/var:/bin/false
network:x:101:101:network:/var:/bin/false
roamd:x:380:381:roamd:/var/run/roamd:/bin/false
broken:x:notanumber:1::/:/bin/false
`;
const GROUP = `root:x:0:
network:x:101:
roamd:x:381:
netadm:x:500:roamd
`;

const cases: Array<[string, string, string | undefined, unknown]> = [
  ['1. name: its uid and primary group', 'roamd', undefined, { user: 'roamd', uid: 380, gid: 381 }],
  ['2. name and group name', 'roamd', 'netadm', { user: 'roamd', uid: 380, gid: 500 }],
  ['3. uid number of a listed user: its primary group', '101', undefined, { user: '101', uid: 101, gid: 101 }],
  ['4. unlisted uid number needs a group', '4000', undefined, { option: 'group', error: "is required: user '4000' has no primary group in /etc/passwd" }],
  ['5. unlisted uid number with a group number', '4000', '4001', { user: '4000', uid: 4000, gid: 4001 }],
  ['6. unknown name', 'nosuch', undefined, { option: 'user', error: "'nosuch' is not allowed: no such user in /etc/passwd (a name or a number)" }],
  ['7. unknown group name', 'roamd', 'nosuch', { option: 'group', error: "'nosuch' is not allowed: no such group in /etc/group (a name or a number)" }],
  ['8. a line with a non-numeric uid is skipped', 'broken', undefined, { option: 'user', error: "'broken' is not allowed: no such user in /etc/passwd (a name or a number)" }],
  ['9. (uid_t)-1 is refused', '4294967295', '1', { option: 'user', error: "'4294967295' is not allowed: no such user in /etc/passwd (a name or a number)" }],
  ['10. comment lines are not users', '# a comment line', undefined, { option: 'user', error: "'# a comment line' is not allowed: no such user in /etc/passwd (a name or a number)" }],
];
for (const [name, user, group, want] of cases) test(name, () => assert.equal(resolveRunAs(user, group, PASSWD, GROUP), want));

const conf = (opts: string) => `config roamd 'main'\n\toption role 'ha'\n${opts}\nconfig home_agent\n\toption address '10.1.0.1'\n\toption home_network '10.1.0.0/24'\n`;

test('11. config: user and group resolved from this machine\'s /etc/passwd (root is always there)', () => {
  assert.equal(parseConfigText(conf("\toption user 'root'\n\toption group '0'")).main.runAs, { user: 'root', uid: 0, gid: 0 });
  assert.is(parseConfigText(conf('')).main.runAs, undefined);
});

test('12. config: group without user, and an unknown user, are errors naming the option', () => {
  assert.throws(() => parseConfigText(conf("\toption group 'root'")), /option 'group' of section 'main' \(roamd\): needs option user/);
  assert.throws(() => parseConfigText(conf("\toption user 'no-such-user-roamd'")), /option 'user' .*no such user/);
});

test.run();
