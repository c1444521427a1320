// Which benchmark invocation a run takes next, from the config, the segment's
// state and the invocations so far. Pure: the run command (commands/run.ts)
// asks after every invocation and runs the arm it is told (the best's tree or
// the working tree) until the plan is done. The statistics are sampling.ts's.
import type { Config, Guardrail } from './schema.ts';
import { checkGuardrails, GUARDRAIL_MIN_DF } from './guardrails.ts';
import { guardrailPairs } from './guardrail-pairing.ts';
import type { NoiseModel } from './noise-model.ts';
import { baselineRunsNeeded, clearlyNotTiming } from './noise-model.ts';
import { planBaseline, planDecision, MAX_PAIRS, BASELINE_MAX, type Arm, type Decision, type Invocation, type TieDrift, type TieWalk } from './sampling.ts';

/**
 * baseline: the segment's first measurement, or the unchanged best measured
 * again; it calibrates the noise model and runs the working tree only.
 * candidate: a change, decided against the best re-measured beside it.
 */
export type RunKind = 'baseline' | 'candidate';

export function runKind(s: { best_run: string | null }, changedFiles: readonly string[]): RunKind {
  return s.best_run === null || changedFiles.length === 0 ? 'baseline' : 'candidate';
}

/** Identical values a changed deterministic value must repeat: 1 for counts and sizes, 2 for timings. */
export function confirmRuns(c: Pick<Config, 'metric' | 'unit' | 'repeats'>): number {
  return c.repeats === 1 || clearlyNotTiming(c.metric, c.unit) ? 1 : 2;
}

export type PlanStep = { next: Arm } | { done: true; decision: Decision | null };

/**
 * Most candidate invocations a decision takes to learn a guardrail's noise:
 * with a baseline of one sample, 5 give GUARDRAIL_MIN_DF = 4 degrees of freedom.
 */
export const GUARDRAIL_MAX_CANDIDATES = GUARDRAIL_MIN_DF + 1;

/** Never more invocations than this in one run, whatever a plan says (a guard, not a policy). */
export const MAX_INVOCATIONS = 2 * MAX_PAIRS + BASELINE_MAX;

type PlannedInvocation = Invocation & { metrics?: Readonly<Record<string, number>> };

/** Each metric's value per candidate invocation. */
function candidateMetrics(invocations: readonly PlannedInvocation[]): Record<string, number[]> {
  const per: Record<string, number[]> = {};
  for (const inv of invocations) {
    if (inv.arm !== 'candidate') continue;
    for (const [k, v] of Object.entries(inv.metrics ?? {})) (Object.hasOwn(per, k) ? per[k] as number[] : (per[k] = [])).push(v);
  }
  return per;
}

/**
 * The plan's decision and the invocations it was taken on: the first prefix
 * of `invocations` on which planDecision decides (the ones after it were
 * taken for a guardrail and do not change the decision).
 */
function decisionPrefix(input: Omit<Parameters<typeof planDecision>[0], 'invocations'>, invocations: readonly Invocation[]): Decision | null {
  for (let n = 0; n <= invocations.length; n++) {
    const step = planDecision({ ...input, invocations: invocations.slice(0, n) });
    if ('decision' in step) return step.decision;
    if (n === invocations.length) return null;
  }
  return null;
}

/**
 * The arm a decision that would keep runs next for its guardrails, or null:
 * - a breach whose noise is not yet known (guardrails.ts `unsure`) measures the
 *   candidate again, up to GUARDRAIL_MAX_CANDIDATES, so that one noisy sample of
 *   the guardrail (`repeats: 1`, or a deterministic primary's one invocation
 *   against a 0% chain guardrail) does not block unchanged code half the time;
 * - a breach (sure or not) judged against the baseline alone because the best
 *   was not measured beside the candidate (a deterministic primary runs no best
 *   arm) measures the best too, alternating, so that the guardrail is judged in
 *   this decision's conditions (guardrail-pairing.ts): a machine that got slower
 *   since the baseline blocked every keep of a deterministic primary with a
 *   timing guardrail.
 */
function guardrailNextArm(o: {
  guardrails: readonly Guardrail[];
  baseline: Readonly<Record<string, readonly number[]>>;
  /**
   * The stored values of the code the best arm runs (the best's; a tie walk's anchor's): a guardrail the
   * best arm measures is judged in this decision's conditions. Null: none are known (no pairing).
   */
  bestSamples: Readonly<Record<string, readonly number[]>> | null;
  invocations: readonly PlannedInvocation[];
  wouldKeep: boolean;
}): Arm | null {
  if (!o.wouldKeep || o.guardrails.length === 0) return null;
  const cands = o.invocations.filter((i) => i.arm === 'candidate').length;
  const bests = o.invocations.length - cands;
  if (cands >= GUARDRAIL_MAX_CANDIDATES) return null;
  // bestSamples: the stored values of the code the best arm runs (a tie walk's anchor's, when anchored); null: none kept.
  const ref = o.bestSamples;
  const pairs = ref === null ? {} : guardrailPairs(o.guardrails, ref, o.invocations);
  const checks = checkGuardrails(o.guardrails, o.baseline, candidateMetrics(o.invocations), pairs);
  const pairable = (m: string) => ref !== null && !clearlyNotTiming(m) && Object.hasOwn(ref, m) && (ref[m]?.length ?? 0) > 0;
  const unpaired = checks.some((c) => (c.status === 'broken' || c.unsure === true) && !Object.hasOwn(pairs, c.metric) && pairable(c.metric));
  if (unpaired && bests === 0) return 'best';
  if (!checks.some((c) => c.unsure === true)) return null;
  // Arms kept level once the best runs (each pair judged in the same conditions).
  return bests > 0 && bests < cands ? 'best' : 'candidate';
}

/** A tie walk's anchor: the last improvement's commit, value and stored guardrail values (reduce.ts TieAnchor). */
type TieAnchorRef = { commit: string; value: number; metric_samples?: Record<string, number[]> };

/**
 * The anchor of a walk of ties (the last improvement's commit and value) a
 * simplification is measured against instead of the best, or null. Ties each
 * judged against the tie before them crept: the kept ones are those whose
 * estimate looked good, so their sum understated the loss, and 30 tries of
 * 1%-worse simplifications walked past 5% in 72-82% of segments at 2-16 pairs.
 * Against the anchor every tie is a fresh comparison with the last real
 * improvement: the walk is bounded by one tie's band, at no extra sample.
 * A noisy model only (a deterministic tie is exact equality).
 */
export function tieAnchor(
  state: { model: NoiseModel; tie_drift?: (TieDrift & { scale: 'log' | 'abs' | null; anchor?: TieAnchorRef | null }) | null },
  netLinesRemoved: number,
): TieAnchorRef | null {
  const d = state.tie_drift;
  if (!(netLinesRemoved > 0) || state.model.deterministic || !d?.anchor || d.scale !== state.model.scale) return null;
  return d.anchor;
}

export function nextInvocation(o: {
  kind: RunKind;
  config: Config;
  state: { model: NoiseModel; best: number | null; baseline_metrics?: Readonly<Record<string, readonly number[]>>; best_metric_samples?: Readonly<Record<string, readonly number[]>>; tie_drift?: (TieDrift & { scale: 'log' | 'abs' | null; walk?: TieWalk | null }) | null };
  /** The invocations so far; their metrics (every metric's value) let a guardrail ask for more. */
  invocations: readonly PlannedInvocation[];
  /** Net in-scope lines the change removes (a tie keeps a simplification). */
  netLinesRemoved?: number;
  /**
   * The soft gates that failed before the first invocation: the keep is
   * blocked whatever the guardrails say, so none of them is measured further.
   */
  softGateFailures?: readonly string[];
  /** The best arm runs this anchor's code (tieAnchor): the decision is against it, the walk measured directly. */
  anchor?: { value: number; metric_samples?: Readonly<Record<string, readonly number[]>> } | null;
}): PlanStep {
  const { config: c, invocations } = o;
  if (invocations.length >= MAX_INVOCATIONS) return { done: true, decision: null };
  if (o.kind === 'baseline') {
    const more =
      typeof c.repeats === 'number'
        ? invocations.length < c.repeats
        : planBaseline({ invocations, model: o.state.model, budget_s: c.sample_budget_s, detRuns: baselineRunsNeeded(c) });
    return more ? { next: 'candidate' } : { done: true, decision: null };
  }
  const simplifies = (o.netLinesRemoved ?? 0) > 0;
  const input = {
    direction: c.direction,
    model: o.state.model,
    best: o.state.best ?? 0,
    minImprovement: c.min_improvement,
    budget_s: c.sample_budget_s,
    confirm: confirmRuns(c),
    declaredDeterministic: c.deterministic === true || c.repeats === 1,
    ...(typeof c.repeats === 'number' ? { pairs: c.repeats } : {}),
    simplifies,
    // The walk of ties since the last improvement, when its effects are in this model's units.
    tieDrift: o.state.tie_drift && o.state.tie_drift.scale === o.state.model.scale ? { effect: o.state.tie_drift.effect, variance: o.state.tie_drift.variance } : null,
    // Against the anchor: the walk's earlier anchored attempts test the walk as a whole (sampling.ts walkHolds).
    ...(o.anchor ? { best: o.anchor.value, tieDrift: null, tieWalk: o.state.tie_drift?.walk ?? null } : {}),
  };
  const mark = (d: Decision | null): Decision | null => (d && o.anchor ? { ...d, anchored: true, reason: d.reason.replace(/\)$/, ', against the last improvement)') } : d);
  const decision = mark(decisionPrefix(input, invocations));
  if (decision === null) {
    const step = planDecision({ ...input, invocations });
    return 'next' in step ? step : { done: true, decision: mark(step.decision) };
  }
  // A failed soft gate blocks the keep already: extra samples for a guardrail could not change the verdict.
  const wouldKeep = (decision.keep || (simplifies && decision.tie)) && !(o.softGateFailures?.length);
  const bestSamples = o.anchor ? (o.anchor.metric_samples ?? null) : (o.state.best_metric_samples ?? {});
  const arm = guardrailNextArm({ guardrails: c.guardrails, baseline: o.state.baseline_metrics ?? {}, bestSamples, invocations, wouldKeep });
  if (arm !== null) return { next: arm };
  return { done: true, decision };
}
