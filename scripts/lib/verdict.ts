// The verdict of a measured run, decided in code. Only an 'ok' run can be
// kept, and only when it beats the best by more than noise, breaks no
// guardrail and the agent did not throw it away.
import type { Direction, Guardrail, RunStatus, Verdict } from './schema.ts';
import { judgeImprovement, type Noise } from './noise.ts';
import { blockingGuardrail, type GuardrailCheck } from './guardrails.ts';
import type { Decision } from './sampling.ts';

export type VerdictInput = {
  status: RunStatus;
  /** Samples of the primary metric. */
  samples: readonly number[];
  /** Every metric of the run (the last sample's values). */
  metrics: Record<string, number>;
  /** The best so far; null for the segment's baseline run. */
  best: { samples: readonly number[]; metrics: Record<string, number> } | null;
  direction: Direction;
  noise: Noise | null;
  minImprovement: number | string;
  guardrails: Guardrail[];
  /** The agent throws the change away (e.g. for simplicity) whatever it measured. */
  discard: boolean;
};

export type VerdictResult = { verdict: Verdict; reason: string; delta: number | null; improved: boolean };

function own(rec: Record<string, number>, key: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(rec, key) ? rec[key] : undefined;
}

function pct(x: number): string {
  return String(Math.abs(x) >= 10 ? Number(x.toFixed(1)) : Number(x.toPrecision(2)));
}

/**
 * How much `value` regressed against `reference`, in percent of |reference|,
 * positive = worse in `direction`. From a reference of 0 any regression is
 * infinite: a guardrail such as errors = 0 must stay at 0.
 */
export function regressionPct(direction: Direction, value: number, reference: number): number {
  const worse = direction === 'lower' ? value - reference : reference - value;
  if (reference === 0) return worse > 0 ? Infinity : 0;
  return (worse / Math.abs(reference)) * 100;
}

/** The first broken guardrail, described, or null. Guardrails the best never measured do not apply. */
export function brokenGuardrail(
  guardrails: readonly Guardrail[],
  metrics: Record<string, number>,
  bestMetrics: Record<string, number>,
): string | null {
  for (const g of guardrails) {
    const ref = own(bestMetrics, g.metric);
    if (ref === undefined) continue;
    const value = own(metrics, g.metric);
    if (value === undefined) return `guardrail ${g.metric} missing (best has ${ref})`;
    const r = regressionPct(g.direction, value, ref);
    // The legacy check knows relative tolerances only; the others are judged by guardrails.ts.
    if (g.max_regression_pct !== undefined && r > g.max_regression_pct) {
      const by = Number.isFinite(r) ? `${pct(r)}%` : `from 0 to ${value}`;
      return `guardrail ${g.metric} regressed ${by} (max ${g.max_regression_pct}%)`;
    }
  }
  return null;
}

export function decideVerdict(i: VerdictInput): VerdictResult {
  if (i.status !== 'ok') {
    return { verdict: i.status, reason: `run status ${i.status}`, delta: null, improved: false };
  }
  // An ok run must carry its primary metric; without it nothing can be judged.
  if (i.samples.length === 0) {
    return { verdict: 'invalid', reason: 'no samples of the primary metric', delta: null, improved: false };
  }
  if (i.best === null || i.best.samples.length === 0) {
    if (i.discard) return { verdict: 'discard', reason: 'discarded by the agent (baseline)', delta: null, improved: false };
    return { verdict: 'keep', reason: 'baseline', delta: null, improved: false };
  }

  const j = judgeImprovement({
    direction: i.direction,
    candidate: i.samples,
    best: i.best.samples,
    noise: i.noise,
    minImprovement: i.minImprovement,
  });
  const base = { delta: j.delta, improved: j.improved };

  const broken = brokenGuardrail(i.guardrails, i.metrics, i.best.metrics);
  if (broken !== null) return { verdict: 'discard', reason: `${broken}; ${j.reason}`, ...base };
  if (i.discard) return { verdict: 'discard', reason: `discarded by the agent; ${j.reason}`, ...base };
  return { verdict: j.improved ? 'keep' : 'discard', reason: j.reason, ...base };
}

// ---- The new model (sampling.ts decisions, guardrails.ts checks) ----

/**
 * Ties: a candidate equal to the best within noise that removes lines (net,
 * in scope, from the diff) is kept as a simplification. Null when it is not.
 */
export function simplificationTie(d: Decision, netLinesRemoved: number): string | null {
  if (d.keep || !d.tie || !(netLinesRemoved > 0)) return null;
  const n = Math.round(netLinesRemoved);
  return `simplification: equal to the best within noise, ${n} line${n === 1 ? '' : 's'} removed (${d.reason})`;
}

export type CandidateVerdict = { verdict: 'keep' | 'discard'; kind: 'improved' | 'simplification' | 'none'; reason: string };

/**
 * The verdict of a measured candidate in the new model: kept when the
 * decision keeps it or it is a simplification tie, unless a guardrail
 * (against the baseline) or a soft gate blocks it or the agent discards it.
 */
export function decideCandidate(i: {
  decision: Decision;
  netLinesRemoved: number;
  guardrails: readonly GuardrailCheck[];
  softGateFailures: readonly string[];
  discard: boolean;
}): CandidateVerdict {
  const tie = simplificationTie(i.decision, i.netLinesRemoved);
  const kind = i.decision.keep ? 'improved' : tie !== null ? 'simplification' : 'none';
  const why = tie ?? i.decision.reason;
  const blocked = blockingGuardrail(i.guardrails) ?? i.softGateFailures[0] ?? null;
  if (kind !== 'none' && blocked !== null) return { verdict: 'discard', kind: 'none', reason: `${blocked}; ${why}` };
  if (i.discard) return { verdict: 'discard', kind: 'none', reason: `discarded by the agent; ${why}` };
  return { verdict: kind === 'none' ? 'discard' : 'keep', kind, reason: why };
}
