/** Builds a Buffer from hex written field by field (spaces, newlines and # comments allowed). */
export function hx(text: string): Buffer {
  const clean = text.replace(/#[^\n]*/g, '').replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`bad hex vector: ${clean}`);
  return Buffer.from(clean, 'hex');
}

/** An IPv4 address as uint32. */
export function ip(a: string): number {
  const p = a.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}
