#!/usr/bin/env node
// The one test command (`npm test`): runs every lane that exists under test/, each as one uvu
// process, and ends with the line `N passed, N failed` summed over all lanes.
// Lanes that need Debian packages install them through apt when run as root, or say what is missing
// (and count as failed: a lane is never silently skipped, except where a lane says so itself).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDebianPackages, ensureNodeModules } from '../scripts/ensure-deps.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

// Order matters only for readability of the log: fast lanes first.
// The e2e world (test/e2e/world.ts): strongSwan, iproute2, nftables, iperf3. The VM lane runs it in the guest from this root.
const WORLD = ['strongswan-swanctl', 'charon-systemd', 'libcharon-extra-plugins', 'libstrongswan-extra-plugins', 'iproute2', 'nftables', 'iperf3', 'procps'];
const LANES = [
  { name: 'unit', packages: [] },
  { name: 'interop', packages: ['tshark', 'python3-scapy'] },
  { name: 'loopback', packages: ['python3-scapy'] },
  { name: 'reliability', packages: [] },
  { name: 'e2e', packages: WORLD },
  // Optional: without qemu and Debian's kernel the lane is skipped, visibly (issue 7).
  { name: 'vm', packages: ['qemu-system-x86', 'linux-image-amd64', 'busybox-static', ...WORLD], optional: true },
];

function hasTests(dir) {
  if (!existsSync(dir)) return false;
  return readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('.test.ts'));
}

const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
if (process.argv.includes('--print-packages')) {
  // One list of Debian packages for CI and for people: every lane's needs.
  console.log([...new Set(LANES.filter((l) => hasTests(join('test', l.name))).flatMap((l) => l.packages))].join(' '));
  process.exit(0);
}
ensureNodeModules(root);

let passed = 0, failed = 0, skipped = 0;
const summary = [];
for (const lane of LANES) {
  const dir = join('test', lane.name);
  if (!hasTests(dir)) continue;
  if (only.length && !only.includes(lane.name)) continue;
  const missing = ensureDebianPackages(lane.packages);
  if (missing.length && lane.optional) {
    console.log(`\n=== lane ${lane.name}: SKIPPED (missing Debian packages: ${missing.join(' ')}) ===`);
    skipped += 1;
    summary.push(`${lane.name}: skipped (missing ${missing.join(' ')})`);
    continue;
  }
  if (missing.length) {
    console.error(`lane ${lane.name}: missing Debian packages: ${missing.join(' ')} (run as root with apt, or install them)`);
    failed += 1;
    summary.push(`${lane.name}: not run (missing ${missing.join(' ')})`);
    continue;
  }
  console.log(`\n=== lane ${lane.name} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', dir, '\\.test\\.ts$'], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ROAMD_TEST_LANE: lane.name },
  });
  process.stdout.write(r.stdout ?? '');
  const num = (label) => {
    const m = new RegExp(`${label}:\\s+(\\d+)`).exec(r.stdout ?? '');
    return m ? Number(m[1]) : null;
  };
  const total = num('Total'), ok = num('Passed'), skip = num('Skipped') ?? 0;
  if (total === null || ok === null) {
    // The lane crashed before uvu could print totals: count it as one failure.
    failed += 1;
    summary.push(`${lane.name}: crashed (exit ${r.status ?? r.signal})`);
    continue;
  }
  let bad = total - ok - skip;
  if (r.status !== 0 && bad === 0) bad = 1; // a failing exit with no failed test is still a failure
  passed += ok; failed += bad; skipped += skip;
  summary.push(`${lane.name}: ${ok} passed, ${bad} failed${skip ? `, ${skip} skipped` : ''}`);
}
console.log('\n' + summary.join('\n'));
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
