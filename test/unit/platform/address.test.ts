// src/platform/address.ts against ip-address (Address4), the reference it replaced in the bundle:
// the same strings accepted and rejected, the same numbers, the same printed form.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Address4 } from 'ip-address/dist/ipv4';
import { mulberry32, below } from '../../util/prng';
import { ipToString, parseIp, parsePrefix } from '../../../src/platform/address';

/** What the old ip-address implementation returned (undefined = threw ERR_CONFIG_INVALID). */
function refIp(text: string): number | undefined {
  if (!Address4.isValid(text) || text.includes('/')) return undefined;
  return Number(new Address4(text).bigInt());
}
function refPrefix(text: string): { network: number; length: number } | 'host-bits' | undefined {
  if (!Address4.isValid(text) || !text.includes('/')) return undefined;
  const a = new Address4(text);
  const network = Number(a.startAddress().bigInt());
  return refIp(text.slice(0, text.indexOf('/'))) !== network ? 'host-bits' : { network, length: a.subnetMask };
}
function ours<T>(f: () => T): T | undefined | 'host-bits' {
  try {
    return f();
  } catch (e) {
    const msg = (e as Error).message;
    assert.is((e as { code?: string }).code, 'ERR_CONFIG_INVALID');
    return msg.includes('host bits') ? 'host-bits' : undefined;
  }
}

const CORPUS = [
  '', '.', '...', '0.0.0.0', '255.255.255.255', '256.0.0.0', '1.2.3', '1.2.3.4.5', '1.2.3.4.', '.1.2.3.4',
  '01.2.3.4', '1.02.3.4', '1.2.3.00', '1.2.3.0', '10.1.0.50', '192.0.2.10', ' 1.2.3.4', '1.2.3.4 ', '1..2.3',
  '1.2.3.4/', '1.2.3.4/0', '1.2.3.4/00', '0.0.0.0/0', '0.0.0.0/00', '10.0.0.0/8', '10.0.0.0/08', '10.1.0.0/16',
  '10.1.0.1/16', '10.1.0.0/33', '10.1.0.0/99', '10.1.0.0/123', '10.1.0.0/-1', '10.1.0.0/+8', '10.1.0.0/8/8',
  '255.255.255.255/32', '255.255.255.254/31', '1.2.3.4/32', '1.2.3.4/3a', '1e1.2.3.4', '0x1.2.3.4', '1.2.3.4\n',
  '１.2.3.4', '1.2.3.٤', '999.1.1.1', '249.250.251.252', '199.200.201.255', '1.2.3.4/1 ', '/24', '1.2.3.4//24',
];

test('corpus: parseIp and parsePrefix accept, reject and compute as ip-address did', () => {
  for (const s of CORPUS) {
    assert.equal(ours(() => parseIp(s)), refIp(s), `parseIp(${JSON.stringify(s)})`);
    assert.equal(ours(() => parsePrefix(s)), refPrefix(s), `parsePrefix(${JSON.stringify(s)})`);
  }
});

test('random near-addresses (seed 8): same verdicts and values as ip-address', () => {
  const r = mulberry32(8);
  const pick = <T>(xs: readonly T[]): T => xs[below(r, xs.length)]!;
  // Octets that are valid, too large, zero-padded, empty or not decimal; separators mostly dots.
  const octet = (): string => below(r, 10) < 8 ? String(below(r, 256)) : pick([() => String(below(r, 1000)), () => `0${below(r, 100)}`, () => '', () => pick(['a', ' ', '+1', '1e1', '٤'])])();
  const sep = (): string => (below(r, 10) ? '.' : pick(['', '..', '/', ' ', ',']));
  const suffix = (): string => pick([() => '', () => `/${below(r, 41)}`, () => `/0${below(r, 10)}`, () => pick(['/', '/-1', '/ 8', '/8/8', '/1a', '/100'])])();
  let valid = 0, prefixes = 0, hostBits = 0;
  for (let i = 0; i < 20000; i++) {
    const groups = below(r, 8) ? 4 : pick([3, 5]);
    let s = octet();
    for (let k = 1; k < groups; k++) s += sep() + octet();
    s += suffix();
    const ip = refIp(s), px = refPrefix(s);
    if (ip !== undefined) valid++;
    if (px === 'host-bits') hostBits++;
    else if (px !== undefined) prefixes++;
    assert.equal(ours(() => parseIp(s)), ip, `parseIp(${JSON.stringify(s)})`);
    assert.equal(ours(() => parsePrefix(s)), px, `parsePrefix(${JSON.stringify(s)})`);
  }
  // The generator must reach both verdicts, or the comparison says nothing.
  assert.ok(valid > 500 && prefixes > 50 && hostBits > 500, `valid ${valid}, prefixes ${prefixes}, host bits ${hostBits}`);
});

test('random well-formed addresses and prefixes (seed 9): round trip and same numbers', () => {
  const r = mulberry32(9);
  for (let i = 0; i < 20000; i++) {
    const a = r();
    const s = ipToString(a);
    assert.is(s, Address4.fromInteger(a).correctForm());
    assert.is(parseIp(s), a);
    assert.is(parseIp(s), refIp(s));
    const len = below(r, 33);
    const p = `${s}/${len}`;
    assert.equal(ours(() => parsePrefix(p)), refPrefix(p), p);
  }
});

test.run();
