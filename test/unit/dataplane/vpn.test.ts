/**
 * The node's VPN control through swanctl (src/dataplane/vpn.ts), against a stand-in swanctl that
 * records its arguments: going home tears the IKE SA down without waiting for the peer's answer.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, readFileSync, chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { VpnControl, parseListSas } from '../../../src/dataplane/vpn';

const RAW = 'list-sa event {vpn {uniqueid=3 state=ESTABLISHED initiator-spi=aa11 responder-spi=bb22 child-sas {net-4 {name=net state=INSTALLED spi-in=c1 spi-out=c2}}}}';

function fakeSwanctl(): { dir: string; bin: string; calls: () => string[][] } {
  const dir = mkdtempSync(join(tmpdir(), 'roamd-swanctl-'));
  const bin = join(dir, 'swanctl');
  writeFileSync(bin, `#!/bin/sh\necho "$*" >> "${dir}/calls"\ncase "$1" in --list-sas) echo '${RAW}';; esac\n`);
  chmodSync(bin, 0o755);
  return { dir, bin, calls: () => readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n').map((l) => l.split(' ')) };
}

test('down(): --terminate --force and no --timeout (charon would wait that long for a DELETE answer that cannot come: the node stayed 2 s between VPN and home)', async () => {
  const f = fakeSwanctl();
  try {
    await new VpnControl({ connection: 'vpn', child: 'net', swanctl: f.bin, uri: 'unix:///x.vici' }).down();
    const term = f.calls().find((c) => c[0] === '--terminate')!;
    assert.ok(term, 'terminate called');
    assert.equal(term.slice(0, 4), ['--terminate', '--ike', 'vpn', '--force']);
    assert.not.ok(term.includes('--timeout'), term.join(' '));
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('up(): an established SA with an installed child is kept (no renegotiation)', async () => {
  const f = fakeSwanctl();
  try {
    const sa = await new VpnControl({ connection: 'vpn', child: 'net', swanctl: f.bin }).up();
    assert.equal({ spi: sa?.ikeSpiI, child: sa?.children[0]?.spiIn }, { spi: 'aa11', child: 'c1' });
    assert.not.ok(f.calls().some((c) => c[0] === '--initiate'));
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('parseListSas: the named connection only', () => {
  assert.is(parseListSas(RAW, 'other'), null);
  assert.is(parseListSas(RAW, 'vpn')?.state, 'ESTABLISHED');
});

test.run();
