// The pure glue between the decision layer and the engine: which invocation
// a run takes next, what a ledger line teaches the noise model, the verdict
// of a run record, chain guardrails and the --guardrail syntax.
import { describe, expect, it } from 'vitest';
import { Config, ResultLine, RunRecord, type InvocationLine } from '../scripts/lib/schema.ts';
import { confirmRuns, nextInvocation, runKind } from '../scripts/lib/run-plan.ts';
import { baselineMetricSamples, deterministicSetting, learnFromLine } from '../scripts/lib/noise-state.ts';
import { emptyNoiseModel } from '../scripts/lib/noise-model.ts';
import { emptyState, foldLines } from '../scripts/lib/reduce.ts';
import { judgeRun } from '../scripts/lib/judge-run.ts';
import { childGuardrails } from '../scripts/lib/chain-guardrails.ts';
import { GUARDRAIL_FLAG, guardrailFromFlag } from '../scripts/lib/guardrail-flag.ts';
import { UsageError } from '../scripts/lib/errors.ts';

const cfg = (o: Record<string, unknown> = {}) => Config.parse({ name: 'x', metric: 'time_ms', direction: 'lower', command: 'c', ...o });
const inv = (arm: 'best' | 'candidate', v: number, metrics: Record<string, number> = {}): InvocationLine => ({ arm, samples: [v], duration_s: 1, metrics: { time_ms: v, ...metrics } });
const result = (o: Record<string, unknown>) =>
  ResultLine.parse({ type: 'result', ts: 't', segment: 1, run_id: 'r0001', status: 'ok', verdict: 'keep', primary: 100, samples: [100], metrics: { time_ms: 100 }, description: 'd', reason: 'r', duration_s: 1, ...o });

describe('run-plan', () => {
  it('a run is a baseline until the segment has a best, or when it changes nothing', () => {
    expect(runKind({ best_run: null }, ['a'])).toBe('baseline');
    expect(runKind({ best_run: 'r0001' }, [])).toBe('baseline');
    expect(runKind({ best_run: 'r0001' }, ['a'])).toBe('candidate');
  });

  it('a baseline runs the working tree only; repeats: N fixes its size', () => {
    const state = { model: emptyNoiseModel(), best: null };
    expect(nextInvocation({ kind: 'baseline', config: cfg(), state, invocations: [] })).toEqual({ next: 'candidate' });
    const three = [inv('candidate', 10), inv('candidate', 11), inv('candidate', 12)];
    expect(nextInvocation({ kind: 'baseline', config: cfg({ repeats: 3 }), state, invocations: three })).toEqual({ done: true, decision: null });
    expect(nextInvocation({ kind: 'baseline', config: cfg({ repeats: 4 }), state, invocations: three })).toEqual({ next: 'candidate' });
  });

  it('a candidate re-measures the best interleaved (ABBA) and ends with a decision', () => {
    const model = learnFromLine(emptyNoiseModel(), result({ invocations: [100, 103, 98, 101, 99, 102].map((v) => inv('candidate', v)) }), cfg(), true);
    const state = { model, best: 100 };
    const order: string[] = [];
    const invs: InvocationLine[] = [];
    for (;;) {
      const s = nextInvocation({ kind: 'candidate', config: cfg(), state, invocations: invs });
      if ('done' in s) {
        expect(s.decision?.keep).toBe(true);
        break;
      }
      order.push(s.next);
      invs.push(inv(s.next, s.next === 'best' ? 100 : 50));
    }
    expect(order.slice(0, 4)).toEqual(['best', 'candidate', 'candidate', 'best']);
  });

  it('a change that removes lines is not stopped for futility while a tie (a simplification) is still in reach', () => {
    const model = learnFromLine(emptyNoiseModel(), result({ invocations: [100, 103, 98, 101, 99, 102, 100, 97].map((v) => inv('candidate', v)) }), cfg(), true);
    const state = { model, best: 100 };
    // Each pair 3% worse: no win in reach at the last look, a tie still is.
    const invs: InvocationLine[] = [];
    for (let i = 0; i < 6; i++) invs.push(inv(i % 4 === 0 || i % 4 === 3 ? 'best' : 'candidate', i % 4 === 0 || i % 4 === 3 ? 100 : 103));
    const plain = nextInvocation({ kind: 'candidate', config: cfg(), state, invocations: invs });
    expect(plain).toMatchObject({ done: true, decision: { stop: 'futility' } });
    expect(nextInvocation({ kind: 'candidate', config: cfg(), state, invocations: invs, netLinesRemoved: 3 })).toEqual({ next: 'candidate' });
    expect(nextInvocation({ kind: 'candidate', config: cfg(), state, invocations: invs, netLinesRemoved: -3 })).toEqual(plain);
  });

  it('repeats: 1 means one sample is enough: deterministic, one candidate invocation', () => {
    expect(deterministicSetting(cfg({ repeats: 1 }))).toBe(true);
    expect(deterministicSetting(cfg({ repeats: 1, deterministic: false }))).toBe(false);
    expect(deterministicSetting(cfg())).toBe('auto');
    expect(confirmRuns(cfg({ repeats: 1 }))).toBe(1);
    expect(confirmRuns(cfg())).toBe(2);
    expect(confirmRuns(cfg({ metric: 'size_kb' }))).toBe(1);
    const model = learnFromLine(emptyNoiseModel(), result({ invocations: [inv('candidate', 100)] }), cfg({ repeats: 1 }), true);
    expect(model.deterministic).toBe(true);
    const s = nextInvocation({ kind: 'candidate', config: cfg({ repeats: 1 }), state: { model, best: 100 }, invocations: [inv('candidate', 90)] });
    expect(s).toMatchObject({ done: true, decision: { keep: true, stop: 'deterministic' } });
  });
});

describe('the noise model in the reduced state', () => {
  it('the baseline calibrates it from its invocations; a decision adds its residuals; a new segment starts over', () => {
    const c = cfg();
    const config = { type: 'config' as const, ts: 't', segment: 1, config: c, fingerprints: { config: 'x', files: {} }, base: null, reason: 'init' };
    const base = result({ invocations: [100, 103, 98, 101].map((v) => inv('candidate', v, { mem: v / 10 })) });
    const decision = { keep: false, tie: false, effect: 0.01, pct: 1, threshold_pct: 3, se: 0.01, pairs: 2, invocations: 4, stop: 'futility', reason: 'x', diffs: [0.02, 0] };
    const cand = result({ run_id: 'r0002', verdict: 'discard', files: ['a'], decision, invocations: [inv('best', 100), inv('candidate', 99), inv('candidate', 101), inv('best', 100)] });
    const s1 = foldLines(emptyState(), [config, base], c);
    expect(s1.model.scale).toBe('log');
    expect(s1.model.residuals.length).toBe(3);
    expect(s1.baseline_metrics.mem).toEqual([10, 10.3, 9.8, 10.1]);
    const s2 = foldLines(s1, [cand], c);
    expect(s2.model.residuals.length).toBe(5);
    expect(s2.baseline_metrics.mem).toEqual([10, 10.3, 9.8, 10.1]);
    const s3 = foldLines(s2, [{ ...config, segment: 2 }], c);
    expect(s3.model).toEqual(emptyNoiseModel());
    expect(s3.baseline_metrics).toEqual({});
  });

  it('lines written before invocations were recorded count each sample as one invocation', () => {
    expect(baselineMetricSamples(result({ metrics: { time_ms: 100, mem: 5 } }))).toEqual({ time_ms: [100], mem: [5] });
    const m = learnFromLine(emptyNoiseModel(), result({ samples: [100, 101, 99] }), cfg(), true);
    expect(m.residuals.length).toBe(2);
  });
});

describe('judgeRun', () => {
  const rec = (o: Record<string, unknown>) =>
    RunRecord.parse({ run_id: 'r0002', segment: 1, started_at: 't', finished_at: 't', phase: 'measured', status: 'ok', primary: 100, samples: [100], metrics: { time_ms: 100 }, files: ['src/a'], ...o });
  const tie = { keep: false, tie: true, effect: 0, pct: 0, threshold_pct: 2, se: 0.01, pairs: 4, invocations: 8, stop: 'futility' as const, reason: 'within noise (0%)', diffs: [] };

  it('baseline, rebaseline and failed runs', () => {
    const s = emptyState();
    expect(judgeRun(cfg(), s, rec({ files: [] }), false)).toMatchObject({ verdict: 'keep', reason: 'baseline' });
    const withBest = { ...s, best_run: 'r0001', best: 100 };
    expect(judgeRun(cfg(), withBest, rec({ files: [] }), false)).toMatchObject({ verdict: 'discard', rebaseline: true });
    expect(judgeRun(cfg(), withBest, rec({ status: 'crash', reason: 'exit code 3' }), false)).toMatchObject({ verdict: 'crash', reason: 'exit code 3' });
  });

  it('a tie that removes lines is kept as a simplification; delta is + = better', () => {
    const s = { ...emptyState(), best_run: 'r0001', best: 101 };
    const v = judgeRun(cfg(), s, rec({ decision: tie, net_lines_removed: 7 }), false);
    expect(v).toMatchObject({ verdict: 'keep', kind: 'simplification', delta: 1 });
    expect(v.reason).toMatch(/7 lines removed/);
    expect(judgeRun(cfg(), s, rec({ decision: tie, net_lines_removed: -2 }), false).verdict).toBe('discard');
    expect(judgeRun(cfg(), s, rec({ decision: tie, net_lines_removed: 7, soft_failures: ['gate lint failed (exit 1)'] }), false)).toMatchObject({ verdict: 'discard' });
  });

  it('guardrails are judged against the baseline, not the best', () => {
    const s = { ...emptyState(), best_run: 'r0003', best: 100, baseline_metrics: { kb: [100] }, best_metrics: { kb: 104 } };
    const win = { ...tie, keep: true, tie: false, reason: 'improved +10%' };
    const c = cfg({ guardrails: [{ metric: 'kb', max_regression_pct: 5 }] });
    expect(judgeRun(c, s, rec({ decision: win, metrics: { time_ms: 90, kb: 105 } }), false).verdict).toBe('keep');
    expect(judgeRun(c, s, rec({ decision: win, metrics: { time_ms: 90, kb: 108 } }), false)).toMatchObject({ verdict: 'discard', reason: expect.stringMatching(/guardrail kb 108 > 105 allowed/) });
  });
});

describe('chain guardrails', () => {
  const parent = cfg({ metric: 'time_ms', guardrails: [{ metric: 'kb', max_regression_pct: 5 }] });

  it('inherits the parent guardrails and guards the parent primary when the metric changes', () => {
    const g = childGuardrails({ parent, childMetric: 'mem', added: [], drop: [] });
    expect(g.guardrails.map((x) => x.metric)).toEqual(['kb', 'time_ms']);
    expect(g.guardrails[1]).toMatchObject({ direction: 'lower', max_regression_pct: 0 });
    expect(childGuardrails({ parent, childMetric: 'time_ms', added: [], drop: [] }).guardrails.map((x) => x.metric)).toEqual(['kb']);
  });

  it('flags add or replace one; only --drop-guardrail removes one, and it must exist', () => {
    const added = [Config.parse({ ...parent, guardrails: [guardrailFromFlag('kb:lower:limit=200')] }).guardrails[0]!];
    const g = childGuardrails({ parent, childMetric: 'mem', added, drop: ['time_ms'] });
    expect(g.guardrails).toEqual([{ metric: 'kb', direction: 'lower', limit: 200 }]);
    expect(g.dropped).toEqual(['time_ms']);
    expect(() => childGuardrails({ parent, childMetric: 'mem', added: [], drop: ['nope'] })).toThrow(UsageError);
  });

  it('--guardrail accepts a percentage, abs=X and limit=X, comma-separated', () => {
    expect(guardrailFromFlag('kb:lower:5')).toEqual({ metric: 'kb', direction: 'lower', max_regression_pct: 5 });
    expect(guardrailFromFlag('acc:higher:1%,abs=0.5')).toEqual({ metric: 'acc', direction: 'higher', max_regression_pct: 1, max_regression_abs: 0.5 });
    expect(guardrailFromFlag('lint:lower:limit=12')).toEqual({ metric: 'lint', direction: 'lower', limit: 12 });
    for (const bad of ['kb:lower', 'kb:down:5', 'kb:lower:abs=-1', 'kb:lower:five']) expect(GUARDRAIL_FLAG.test(bad)).toBe(false);
  });
});
