/**
 * The control socket: a unix stream socket speaking newline-delimited JSON. A request is one line
 * `{"cmd":"status"}` (plus arguments); the answer is one line `{"ok":true,"result":...}` or
 * `{"ok":false,"error":"..."}`. Used by `roamd status|bindings|...` and the rpcd plugin.
 *
 * Bad input (not JSON, unknown command, a line over 64 KiB) gets an error answer and a counter;
 * it never reaches the role state machine unchecked.
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

function onConnection(sock: Socket, handler: Handler, cs: ControlServer): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('error', () => undefined);
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_REQUEST && !buf.includes('\n')) {
      cs.badRequests++;
      sock.end(JSON.stringify({ ok: false, error: `request longer than ${MAX_REQUEST} bytes` }) + '\n');
      buf = '';
      return;
    }
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) void answer(sock, line, handler, cs);
    }
  });
}

async function answer(sock: Socket, line: string, handler: Handler, cs: ControlServer): Promise<void> {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    cs.badRequests++;
    sock.write(JSON.stringify({ ok: false, error: 'request is not valid JSON' }) + '\n');
    return;
  }
  if (typeof req !== 'object' || req === null || Array.isArray(req) || typeof (req as { cmd?: unknown }).cmd !== 'string') {
    cs.badRequests++;
    sock.write(JSON.stringify({ ok: false, error: 'request must be a JSON object with a string "cmd"' }) + '\n');
    return;
  }
  try {
    const result = await handler(req as Record<string, unknown>);
    sock.write(JSON.stringify({ ok: true, result }) + '\n');
  } catch (e) {
    if (!(e instanceof RoamdError)) cs.badRequests++;
    sock.write(JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) }) + '\n');
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
