import { describe, expect, it } from 'vitest';

describe('new model: ties and the candidate verdict', async () => {
  const { decideCandidate, simplificationTie } = await import('../scripts/lib/verdict.ts');
  const { checkGuardrail } = await import('../scripts/lib/guardrails.ts');
  const { Guardrail } = await import('../scripts/lib/schema.ts');
  const d = (o: Partial<import('../scripts/lib/sampling.ts').Decision>) => ({ keep: false, tie: true, effect: 0, pct: 0, threshold_pct: 2, se: 0.01, pairs: 4, invocations: 8, stop: 'futility' as const, reason: 'within noise (+0%)', diffs: [], ...o });
  it('a tie with net lines removed is kept as a simplification, with that reason', () => {
    expect(simplificationTie(d({}), 12)).toMatch(/^simplification: .*12 lines removed/);
    const v = decideCandidate({ decision: d({}), netLinesRemoved: 12, guardrails: [], softGateFailures: [], discard: false });
    expect(v).toMatchObject({ verdict: 'keep', kind: 'simplification' });
  });
  it('no lines removed, not a tie, or a broken guardrail: discarded', () => {
    expect(decideCandidate({ decision: d({}), netLinesRemoved: 0, guardrails: [], softGateFailures: [], discard: false }).verdict).toBe('discard');
    expect(decideCandidate({ decision: d({ tie: false }), netLinesRemoved: 5, guardrails: [], softGateFailures: [], discard: false }).verdict).toBe('discard');
    const broken = checkGuardrail(Guardrail.parse({ metric: 'kb', limit: 10 }), [5], [11]);
    const v = decideCandidate({ decision: d({ keep: true, tie: false }), netLinesRemoved: 0, guardrails: [broken], softGateFailures: [], discard: false });
    expect(v.verdict).toBe('discard');
    expect(v.reason).toMatch(/guardrail kb/);
    expect(decideCandidate({ decision: d({ keep: true, tie: false }), netLinesRemoved: 0, guardrails: [], softGateFailures: ['gate lint: issues 13 > 12'], discard: false }).verdict).toBe('discard');
  });
});
