/** `roamd decode` from the esbuild bundle, as operators run it on captures. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { internetChecksum } from '../../../src/wire/checksum';

const ROOT = join(__dirname, '..', '..', '..');
const BUNDLE = join(ROOT, 'dist', 'roamd.js');

test.before(() => {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'pipe' });
});

function run(args: string[], input?: string) {
  return spawnSync(process.execPath, [BUNDLE, ...args], { encoding: 'utf8', input, cwd: '/' });
}

const REQUEST = '0102 0708 0a010032 0a010001 c0a80002 e8a1b2c3 00000001 8312616c69636540636f72702e6578616d706c65 2014 00000100 00112233445566778899aabbccddeeff';

test('npm run build gives one bundle that runs from any directory', () => {
  assert.ok(existsSync(BUNDLE));
  assert.ok(statSync(BUNDLE).size > 1000);
  const r = run(['help']);
  assert.is(r.status, 0);
  assert.match(r.stdout, /decode/);
});

test('decodes a registration request given as hex', () => {
  const r = run(['decode', REQUEST]);
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.message, 'registration-request');
  assert.equal(j.flags, ['T']);
  assert.is(j.lifetime, 1800);
  assert.is(j.homeAddress, '10.1.0.50');
  assert.is(j.careOfAddress, '192.168.0.2');
  assert.equal(j.identification, { high: '0xe8a1b2c3', low: '0x00000001' });
  assert.is(j.extensions[0].nai, 'alice@corp.example');
  assert.is(j.extensions[1].spi, 256);
});

test('reads hex from stdin with -', () => {
  const r = run(['decode', '-'], '03 85 0000 0a010032 0a010001 e8a1b2cf 00000002\n');
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.is(j.code, 133);
  assert.match(j.codeName, /Identification mismatch/);
});

test('decodes a whole IPv4 packet carrying an agent solicitation, and catches a bad header checksum', () => {
  // IPv4 header (TTL 1, ICMP, 192.168.0.2 -> 224.0.0.11) then the solicitation.
  const pkt = Buffer.from('4500001c00000000010100 00c0a80002e000000b0a00f5ff00000000'.replace(/ /g, ''), 'hex');
  pkt.writeUInt16BE(internetChecksum(pkt, 0, 20), 10);
  const r = run(['decode', pkt.toString('hex')]);
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.ip.dst, '224.0.0.11');
  assert.is(j.ip.ttl, 1);
  assert.is(j.icmp.message, 'agent-solicitation');
  pkt[10] ^= 0xff;
  const bad = run(['decode', pkt.toString('hex')]);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /ERR_WIRE_CHECKSUM.*offset 10/);
});

test('a malformed input names the offset and the reason and exits non-zero', () => {
  const r = run(['decode', '0100b4']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /ERR_WIRE_TRUNCATED: registration request: needs 24 bytes, 3 left \(at offset 0\)/);
  const bad = run(['decode', '01zz']);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /not a hex digit/);
  const ext = run(['decode', REQUEST.replace('8312', '3212')]);
  assert.is(ext.status, 1);
  assert.match(ext.stderr, /ERR_WIRE_UNKNOWN_EXTENSION.*type 50.*offset 24/);
});

test('usage errors exit 2', () => {
  assert.is(run(['decode']).status, 2);
  assert.is(run(['frobnicate']).status, 2);
  assert.is(run(['decode', '--bogus', '00']).status, 2);
});

test.run();
