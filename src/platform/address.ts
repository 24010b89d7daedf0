/**
 * User-facing IPv4 addresses and prefixes at the edges (config, logs, CLI, JSON); everything inside
 * roamd uses uint32 numbers. The grammar is ip-address's (Address4): four decimal octets 0-255
 * without leading zeros, prefix lengths /0-/32 in one or two digits. It is parsed here by hand
 * instead of bundling ip-address: its Address4 class was 10 KB of the bundle for these four
 * functions, and the daemon parses every datagram's source address (test/unit/platform/address.test.ts
 * checks this module against ip-address on a corpus and on random strings).
 */
import { RoamdError } from '../errors';

/** Dotted-quad form of a uint32 address. */
export function ipToString(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
}

/** text[0, end) as a dotted quad, or -1. */
function quad(text: string, end: number): number {
  let addr = 0, octet = 0, digits = 0, dots = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) { // '.'
      if (digits === 0 || dots === 3) return -1;
      addr = addr * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && octet === 0) return -1; // leading zero
      octet = octet * 10 + c - 0x30;
      if (octet > 255) return -1;
      digits++;
    } else return -1;
  }
  return digits === 0 || dots !== 3 ? -1 : addr * 256 + octet;
}

/** Parses a dotted-quad IPv4 address (no prefix) into a uint32; throws ERR_CONFIG_INVALID. */
export function parseIp(text: string): number {
  const a = quad(text, text.length);
  if (a < 0) throw new RoamdError('ERR_CONFIG_INVALID', `'${text}' is not an IPv4 address`);
  return a;
}

export interface Prefix { network: number; length: number }

/** Parses 'a.b.c.d/n' into its network address and length; the host bits must be zero. */
export function parsePrefix(text: string): Prefix {
  const slash = text.lastIndexOf('/');
  const len = /^\d{1,2}$/.test(text.slice(slash + 1)) ? Number(text.slice(slash + 1)) : 33;
  const addr = slash < 0 || len > 32 ? -1 : quad(text, slash);
  if (addr < 0) throw new RoamdError('ERR_CONFIG_INVALID', `'${text}' is not an IPv4 prefix (a.b.c.d/n)`);
  const network = len === 0 ? 0 : (addr & (0xffffffff << (32 - len))) >>> 0;
  if (addr !== network) {
    throw new RoamdError('ERR_CONFIG_INVALID', `'${text}' has host bits set (network is ${ipToString(network)}/${len})`);
  }
  return { network, length: len };
}

export function prefixContains(p: Prefix, addr: number): boolean {
  if (p.length === 0) return true;
  const mask = (0xffffffff << (32 - p.length)) >>> 0;
  return ((addr & mask) >>> 0) === p.network;
}
