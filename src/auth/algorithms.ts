/**
 * Authentication algorithms for Mobile IP authenticators (RFC 5944 §3.5.1, §5.1): HMAC-MD5, the
 * mandatory default (RFC 2104 with MD5, 128-bit output), plus HMAC-SHA-256 and keyed BLAKE2b
 * (256-bit output) through libsodium. libsodium (1.6 MB of WASM) is loaded only by initCrypto(),
 * which the daemon awaits at start-up when a configured SA uses one of those algorithms.
 */
import { createHmac } from 'node:crypto';
import { RoamdError } from '../errors';

export type Algorithm = 'hmac-md5' | 'hmac-sha256' | 'blake2b';
export const ALGORITHMS: readonly Algorithm[] = ['hmac-md5', 'hmac-sha256', 'blake2b'];

/** Authenticator length in bytes for each algorithm. */
export const AUTHENTICATOR_LENGTH: Record<Algorithm, number> = { 'hmac-md5': 16, 'hmac-sha256': 32, blake2b: 32 };

/** Key length limits in bytes. BLAKE2b keys are 16..64 bytes (libsodium crypto_generichash). */
export const KEY_LENGTH: Record<Algorithm, { min: number; max: number }> = {
  'hmac-md5': { min: 1, max: 1024 },
  'hmac-sha256': { min: 1, max: 1024 },
  blake2b: { min: 16, max: 64 },
};

interface Sodium {
  ready: Promise<void>;
  crypto_auth_hmacsha256_init(key: Uint8Array): unknown;
  crypto_auth_hmacsha256_update(state: unknown, data: Uint8Array): void;
  crypto_auth_hmacsha256_final(state: unknown): Uint8Array;
  crypto_generichash(len: number, data: Uint8Array, key: Uint8Array): Uint8Array;
}
let sodium: Sodium | null = null;

/** Loads libsodium; needed before any HMAC-SHA-256 or BLAKE2b computation. Idempotent. */
export async function initCrypto(): Promise<void> {
  if (sodium) return;
  // Loaded at run time from node_modules beside the bundle (kept out of dist/roamd.js).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('libsodium-wrappers-sumo') as Sodium;
  await mod.ready;
  sodium = mod;
}

export function cryptoReady(alg: Algorithm): boolean {
  return alg === 'hmac-md5' || sodium !== null;
}

export function isAlgorithm(s: string): s is Algorithm {
  return (ALGORITHMS as readonly string[]).includes(s);
}

/** Computes the authenticator of `data` under `key`. */
export function computeMac(alg: Algorithm, key: Uint8Array, data: Uint8Array): Uint8Array {
  switch (alg) {
    case 'hmac-md5':
      return createHmac('md5', key).update(data).digest();
    case 'hmac-sha256': {
      const s = loaded(alg);
      const st = s.crypto_auth_hmacsha256_init(key);
      s.crypto_auth_hmacsha256_update(st, data);
      return s.crypto_auth_hmacsha256_final(st);
    }
    case 'blake2b':
      return loaded(alg).crypto_generichash(AUTHENTICATOR_LENGTH.blake2b, data, key);
  }
}

function loaded(alg: Algorithm): Sodium {
  if (!sodium) throw new RoamdError('ERR_AUTH', `${alg} needs libsodium: call initCrypto() first`);
  return sodium;
}
