/**
 * HMAC-MD5 (RFC 2104 with MD5, RFC 1321), the mandatory Mobile IP authenticator (RFC 5944 §3.5.1),
 * for one key: the MD5 states after the ipad and opad blocks are computed once, so each MAC costs
 * the compression of the message blocks plus one outer block. Written out in JavaScript because
 * Node's createHmac() spends about 2 µs setting up OpenSSL per call, several times the MD5 work
 * for a registration message (bench/registration.ts profile, docs/performance.md). Checked
 * against node:crypto by test/unit/auth/hmac-md5.test.ts. Memory: 8 state words per key (32 bytes
 * and one typed array), a shared scratch block.
 */

const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000) | 0;

/** One MD5 compression of the 16 words `x` into `st` (RFC 1321 §3.4). */
function compress(st: Int32Array, x: Int32Array): void {
  let a = st[0]!, b = st[1]!, c = st[2]!, d = st[3]!;
  for (let i = 0; i < 64; i++) {
    let f: number, g: number;
    if (i < 16) { f = (b & c) | (~b & d); g = i; }
    else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
    else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
    else { f = c ^ (b | ~d); g = (7 * i) & 15; }
    const s = S[((i >> 4) << 2) | (i & 3)]!;
    const t = (a + f + K[i]! + x[g]!) | 0;
    a = d; d = c; c = b;
    b = (b + ((t << s) | (t >>> (32 - s)))) | 0;
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
    const p = this.#pads;
    ST[0] = p[0]!; ST[1] = p[1]!; ST[2] = p[2]!; ST[3] = p[3]!;
    finish(ST, X, data, 64);
    const inner = wordsToBytes(ST);
    ST[0] = p[4]!; ST[1] = p[5]!; ST[2] = p[6]!; ST[3] = p[7]!;
    finish(ST, X, inner, 64);
    return wordsToBytes(ST);
  }
}

/** Plain MD5 (for keys longer than a block). */
export function md5(data: Uint8Array): Uint8Array {
  const st = Int32Array.from(INIT), x = new Int32Array(16);
  finish(st, x, data, 0);
  return wordsToBytes(st);
}

/** Hashes `data` into `st` (which has already absorbed `prefix` bytes) and pads (RFC 1321 §3.1-3.2). */
function finish(st: Int32Array, x: Int32Array, data: Uint8Array, prefix: number): void {
  const n = data.length;
  let off = 0;
  for (; off + 64 <= n; off += 64) {
    for (let i = 0; i < 16; i++) {
      const p = off + 4 * i;
      x[i] = data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16) | (data[p + 3]! << 24);
    }
    compress(st, x);
  }
  x.fill(0);
  const rest = n - off;
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

function wordsToBytes(st: Int32Array): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 4; i++) {
    const w = st[i]!;
    out[4 * i] = w & 255; out[4 * i + 1] = (w >>> 8) & 255; out[4 * i + 2] = (w >>> 16) & 255; out[4 * i + 3] = (w >>> 24) & 255;
  }
  return out;
}
