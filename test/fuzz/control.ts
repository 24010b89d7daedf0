/**
 * Control-socket fuzz target: a real `serveControl` server (src/platform/control.ts) on a unix
 * socket, driven by fast-check (seeded). One input is one connection: a sequence of pieces —
 * valid requests (with a tag echoed back), valid requests mutated byte-wise, arbitrary JSON values,
 * binary garbage, blank lines, overlong lines (complete, or unterminated as the last piece) — written
 * in random partial writes. The handler mirrors the daemon's: `status`/`stats`, `link`
 * (the daemon's own `parseLinkEvent`), `revoke` (`parseIp`), `echo`, `slow` (answers late), an
 * unknown command, and `crash` (throws a TypeError: a handler bug).
 *
 * Properties per connection:
 * - the server answers every complete non-blank line with exactly one line of valid JSON
 *   `{"ok":boolean,...}`, in request order (tags match by position), within 5 s;
 * - a line past 64 KiB (complete, or unterminated at the end) gets exactly one error answer however
 *   the writes cut it, and the connection stays usable;
 * - `badRequests` grows by exactly the number of bad lines (not JSON, not an object with a string
 *   `cmd`, overlong, handler bug);
 * - afterwards a fresh connection still gets an answer (the server is usable), and the server
 *   process never crashes (an uncaught exception fails the run).
 */
import fc from 'fast-check';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { serveControl, callControl, ControlServer, MAX_REQUEST } from '../../src/platform/control';
import { parseLinkEvent } from '../../src/cli/daemon';
import { parseIp } from '../../src/platform/address';
import { RoamdError } from '../../src/errors';
import { mutationArb, applyMutations } from './mutate';

export const CONTROL_TARGET = 'control-socket';

type Piece =
  | { kind: 'valid'; cmd: string; args: Record<string, unknown> }
  | { kind: 'mutated'; cmd: string; args: Record<string, unknown>; muts: Array<{ op: number; pos: number; val: number; bytes: Uint8Array }> }
  | { kind: 'json'; value: unknown }
  | { kind: 'garbage'; bytes: Uint8Array }
  | { kind: 'blank'; text: string }
  | { kind: 'overlong'; extra: number };

export interface ControlInput { pieces: Piece[]; unterminated: number | null; cuts: number[] }

const CMDS = ['echo', 'status', 'stats', 'link', 'revoke', 'slow', 'crash', 'frobnicate', ''];
const linkArgs = fc.record({
  ifname: fc.oneof(fc.constantFrom('eth0', 'wlan0', 'x'.repeat(16)), fc.string({ maxLength: 20 })),
  up: fc.oneof(fc.boolean(), fc.jsonValue()),
  addresses: fc.oneof(fc.array(fc.oneof(fc.constantFrom('192.0.2.10/24', '10.0.0.1/33', '1.2.3/8'), fc.string({ maxLength: 18 })), { maxLength: 4 }), fc.jsonValue()),
  gateway: fc.oneof(fc.constantFrom('192.0.2.1', '256.1.1.1'), fc.jsonValue()),
}, { requiredKeys: [] });
const argsArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  linkArgs as fc.Arbitrary<Record<string, unknown>>,
  fc.record({ home: fc.oneof(fc.constantFrom('10.1.0.50', '10.1.0', '::1', '999.0.0.1'), fc.jsonValue()) }, { requiredKeys: [] }) as fc.Arbitrary<Record<string, unknown>>,
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
);

const pieceArb: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('valid' as const), cmd: fc.constantFrom(...CMDS), args: argsArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('mutated' as const), cmd: fc.constantFrom(...CMDS), args: argsArb, muts: fc.array(mutationArb, { minLength: 1, maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue({ maxDepth: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ maxLength: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('blank' as const), text: fc.constantFrom('', ' ', '\t', '\r', ' \u00a0 ') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('overlong' as const), extra: fc.nat(4000) }) },
);

export const controlInputArb: fc.Arbitrary<ControlInput> = fc.record({
  pieces: fc.array(pieceArb, { minLength: 1, maxLength: 10 }),
  unterminated: fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(4000) }),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
});

let tagSeq = 0;

/** The handler of the fuzzed server: the daemon's command shapes, plus echo/slow/crash. */
async function handler(req: Record<string, unknown>): Promise<unknown> {
  switch (req.cmd) {
    case 'echo': return { tag: req.tag };
    case 'status': return { role: 'fuzz', tag: req.tag };
    case 'stats': return { tag: req.tag, n: 1 };
    case 'slow': await new Promise((r) => setTimeout(r, 1 + ((req.tag as number) % 7 || 0))); return { tag: req.tag };
    case 'link': { parseLinkEvent(req); return { tag: req.tag, accepted: true }; }
    case 'revoke': {
      if (typeof req.home !== 'string') throw new RoamdError('ERR_USAGE', 'revoke needs "home"');
      parseIp(req.home);
      return { tag: req.tag };
    }
    case 'crash': return (undefined as unknown as { x: number }).x; // a handler bug: TypeError
    default: throw new RoamdError('ERR_USAGE', `unknown command '${String(req.cmd)}'`);
  }
}

/** What the server must do with one complete line: answer, counted as bad or not, tag if valid. */
function expectation(line: string): { bad: boolean; tag?: number } | null {
  if (line.length > MAX_REQUEST) return { bad: true };
  if (!line.trim()) return null;
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    return { bad: true };
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req) || typeof (req as { cmd?: unknown }).cmd !== 'string') return { bad: true };
  const r = req as Record<string, unknown>;
  let bad = r.cmd === 'crash';
  if (r.cmd === 'link') {
    try {
      parseLinkEvent(r);
    } catch (e) {
      bad = !(e instanceof RoamdError);
    }
  }
  if (r.cmd === 'revoke' && typeof r.home === 'string') {
    try {
      parseIp(r.home);
    } catch (e) {
      bad = !(e instanceof RoamdError);
    }
  }
  // A tag JSON cannot carry back (a mutated digit string read as Infinity) is echoed as null: not checked.
  return { bad, ...(typeof r.tag === 'number' && Number.isFinite(r.tag) && ['echo', 'status', 'stats', 'slow'].includes(r.cmd as string) ? { tag: r.tag } : {}) };
}

function encodePiece(p: Piece): Buffer {
  switch (p.kind) {
    case 'valid': return Buffer.from(JSON.stringify({ cmd: p.cmd, ...p.args, tag: ++tagSeq }) + '\n');
    case 'mutated': return Buffer.concat([applyMutations(Buffer.from(JSON.stringify({ cmd: p.cmd, ...p.args, tag: ++tagSeq })), p.muts), Buffer.from('\n')]);
    case 'json': return Buffer.from(JSON.stringify(p.value) + '\n');
    case 'garbage': return Buffer.concat([Buffer.from(p.bytes), Buffer.from('\n')]);
    case 'blank': return Buffer.from(p.text + '\n');
    case 'overlong': return Buffer.from(`{"cmd":"echo","pad":"${'x'.repeat(MAX_REQUEST + p.extra)}"}\n`);
  }
}

export interface ControlFuzzStats { connections: number; lines: number; answers: number; bad: number; overlong: number; bytes: number }

export class ControlFuzz {
  readonly stats: ControlFuzzStats = { connections: 0, lines: 0, answers: 0, bad: 0, overlong: 0, bytes: 0 };
  private server!: ControlServer;
  private dir = '';
  path = '';

  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'roamd-ctlfuzz-'));
    this.path = join(this.dir, 'c.sock');
    this.server = await serveControl(this.path, handler);
  }

  close(): void {
    this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  get badRequests(): number {
    return this.server.badRequests;
  }

  /** One connection; throws (with the reason) when a property fails. */
  async check(input: ControlInput): Promise<void> {
    const data = Buffer.concat([...input.pieces.map(encodePiece),
      ...(input.unterminated !== null ? [Buffer.from(`{"cmd":"echo","pad":"${'y'.repeat(MAX_REQUEST + input.unterminated)}`)] : [])]);
    // Expected answers from the stream as the server decodes it (UTF-8, replacement characters).
    const text = new TextDecoder().decode(data);
    const lines = text.split('\n');
    const rest = lines.pop()!;
    const exp = lines.map(expectation).filter((e): e is { bad: boolean; tag?: number } => e !== null);
    const overlongRest = rest.length > MAX_REQUEST;
    if (overlongRest) exp.push({ bad: true });
    const bad0 = this.server.badRequests;
    const answers = await this.converse(data, input.cuts, exp.length);
    if (answers.length !== exp.length) throw new Error(`expected ${exp.length} answers, got ${answers.length}`);
    for (const [i, a] of answers.entries()) {
      let v: { ok?: unknown; result?: { tag?: unknown } };
      try {
        v = JSON.parse(a);
      } catch {
        throw new Error(`answer ${i} is not JSON: ${a.slice(0, 200)}`);
      }
      if (typeof v !== 'object' || v === null || typeof v.ok !== 'boolean') throw new Error(`answer ${i} has no boolean ok: ${a.slice(0, 200)}`);
      const tag = exp[i]!.tag;
      if (tag !== undefined && (v.ok !== true || v.result?.tag !== tag)) throw new Error(`answer ${i} out of order: expected tag ${tag}, got ${a.slice(0, 200)}`);
    }
    const bad = exp.filter((e) => e.bad).length;
    if (this.server.badRequests - bad0 !== bad) throw new Error(`badRequests grew by ${this.server.badRequests - bad0}, expected ${bad}`);
    this.stats.connections++;
    this.stats.lines += exp.length;
    this.stats.answers += answers.length;
    this.stats.bad += bad;
    this.stats.bytes += data.length;
    this.stats.overlong += lines.filter((l) => l.length > MAX_REQUEST).length + (overlongRest ? 1 : 0);
  }

  /** Writes `data` in pieces cut at `cuts`, yielding between writes; collects answer lines. */
  private converse(data: Buffer, cuts: number[], want: number): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(this.path);
      let buf = '';
      const got: string[] = [];
      let ended = false;
      const done = (err?: Error) => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(got);
      };
      const timer = setTimeout(() => done(new Error(`timeout: ${got.length}/${want} answers`)), 5000);
      sock.setEncoding('utf8');
      sock.on('error', (e) => done(e));
      sock.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          got.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
        if (got.length > want) done(new Error(`more answers than lines: ${got.length} > ${want}`));
        else if (got.length === want) setImmediate(() => done());
      });
      sock.on('close', () => {
        if (got.length < want) done(new Error(`connection closed by the server after ${got.length}/${want} answers`));
      });
      sock.on('connect', async () => {
        const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
        let at = 0;
        for (const p of [...points, data.length]) {
          if (p <= at) continue;
          if (sock.destroyed) return;
          sock.write(data.subarray(at, p));
          at = p;
          await new Promise((r) => setImmediate(r));
        }
        if (want === 0) setTimeout(() => done(), 5);
      });
    });
  }

  /** The server still answers a plain request on a fresh connection. */
  async usable(): Promise<boolean> {
    const r = await callControl(this.path, { cmd: 'echo', tag: -1 }, 2000);
    return r.ok === true && (r.result as { tag?: number }).tag === -1;
  }
}

/** Runs `runs` connections from `seed`; resolves with the figures, rejects on a failed property. */
export async function runControlFuzz(runs: number, seed: number): Promise<ControlFuzzStats & { badRequests: number }> {
  const f = new ControlFuzz();
  await f.start();
  let crash: unknown = null;
  const onCrash = (e: unknown) => { crash = e; };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  try {
    await fc.assert(fc.asyncProperty(controlInputArb, async (input) => {
      await f.check(input);
      if (crash) throw new Error(`uncaught in the server: ${String(crash)}`);
    }), { numRuns: runs, seed, endOnFailure: true });
    if (!(await f.usable())) throw new Error('server not usable after the run');
    return { ...f.stats, badRequests: f.badRequests };
  } finally {
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    f.close();
  }
}
