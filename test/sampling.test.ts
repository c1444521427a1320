import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { calibrate, clearlyNotTiming, emptyNoiseModel, invocationValue, learn, printedStep, scaleFor, type NoiseModel } from '../scripts/lib/noise-model.ts';
import {
  MAX_PAIRS,
  effectPct,
  minEffect,
  pairDifferences,
  planBaseline,
  planDecision,
  samplingBudget,
  scheduleArm,
  unreachableMinimum,
  type Decision,
  type Invocation,
} from '../scripts/lib/sampling.ts';
import { DETERMINISTIC, FAMILIES, rate, strictTrial, trial } from './helpers/families.ts';
import { gaussian, mulberry32 } from './helpers/prng.ts';
import { learnFromLine } from '../scripts/lib/noise-state.ts';
import { Config, ResultLine } from '../scripts/lib/schema.ts';

// Seeded, so each run draws the same numbers; the bounds keep a margin over
// the measured rates (bench/noise.ts prints them with 1,000+ trials).
const N = 300;

/** What the reducer teaches the model after a decision (noise-state.ts learnFromLine, in small). */
const learnDecision = (model: NoiseModel, d: Decision, inv: readonly Invocation[]) =>
  learn(model, {
    diffs: d.diffs, centre: d.effect, raw: inv.flatMap((i) => i.samples),
    values: inv.map((i) => invocationValue(i.samples)), arms: inv.map((i) => i.arm),
    noiseDiscovered: d.stop === 'noise-discovered' || d.noise_discovered === true, moved: d.keep,
  });

describe('default settings, every family: null changes rarely kept, real 5% gains kept where the budget allows', () => {
  FAMILIES.forEach((f, i) => {
    it(`${f.name}: a no-effect change is kept ≤ 5%`, () => {
      const r = rate(() => trial(f, mulberry32(100 + i), 0), N);
      expect(r.rate).toBeLessThanOrEqual(0.05);
    });
  });
  for (const name of ['gaussian', 'student', '5% outliers', 'run-level', 'drift', 'whole ms', '5 samples']) {
    it(`${name}: a real 5% improvement is kept ≥ 90%`, () => {
      const f = FAMILIES.find((x) => x.name.startsWith(name))!;
      expect(rate(() => trial(f, mulberry32(200 + name.length), 0.05), N).rate).toBeGreaterThanOrEqual(0.87);
    });
  }
  it('the strict rule of other tools keeps about half of the no-effect changes (what this model fixes)', () => {
    const r = rate(() => strictTrial(FAMILIES[0]!, mulberry32(7), 0), N);
    expect(r.rate).toBeGreaterThan(0.35);
  });
  it('a 20× improvement is kept early (clear win) and the next 5% gain is judged in relative terms', () => {
    const f = FAMILIES.find((x) => x.prior20x)!;
    const r = rate(() => trial(f, mulberry32(9), 0.1), 200);
    expect(r.rate).toBeGreaterThan(0.9);
  });
  it('a real worsening is never kept and stops early', () => {
    const r = rate(() => trial(FAMILIES[0]!, mulberry32(11), -0.1), 200);
    expect(r.rate).toBe(0);
    expect(r.invocations).toBeLessThan(8);
  });
});

describe('deterministic benchmarks', () => {
  it('a size metric: 3 identical baseline invocations, then one invocation per decision, two when the value changed (3 equal runs are thin proof)', () => {
    for (const effect of [0, 0.05, -0.05]) {
      const r = trial(DETERMINISTIC, mulberry32(1), effect);
      expect(r.baselineInvocations).toBe(3);
      expect(r.invocations).toBe(effect === 0 ? 1 : 2);
      expect(r.kept).toBe(effect > 0);
    }
  });
  it('identical whole-millisecond timings do not prove determinism before 8 invocations', () => {
    const inv: Invocation[] = [];
    for (let i = 0; i < 3; i++) inv.push({ arm: 'best', samples: [20] });
    expect(planBaseline({ invocations: inv, model: emptyNoiseModel(), budget_s: null, detRuns: 8 })).toBe(true);
    const m = calibrate(emptyNoiseModel(), inv.map((x) => x.samples), { metric: 'time_ms' });
    expect(m.deterministic).toBe(false);
    expect(m.step).toBe(1);
    const m8 = calibrate(emptyNoiseModel(), Array.from({ length: 8 }, () => [20]), { metric: 'time_ms' });
    expect(m8.deterministic).toBe(true);
  });
  it('a gain exactly at the minimum improvement is kept (the smallest gain worth keeping), one short of it is not', () => {
    const model = calibrate(emptyNoiseModel(), Array.from({ length: 8 }, () => [100]), { metric: 'size_kb' });
    const decide = (direction: 'lower' | 'higher', v: number, minImprovement: number | string) => {
      const s = planDecision({ direction, model, best: 100, minImprovement, budget_s: null, confirm: 1, invocations: [{ arm: 'candidate', samples: [v] }] });
      return 'decision' in s ? s.decision : null;
    };
    expect(decide('higher', 110, '10%')).toMatchObject({ keep: true, reason: 'improved +10% (deterministic)' });
    expect(decide('lower', 90, '10%')?.keep).toBe(true);
    expect(decide('lower', 95, 5)?.keep).toBe(true);
    expect(decide('higher', 105, 5)?.keep).toBe(true);
    expect(decide('higher', 109.99, '10%')).toMatchObject({ keep: false, reason: 'below min improvement (+10%, deterministic)' });
    expect(decide('lower', 100, 0)).toMatchObject({ keep: false, tie: true });
    expect(decide('lower', 99.9999, 0)?.keep).toBe(true);
  });
  it('a count near 1e15 that falls by one unit is kept on one invocation (log a − log b rounded it to 0)', () => {
    for (const best of [4e15, 1e15, 1e12, 7]) {
      const model = calibrate(emptyNoiseModel(), Array.from({ length: 8 }, () => [best]), { metric: 'instructions' });
      expect(model.deterministic).toBe(true);
      const decide = (direction: 'lower' | 'higher', v: number) => {
        const s = planDecision({ direction, model, best, minImprovement: 0, budget_s: null, confirm: 1, invocations: [{ arm: 'candidate', samples: [v] }] });
        return 'decision' in s ? s.decision : null;
      };
      expect(decide('lower', best - 1)).toMatchObject({ keep: true, invocations: 1 });
      expect(decide('higher', best + 1)).toMatchObject({ keep: true, invocations: 1 });
      expect(decide('lower', best + 1)?.keep).toBe(false);
      expect(decide('lower', best)).toMatchObject({ keep: false, tie: true });
    }
  });
  it('paired differences near 1e15 keep their unit steps on the log scale', () => {
    const inv: Invocation[] = [{ arm: 'best', samples: [1e15] }, { arm: 'candidate', samples: [1e15 - 3] }];
    const [d] = pairDifferences('log', 'lower', inv);
    expect(d).toBeCloseTo(3e-15, 20);
    expect((d as number) / 3e-15).toBeCloseTo(1, 6);
  });
  it('a rounded fraction one step from the best is confirmed once (coarse noise that looked deterministic); whole counts too while 3 equal runs are all the proof', () => {
    // Accuracy printed to 2 decimals from a training with a little noise (sd 0.005): three equal values at the
    // baseline happen a third of the time, and one invocation per candidate then kept 7% of no-effect changes.
    const g = gaussian(mulberry32(12));
    const val = () => Number((0.9 + 0.005 * g()).toFixed(2));
    let kept = 0;
    let decisions = 0;
    for (let t = 0; t < 600; t++) {
      const base: Invocation[] = [];
      do base.push({ arm: 'candidate', samples: [val()] });
      while (planBaseline({ invocations: base, model: emptyNoiseModel(), budget_s: null, detRuns: 3 }));
      let model = calibrate(emptyNoiseModel(), base.map((b) => b.samples), { metric: 'accuracy' });
      for (let d = 0; d < 3; d++) {
        const inv: Invocation[] = [];
        for (;;) {
          const s = planDecision({ direction: 'higher', model, invocations: inv, best: base[0]!.samples[0]!, minImprovement: 0, budget_s: null, confirm: 1 });
          if ('decision' in s) {
            decisions++;
            if (s.decision.keep) kept++;
            model = learnDecision(model, s.decision, inv);
            break;
          }
          inv.push({ arm: s.next, samples: [val()] });
        }
      }
    }
    expect(kept / decisions).toBeLessThanOrEqual(0.04);
    const lint = calibrate(emptyNoiseModel(), [[12], [12], [12]], { metric: 'lint_issues' });
    const lintAt = (...xs: number[]) => planDecision({ direction: 'lower', model: lint, best: 12, minImprovement: 0, budget_s: null, confirm: 1, invocations: xs.map((x) => ({ arm: 'candidate' as const, samples: [x] })) });
    expect(lintAt(11)).toEqual({ next: 'candidate' });
    expect(lintAt(11, 11)).toMatchObject({ decision: { keep: true, invocations: 2 } });
    expect(lintAt(12)).toMatchObject({ decision: { keep: false, tie: true, invocations: 1 } });
    const lint8 = calibrate(emptyNoiseModel(), Array.from({ length: 8 }, () => [12]), { metric: 'lint_issues' });
    expect(planDecision({ direction: 'lower', model: lint8, best: 12, minImprovement: 0, budget_s: null, confirm: 1, invocations: [{ arm: 'candidate', samples: [11] }] })).toMatchObject({ decision: { keep: true, invocations: 1 } });
    const acc = calibrate(emptyNoiseModel(), [[0.91], [0.91], [0.91]], { metric: 'accuracy' });
    expect(planDecision({ direction: 'higher', model: acc, best: 0.91, minImprovement: 0, budget_s: null, confirm: 1, invocations: [{ arm: 'candidate', samples: [0.92] }] })).toEqual({ next: 'candidate' });
    const acc8 = calibrate(emptyNoiseModel(), Array.from({ length: 8 }, () => [0.91]), { metric: 'accuracy' });
    expect(planDecision({ direction: 'higher', model: acc8, best: 0.91, minImprovement: 0, budget_s: null, confirm: 1, invocations: [{ arm: 'candidate', samples: [0.95] }] })).toMatchObject({ decision: { keep: true, invocations: 1 } });
  });
  it('a relative minimum of 100% or more for a lower-is-better metric is named as unreachable', () => {
    expect(unreachableMinimum('lower', '100%')).toMatch(/^min_improvement 100% can never be met .*nothing would be kept$/);
    expect(unreachableMinimum('lower', '150%')).not.toBeNull();
    expect(unreachableMinimum('lower', '99.5%')).toBeNull();
    expect(unreachableMinimum('higher', '150%')).toBeNull();
    expect(unreachableMinimum('lower', 150)).toBeNull();
    expect(minEffect('log', '100%', 10, 'lower')).toBe(Infinity);
  });
  it('from a best of 0 the change is shown in units with the one sign convention (+ = better, -)', () => {
    const model = calibrate(emptyNoiseModel(), Array.from({ length: 8 }, () => [0]), { metric: 'errors' });
    const decide = (v: number) => {
      const s = planDecision({ direction: 'lower', model, best: 0, minImprovement: 0, budget_s: null, confirm: 1, invocations: [{ arm: 'candidate', samples: [v] }] });
      return 'decision' in s ? s.decision.reason : null;
    };
    expect(decide(-1)).toBe('improved +1 (deterministic)');
    expect(decide(2)).toBe('not better (-2, deterministic)');
  });
  it('a timing that changed is confirmed once; two different values for the same code mean noise, and the decision goes on in pairs', () => {
    const model = calibrate(emptyNoiseModel(), Array.from({ length: 8 }, () => [20]), { metric: 'time_ms' });
    const base = { direction: 'lower' as const, model, best: 20, minImprovement: 0, budget_s: null, confirm: 2 };
    const c = (x: number): Invocation => ({ arm: 'candidate', samples: [x] });
    expect(planDecision({ ...base, invocations: [c(19)] })).toEqual({ next: 'candidate' });
    const ok = planDecision({ ...base, invocations: [c(19), c(19)] });
    expect('decision' in ok && ok.decision.keep).toBe(true);
    // Not the end: the best is measured beside the candidate, in the ABBA order, from here.
    expect(planDecision({ ...base, invocations: [c(19), c(21)] })).toEqual({ next: 'best' });
    const abba: Invocation[] = [c(19), c(21)];
    // Halved: the best prints about 40, the candidate about 20, each with a little noise.
    let s = planDecision({ ...base, invocations: abba });
    while ('next' in s) {
      abba.push({ arm: s.next, samples: [(s.next === 'best' ? 40 : 20) + (abba.length % 3)] });
      s = planDecision({ ...base, invocations: abba });
    }
    expect(abba.slice(2, 6).map((i) => i.arm)).toEqual(['best', 'candidate', 'candidate', 'best']);
    expect(s.decision).toMatchObject({ keep: true, noise_discovered: true, invocations: abba.length });
    expect(s.decision.stop).not.toBe('noise-discovered');
    expect(s.decision.reason).toMatch(/noisy, not deterministic/);
    expect(learnDecision(model, s.decision, abba)).toMatchObject({ deterministic: false });
    // Declared deterministic (deterministic: true or repeats: 1): the decision still ends there.
    const declared = planDecision({ ...base, declaredDeterministic: true, invocations: [c(19), c(21)] });
    expect('decision' in declared && declared.decision.stop).toBe('noise-discovered');
    if ('decision' in declared) expect(learn(model, { diffs: [], centre: 0, raw: [19, 21], noiseDiscovered: true }).deterministic).toBe(false);
  });
});

describe('a benchmark that looked deterministic at the baseline and turns out noisy', () => {
  it("the baseline's all-zero residuals leave the pool: no-effect changes stay rarely kept afterwards", () => {
    // 8 identical whole-millisecond baselines make the model deterministic; then the same code scatters 5%.
    // With the zeros kept in the pool the next decisions kept 21%, 14%, 10% of no-effect changes.
    // The decision that finds the noise goes on in pairs on a model seeded from its repeats: it counts too.
    const g = gaussian(mulberry32(5));
    const T = 400;
    let kept = 0;
    let found = 0;
    for (let t = 0; t < T; t++) {
      let model = calibrate(emptyNoiseModel(), Array.from({ length: 8 }, () => [20]), { metric: 'time_ms' });
      // Decision 0 runs until the plan sees two values for the same code (a first value of exactly 20 ties instead).
      for (let d = 0; d < 4; ) {
        const inv: Invocation[] = [];
        for (;;) {
          const s = planDecision({ direction: 'lower', model, invocations: inv, best: 20, minImprovement: 0, budget_s: null, confirm: 2 });
          if ('decision' in s) {
            if ((d > 0 || s.decision.noise_discovered) && s.decision.keep) kept++;
            if (s.decision.noise_discovered) found++;
            if (d > 0 || s.decision.noise_discovered) d++;
            model = learnDecision(model, s.decision, inv);
            if (s.decision.noise_discovered) expect(model.deterministic).toBe(false);
            break;
          }
          inv.push({ arm: s.next, samples: [Number((20 * (1 + 0.05 * g())).toFixed(2))] });
        }
      }
    }
    expect(found).toBe(T);
    expect(kept / (4 * T)).toBeLessThanOrEqual(0.05);
  });
});

describe('a win that takes the metric across 0', () => {
  it('turns the model to metric units and pools there: later no-effect changes stay rarely kept, real gains kept', () => {
    // Baseline 100 ± 1 (log scale), a win to −50, then decisions at −50 ± 1: with the model left on the log
    // scale every later decision had an empty pool and kept 8–9.5% of no-effect changes.
    const g = gaussian(mulberry32(8));
    const T = 300;
    let kept = 0;
    let real = 0;
    for (let t = 0; t < T; t++) {
      let model = calibrate(emptyNoiseModel(), Array.from({ length: 12 }, () => [100 + g()]), { metric: 'score' });
      for (let d = 0; d < 4; d++) {
        const inv: Invocation[] = [];
        const cand = d === 0 ? -50 : d === 3 ? -52.5 : -50;
        for (;;) {
          const s = planDecision({ direction: 'lower', model, invocations: inv, best: d === 0 ? 100 : -50, minImprovement: 0, budget_s: null, confirm: 2 });
          if ('decision' in s) {
            if (d === 0) expect(s.decision.keep).toBe(true);
            else if (d < 3) kept += s.decision.keep ? 1 : 0;
            else real += s.decision.keep ? 1 : 0;
            const invs = inv.map((i) => ({ ...i, duration_s: 1, metrics: {} }));
            model = learnFromLine(model, ResultLine.parse({ type: 'result', ts: 't', segment: 1, run_id: 'r0002', status: 'ok', verdict: 'discard', primary: cand, samples: [], metrics: {}, description: 'd', reason: 'r', duration_s: 1, files: ['a'], decision: s.decision, invocations: invs }), Config.parse({ name: 'x', metric: 'score', direction: 'lower', command: 'c' }), false);
            if (d === 0) expect(model.scale).toBe('abs');
            break;
          }
          inv.push({ arm: s.next, samples: [(s.next === 'best' ? (d === 0 ? 100 : -50) : cand) + g()] });
        }
      }
    }
    expect(kept / (2 * T)).toBeLessThanOrEqual(0.05);
    expect(real / T).toBeGreaterThanOrEqual(0.9);
  });
  it('a re-measured best that scatters, on a model that looked deterministic, starts the pool over', () => {
    const det = calibrate(emptyNoiseModel(), Array.from({ length: 8 }, () => [20]), { metric: 'time_ms' });
    expect(det).toMatchObject({ deterministic: true, residuals: [0, 0, 0, 0, 0, 0, 0] });
    const again = calibrate(det, [[20], [21], [19.5], [20.4]], { metric: 'time_ms' });
    expect(again.deterministic).toBe(false);
    expect(again.residuals.length).toBe(3);
    expect(calibrate(det, [[20], [20]], { metric: 'time_ms' }).residuals.length).toBe(8);
  });
  it('a re-measured best at or below 0 on a log model starts a metric-unit pool too', () => {
    const log = calibrate(emptyNoiseModel(), [[100], [101], [99], [100.5]], { metric: 'score' });
    const again = calibrate(log, [[-1], [0.5], [-0.2]], { metric: 'score' });
    expect(again.scale).toBe('abs');
    expect(again.residuals.length).toBe(2);
  });
});

describe('the plan', () => {
  it('runs ABBA: best, cand, cand, best, …', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(scheduleArm).join(',')).toBe('best,candidate,candidate,best,best,candidate,candidate,best');
  });
  it('pairs consecutive invocations, + = better, and refuses two of one arm in a pair', () => {
    const inv: Invocation[] = [
      { arm: 'best', samples: [100] },
      { arm: 'candidate', samples: [90, 90, 200] },
      { arm: 'candidate', samples: [90] },
      { arm: 'best', samples: [100] },
    ];
    const d = pairDifferences('log', 'lower', inv);
    expect(d[0]).toBeCloseTo(Math.log(100 / 90), 12);
    expect(d[1]).toBeCloseTo(Math.log(100 / 90), 12);
    expect(() => pairDifferences('abs', 'lower', [inv[0]!, inv[3]!])).toThrow(/pair needs one of each/);
  });
  it('fits the budget: a 5-minute benchmark gets 3 pairs automatically, a cheap one MAX_PAIRS, a set budget wins', () => {
    expect(samplingBudget({ budget_s: null, cost_s: 300 }).maxPairs).toBe(3);
    expect(samplingBudget({ budget_s: null, cost_s: 1 }).maxPairs).toBe(MAX_PAIRS);
    expect(samplingBudget({ budget_s: 1200, cost_s: 300 }).maxPairs).toBe(2);
    expect(samplingBudget({ budget_s: 10, cost_s: 300 }).maxPairs).toBe(1);
  });
  it('never runs past the budget', () => {
    const r = rate(() => trial(FAMILIES[6]!, mulberry32(3), 0.02, { cost_s: 60, budget_s: 600 }), 100);
    expect(r.invocations).toBeLessThanOrEqual(10);
  });
  it('minEffect and effectPct agree: a 5% gain in either direction reads +5%', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 0.9, noNaN: true }), fc.double({ min: 1e-3, max: 1e6, noNaN: true }), fc.constantFrom('lower', 'higher' as const), (m, best, dir) => {
        const e = minEffect('log', `${(m * 100).toFixed(3)}%`, best, dir);
        expect(effectPct('log', e, best, dir)!).toBeCloseTo(Number((m * 100).toFixed(3)), 6);
      }),
      { seed: 42 },
    );
  });
  it('decisions do not depend on the metric level (relative, log scale)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -500, max: 500 }).map((x) => x / 10000), { minLength: 12, maxLength: 12 }), fc.double({ min: 1e-3, max: 1e4, noNaN: true }), (noise, level) => {
        // Identical values fall back to the printed digit as the step, which is not scale-free by nature.
        fc.pre(new Set(noise.slice(0, 6)).size === 6);
        const build = (L: number) => {
          let model = calibrate(emptyNoiseModel(), noise.slice(0, 6).map((x) => [L * (1 + x)]), { metric: 'time_ms' });
          const inv: Invocation[] = noise.slice(6).map((x, i) => ({ arm: scheduleArm(i), samples: [L * (1 + x) * (scheduleArm(i) === 'candidate' ? 0.9 : 1)] }));
          return planDecision({ direction: 'lower', model, invocations: inv, best: L, minImprovement: 0, budget_s: null, confirm: 2 });
        };
        const a = build(1);
        const b = build(level);
        expect('decision' in b).toBe('decision' in a);
        if ('decision' in a && 'decision' in b) {
          expect(b.decision.effect).toBeCloseTo(a.decision.effect, 9);
          expect(b.decision.se).toBeCloseTo(a.decision.se, 9);
        }
      }),
      { seed: 42 },
    );
  });
});

describe('noise model helpers', () => {
  it('log scale only for positive values; printed step; clear non-timings', () => {
    expect(scaleFor([1, 2])).toBe('log');
    expect(scaleFor([0, 2])).toBe('abs');
    expect(printedStep(20)).toBe(1);
    expect(printedStep(12.25)).toBeCloseTo(0.01, 12);
    expect(clearlyNotTiming('bundle_size')).toBe(true);
    expect(clearlyNotTiming('rss_mb')).toBe(false);
    expect(clearlyNotTiming('p50_ms')).toBe(false);
  });
});
