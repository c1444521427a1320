// Guardrails on secondary metrics, judged against the segment's BASELINE (not
// the best: a tolerance judged against the best is given away again at every
// keep). Pure. Each guardrail has a worst allowed value: the tightest of its
// relative tolerance, absolute tolerance and absolute limit. When both sides
// carry several samples, a regression must also exceed the noise (two-sided
// 95%) before it counts, except against the hard limit.
import type { Guardrail } from './schema.ts';
import { median, studentTQuantile, sumSquares } from './stats.ts';
import { fmt, fmtApart } from './format.ts';

export type GuardrailStatus = 'ok' | 'near' | 'broken' | 'missing' | 'unmeasured';
export type GuardrailCheck = {
  metric: string;
  status: GuardrailStatus;
  value: number | null;
  reference: number | null;
  /** The worst value the guardrail allows (null when the baseline never measured it). */
  allowed: number | null;
  reason: string;
};

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

/** Two-sided 95% noise margin between two sets of samples (0 unless both have ≥ 2). */
export function noiseMargin(a: readonly number[], b: readonly number[]): number {
  if (a.length < 2 || b.length < 2) return 0;
  const df = a.length + b.length - 2;
  const sd = Math.sqrt((sumSquares(a) + sumSquares(b)) / df);
  return studentTQuantile(0.975, df) * sd * Math.sqrt(1 / a.length + 1 / b.length);
}

// The values as every surface prints them (4 significant digits made 12345678 read 12350000).
const r = fmt;

export function checkGuardrail(g: Guardrail, baseline: readonly number[], candidate: readonly number[]): GuardrailCheck {
  const base = { metric: g.metric };
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
  const overLimit = g.limit !== undefined && worse(g.direction, value, g.limit) > 0;
  const tolerance = worse(g.direction, allowed, reference);
  const slack = noiseMargin(baseline, candidate);
  // A value exactly at the tolerance (0.33 from 0.3 under 10%) is allowed: the
  // bound computed in floating point may miss the printed value by an ulp.
  const over = worse(g.direction, value, allowed) - 1e-9 * Math.max(Math.abs(allowed), Math.abs(reference));
  const cmp = g.direction === 'lower' ? '>' : '<';
  if (overLimit || (over > 0 && over > slack)) {
    const [shown, bound] = fmtApart(value, overLimit ? (g.limit as number) : allowed);
    const what = overLimit ? `past its limit ${bound}` : `${cmp} ${bound} allowed`;
    const from = reference === 0 && g.max_regression_pct !== undefined && g.max_regression_abs === undefined
      ? ' (from 0 a relative tolerance allows nothing: set max_regression_abs)'
      : '';
    return { ...base, status: 'broken', value, reference, allowed, reason: `guardrail ${g.metric} ${shown} ${what} (baseline ${r(reference)})${from}` };
  }
  const used = tolerance > 0 ? worse(g.direction, value, reference) / tolerance : worse(g.direction, value, reference) >= 0 ? 1 : 0;
  const status: GuardrailStatus = used >= NEAR_SHARE ? 'near' : 'ok';
  return { ...base, status, value, reference, allowed, reason: `guardrail ${g.metric} ${r(value)} (baseline ${r(reference)}, allowed ${r(allowed)})` };
}

/** Every guardrail checked; samples per metric name (a run's value is a one-element array). */
export function checkGuardrails(
  guardrails: readonly Guardrail[],
  baseline: Readonly<Record<string, readonly number[]>>,
  candidate: Readonly<Record<string, readonly number[]>>,
): GuardrailCheck[] {
  const get = (rec: Readonly<Record<string, readonly number[]>>, k: string) =>
    Object.prototype.hasOwnProperty.call(rec, k) ? (rec[k] as readonly number[]) : [];
  return guardrails.map((g) => checkGuardrail(g, get(baseline, g.metric), get(candidate, g.metric)));
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
