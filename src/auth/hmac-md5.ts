/**
 * HMAC-MD5 (RFC 2104 with MD5, RFC 1321), the mandatory Mobile IP authenticator (RFC 5944 §3.5.1),
 * for one key: the MD5 states after the ipad and opad blocks are computed once, so each MAC costs
 * the compression of the message blocks plus one outer block. Written out in JavaScript because
 * Node's createHmac() spends about 2 µs setting up OpenSSL per call, several times the MD5 work
 * for a registration message (bench/registration.ts profile, docs/performance.md). Checked
 * against node:crypto by test/unit/auth/hmac-md5.test.ts. Memory: 8 state words per key (32 bytes
 * and one typed array), a shared scratch block.
 */

const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000) | 0;

/**
 * One MD5 compression of the 16 words `x` into `st` (RFC 1321 §3.4): one loop per round, so no
 * branch per step (t = a + F(b, c, d) + X[k] + T[i]; a = b + (t <<< s)).
 */
function compress(st: Int32Array, x: Int32Array): void {
  let a = st[0]!, b = st[1]!, c = st[2]!, d = st[3]!, t: number, s: number;
  for (let i = 0; i < 16; i++) {
    s = (i & 3) === 0 ? 7 : (i & 3) === 1 ? 12 : (i & 3) === 2 ? 17 : 22;
    t = (a + ((b & c) | (~b & d)) + x[i]! + K[i]!) | 0;
    a = d; d = c; c = b; b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
  }
  for (let i = 16; i < 32; i++) {
    s = (i & 3) === 0 ? 5 : (i & 3) === 1 ? 9 : (i & 3) === 2 ? 14 : 20;
    t = (a + ((d & b) | (~d & c)) + x[(5 * i + 1) & 15]! + K[i]!) | 0;
    a = d; d = c; c = b; b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
  }
  for (let i = 32; i < 48; i++) {
    s = (i & 3) === 0 ? 4 : (i & 3) === 1 ? 11 : (i & 3) === 2 ? 16 : 23;
    t = (a + (b ^ c ^ d) + x[(3 * i + 5) & 15]! + K[i]!) | 0;
    a = d; d = c; c = b; b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
  }
  for (let i = 48; i < 64; i++) {
    s = (i & 3) === 0 ? 6 : (i & 3) === 1 ? 10 : (i & 3) === 2 ? 15 : 21;
    t = (a + (c ^ (b | ~d)) + x[(7 * i) & 15]! + K[i]!) | 0;
    a = d; d = c; c = b; b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
  }
  st[0] = (st[0]! + a) | 0; st[1] = (st[1]! + b) | 0; st[2] = (st[2]! + c) | 0; st[3] = (st[3]! + d) | 0;
}

const INIT = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];

// Scratch state shared by every key: mac() runs to completion, nothing re-enters it.
const ST = new Int32Array(4);
const X = new Int32Array(16);

export class HmacMd5 {
  /** MD5 state after the ipad block (words 0-3) and after the opad block (words 4-7). */
  readonly #pads = new Int32Array(8);

  constructor(key: Uint8Array) {
    let k = key;
    if (k.length > 64) k = md5(k); // RFC 2104 §2: longer keys are hashed first
    const block = new Uint8Array(64);
    block.set(k);
    for (const [pad, at] of [[0x36, 0], [0x5c, 4]] as const) {
      ST.set(INIT);
      for (let i = 0; i < 16; i++) {
        X[i] = (block[4 * i]! ^ pad) | ((block[4 * i + 1]! ^ pad) << 8) | ((block[4 * i + 2]! ^ pad) << 16) | ((block[4 * i + 3]! ^ pad) << 24);
      }
      compress(ST, X);
      this.#pads.set(ST, at);
    }
  }

  /** The 16-byte MAC of `data`. */
  mac(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(16);
    this.macInto(data, 0, data.length, out, 0);
    return out;
  }

  /** Writes the MAC of data[start, end) to out[at, at + 16): no allocation (the registration hot path). */
  macInto(data: Uint8Array, start: number, end: number, out: Uint8Array, at: number): void {
    const p = this.#pads;
    ST[0] = p[0]!; ST[1] = p[1]!; ST[2] = p[2]!; ST[3] = p[3]!;
    finish(ST, X, data, start, end, 64);
    // The outer hash of the 16-byte inner digest is one padded block: the digest's bytes are the
    // state words little-endian, which is how a block is read, so they go in as words.
    X[0] = ST[0]!; X[1] = ST[1]!; X[2] = ST[2]!; X[3] = ST[3]!;
    X[4] = 0x80;
    X.fill(0, 5, 14);
    X[14] = (64 + 16) * 8;
    X[15] = 0;
    ST[0] = p[4]!; ST[1] = p[5]!; ST[2] = p[6]!; ST[3] = p[7]!;
    compress(ST, X);
    wordsInto(ST, out, at);
  }
}

/** Plain MD5 (for keys longer than a block). */
export function md5(data: Uint8Array): Uint8Array {
  const st = Int32Array.from(INIT), x = new Int32Array(16);
  finish(st, x, data, 0, data.length, 0);
  const out = new Uint8Array(16);
  wordsInto(st, out, 0);
  return out;
}

/** Hashes data[start, end) into `st` (which has already absorbed `prefix` bytes) and pads (RFC 1321 §3.1-3.2). */
function finish(st: Int32Array, x: Int32Array, data: Uint8Array, start: number, end: number, prefix: number): void {
  const n = end - start;
  let off = start;
  for (; off + 64 <= end; off += 64) {
    for (let i = 0; i < 16; i++) {
      const p = off + 4 * i;
      x[i] = data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16) | (data[p + 3]! << 24);
    }
    compress(st, x);
  }
  x.fill(0);
  const rest = end - off;
  for (let i = 0; i < rest; i++) x[i >> 2]! |= data[off + i]! << ((i & 3) << 3);
  x[rest >> 2]! |= 0x80 << ((rest & 3) << 3);
  if (rest >= 56) {
    compress(st, x);
    x.fill(0);
  }
  const bits = (prefix + n) * 8;
  x[14] = bits | 0;
  x[15] = Math.floor(bits / 0x100000000) | 0;
  compress(st, x);
}

/** The digest: the state words little-endian (RFC 1321 §3.5). */
function wordsInto(st: Int32Array, out: Uint8Array, at: number): void {
  for (let i = 0; i < 4; i++) {
    const w = st[i]!, o = at + 4 * i;
    out[o] = w & 255; out[o + 1] = (w >>> 8) & 255; out[o + 2] = (w >>> 16) & 255; out[o + 3] = (w >>> 24) & 255;
  }
}
