/**
 * Input generators for the fuzz targets (fast-check arbitraries): golden packets mutated by a few
 * byte-level operators, structured generators producing valid messages that are then corrupted,
 * and plain random bytes. Everything is derived from fast-check's seeded generator, so a run
 * replays exactly from its seed.
 */
import fc from 'fast-check';

/** One byte-level mutation: flip a bit, set a byte, truncate, append, insert, delete, duplicate. */
export interface Mutation { op: number; pos: number; val: number; bytes: Uint8Array }

/** Values that hit length and sign boundaries more often than uniform bytes do. */
const INTERESTING = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0x0f, 0x10, 0x20, 0x7f, 0x80, 0x81, 0xfe, 0xff];

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  op: fc.nat(7),
  pos: fc.nat(0xffff),
  val: fc.oneof(fc.constantFrom(...INTERESTING), fc.nat(255)),
  bytes: fc.uint8Array({ maxLength: 24 }),
});

export function applyMutations(input: Uint8Array, muts: readonly Mutation[]): Buffer {
  let b = Buffer.from(input);
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.pos % (b.length + 1);
    switch (m.op) {
      case 0: // flip one bit
        if (b.length) b[at % b.length]! ^= 1 << (m.val & 7);
        break;
      case 1: // set one byte (often a boundary value)
      case 2:
        if (b.length) b[at % b.length] = m.val;
        break;
      case 3: // truncate
        b = b.subarray(0, at);
        break;
      case 4: // append
        b = Buffer.concat([b, m.bytes]);
        break;
      case 5: // insert
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 6: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + (m.val & 15)))]);
        break;
      case 7: { // duplicate a range (repeated extensions, lengths that no longer match)
        const end = Math.min(b.length, at + 1 + (m.val & 31));
        b = Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
        break;
      }
    }
  }
  return Buffer.from(b);
}

/** Golden packets with 0-4 mutations (0 keeps the valid packet itself in the mix). */
export function mutatedArb(seeds: readonly Buffer[]): fc.Arbitrary<Buffer> {
  return fc.tuple(fc.constantFrom(...seeds), fc.array(mutationArb, { maxLength: 4 })).map(([s, m]) => applyMutations(s, m));
}

/** Structured valid messages, then 0-3 mutations. */
export function corruptedArb(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.tuple(valid, fc.array(mutationArb, { maxLength: 3 })).map(([s, m]) => applyMutations(s, m));
}

/** The input mix every decoder gets: mutated goldens, corrupted structured messages, random bytes. */
export function mixArb(seeds: readonly Buffer[], valid?: fc.Arbitrary<Buffer>, prefix?: Uint8Array): fc.Arbitrary<Buffer> {
  const random = prefix
    ? fc.uint8Array({ maxLength: 96 }).map((r) => Buffer.concat([prefix, r]))
    : fc.uint8Array({ maxLength: 128 }).map((r) => Buffer.from(r));
  const parts: Array<fc.WeightedArbitrary<Buffer>> = [{ arbitrary: random, weight: 2 }];
  if (seeds.length) parts.push({ arbitrary: mutatedArb(seeds), weight: 5 });
  if (valid) parts.push({ arbitrary: corruptedArb(valid), weight: 4 });
  return fc.oneof(...parts);
}
