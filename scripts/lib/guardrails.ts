// Guardrails on secondary metrics, judged against the segment's BASELINE (not
// the best: a tolerance judged against the best is given away again at every
// keep). Pure. Each guardrail has a worst allowed value: the tightest of its
// relative tolerance, absolute tolerance and absolute limit. A regression must
// also exceed the guardrail metric's own noise (two-sided 95%, from the
// scatter of whichever side has several samples) before it counts, except
// against the hard limit. A breach whose noise is not yet known (one sample a
// side: `repeats: 1`, or a deterministic primary's single candidate
// invocation) is `unsure`: the run plan measures the candidate again
// (run-plan.ts) before it may block a keep.
import type { Guardrail } from './schema.ts';
import { median, studentTQuantile, winsorizedSd } from './stats.ts';
import { clearlyNotTiming, DETERMINISTIC_RUNS_COUNT, DETERMINISTIC_RUNS_TIMING, groupResiduals } from './noise-model.ts';
import { fmt, fmtApart } from './format.ts';
import type { GuardrailPair } from './guardrail-pairing.ts';

export type GuardrailStatus = 'ok' | 'near' | 'broken' | 'missing' | 'unmeasured';
export type GuardrailCheck = {
  metric: string;
  status: GuardrailStatus;
  value: number | null;
  reference: number | null;
  /** The worst value the guardrail allows (null when the baseline never measured it). */
  allowed: number | null;
  reason: string;
  /**
   * Past the allowed value on too few samples to know the metric's noise
   * (fewer than GUARDRAIL_MIN_DF degrees of freedom, and not proven exact):
   * more candidate samples could settle it either way. Absent when settled.
   */
  unsure?: boolean;
};

/** Degrees of freedom of the noise before a breach within reach of it may block (t(0.975, 4) = 2.8, not 12.7 at 1). */
export const GUARDRAIL_MIN_DF = 4;

/** Share of the tolerance used from which a guardrail counts as near its limit. */
export const NEAR_SHARE = 0.8;

function worse(direction: Guardrail['direction'], a: number, b: number): number {
  return direction === 'lower' ? a - b : b - a;
}

/** The worst value allowed, from the baseline's reference value. */
export function allowedValue(g: Guardrail, reference: number): number {
  const s = g.direction === 'lower' ? 1 : -1;
  const bounds: number[] = [];
  if (g.max_regression_pct !== undefined) bounds.push(reference + s * Math.abs(reference) * (g.max_regression_pct / 100));
  if (g.max_regression_abs !== undefined) bounds.push(reference + s * g.max_regression_abs);
  if (g.limit !== undefined) bounds.push(g.limit);
  if (bounds.length === 0) return reference;
  return g.direction === 'lower' ? Math.min(...bounds) : Math.max(...bounds);
}

/**
 * The noise of the metric from two sets of samples of it: the pooled SD of
 * every side with ≥ 2 samples, its degrees of freedom, and the two-sided 95%
 * margin between the two sides' centres (0 while df = 0: the noise is unknown).
 * One side alone is enough to know the noise: a baseline of 12 samples against
 * a candidate's one (a deterministic primary takes one) needs no raw comparison.
 */
export function metricNoise(a: readonly number[], b: readonly number[]): { sd: number; df: number; margin: number } {
  const sides = [a, b].filter((x) => x.length >= 2);
  const df = sides.reduce((n, x) => n + x.length - 1, 0);
  if (df === 0 || a.length === 0 || b.length === 0) return { sd: 0, df: 0, margin: 0 };
  // Robust: the residuals of each side around its median, winsorised (one GC
  // pause among 12 baseline samples tripled a plain SD, and breaches 10% past
  // the tolerance then passed 23% of the time).
  const sd = winsorizedSd(sides.flatMap((x) => groupResiduals(x, median(x))));
  return { sd, df, margin: studentTQuantile(0.975, df) * sd * Math.sqrt(1 / a.length + 1 / b.length) };
}

/** Two-sided 95% noise margin between two sets of samples (0 while their noise is unknown). */
export function noiseMargin(a: readonly number[], b: readonly number[]): number {
  return metricNoise(a, b).margin;
}

// The values as every surface prints them (4 significant digits made 12345678 read 12350000).
const r = fmt;

/**
 * One guardrail against the baseline. With `pair` (the decision re-measured
 * the best: guardrail-pairing.ts) the candidate's value is the one moved into
 * the best's stored conditions and the noise is the two arms' of this
 * decision, so a machine that got slower is not the change's doing; the
 * absolute `limit` is judged on the raw value (a limit is a limit).
 */
export function checkGuardrail(g: Guardrail, baseline: readonly number[], candidate: readonly number[], pair?: GuardrailPair): GuardrailCheck {
  const base = { metric: g.metric };
  if (pair && baseline.length > 0) candidate = pair.candidate;
  if (baseline.length === 0) {
    const value = candidate.length ? median(candidate) : null;
    if (value !== null && g.limit !== undefined && worse(g.direction, value, g.limit) > 0) {
      return { ...base, status: 'broken', value, reference: null, allowed: g.limit, reason: `guardrail ${g.metric} ${r(value)} is past its limit ${r(g.limit)}` };
    }
    return { ...base, status: 'unmeasured', value, reference: null, allowed: g.limit ?? null, reason: `guardrail ${g.metric}: the baseline did not measure it` };
  }
  const reference = median(baseline);
  const allowed = allowedValue(g, reference);
  if (candidate.length === 0) {
    return { ...base, status: 'missing', value: null, reference, allowed, reason: `guardrail ${g.metric} missing (baseline has ${r(reference)})` };
  }
  const value = median(candidate);
  const raw = pair && pair.raw.length ? median(pair.raw) : value;
  const overLimit = g.limit !== undefined && worse(g.direction, raw, g.limit) > 0;
  const tolerance = worse(g.direction, allowed, reference);
  const noise = pair ? metricNoise(pair.best, pair.candidate) : metricNoise(baseline, candidate);
  // The tolerance bound alone (the limit is judged on the raw value above).
  const relative = g.max_regression_pct !== undefined || g.max_regression_abs !== undefined;
  const allowedTol = g.limit === undefined ? allowed : relative ? allowedValue({ ...g, limit: undefined }, reference) : (g.direction === 'lower' ? Infinity : -Infinity);
  const slack = noise.margin;
  // A value exactly at the tolerance (0.33 from 0.3 under 10%) is allowed: the
  // bound computed in floating point may miss the printed value by an ulp.
  const over = Number.isFinite(allowedTol) ? worse(g.direction, value, allowedTol) - 1e-9 * Math.max(Math.abs(allowedTol), Math.abs(reference)) : -Infinity;
  const cmp = g.direction === 'lower' ? '>' : '<';
  // Past the allowed value on noise of too few degrees of freedom to judge it
  // (t(0.975, 1) = 12.7: two samples clear anything): more samples are wanted,
  // whichever way the check goes now. Identical samples prove a metric exact as
  // they prove a primary deterministic: 3 for a size or count, 8 for anything
  // else (three equal whole-millisecond timings are coarse noise, not exact).
  const exactDf = (clearlyNotTiming(g.metric) ? DETERMINISTIC_RUNS_COUNT : DETERMINISTIC_RUNS_TIMING) - 1;
  const exact = noise.sd === 0 && noise.df >= exactDf;
  const unsure = over > 0 && !overLimit && !exact && (noise.df < GUARDRAIL_MIN_DF || noise.sd === 0) ? { unsure: true } : {};
  if (overLimit || (over > 0 && over > slack)) {
    const [shown, bound] = fmtApart(overLimit ? raw : value, overLimit ? (g.limit as number) : allowedTol);
    const what = overLimit ? `past its limit ${bound}` : `${cmp} ${bound} allowed`;
    const from = reference === 0 && g.max_regression_pct !== undefined && g.max_regression_abs === undefined
      ? ' (from 0 a relative tolerance allows nothing: set max_regression_abs)'
      : '';
    return { ...base, status: 'broken', value, reference, allowed, reason: `guardrail ${g.metric} ${shown} ${what} (baseline ${r(reference)})${from}`, ...unsure };
  }
  const used = tolerance > 0 ? worse(g.direction, value, reference) / tolerance : worse(g.direction, value, reference) >= 0 ? 1 : 0;
  const status: GuardrailStatus = used >= NEAR_SHARE ? 'near' : 'ok';
  return { ...base, status, value, reference, allowed, reason: `guardrail ${g.metric} ${r(value)} (baseline ${r(reference)}, allowed ${r(allowed)})`, ...unsure };
}

/** Every guardrail checked; samples per metric name (a run's value is a one-element array). */
export function checkGuardrails(
  guardrails: readonly Guardrail[],
  baseline: Readonly<Record<string, readonly number[]>>,
  candidate: Readonly<Record<string, readonly number[]>>,
  pairs: Readonly<Record<string, GuardrailPair>> = {},
): GuardrailCheck[] {
  const get = (rec: Readonly<Record<string, readonly number[]>>, k: string) =>
    Object.prototype.hasOwnProperty.call(rec, k) ? (rec[k] as readonly number[]) : [];
  return guardrails.map((g) => checkGuardrail(g, get(baseline, g.metric), get(candidate, g.metric), Object.hasOwn(pairs, g.metric) ? pairs[g.metric] : undefined));
}

/** The first broken (or missing) guardrail's reason, or null: what blocks a keep. */
export function blockingGuardrail(checks: readonly GuardrailCheck[]): string | null {
  const b = checks.find((c) => c.status === 'broken' || c.status === 'missing');
  return b ? b.reason : null;
}

/** One line for status: the guardrails near or over their limit, or null when all are clear. */
export function guardrailStatusLine(checks: readonly GuardrailCheck[]): string | null {
  const hot = checks.filter((c) => c.status === 'near' || c.status === 'broken' || c.status === 'missing');
  if (hot.length === 0) return null;
  const part = (c: GuardrailCheck) =>
    c.status === 'missing'
      ? `${c.metric} missing`
      : `${c.metric} ${r(c.value as number)}/${c.allowed === null ? '-' : r(c.allowed)} ${c.status === 'near' ? 'near' : 'OVER'}`;
  return `guardrails: ${hot.map(part).join(', ')}`;
}
