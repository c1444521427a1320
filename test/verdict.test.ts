import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { brokenGuardrail, decideVerdict, regressionPct, type VerdictInput } from '../scripts/lib/verdict.ts';
import type { Guardrail, RunStatus } from '../scripts/lib/schema.ts';

const best = { samples: [100], metrics: { time: 100, mem: 200, errors: 0 } };
const ok: VerdictInput = {
  status: 'ok',
  samples: [90],
  metrics: { time: 90, mem: 200, errors: 0 },
  best,
  direction: 'lower',
  noise: null,
  minImprovement: 0,
  guardrails: [],
  discard: false,
};
const mem = (max = 5): Guardrail => ({ metric: 'mem', direction: 'lower', max_regression_pct: max });

describe('decideVerdict', () => {
  it('a failed status is the verdict, never a keep', () => {
    for (const status of ['crash', 'timeout', 'checks_failed', 'invalid'] as const) {
      const v = decideVerdict({ ...ok, status });
      expect(v.verdict).toBe(status);
      expect(v.reason).toContain(status);
      expect(v.delta).toBeNull();
      expect(v.improved).toBe(false);
    }
  });

  it('the first ok run of a segment is the baseline', () => {
    expect(decideVerdict({ ...ok, best: null })).toEqual({ verdict: 'keep', reason: 'baseline', delta: null, improved: false });
  });

  it('judgeImprovement decides keep / discard, in the metric direction', () => {
    const keep = decideVerdict(ok);
    expect(keep.verdict).toBe('keep');
    expect(keep.delta).toBe(10);
    expect(keep.improved).toBe(true);
    const worse = decideVerdict({ ...ok, samples: [110] });
    expect(worse.verdict).toBe('discard');
    expect(worse.delta).toBe(-10);
    expect(decideVerdict({ ...ok, direction: 'higher' }).verdict).toBe('discard');
    expect(decideVerdict({ ...ok, minImprovement: '10%' }).verdict).toBe('discard');
    expect(decideVerdict({ ...ok, minImprovement: '9%' }).verdict).toBe('keep');
  });

  it('noise is taken into account', () => {
    // σ = 10 (from huge df), one sample each: margin 1.96·10·√2 ≈ 27.7 > 10.
    const v = decideVerdict({ ...ok, noise: { sigma: 10, df: 1e6 } });
    expect(v.verdict).toBe('discard');
    expect(v.improved).toBe(false);
    expect(v.reason).toMatch(/within noise/);
  });

  it('discard: true throws away even an improvement, and says so', () => {
    const v = decideVerdict({ ...ok, discard: true });
    expect(v.verdict).toBe('discard');
    expect(v.improved).toBe(true);
    expect(v.reason).toMatch(/discarded by the agent/);
  });

  it('a broken guardrail discards an improvement, naming the metric and the regression', () => {
    // mem 200 → 220 is a 10% regression; 5% tolerated.
    const v = decideVerdict({ ...ok, metrics: { time: 90, mem: 220 }, guardrails: [mem(5)] });
    expect(v.verdict).toBe('discard');
    expect(v.improved).toBe(true);
    expect(v.reason).toMatch(/guardrail mem regressed 10% \(max 5%\)/);
    // Within tolerance: kept.
    expect(decideVerdict({ ...ok, metrics: { time: 90, mem: 220 }, guardrails: [mem(10)] }).verdict).toBe('keep');
    expect(decideVerdict({ ...ok, metrics: { time: 90, mem: 210 }, guardrails: [mem(5)] }).verdict).toBe('keep');
  });

  it('guardrails have their own direction', () => {
    const g: Guardrail = { metric: 'acc', direction: 'higher', max_regression_pct: 1 };
    const b = { samples: [100], metrics: { acc: 0.9 } };
    expect(decideVerdict({ ...ok, best: b, metrics: { acc: 0.95 }, guardrails: [g] }).verdict).toBe('keep');
    expect(decideVerdict({ ...ok, best: b, metrics: { acc: 0.88 }, guardrails: [g] }).verdict).toBe('discard');
  });

  it('a guardrail metric missing from the run while the best has it is broken; missing from the best, it does not apply', () => {
    const v = decideVerdict({ ...ok, metrics: { time: 90 }, guardrails: [mem()] });
    expect(v.verdict).toBe('discard');
    expect(v.reason).toMatch(/guardrail mem missing/);
    const noRef = { samples: [100], metrics: {} };
    expect(decideVerdict({ ...ok, best: noRef, metrics: { time: 90 }, guardrails: [mem()] }).verdict).toBe('keep');
  });

  it('a guardrail at 0 must stay at 0', () => {
    const g: Guardrail = { metric: 'errors', direction: 'lower', max_regression_pct: 50 };
    const v = decideVerdict({ ...ok, metrics: { time: 90, errors: 1 }, guardrails: [g] });
    expect(v.verdict).toBe('discard');
    expect(v.reason).toMatch(/errors regressed from 0 to 1/);
  });

  it('an ok run without samples cannot be judged', () => {
    expect(decideVerdict({ ...ok, samples: [] }).verdict).toBe('invalid');
  });

  it('inherited property names are not metrics', () => {
    const g: Guardrail = { metric: 'toString', direction: 'lower', max_regression_pct: 5 };
    // The best has no own toString metric: the guardrail does not apply.
    expect(brokenGuardrail([g], {}, {})).toBeNull();
    // The best has it, the run does not (only the inherited function): broken.
    expect(brokenGuardrail([g], {}, { toString: 1 })).toMatch(/missing/);
  });
});

describe('regressionPct', () => {
  it('is positive when worse, in the metric direction', () => {
    expect(regressionPct('lower', 110, 100)).toBeCloseTo(10, 12);
    expect(regressionPct('lower', 90, 100)).toBeCloseTo(-10, 12);
    expect(regressionPct('higher', 90, 100)).toBeCloseTo(10, 12);
    expect(regressionPct('higher', -110, -100)).toBeCloseTo(10, 12);
    expect(regressionPct('lower', 1, 0)).toBe(Infinity);
    expect(regressionPct('lower', -1, 0)).toBe(0);
  });
});

describe('properties', () => {
  const num = fc.double({ min: -1e6, max: 1e6, noNaN: true });
  const samples = fc.array(num, { minLength: 0, maxLength: 8 });
  const metrics = fc.dictionary(fc.constantFrom('time', 'mem', 'errors'), num);
  const guardrail = fc.record({
    metric: fc.constantFrom('time', 'mem', 'errors'),
    direction: fc.constantFrom('lower' as const, 'higher' as const),
    max_regression_pct: fc.double({ min: 0, max: 100, noNaN: true }),
  });
  const input = fc.record({
    status: fc.constantFrom<RunStatus>('ok', 'crash', 'timeout', 'checks_failed', 'invalid'),
    samples,
    metrics,
    best: fc.option(fc.record({ samples: fc.array(num, { minLength: 1, maxLength: 8 }), metrics })),
    direction: fc.constantFrom('lower' as const, 'higher' as const),
    noise: fc.option(fc.record({ sigma: fc.double({ min: 0, max: 1e3, noNaN: true }), df: fc.integer({ min: 1, max: 100 }) })),
    minImprovement: fc.oneof(fc.double({ min: 0, max: 1e3, noNaN: true }), fc.constantFrom('0%', '2%', '10.5%')),
    guardrails: fc.array(guardrail, { maxLength: 3 }),
    discard: fc.boolean(),
  });

  it('any status other than ok never keeps', () => {
    fc.assert(
      fc.property(input, (i) => {
        const v = decideVerdict(i);
        if (i.status !== 'ok') expect(v.verdict).toBe(i.status);
      }),
    );
  });

  it('discard: true never keeps', () => {
    fc.assert(
      fc.property(input, (i) => {
        expect(decideVerdict({ ...i, discard: true }).verdict).not.toBe('keep');
      }),
    );
  });

  it('a broken guardrail never keeps', () => {
    fc.assert(
      fc.property(input, (i) => {
        const broken = i.best !== null && brokenGuardrail(i.guardrails, i.metrics, i.best.metrics) !== null;
        if (broken) expect(decideVerdict(i).verdict).not.toBe('keep');
      }),
    );
  });

  it('a keep (other than the baseline) is always an improvement', () => {
    fc.assert(
      fc.property(input, (i) => {
        const v = decideVerdict(i);
        if (v.verdict === 'keep' && i.best !== null) expect(v.improved).toBe(true);
        expect(v.reason.length).toBeGreaterThan(0);
      }),
    );
  });
});

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
