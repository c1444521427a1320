// Guardrails judged in the same conditions as the primary. A decision re-measures
// the best beside the candidate (sampling.ts); a guardrail compared with the
// segment's baseline samples alone blamed the change for a machine that got
// slower since (every timing guardrail past its tolerance, unchanged code
// blocked). Pure: the candidate's guardrail values are moved into the
// conditions the best's stored values were taken in, by the best's shift
// between then and now (a ratio for positive values, a difference otherwise),
// and the noise is that of the two arms measured now. The tolerance stays the
// baseline's (guardrails.ts): the best's stored values are the ones its own
// keep was judged on, so a slower machine gives nothing away and a change still
// spends the tolerance its predecessors left.
import type { Guardrail } from './schema.ts';
import { median } from './stats.ts';
import { clearlyNotTiming } from './noise-model.ts';

type Inv = { arm: 'best' | 'candidate'; metrics?: Readonly<Record<string, number>> };

/** One guardrail's values of a decision: the best and the candidate measured now, moved into the reference's conditions, and the candidate's raw values. */
export type GuardrailPair = { best: number[]; candidate: number[]; raw: number[] };

/** A metric's values over the invocations of one arm; null unless every one measured it. */
function armValues(invocations: readonly Inv[], arm: Inv['arm'], metric: string): number[] | null {
  const of = invocations.filter((i) => i.arm === arm);
  const vs = of.flatMap((i) => (i.metrics && Object.hasOwn(i.metrics, metric) ? [i.metrics[metric] as number] : []));
  return of.length > 0 && vs.length === of.length ? vs : null;
}

/**
 * Each guardrail's pair for a decision: when the best arm and the candidate
 * both measured it, the reference (the best's stored values) has it, and it
 * can follow the machine (not clearly a size or count: noise-model.ts).
 * Absent otherwise (a deterministic primary runs no best arm): the guardrail
 * is then judged on the candidate's raw values against the baseline.
 */
export function guardrailPairs(
  guardrails: readonly Pick<Guardrail, 'metric'>[],
  reference: Readonly<Record<string, readonly number[]>>,
  invocations: readonly Inv[],
): Record<string, GuardrailPair> {
  const out: Record<string, GuardrailPair> = {};
  for (const { metric } of guardrails) {
    const ref = Object.hasOwn(reference, metric) ? reference[metric] as readonly number[] : [];
    const best = armValues(invocations, 'best', metric);
    const cand = armValues(invocations, 'candidate', metric);
    // A size or count does not follow the machine; its identical values prove it exact against the baseline.
    if (clearlyNotTiming(metric) || !ref.length || best === null || cand === null || Object.hasOwn(out, metric)) continue;
    const then = median(ref);
    const now = median(best);
    const ratio = then > 0 && now > 0 && [...best, ...cand].every((v) => v > 0);
    const move = ratio ? (v: number) => v * (then / now) : (v: number) => v + (then - now);
    out[metric] = { best: best.map(move), candidate: cand.map(move), raw: cand };
  }
  return out;
}

/**
 * The stored values a decision's guardrails are paired against: the best's; for a
 * decision against a tie walk's anchor (its best arm ran the anchor's code), the
 * anchor's, stored when it was the best (reduce.ts TieAnchor). Null when the state
 * does not hold them (written before they were kept): the guardrails are then
 * judged unpaired, against the baseline.
 */
export function pairingReference(
  s: { best_metric_samples?: Readonly<Record<string, readonly number[]>>; tie_drift?: { anchor?: { metric_samples?: Readonly<Record<string, readonly number[]>> } | null } | null },
  anchored: boolean,
): Readonly<Record<string, readonly number[]>> | null {
  if (!anchored) return s.best_metric_samples ?? {};
  return s.tie_drift?.anchor?.metric_samples ?? null;
}

/** The candidate's values of every metric with each paired guardrail's moved values in place of its raw ones. */
export function withPairs(candidate: Readonly<Record<string, number[]>>, pairs: Readonly<Record<string, GuardrailPair>>): Record<string, number[]> {
  const out: Record<string, number[]> = { ...candidate };
  for (const [k, p] of Object.entries(pairs)) out[k] = p.candidate;
  return out;
}
