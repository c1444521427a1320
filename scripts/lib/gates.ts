// Tiered gates, the pure part: in which order they run and what a failure
// means. The engine runs them (hard gates before the first benchmark sample,
// so a broken change costs none; soft gates alongside) and reports outcomes.
import type { Gate } from './schema.ts';

export type GatePlan = { before: Gate[]; soft: Gate[]; legacyChecksAfter: boolean };
export type GateOutcome = { name: string; exitCode: number | null; timedOut: boolean; metrics: Record<string, number> };
export type GateVerdict =
  | { effect: 'pass' }
  | { effect: 'reject'; status: 'checks_failed'; reason: string }
  | { effect: 'block_keep'; reason: string };

/**
 * Hard gates fastest first (by the last measured seconds; unmeasured ones in
 * config order, after the measured ones that are faster than a second), soft
 * gates after them. The older `checks` command still runs after the benchmark.
 */
export function planGates(gates: readonly Gate[], lastSeconds: Readonly<Record<string, number>>, hasChecks: boolean): GatePlan {
  const order = (xs: readonly Gate[]) =>
    xs
      .map((g, i) => ({ g, i, s: lastSeconds[g.name] ?? 1 }))
      .sort((a, b) => a.s - b.s || a.i - b.i)
      .map((x) => x.g);
  return { before: order(gates.filter((g) => g.kind === 'hard')), soft: order(gates.filter((g) => g.kind === 'soft')), legacyChecksAfter: hasChecks };
}

function thresholdBreach(g: Gate, o: GateOutcome): string | null {
  const t = g.threshold;
  if (!t) return null;
  const v = Object.prototype.hasOwnProperty.call(o.metrics, t.metric) ? o.metrics[t.metric] : undefined;
  if (v === undefined) return `gate ${g.name} did not print ${t.metric}`;
  if (t.max !== undefined && v > t.max) return `gate ${g.name}: ${t.metric} ${v} > ${t.max}`;
  if (t.min !== undefined && v < t.min) return `gate ${g.name}: ${t.metric} ${v} < ${t.min}`;
  return null;
}

/**
 * What one gate's outcome means. A hard gate that fails (non-zero exit,
 * timeout, or a threshold breached) rejects the change before any sample
 * (status checks_failed); a soft one lets the benchmark run but blocks a keep.
 */
export function judgeGate(g: Gate, o: GateOutcome): GateVerdict {
  const failed = o.timedOut ? `gate ${g.name} timed out after ${g.timeout}s` : o.exitCode !== 0 ? `gate ${g.name} failed (exit ${o.exitCode ?? 'signal'})` : thresholdBreach(g, o);
  if (failed === null) return { effect: 'pass' };
  return g.kind === 'hard' ? { effect: 'reject', status: 'checks_failed', reason: failed } : { effect: 'block_keep', reason: failed };
}
