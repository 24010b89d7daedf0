/**
 * External tools of the interop lane: tshark (Debian package `tshark`) and scapy (Debian package
 * `python3-scapy`, importable only by the system interpreter /usr/bin/python3, not by a pyenv
 * python3 earlier on PATH). A missing tool is a failure with a message saying what to install,
 * never a skip: test/run.mjs installs both for this lane.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const TSHARK = process.env.ROAMD_TSHARK ?? '/usr/bin/tshark';
export const SYSTEM_PYTHON = process.env.ROAMD_SCAPY_PYTHON ?? '/usr/bin/python3';

/** Throws a clear error unless tshark runs; returns its version line ("TShark (Wireshark) 4.0.17 ..."). */
export function requireTshark(): string {
  if (!existsSync(TSHARK)) throw new Error(`interop lane: ${TSHARK} not found; install the Debian package 'tshark' (apt-get install tshark)`);
  const r = spawnSync(TSHARK, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`interop lane: '${TSHARK} --version' failed (exit ${r.status}): ${r.stderr}`);
  return r.stdout.split('\n')[0]!.trim();
}

/** Throws a clear error unless /usr/bin/python3 can import scapy; returns scapy's version. */
export function requireScapy(): string {
  if (!existsSync(SYSTEM_PYTHON)) throw new Error(`interop lane: ${SYSTEM_PYTHON} not found; install the Debian packages 'python3' and 'python3-scapy'`);
  const r = spawnSync(SYSTEM_PYTHON, ['-c', 'import scapy; print(scapy.VERSION)'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`interop lane: ${SYSTEM_PYTHON} cannot import scapy; install the Debian package 'python3-scapy' (apt-get install python3-scapy): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** Dotted quad to uint32 (tests only: plain, no validation beyond the shape). */
export function ip(text: string): number {
  const p = text.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad IPv4 address '${text}'`);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** All values of every field in a tshark JSON layer tree, by field name, in tree order. */
export type FieldMap = Map<string, string[]>;

function collect(node: unknown, out: FieldMap): void {
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (typeof v === 'string') {
        // Subtree labels ("Extension: ..._tree") are keys too; only leaf values are recorded.
        const list = out.get(key);
        if (list) list.push(v);
        else out.set(key, [v]);
      } else {
        // A subtree object is recorded by presence (empty value) so `_ws.malformed` is visible.
        if (!out.has(key)) out.set(key, []);
        collect(v, out);
      }
    }
  }
}

/**
 * Runs `tshark -r pcap -T json` with the given `-o` preferences and returns one FieldMap per
 * frame. Stderr is ignored unless tshark fails (it warns when run as root).
 */
export function dissect(pcapPath: string, prefs: readonly string[] = []): FieldMap[] {
  const args = ['-n', '-r', pcapPath, '-T', 'json', '--no-duplicate-keys'];
  for (const p of prefs) args.push('-o', p);
  const r = spawnSync(TSHARK, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`tshark exited ${r.status}: ${r.stderr}`);
  const frames = JSON.parse(r.stdout) as Array<{ _source: { layers: unknown } }>;
  return frames.map((f) => {
    const m: FieldMap = new Map();
    collect(f._source.layers, m);
    return m;
  });
}
