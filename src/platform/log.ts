/**
 * One line per event, key=value, with a level (STYLE.md §10): `2026-11-26T12:00:00.000Z info
 * registered home=10.1.0.50 careOf=192.0.2.10`. Values with spaces or quotes are quoted. Keys are
 * never logged: SecurityAssociation hides them and nothing else holds them.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export class Logger {
  constructor(public level: Level, private readonly write: (line: string) => void = (l) => process.stderr.write(l)) {}

  enabled(level: Level): boolean {
    return RANK[level] >= RANK[this.level];
  }

  log(level: Level, event: string, fields: Record<string, unknown> = {}): void {
    if (!this.enabled(level)) return;
    let line = `${new Date().toISOString()} ${level} ${event}`;
    for (const [k, v] of Object.entries(fields)) line += ` ${k}=${fmt(v)}`;
    this.write(line + '\n');
  }
}

function fmt(v: unknown): string {
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}
