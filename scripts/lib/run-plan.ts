// Which benchmark invocation a run takes next, from the config, the segment's
// state and the invocations so far. Pure: the run command (commands/run.ts)
// asks after every invocation and runs the arm it is told (the best's tree or
// the working tree) until the plan is done. The statistics are sampling.ts's.
import type { Config } from './schema.ts';
import type { NoiseModel } from './noise-model.ts';
import { clearlyNotTiming, deterministicRunsNeeded } from './noise-model.ts';
import { planBaseline, planDecision, MAX_PAIRS, BASELINE_MAX, type Arm, type Decision, type Invocation } from './sampling.ts';

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

/** Never more invocations than this in one run, whatever a plan says (a guard, not a policy). */
export const MAX_INVOCATIONS = 2 * MAX_PAIRS + BASELINE_MAX;

export function nextInvocation(o: {
  kind: RunKind;
  config: Config;
  state: { model: NoiseModel; best: number | null };
  invocations: readonly Invocation[];
  /** Net in-scope lines the change removes (a tie keeps a simplification). */
  netLinesRemoved?: number;
}): PlanStep {
  const { config: c, invocations } = o;
  if (invocations.length >= MAX_INVOCATIONS) return { done: true, decision: null };
  if (o.kind === 'baseline') {
    const more =
      typeof c.repeats === 'number'
        ? invocations.length < c.repeats
        : planBaseline({ invocations, model: o.state.model, budget_s: c.sample_budget_s, detRuns: deterministicRunsNeeded(c.metric, c.unit) });
    return more ? { next: 'candidate' } : { done: true, decision: null };
  }
  const step = planDecision({
    direction: c.direction,
    model: o.state.model,
    invocations,
    best: o.state.best ?? 0,
    minImprovement: c.min_improvement,
    budget_s: c.sample_budget_s,
    confirm: confirmRuns(c),
    ...(typeof c.repeats === 'number' ? { pairs: c.repeats } : {}),
    simplifies: (o.netLinesRemoved ?? 0) > 0,
  });
  return 'next' in step ? step : { done: true, decision: step.decision };
}
