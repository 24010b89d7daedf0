/**
 * Compact binary snapshot of the live table entries, for a restart without losing bindings.
 *
 * Layout (little-endian; docs/tables.md has the byte diagram):
 *   header  24 B  'RMDS' | version u16 | sections u16 | writtenAt f64 (ms) | length u32 | 0 u32
 *   section 16 B  id u8 | 0 u8 | entrySize u16 | count u32 | arg0 u32 | arg1 u32, then entries
 *   trailer  4 B  CRC-32 (IEEE) of every byte before it
 * Only live entries are written; expiries are absolute ms on the tables' clock, so lifetimes keep
 * running while the daemon is down. Pending registrations are not saved (≤ 7 s, RFC 5944 §3.7.1;
 * the mobile node retransmits).
 *
 * Restore validates the whole file (length, magic, version, CRC, every section's bounds, capacities)
 * before touching a table, requires empty tables, and if an entry is still refused while applying
 * (per-node limit, address conflict) it clears every table and throws: never a half restore.
 * `writeSnapshotFile` writes a temp file, fsyncs, renames over the target and fsyncs the directory.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import * as zlib from 'node:zlib';
import { RoamdError } from '../errors';
import { AddressPool, HELD } from './address-pool';
import { BindingTable } from './binding-table';
import { ProxyMap } from './proxy-map';
import { emptyVisitorFields, VisitorTable } from './visitor-table';

export const MAGIC = 0x53444d52; // 'RMDS' read as little-endian u32
export const VERSION = 1;
const HEADER = 24;
const SECTION = 16;
const TRAILER = 4;

export const SEC_BINDINGS = 1;
export const SEC_VISITORS = 2;
export const SEC_PROXY = 3;
export const SEC_HOME_POOL = 4;
export const SEC_OUTER_POOL = 5;
const ENTRY_SIZE: Record<number, number> = { 1: 28, 2: 48, 3: 36, 4: 24, 5: 24 };
const SECTION_NAME: Record<number, string> = { 1: 'bindings', 2: 'visitors', 3: 'proxy', 4: 'home pool', 5: 'outer pool' };

export interface SnapshotTables {
  bindings?: BindingTable;
  visitors?: VisitorTable;
  proxy?: ProxyMap;
  homePool?: AddressPool;
  outerPool?: AddressPool;
}

// ---- CRC-32 (zlib.crc32 exists from Node 20.15; older Node 20 gets the table-driven one) ----
let crcTable: Uint32Array | null = null;
function crc32Fallback(b: Uint8Array): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
const zcrc = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
export function crc32(b: Uint8Array): number {
  return zcrc ? zcrc(b) >>> 0 : crc32Fallback(b);
}
export { crc32Fallback };

function fail(msg: string): never {
  throw new RoamdError('ERR_SNAPSHOT', `snapshot: ${msg}`);
}

// ---- encode ----

export function encodeSnapshot(t: SnapshotTables, now: number): Buffer {
  const secs: { id: number; count: number }[] = [];
  if (t.bindings) secs.push({ id: SEC_BINDINGS, count: t.bindings.size });
  if (t.visitors) secs.push({ id: SEC_VISITORS, count: t.visitors.visitorCount });
  if (t.proxy) secs.push({ id: SEC_PROXY, count: t.proxy.coaCount });
  if (t.homePool) secs.push({ id: SEC_HOME_POOL, count: t.homePool.allocated + t.homePool.held });
  if (t.outerPool) secs.push({ id: SEC_OUTER_POOL, count: t.outerPool.allocated + t.outerPool.held });
  let len = HEADER + TRAILER;
  for (const s of secs) len += SECTION + s.count * ENTRY_SIZE[s.id]!;
  const buf = Buffer.alloc(len);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  v.setUint32(0, MAGIC, true);
  v.setUint16(4, VERSION, true);
  v.setUint16(6, secs.length, true);
  v.setFloat64(8, now, true);
  v.setUint32(16, len, true);
  let o = HEADER;
  const section = (id: number, count: number, a0: number, a1: number): void => {
    v.setUint8(o, id);
    v.setUint16(o + 2, ENTRY_SIZE[id]!, true);
    v.setUint32(o + 4, count, true);
    v.setUint32(o + 8, a0, true);
    v.setUint32(o + 12, a1, true);
    o += SECTION;
  };
  const b = t.bindings;
  if (b) {
    section(SEC_BINDINGS, b.size, 0, 0);
    b.forEach((s) => {
      v.setUint32(o, b.home[s]!, true);
      v.setUint32(o + 4, b.careOf[s]!, true);
      v.setUint32(o + 8, b.identHi[s]!, true);
      v.setUint32(o + 12, b.identLo[s]!, true);
      v.setFloat64(o + 16, b.expiresAt(s), true);
      v.setUint16(o + 24, b.lifetime[s]!, true);
      v.setUint8(o + 26, b.flags[s]!);
      v.setUint8(o + 27, b.mode[s]!);
      o += 28;
    });
  }
  const vt = t.visitors;
  if (vt) {
    section(SEC_VISITORS, vt.visitorCount, 0, 0);
    const c = vt.visitors;
    vt.forEachVisitor((s) => {
      v.setUint32(o, c.home[s]!, true);
      v.setUint32(o + 4, c.macLo[s]!, true);
      v.setUint32(o + 8, c.ipSrc[s]!, true);
      v.setUint32(o + 12, c.ipDst[s]!, true);
      v.setUint32(o + 16, c.homeAgent[s]!, true);
      v.setUint32(o + 20, c.careOf[s]!, true);
      v.setUint32(o + 24, c.identHi[s]!, true);
      v.setUint32(o + 28, c.identLo[s]!, true);
      v.setUint16(o + 32, c.macHi[s]!, true);
      v.setUint16(o + 34, c.udpSrcPort[s]!, true);
      v.setUint16(o + 36, c.lifetime[s]!, true);
      v.setUint8(o + 38, c.flags[s]!);
      v.setFloat64(o + 40, vt.visitorExpiresAt(s), true);
      o += 48;
    });
  }
  const p = t.proxy;
  if (p) {
    section(SEC_PROXY, p.coaCount, 0, 0);
    p.forEachCoa((s) => {
      const nd = p.node[s]!;
      v.setUint32(o, p.home[nd]!, true);
      v.setUint32(o + 4, p.outer[nd]!, true);
      v.setUint32(o + 8, p.careOf[s]!, true);
      v.setUint32(o + 12, p.identHi[s]!, true);
      v.setUint32(o + 16, p.identLo[s]!, true);
      v.setUint16(o + 20, p.port[s]!, true);
      v.setUint16(o + 22, p.lifetime[s]!, true);
      v.setUint8(o + 24, p.tunnel[s]!);
      v.setUint8(o + 25, p.flags[s]!);
      v.setFloat64(o + 28, p.expiresAt(s), true);
      o += 36;
    });
  }
  const pool = (id: number, ap: AddressPool): void => {
    section(id, ap.allocated + ap.held, ap.first, ap.count);
    const entry = (s: number): void => {
      v.setUint32(o, ap.addressOf(s), true);
      v.setUint8(o + 4, ap.state[s]!);
      v.setUint32(o + 8, ap.naiHi[s]!, true);
      v.setUint32(o + 12, ap.naiLo[s]!, true);
      v.setFloat64(o + 16, ap.state[s] === HELD ? ap.heldUntil[s]! : 0, true);
      o += 24;
    };
    for (let s = 0; s < ap.count; s++) if (ap.state[s] === 1) entry(s);
    for (let s = ap.firstHeld(); s !== -1; s = ap.nextHeld(s)) entry(s); // oldest first
  };
  if (t.homePool) pool(SEC_HOME_POOL, t.homePool);
  if (t.outerPool) pool(SEC_OUTER_POOL, t.outerPool);
  if (o !== len - TRAILER) fail(`internal size mismatch ${o} != ${len - TRAILER}`);
  v.setUint32(o, crc32(buf.subarray(0, o)), true);
  return buf;
}

// ---- decode ----

interface SectionRef { id: number; count: number; off: number; a0: number; a1: number }

/** Checks everything that can be checked without modifying a table; returns the sections. */
function validate(buf: Uint8Array, t: SnapshotTables): SectionRef[] {
  if (buf.length < HEADER + TRAILER) fail(`truncated: ${buf.length} bytes`);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (v.getUint32(0, true) !== MAGIC) fail('bad magic (not an RMDS file)');
  const version = v.getUint16(4, true);
  if (version !== VERSION) fail(`unsupported version ${version}`);
  const len = v.getUint32(16, true);
  if (len !== buf.length) fail(`length field ${len} but file has ${buf.length} bytes (truncated or padded)`);
  const end = len - TRAILER;
  if (v.getUint32(end, true) !== crc32(buf.subarray(0, end))) fail('checksum mismatch (corrupt file)');
  const nSec = v.getUint16(6, true);
  const out: SectionRef[] = [];
  const seen = new Set<number>();
  let o = HEADER;
  for (let i = 0; i < nSec; i++) {
    if (o + SECTION > end) fail(`section ${i} header runs past the end`);
    const id = v.getUint8(o), size = v.getUint16(o + 2, true), count = v.getUint32(o + 4, true);
    if (!(id in ENTRY_SIZE)) fail(`unknown section id ${id}`);
    if (seen.has(id)) fail(`duplicate ${SECTION_NAME[id]} section`);
    seen.add(id);
    if (size !== ENTRY_SIZE[id]) fail(`${SECTION_NAME[id]} entry size ${size}, expected ${ENTRY_SIZE[id]}`);
    const body = o + SECTION;
    if (body + count * size > end) fail(`${SECTION_NAME[id]} section runs past the end`);
    out.push({ id, count, off: body, a0: v.getUint32(o + 8, true), a1: v.getUint32(o + 12, true) });
    o = body + count * size;
  }
  if (o !== end) fail(`${end - o} trailing bytes after the last section`);
  for (const s of out) {
    const name = SECTION_NAME[s.id]!;
    const cap = s.id === SEC_BINDINGS ? t.bindings?.capacity
      : s.id === SEC_VISITORS ? t.visitors?.visitorCapacity
      : s.id === SEC_PROXY ? t.proxy?.coaCapacity
      : s.id === SEC_HOME_POOL ? t.homePool?.count : t.outerPool?.count;
    if (cap === undefined) fail(`file has a ${name} section but no such table is configured`);
    if (s.count > cap) fail(`${name}: ${s.count} entries do not fit capacity ${cap}`);
    const pool = s.id === SEC_HOME_POOL ? t.homePool : s.id === SEC_OUTER_POOL ? t.outerPool : undefined;
    if (pool && (s.a0 !== pool.first || s.a1 !== pool.count)) {
      fail(`${name}: saved range ${s.a0}+${s.a1} differs from configured ${pool.first}+${pool.count}`);
    }
  }
  const nonEmpty = (t.bindings?.size ?? 0) + (t.visitors?.visitorCount ?? 0) + (t.visitors?.pendingCount ?? 0) +
    (t.proxy?.coaCount ?? 0) + (t.homePool ? t.homePool.allocated + t.homePool.held : 0) +
    (t.outerPool ? t.outerPool.allocated + t.outerPool.held : 0);
  if (nonEmpty !== 0) fail('restore needs empty tables');
  return out;
}

function clearAll(t: SnapshotTables): void {
  t.bindings?.clear();
  t.visitors?.clear();
  t.proxy?.clear();
  t.homePool?.clear();
  t.outerPool?.clear();
}

/**
 * Restores a snapshot into empty tables (any capacity that fits). Entries already expired at `now`
 * are dropped. Returns the number of entries restored; throws ERR_SNAPSHOT and leaves every table
 * empty on any problem.
 */
export function decodeSnapshot(buf: Uint8Array, t: SnapshotTables, now: number): number {
  const secs = validate(buf, t);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let restored = 0;
  const rec = emptyVisitorFields();
  try {
    for (const s of secs) {
      const name = SECTION_NAME[s.id]!;
      for (let i = 0, o = s.off; i < s.count; i++, o += ENTRY_SIZE[s.id]!) {
        let r = 0;
        if (s.id === SEC_BINDINGS) {
          const exp = v.getFloat64(o + 16, true);
          if (!(exp > now)) continue;
          r = t.bindings!.restore(v.getUint32(o, true), v.getUint32(o + 4, true), v.getUint32(o + 8, true),
            v.getUint32(o + 12, true), v.getUint8(o + 26), v.getUint8(o + 27), v.getUint16(o + 24, true), exp);
        } else if (s.id === SEC_VISITORS) {
          const exp = v.getFloat64(o + 40, true);
          if (!(exp > now)) continue;
          rec.home = v.getUint32(o, true);
          rec.macLo = v.getUint32(o + 4, true);
          rec.ipSrc = v.getUint32(o + 8, true);
          rec.ipDst = v.getUint32(o + 12, true);
          rec.homeAgent = v.getUint32(o + 16, true);
          rec.careOf = v.getUint32(o + 20, true);
          rec.identHi = v.getUint32(o + 24, true);
          rec.identLo = v.getUint32(o + 28, true);
          rec.macHi = v.getUint16(o + 32, true);
          rec.udpSrcPort = v.getUint16(o + 34, true);
          rec.lifetime = v.getUint16(o + 36, true);
          rec.flags = v.getUint8(o + 38);
          if (t.visitors!.findVisitor(rec.home) !== -1) fail(`visitors: duplicate home address ${rec.home}`);
          r = t.visitors!.putVisitor(rec, exp);
        } else if (s.id === SEC_PROXY) {
          const exp = v.getFloat64(o + 28, true);
          if (!(exp > now)) continue;
          r = t.proxy!.restore(v.getUint32(o, true), v.getUint32(o + 4, true), v.getUint32(o + 8, true),
            v.getUint16(o + 20, true), v.getUint8(o + 24), v.getUint8(o + 25), v.getUint32(o + 12, true),
            v.getUint32(o + 16, true), v.getUint16(o + 22, true), exp);
        } else {
          const pool = s.id === SEC_HOME_POOL ? t.homePool! : t.outerPool!;
          const state = v.getUint8(o + 4), addr = v.getUint32(o, true);
          const hi = v.getUint32(o + 8, true), lo = v.getUint32(o + 12, true), until = v.getFloat64(o + 16, true);
          if (state === 1) r = pool.allocateAddress(addr, hi, lo);
          else if (state === HELD) {
            if (!(until > now)) continue;
            r = pool.restoreHeld(addr, hi, lo, until);
          } else fail(`${name}: bad address state ${state}`);
        }
        if (r < 0) fail(`${name}: entry ${i} refused (status ${r}: limit or conflict)`);
        restored++;
      }
    }
  } catch (e) {
    clearAll(t);
    throw e;
  }
  return restored;
}

// ---- files ----

/** Atomic write: temp file in the same directory, fsync, rename, fsync the directory. */
export function writeSnapshotFile(path: string, data: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  let fd = -1;
  try {
    fd = openSync(tmp, 'w', 0o600);
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw new RoamdError('ERR_SNAPSHOT', `snapshot: cannot write ${path}: ${(e as Error).message}`);
  }
  try {
    const dfd = openSync(dirname(path), 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* directory fsync is best effort (not supported everywhere) */ }
}

export function saveSnapshot(path: string, t: SnapshotTables, now: number): number {
  const buf = encodeSnapshot(t, now);
  writeSnapshotFile(path, buf);
  return buf.length;
}

export function loadSnapshot(path: string, t: SnapshotTables, now: number): number {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new RoamdError('ERR_SNAPSHOT', `snapshot: cannot read ${path}: ${(e as Error).message}`);
  }
  return decodeSnapshot(buf, t, now);
}
