// What a segment has learnt about its benchmark's noise, in units that do not
// depend on the metric's level. Pure: the engine rebuilds it from the ledger
// (calibrate after the baseline, learn after each decision) and passes it to
// the plan in sampling.ts. Design and reasons: docs/decisions.md.
//
// - Scale: a metric whose values are all positive is compared on the log
//   scale (relative changes), so a 20× keep does not inflate the noise of the
//   runs after it; any value ≤ 0 falls back to metric units.
// - Unit of replication: the INVOCATION. Several values of one invocation (a
//   benchmark tool's per-iteration figures; of repeated METRIC lines only the
//   last counts) are summarised by their median first, so run-level noise (each
//   invocation has its own level) shows up as the scatter it really is.
// - Scale of the noise: the residuals of paired differences (candidate −
//   best, measured back to back), pooled over the segment's recent decisions,
//   summarised by a winsorised SD (robust to outliers, not fooled by ties).
// - Resolution: the smallest step between printed values; it floors the noise
//   so a coarse clock printing the same value thrice is not taken as exact.
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';

import { chiSquareQuantile, huberVarianceFactor, median, mergeSorted, resolution, winsorizedSd, winsorizedSdSorted } from './stats.ts';

/** Level of the test that the noise grew since the pool was filled (one-sided; a false alarm only costs power). */
export const NOISE_SHIFT_P = 0.999;

/** Degrees of freedom of the new level's residuals before a decision may end in an early win. */
export const FRESH_MIN_DF = 2;

/** Most recent residuals kept in the pool: old enough noise is forgotten. */
export const POOL_MAX = 64;
/** Identical invocations that prove a metric that is clearly not a timing deterministic. */
export const DETERMINISTIC_RUNS_COUNT = 3;
/** Identical invocations that prove a timing (or memory) metric deterministic. */
export const DETERMINISTIC_RUNS_TIMING = 8;

export const NoiseModel = lazySchema(() => z.object({
  /** 'log' while every value seen is > 0; 'abs' otherwise; null before any value. */
  scale: z.nullable(z.enum(['log', 'abs'])),
  /** Centred residuals of paired differences, in scale units, most recent last. */
  residuals: z.array(z.number()).check(z.maxLength(POOL_MAX)),
  /** Degrees of freedom the residuals carry (≤ their count). */
  df: z.number().check(z.minimum(0)),
  /** Smallest step between distinct printed values (metric units), null if none seen. */
  step: z.nullable(z.number().check(z.positive())),
  /** Level the step is relative to (for the log scale). */
  level: z.nullable(z.number()),
  /** Identical invocation values at the baseline proved the benchmark deterministic. */
  deterministic: z.boolean(),
  /** Median seconds of one invocation, when measured. */
  cost_s: z.nullable(z.number().check(z.minimum(0))),
  /**
   * Since the best's level last moved (a kept win): how many of the pool's most
   * recent residuals were measured at the new level, and their df. Null (or
   * absent) when the whole pool is of the current level.
   */
  fresh: z.optional(z.nullable(z.object({
    n: z.number().check(z.minimum(0)),
    df: z.number().check(z.minimum(0)),
    /** Opened by a win under BIG_MOVE: its σ counts only when FRESH_GATE times the old level's (and above the pool's). */
    small: z.optional(z.boolean()),
  }))),
}));
export type NoiseModel = z.infer<typeof NoiseModel>;

export function emptyNoiseModel(): NoiseModel {
  return { scale: null, residuals: [], df: 0, step: null, level: null, deterministic: false, cost_s: null, fresh: null };
}

/** One invocation's value: the median of the samples it printed. */
export function invocationValue(samples: readonly number[]): number {
  return median(samples);
}

/** 'log' when every value is positive (relative comparison), else 'abs'. */
export function scaleFor(values: readonly number[]): 'log' | 'abs' {
  return values.every((v) => v > 0) ? 'log' : 'abs';
}

/**
 * a − b in scale units: log(a/b) on the log scale, taken as log1p((a − b)/b).
 * log a − log b rounds to the ulp of log a (7e-15 near 1e15), so a count of
 * 1e15 that fell by 1 read as equal to the best and was not kept.
 */
export function scaleDelta(scale: 'log' | 'abs', a: number, b: number): number {
  return scale === 'log' ? Math.log1p((a - b) / b) : a - b;
}

/** Successive differences of values in scale units (a null change's paired differences). */
function successiveDeltas(scale: 'log' | 'abs', values: readonly number[]): number[] {
  return values.slice(1).map((x, i) => scaleDelta(scale, x, values[i] as number));
}

// A unit suffix counts only after a non-letter (p95ms, build_ms): problems, tokens, status and functions are no timings.
const TIMING = /(time|(?<![a-z])(?:ms|ns|us)\b|_ms|_s$|^s$|sec|_ns|_us|µs|latency|duration|elapsed|wall|cpu|rss|heap|mem|throughput|ops|qps|rps|fps|per_s|speed|tokens?_per)/i;
// Counts and shares: sizes, lint findings, the coverage source's *_pct and the JUnit source's test counts.
const COUNT = /(size|bytes|kb\b|_kb|count|lines|loc\b|issues|errors|warnings|instructions|files|deps|score|accuracy|nodes|calls|problems|findings|violations|tests|passed|failures|skipped|pct\b|percent|%|coverage)/i;
// Quality metrics (an error rate, a loss, a model score) as whole words or name parts (val_loss, top1_err, error_rate):
// a seeded evaluation repeats exactly, and no clock prints them. `err` alone took the 8 runs of a timing.
const QUALITY = /(?<![a-z])(?:err|error|loss|acc|mse|rmse|mae|nll|wer|cer|bleu|rouge|f1|auc|ppl|perplexity|precision|recall)(?![a-z])/i;

/**
 * Is this metric clearly NOT a timing (a size, a count)? Only then do a few
 * identical values prove determinism. Timings, memory and throughput need
 * DETERMINISTIC_RUNS_TIMING identical values; config `deterministic` overrides.
 */
export function clearlyNotTiming(metric: string, unit = ''): boolean {
  const s = `${metric} ${unit}`;
  return !TIMING.test(s) && (COUNT.test(s) || QUALITY.test(s));
}

/** Identical invocation values needed before a benchmark counts as deterministic. */
export function deterministicRunsNeeded(metric: string, unit = ''): number {
  return clearlyNotTiming(metric, unit) ? DETERMINISTIC_RUNS_COUNT : DETERMINISTIC_RUNS_TIMING;
}

/**
 * Said after a first baseline whose identical values took the timing's proof
 * (DETERMINISTIC_RUNS_TIMING) only because the metric's name could be a timing
 * (`x`, `t`): intended (a timing printed by a coarse clock repeats too), but the
 * user who knows better is told how to end it at DETERMINISTIC_RUNS_DECLARED.
 * Null otherwise.
 */
export function timingProofNote(c: { metric: string; unit?: string; deterministic?: 'auto' | boolean; repeats?: number | 'auto' }, values: readonly (readonly number[])[]): string | null {
  if (c.deterministic !== undefined && c.deterministic !== 'auto') return null;
  if (typeof c.repeats === 'number' || clearlyNotTiming(c.metric, c.unit) || values.length < DETERMINISTIC_RUNS_TIMING) return null;
  const first = values[0]?.[0];
  if (first === undefined || !values.every((v) => v.every((x) => x === first))) return null;
  return `the baseline repeated ${values.length} identical values: "${c.metric}" is not known by its name to be no timing, so it was proven deterministic as a timing is; if it is a count or a score, deterministic: true in config.yaml settles a baseline in ${DETERMINISTIC_RUNS_DECLARED}`;
}

/** The fewest invocations of a baseline: two (one pair of values to compare). */
export const DETERMINISTIC_RUNS_DECLARED = 2;

/**
 * Identical baseline invocations before the baseline stops: what the metric's
 * name asks (deterministicRunsNeeded), or the fewest when the user declared the
 * benchmark deterministic (config `deterministic: true`): no proof is asked.
 */
export function baselineRunsNeeded(c: { metric: string; unit?: string; deterministic?: 'auto' | boolean }): number {
  return c.deterministic === true ? DETERMINISTIC_RUNS_DECLARED : deterministicRunsNeeded(c.metric, c.unit);
}

/** The step of the last printed digit: 20 → 1, 12.25 → 0.01 (a floor when all values tie). */
export function printedStep(v: number): number {
  const s = String(Math.abs(v));
  if (/e/i.test(s)) return Math.abs(v) * 1e-6;
  const dot = s.indexOf('.');
  return dot < 0 ? 1 : 10 ** -(s.length - dot - 1);
}

/**
 * The noise floor of a paired difference in scale units: two values each
 * rounded to `step` add step²/12 each, so the difference has at least
 * step/√6 of scatter. Relative to the level on the log scale.
 */
export function resolutionFloor(model: NoiseModel, scale: 'log' | 'abs', level: number): number {
  if (model.deterministic || model.step === null) return 0;
  const step = scale === 'log' ? model.step / Math.abs(model.level ?? level) : model.step;
  return Number.isFinite(step) ? step / Math.sqrt(6) : 0;
}

/** Scale residuals of one group: d − centre, inflated by √(n/(n−1)) for the lost degree of freedom. */
export function groupResiduals(xs: readonly number[], centre: number): number[] {
  const n = xs.length;
  if (n < 2) return [];
  const k = Math.sqrt(n / (n - 1));
  return xs.map((x) => (x - centre) * k);
}

function addResiduals(model: NoiseModel, residuals: readonly number[], df: number): NoiseModel {
  const all = [...model.residuals, ...residuals];
  const kept = all.slice(Math.max(0, all.length - POOL_MAX));
  let fresh = model.fresh ?? null;
  if (fresh) {
    fresh = { ...fresh, n: fresh.n + residuals.length, df: fresh.df + df };
    // The old level's residuals have left the pool: it is all of the current level again.
    if (fresh.n >= kept.length) fresh = null;
  }
  return { ...model, residuals: kept, df: Math.min(model.df + df, kept.length), fresh };
}

function withStep(model: NoiseModel, raw: readonly number[]): NoiseModel {
  const seen = resolution(raw);
  const step = seen === null ? (model.step ?? (raw.length ? printedStep(raw[0] as number) : null)) : Math.min(seen, model.step ?? seen);
  return { ...model, step, level: model.level ?? (raw.length ? median(raw) : null) };
}

/**
 * After the baseline run: the unchanged code measured `invocations` times in a
 * row (each its printed samples). Successive differences of the invocation
 * values behave as paired differences of a null change, so they seed the
 * pool (overlapping differences carry about half a degree of freedom each).
 */
export function calibrate(
  model: NoiseModel,
  invocations: readonly (readonly number[])[],
  o: { metric: string; unit?: string; deterministic?: 'auto' | boolean; costs_s?: readonly number[] },
): NoiseModel {
  const values = invocations.filter((s) => s.length > 0).map(invocationValue);
  if (values.length === 0) return model;
  const scale = model.scale === 'abs' ? 'abs' : scaleFor(values);
  const identical = values.every((v) => v === values[0]) && invocations.every((s) => s.every((x) => x === s[0]));
  // A log pool cannot judge metric units, and the all-zero pool of a benchmark
  // that looked deterministic understates the noise it now shows: either starts the pool over.
  const restart = (model.scale === 'log' && scale === 'abs') || (model.deterministic && !identical);
  let m: NoiseModel = withStep({ ...model, ...(restart ? { residuals: [], df: 0, fresh: null } : {}), scale }, invocations.flat());
  const needed = deterministicRunsNeeded(o.metric, o.unit);
  const det = o.deterministic ?? 'auto';
  m.deterministic = det === 'auto' ? identical && values.length >= needed : det && identical;
  if (o.costs_s && o.costs_s.length) m.cost_s = median(o.costs_s);
  const diffs = successiveDeltas(scale, values);
  if (diffs.length >= 1) {
    const res = diffs.length >= 2 ? groupResiduals(diffs, median(diffs)) : diffs;
    m = addResiduals(m, res, Math.max(0.5, diffs.length / 2));
  }
  return m;
}

/** After a decision: its paired differences (scale units) join the pool; raw values refine the step. */
export function learn(
  model: NoiseModel,
  o: {
    diffs: readonly number[];
    centre: number;
    raw: readonly number[];
    costs_s?: readonly number[];
    /** The plan saw a 'deterministic' benchmark print two values for the same code. */
    noiseDiscovered?: boolean;
    /** Each invocation's value (the plan compares these) and its arm; raw when absent. */
    values?: readonly number[];
    arms?: readonly ('best' | 'candidate')[];
    /** The decision was kept as a win: the best's level moved to the candidate's. */
    moved?: boolean;
  },
): NoiseModel {
  let m = withStep(model, o.raw);
  // A value ≤ 0 has no log: the plan compared this decision in metric units,
  // and will compare every later one so. The log pool cannot judge those: an
  // empty pool (df from one decision alone) kept 9% of no-effect changes after
  // a win that crossed 0. The model turns 'abs' and pools from here.
  // Each arm's repeats of its own code seed that pool, as a baseline does.
  if (m.scale === 'log' && (o.values ?? o.raw).some((v) => v <= 0)) {
    m = { ...m, scale: 'abs', residuals: [], df: 0, fresh: null };
    const values = o.values ?? [];
    for (const arm of ['best', 'candidate'] as const) m = seedFromRepeats(m, ofArm(values, o.arms ?? [], arm));
  }
  // The pool's residuals were measured while every value repeated (all 0): they
  // would understate the noise just found, so the pool starts over from the
  // invocations of the same code that differed, as a baseline's would.
  // Each arm's values seed it apart: a decision that went on after the noise showed measured the best too.
  if (o.noiseDiscovered) {
    const { values, arms } = o;
    m = discoveredNoise(m, values && arms ? [ofArm(values, arms, 'candidate'), ofArm(values, arms, 'best')] : [values ?? o.raw]);
  }
  // A changed value read twice alike is more proof of determinism: its zero
  // residuals join the pool (sampling.ts thinEvidence counts them).
  else if (m.deterministic && o.diffs.length === 0) m = seedFromRepeats(m, sameCode(o.values ?? [], o.arms ?? [], 'candidate'));
  if (o.diffs.length >= 2) {
    const res = groupResiduals(o.diffs, o.centre);
    // Noise that grew (a noisy neighbour, or additive noise after a big win on
    // the log scale) makes the old pool a lie: it starts over from this decision.
    const floor = resolutionFloor(m, m.scale ?? 'abs', median(o.raw.length ? o.raw : [1]));
    // A step in the level that the same code's repeats show (noiseStepped) does
    // too; their differences then join the new pool beside the residuals.
    const repeats = decisionRepeats(m, o.values ?? [], o.arms ?? []);
    const stepped = !noiseGrew(m.residuals, res, floor) && noiseStep(m.residuals, m.df, repeats, floor) === 'stepped';
    if (stepped || noiseGrew(m.residuals, res, floor)) m = { ...m, residuals: [], df: 0, fresh: null };
    m = addResiduals(m, res, o.diffs.length - 1);
    if (stepped) m = addResiduals(m, repeats, repeats.length / 2);
    if (o.diffs.some((d) => d !== 0)) m = { ...m, deterministic: false };
  }
  // A big win moved the best to a level whose noise nobody measured yet (additive
  // noise doubles in relative terms when the time halves): the pool's residuals
  // from here on are the new level's, and pairNoise weighs them apart. The
  // candidate's repeats of the new code are its first residuals.
  // A smaller win opens a gated group: noise that doubles after a 5-15% win kept 5-6% of no-effect
  // changes on the first decision, where the pool alone could not see it.
  if (o.moved && !m.deterministic && m.residuals.length > 0) {
    const small = !bigMove(m.scale ?? 'abs', o.centre, o.values ?? [], o.arms ?? []);
    m = seedFromRepeats({ ...m, fresh: small ? { n: 0, df: 0, small } : { n: 0, df: 0 } }, ofArm(o.values ?? [], o.arms ?? [], 'candidate'));
  }
  if (o.costs_s && o.costs_s.length) m = { ...m, cost_s: median(o.costs_s) };
  return m;
}

/**
 * A 'deterministic' model that has just seen one code print two values: noisy,
 * its pool started over from those repeats (one group per code), since the
 * baseline's all-zero residuals would understate the noise just found.
 */
export function discoveredNoise(model: NoiseModel, repeatsOfEachCode: readonly (readonly number[])[]): NoiseModel {
  let m: NoiseModel = { ...model, deterministic: false, residuals: [], df: 0, fresh: null };
  for (const xs of repeatsOfEachCode) m = seedFromRepeats(m, xs);
  return m;
}

/** The values of one arm's invocations. */
function ofArm(values: readonly number[], arms: readonly ('best' | 'candidate')[], arm: 'best' | 'candidate'): number[] {
  return values.filter((_, i) => arms[i] === arm);
}

/** The values of one arm, when every one of them is the same (else none). */
function sameCode(values: readonly number[], arms: readonly ('best' | 'candidate')[], arm: 'best' | 'candidate'): number[] {
  const xs = ofArm(values, arms, arm);
  return xs.every((x) => x === xs[0]) ? xs : [];
}

/** The repeats (repeatDeltas) of a decision's invocations in the pool's scale; none when the scales differ. */
function decisionRepeats(m: NoiseModel, values: readonly number[], arms: readonly ('best' | 'candidate')[]): number[] {
  if (values.length !== arms.length || m.scale === null) return [];
  if (m.scale === 'log' && values.some((v) => v <= 0)) return [];
  return repeatDeltas(m.scale, values, arms);
}

/** A level move of at least BIG_MOVE (relative) starts a fresh group of residuals; a smaller one, a gated group. */
export const BIG_MOVE = 0.2;
/** How much larger than the pool's the σ of a gated group (after a win under BIG_MOVE) must be to count. */
export const FRESH_GATE = 1.3;

/** Did a kept win move the level by BIG_MOVE or more? Log scale: the effect is relative; metric units: against the best arm's median. */
function bigMove(scale: 'log' | 'abs', effect: number, values: readonly number[], arms: readonly ('best' | 'candidate')[]): boolean {
  if (scale === 'log') return Math.abs(effect) >= Math.log(1 + BIG_MOVE);
  const best = values.filter((_, i) => arms[i] === 'best');
  return best.length > 0 && Math.abs(effect) >= BIG_MOVE * Math.abs(median(best));
}

/** Successive differences of values of one code (a null change) as residuals, as calibrate seeds the pool. */
function seedFromRepeats(model: NoiseModel, values: readonly number[]): NoiseModel {
  const scale = model.scale === 'log' && values.every((v) => v > 0) ? 'log' : 'abs';
  if (scale !== (model.scale ?? scale)) return model;
  const diffs = successiveDeltas(scale, values);
  if (diffs.length === 0) return model;
  const res = diffs.length >= 2 ? groupResiduals(diffs, median(diffs)) : diffs;
  return addResiduals(model, res, Math.max(0.5, diffs.length / 2));
}

const sortedPools = new WeakMap<readonly number[], { sorted: Float64Array; sd: number | null }>();

/**
 * A pool of residuals sorted, once per pool: a decision plans each invocation
 * against the same model, and its σ (alone, and with the decision's own
 * residuals) was asked five times a step, each a sort (most of a simulated
 * session's time). A pool is never changed in place (addResiduals and the
 * resets make a new array), so its array is its key.
 */
function sortedPool(pool: readonly number[]): { sorted: Float64Array; sd: number | null } {
  let p = sortedPools.get(pool);
  if (p === undefined) {
    p = { sorted: Float64Array.from(pool).sort(), sd: null };
    sortedPools.set(pool, p);
  }
  return p;
}

/** winsorizedSd of a (non-empty) pool, computed once per pool. */
export function poolSd(pool: readonly number[]): number {
  const p = sortedPool(pool);
  if (p.sd === null) p.sd = winsorizedSdSorted(p.sorted);
  return p.sd;
}

/** winsorizedSd of the pool and `current` together (non-empty): `current` merged into the pool's sorted copy. */
function pooledSd(pool: readonly number[], current: readonly number[]): number {
  return winsorizedSdSorted(mergeSorted(sortedPool(pool).sorted, Float64Array.from(current).sort()));
}

const oldLevelSds = new WeakMap<readonly number[], { n: number; sd: number }>();

/**
 * winsorizedSd of the pool's first `n` residuals (those measured before the last
 * win), floored; null under 2 of them. Once per pool, as poolSd.
 */
function oldLevelSd(pool: readonly number[], n: number, floor: number): number | null {
  if (n < 2) return null;
  let hit = oldLevelSds.get(pool);
  if (hit === undefined || hit.n !== n) {
    hit = { n, sd: winsorizedSd(pool.slice(0, n)) };
    oldLevelSds.set(pool, hit);
  }
  return Math.max(hit.sd, floor);
}

/**
 * Has the noise grown since the pool was filled? Pooled alone, 64 old
 * residuals outvote a few new ones (the winsorising even clips them as
 * outliers): additive noise after a 10× keep on the log scale, or 1% noise
 * turning 8%, then kept 11-17% of no-effect changes. Growth is the current
 * residuals' mean square (ν = n − 1 degrees of freedom) over the pool's σ²
 * past the NOISE_SHIFT_P quantile of χ²(ν)/ν, AND broad: more than half of
 * them beyond one pool σ, so one outlier (a GC pause) is not growth.
 */
export function noiseGrew(pool: readonly number[], current: readonly number[], floor: number): boolean {
  const nu = current.length - 1;
  if (nu < 1 || pool.length < 2) return false;
  const ref = Math.max(poolSd(pool), floor);
  const cur = winsorizedSd(current);
  if (!(cur > 0)) return false;
  const broad = current.filter((r) => Math.abs(r) > ref).length > current.length / 2;
  if (!(ref > 0)) return broad;
  return broad && (cur / ref) ** 2 > chiSquareQuantile(NOISE_SHIFT_P, nu) / nu;
}

/** Level of the test that the noise stepped up inside a decision (one-sided; a false alarm costs some power). */
export const NOISE_STEP_P = 0.99;
/** A lower level that only holds back an early win (a false alarm costs a few invocations). */
export const NOISE_STEP_SOFT_P = 0.9;
/** One-sided confidence of the upper bound of the pool's σ the step test measures against. */
export const POOL_UPPER_P = 0.9;
/** The latest repeats the step test looks at: a step inside a decision shows in its recent repeats first. */
export const STEP_WINDOW = 4;

/**
 * Differences of neighbouring invocations of the same arm (the same code run
 * back to back), in scale units. In ABBA order every boundary between two
 * pairs is one (best, cand | cand, best | best, …), so a decision of k pairs
 * has k − 1 of them: the noise as it is now, whatever the change's effect,
 * where the pairs' residuals only see how the differences scatter (two pairs
 * that agree by chance read as quiet, the very case of a false early win).
 */
export function repeatDeltas(scale: 'log' | 'abs', values: readonly number[], arms: readonly ('best' | 'candidate')[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < values.length; i++) if (arms[i] === arms[i - 1]) out.push(scaleDelta(scale, values[i] as number, values[i - 1] as number));
  return out;
}

/**
 * Mean square of mean-0 differences, the largest quarter (from 3 of them)
 * clipped to the next: a pause or two is not a step (an eighth let 5%
 * outliers through: a real gain under them kept 89.8% instead of 91.8%).
 * Under steady noise it falls below χ²(m)/m, so the test only gets stricter.
 */
function clippedMeanSquare(ds: readonly number[]): number {
  const sq = ds.map((d) => d * d).sort((a, b) => a - b);
  const cut = sq.length >= 3 ? Math.ceil(sq.length / 4) : 0;
  const top = sq[sq.length - 1 - cut] as number;
  return sq.reduce((a, x) => a + Math.min(x, top), 0) / sq.length;
}

export type NoiseStep = 'none' | 'soft' | 'stepped';

/**
 * Has the noise stepped up since the pool was filled (a machine got busy, a
 * neighbour started a job)? A variance-ratio test of the repeats
 * (repeatDeltas: mean 0 for the same code, so uncentred) against the pool's
 * σ, on the latest STEP_WINDOW (a step inside the decision) and on all of
 * them: the mean square over σ² past the χ²(m)/m quantile. 'stepped' at
 * NOISE_STEP_P (the pool no longer counts), 'soft' at NOISE_STEP_SOFT_P (no
 * early win yet). The pool says 1% while the benchmark now scatters 5%:
 * without it a no-effect change was kept 4–6% of the time, most often by the
 * decision that straddled the step or the one after it.
 */
export function noiseStep(pool: readonly number[], poolDf: number, repeats: readonly number[], floor: number): NoiseStep {
  if (repeats.length === 0 || pool.length < 2) return 'none';
  // The pool's σ is an estimate too (a baseline gives it 5 or 6 df): tested against
  // its upper POOL_UPPER_P bound, or 5% outliers set the test off (a real gain kept 88% instead of 92%).
  const ref = Math.max(poolSd(pool) * Math.sqrt(poolDf >= 1 ? poolDf / chiSquareQuantile(1 - POOL_UPPER_P, poolDf) : 1), floor);
  let level: NoiseStep = 'none';
  for (const w of repeats.length > STEP_WINDOW ? [repeats.slice(-STEP_WINDOW), repeats] : [repeats]) {
    const ms = clippedMeanSquare(w);
    if (!(ref > 0)) return ms > 0 ? 'stepped' : 'none';
    const ratio = ms / (ref * ref);
    // One or two repeats cannot tell a step from one pause: they only hold back an early win.
    if (w.length >= 3 && ratio > chiSquareQuantile(NOISE_STEP_P, w.length) / w.length) return 'stepped';
    if (ratio > chiSquareQuantile(NOISE_STEP_SOFT_P, w.length) / w.length) level = 'soft';
  }
  return level;
}

/**
 * The scale σ of a paired difference and its degrees of freedom: the pool
 * plus the current decision's residuals, floored by the resolution; and the
 * Huber variance factor those residuals imply (outliers and lumps raise it).
 * When the current residuals show that the noise grew (noiseGrew), the pool
 * is not used: σ and df are this decision's own.
 */
export function pairNoise(
  model: NoiseModel,
  current: readonly number[],
  floor: number,
  repeats: readonly number[] = [],
): { sigma: number; df: number; factor: number; young?: boolean } {
  const grew = noiseGrew(model.residuals, current, floor);
  if (grew) model = { ...model, residuals: [], df: 0, fresh: null };
  const step = grew ? 'none' : noiseStep(model.residuals, model.df, repeats, floor);
  if (step === 'stepped') return steppedNoise(current, repeats, floor);
  const r = poolNoise(model, current, floor);
  // Repeats a little out of line with the pool: not enough to drop it, enough to wait for more pairs.
  return step === 'soft' ? { ...r, young: true } : r;
}

function poolNoise(model: NoiseModel, current: readonly number[], floor: number): { sigma: number; df: number; factor: number; young?: boolean } {
  const all = [...model.residuals, ...current];
  const df = model.df + Math.max(0, current.length - 1);
  const sigma = Math.max(all.length ? pooledSd(model.residuals, current) : 0, floor);
  const fresh = model.fresh ?? null;
  if (!fresh || fresh.n >= model.residuals.length) return { sigma, df, factor: Math.max(1, huberVarianceFactor(all, sigma)) };
  // After a big win: the residuals measured at the new level (and this
  // decision's) against the whole pool. The old level's outvote the new ones
  // (13 of them kept 5-8% of no-effect changes when the noise doubled), so the
  // larger σ counts, with the df of the residuals it comes from.
  const era = [...model.residuals.slice(model.residuals.length - fresh.n), ...current];
  const eraDf = fresh.df + Math.max(0, current.length - 1);
  const eraSigma = era.length >= 2 ? Math.max(winsorizedSd(era), floor) : 0;
  const young = eraDf < FRESH_MIN_DF;
  if (fresh.small) {
    // After a smaller win the noise seldom changes: the larger of two σ would cost power for nothing
    // (a real 5% gain under lognormal 5% noise kept 70% instead of 74%), so the new level's counts
    // only when clearly larger: FRESH_GATE times the old level's σ (the pool before the win). Against
    // the whole pool, which the new level's residuals and this decision's had already raised, noise
    // that doubled often fell short of it: bimodal ±2% turning ±4% kept 4.1% of no-effect changes.
    const ref = Math.min(sigma, oldLevelSd(model.residuals, model.residuals.length - fresh.n, floor) ?? sigma);
    if (!young && eraSigma > sigma && eraSigma > FRESH_GATE * ref) return { sigma: eraSigma, df: eraDf, factor: Math.max(1, huberVarianceFactor(era, eraSigma)), young };
    // A few pairs cannot tell the two apart: while the new level looks noisier, no early win.
    return { sigma, df, factor: Math.max(1, huberVarianceFactor(all, sigma)), young: young || eraSigma > sigma };
  }
  if (eraSigma > sigma && !young) return { sigma: eraSigma, df: eraDf, factor: Math.max(1, huberVarianceFactor(era, eraSigma)), young };
  const s = Math.max(sigma, eraSigma);
  return { sigma: s, df, factor: Math.max(1, huberVarianceFactor(all, s)), young };
}


/** Degrees of freedom of a decision's own noise, after a step, before it may end in an early win. */
export const STEP_MIN_DF = 3;

/**
 * σ after a step in the noise level (noiseStepped): the pool measured the old
 * level, so only this decision's evidence counts: its residuals and its
 * repeats (overlapping differences: half a degree of freedom each, as in
 * calibrate). Until STEP_MIN_DF of them, no early win: two pairs that agree by
 * chance are what a false win looks like right after a step.
 */
function steppedNoise(current: readonly number[], repeats: readonly number[], floor: number): { sigma: number; df: number; factor: number; young: boolean } {
  const all = [...current, ...repeats];
  const sigma = Math.max(winsorizedSd(all), floor);
  const df = Math.max(0, current.length - 1) + repeats.length / 2;
  return { sigma, df, factor: Math.max(1, huberVarianceFactor(all, sigma)), young: df < STEP_MIN_DF };
}
