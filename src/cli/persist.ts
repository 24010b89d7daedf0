/**
 * Restart without losing bindings (issue #9): the daemon's state store. A snapshot file holds one
 * JSON record per node (the role's own export: bindings with absolute expiry times, replay state,
 * address-pool ownership); a journal beside it (`FILE.journal`) gets the record of every node whose
 * bindings change, appended *before* the reply that acknowledges the change is sent. A process
 * crash (kill -9) loses nothing acknowledged: the journal is in the page cache as soon as write(2)
 * returns. Every `compactEveryMs` the snapshot is rewritten atomically (temp file, fsync, rename)
 * and the journal truncated. On start-up: snapshot, then journal, each record replacing the
 * node's state; expired bindings are dropped.
 *
 * Bounds: one record per node in the snapshot; the journal grows by one record per binding change
 * between compactions.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { RoamdError } from '../errors';

const MAGIC = 'roamd-state';
const VERSION = 1;

export interface LoadedState { records: unknown[]; snapshotRecords: number; journalRecords: number; corrupt: number }

export class StateStore {
  readonly journal: string;
  /** The journal, open for appending from the first append on (not reopened per registration). */
  private fd = -1;

  constructor(readonly path: string, readonly role: string) {
    this.journal = `${path}.journal`;
  }

  /** Reads the snapshot and the journal; a damaged journal line (torn last write) is skipped and counted. */
  load(): LoadedState {
    const out: LoadedState = { records: [], snapshotRecords: 0, journalRecords: 0, corrupt: 0 };
    if (existsSync(this.path)) {
      const lines = readFileSync(this.path, 'utf8').split('\n').filter(Boolean);
      let header: { magic?: string; version?: number; role?: string };
      try {
        header = JSON.parse(lines[0] ?? '{}');
      } catch {
        header = {};
      }
      if (header.magic !== MAGIC || header.version !== VERSION) throw new RoamdError('ERR_SNAPSHOT', `${this.path} is not a roamd state snapshot (version ${VERSION})`);
      if (header.role !== this.role) throw new RoamdError('ERR_SNAPSHOT', `${this.path} holds the state of role '${header.role}', not '${this.role}'`);
      for (const l of lines.slice(1)) {
        out.records.push(JSON.parse(l));
        out.snapshotRecords++;
      }
    }
    if (existsSync(this.journal)) {
      for (const l of readFileSync(this.journal, 'utf8').split('\n')) {
        if (!l) continue;
        try {
          const r = JSON.parse(l) as { role?: string; rec?: unknown };
          if (r.role === this.role) {
            out.records.push(r.rec);
            out.journalRecords++;
          }
        } catch {
          out.corrupt++;
        }
      }
    }
    return out;
  }

  /** Appends records before the acknowledgement leaves (write(2) completes before this returns). */
  append(records: unknown[]): void {
    if (!records.length) return;
    let text = '';
    for (const rec of records) text += JSON.stringify({ role: this.role, rec }) + '\n';
    if (this.fd < 0) this.fd = openSync(this.journal, 'a', 0o600);
    const buf = Buffer.from(text);
    for (let off = 0; off < buf.length;) off += writeSync(this.fd, buf, off);
  }

  /**
   * Rewrites the snapshot from the full state (a record at a time: no copy of the whole state in
   * memory) atomically — temp file, fsync, rename — and empties the journal.
   */
  compact(records: unknown[]): void {
    const tmp = `${this.path}.tmp-${process.pid}`;
    let fd = -1;
    try {
      fd = openSync(tmp, 'w', 0o600);
      writeSync(fd, JSON.stringify({ magic: MAGIC, version: VERSION, role: this.role, written: new Date().toISOString(), records: records.length }) + '\n');
      for (const r of records) writeSync(fd, JSON.stringify(r) + '\n');
      fsyncSync(fd);
      closeSync(fd);
      fd = -1;
      renameSync(tmp, this.path);
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
      throw new RoamdError('ERR_SNAPSHOT', `cannot write ${this.path}: ${(e as Error).message}`);
    }
    // The open descriptor appends (O_APPEND), so after the truncation it writes from the start.
    if (existsSync(this.journal)) truncateSync(this.journal, 0);
    else {
      this.close(); // it named a journal someone removed
      writeFileSync(this.journal, '', { mode: 0o600 });
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
