/**
 * A small deterministic PRNG (mulberry32): uniform numbers in [0, 1) from a
 * 32-bit seed. For tests, fuzzing and soaks that must replay from a seed, and
 * for protocol cores that take their randomness as an input (backoff jitter,
 * CoAP's ACK_RANDOM_FACTOR) seeded from the platform's random bytes.
 * Not for secrets.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
