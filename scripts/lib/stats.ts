// Small descriptive statistics and the two quantile functions the noise test
// needs. Inputs are finite numbers (the metric parser refuses anything else).
// Every function that summarises a sample throws a RangeError on an empty one:
// an empty sample is a caller bug, and a silent NaN would travel into a verdict.

function nonEmpty(xs: readonly number[], what: string): void {
  if (xs.length === 0) throw new RangeError(`${what} of an empty sample`);
}

/**
 * Arithmetic mean. Summed as offsets from the first value so that n identical
 * values give back exactly that value (a naive sum of 0.1 three times does
 * not), which keeps a deterministic benchmark's scatter at exactly zero.
 */
export function mean(xs: readonly number[]): number {
  nonEmpty(xs, 'mean');
  const shift = xs[0] as number;
  let s = 0;
  for (const x of xs) s += x - shift;
  return shift + s / xs.length;
}

/** Sum of squared deviations from the mean, Σ(x − mean)² (0 for one value). */
export function sumSquares(xs: readonly number[]): number {
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return ss;
}

/** Sample variance (n − 1 denominator). One value has no observable scatter: returns 0. */
export function variance(xs: readonly number[]): number {
  nonEmpty(xs, 'variance');
  return xs.length < 2 ? 0 : sumSquares(xs) / (xs.length - 1);
}

/** Median; the mean of the two middle values for an even count. */
export function median(xs: readonly number[]): number {
  nonEmpty(xs, 'median');
  // One value (an invocation of one sample: every planned step takes one per invocation) is its own median.
  if (xs.length === 1) return xs[0] as number;
  // Selection, not a sort: confidence takes the median of every run's value
  // (twice, for the MAD), and at 100,000 runs a sort was most of a status call.
  return medianInPlace(Float64Array.from(xs));
}

/** The median of `s`, which it reorders. */
function medianInPlace(s: Float64Array): number {
  const mid = s.length >> 1;
  const hi = selectKth(s, mid);
  if (s.length % 2 === 1) return hi;
  // After selecting, everything before `mid` is <= s[mid]: the lower middle is their largest.
  let lo = s[0] as number;
  for (let i = 1; i < mid; i++) if ((s[i] as number) > lo) lo = s[i] as number;
  return (lo + hi) / 2;
}

/**
 * The k-th smallest value (0-based), partially ordering `s` in place around
 * it (Hoare's selection with a median-of-three pivot: linear on average).
 */
function selectKth(s: Float64Array, k: number): number {
  let left = 0;
  let right = s.length - 1;
  while (right > left) {
    const m = (left + right) >> 1;
    // Order s[left], s[m], s[right]; the middle one is the pivot.
    if ((s[m] as number) < (s[left] as number)) swap(s, m, left);
    if ((s[right] as number) < (s[left] as number)) swap(s, right, left);
    if ((s[right] as number) < (s[m] as number)) swap(s, right, m);
    const pivot = s[m] as number;
    let i = left;
    let j = right;
    while (i <= j) {
      while ((s[i] as number) < pivot) i++;
      while ((s[j] as number) > pivot) j--;
      if (i <= j) swap(s, i++, j--);
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return s[k] as number;
  }
  return s[k] as number;
}

function swap(s: Float64Array, a: number, b: number): void {
  const t = s[a] as number;
  s[a] = s[b] as number;
  s[b] = t;
}

/** Unscaled median absolute deviation: median(|x − median(x)|). Not multiplied by 1.4826. */
export function mad(xs: readonly number[]): number {
  nonEmpty(xs, 'mad');
  const s = Float64Array.from(xs);
  const m = medianInPlace(s);
  for (let i = 0; i < s.length; i++) s[i] = Math.abs((s[i] as number) - m);
  return medianInPlace(s);
}

/**
 * Quantile of the standard normal distribution (inverse CDF), for 0 < p < 1.
 * Rational approximation in three regions (centre, two tails), after
 * P. J. Acklam's published coefficients; relative error below 1.2e-9.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const lowTail = 0.02425;
  if (p < lowTail) return tail(p);
  if (p > 1 - lowTail) return -tail(1 - p);
  const q = p - 0.5;
  const r = q * q;
  const num = ((((-39.69683028665376 * r + 220.9460984245205) * r - 275.9285104469687) * r + 138.357751867269) * r -
    30.66479806614716) * r + 2.506628277459239;
  const den = ((((-54.47609879822406 * r + 161.5858368580409) * r - 155.6989798598866) * r + 66.80131188771972) * r -
    13.28068155288572) * r + 1;
  return (num * q) / den;
}

function tail(p: number): number {
  const q = Math.sqrt(-2 * Math.log(p));
  const num = ((((-0.007784894002430293 * q - 0.3223964580411365) * q - 2.400758277161838) * q - 2.549732539343734) * q +
    4.374664141464968) * q + 2.938163982698783;
  const den = (((0.007784695709041462 * q + 0.3224671290700398) * q + 2.445134137142996) * q + 3.754408661907416) * q + 1;
  return num / den;
}

/**
 * Quantile of Student's t distribution with df degrees of freedom (df > 0,
 * integer or not). Exact closed forms for df 1, 2 and 4; Newton on the closed
 * CDF for df 3; otherwise the Cornish-Fisher expansion around the normal
 * quantile to 1/df⁴, whose relative error is below 1e-4 from df 5 on.
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile: p must be in (0, 1), got ${p}`);
  if (!(df > 0)) throw new RangeError(`studentTQuantile: df must be > 0, got ${df}`);
  if (df === 1) return Math.tan(Math.PI * (p - 0.5));
  if (df === 2) return (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
  if (df === 4) {
    const a = 4 * p * (1 - p);
    const q = Math.cos(Math.acos(Math.sqrt(a)) / 3) / Math.sqrt(a);
    return Math.sign(p - 0.5) * 2 * Math.sqrt(q - 1);
  }
  const z = normalQuantile(p);
  const z2 = z * z;
  let t =
    z +
    (z * (z2 + 1)) / (4 * df) +
    (z * ((5 * z2 + 16) * z2 + 3)) / (96 * df ** 2) +
    (z * (((3 * z2 + 19) * z2 + 17) * z2 - 15)) / (384 * df ** 3) +
    (z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945)) / (92160 * df ** 4);
  if (df === 3) {
    const s3 = Math.sqrt(3);
    for (let i = 0; i < 4; i++) {
      const cdf = 0.5 + (t / (s3 * (1 + (t * t) / 3)) + Math.atan(t / s3)) / Math.PI;
      const pdf = (6 * s3) / (Math.PI * (3 + t * t) ** 2);
      t -= (cdf - p) / pdf;
    }
  }
  return t;
}

/**
 * Quantile of the chi-square distribution with ν > 0 degrees of freedom, by
 * the Wilson-Hilferty cube approximation (a little high in the far upper tail
 * for ν = 1: 11.2 for 10.8 at p = 0.999, which errs on the side of "no change").
 */
export function chiSquareQuantile(p: number, nu: number): number {
  if (!(nu > 0)) throw new RangeError(`chiSquareQuantile: nu must be > 0, got ${nu}`);
  const a = 2 / (9 * nu);
  return nu * Math.max(0, 1 - a + normalQuantile(p) * Math.sqrt(a)) ** 3;
}

/**
 * Hodges-Lehmann location: the median of the Walsh averages (xᵢ + xⱼ)/2, i ≤ j.
 * Nearly as efficient as the mean on Gaussian data (95%), far better on heavy
 * tails, and a few wild values move it little (breakdown 29%).
 */
export function hodgesLehmann(xs: readonly number[]): number {
  nonEmpty(xs, 'hodgesLehmann');
  const w: number[] = [];
  for (let i = 0; i < xs.length; i++) for (let j = i; j < xs.length; j++) w.push(((xs[i] as number) + (xs[j] as number)) / 2);
  return median(w);
}

/** Standard normal density. */
export function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/**
 * Winsorised standard deviation around 0 of residuals that are already
 * centred: the `trim` fraction at each end is clipped to the nearest kept
 * value, then the root mean square is divided by its value for Gaussian data,
 * so the result estimates σ for Gaussian noise and ignores a few outliers.
 * Unlike the MAD it does not collapse to 0 when most values tie (coarse clocks).
 */
export function winsorizedSd(residuals: readonly number[], trim = 0.15): number {
  nonEmpty(residuals, 'winsorizedSd');
  // A typed array's numeric sort, not a comparator: this runs several times per
  // planned invocation (the pool and each decision's residuals), and the
  // comparator sort was most of a simulated session's time. Same order, same sum.
  return winsorizedSdSorted(Float64Array.from(residuals).sort(), trim);
}

/** winsorizedSd of residuals already sorted ascending (non-empty). */
export function winsorizedSdSorted(s: Float64Array, trim = 0.15): number {
  if (!(trim >= 0 && trim < 0.5)) throw new RangeError(`winsorizedSd: trim must be in [0, 0.5), got ${trim}`);
  const n = s.length;
  const k = Math.floor(trim * n);
  const lo = s[k] as number;
  const hi = s[n - 1 - k] as number;
  let ss = 0;
  for (const x of s) {
    const c = Math.min(hi, Math.max(lo, x));
    ss += c * c;
  }
  return Math.sqrt(ss / n) / winsorizedSdFactor(k / n);
}

/** Two ascending arrays as one ascending array (the sort of their concatenation, in linear time). */
export function mergeSorted(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < a.length && j < b.length) out[o++] = (a[i] as number) <= (b[j] as number) ? (a[i++] as number) : (b[j++] as number);
  while (i < a.length) out[o++] = a[i++] as number;
  while (j < b.length) out[o++] = b[j++] as number;
  return out;
}

/** E[winsorised X²]^½ for a standard normal X clipped at its t and 1 − t quantiles. */
function winsorizedSdFactor(t: number): number {
  if (t === 0) return 1;
  const c = -normalQuantile(t);
  return Math.sqrt(1 - 2 * t - 2 * c * normalPdf(c) + 2 * t * c * c);
}

/**
 * Resolution of a set of printed values: the smallest positive gap between
 * two distinct values, or null when all are equal. A coarse clock (whole
 * milliseconds) or a rounded size shows here as a step far above the scatter.
 */
export function resolution(xs: readonly number[]): number | null {
  const s = [...new Set(xs)].sort((a, b) => a - b);
  let step: number | null = null;
  for (let i = 1; i < s.length; i++) {
    const gap = (s[i] as number) - (s[i - 1] as number);
    if (gap > 0 && (step === null || gap < step)) step = gap;
  }
  return step;
}

/** Huber's ψ: the identity inside ±c, clipped outside. */
function huberPsi(r: number, c: number): number {
  return Math.max(-c, Math.min(c, r));
}

/**
 * Huber M-estimate of location with a known scale `s` (> 0) and tuning
 * constant c (1.5: 96% efficient on Gaussian data; a wild value pulls the
 * estimate by at most c·s/n). Iteratively reweighted from the median.
 */
export function huberLocation(xs: readonly number[], s: number, c = 1.5): number {
  nonEmpty(xs, 'huberLocation');
  let m = median(xs);
  if (!(s > 0)) return m;
  for (let it = 0; it < 50; it++) {
    let num = 0;
    let den = 0;
    for (const x of xs) {
      const r = Math.abs(x - m) / s;
      const w = r <= c ? 1 : c / r;
      num += w * x;
      den += w;
    }
    const next = num / den;
    const done = Math.abs(next - m) <= 1e-12 * s;
    m = next;
    if (done) break;
  }
  return m;
}

/**
 * The asymptotic variance factor of the Huber estimate, E[ψ²]/E[ψ']², from
 * residuals scaled by s: n·Var(estimate) ≈ factor·s². About 1.04 on Gaussian
 * data; it grows with outliers and lumpy (bimodal) noise, so the standard
 * error is honest about them. 1 when there is nothing to go by.
 */
export function huberVarianceFactor(residuals: readonly number[], s: number, c = 1.5): number {
  if (residuals.length === 0 || !(s > 0)) return 1;
  let psi2 = 0;
  let inside = 0;
  for (const x of residuals) {
    const r = x / s;
    psi2 += huberPsi(r, c) ** 2;
    if (Math.abs(r) <= c) inside++;
  }
  if (inside === 0) return 1;
  const n = residuals.length;
  return psi2 / n / (inside / n) ** 2;
}
