/**
 * Registration load generator: a separate process that simulates many mobile nodes (bench/sim-nodes)
 * and keeps `window` requests in flight against one UDP server, for `durationMs` after `warmupMs`.
 * Each node has its own SA and Identification (timestamps: high = NTP seconds, low = a per-node
 * counter in the high 16 bits and the node index in the low 16, so they increase per node and a
 * reply maps back to its node from its Identification alone). Replies are counted by code, not
 * authenticated (the load generator must stay cheaper than the server).
 *
 * Modes: `ha` (direct registrations with the HA), `proxy-attach` (outer registrations carrying the
 * home registration, relayed by the proxy to the HA), `proxy-move` (outer registrations alone: a
 * move handled by the proxy), `fill` (like `ha` with the S bit, a new care-of address each time:
 * fills the binding table), `echo` (the baseline: same datagrams, answered by bench/echo-server).
 *
 * Usage: `node --import tsx bench/loadgen.ts '<json options>'`; prints one JSON line with the result.
 */
import { createSocket } from 'node:dgram';
import { createHmac, createSecretKey, KeyObject } from 'node:crypto';
import { encodeRequest, nvse, NvseType, DEFAULT_VENDOR_ID } from '../src/roles/messages';
import { SecurityAssociation } from '../src/auth/security-association';
import { ntpSeconds } from '../src/auth/replay';
import { RegFlag } from '../src/wire/constants';
import { parseIp } from '../src/platform/address';
import { ADDR, SPI, COA_BASE, keyHex, naiOf, homeOf } from './sim-nodes';

export type Mode = 'ha' | 'proxy-attach' | 'proxy-move' | 'fill' | 'echo';

export interface LoadOptions {
  mode: Mode;
  host: string;
  port: number;
  nodes: number;
  window: number;
  warmupMs: number;
  durationMs: number;
  /** Keep going after durationMs until every node got at least this many replies (attach phases). */
  minPasses?: number;
  /** fill: requests per node (one binding each), then stop. */
  perNode?: number;
  timeoutMs?: number;
}

export interface LoadResult {
  mode: Mode;
  nodes: number;
  window: number;
  sent: number;
  replies: number;
  timeouts: number;
  seconds: number;
  rps: number;
  p50_us: number;
  p99_us: number;
  codes: Record<string, number>;
}

interface Template {
  buf: Buffer;
  /** Offsets of the outer Identification and of the bytes covered by the outer authenticator. */
  outerCovered: number;
  outerKey: KeyObject;
  /** Inner (home) request inside the NVSE, proxy-attach only. */
  innerStart: number;
  innerCovered: number;
  innerKey: KeyObject | undefined;
}

function template(o: LoadOptions, i: number): Template {
  const mode = o.mode;
  const haKey = Buffer.from(keyHex('ha', i), 'hex');
  const common = { type: 1 as const, lifetime: 1800, idHigh: 0, idLow: 0 };
  if (mode === 'ha' || mode === 'fill' || mode === 'echo') {
    const sa = new SecurityAssociation({ spi: SPI.mnHa, algorithm: 'hmac-md5', key: haKey });
    const flags = RegFlag.D | RegFlag.T | (mode === 'fill' ? RegFlag.S : 0);
    const buf = encodeRequest({ ...common, flags, homeAddress: homeOf(i), homeAgent: parseIp(ADDR.ha), careOfAddress: COA_BASE + i, extensions: [] }, [{ type: 32, sa }]);
    return { buf, outerCovered: buf.length - 16, outerKey: createSecretKey(haKey), innerStart: -1, innerCovered: 0, innerKey: undefined };
  }
  const pKey = Buffer.from(keyHex('proxy', i), 'hex');
  const psa = new SecurityAssociation({ spi: SPI.mnProxy, algorithm: 'hmac-md5', key: pKey });
  const exts = [];
  let inner: Buffer | undefined;
  if (mode === 'proxy-attach') {
    const hsa = new SecurityAssociation({ spi: SPI.mnHa, algorithm: 'hmac-md5', key: haKey });
    inner = encodeRequest({ ...common, flags: RegFlag.T, homeAddress: homeOf(i), homeAgent: parseIp(ADDR.ha), careOfAddress: parseIp(ADDR.proxyInside), extensions: [] }, [{ type: 32, sa: hsa }]);
    exts.push(nvse(DEFAULT_VENDOR_ID, NvseType.HOME_REQUEST, inner));
  }
  const buf = encodeRequest({ ...common, lifetime: 600, flags: RegFlag.D | RegFlag.T, homeAddress: 0, homeAgent: parseIp(ADDR.proxyOutside), careOfAddress: COA_BASE + i,
    extensions: [{ kind: 'nai', nai: naiOf(i) }, ...exts] }, [{ type: 32, sa: psa }]);
  const innerStart = inner ? buf.indexOf(inner) : -1;
  return { buf, outerCovered: buf.length - 16, outerKey: createSecretKey(pKey), innerStart, innerCovered: inner ? inner.length - 16 : 0, innerKey: inner ? createSecretKey(haKey) : undefined };
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const n = o.nodes;
  const timeoutMs = o.timeoutMs ?? 1000;
  const t: Template[] = [];
  for (let i = 0; i < n; i++) t.push(template(o, i));
  const lastHigh = new Uint32Array(n), seq = new Uint32Array(n), moves = new Uint32Array(n), passes = new Uint32Array(n);
  const sentAt = new Float64Array(n); // 0 = not in flight
  const expectLow = new Uint32Array(n);
  const sock = createSocket({ type: 'udp4' });
  await new Promise<void>((r) => sock.bind(0, ADDR.client, r));
  sock.setRecvBufferSize(4 << 20);
  sock.setSendBufferSize(4 << 20);

  const lat = new Float64Array(4_000_000);
  let nLat = 0, sent = 0, replies = 0, timeouts = 0, inFlight = 0, cursor = 0;
  let measuring = false, measureStart = 0, measureEnd = 0, stopping = false;
  const codes: Record<string, number> = {};
  const perNode = o.perNode ?? 0;
  let exhausted = 0; // fill: nodes that sent all their requests

  const sendOne = (i: number): void => {
    const tp = t[i]!, b = tp.buf;
    const ms = Date.now();
    const high = ntpSeconds(ms);
    // A new second starts the counter at 64 per elapsed millisecond, not 0: a load generator started
    // later in the same second as the previous phase's (same nodes, same HA) stays above its
    // Identifications, which the HA would refuse as replays (133).
    if (high !== lastHigh[i]) { lastHigh[i] = high; seq[i] = (ms % 1000) * 64; } else seq[i]!++;
    const low = ((seq[i]! << 16) | (i & 0xffff)) >>> 0;
    if (tp.innerKey) {
      b.writeUInt32BE(high, tp.innerStart + 16);
      b.writeUInt32BE(low, tp.innerStart + 20);
      createHmac('md5', tp.innerKey).update(b.subarray(tp.innerStart, tp.innerStart + tp.innerCovered)).digest().copy(b, tp.innerStart + tp.innerCovered);
    }
    // A move: alternate between two care-of addresses (fill: a new one per request).
    const m = moves[i]!++;
    const coa = o.mode === 'fill' ? (COA_BASE + ((m & 3) << 16) + i) >>> 0 : (COA_BASE + ((m & 1) << 15) + (i & 0x7fff)) >>> 0;
    b.writeUInt32BE(coa, 12);
    b.writeUInt32BE(high, 16);
    b.writeUInt32BE(low, 20);
    createHmac('md5', tp.outerKey).update(b.subarray(0, tp.outerCovered)).digest().copy(b, tp.outerCovered);
    expectLow[i] = low;
    sentAt[i] = performance.now();
    inFlight++;
    sent++;
    sock.send(b, o.port, o.host);
  };

  const next = (): void => {
    if (stopping) return;
    for (let tries = 0; tries < n; tries++) {
      const i = cursor;
      cursor = cursor + 1 === n ? 0 : cursor + 1;
      if (sentAt[i] !== 0) continue;
      if (perNode && moves[i]! >= perNode) continue;
      sendOne(i);
      return;
    }
  };

  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const maybeFinish = (): void => {
    if (!stopping) return;
    if (inFlight === 0) done();
  };

  sock.on('message', (msg) => {
    if (msg.length < 20) return;
    const low = msg.readUInt32BE(16);
    const i = low & 0xffff;
    if (i >= n || sentAt[i] === 0 || expectLow[i] !== low) {
      codes.unmatched = (codes.unmatched ?? 0) + 1;
      return;
    }
    const now = performance.now();
    const us = (now - sentAt[i]!) * 1000;
    sentAt[i] = 0;
    inFlight--;
    passes[i]!++;
    if (measuring) {
      replies++;
      if (nLat < lat.length) lat[nLat++] = us;
      const c = String(msg[1]);
      codes[c] = (codes[c] ?? 0) + 1;
    }
    if (perNode && moves[i]! >= perNode) exhausted++;
    next();
    maybeFinish();
  });

  // Lost datagrams shrink the window: time them out and refill.
  const sweeper = setInterval(() => {
    const now = performance.now();
    for (let i = 0; i < n; i++) {
      if (sentAt[i] !== 0 && now - sentAt[i]! > timeoutMs) {
        sentAt[i] = 0;
        inFlight--;
        if (measuring) timeouts++;
        if (perNode && moves[i]! >= perNode) exhausted++;
        next();
      }
    }
    maybeFinish();
  }, 100);

  const start = performance.now();
  for (let k = 0; k < Math.min(o.window, n); k++) next();
  if (perNode) {
    // fill: everything counts, until every node sent perNode requests.
    measuring = true;
    measureStart = start;
    await new Promise<void>((r) => {
      const iv = setInterval(() => {
        if (exhausted >= n && inFlight === 0) { clearInterval(iv); r(); }
      }, 20);
    });
    stopping = true;
  } else {
    await sleep(o.warmupMs);
    measuring = true;
    measureStart = performance.now();
    await sleep(o.durationMs);
    if (o.minPasses) {
      while (passesMin(passes) < o.minPasses && performance.now() - start < 120_000) await sleep(20);
    }
    stopping = true;
  }
  measureEnd = performance.now();
  measuring = false;
  const wait = setTimeout(done, timeoutMs + 200);
  maybeFinish();
  await finished;
  clearTimeout(wait);
  clearInterval(sweeper);
  sock.close();
  const seconds = (measureEnd - measureStart) / 1000;
  const sorted = lat.subarray(0, nLat).sort();
  const pct = (p: number): number => (nLat ? Math.round(sorted[Math.min(nLat - 1, Math.floor(p * nLat))]!) : 0);
  return {
    mode: o.mode, nodes: n, window: o.window, sent, replies, timeouts, seconds: +seconds.toFixed(3),
    rps: Math.round(replies / seconds), p50_us: pct(0.5), p99_us: pct(0.99), codes,
  };
}

function passesMin(p: Uint32Array): number {
  let m = Infinity;
  for (const v of p) if (v < m) m = v;
  return m;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

if (require.main === module) {
  const o = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  runLoad(o).then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });
}
