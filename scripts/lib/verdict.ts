// The verdict of a measured candidate, decided in code: kept when the
// sampling plan (sampling.ts) says it beats the best by more than noise, or
// when it ties and makes the code smaller; never past a guardrail (judged
// against the baseline, guardrails.ts) or a failed soft gate, never when the
// agent throws it away. judge-run.ts applies it to a run's record.
import { blockingGuardrail, type GuardrailCheck } from './guardrails.ts';
import type { Decision } from './sampling.ts';

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
  // A settled breach first, then a failed soft gate (certain), then a breach on noise not known yet
  // (the plan takes no more samples for it once a soft gate blocks the keep).
  const settled = i.guardrails.filter((g) => g.unsure !== true);
  const blocked = blockingGuardrail(settled) ?? i.softGateFailures[0] ?? blockingGuardrail(i.guardrails);
  if (kind !== 'none' && blocked !== null) return { verdict: 'discard', kind: 'none', reason: `${blocked}; ${why}` };
  if (i.discard) return { verdict: 'discard', kind: 'none', reason: `discarded by the agent; ${why}` };
  return { verdict: kind === 'none' ? 'discard' : 'keep', kind, reason: why };
}
