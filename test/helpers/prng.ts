// Deterministic randomness for statistical tests and bench/noise.ts: the
// same seed gives the same stream.

export type Uniform = () => number;

/** mulberry32: a small 32-bit generator, uniform in [0, 1). Same seed, same stream. */
export function mulberry32(seed: number): Uniform {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal deviates by the Box-Muller transform. */
export function gaussian(u: Uniform): () => number {
  return () => {
    const u1 = 1 - u(); // (0, 1]: log(0) is not an option
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u());
  };
}
