// The one sign convention for Δ and % in every output: + means BETTER in the
// metric's direction (lower for a lower-is-better metric, higher otherwise),
// - means worse. A reader never has to remember which way the metric points.
// The minus is ASCII '-' on every surface (run output, status, report,
// dashboard, status line): the model reads it at one token and a grep for
// "-5%" finds it; U+2212 on some surfaces made the same change two strings.
// No imports beyond the Direction type, so the status line can bundle it alone.
import type { Direction } from './schema.ts';
import { fmt } from './format.ts';

/** The legend every table, status line and report states once. */
export const SIGN_LEGEND = 'Δ and %: + = better, - = worse (in the metric\'s direction)';

/** Change of `value` against `reference` in metric units, + = better. */
export function signedDelta(direction: Direction, value: number, reference: number): number {
  return direction === 'lower' ? reference - value : value - reference;
}

/**
 * Change of `value` against `reference` in percent of |reference|, + = better;
 * null when the reference is 0 (no finite percentage exists: show the Δ).
 */
export function signedPct(direction: Direction, value: number, reference: number): number | null {
  if (reference === 0) return null;
  const p = (signedDelta(direction, value, reference) / Math.abs(reference)) * 100;
  // Past the largest double (a reference of 1e-310): no finite percentage either ("+Infinity%").
  return Number.isFinite(p) ? p : null;
}

/** Rounded for people and the model: 2 significant digits under 10, one decimal above. */
function round(x: number): string {
  const a = Math.abs(x);
  if (a === 0) return '0';
  return String(a >= 10 ? Number(a.toFixed(1)) : Number(a.toPrecision(2)));
}

/** "+5.3%", "-2%", "0%"; with a null percentage, the signed Δ in units ("+3", "-0.5"). */
export function formatChange(direction: Direction, value: number, reference: number): string {
  const p = signedPct(direction, value, reference);
  const x = p ?? signedDelta(direction, value, reference);
  const sign = x > 0 ? '+' : x < 0 ? '-' : '';
  return `${sign}${round(x)}${p === null ? '' : '%'}`;
}

/** A percentage that is already + = better, formatted the same way. */
export function formatSignedPct(p: number): string {
  const sign = p > 0 ? '+' : p < 0 ? '-' : '';
  return `${sign}${round(p)}%`;
}

/** A change in the metric's units that is already + = better ("+1234.5", "-3e-7"): where no % exists (a best of 0). */
export function formatSignedUnits(x: number): string {
  const sign = x > 0 ? '+' : x < 0 ? '-' : '';
  return `${sign}${fmt(Math.abs(x))}`;
}
