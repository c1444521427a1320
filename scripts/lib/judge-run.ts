// The verdict of a measured run, from its record and the segment's state.
// Pure. A baseline (or the unchanged best measured again) is kept as the
// reference; a candidate is judged by the sampling plan's decision
// (sampling.ts), the guardrails against the segment's baseline
// (guardrails.ts), the soft gates, and the tie rule (verdict.ts).
import type { Config, Guardrail, ResultLine, RunRecord, Verdict } from './schema.ts';
import type { State } from './reduce.ts';
import { checkGuardrails, type GuardrailCheck } from './guardrails.ts';
import { guardrailPairs, pairingReference } from './guardrail-pairing.ts';
import { decideCandidate } from './verdict.ts';
import { signedDelta } from './signs.ts';
import { runKind } from './run-plan.ts';

export type RunJudgement = {
  verdict: Verdict;
  reason: string;
  /** Change against the best, in metric units, + = better; null when not comparable. */
  delta: number | null;
  kind: ResultLine['kind'];
  rebaseline: boolean;
};

type Invocations = RunRecord['invocations'];

/**
 * Guardrails some candidate invocations measured and others did not (a memory
 * report lost in one sample): the median of the rest is not the change's
 * figure, so the guardrail counts as missing, as the primary would. Pure.
 */
export function partlyMeasured(guardrails: readonly { metric: string }[], invocations: Invocations): { metric: string; missing: number; of: number }[] {
  const candidate = invocations.filter((i) => i.arm === 'candidate');
  const out: { metric: string; missing: number; of: number }[] = [];
  for (const g of guardrails) {
    const missing = candidate.filter((i) => !Object.hasOwn(i.metrics, g.metric)).length;
    if (missing > 0 && missing < candidate.length && !out.some((o) => o.metric === g.metric)) out.push({ metric: g.metric, missing, of: candidate.length });
  }
  return out;
}

/** Each metric's value per candidate invocation (a record without invocations: its one value); one some invocations lack has none. */
export function candidateMetricSamples(rec: Pick<RunRecord, 'invocations' | 'metrics'>): Record<string, number[]> {
  const per = new Map<string, number[]>();
  const candidate = rec.invocations.filter((i) => i.arm === 'candidate');
  for (const inv of candidate) {
    for (const [k, v] of Object.entries(inv.metrics)) per.set(k, [...(per.get(k) ?? []), v]);
  }
  for (const [k, vs] of per) if (vs.length < candidate.length) per.delete(k);
  for (const [k, v] of Object.entries(rec.metrics)) if (!per.has(k) && !candidate.length) per.set(k, [v]);
  return Object.fromEntries(per);
}

/**
 * Every guardrail of the config checked against the segment's baseline; with
 * the run's invocations, each guardrail the best arm measured too is judged in
 * this decision's conditions (guardrail-pairing.ts), from the best's stored values.
 */
export function guardrailChecks(
  guardrails: readonly Guardrail[],
  s: Pick<State, 'baseline_metrics'> & { best_metric_samples?: State['best_metric_samples'] },
  metrics: Record<string, number[]>,
  invocations: Invocations = [],
  /** The stored values to pair against when not the best's (an anchored decision: the anchor's). */
  reference?: Readonly<Record<string, readonly number[]>>,
): GuardrailCheck[] {
  return checkGuardrails(guardrails, s.baseline_metrics, metrics, guardrailPairs(guardrails, reference ?? s.best_metric_samples ?? {}, invocations));
}

/**
 * The best's guardrails against the baseline (status, report, dashboard), on
 * its per-invocation values as its verdict judged them: its median alone
 * against one baseline sample showed a keep that was within noise as OVER.
 */
export function bestGuardrailChecks(config: Pick<Config, 'guardrails'>, s: Pick<State, 'baseline_metrics' | 'best_metrics' | 'best_run' | 'best_metric_samples'>): GuardrailCheck[] {
  if (s.best_run === null) return [];
  const samples = s.best_metric_samples ?? {};
  const best = Object.fromEntries(Object.entries(s.best_metrics).map(([k, v]) => [k, Object.hasOwn(samples, k) && samples[k]?.length ? (samples[k] as number[]) : [v]]));
  return guardrailChecks(config.guardrails, s, best);
}

export function judgeRun(config: Config, s: State, rec: RunRecord, discard: boolean): RunJudgement {
  const status = rec.status ?? 'crash';
  const none = { delta: null, kind: 'none' as const, rebaseline: false };
  if (status !== 'ok') return { ...none, verdict: status, reason: rec.reason || `run status ${status}` };
  if (rec.primary === null || rec.samples.length === 0) return { ...none, verdict: 'invalid', reason: 'no samples of the primary metric' };
  if (runKind(s, rec.files) === 'baseline') {
    if (s.best_run !== null) return { ...none, verdict: 'discard', reason: 'rebaseline: the unchanged best was re-measured', rebaseline: true };
    if (discard) return { ...none, verdict: 'discard', reason: 'discarded by the agent (baseline)' };
    return { ...none, verdict: 'keep', reason: 'baseline' };
  }
  if (rec.decision === null) return { ...none, verdict: 'invalid', reason: 'the run took no decision (measure it again)' };
  // Against a tie walk's anchor the best arm ran the anchor's code: paired against the anchor's stored values.
  const reference = pairingReference(s, rec.decision.anchored === true);
  const checks = guardrailChecks(config.guardrails, s, candidateMetricSamples(rec), reference === null ? [] : rec.invocations, reference ?? undefined);
  const v = decideCandidate({ decision: rec.decision, netLinesRemoved: rec.net_lines_removed, guardrails: checks, softGateFailures: rec.soft_failures, discard });
  const delta = s.best === null ? null : signedDelta(config.direction, rec.primary, s.best);
  return { verdict: v.verdict, reason: v.reason, delta, kind: v.kind, rebaseline: false };
}
