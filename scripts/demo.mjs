#!/usr/bin/env node
// `npm run demo`: installs what the demo needs (npm packages, Debian packages through apt when
// run as root), then runs test/e2e/demo.ts. Without root it says so and exits.
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDebianPackages, ensureNodeModules } from './ensure-deps.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.getuid?.() !== 0) {
  console.error('npm run demo needs root: it creates network namespaces and TUN devices and runs strongSwan (try: sudo npm run demo)');
  process.exit(1);
}
ensureNodeModules(root);
const missing = ensureDebianPackages(['strongswan-swanctl', 'charon-systemd', 'libcharon-extra-plugins', 'libstrongswan-extra-plugins', 'iproute2', 'nftables']);
if (missing.length) {
  console.error(`missing Debian packages: ${missing.join(' ')}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test', 'e2e', 'demo.ts')], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
