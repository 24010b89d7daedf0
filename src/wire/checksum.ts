/**
 * The Internet checksum (RFC 1071) used by the IPv4 header (RFC 791), ICMP (RFC 792, agent
 * discovery) and UDP (RFC 768, with the IPv4 pseudo-header).
 */

/** One's-complement sum of [off, end) folded to 16 bits, starting from `initial`. */
export function onesSum(buf: Uint8Array, off: number, end: number, initial = 0): number {
  let sum = initial;
  let i = off;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8; // odd length: pad with a zero byte
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Checksum of [off, end): the complement of the one's-complement sum. */
export function internetChecksum(buf: Uint8Array, off: number, end: number, initial = 0): number {
  return ~onesSum(buf, off, end, initial) & 0xffff;
}

/** Sum of the IPv4 pseudo-header for UDP (RFC 768): src, dst, zero, protocol, UDP length. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  let sum = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}
