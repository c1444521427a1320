// The sampling plan and the keep decision on paired, interleaved invocations.
// Pure: the engine asks `planBaseline` / `planDecision` after every invocation
// which arm to run next (or gets the decision), and feeds the result to
// `learn` (noise-model.ts). Design, constants and measured rates:
// docs/decisions.md and bench/noise.ts.
//
// A decision re-measures the best interleaved with the candidate in ABBA
// order (best, cand, cand, best, best, cand, …). Consecutive invocations form
// a pair; a pair's difference (candidate − best, scale units, + = better)
// cancels run-level noise shared by neighbours, and the alternating order
// cancels a linear drift over every two pairs. The effect is the
// Huber M-estimate of the differences (robust, and well behaved on lumpy
// noise); its standard error comes from the segment's pooled residuals. Looks after every pair:
//   keep early   when effect − min > C_WIN·se        (a clear win)
//   stop early   when effect + Z_FUTILE·se < what the last look would need
//   at the last pair (the budget's): keep when effect − min > t(1−α, df)·se.
import type { Direction } from './schema.ts';
import { huberLocation, median, studentTQuantile } from './stats.ts';
import { DETERMINISTIC_RUNS_TIMING, discoveredNoise, FRESH_MIN_DF, groupResiduals, invocationValue, pairNoise, poolSd, repeatDeltas, resolutionFloor, scaleDelta, type NoiseModel } from './noise-model.ts';
import { formatSignedPct, formatSignedUnits, signedPct } from './signs.ts';

export type Arm = 'best' | 'candidate';
/** One invocation of the benchmark: which code it ran, what it printed, how long it took. */
export type Invocation = { arm: Arm; samples: readonly number[]; duration_s?: number };

/** One-sided level of the final look. */
export const ALPHA = 0.025;
/** A clear win stops early above this many standard errors (≈ 1 in 4,000 by chance). */
export const C_WIN = 3.5;
/** ... or when every one of ≥ 2 pairs beats the minimum by this many noise SDs. */
export const C_WIN_PAIR = 3;
/** Fewest pairs for the estimate-based futility stop. */
export const FUTILE_MIN_PAIRS = 3;
/** Fewest pairs for the estimate-based early win (the estimate is robust from there). */
export const WIN_MIN_PAIRS = 6;
/** Futility: stop when effect + Z_FUTILE·se is short of what the last look needs. */
export const Z_FUTILE = 1.75;
/**
 * Ties, an equivalence test: "equal within noise" means the loss is, with
 * one-sided confidence Φ(TIE_Z) ≈ 84%, smaller than TIE_DELTA of one pair's
 * noise SD: effect − TIE_Z·se ≥ −TIE_DELTA·σ. A band of a fixed share of
 * the s.e. (−0.5·se) was widest where the evidence is weakest: at 3 pairs
 * (a 5-minute benchmark) it kept a real 5% regression under 3% noise as a
 * tie 9% of the time, at 2 pairs 16%. At 16 pairs the two bands are alike.
 */
export const TIE_Z = 1;
export const TIE_DELTA = 0.4;
/** σ this many times the pool's before the decision: the band is measured in the pool's σ. */
export const TIE_INFLATED = 1.5;
/** Most pairs of one decision, whatever the budget (but FRESH_EXTRA_PAIRS). */
export const MAX_PAIRS = 16;
/** Pairs added to the first decision after a big win (freshExtraPairs). */
export const FRESH_EXTRA_PAIRS = 2;
/** Most invocations of a baseline run. */
export const BASELINE_MAX = 12;
/** The automatic budget per decision: room for MAX_PAIRS pairs, within these bounds (s). */
export const AUTO_BUDGET_MIN_S = 120;
export const AUTO_BUDGET_MAX_S = 1800;

/** The ABBA schedule: which arm the i-th invocation (0-based) of a decision runs. */
export function scheduleArm(i: number): Arm {
  return i % 4 === 0 || i % 4 === 3 ? 'best' : 'candidate';
}

/**
 * The budget of one decision: `budget_s` (config `sample_budget_s`), or
 * automatically room for MAX_PAIRS pairs clamped to [2 min, 30 min]; the
 * cost is the median duration of an invocation (unknown: assume cheap).
 */
export function samplingBudget(o: { budget_s: number | null; cost_s: number | null }): {
  budget_s: number;
  maxPairs: number;
  maxBaseline: number;
} {
  const cost = o.cost_s !== null && o.cost_s > 0 ? o.cost_s : null;
  const auto = cost === null ? AUTO_BUDGET_MIN_S : Math.min(AUTO_BUDGET_MAX_S, Math.max(AUTO_BUDGET_MIN_S, 2 * MAX_PAIRS * cost));
  const budget_s = o.budget_s ?? auto;
  if (cost === null) return { budget_s, maxPairs: MAX_PAIRS, maxBaseline: BASELINE_MAX };
  const maxPairs = Math.min(MAX_PAIRS, Math.max(1, Math.floor(budget_s / (2 * cost))));
  const maxBaseline = Math.min(BASELINE_MAX, Math.max(2, Math.floor(budget_s / cost)));
  return { budget_s, maxPairs, maxBaseline };
}

function costOf(invocations: readonly Invocation[], model: NoiseModel): number | null {
  const d = invocations.map((i) => i.duration_s).filter((x): x is number => x !== undefined);
  return d.length ? median(d) : model.cost_s;
}

/**
 * The baseline run: the unchanged code, invocation after invocation. Stops
 * when a deterministic benchmark is proven (`detRuns` identical values), or
 * at the budget's baseline size. Returns true while another is needed.
 */
export function planBaseline(o: {
  invocations: readonly Invocation[];
  model: NoiseModel;
  budget_s: number | null;
  detRuns: number;
}): boolean {
  const n = o.invocations.length;
  if (n < 2) return true;
  const { maxBaseline } = samplingBudget({ budget_s: o.budget_s, cost_s: costOf(o.invocations, o.model) });
  const values = o.invocations.map((i) => invocationValue(i.samples));
  const same = o.invocations.every((i) => i.samples.every((x) => x === values[0]));
  if (same && n >= o.detRuns) return false;
  return n < Math.max(maxBaseline, same ? Math.min(o.detRuns, BASELINE_MAX) : 0);
}

export type StopReason = 'win' | 'futility' | 'budget' | 'deterministic' | 'noise-discovered';

export type Decision = {
  keep: boolean;
  /** Not kept, but equal to the best within noise (a simplification may be kept as a tie). */
  tie: boolean;
  /** Estimated effect in scale units, + = better. */
  effect: number;
  /** The effect in percent of the best, + = better (null on a best of 0). */
  pct: number | null;
  /** What the effect had to exceed, in percent of the best (or units). */
  threshold_pct: number | null;
  se: number;
  pairs: number;
  invocations: number;
  stop: StopReason;
  reason: string;
  /** Paired differences and their centre, for `learn`. */
  diffs: number[];
  /** Measured against the tie walk's anchor (the last improvement), not the best (run-plan.ts). */
  anchored?: boolean;
  /** The benchmark looked deterministic and printed two values for one code here: decided as a noisy one (planAfterNoise). */
  noise_discovered?: boolean;
};

export type Step = { next: Arm } | { decision: Decision };

export type DecisionInput = {
  direction: Direction;
  model: NoiseModel;
  /** The decision's invocations so far, in the order they ran. */
  invocations: readonly Invocation[];
  /** The best's stored centre (its value on a deterministic benchmark). */
  best: number;
  minImprovement: number | string;
  /** config sample_budget_s (null: automatic). */
  budget_s: number | null;
  /** Identical values a deterministic benchmark must repeat to be trusted (1 for counts, 2 for timings). */
  confirm: number;
  /** Most pairs, when the user fixed it (config `repeats: N`); else the budget decides. */
  pairs?: number;
  /**
   * The change removes in-scope lines (net): a tie keeps it as a simplification,
   * so futility waits until even a tie is out of reach at the last look.
   */
  simplifies?: boolean;
  /**
   * The simplifications kept since the last improvement (or the baseline):
   * the sum of their effects and of their s.e.², in the scale units of this
   * decision. A tie must also hold for the whole walk (see `tieHolds`).
   */
  tieDrift?: TieDrift | null;
  /** A decision against a walk's anchor: the walk's anchored attempts so far (see `walkHolds`). */
  tieWalk?: TieWalk | null;
  /** The user said the benchmark is deterministic (config `deterministic: true` or `repeats: 1`): no proof is asked. */
  declaredDeterministic?: boolean;
};

/** What successive simplification ties have given away since the last improvement (scale units). */
export type TieDrift = { effect: number; variance: number };

/**
 * The anchored attempts of a walk of ties (each a fresh comparison of a
 * simplification with the walk's anchor, kept or not): how many, and the sum
 * of their standardised effects (walkScore). While the walk's code is equal to
 * its anchor, each score is centred on 0 whichever attempts were kept; a walk
 * that crept away pulls them all down. A sequential test over the run of ties
 * (walkHolds): against one band, 100 tries of simplifications each 1% worse
 * than the code before still ended 27% of walks past 5% at 3 pairs (+4.2% on
 * average); with it 4.3% (+2.5%), equal simplifications kept as often
 * (test/ties-walk.test.ts).
 */
export type TieWalk = { n: number; z: number };
/**
 * Scores are clipped to ±WALK_CLIP, and an attempt clearly worse on its own
 * (below −WALK_CLIP) is left out: it says the change is bad, not the walk.
 * Counted, a walk of equal simplifications among 10%-worse ones was blocked
 * (equal ones kept 5.6 per 100 tries instead of 17.8).
 */
export const WALK_CLIP = 2;
/** A further tie needs the walk's scores (this attempt's included) to sum to at least −WALK_BOUND·√n. */
export const WALK_BOUND = 2;

/** An anchored attempt's score, effect / s.e. clipped to ±WALK_CLIP; null when clearly worse on its own. */
export function walkScore(d: Pick<Decision, 'effect' | 'se'>): number | null {
  const z = d.se > 0 ? d.effect / d.se : d.effect === 0 ? 0 : Math.sign(d.effect) * Infinity;
  return z < -WALK_CLIP ? null : Math.min(WALK_CLIP, z);
}

/** The walk after one more anchored attempt. */
export function addTieWalk(walk: TieWalk | null, d: Pick<Decision, 'effect' | 'se'>): TieWalk {
  const z = walkScore(d);
  if (z === null) return walk ?? { n: 0, z: 0 };
  return { n: (walk?.n ?? 0) + 1, z: (walk?.z ?? 0) + z };
}

/** Does the walk, with an attempt of this score, still look equal to its anchor? */
export function walkHolds(walk: TieWalk | null | undefined, z: number): boolean {
  if (!walk) return true;
  return (walk.z + z) / Math.sqrt(walk.n + 1) >= -WALK_BOUND;
}

/** The walk after one more simplification kept as a tie (its effect and s.e., scale units). */
export function addTieDrift(drift: TieDrift | null, d: Pick<Decision, 'effect' | 'se'>): TieDrift {
  return { effect: (drift?.effect ?? 0) + d.effect, variance: (drift?.variance ?? 0) + d.se * d.se };
}

/**
 * Is a measured effect a tie ("equal to the best within noise")? Not kept,
 * ≥ 2 pairs, and the equivalence test: effect − TIE_Z·se ≥ −TIE_DELTA·σ.
 * With `drift`, the same test holds for the walk since the last improvement
 * (the effects added, their s.e. combined): ties one after another, each
 * within its own band, cannot walk the metric further from the best kept
 * than one band (a ratchet of small losses).
 */
export function tieHolds(o: { effect: number; se: number; sigma: number; pairs: number; drift?: TieDrift | null; deltaSigma?: number; walk?: TieWalk | null }): boolean {
  if (o.pairs < 2) return false;
  const delta = TIE_DELTA * Math.min(o.sigma, o.deltaSigma ?? o.sigma);
  if (o.effect - TIE_Z * o.se < -delta) return false;
  // Left out of the walk when clearly worse on its own; judged here at the clip.
  if (o.walk && !walkHolds(o.walk, walkScore(o) ?? -WALK_CLIP)) return false;
  if (!o.drift) return true;
  return o.drift.effect + o.effect - TIE_Z * Math.sqrt(o.drift.variance + o.se * o.se) >= -delta;
}

/** minImprovement in scale units of the effect. */
export function minEffect(scale: 'log' | 'abs', minImprovement: number | string, best: number, direction: Direction): number {
  let rel: number;
  let abs: number;
  if (typeof minImprovement === 'number') {
    if (!(minImprovement >= 0) || !Number.isFinite(minImprovement)) throw new RangeError(`minImprovement must be a finite number >= 0, got ${minImprovement}`);
    abs = minImprovement;
    rel = best === 0 ? Infinity : minImprovement / Math.abs(best);
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(minImprovement);
    if (!m) throw new RangeError(`minImprovement must be a number or a percentage such as "2%", got ${JSON.stringify(minImprovement)}`);
    rel = Number(m[1]) / 100;
    abs = rel * Math.abs(best);
  }
  if (scale === 'abs') return abs;
  if (rel === 0) return 0;
  if (direction === 'lower') return rel >= 1 ? Infinity : -Math.log(1 - rel);
  return Math.log(1 + rel);
}

/**
 * A relative minimum a lower-is-better metric above 0 can never meet (100% or
 * more: the value would have to reach 0): nothing would ever be kept. Null when it can be met.
 */
export function unreachableMinimum(direction: Direction, minImprovement: number | string): string | null {
  if (direction !== 'lower' || typeof minImprovement !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(minImprovement);
  if (!m || Number(m[1]) < 100) return null;
  return `min_improvement ${minImprovement} can never be met by a lower-is-better metric above 0 (it would have to fall to 0 or below): nothing would be kept`;
}

/** An effect in scale units as a percentage of the best, + = better. */
export function effectPct(scale: 'log' | 'abs', effect: number, best: number, direction: Direction): number | null {
  if (scale === 'abs') return best === 0 ? null : (effect / Math.abs(best)) * 100;
  const s = direction === 'lower' ? -1 : 1;
  return signedPct(direction, Math.exp(s * effect), 1);
}

/** Paired differences (candidate − best, scale units, + = better) of consecutive invocations. */
export function pairDifferences(scale: 'log' | 'abs', direction: Direction, invocations: readonly Invocation[]): number[] {
  const s = direction === 'lower' ? -1 : 1;
  const out: number[] = [];
  for (let i = 0; i + 1 < invocations.length; i += 2) {
    const a = invocations[i] as Invocation;
    const b = invocations[i + 1] as Invocation;
    if (a.arm === b.arm) throw new RangeError(`invocations ${i + 1} and ${i + 2} both ran the ${a.arm}: a pair needs one of each`);
    const c = a.arm === 'candidate' ? a : b;
    const r = a.arm === 'candidate' ? b : a;
    out.push(s * scaleDelta(scale, invocationValue(c.samples), invocationValue(r.samples)));
  }
  return out;
}

/** Which arm runs next, or the decision. Call after every invocation (and once before the first). */
export function planDecision(i: DecisionInput): Step {
  if (i.model.deterministic) {
    const at = i.declaredDeterministic === true ? -1 : noiseFoundAt(i.invocations);
    return at < 0 ? planDeterministic(i) : planAfterNoise(i, at);
  }
  const n = i.invocations.length;
  if (n % 2 === 1 || n === 0) return { next: scheduleArm(n) };
  return lookAtPairs(i);
}

/** The candidate invocation at which one code first printed a second value (-1: none yet). */
function noiseFoundAt(invocations: readonly Invocation[]): number {
  let first: number | undefined;
  for (const [k, inv] of invocations.entries()) {
    if (inv.arm !== 'candidate') continue;
    for (const x of inv.samples) {
      if (first === undefined) first = x;
      else if (x !== first) return k;
    }
  }
  return -1;
}

/**
 * A benchmark that looked deterministic printed two values for the candidate's
 * code: the decision goes on as a noisy one (the best measured beside it, in
 * pairs) on a model seeded from those repeats. Ending it there threw away the
 * change, a real 2x gain as readily as nothing, and the loop had to make it again.
 * A benchmark the user declared deterministic still ends (noise-discovered).
 */
function planAfterNoise(i: DecisionInput, at: number): Step {
  const seen = i.invocations.slice(0, at + 1).flatMap((x) => x.samples);
  // Fresh: no early win before its own pairs give FRESH_MIN_DF, and two pairs more (one seeded
  // residual kept 4-6% of no-effect changes under 5% noise; with this 3-4%, and a real 5% gain 99%).
  const model = { ...discoveredNoise(i.model, [seen]), fresh: { n: 0, df: 0 } };
  const step = planDecision({ ...i, model, invocations: i.invocations.slice(at + 1) });
  if ('next' in step) return step;
  const d = step.decision;
  return { decision: { ...d, invocations: i.invocations.length, noise_discovered: true, reason: `${d.reason}; the benchmark is noisy, not deterministic: measured beside the best` } };
}

function planDeterministic(i: DecisionInput): Step {
  const cands = i.invocations.filter((x) => x.arm === 'candidate');
  if (cands.length === 0) return { next: 'candidate' };
  const values = cands.map((c) => invocationValue(c.samples));
  const v = values[0] as number;
  const raw = cands.flatMap((c) => c.samples);
  const base = { se: 0, pairs: 0, invocations: i.invocations.length, diffs: [] as number[] };
  if (raw.some((x) => x !== v)) {
    return { decision: { ...base, keep: false, tie: false, effect: 0, pct: null, threshold_pct: null, stop: 'noise-discovered', reason: 'the benchmark printed different values for the same code, though the config declares it deterministic (measure again, or drop deterministic: true / repeats: 1)' } };
  }
  // A value one printed step from the best, when the values are rounded
  // fractions, is what coarse noise looks like (accuracy 0.91 vs 0.90 from a
  // noisy training that printed 0.90 thrice): confirmed once, so noise shows as
  // noise. Whole counts (lint issues, bytes) step by 1 for real: not confirmed.
  const step = i.model.step;
  const oneStep = step !== null && step < 1 && Math.abs(v - i.best) <= step * (1 + 1e-9);
  if (v !== i.best && values.length < Math.max(i.confirm, oneStep || thinEvidence(i) ? 2 : 1)) return { next: 'candidate' };
  const scale = i.model.scale ?? 'abs';
  const sgn = i.direction === 'lower' ? -1 : 1;
  const useScale = scale === 'log' && v > 0 && i.best > 0 ? 'log' : 'abs';
  const effect = sgn * scaleDelta(useScale, v, i.best);
  const min = minEffect(useScale, i.minImprovement, i.best, i.direction);
  const pct = effectPct(useScale, effect, i.best, i.direction);
  const thr = effectPct(useScale, min, i.best, i.direction);
  const keep = clearsMinimum(effect, min);
  const shown = pct === null ? formatSignedUnits(effect) : formatSignedPct(pct);
  const reason = keep
    ? `improved ${shown} (deterministic)`
    : effect === 0
      ? 'equal to the best (deterministic)'
      : effect < 0
        ? `not better (${shown}, deterministic)`
        : `below min improvement (${shown}, deterministic)`;
  return { decision: { ...base, keep, tie: effect === 0, effect, pct, threshold_pct: thr, stop: 'deterministic', reason } };
}

/**
 * Is the proof of determinism too thin for a changed value seen once? Three
 * equal baselines (a count's DETERMINISTIC_RUNS_COUNT) are what a whole count
 * 20 ± 0.4 prints half the time. With n equal baselines and c equal readings
 * of a changed value, a noise that moves a reading with probability q keeps a
 * no-effect change with (1 − q)ⁿ·(q/2)ᶜ at most: 5.3% at n = 3, c = 1 (above
 * the promise; 5.7% measured on that count), 0.9% at c = 2, 2.2% at n = 8,
 * c = 1. So under DETERMINISTIC_RUNS_TIMING equal runs (the pool's zero
 * residuals, one fewer than the runs; each changed value read twice alike
 * adds one, noise-model.ts learn) a changed value is read twice; one sample
 * when the user said so (`repeats: 1`, `deterministic: true`).
 */
function thinEvidence(i: DecisionInput): boolean {
  return i.declaredDeterministic !== true && i.pairs !== 1 && i.model.residuals.length + 1 < DETERMINISTIC_RUNS_TIMING;
}

/**
 * A deterministic gain clears the minimum: strictly above 0 when there is
 * none, at or above a set minimum (the smallest gain worth keeping) up to the
 * rounding of the log scale (log 110 − log 100 is an ulp short of log 1.1).
 */
export function clearsMinimum(effect: number, min: number): boolean {
  return min > 0 ? effect >= min * (1 - 1e-9) : effect > min;
}

function lookAtPairs(i: DecisionInput): Step {
  const values = i.invocations.map((x) => invocationValue(x.samples));
  const scale = i.model.scale === 'log' && values.every((v) => v > 0) && i.best > 0 ? 'log' : 'abs';
  const pooled = scale === (i.model.scale ?? scale) ? i.model : { ...i.model, residuals: [], df: 0 };
  const diffs = pairDifferences(scale, i.direction, i.invocations);
  const k = diffs.length;
  const floor = resolutionFloor(pooled, scale, i.best);
  // Scale first (pool + this decision around its median), then the Huber
  // estimate with it, then the residuals around that estimate.
  // The same code back to back (repeatDeltas) shows a step in the noise level the pool has not seen.
  const repeats = repeatDeltas(scale, values, i.invocations.map((x) => x.arm));
  const rough = pairNoise(pooled, groupResiduals(diffs, median(diffs)), floor, repeats);
  const effect = huberLocation(diffs, rough.sigma);
  const { sigma, df, factor, young } = pairNoise(pooled, groupResiduals(diffs, effect), floor, repeats);
  const { maxPairs } = samplingBudget({ budget_s: i.budget_s, cost_s: costOf(i.invocations, i.model) });
  const K = Math.max(i.pairs ?? maxPairs, 1) + freshExtraPairs(i);
  const se = (n: number) => sigma * Math.sqrt((factor * smallSampleFactor(n)) / n);
  const min = minEffect(scale, i.minImprovement, i.best, i.direction);
  const tq = df >= 1 ? studentTQuantile(1 - ALPHA, df) : Infinity;
  const needNow = min + tq * se(k);
  let stop: StopReason | null = null;
  let keep = false;
  if (k >= K) {
    stop = 'budget';
    keep = effect > needNow;
  } else if (!young && df >= 1 && sigma > 0 && clearWin(diffs, min, sigma, effect - min > Math.max(C_WIN, tq) * se(k))) {
    stop = 'win';
    keep = true;
  } else if (df >= 1 && futileAt(diffs, effect, min, sigma, Z_FUTILE * se(k), lastLookNeeds(i.simplifies === true, min, studentTQuantile(1 - ALPHA, df + K - k), se(K), sigma, i.tieDrift ?? null, i.tieWalk ?? null), i.simplifies === true)) {
    stop = 'futility';
  }
  if (stop === null) return { next: scheduleArm(i.invocations.length) };
  // The loss a tie may hide is measured in the noise known before this decision
  // when this decision's own pairs inflated σ past TIE_INFLATED times it: a 40%
  // pause in one of 2-4 pairs (a slow benchmark's small pool) widened the band
  // and carried a 5% regression into a tie 8-9% of the time.
  const before = pooled.residuals.length >= 2 ? Math.max(poolSd(pooled.residuals), floor) : sigma;
  const deltaSigma = sigma > TIE_INFLATED * before ? before : sigma;
  const alone = { effect, se: se(k), sigma, pairs: k, drift: i.tieDrift ?? null, deltaSigma };
  const tie = !keep && tieHolds({ ...alone, walk: i.tieWalk ?? null });
  // A tie on its own that the walk's earlier attempts refuse: said, so the agent knows why.
  const crept = !keep && !tie && i.tieWalk && i.simplifies === true && tieHolds(alone) ? i.tieWalk.n + 1 : 0;
  const pct = effectPct(scale, effect, i.best, i.direction);
  const thr = effectPct(scale, Number.isFinite(needNow) ? needNow : min, i.best, i.direction);
  const reason = describe({ keep, tie, effect, min, pct, thr, k, stop, n: i.invocations.length }) +
    (crept ? `; not a tie: the ${crept} simplifications tried against the last improvement fall short of it together (start from a new improvement)` : '');
  return { decision: { keep, tie, effect, pct, threshold_pct: thr, se: se(k), pairs: k, invocations: i.invocations.length, stop, reason, diffs } };
}

/**
 * The first decision after a big win (noise-model.ts `fresh`, not yet FRESH_MIN_DF
 * of its own) takes FRESH_EXTRA_PAIRS more pairs under the automatic budget: the
 * new level's noise is measured from its own pairs, and those pairs keep the
 * power a pool of the old level's would have given (a real 5% gain under 5%
 * lognormal noise: 72% kept before, 76% now). A fixed `repeats` or
 * `sample_budget_s` is the user's: not exceeded.
 */
function freshExtraPairs(i: DecisionInput): number {
  const f = i.model.fresh ?? null;
  return f && f.n < i.model.residuals.length && f.df < FRESH_MIN_DF && i.pairs === undefined && i.budget_s === null ? FRESH_EXTRA_PAIRS : 0;
}

/**
 * What the effect must reach at the last look for the run to end kept: a win
 * (min + t·se); for a simplification, a tie (tieHolds at the last look) is
 * enough. Stopping a simplification for futility against the win alone
 * reverted half of the no-effect simplifications under 3% noise before the
 * tie could be judged.
 */
function lastLookNeeds(simplifies: boolean, min: number, t: number, seK: number, sigma: number, drift: TieDrift | null, walk: TieWalk | null): number {
  if (!simplifies) return min + t * seK;
  let tie = TIE_Z * seK - TIE_DELTA * sigma;
  if (drift) tie = Math.max(tie, TIE_Z * Math.sqrt(drift.variance + seK * seK) - TIE_DELTA * sigma - drift.effect);
  if (walk) {
    // The score this attempt needs for the walk to hold: out of reach past the clip.
    const z = -WALK_BOUND * Math.sqrt(walk.n + 1) - walk.z;
    tie = z > WALK_CLIP ? Infinity : Math.max(tie, z * seK);
  }
  return Math.min(min + t * seK, tie);
}

/** Small samples: the estimate's variance exceeds its asymptotic value a little. */
export function smallSampleFactor(n: number): number {
  return n <= 2 ? 1 : n <= 4 ? 1.05 : 1.02;
}

/**
 * Futility for a simplification is judged against what keeps it at the last
 * look (a tie, lastLookNeeds), not against the minimum improvement: every pair
 * "losing to a 5% minimum by 3σ" under 1% noise stopped equal simplifications
 * at 2 pairs, where a tie rarely holds yet (kept 43% against 65% under a 2%
 * minimum, the same code; the minimum says nothing about a tie).
 */
function futileAt(diffs: readonly number[], effect: number, min: number, sigma: number, slack: number, need: number, simplifies: boolean): boolean {
  return futile(diffs, effect, simplifies ? Math.min(min, need) : min, sigma, slack, need);
}

/**
 * Futility: from 2 pairs, every pair loses to the minimum by C_WIN_PAIR noise
 * SDs (clearly worse); from FUTILE_MIN_PAIRS, even an optimistic robust
 * reading (the larger of the estimate and the median, plus `slack`) is short
 * of what the last look will need. One outlier cannot end a decision.
 */
function futile(diffs: readonly number[], effect: number, min: number, sigma: number, slack: number, need: number): boolean {
  if (diffs.length >= 2 && Math.max(...diffs) + C_WIN_PAIR * sigma < min) return true;
  return diffs.length >= FUTILE_MIN_PAIRS && Math.max(effect, median(diffs)) + slack < need;
}

/**
 * A clear win stops early: every pair on its own beats the minimum by
 * C_WIN_PAIR noise SDs (from 2 pairs: one outlier in the best cannot do
 * that), or from WIN_MIN_PAIRS pairs the estimate beats it by C_WIN s.e.
 */
function clearWin(diffs: readonly number[], min: number, sigma: number, byEstimate: boolean): boolean {
  if (diffs.length >= WIN_MIN_PAIRS && byEstimate) return true;
  return diffs.length >= 2 && Math.min(...diffs) - min > C_WIN_PAIR * sigma;
}

function describe(o: { keep: boolean; tie: boolean; effect: number; min: number; pct: number | null; thr: number | null; k: number; stop: StopReason; n: number }): string {
  const shown = o.pct === null ? formatSignedUnits(o.effect) : formatSignedPct(o.pct);
  const thr = o.thr === null ? '' : `threshold ${formatSignedPct(o.thr)}, `;
  const tail = `${thr}${o.k} pair${o.k === 1 ? '' : 's'}${o.stop === 'win' ? ', clear win' : o.stop === 'futility' ? ', stopped early' : ''}`;
  if (o.keep) return `improved ${shown} (${tail})`;
  if (o.effect <= 0 && !o.tie) return `not better (${shown}, ${tail})`;
  if (o.effect > 0 && o.effect <= o.min) return `below min improvement (${shown}, ${tail})`;
  return `within noise (${shown}, ${tail})`;
}
