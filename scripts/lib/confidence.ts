// How far the best kept result sits from the baseline, in units of the
// segment's run-to-run spread (MAD of the valid runs' primary values): the
// field's convention for "is this gain bigger than the noise?".
import { mad } from './stats.ts';

export type ConfidenceLabel = 'high' | 'marginal' | 'within noise';

/** Fewer valid runs than this give no meaningful spread. */
export const MIN_CONFIDENCE_RUNS = 3;
export const HIGH_CONFIDENCE = 2;
export const MARGINAL_CONFIDENCE = 1;

// The spread of a list, remembered with the length it had: the list of valid
// primaries only grows (a fold appends), so a remembered spread of the same
// length is still its spread. The state cache stores it beside the list, so
// that status and the dashboard do not recompute the MAD of 100,000 values.
const spreads = new WeakMap<readonly number[], { n: number; mad: number }>();

/** MAD(primaries), computed once per list and length. */
export function spreadOf(primaries: readonly number[]): number {
  const hit = spreads.get(primaries);
  if (hit && hit.n === primaries.length) return hit.mad;
  const value = mad(primaries);
  spreads.set(primaries, { n: primaries.length, mad: value });
  return value;
}

/** A copy of a list has the spread of its original (while it stays the same length). */
export function carrySpread(from: readonly number[], to: readonly number[]): void {
  const hit = spreads.get(from);
  if (hit && hit.n === from.length && to.length === from.length) spreads.set(to, hit);
}

/** The spread of `primaries` as a cache recorded it (state-cache.ts): spreadOf returns it until the list grows. */
export function rememberSpread(primaries: readonly number[], value: number): void {
  spreads.set(primaries, { n: primaries.length, mad: value });
}

/**
 * primaries: the primary values of the segment's valid runs (status ok), in
 * order. Zero and negative values are legal metrics and are used as they are.
 * value = |bestKept − baseline| / MAD(primaries); null when it cannot be
 * computed (fewer than 3 runs, no baseline or best, MAD 0), never Infinity/NaN.
 */
export function confidence(i: {
  primaries: readonly number[];
  baseline: number | null;
  bestKept: number | null;
}): { value: number | null; label: ConfidenceLabel | null } {
  if (i.primaries.length < MIN_CONFIDENCE_RUNS || i.baseline === null || i.bestKept === null) {
    return { value: null, label: null };
  }
  const spread = spreadOf(i.primaries);
  const value = Math.abs(i.bestKept - i.baseline) / spread;
  if (!(spread > 0) || !Number.isFinite(value)) return { value: null, label: null };
  const label: ConfidenceLabel =
    value >= HIGH_CONFIDENCE ? 'high' : value >= MARGINAL_CONFIDENCE ? 'marginal' : 'within noise';
  return { value, label };
}
