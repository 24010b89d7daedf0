/**
 * Typed, validated reads of UCI options. Every error names the file, the line, the section, the
 * option and what is allowed, e.g.
 *   /etc/config/roamd:4: option 'port' of section 'main' (roamd): '99999' is not allowed: an integer 1..65535
 */
import { readFileSync, statSync } from 'node:fs';
import { RoamdError } from '../errors';
import { UciSection, UciPackage, getList, sectionsOfType } from './uci';
import { parseIp, parsePrefix, Prefix } from './address';
import { SecurityAssociation, ReplayMethod } from '../auth/security-association';
import { isAlgorithm, ALGORITHMS } from '../auth/algorithms';

export class SectionReader {
  readonly used = new Set<string>();

  constructor(readonly file: string, readonly s: UciSection) {}

  get label(): string {
    return `section '${this.s.name}' (${this.s.type})`;
  }

  fail(option: string, why: string): never {
    const o = this.s.options.get(option);
    throw new RoamdError('ERR_CONFIG_INVALID', `${this.file}:${o?.line ?? this.s.line}: option '${option}' of ${this.label}: ${why}`);
  }

  private raw(name: string): string | undefined {
    this.used.add(name);
    const o = this.s.options.get(name);
    if (!o) return undefined;
    if (Array.isArray(o.value)) this.fail(name, 'is a list, expected a single value');
    return o.value;
  }

  has(name: string): boolean {
    return this.s.options.has(name);
  }

  str(name: string, def?: string): string {
    const v = this.raw(name) ?? def;
    if (v === undefined) this.fail(name, 'is required');
    return v;
  }

  optStr(name: string): string | undefined {
    return this.raw(name);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], def?: T): T {
    const v = this.str(name, def);
    if (!(allowed as readonly string[]).includes(v)) this.fail(name, `'${v}' is not allowed: one of ${allowed.join(', ')}`);
    return v as T;
  }

  int(name: string, min: number, max: number, def?: number): number {
    const v = this.raw(name);
    if (v === undefined) {
      if (def === undefined) this.fail(name, 'is required');
      return def;
    }
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) this.fail(name, `'${v}' is not allowed: an integer ${min}..${max}`);
    return Number(v);
  }

  /** UCI booleans as OpenWrt's config_get_bool reads them. */
  bool(name: string, def: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return def;
    if (['1', 'yes', 'on', 'true', 'enabled'].includes(v)) return true;
    if (['0', 'no', 'off', 'false', 'disabled'].includes(v)) return false;
    this.fail(name, `'${v}' is not allowed: a boolean (1/0, yes/no, on/off, true/false, enabled/disabled)`);
  }

  ip(name: string, def?: string): number {
    const v = this.str(name, def);
    try {
      return parseIp(v);
    } catch {
      this.fail(name, `'${v}' is not allowed: an IPv4 address`);
    }
  }

  optIp(name: string): number | undefined {
    return this.has(name) ? this.ip(name) : undefined;
  }

  prefix(name: string, def?: string): Prefix {
    const v = this.str(name, def);
    try {
      return parsePrefix(v);
    } catch (e) {
      this.fail(name, `'${v}' is not allowed: ${(e as Error).message}`);
    }
  }

  /** An interface address with its prefix length, 'a.b.c.d/n' (host bits allowed). */
  ipWithPrefix(name: string): { address: number; prefixLength: number } {
    const v = this.str(name);
    const m = /^([^/]+)\/(\d{1,2})$/.exec(v);
    let address = -1;
    if (m) {
      try {
        address = parseIp(m[1]!);
      } catch {
        address = -1;
      }
    }
    if (!m || address < 0 || Number(m[2]) > 32) this.fail(name, `'${v}' is not allowed: an address with its prefix length, a.b.c.d/n`);
    return { address, prefixLength: Number(m[2]) };
  }

  list(name: string): string[] {
    this.used.add(name);
    return this.s.options.has(name) ? getList(this.s, name) : [];
  }

  /**
   * A security association from options spi, algorithm, key (hex) or key_file (a file holding the
   * hex key, readable by its owner only), replay and replay_window. `prefix` selects a family of
   * options (e.g. 'proxy_' → proxy_spi, proxy_key...).
   */
  sa(prefix = ''): SecurityAssociation {
    const spi = this.int(`${prefix}spi`, 256, 0xffffffff);
    const alg = this.str(`${prefix}algorithm`, 'hmac-md5');
    if (!isAlgorithm(alg)) this.fail(`${prefix}algorithm`, `'${alg}' is not allowed: one of ${ALGORITHMS.join(', ')}`);
    const replay = this.oneOf<ReplayMethod>(`${prefix}replay`, ['timestamp', 'nonce'], 'timestamp');
    const replayWindow = this.int(`${prefix}replay_window`, 1, 3600, 7);
    let hex = this.optStr(`${prefix}key`);
    const keyFile = this.optStr(`${prefix}key_file`);
    if (hex !== undefined && keyFile !== undefined) this.fail(`${prefix}key_file`, `give either ${prefix}key or ${prefix}key_file, not both`);
    if (keyFile !== undefined) hex = readKeyFile(this, `${prefix}key_file`, keyFile);
    if (hex === undefined) this.fail(`${prefix}key`, `is required (or ${prefix}key_file)`);
    const clean = hex.trim().replace(/^0x/i, '');
    // Never echo the key itself in an error.
    if (!/^([0-9a-fA-F]{2})+$/.test(clean)) this.fail(keyFile ? `${prefix}key_file` : `${prefix}key`, 'is not allowed: the key must be an even number of hex digits');
    try {
      return new SecurityAssociation({ spi, algorithm: alg, key: Buffer.from(clean, 'hex'), replay, replayWindow });
    } catch (e) {
      this.fail(`${prefix}key`, (e as Error).message);
    }
  }

  /** Options present in the section that nothing read: typos, reported as errors. */
  checkUnknown(): void {
    for (const name of this.s.options.keys()) {
      if (!this.used.has(name)) this.fail(name, `is not a known option of a '${this.s.type}' section (see docs/config.md)`);
    }
  }
}

function readKeyFile(r: SectionReader, option: string, path: string): string {
  let st;
  try {
    st = statSync(path);
  } catch {
    r.fail(option, `cannot read '${path}'`);
  }
  // Keys are secrets: refuse files that group or others can read or write.
  if ((st.mode & 0o077) !== 0) r.fail(option, `'${path}' has mode ${(st.mode & 0o777).toString(8)}: keys must not be accessible by group or others (chmod 600)`);
  return readFileSync(path, 'utf8');
}

/** Readers for every section of a type, in file order. */
export function sections(file: string, p: UciPackage, type: string): SectionReader[] {
  return sectionsOfType(p, type).map((s) => new SectionReader(file, s));
}

/** Exactly one section of a type (e.g. `config roamd`). */
export function single(file: string, p: UciPackage, type: string, required: boolean): SectionReader | undefined {
  const all = sections(file, p, type);
  if (all.length > 1) throw new RoamdError('ERR_CONFIG_INVALID', `${file}:${all[1]!.s.line}: only one '${type}' section is allowed`);
  if (required && all.length === 0) throw new RoamdError('ERR_CONFIG_INVALID', `${file}: a 'config ${type}' section is required`);
  return all[0];
}

/** Section types a role may use; anything else is a mistake worth reporting. */
export function checkSectionTypes(file: string, p: UciPackage, allowed: readonly string[]): void {
  for (const s of p.sections) {
    if (!allowed.includes(s.type)) {
      throw new RoamdError('ERR_CONFIG_INVALID', `${file}:${s.line}: section type '${s.type}' is not used by this role (allowed: ${allowed.join(', ')})`);
    }
  }
}
