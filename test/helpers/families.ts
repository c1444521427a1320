// Benchmark noise families and the decision flow of the new model (baseline
// run → calibrate → paired decision), driven by any uniform source, so the
// seeded tests and bench/noise.ts measure the same code. Also the strict
// "better than the best" rule other tools use, for comparison.
import { calibrate, deterministicRunsNeeded, emptyNoiseModel, invocationValue, learn, type NoiseModel } from '../../scripts/lib/noise-model.ts';
import { planBaseline, planDecision, type Decision, type Invocation } from '../../scripts/lib/sampling.ts';
import { gaussian, type Uniform } from './prng.ts';

/** A benchmark: each call prints one invocation's samples for code whose true value is `level`. */
export type Bench = { newRun(): void; invoke(level: number): number[] };
export type Family = { name: string; metric: string; level: number; prior20x?: boolean; make(u: Uniform): Bench };

function simple(name: string, draw: (level: number, g: () => number, u: Uniform) => number, o: Partial<Family> = {}): Family {
  return {
    name,
    metric: o.metric ?? 'time_ms',
    level: o.level ?? 100,
    prior20x: o.prior20x ?? false,
    make(u) {
      const g = gaussian(u);
      return { newRun() {}, invoke: (level) => [draw(level, g, u)] };
    },
  };
}

function studentT3(g: () => number): number {
  const chi = g() ** 2 + g() ** 2 + g() ** 2;
  return g() / Math.sqrt(chi / 3);
}

export const FAMILIES: Family[] = [
  simple('gaussian 3%', (l, g) => l * (1 + 0.03 * g())),
  simple('student-t3 (sd 3%)', (l, g) => l * (1 + (0.03 / Math.sqrt(3)) * studentT3(g))),
  simple('5% outliers +40%', (l, g, u) => l * (1 + 0.03 * g()) * (u() < 0.05 ? 1.4 : 1)),
  simple('mult. 5% after 20x keep', (l, g) => l * Math.exp(0.05 * g()), { prior20x: true }),
  {
    name: 'run-level 3%+2% (within 1%, 5/inv)',
    metric: 'time_ms',
    level: 100,
    make(u) {
      const g = gaussian(u);
      let run = 1;
      return {
        newRun: () => void (run = Math.exp(0.03 * g())),
        invoke: (l) => {
          const inv = l * run * Math.exp(0.02 * g());
          return Array.from({ length: 5 }, () => inv * (1 + 0.01 * g()));
        },
      };
    },
  },
  {
    name: 'drift -0.5%/inv (gauss 3%)',
    metric: 'time_ms',
    level: 100,
    make(u) {
      const g = gaussian(u);
      let t = 0;
      return { newRun() {}, invoke: (l) => [l * 0.995 ** t++ * (1 + 0.03 * g())] };
    },
  },
  simple('bimodal ±4%', (l, g, u) => l * (u() < 0.5 ? 0.96 : 1.04) * (1 + 0.005 * g())),
  simple('whole ms ~20 ms (3%)', (l, g) => Math.round(l * (1 + 0.03 * g())), { level: 20 }),
  {
    name: '5 samples/inv (inv 1.5%, within 3%)',
    metric: 'time_ms',
    level: 100,
    make(u) {
      const g = gaussian(u);
      return {
        newRun() {},
        invoke: (l) => {
          const inv = l * (1 + 0.015 * g());
          return Array.from({ length: 5 }, () => inv * (1 + 0.03 * g()));
        },
      };
    },
  },
];

export const DETERMINISTIC: Family = simple('deterministic (size)', (l) => Math.round(l), { metric: 'size_bytes', level: 5000 });

export type TrialResult = { kept: boolean; decision: Decision | null; baselineInvocations: number; invocations: number };

/** Baseline run then calibrate: returns the model and the stored best centre. */
export function runBaseline(bench: Bench, family: Family, level: number, cost_s: number, budget_s: number | null): { model: NoiseModel; best: number; n: number } {
  bench.newRun();
  const inv: Invocation[] = [];
  const detRuns = deterministicRunsNeeded(family.metric);
  do inv.push({ arm: 'best', samples: bench.invoke(level), duration_s: cost_s });
  while (planBaseline({ invocations: inv, model: emptyNoiseModel(), budget_s, detRuns }));
  const model = calibrate(emptyNoiseModel(), inv.map((i) => i.samples), { metric: family.metric, costs_s: inv.map(() => cost_s) });
  const values = inv.map((i) => invocationValue(i.samples));
  return { model, best: values.sort((a, b) => a - b)[values.length >> 1] as number, n: inv.length };
}

/** One paired decision: best at `bestLevel`, candidate at `candLevel`. */
export function runDecision(o: {
  bench: Bench;
  model: NoiseModel;
  best: number;
  bestLevel: number;
  candLevel: number;
  cost_s: number;
  budget_s: number | null;
  confirm: number;
  minImprovement?: number | string;
}): { decision: Decision; model: NoiseModel } {
  o.bench.newRun();
  const inv: Invocation[] = [];
  for (;;) {
    const step = planDecision({ direction: 'lower', model: o.model, invocations: inv, best: o.best, minImprovement: o.minImprovement ?? 0, budget_s: o.budget_s, confirm: o.confirm });
    if ('decision' in step) {
      const d = step.decision;
      const model = learn(o.model, { diffs: d.diffs, centre: d.effect, raw: inv.flatMap((i) => i.samples), noiseDiscovered: d.stop === 'noise-discovered' || d.noise_discovered === true, values: inv.map((i) => invocationValue(i.samples)), arms: inv.map((i) => i.arm) });
      return { decision: d, model };
    }
    inv.push({ arm: step.next, samples: o.bench.invoke(step.next === 'best' ? o.bestLevel : o.candLevel), duration_s: o.cost_s });
  }
}

/** The whole flow for one trial: baseline, an optional 20× keep, then the judged decision (lower is better). */
export function trial(family: Family, u: Uniform, effect: number, o: { cost_s?: number; budget_s?: number | null } = {}): TrialResult {
  const cost_s = o.cost_s ?? 1;
  const budget_s = o.budget_s ?? null;
  const bench = family.make(u);
  const confirm = family.metric.includes('size') ? 1 : 2;
  const b = runBaseline(bench, family, family.level, cost_s, budget_s);
  let model = b.model;
  let best = b.best;
  let level = family.level;
  if (family.prior20x) {
    const r = runDecision({ bench, model, best, bestLevel: level, candLevel: level / 20, cost_s, budget_s, confirm });
    model = r.model;
    if (r.decision.keep) {
      level = level / 20;
      best = best / 20;
    }
  }
  const r = runDecision({ bench, model, best, bestLevel: level, candLevel: level * (1 - effect), cost_s, budget_s, confirm });
  return { kept: r.decision.keep, decision: r.decision, baselineInvocations: b.n, invocations: r.decision.invocations };
}

/** The strict rule of other tools: one invocation each, keep when strictly better than the best. */
export function strictTrial(family: Family, u: Uniform, effect: number): TrialResult {
  const bench = family.make(u);
  let level = family.level;
  let best = invocationValue(bench.invoke(level));
  if (family.prior20x) {
    const c = invocationValue(bench.invoke(level / 20));
    if (c < best) {
      best = c;
      level = level / 20;
    }
  }
  const c = invocationValue(bench.invoke(level * (1 - effect)));
  return { kept: c < best, decision: null, baselineInvocations: 1, invocations: 1 };
}

/** Keep rate over `trials` and the mean invocations per decision. */
export function rate(run: () => TrialResult, trials: number): { rate: number; kept: number; trials: number; invocations: number; baseline: number } {
  let kept = 0;
  let inv = 0;
  let base = 0;
  for (let t = 0; t < trials; t++) {
    const r = run();
    if (r.kept) kept++;
    inv += r.invocations;
    base += r.baselineInvocations;
  }
  return { rate: kept / trials, kept, trials, invocations: inv / trials, baseline: base / trials };
}

/** Wilson 95% interval of a proportion. */
export function wilson(k: number, n: number): [number, number] {
  const z = 1.96;
  const p = k / n;
  const den = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / den;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / den;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}
