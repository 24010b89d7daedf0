/**
 * Mobility security associations (RFC 5944 §1.6, §5.1): per peer and SPI, an algorithm, a key
 * and a replay protection method. The key is held in a private field: it never appears in JSON,
 * util.inspect output or logs.
 */
import { inspect } from 'node:util';
import { RoamdError } from '../errors';
import { Algorithm, AUTHENTICATOR_LENGTH, KEY_LENGTH, computeMac } from './algorithms';
import { HmacMd5 } from './hmac-md5';

export type ReplayMethod = 'timestamp' | 'nonce';

/** Default timestamp tolerance, RFC 5944 §5.7.1 ("a default value of 7 seconds MAY be used"). */
export const DEFAULT_REPLAY_WINDOW_S = 7;

/** SPIs 0-255 are reserved and MUST NOT be used in any mobility security association, RFC 5944 §1.6. */
export const MIN_SPI = 256;

export interface SaParams {
  spi: number;
  algorithm: Algorithm;
  key: Uint8Array;
  replay?: ReplayMethod;
  /** Timestamp tolerance in seconds (RFC 5944 §5.7.1). */
  replayWindow?: number;
}

export class SecurityAssociation {
  readonly spi: number;
  readonly algorithm: Algorithm;
  readonly replay: ReplayMethod;
  readonly replayWindow: number;
  readonly #key: Uint8Array;
  /** HMAC-MD5 with the key pads precomputed: the hot path of every registration (docs/performance.md). */
  #md5: HmacMd5 | undefined;

  constructor(p: SaParams) {
    if (!Number.isInteger(p.spi) || p.spi < MIN_SPI || p.spi > 0xffffffff) {
      throw new RoamdError('ERR_AUTH', `SPI ${p.spi} is not usable: SPIs 0-255 are reserved (RFC 5944 §1.6), max 4294967295`);
    }
    const lim = KEY_LENGTH[p.algorithm];
    if (!lim) throw new RoamdError('ERR_AUTH', `unknown algorithm ${String(p.algorithm)}`);
    if (p.key.length < lim.min || p.key.length > lim.max) {
      throw new RoamdError('ERR_AUTH', `${p.algorithm} key must be ${lim.min}..${lim.max} bytes, got ${p.key.length}`);
    }
    const window = p.replayWindow ?? DEFAULT_REPLAY_WINDOW_S;
    if (!(window > 0 && window <= 3600)) throw new RoamdError('ERR_AUTH', `replay window ${window} s must be in (0, 3600]`);
    this.spi = p.spi;
    this.algorithm = p.algorithm;
    this.replay = p.replay ?? 'timestamp';
    this.replayWindow = window;
    this.#key = Uint8Array.from(p.key);
  }

  get authenticatorLength(): number {
    return AUTHENTICATOR_LENGTH[this.algorithm];
  }

  /** The authenticator of `data` under this SA. */
  mac(data: Uint8Array): Uint8Array {
    if (this.algorithm === 'hmac-md5') return (this.#md5 ??= new HmacMd5(this.#key)).mac(data);
    return computeMac(this.algorithm, this.#key, data);
  }

  /** Writes the authenticator of data[start, end) to out at `at` (authenticatorLength bytes). */
  macInto(data: Uint8Array, start: number, end: number, out: Uint8Array, at: number): void {
    if (this.algorithm === 'hmac-md5') (this.#md5 ??= new HmacMd5(this.#key)).macInto(data, start, end, out, at);
    else out.set(computeMac(this.algorithm, this.#key, data.subarray(start, end)), at);
  }

  toJSON(): Record<string, unknown> {
    return { spi: this.spi, algorithm: this.algorithm, replay: this.replay, replayWindow: this.replayWindow, key: '<redacted>' };
  }

  [inspect.custom](): string {
    return `SecurityAssociation(spi=${this.spi} algorithm=${this.algorithm} replay=${this.replay} key=<redacted>)`;
  }
}

/** SAs by (peer, SPI); the peer is a home address, NAI or agent address as a string. */
export class SaStore {
  readonly #byKey = new Map<string, SecurityAssociation>();

  add(peer: string, sa: SecurityAssociation): void {
    this.#byKey.set(`${peer}\u0000${sa.spi}`, sa);
  }

  get(peer: string, spi: number): SecurityAssociation | undefined {
    return this.#byKey.get(`${peer}\u0000${spi}`);
  }

  delete(peer: string, spi: number): boolean {
    return this.#byKey.delete(`${peer}\u0000${spi}`);
  }

  get size(): number {
    return this.#byKey.size;
  }
}
