/**
 * User-facing IPv4 addresses and prefixes at the edges (config, logs, CLI, JSON): parsed and
 * printed with ip-address; everything inside roamd uses uint32 numbers.
 */
// Only the IPv4 module: the package index pulls in IPv6 as well (30 KB of the bundle).
import { Address4 } from 'ip-address/dist/ipv4';
import { RoamdError } from '../errors';

/** Dotted-quad form of a uint32 address. */
export function ipToString(addr: number): string {
  return Address4.fromInteger(addr >>> 0).correctForm();
}

/** Parses a dotted-quad IPv4 address (no prefix) into a uint32; throws ERR_CONFIG_INVALID. */
export function parseIp(text: string): number {
  if (!Address4.isValid(text) || text.includes('/')) {
    throw new RoamdError('ERR_CONFIG_INVALID', `'${text}' is not an IPv4 address`);
  }
  return Number(new Address4(text).bigInt());
}

export interface Prefix { network: number; length: number }

/** Parses 'a.b.c.d/n' into its network address and length; the host bits must be zero. */
export function parsePrefix(text: string): Prefix {
  if (!Address4.isValid(text) || !text.includes('/')) {
    throw new RoamdError('ERR_CONFIG_INVALID', `'${text}' is not an IPv4 prefix (a.b.c.d/n)`);
  }
  const a = new Address4(text);
  const network = Number(a.startAddress().bigInt());
  if (parseIp(text.slice(0, text.indexOf('/'))) !== network) {
    throw new RoamdError('ERR_CONFIG_INVALID', `'${text}' has host bits set (network is ${a.startAddress().correctForm()}/${a.subnetMask})`);
  }
  return { network, length: a.subnetMask };
}

export function prefixContains(p: Prefix, addr: number): boolean {
  if (p.length === 0) return true;
  const mask = (0xffffffff << (32 - p.length)) >>> 0;
  return ((addr & mask) >>> 0) === p.network;
}
