#!/usr/bin/env node
// Builds native/build/Release/roamd_native.node with node-gyp: the package's `install` script
// (so `npm ci` builds it) and `npm run build:native`. Uses the node-gyp that npm bundles
// (npm_config_node_gyp in lifecycle scripts), else one on PATH, else the one next to the global npm.
// Headers: npm's `nodedir` if configured, else /usr/include/node when it is there (Debian's nodejs,
// offline machines), else node-gyp downloads them. Extra arguments go to node-gyp (cross builds:
// `node native/build.mjs --arch=arm64`, see native/README.md).
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (process.platform !== 'linux') {
  console.log('roamd native addon: Linux only, not built on', process.platform);
  process.exit(0);
}

function nodeGyp() {
  const bundled = process.env.npm_config_node_gyp;
  if (bundled && existsSync(bundled)) return [process.execPath, bundled];
  const onPath = spawnSync('node-gyp', ['--version'], { stdio: 'ignore' });
  if (onPath.status === 0) return ['node-gyp'];
  try {
    const root = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
    const js = join(root, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(js)) return [process.execPath, js];
  } catch { /* fall through */ }
  console.error('roamd native addon: node-gyp not found (it ships with npm; or `npm i -g node-gyp`)');
  process.exit(1);
}

const args = ['rebuild', ...process.argv.slice(2)];
const hasNodedir = args.some((a) => a.startsWith('--nodedir')) || process.env.npm_config_nodedir;
if (!hasNodedir && existsSync('/usr/include/node/node_api.h') && existsSync('/usr/include/node/common.gypi')) {
  args.push('--nodedir=/usr');
}
const [cmd, ...pre] = nodeGyp();
const r = spawnSync(cmd, [...pre, ...args], { cwd: here, stdio: 'inherit' });
process.exit(r.status ?? 1);
