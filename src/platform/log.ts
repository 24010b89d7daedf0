/**
 * One line per event, key=value, with a level (STYLE.md §10): `2026-11-26T12:00:00.000Z info
 * registered home=10.1.0.50 careOf=192.0.2.10`. Values with spaces or quotes are quoted. Keys are
 * never logged: SecurityAssociation hides them and nothing else holds them.
 *
 * Lines are written once per event-loop turn, not one by one: stderr to a file or a pipe is a
 * synchronous write(2), and at info level a home agent logs a line per registration (one write
 * per line was 10 % of its CPU under load). Error lines, and whatever is buffered at process
 * exit, are written at once. Memory: the lines of one turn.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export class Logger {
  private pending = '';
  private scheduled = false;
  private stampMs = -1;
  private stamp = '';

  constructor(public level: Level, private readonly write: (line: string) => void = (l) => process.stderr.write(l)) {
    process.once('exit', () => this.flush());
  }

  enabled(level: Level): boolean {
    return RANK[level] >= RANK[this.level];
  }

  log(level: Level, event: string, fields: Record<string, unknown> = {}): void {
    if (!this.enabled(level)) return;
    const now = Date.now();
    if (now !== this.stampMs) {
      this.stampMs = now;
      this.stamp = new Date(now).toISOString();
    }
    let line = `${this.stamp} ${level} ${event}`;
    for (const k in fields) line += ` ${k}=${fmt(fields[k])}`;
    this.pending += line + '\n';
    if (level === 'error') this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes the buffered lines now. */
  flush(): void {
    this.scheduled = false;
    if (this.pending === '') return;
    const out = this.pending;
    this.pending = '';
    this.write(out);
  }
}

function fmt(v: unknown): string {
  // Numbers and booleans never need quotes (no space, quote or '=' in their text).
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}
