import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ALPHA,
  CALIBRATION_SAMPLES,
  CANDIDATE_SAMPLES,
  DETERMINISTIC_SAMPLES,
  FUTILITY_MIN_SAMPLES,
  MAX_AUTO_SAMPLES,
  addNoise,
  center,
  judgeImprovement,
  medianVarianceFactor,
  needMoreSamples,
  noiseOf,
  resolveMinImprovement,
} from '../scripts/lib/noise.ts';
import { median, variance } from '../scripts/lib/stats.ts';
import { gaussian, keepRate, mulberry32, runTrial } from './helpers/prng.ts';

const TRIALS = 2000;

describe('the target: Gaussian noise with a 3% CV, default settings, the engine flow', () => {
  // Each case has its own seed so the cases do not share a stream. With 2,000
  // trials the standard error of a rate near 2.5% is ~0.35%, near 96% ~0.45%.
  for (const [direction, seed] of [
    ['lower', 1],
    ['higher', 2],
  ] as const) {
    it(`${direction}: a null change is kept at most 5% of the time`, () => {
      const r = keepRate({ u: mulberry32(1000 + seed), trials: TRIALS, direction, cv: 0.03, effect: 0 });
      expect(r.rate).toBeLessThanOrEqual(0.05);
      // Also not absurdly conservative: the design spends about ALPHA.
      expect(r.rate).toBeGreaterThan(ALPHA / 4);
    });

    it(`${direction}: a real 5% improvement is kept at least 90% of the time`, () => {
      const r = keepRate({ u: mulberry32(2000 + seed), trials: TRIALS, direction, cv: 0.03, effect: 0.05 });
      expect(r.rate).toBeGreaterThanOrEqual(0.9);
    });

    it(`${direction}: a real 5% worsening is (almost) never kept and stops early`, () => {
      const r = keepRate({ u: mulberry32(3000 + seed), trials: TRIALS, direction, cv: 0.03, effect: -0.05 });
      expect(r.rate).toBeLessThan(0.002);
      // Futility: most worse candidates stop at the first look.
      expect(r.meanCandidateSamples).toBeLessThan(FUTILITY_MIN_SAMPLES + 1);
    });
  }

  it('null candidates are cheaper than winners (futility stop), winners take the full candidate run', () => {
    const nul = keepRate({ u: mulberry32(41), trials: TRIALS, direction: 'lower', cv: 0.03, effect: 0 });
    const win = keepRate({ u: mulberry32(42), trials: TRIALS, direction: 'lower', cv: 0.03, effect: 0.05 });
    expect(nul.meanBaselineSamples).toBe(CALIBRATION_SAMPLES);
    expect(nul.meanCandidateSamples).toBeLessThan(0.7 * CANDIDATE_SAMPLES);
    expect(win.meanCandidateSamples).toBeGreaterThan(0.95 * CANDIDATE_SAMPLES);
    expect(win.meanCandidateSamples).toBeLessThanOrEqual(CANDIDATE_SAMPLES);
  });

  it('the rates do not depend on the metric level (scale invariance)', () => {
    const a = keepRate({ u: mulberry32(7), trials: 500, direction: 'lower', cv: 0.03, effect: 0.05, level: 100 });
    const b = keepRate({ u: mulberry32(7), trials: 500, direction: 'lower', cv: 0.03, effect: 0.05, level: 0.001 });
    // Same seed, same draws up to rounding: at most a borderline trial may flip.
    expect(Math.abs(b.rate - a.rate)).toBeLessThanOrEqual(2 / 500);
    expect(a.rate).toBeGreaterThan(0.8);
  });
});

describe('deterministic benchmarks', () => {
  it('take 3 samples for the baseline and ONE per candidate run', () => {
    for (const direction of ['lower', 'higher'] as const) {
      for (const delta of [0, 1, -1, 0.5]) {
        const r = runTrial({ direction, baseline: () => 42.5, candidate: () => 42.5 + delta });
        expect(r.baselineSamples).toBe(DETERMINISTIC_SAMPLES);
        expect(r.candidateSamples).toBe(1);
        // Any strict improvement counts when the noise is zero.
        const better = direction === 'lower' ? delta < 0 : delta > 0;
        expect(r.kept).toBe(better);
      }
    }
  });

  it('values whose naive mean is inexact (0.1) still count as zero noise', () => {
    const r = runTrial({ direction: 'lower', baseline: () => 0.1, candidate: () => 0.1 });
    expect(r.baselineSamples).toBe(3);
    expect(noiseOf(addNoise(null, [0.1, 0.1, 0.1]))).toEqual({ sigma: 0, df: 2 });
    expect(r.candidateSamples).toBe(1);
    expect(r.kept).toBe(false);
  });

  it('a tiny deterministic improvement is kept, equality is not', () => {
    const best = [1000, 1000, 1000];
    const noise = noiseOf(addNoise(null, best));
    expect(judgeImprovement({ direction: 'lower', candidate: [999.999], best, noise, minImprovement: 0 }).improved).toBe(true);
    expect(judgeImprovement({ direction: 'lower', candidate: [1000], best, noise, minImprovement: 0 }).improved).toBe(false);
  });
});

describe('repeats: N takes exactly N samples', () => {
  for (const n of [1, 2, 5, 30]) {
    it(`repeats ${n}`, () => {
      const g = gaussian(mulberry32(n));
      for (const direction of ['lower', 'higher'] as const) {
        const noisy = runTrial({ direction, repeats: n, baseline: () => 100 + g(), candidate: () => 200 + g() });
        expect(noisy.baselineSamples).toBe(n);
        expect(noisy.candidateSamples).toBe(n);
        const flat = runTrial({ direction, repeats: n, baseline: () => 5, candidate: () => 5 });
        expect(flat.baselineSamples).toBe(n);
        expect(flat.candidateSamples).toBe(n);
      }
    });
  }

  it('needMoreSamples with a number ignores the noise and the best', () => {
    const noise = { sigma: 0, df: 10 };
    expect(needMoreSamples({ repeats: 4, samples: [1, 1, 1], best: [1], noise, direction: 'lower' })).toBe(true);
    expect(needMoreSamples({ repeats: 4, samples: [1, 1, 1, 1], best: null, noise: null, direction: 'lower' })).toBe(false);
  });
});

describe('needMoreSamples (auto)', () => {
  const base = { repeats: 'auto' as const, direction: 'lower' as const };

  it('calibration: continues to CALIBRATION_SAMPLES when the first samples differ', () => {
    const s = [10, 11, 10];
    expect(needMoreSamples({ ...base, samples: s, best: null, noise: null })).toBe(true);
    const full = Array.from({ length: CALIBRATION_SAMPLES }, (_, k) => 10 + (k % 2));
    expect(needMoreSamples({ ...base, samples: full.slice(0, -1), best: null, noise: null })).toBe(true);
    expect(needMoreSamples({ ...base, samples: full, best: null, noise: null })).toBe(false);
  });

  it('calibration: 1 or 2 identical samples are not yet proof', () => {
    expect(needMoreSamples({ ...base, samples: [5], best: null, noise: null })).toBe(true);
    expect(needMoreSamples({ ...base, samples: [5, 5], best: null, noise: null })).toBe(true);
    expect(needMoreSamples({ ...base, samples: [5, 5, 5], best: null, noise: null })).toBe(false);
  });

  it('calibration: identical samples do not override noise already seen in the segment', () => {
    const noise = { sigma: 2, df: 19 };
    expect(needMoreSamples({ ...base, samples: [5, 5, 5], best: null, noise })).toBe(true);
  });

  it('a candidate with unknown noise calibrates', () => {
    expect(needMoreSamples({ ...base, samples: [5, 6, 5], best: [5, 5], noise: null })).toBe(true);
    expect(needMoreSamples({ ...base, samples: [5, 5, 5], best: [5], noise: null })).toBe(false);
  });

  it('a candidate on a noisy benchmark: no futility stop before FUTILITY_MIN_SAMPLES, even when much worse', () => {
    const best = [100, 101, 99, 100];
    const noise = { sigma: 1, df: 3 };
    for (let n = 1; n < FUTILITY_MIN_SAMPLES; n++) {
      expect(needMoreSamples({ ...base, samples: Array(n).fill(150), best, noise })).toBe(true);
    }
    expect(needMoreSamples({ ...base, samples: Array(FUTILITY_MIN_SAMPLES).fill(150), best, noise })).toBe(false);
  });

  it('a candidate that looks clearly better goes on to CANDIDATE_SAMPLES, then stops', () => {
    const best = Array.from({ length: 20 }, (_, k) => 100 + (k % 3) - 1);
    const noise = noiseOf(addNoise(null, best));
    const good = (n: number) => Array.from({ length: n }, (_, k) => 90 + (k % 3) - 1);
    for (let n = 1; n < CANDIDATE_SAMPLES; n++) {
      expect(needMoreSamples({ ...base, samples: good(n), best, noise })).toBe(true);
    }
    expect(needMoreSamples({ ...base, samples: good(CANDIDATE_SAMPLES), best, noise })).toBe(false);
  });

  it('futility is direction-aware', () => {
    const best = [100, 101, 99, 100, 100];
    const noise = { sigma: 1, df: 4 };
    const low = [90, 90, 91, 89];
    expect(needMoreSamples({ ...base, direction: 'lower', samples: low, best, noise })).toBe(true);
    expect(needMoreSamples({ ...base, direction: 'higher', samples: low, best, noise })).toBe(false);
  });

  it('never asks for more than MAX_AUTO_SAMPLES', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: MAX_AUTO_SAMPLES, maxLength: 40 }),
        fc.option(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 20 })),
        fc.option(fc.record({ sigma: fc.double({ min: 0, max: 1e3, noNaN: true }), df: fc.integer({ min: 1, max: 100 }) })),
        fc.constantFrom('lower' as const, 'higher' as const),
        (samples, best, noise, direction) =>
          needMoreSamples({ repeats: 'auto', samples, best, noise, direction }) === false,
      ),
    );
  });
});

describe('noise accumulator', () => {
  it('pools within-run squared deviations', () => {
    // [1,2,3]: mean 2, ss 1+0+1 = 2, df 2.
    const a = addNoise(null, [1, 2, 3]);
    expect(a).toEqual({ ss: 2, df: 2 });
    // [10,10,13]: mean 11, ss 1+1+4 = 6, df 2 → pooled ss 8, df 4.
    const b = addNoise(a, [10, 10, 13]);
    expect(b).toEqual({ ss: 8, df: 4 });
    expect(noiseOf(b)).toEqual({ sigma: Math.sqrt(2), df: 4 });
  });

  it('ignores differences between run levels (only within-run scatter is noise)', () => {
    const a = addNoise(addNoise(null, [1, 2, 3]), [1001, 1002, 1003]);
    expect(noiseOf(a)?.sigma).toBeCloseTo(1, 12);
  });

  it('a single sample adds nothing; df 0 means unknown', () => {
    expect(noiseOf(null)).toBeNull();
    expect(noiseOf(addNoise(null, [7]))).toBeNull();
    expect(noiseOf({ ss: 0, df: 0 })).toBeNull();
    expect(addNoise({ ss: 3, df: 2 }, [])).toEqual({ ss: 3, df: 2 });
  });

  it('does not mutate its input', () => {
    const acc = { ss: 1, df: 1 };
    addNoise(acc, [1, 2]);
    expect(acc).toEqual({ ss: 1, df: 1 });
  });

  it('recovers a known sigma from many runs (seeded)', () => {
    const g = gaussian(mulberry32(99));
    let acc = null;
    for (let r = 0; r < 200; r++) acc = addNoise(acc, Array.from({ length: 10 }, () => r * 50 + 3 * g()));
    const n = noiseOf(acc);
    expect(n?.df).toBe(1800);
    // sd of the estimate ≈ 3/√(2·1800) ≈ 0.05
    expect(n?.sigma).toBeGreaterThan(2.85);
    expect(n?.sigma).toBeLessThan(3.15);
  });
});

describe('center and the median variance factor', () => {
  it('center is the median', () => {
    expect(center([5, 1, 100])).toBe(5);
    expect(center([4, 1, 2, 3])).toBe(2.5);
  });

  it('k(n) matches a seeded simulation of the variance of the median', () => {
    const g = gaussian(mulberry32(123));
    for (const n of [3, 4, 5, 14, 20, 41, 60]) {
      const reps = 20_000;
      const meds = Array.from({ length: reps }, () => median(Array.from({ length: n }, g)));
      const k = variance(meds) * n;
      // Relative sd of a variance estimated from 20,000 draws ≈ 1%; allow 4%.
      expect(Math.abs(k / medianVarianceFactor(n) - 1)).toBeLessThan(0.04);
    }
  });

  it('k(1) = k(2) = 1 (the median of one or two values is their mean); large n tends to π/2', () => {
    expect(medianVarianceFactor(1)).toBe(1);
    expect(medianVarianceFactor(2)).toBe(1);
    expect(medianVarianceFactor(10_001)).toBeCloseTo(Math.PI / 2, 3);
    expect(medianVarianceFactor(10_000)).toBeCloseTo(Math.PI / 2, 3);
    expect(() => medianVarianceFactor(0)).toThrow(RangeError);
  });
});

describe('judgeImprovement', () => {
  it('computes delta positive-is-better in both directions', () => {
    const lower = judgeImprovement({ direction: 'lower', candidate: [8], best: [10], noise: null, minImprovement: 0 });
    expect(lower.delta).toBe(2);
    expect(lower.improved).toBe(true);
    const higher = judgeImprovement({ direction: 'higher', candidate: [8], best: [10], noise: null, minImprovement: 0 });
    expect(higher.delta).toBe(-2);
    expect(higher.improved).toBe(false);
  });

  it('with zero/unknown noise and single samples, any strict improvement above minImprovement counts', () => {
    const j = (candidate: number, minImprovement: number | string) =>
      judgeImprovement({ direction: 'lower', candidate: [candidate], best: [100], noise: null, minImprovement });
    expect(j(99.99, 0).improved).toBe(true);
    expect(j(100, 0).improved).toBe(false);
    expect(j(100, 0).threshold).toBe(0);
  });

  it('minImprovement absolute: in metric units, strictly greater', () => {
    const j = (candidate: number) =>
      judgeImprovement({ direction: 'higher', candidate: [candidate], best: [50], noise: null, minImprovement: 2 });
    expect(j(52).improved).toBe(false);
    expect(j(52.001).improved).toBe(true);
    expect(j(52).threshold).toBe(2);
  });

  it('minImprovement percent: relative to |best centre|, also for a negative best', () => {
    // 2% of |−200| = 4; 'higher': −200 → −195 is +5.
    const j = (candidate: number) =>
      judgeImprovement({ direction: 'higher', candidate: [candidate], best: [-200], noise: null, minImprovement: '2%' });
    expect(j(-195).threshold).toBeCloseTo(4, 12);
    expect(j(-195).improved).toBe(true);
    expect(j(-197).improved).toBe(false);
    expect(resolveMinImprovement('2.5%', 200)).toBeCloseTo(5, 12);
    expect(resolveMinImprovement('0%', 200)).toBe(0);
    expect(() => resolveMinImprovement('two%', 200)).toThrow(RangeError);
    expect(() => resolveMinImprovement(-1, 200)).toThrow(RangeError);
  });

  it('noise threshold: t(0.975, df)·σ·√(k/nb + k/nc), added to minImprovement', () => {
    // One sample each side (k = 1) and a σ known to huge df: t → z = 1.95996,
    // so the margin is 1.95996·σ·√2 = 2.7718·σ.
    const noise = { sigma: 1, df: 1e7 };
    const j = (c: number, min: number) =>
      judgeImprovement({ direction: 'lower', candidate: [c], best: [10], noise, minImprovement: min });
    expect(j(7, 0).threshold).toBeCloseTo(1.959964 * Math.SQRT2, 4);
    expect(j(7.2, 0).improved).toBe(true); // delta 2.8 > 2.772
    expect(j(7.25, 0).improved).toBe(false); // delta 2.75 < 2.772
    expect(j(7, 1).threshold).toBeCloseTo(1 + 1.959964 * Math.SQRT2, 4);
    expect(j(7.2, 1).improved).toBe(false);
  });

  it('the threshold shrinks with more samples and grows with less-known noise', () => {
    const noise = { sigma: 1, df: 1e7 };
    const t = (n: number, nz = noise) =>
      judgeImprovement({ direction: 'lower', candidate: Array(n).fill(9), best: Array(n).fill(10), noise: nz, minImprovement: 0 })
        .threshold;
    expect(t(4)).toBeLessThan(t(1));
    expect(t(16)).toBeLessThan(t(4));
    // n = 16: k = 1.446 → 1.95996·√(2·1.446/16) = 0.8333.
    expect(t(16)).toBeCloseTo(1.959964 * Math.sqrt((2 * 1.446) / 16), 3);
    // σ known from 2 df: t(0.975, 2) = 4.303.
    expect(t(1, { sigma: 1, df: 2 })).toBeCloseTo(4.3027 * Math.SQRT2, 3);
  });

  it('pools the candidate’s own scatter (and the best’s when no noise is known)', () => {
    // No accumulated noise, scatter only in the samples: a margin appears.
    const j = judgeImprovement({ direction: 'lower', candidate: [9, 9.5, 8.5], best: [10, 10, 10], noise: null, minImprovement: 0 });
    expect(j.threshold).toBeGreaterThan(0);
    // Identical samples on both sides: no scatter, no margin.
    const k = judgeImprovement({ direction: 'lower', candidate: [9, 9, 9], best: [10, 10, 10], noise: null, minImprovement: 0 });
    expect(k.threshold).toBe(0);
    expect(k.improved).toBe(true);
  });

  it('reason: improved / within noise / not better / below min improvement', () => {
    const noise = { sigma: 1, df: 1e7 };
    const r = (c: number, nz: { sigma: number; df: number } | null, min: number | string = 0) =>
      judgeImprovement({ direction: 'lower', candidate: [c], best: [100], noise: nz, minImprovement: min }).reason;
    expect(r(95, noise)).toBe('improved 5% (threshold 2.8%)');
    expect(r(99, noise)).toBe('within noise (+1%, threshold 2.8%)');
    expect(r(101, noise)).toBe('not better (-1%, threshold 2.8%)');
    expect(r(99, null, '2%')).toBe('below min improvement (+1%, threshold 2%)');
    // A best of 0 has no relative scale: absolute units.
    expect(judgeImprovement({ direction: 'higher', candidate: [3], best: [0], noise: null, minImprovement: 1 }).reason).toBe(
      'improved 3 (threshold 1)',
    );
  });

  it('refuses empty sides', () => {
    expect(() => judgeImprovement({ direction: 'lower', candidate: [], best: [1], noise: null, minImprovement: 0 })).toThrow(RangeError);
    expect(() => judgeImprovement({ direction: 'lower', candidate: [1], best: [], noise: null, minImprovement: 0 })).toThrow(RangeError);
  });

  const sample = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 12 });
  const noiseArb = fc.option(fc.record({ sigma: fc.double({ min: 0, max: 1e3, noNaN: true }), df: fc.integer({ min: 1, max: 200 }) }));

  it('property: the directions mirror each other (negating the metric swaps them)', () => {
    fc.assert(
      fc.property(sample, sample, noiseArb, (candidate, best, noise) => {
        const lo = judgeImprovement({ direction: 'lower', candidate, best, noise, minImprovement: '1%' });
        const hi = judgeImprovement({
          direction: 'higher',
          candidate: candidate.map((x) => -x),
          best: best.map((x) => -x),
          noise,
          minImprovement: '1%',
        });
        expect(hi.improved).toBe(lo.improved);
        expect(hi.delta).toBeCloseTo(lo.delta, 6);
      }),
    );
  });

  it('property: making the candidate uniformly better never turns a keep into a discard', () => {
    fc.assert(
      fc.property(sample, sample, noiseArb, fc.double({ min: 0, max: 1e3, noNaN: true }), (candidate, best, noise, shift) => {
        const before = judgeImprovement({ direction: 'lower', candidate, best, noise, minImprovement: 0 });
        const after = judgeImprovement({ direction: 'lower', candidate: candidate.map((x) => x - shift), best, noise, minImprovement: 0 });
        if (before.improved) expect(after.improved).toBe(true);
        expect(after.threshold).toBeCloseTo(before.threshold, 6);
        expect(Number.isFinite(after.threshold)).toBe(true);
        expect(after.threshold).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});
