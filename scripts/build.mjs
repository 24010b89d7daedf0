// Builds dist/roamd.js: one minified CommonJS bundle for Node 20 and 22 (the versions OpenWrt ships).
// Native addons and libsodium (1.6 MB of WASM, loaded only when an SA uses SHA-256 or BLAKE2b)
// stay outside the bundle and ship beside it in node_modules.
import { build } from 'esbuild';
import { statSync } from 'node:fs';

const external = ['libsodium-wrappers-sumo', 'netlink', '*.node'];
await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/roamd.js',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: ['node20', 'node22'],
  minify: process.argv.includes('--no-minify') ? false : true,
  sourcemap: false,
  legalComments: 'none',
  banner: { js: '#!/usr/bin/env node' },
  external,
  logLevel: 'warning',
});
console.log(`dist/roamd.js ${statSync('dist/roamd.js').size} bytes`);
