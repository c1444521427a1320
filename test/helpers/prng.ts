// Deterministic randomness for statistical tests, and the engine's sampling
// flow (calibration run, noise accumulator, candidate run, judgement) driven
// by any source of uniform numbers, so the tests (seeded) and bench/noise.ts
// (fresh randomness) measure exactly the same thing.
import type { Direction } from '../../scripts/lib/schema.ts';
import { addNoise, judgeImprovement, needMoreSamples, noiseOf } from '../../scripts/lib/noise.ts';

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

export type TrialOptions = {
  direction: Direction;
  /** Draws one benchmark sample of the baseline code. */
  baseline: () => number;
  /** Draws one benchmark sample of the candidate code. */
  candidate: () => number;
  repeats?: 'auto' | number;
  minImprovement?: number | string;
};

/** One pass of the engine's flow; returns the verdict and the samples each run took. */
export function runTrial(o: TrialOptions): { kept: boolean; baselineSamples: number; candidateSamples: number } {
  const repeats = o.repeats ?? 'auto';
  const base: number[] = [];
  do base.push(o.baseline());
  while (needMoreSamples({ repeats, samples: base, best: null, noise: null, direction: o.direction }));
  const noise = noiseOf(addNoise(null, base));
  const cand: number[] = [];
  do cand.push(o.candidate());
  while (needMoreSamples({ repeats, samples: cand, best: base, noise, direction: o.direction }));
  const j = judgeImprovement({
    direction: o.direction,
    candidate: cand,
    best: base,
    noise,
    minImprovement: o.minImprovement ?? 0,
  });
  return { kept: j.improved, baselineSamples: base.length, candidateSamples: cand.length };
}

/**
 * Gaussian benchmark with a coefficient of variation `cv` around `level`;
 * `effect` is the candidate's real relative gain in the metric's direction
 * (0.05 = 5% better: 5% lower for 'lower', 5% higher for 'higher').
 */
export function keepRate(o: {
  u: Uniform;
  trials: number;
  direction: Direction;
  cv: number;
  effect: number;
  level?: number;
}): { rate: number; meanCandidateSamples: number; meanBaselineSamples: number } {
  const g = gaussian(o.u);
  const level = o.level ?? 100;
  const candLevel = o.direction === 'lower' ? level * (1 - o.effect) : level * (1 + o.effect);
  let kept = 0;
  let nc = 0;
  let nb = 0;
  for (let t = 0; t < o.trials; t++) {
    const r = runTrial({
      direction: o.direction,
      baseline: () => level * (1 + o.cv * g()),
      candidate: () => candLevel + level * o.cv * g(),
    });
    if (r.kept) kept++;
    nc += r.candidateSamples;
    nb += r.baselineSamples;
  }
  return { rate: kept / o.trials, meanCandidateSamples: nc / o.trials, meanBaselineSamples: nb / o.trials };
}
