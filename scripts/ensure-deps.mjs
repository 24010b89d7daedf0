// Installs what the tests and the demo need on a fresh Debian machine: npm packages (npm ci when
// node_modules is missing) and Debian packages through apt when running as root. Returns or reports
// what could not be installed instead of failing later with an obscure error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export function ensureNodeModules(root) {
  if (existsSync(join(root, 'node_modules', '.package-lock.json'))) return;
  console.log('installing npm packages (npm ci)');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('npm ci failed: run it by hand and look at its output');
    process.exit(1);
  }
}

function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

let updated = false;
/** Installs the missing packages when root; returns the ones still missing. */
export function ensureDebianPackages(pkgs) {
  let missing = pkgs.filter((p) => !installed(p));
  if (!missing.length) return [];
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return missing;
  console.log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!updated) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    updated = true;
  }
  spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  return missing.filter((p) => !installed(p));
}
