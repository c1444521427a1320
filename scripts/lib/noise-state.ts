// The reducer's side of the noise model: what one ledger result line teaches
// the segment's NoiseModel (noise-model.ts). Pure. A baseline (or the
// unchanged best measured again) calibrates it from its invocations; every
// candidate decision adds its paired residuals.
import { calibrate, invocationValue, learn, type NoiseModel } from './noise-model.ts';
import type { Config, InvocationLine, ResultLine } from './schema.ts';

/** The run's invocations; lines written before invocations were recorded count each sample as one. */
export function invocationsOf(line: Pick<ResultLine, 'invocations' | 'samples' | 'metrics'>): InvocationLine[] {
  if (line.invocations.length) return line.invocations;
  return line.samples.map((x) => ({ arm: 'candidate' as const, samples: [x], metrics: line.metrics }));
}

/** `deterministic` as the model sees it: `repeats: 1` is the user saying one sample is enough. */
export function deterministicSetting(c: Pick<Config, 'deterministic' | 'repeats'>): 'auto' | boolean {
  if (c.deterministic !== 'auto') return c.deterministic;
  return c.repeats === 1 ? true : 'auto';
}

const durations = (xs: readonly InvocationLine[]): number[] => xs.map((i) => i.duration_s).filter((d): d is number => d !== undefined);

export function learnFromLine(model: NoiseModel, line: ResultLine, cfg: Config, calibrating: boolean): NoiseModel {
  const invs = invocationsOf(line);
  if (calibrating) {
    const cand = invs.filter((i) => i.arm === 'candidate');
    return calibrate(model, cand.map((i) => i.samples), { metric: cfg.metric, unit: cfg.unit, deterministic: deterministicSetting(cfg), costs_s: durations(cand) });
  }
  const d = line.decision;
  if (d === null) return model;
  return learn(model, {
    diffs: d.diffs,
    centre: d.effect,
    raw: invs.flatMap((i) => i.samples),
    values: invs.filter((i) => i.samples.length > 0).map((i) => invocationValue(i.samples)),
    arms: invs.filter((i) => i.samples.length > 0).map((i) => i.arm),
    costs_s: durations(invs),
    noiseDiscovered: d.stop === 'noise-discovered' || d.noise_discovered === true,
    // A win the engine kept moved the best (a tie's simplification stays within noise).
    moved: line.verdict === 'keep' && d.keep,
  });
}

/** The baseline's value of every metric, one per invocation (guardrails are judged against these). */
export function baselineMetricSamples(line: ResultLine): Record<string, number[]> {
  const out = new Map<string, number[]>();
  const cand = invocationsOf(line).filter((i) => i.arm === 'candidate');
  for (const inv of cand) for (const [k, v] of Object.entries(inv.metrics)) out.set(k, [...(out.get(k) ?? []), v]);
  for (const [k, v] of Object.entries(line.metrics)) if (!out.get(k)?.length) out.set(k, [v]);
  return Object.fromEntries(out);
}
