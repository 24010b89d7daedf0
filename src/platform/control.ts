/**
 * The control socket: a unix stream socket speaking newline-delimited JSON. A request is one line
 * `{"cmd":"status"}` (plus arguments); the answer is one line `{"ok":true,"result":...}` or
 * `{"ok":false,"error":"..."}`. Used by `roamd status|bindings|...` and the rpcd plugin.
 *
 * Bad input (not JSON, unknown command, a line over 64 KiB) gets an error answer and a counter;
 * it never reaches the role state machine unchecked. Several requests may be written on one
 * connection without waiting: answers come back one line each, in request order. A line longer than
 * 64 KiB gets one error answer however it arrives (its rest is discarded up to the newline) and the
 * connection stays usable.
 */
import { createServer, createConnection, Server, Socket } from 'node:net';
import { chmodSync, existsSync, unlinkSync, lstatSync } from 'node:fs';
import { RoamdError } from '../errors';

export const MAX_REQUEST = 64 * 1024;

export type Handler = (req: Record<string, unknown>) => unknown | Promise<unknown>;

export interface ControlServer { server: Server; close(): void; badRequests: number }

/** Serves `handler` on a unix socket at `path` (a stale socket file is replaced; mode 0600). */
export function serveControl(path: string, handler: Handler): Promise<ControlServer> {
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new RoamdError('ERR_CONFIG_INVALID', `control socket path ${path} exists and is not a socket`);
    unlinkSync(path);
  }
  const cs: ControlServer = { server: undefined as never, badRequests: 0, close: () => undefined };
  const server = createServer((sock) => onConnection(sock, handler, cs));
  cs.server = server;
  cs.close = () => {
    server.close();
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      server.off('error', reject);
      resolve(cs);
    });
  });
}

/** Lines read but not yet answered on one connection before reading pauses (back-pressure). */
const MAX_QUEUED = 64;

function onConnection(sock: Socket, handler: Handler, cs: ControlServer): void {
  let buf = '';
  let skipping = false;
  // Answers go out in request order (a pipelining client matches them by position): each line's
  // answer is chained behind the previous one, even when the handler is asynchronous.
  let chain: Promise<void> = Promise.resolve();
  let queued = 0;
  const enqueue = (make: () => Promise<string> | string): void => {
    queued++;
    if (queued > MAX_QUEUED) sock.pause();
    chain = chain.then(async () => {
      const text = await make();
      if (!sock.destroyed) sock.write(text);
    }).catch(() => undefined).finally(() => {
      if (--queued <= MAX_QUEUED / 2) sock.resume();
    });
  };
  sock.setEncoding('utf8');
  sock.on('error', () => undefined);
  sock.on('data', (chunk: string) => {
    if (skipping) {
      // The rest of a line already refused as too long: discard up to its end.
      const nl = chunk.indexOf('\n');
      if (nl < 0) return;
      skipping = false;
      chunk = chunk.slice(nl + 1);
    }
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.length > MAX_REQUEST) {
        cs.badRequests++;
        enqueue(() => tooLong);
      } else if (line.trim()) enqueue(() => answer(line, handler, cs));
    }
    // An incomplete line past the limit can never become a valid request: answer it now (once)
    // and discard the rest of it as it arrives, so memory stays bounded by one chunk.
    if (buf.length > MAX_REQUEST) {
      cs.badRequests++;
      buf = '';
      skipping = true;
      enqueue(() => tooLong);
    }
  });
}

const tooLong = JSON.stringify({ ok: false, error: `request longer than ${MAX_REQUEST} bytes` }) + '\n';

async function answer(line: string, handler: Handler, cs: ControlServer): Promise<string> {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    cs.badRequests++;
    return JSON.stringify({ ok: false, error: 'request is not valid JSON' }) + '\n';
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req) || typeof (req as { cmd?: unknown }).cmd !== 'string') {
    cs.badRequests++;
    return JSON.stringify({ ok: false, error: 'request must be a JSON object with a string "cmd"' }) + '\n';
  }
  try {
    const result = await handler(req as Record<string, unknown>);
    return JSON.stringify({ ok: true, result }) + '\n';
  } catch (e) {
    if (!(e instanceof RoamdError)) cs.badRequests++;
    return JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) }) + '\n';
  }
}

/** Sends one request and returns the parsed answer. */
export function callControl(path: string, req: Record<string, unknown>, timeoutMs = 5000): Promise<{ ok: boolean; result?: unknown; error?: string }> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new RoamdError('ERR_USAGE', `no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        sock.end();
        try {
          resolve(JSON.parse(buf.slice(0, nl)));
        } catch {
          reject(new RoamdError('ERR_USAGE', 'daemon answered with invalid JSON'));
        }
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(new RoamdError('ERR_USAGE', `cannot reach the daemon at ${path}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
  });
}
