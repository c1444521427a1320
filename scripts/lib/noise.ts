// The noise policy: how many benchmark samples a run takes, and whether a
// candidate beat the best by more than noise.
//
// Design (proved by test/noise.test.ts and measured fresh by bench/noise.ts):
// - Statistic: the MEDIAN of a run's samples is its centre (the field's
//   convention, and robust to the odd slow sample). Its variance for Gaussian
//   noise is k(n)·σ²/n with k(n) from 1 (n ≤ 2) to π/2 (large n); the exact
//   k(n) is tabulated below so the test is neither optimistic nor wasteful.
// - Noise: σ is pooled from WITHIN-run scatter only (Σ of each run's squared
//   deviations from its own mean over Σ(n − 1)). Run levels legitimately
//   differ (that is what the changes do), so only within-run scatter is noise.
//   The estimate sharpens with every multi-sample run of the segment.
// - Test: keep when delta > minImprovement + t(1−α, df)·σ·√(k(nb)/nb + k(nc)/nc),
//   one-sided, α = 2.5%, df = the pooled degrees of freedom. So a kept change
//   is better than minImprovement with ~97.5% confidence.
// - Sample sizes ('auto'): the calibration run (first of the segment, or noise
//   unknown) takes 20 samples, or stops at 3 when they are identical (zero
//   noise proven); a candidate takes 1 sample when the noise is zero, else up
//   to 14, stopping early (from the 4th) when even an optimistic reading of
//   its improvement cannot reach the final threshold. A futility stop can
//   only turn keeps into discards, so it never inflates false keeps.
// - Measured at CV 3%: false keeps ≈ 2% for a null change, true keeps ≈ 97%
//   for a real 5% gain, ≈ 7 samples per null candidate, 14 for a winner.
//
// Caveat: a benchmark whose output is coarsely quantised (whole milliseconds)
// can print 3 identical values by chance and be taken as deterministic; set
// `repeats` explicitly for such a benchmark.
import type { Direction } from './schema.ts';
import { median, studentTQuantile, sumSquares } from './stats.ts';

export type NoiseAcc = { ss: number; df: number };
export type Noise = { sigma: number; df: number };

/** One-sided level of the keep test: the designed false-keep rate of a null change. */
export const ALPHA = 0.025;
/** Samples of a calibration (baseline) run on a noisy benchmark. */
export const CALIBRATION_SAMPLES = 20;
/** Identical leading samples that prove a benchmark deterministic. */
export const DETERMINISTIC_SAMPLES = 3;
/** Most samples of a candidate run on a noisy benchmark. */
export const CANDIDATE_SAMPLES = 14;
/** First sample count at which a candidate may stop for futility. */
export const FUTILITY_MIN_SAMPLES = 4;
/** How optimistic the futility check is: it stops only when delta + FUTILITY_Z·se is short of the final threshold. */
export const FUTILITY_Z = 1.5;
/** Hard cap on the samples of any 'auto' run. */
export const MAX_AUTO_SAMPLES = Math.max(CALIBRATION_SAMPLES, CANDIDATE_SAMPLES);

/** Add one run's samples to the pooled within-run noise. A single sample carries no scatter (df += 0). */
export function addNoise(acc: NoiseAcc | null, samples: readonly number[]): NoiseAcc {
  const base = acc ?? { ss: 0, df: 0 };
  if (samples.length === 0) return { ss: base.ss, df: base.df };
  return { ss: base.ss + sumSquares(samples), df: base.df + samples.length - 1 };
}

/** The pooled standard deviation of the noise, or null when nothing has been observed (df 0). */
export function noiseOf(acc: NoiseAcc | null): Noise | null {
  if (!acc || acc.df <= 0) return null;
  return { sigma: Math.sqrt(Math.max(0, acc.ss) / acc.df), df: acc.df };
}

/** A run's primary value: the median of its samples. */
export function center(samples: readonly number[]): number {
  return median(samples);
}

// n·Var(median of n standard normals), n = 1..40, by numerical integration of
// the order-statistic densities. Even n averages the two middle values, which
// is why even counts are more efficient (and why the sizes above are even).
const MEDIAN_K = [
  1, 1, 1.346, 1.1928, 1.4342, 1.2885, 1.4731, 1.3455, 1.4949, 1.3833, 1.5088, 1.4102, 1.5184, 1.4304, 1.5254, 1.446,
  1.5308, 1.4585, 1.535, 1.4688, 1.5385, 1.4773, 1.5413, 1.4845, 1.5437, 1.4907, 1.5457, 1.496, 1.5474, 1.5007, 1.5489,
  1.5049, 1.5503, 1.5086, 1.5514, 1.5119, 1.5525, 1.5148, 1.5534, 1.5175,
];

/** k(n) such that Var(median of n samples) = k(n)·σ²/n for Gaussian noise. */
export function medianVarianceFactor(n: number): number {
  if (n < 1) throw new RangeError(`medianVarianceFactor: n must be >= 1, got ${n}`);
  const k = MEDIAN_K[n - 1];
  if (k !== undefined) return k;
  // Beyond the table, fits to it that stay within 0.2% of the exact values.
  return n % 2 === 1 ? Math.PI / 2 - 0.68 / n : ((Math.PI / 2) * n) / (n + 1.4);
}

/** Standard error factor of (median of nb) − (median of nc), in units of σ. */
function seFactor(nb: number, nc: number): number {
  return Math.sqrt(medianVarianceFactor(nb) / nb + medianVarianceFactor(nc) / nc);
}

/** Improvement of `value` over `reference`, positive = better in `direction`. */
export function improvement(direction: Direction, value: number, reference: number): number {
  return direction === 'lower' ? reference - value : value - reference;
}

/**
 * The noise to judge with: `noise` (the runs logged before the candidate)
 * plus the candidate's own scatter; when nothing is known yet, the best's and
 * the candidate's own scatter. `noise` must not already contain the candidate.
 */
function pooled(noise: Noise | null, best: readonly number[], candidate: readonly number[]): Noise {
  let acc: NoiseAcc = noise ? { ss: noise.sigma * noise.sigma * noise.df, df: noise.df } : addNoise(null, best);
  acc = addNoise(acc, candidate);
  return acc.df > 0 ? { sigma: Math.sqrt(Math.max(0, acc.ss) / acc.df), df: acc.df } : { sigma: 0, df: 0 };
}

function noiseMargin(sigma: number, df: number, nb: number, nc: number): number {
  if (!(sigma > 0) || df <= 0) return 0;
  return studentTQuantile(1 - ALPHA, df) * sigma * seFactor(nb, nc);
}

/** minImprovement in metric units: a number as is, "2%" relative to |best centre|. */
export function resolveMinImprovement(minImprovement: number | string, bestCenter: number): number {
  if (typeof minImprovement === 'number') {
    if (!(minImprovement >= 0) || !Number.isFinite(minImprovement)) {
      throw new RangeError(`minImprovement must be a finite number >= 0, got ${minImprovement}`);
    }
    return minImprovement;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(minImprovement);
  if (!m) throw new RangeError(`minImprovement must be a number or a percentage such as "2%", got ${JSON.stringify(minImprovement)}`);
  return (Number(m[1]) / 100) * Math.abs(bestCenter);
}

function allEqual(xs: readonly number[]): boolean {
  return xs.every((x) => x === xs[0]);
}

/**
 * Called after each sample (samples.length ≥ 1): should the run take another?
 * `noise` is the pooled noise of the runs before this one; `best` null marks
 * the segment's baseline run.
 */
export function needMoreSamples(i: {
  repeats: 'auto' | number;
  samples: readonly number[];
  best: readonly number[] | null;
  noise: Noise | null;
  direction: Direction;
}): boolean {
  const n = i.samples.length;
  if (typeof i.repeats === 'number') return n < i.repeats;
  if (n === 0) return true;
  if (n >= MAX_AUTO_SAMPLES) return false;

  const best = i.best;
  if (best === null || best.length === 0 || i.noise === null) {
    // Calibration: measure the noise. Identical leading samples prove a
    // deterministic benchmark, unless noise was already seen in this segment.
    if (n < DETERMINISTIC_SAMPLES) return true;
    const knownNoisy = i.noise !== null && i.noise.sigma > 0;
    if (n === DETERMINISTIC_SAMPLES && !knownNoisy && allEqual(i.samples)) return false;
    return n < CALIBRATION_SAMPLES;
  }

  // Zero noise is known: one sample decides.
  if (i.noise.sigma === 0) return false;
  if (n >= CANDIDATE_SAMPLES) return false;
  if (n < FUTILITY_MIN_SAMPLES) return true;

  // Futility: would an optimistic reading (delta + FUTILITY_Z·se now) still be
  // short of the threshold the full candidate run would face?
  const nb = best.length;
  const { sigma } = pooled(i.noise, best, i.samples);
  const delta = improvement(i.direction, center(i.samples), center(best));
  const seNow = sigma * seFactor(nb, n);
  const finalThreshold = noiseMargin(sigma, i.noise.df + CANDIDATE_SAMPLES - 1, nb, CANDIDATE_SAMPLES);
  return delta + FUTILITY_Z * seNow >= finalThreshold;
}

function fmt(x: number): string {
  const a = Math.abs(x);
  if (a === 0) return '0';
  return String(a >= 10 ? Number(x.toFixed(1)) : Number(x.toPrecision(2)));
}

/**
 * Did the candidate beat the best by more than minImprovement plus noise?
 * delta > 0 means the candidate's centre is better in the metric's direction.
 * threshold = minImprovement (in metric units) + the noise margin; a keep
 * needs delta strictly above it. With no observed scatter the margin is 0.
 */
export function judgeImprovement(i: {
  direction: Direction;
  candidate: readonly number[];
  best: readonly number[];
  noise: Noise | null;
  minImprovement: number | string;
}): { improved: boolean; delta: number; threshold: number; reason: string } {
  if (i.candidate.length === 0) throw new RangeError('judgeImprovement: the candidate has no samples');
  if (i.best.length === 0) throw new RangeError('judgeImprovement: the best has no samples');
  const bestCenter = center(i.best);
  const delta = improvement(i.direction, center(i.candidate), bestCenter);
  const minAbs = resolveMinImprovement(i.minImprovement, bestCenter);
  const { sigma, df } = pooled(i.noise, i.best, i.candidate);
  const margin = noiseMargin(sigma, df, i.best.length, i.candidate.length);
  const threshold = minAbs + margin;
  const improved = delta > threshold;

  // Percentages relative to |best|; absolute units when the best is 0.
  const rel = bestCenter !== 0;
  const show = (x: number) => (rel ? `${fmt((x / Math.abs(bestCenter)) * 100)}%` : fmt(x));
  const signed = (x: number) => (x > 0 ? '+' : '') + show(x);
  const thr = `threshold ${show(threshold)}`;
  let reason: string;
  if (improved) reason = `improved ${show(delta)} (${thr})`;
  else if (delta <= 0) reason = `not better (${signed(delta)}, ${thr})`;
  else if (delta <= minAbs) reason = `below min improvement (${signed(delta)}, ${thr})`;
  else reason = `within noise (${signed(delta)}, ${thr})`;
  return { improved, delta, threshold, reason };
}
