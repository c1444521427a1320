// A guardrail breach judged against the guardrail metric's own noise, not a raw
// comparison of one sample with another: seeded simulations through the real
// run plan (run-plan.ts nextInvocation, which asks for candidate samples while a
// breach's noise is unknown) and the real check (guardrails.ts). Two shapes:
// `repeats: 1` (one baseline sample, one candidate invocation) and a chain
// child whose primary is a deterministic size (3 baseline invocations, one
// candidate invocation) guarding the parent's noisy primary at 0%.
// Before: unchanged guardrail values blocked a keep 50% of the time in both.
import { describe, expect, it } from 'vitest';
import { Config, type Guardrail, type InvocationLine } from '../scripts/lib/schema.ts';
import { nextInvocation, GUARDRAIL_MAX_CANDIDATES } from '../scripts/lib/run-plan.ts';
import { calibrate, emptyNoiseModel } from '../scripts/lib/noise-model.ts';
import { checkGuardrail, checkGuardrails, blockingGuardrail, metricNoise } from '../scripts/lib/guardrails.ts';
import { gaussian, mulberry32 } from './helpers/prng.ts';
import { bestGuardrailChecks } from '../scripts/lib/judge-run.ts';
import { guardrailStatusLine } from '../scripts/lib/guardrails.ts';
import { emptyState, foldLines } from '../scripts/lib/reduce.ts';
import { ResultLine } from '../scripts/lib/schema.ts';

const N = 2000;

type Shape = { name: string; primary: string; repeats?: number; baseline: number; wholeMs?: boolean };
const SHAPES: Shape[] = [
  { name: 'repeats: 1', primary: 'time_ms', repeats: 1, baseline: 1 },
  { name: 'chain child on a size (3 baseline invocations)', primary: 'size_kb', baseline: 3 },
  // Whole milliseconds around 20: three equal baseline values are coarse noise, not an exact metric.
  { name: 'chain child on a size, the guardrail in whole ms around 20', primary: 'size_kb', baseline: 3, wholeMs: true },
];

/**
 * One keep-worthy candidate (its primary 10% better, deterministic) whose
 * guardrail `lat` is `worse` (relative) past the baseline under 3% noise;
 * returns whether a guardrail blocked the keep and the candidate invocations taken.
 */
function trial(s: Shape, g: Guardrail, worse: number, seed: number): { blocked: boolean; cands: number } {
  const z = gaussian(mulberry32(seed));
  const lat = (level: number) => (s.wholeMs ? Math.round((level * 20) / 50 * (1 + 0.03 * z())) : level * (1 + 0.03 * z()));
  const config = Config.parse({ name: 'x', metric: s.primary, direction: 'lower', command: 'c', guardrails: [g], ...(s.repeats ? { repeats: s.repeats } : {}) });
  const base = Array.from({ length: s.baseline }, () => [100]);
  const model = calibrate(emptyNoiseModel(), base, { metric: s.primary, deterministic: s.repeats === 1 ? true : 'auto' });
  const baseline_metrics = { lat: Array.from({ length: s.baseline }, () => lat(50)) };
  const invs: InvocationLine[] = [];
  for (;;) {
    const step = nextInvocation({ kind: 'candidate', config, state: { model, best: 100, baseline_metrics }, invocations: invs });
    if ('done' in step) {
      expect(step.decision?.keep).toBe(true);
      const cand: Record<string, number[]> = { lat: invs.map((i) => i.metrics.lat as number) };
      return { blocked: blockingGuardrail(checkGuardrails([g], baseline_metrics, cand)) !== null, cands: invs.length };
    }
    invs.push({ arm: step.next, samples: [90], duration_s: 1, metrics: { [s.primary]: 90, lat: lat(50 * (1 + worse)) } });
  }
}

const rate = (s: Shape, g: Guardrail, worse: number, seed: number) => {
  let blocked = 0;
  let cands = 0;
  for (let t = 0; t < N; t++) {
    const r = trial(s, g, worse, seed + t);
    if (r.blocked) blocked++;
    cands += r.cands;
  }
  return { blocked: blocked / N, cands: cands / N };
};

const G0 = { metric: 'lat', direction: 'lower', max_regression_pct: 0 } as Guardrail;
const G5 = { metric: 'lat', direction: 'lower', max_regression_pct: 5 } as Guardrail;

describe('a noisy guardrail (3%) with one candidate invocation: judged against its own noise', () => {
  SHAPES.forEach((s, i) => {
    it(`${s.name}, 0% tolerance: unchanged code is blocked ≤ 5% (was 50%); a 20% breach is blocked ≥ 90%`, () => {
      const same = rate(s, G0, 0, 1e6 * (i + 1));
      expect(same.blocked).toBeLessThanOrEqual(0.05);
      // Extra samples only while a breach's noise is unknown: never past the cap.
      expect(same.cands).toBeLessThanOrEqual(GUARDRAIL_MAX_CANDIDATES);
      expect(rate(s, G0, 0.2, 2e6 * (i + 1)).blocked).toBeGreaterThanOrEqual(0.9);
    });
    it(`${s.name}, 5% tolerance: at the tolerance blocked ≤ 7.5%, unchanged ≤ 1%`, () => {
      expect(rate(s, G5, 0, 3e6 * (i + 1)).blocked).toBeLessThanOrEqual(0.01);
      expect(rate(s, G5, 0.05, 4e6 * (i + 1)).blocked).toBeLessThanOrEqual(0.075);
    });
  });

  it('an exact guardrail (identical samples) is blocked on the spot, after at most the samples that prove it exact', () => {
    const size = { metric: 'size_kb', direction: 'lower', max_regression_pct: 5 } as Guardrail;
    expect(checkGuardrail(size, [100, 100, 100], [108])).toMatchObject({ status: 'broken' });
    expect(checkGuardrail(size, [100, 100, 100], [108]).unsure).toBeUndefined();
    // One sample a side: the noise is unknown; the breach is unsure until more samples settle it.
    expect(checkGuardrail(size, [100], [108])).toMatchObject({ status: 'broken', unsure: true });
    expect(checkGuardrail(size, [100], [108, 108, 108]).unsure).toBeUndefined();
    // A hard limit never waits for the noise.
    expect(checkGuardrail({ metric: 'lint', direction: 'lower', limit: 12 } as Guardrail, [3], [13]).unsure).toBeUndefined();
  });

  it('the noise of one side is enough: a baseline of 12 samples against a candidate of one', () => {
    const z = gaussian(mulberry32(9));
    const base = Array.from({ length: 12 }, () => 100 * (1 + 0.03 * z()));
    expect(metricNoise(base, [101]).df).toBe(11);
    expect(metricNoise(base, [101]).margin).toBeGreaterThan(0);
    expect(metricNoise([100], [101])).toEqual({ sd: 0, df: 0, margin: 0 });
    expect(checkGuardrail(G0, base, [103]).status).not.toBe('broken');
  });

  it('a decision that would not keep takes no extra sample for its guardrail', () => {
    const config = Config.parse({ name: 'x', metric: 'time_ms', direction: 'lower', command: 'c', repeats: 1, guardrails: [G0] });
    const model = calibrate(emptyNoiseModel(), [[100]], { metric: 'time_ms', deterministic: true });
    const invs: InvocationLine[] = [{ arm: 'candidate', samples: [110], duration_s: 1, metrics: { time_ms: 110, lat: 60 } }];
    expect(nextInvocation({ kind: 'candidate', config, state: { model, best: 100, baseline_metrics: { lat: [50] } }, invocations: invs })).toMatchObject({ done: true, decision: { keep: false } });
    const better = [{ ...invs[0], samples: [90], metrics: { time_ms: 90, lat: 60 } }] as InvocationLine[];
    expect(nextInvocation({ kind: 'candidate', config, state: { model, best: 100, baseline_metrics: { lat: [50] } }, invocations: better })).toEqual({ next: 'candidate' });
  });
});

describe('the best\'s guardrails as status, report and dashboard show them', () => {
  it('are judged on the best\'s per-invocation values, as its verdict was: a keep within noise is not shown OVER', () => {
    const config = Config.parse({ name: 'x', metric: 'time_ms', direction: 'lower', command: 'c', repeats: 1, guardrails: [G0] });
    const inv = (v: number, lat: number): InvocationLine => ({ arm: 'candidate', samples: [v], duration_s: 1, metrics: { time_ms: v, lat } });
    const line = (o: Record<string, unknown>) =>
      ResultLine.parse({ type: 'result', ts: 't', segment: 1, run_id: 'r0001', status: 'ok', verdict: 'keep', description: 'd', reason: 'r', duration_s: 1, ...o });
    const cfgLine = { type: 'config' as const, ts: 't', segment: 1, config, fingerprints: { config: 'x', files: {} }, base: null, reason: 'init' };
    const lats = [51.5, 49, 50.5, 49.5, 51];
    const decision = { keep: true, tie: false, effect: 0.1, pct: 10, threshold_pct: 0, se: 0, pairs: 0, invocations: 5, stop: 'deterministic', reason: 'improved', diffs: [] };
    const s = foldLines(emptyState(), [
      cfgLine,
      line({ primary: 100, samples: [100], metrics: { time_ms: 100, lat: 50 }, invocations: [inv(100, 50)] }),
      line({ run_id: 'r0002', files: ['a'], kind: 'improved', primary: 90, samples: lats.map(() => 90), metrics: { time_ms: 90, lat: 50.5 }, decision, invocations: lats.map((l) => inv(90, l)) }),
    ], config);
    expect(s.best_metric_samples?.lat).toEqual(lats);
    expect(guardrailStatusLine(bestGuardrailChecks(config, s))).not.toMatch(/OVER/);
    // Its median alone against the one baseline sample: a raw comparison, OVER.
    expect(guardrailStatusLine(bestGuardrailChecks(config, { ...s, best_metric_samples: {} }))).toMatch(/lat 50\.5\/50 OVER/);
  });
});

describe('a guardrail metric with outliers (5% of samples 40% worse, 3% noise), 12 baseline samples, 5% tolerance', () => {
  // A plain SD pooled one pause into the margin: breaches 10% past the tolerance passed 23% (16 samples).
  const blocked = (over: number, n: number, seed: number) => {
    const u = mulberry32(seed);
    const z = gaussian(u);
    const v = (l: number) => l * (1 + 0.03 * z()) * (u() < 0.05 ? 1.4 : 1);
    let k = 0;
    for (let t = 0; t < N; t++) {
      const base = Array.from({ length: 12 }, () => v(100));
      if (checkGuardrail(G5, base, Array.from({ length: n }, () => v(100 * (1 + over)))).status === 'broken') k++;
    }
    return k / N;
  };
  it('unchanged ≤ 1%, at the tolerance ≤ 7.5%; 10% past it ≥ 90% at 8 and 16 samples', () => {
    expect(blocked(0, 16, 61)).toBeLessThanOrEqual(0.01);
    expect(blocked(0.05, 16, 62)).toBeLessThanOrEqual(0.075);
    expect(blocked(0.15, 16, 63)).toBeGreaterThanOrEqual(0.9);
    expect(blocked(0.15, 8, 64)).toBeGreaterThanOrEqual(0.9);
  });
});
