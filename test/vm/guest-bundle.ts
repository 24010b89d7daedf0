/**
 * TypeScript from this project, bundled by esbuild on the host for the guest: `node --import tsx`
 * costs seconds per process under TCG, a bundle costs nothing extra. The bundles go into a fresh
 * directory under /tmp (visible in the guest through its overlay of the host root); ROAMD_ROOT tells
 * the bundled code where the project is, since its __dirname is that directory.
 */
import { buildSync } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

export interface GuestBundles {
  dir: string;
  /** Entry file (relative to the project root) → bundled .js path. */
  files: Record<string, string>;
  /** Environment for the guest: ROAMD_ROOT, and ROAMD_PROBE_JS when test/e2e/probe.ts is bundled. */
  env: Record<string, string>;
  remove(): void;
}

/** Bundles each entry (project-relative .ts) into one CommonJS file for node 20. */
export function bundleForGuest(entries: string[]): GuestBundles {
  const dir = mkdtempSync('/tmp/roamd-vm-js-');
  const files: Record<string, string> = {};
  for (const e of entries) {
    const out = join(dir, basename(e).replace(/\.ts$/, '.js'));
    buildSync({
      entryPoints: [join(ROOT, e)], outfile: out, bundle: true, platform: 'node', format: 'cjs', target: 'node20',
      // The native addons and libsodium stay where they are: the bundle requires them from the project.
      external: ['*.node', 'netlink', 'libsodium-wrappers-sumo', 'esbuild', 'tsx'], logLevel: 'error', sourcemap: 'inline',
      // A bundled module shares the entry's `module`: a bench's `require.main === module` main would
      // run inside another entry. Only the entry decides what runs.
      define: { 'require.main': 'null' },
    });
    files[e] = out;
  }
  // NODE_PATH: the externals resolve from the project's node_modules, not from /tmp.
  const env: Record<string, string> = { ROAMD_ROOT: ROOT, NODE_PATH: join(ROOT, 'node_modules'), NODE_OPTIONS: '--enable-source-maps' };
  if (files['test/e2e/probe.ts']) env.ROAMD_PROBE_JS = files['test/e2e/probe.ts'];
  return { dir, files, env, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
