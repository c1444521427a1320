// Folds ledger lines into the derived state. Pure: the same lines and config
// give the same state, so state.json is only a cache that can be rebuilt from
// the ledger at any time (and is, when it is missing or does not parse).
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import type { Config, LedgerLine, ResultLine, TerminatedBy, Verdict, Fingerprints, HealthState, Playbook, MeasuredContent } from './schema.ts';
import { addTieDrift, addTieWalk, type TieDrift, type TieWalk } from './sampling.ts';
import { emptyNoiseModel, type NoiseModel } from './noise-model.ts';
import { baselineMetricSamples, invocationsOf, learnFromLine } from './noise-state.ts';
import { guardrailPairs, pairingReference, withPairs } from './guardrail-pairing.ts';
import { advanceHealth, bestFailedHealth, initialHealth, rebaselineHealth, pauseHealth, resumeHealth, type HealthMemory } from './health.ts';
import { evaluateTermination, type TerminationInput } from './termination.ts';
import { carrySpread, confidence } from './confidence.ts';

export const STATE_VERSION = 1;
const RECENT = 20;
/** Health changes the cached state keeps (the newest): the cache must not grow with the runs. The report folds the full list. */
export const HEALTH_HISTORY_CAP = 50;

export interface RecentRun {
  run_id: string;
  verdict: Verdict;
  primary: number | null;
  delta: number | null;
  description: string;
  reason: string;
  commit: string | null;
}

export interface HealthChange {
  run_id: string | null;
  health: HealthState;
  reason: string;
  playbook: Playbook | null;
}

export interface State {
  version: number;
  ledger_offset: number;
  segment: number;
  started_at: string | null;
  segment_started_at: string | null;
  base: string | null;
  fingerprints: Fingerprints | null;
  runs_total: number;
  next_run: number;
  seg_runs: number;
  counts: Record<Verdict, number>;
  baseline: number | null;
  baseline_run: string | null;
  best: number | null;
  best_run: string | null;
  best_commit: string | null;
  best_samples: number[];
  best_metrics: Record<string, number>;
  /**
   * The best's value of every metric per candidate invocation (guardrails of
   * the best are judged on these, as its verdict was). Absent in older caches.
   */
  best_metric_samples?: Record<string, number[]>;
  /**
   * The primary the best was kept at. A re-measure of the unchanged best moves
   * `best` (drift is tracked) but not this: a target is met by a kept change,
   * never by a noisy re-measure alone. Absent in older caches (best stands in).
   */
  best_kept?: number | null;
  valid_primaries: number[];
  /** What the segment learnt about its benchmark's noise (noise-model.ts). */
  model: NoiseModel;
  /** The baseline's per-invocation values of every metric: guardrails are judged against these. */
  baseline_metrics: Record<string, number[]>;
  /**
   * What the simplifications kept since the last improvement (or the baseline)
   * gave away, in the noise model's scale: a further tie must hold for the
   * whole walk (sampling.ts tieHolds). Absent in older caches (none).
   */
  tie_drift?: SegmentTieDrift | null;
  /** Last measured seconds of each gate: hard gates run fastest first. */
  gate_seconds: Record<string, number>;
  runs_since_improvement: number;
  health: HealthMemory;
  health_history: HealthChange[];
  /** Health changes ever noted (health_history keeps the newest); absent in caches written before it was counted. */
  health_changes?: number;
  /** Results that stated a hypothesis or evidence, in every segment (the report counts them; absent in older caches). */
  hypotheses?: number;
  /** The segment's first `terminated` event's message for each `by` (null: it had none); absent in older caches. */
  terminated_messages?: Record<string, string | null>;
  stopped: boolean;
  /** A result whose commit or revert has not been confirmed by an event yet. */
  pending: Pending | null;
  recent: RecentRun[];
  last_ts: string | null;
  terminated_event: TerminatedBy | null;
  /**
   * Ledger lines skipped as unreadable since the ledger's start, and where the first was: the warning is
   * said by every call, not only the one that folded them (absent in older caches: none known).
   */
  skipped_lines?: { count: number; first_at: number } | null;
  /** Relaunches by the supervisor (up): how many, and the last one (absent in caches written before it existed). */
  relaunches?: { count: number; last_ts: string; cause: string; wait_s: number } | null;
}

/** What a keep replaced, so that a keep that cannot be committed is undone (keep_failed). */
export interface BestBefore {
  best: number | null;
  tie_drift?: SegmentTieDrift | null;
  best_kept?: number | null;
  best_run: string | null;
  best_samples: number[];
  best_metrics: Record<string, number>;
  best_metric_samples?: Record<string, number[]>;
  baseline: number | null;
  baseline_run: string | null;
  runs_since_improvement: number;
}

export interface Pending {
  run_id: string;
  action: 'commit' | 'revert';
  files: string[];
  primary: number | null;
  /** The measured content a keep commits (absent on lines written before it was recorded). */
  content?: MeasuredContent;
  before?: BestBefore;
}

// state.json is read back through this schema; anything that does not match
// is discarded and rebuilt from the ledger.
export const StateFile = lazySchema(() => z.looseObject({ version: z.literal(STATE_VERSION), ledger_offset: z.int().check(z.minimum(0)) }));

const zeroCounts = (): Record<Verdict, number> => ({ keep: 0, discard: 0, crash: 0, timeout: 0, checks_failed: 0, invalid: 0 });

export function emptyState(): State {
  return {
    version: STATE_VERSION,
    ledger_offset: 0,
    segment: 0,
    started_at: null,
    segment_started_at: null,
    base: null,
    fingerprints: null,
    runs_total: 0,
    next_run: 1,
    seg_runs: 0,
    counts: zeroCounts(),
    baseline: null,
    baseline_run: null,
    best: null,
    best_run: null,
    best_commit: null,
    best_samples: [],
    best_metrics: {},
    best_metric_samples: {},
    best_kept: null,
    valid_primaries: [],
    model: emptyNoiseModel(),
    baseline_metrics: {},
    tie_drift: null,
    gate_seconds: {},
    runs_since_improvement: 0,
    health: initialHealth(),
    health_history: [],
    health_changes: 0,
    hypotheses: 0,
    terminated_messages: {},
    stopped: false,
    pending: null,
    recent: [],
    last_ts: null,
    terminated_event: null,
  };
}

function runNumber(id: string): number {
  return Number.parseInt(id.slice(1), 10);
}

let historyCap = HEALTH_HISTORY_CAP;

function noteHealth(s: State, runId: string | null, before: HealthMemory): void {
  const h = s.health;
  if (h.health !== before.health || h.playbook !== before.playbook) {
    s.health_history.push({ run_id: runId, health: h.health, reason: h.reason, playbook: h.playbook });
    if (s.health_changes !== undefined) s.health_changes++;
    if (s.health_history.length > historyCap) s.health_history.splice(0, s.health_history.length - historyCap);
  }
}

/** Apply one ledger line to `s` in place. `cfg` is the live config (health thresholds). */
function applyLine(s: State, line: LedgerLine, cfg: Config): State {
  s.last_ts = line.ts;
  switch (line.type) {
    case 'config': {
      // A new segment: the benchmark or rules may have changed, so every
      // measurement-derived figure starts over. The code (best commit) stays.
      s.segment = line.segment;
      s.started_at ??= line.ts;
      s.segment_started_at = line.ts;
      s.base = line.base;
      s.fingerprints = line.fingerprints;
      s.best_commit = line.base ?? s.best_commit;
      s.seg_runs = 0;
      s.counts = zeroCounts();
      s.baseline = null;
      s.baseline_run = null;
      s.best = null;
      s.best_run = null;
      s.best_samples = [];
      s.best_metrics = {};
      s.best_metric_samples = {};
      s.best_kept = null;
      s.valid_primaries = [];
      s.model = emptyNoiseModel();
      s.baseline_metrics = {};
      s.tie_drift = null;
      s.runs_since_improvement = 0;
      s.health = initialHealth();
      s.stopped = false;
      s.pending = null;
      s.terminated_event = null;
      s.terminated_messages = {};
      return s;
    }
    case 'result': {
      // A run after a termination: the loop was resumed (a budget raised, read live). That
      // termination is over; the next is recorded, and stated, as its own.
      if (s.terminated_event !== null) {
        s.terminated_event = null;
        if (s.terminated_messages) s.terminated_messages = {};
      }
      s.runs_total++;
      s.seg_runs++;
      s.next_run = Math.max(s.next_run, runNumber(line.run_id) + 1);
      s.counts[line.verdict]++;
      if (s.hypotheses !== undefined && (line.hypothesis || line.evidence.length)) s.hypotheses++;
      for (const g of line.gates) s.gate_seconds[g.name] = g.duration_s;
      if (line.status === 'ok' && line.primary !== null) s.valid_primaries.push(line.primary);
      const calibrating = line.status === 'ok' && line.primary !== null && (line.rebaseline || (line.verdict === 'keep' && s.baseline === null));
      s.model = learnFromLine(s.model, line, cfg, calibrating);
      if (line.verdict === 'keep' && s.baseline === null) s.baseline_metrics = baselineMetricSamples(line);
      if (line.verdict === 'keep') {
        const before: BestBefore = {
          best: s.best,
          best_kept: s.best_kept ?? s.best,
          best_run: s.best_run,
          best_samples: s.best_samples,
          best_metrics: s.best_metrics,
          best_metric_samples: s.best_metric_samples ?? {},
          baseline: s.baseline,
          baseline_run: s.baseline_run,
          runs_since_improvement: s.runs_since_improvement,
          tie_drift: s.tie_drift ?? null,
        };
        s.tie_drift = nextTieDrift(s.tie_drift ?? null, line, s.model.scale, { commit: s.best_commit, value: s.best, metric_samples: before.best_metric_samples });
        s.best = line.primary;
        s.best_kept = line.primary;
        s.best_run = line.run_id;
        s.best_samples = [...line.samples];
        s.best_metrics = { ...line.metrics };
        // A guardrail the best arm measured too is stored as its keep judged it: moved into the
        // conditions of the best it replaced (guardrail-pairing.ts), so the next decision starts from there.
        // An anchored tie's best arm ran the anchor's code: its values are moved into the anchor's stored conditions.
        s.best_metric_samples = withPairs(baselineMetricSamples(line), guardrailPairs(cfg.guardrails, pairingReference(before, line.decision?.anchored === true) ?? {}, invocationsOf(line)));
        if (s.baseline === null) {
          s.baseline = line.primary;
          s.baseline_run = line.run_id;
        }
        s.runs_since_improvement = 0;
        s.pending = { run_id: line.run_id, action: 'commit', files: line.files, primary: line.primary, before, ...(line.content ? { content: line.content } : {}) };
      } else {
        if (line.rebaseline && line.status === 'ok' && line.primary !== null) {
          // The unchanged best was measured again: trust the fresh samples.
          s.best = line.primary;
          s.best_samples = [...line.samples];
          s.best_metrics = { ...line.metrics };
          // A best that moved keeps its guardrails' stored values (the conditions its keep was judged in):
          // fresh ones from a slower machine would read as that best's own regression against the baseline.
          const fresh = baselineMetricSamples(line);
          const kept = s.best_run === s.baseline_run ? {} : Object.fromEntries(cfg.guardrails.filter((g) => Object.hasOwn(s.best_metric_samples ?? {}, g.metric)).map((g) => [g.metric, (s.best_metric_samples ?? {})[g.metric] as number[]]));
          s.best_metric_samples = { ...fresh, ...kept };
          // Nothing kept since the baseline: this was the baseline's code, so the guardrails' reference is the fresh
          // measurement (a timing drifts with the machine). A best that moved is not the baseline: its tolerance stays.
          if (s.best_run === s.baseline_run) s.baseline_metrics = baselineMetricSamples(line);
        } else {
          s.runs_since_improvement++;
          s.tie_drift = walkAfterAttempt(s.tie_drift ?? null, line, s.model.scale);
        }
        s.pending = { run_id: line.run_id, action: 'revert', files: line.files, primary: line.primary };
      }
      const before = s.health;
      // The best's tree failing says nothing about the change: not a failed candidate (no crash streak, no heal).
      const rebaselined = line.verdict !== 'keep' && line.rebaseline === true && line.status === 'ok' && line.primary !== null;
      s.health = line.best_failed ? bestFailedHealth(s.health) : rebaselined ? rebaselineHealth(s.health) : advanceHealth(s.health, line.verdict, cfg.health);
      noteHealth(s, line.run_id, before);
      s.recent.push({
        run_id: line.run_id,
        verdict: line.verdict,
        primary: line.primary,
        delta: line.delta,
        description: line.description,
        reason: line.reason,
        commit: null,
      });
      if (s.recent.length > RECENT) s.recent.splice(0, s.recent.length - RECENT);
      return s;
    }
    case 'event': {
      switch (line.event) {
        case 'committed': {
          const commit = typeof line.data.commit === 'string' ? line.data.commit : null;
          // One written back late by repair (lost-commits.ts) names the best's commit only when its run is still the best.
          if (commit && (line.data.late !== true || s.best_run === line.run_id)) s.best_commit = commit;
          const r = s.recent.find((x) => x.run_id === line.run_id);
          if (r) r.commit = commit;
          if (s.pending?.run_id === line.run_id) s.pending = null;
          break;
        }
        case 'reverted':
          if (s.pending?.run_id === line.run_id) s.pending = null;
          break;
        case 'keep_failed':
          undoKeep(s, line.run_id, typeof line.data.reason === 'string' ? line.data.reason : 'the keep could not be committed');
          break;
        case 'stop': {
          s.stopped = true;
          const before = s.health;
          s.health = pauseHealth(s.health, typeof line.data.reason === 'string' ? line.data.reason : 'stopped by the user');
          noteHealth(s, null, before);
          break;
        }
        case 'resume': {
          s.stopped = false;
          const before = s.health;
          s.health = resumeHealth(s.health);
          noteHealth(s, null, before);
          break;
        }
        case 'terminated': {
          s.terminated_event = (line.data.by as TerminatedBy | undefined) ?? 'manual';
          const { by, message } = line.data;
          if (s.terminated_messages && typeof by === 'string' && by !== '__proto__') s.terminated_messages[by] = typeof message === 'string' ? message : null;
          break;
        }
        case 'relaunch':
          s.relaunches = {
            count: (s.relaunches?.count ?? 0) + 1,
            last_ts: line.ts,
            cause: typeof line.data.cause === 'string' ? line.data.cause : 'unknown',
            wait_s: typeof line.data.wait_s === 'number' ? line.data.wait_s : 0,
          };
          break;
        default:
          break;
      }
      return s;
    }
  }
}

/** A keep that could not be committed counts as not kept: the best is what it was, the tree is to be reverted. */
function undoKeep(s: State, runId: string | undefined, reason: string): void {
  const p = s.pending;
  if (!p || p.run_id !== runId || p.action !== 'commit') return;
  if (p.before) Object.assign(s, p.before);
  s.counts.keep = Math.max(0, s.counts.keep - 1);
  s.counts.invalid++;
  s.runs_since_improvement++;
  const r = s.recent.find((x) => x.run_id === runId);
  if (r) {
    r.verdict = 'invalid';
    r.reason = `keep failed: ${reason}`;
  }
  s.pending = { run_id: p.run_id, action: 'revert', files: p.files, primary: p.primary };
}

/** The segment's walk of simplification ties, in the scale its decisions were made in. */
/**
 * The walk of ties since the last improvement: what they gave away (scale
 * units), and its anchor, the last improvement's commit and value, against
 * which a further simplification is measured (run-plan.ts tieAnchor).
 */
export type SegmentTieDrift = TieDrift & { scale: 'log' | 'abs' | null; anchor?: TieAnchor | null; walk?: TieWalk | null };
/**
 * The anchor: its commit, value, and its stored guardrail values (best_metric_samples when it was the best),
 * against which an anchored decision's guardrails are paired (guardrail-pairing.ts); absent in states
 * written before they were kept: such a decision's guardrails are judged unpaired.
 */
export type TieAnchor = { commit: string; value: number; metric_samples?: Record<string, number[]> };


/**
 * The walk after a keep: a simplification adds its effect and s.e.; an
 * improvement (or the baseline) starts it over; a change of scale too.
 */
export function nextTieDrift(
  prev: SegmentTieDrift | null,
  line: Pick<ResultLine, 'kind' | 'decision'>,
  scale: 'log' | 'abs' | null,
  best: { commit: string | null; value: number | null; metric_samples?: Readonly<Record<string, readonly number[]>> } = { commit: null, value: null },
): SegmentTieDrift | null {
  if (line.kind !== 'simplification' || !line.decision) return null;
  const same = prev !== null && prev.scale === scale ? prev : null;
  // Measured against the anchor itself: the walk is this tie's own estimate (fresh, not a sum of selected ones).
  if (line.decision.anchored && same?.anchor) return { scale, effect: line.decision.effect, variance: line.decision.se ** 2, anchor: same.anchor, walk: addTieWalk(same.walk ?? null, line.decision) };
  const stored = best.metric_samples ? { metric_samples: Object.fromEntries(Object.entries(best.metric_samples).map(([k, v]) => [k, [...v]])) } : {};
  const anchor = same?.anchor ?? (best.commit !== null && best.value !== null ? { commit: best.commit, value: best.value, ...stored } : null);
  return { scale, ...addTieDrift(same, line.decision), anchor, walk: same?.walk ?? null };
}

/**
 * The walk after an anchored attempt that was not kept (a discard, a blocked
 * tie): it still measured the walk's code plus a change against the anchor
 * (sampling.ts walkHolds). Unchanged otherwise.
 */
export function walkAfterAttempt(prev: SegmentTieDrift | null, line: Pick<ResultLine, 'status' | 'decision'>, scale: 'log' | 'abs' | null): SegmentTieDrift | null {
  if (prev === null || !prev.anchor || prev.scale !== scale || line.status !== 'ok' || !line.decision?.anchored) return prev;
  return { ...prev, walk: addTieWalk(prev.walk ?? null, line.decision) };
}

/** Fold lines into a copy of the state (one copy per call, not per line: a 10,000-run rebuild stays linear). */
export function foldLines(state: State, lines: readonly LedgerLine[], cfg: Config, opts: { healthHistory?: number } = {}): State {
  // The primaries are cloned apart: a slice of a 100,000-number list is a copy
  // of its memory, where structuredClone serialised it value by value on every append.
  const { valid_primaries: primaries, ...rest } = state;
  let s: State = { ...structuredClone(rest), valid_primaries: primaries.slice() };
  carrySpread(primaries, s.valid_primaries);
  historyCap = opts.healthHistory ?? HEALTH_HISTORY_CAP;
  try {
    for (const line of lines) s = applyLine(s, line, cfg);
  } finally {
    historyCap = HEALTH_HISTORY_CAP;
  }
  return s;
}

export interface Termination {
  terminate: boolean;
  by: TerminatedBy | null;
  message: string;
  progress: { runs: string; plateau: string | null; target: string | null; wall_clock: string | null };
}

/** Termination, evaluated live against the current config (raising a budget un-terminates). */
export function termination(s: State, cfg: Config, nowMs: number, chainExhausted: TerminationInput['chainExhausted'] = false): Termination {
  const elapsedS = s.started_at ? Math.max(0, (nowMs - Date.parse(s.started_at)) / 1000) : 0;
  const lastActiveS = s.started_at && s.last_ts ? Math.max(0, (Date.parse(s.last_ts) - Date.parse(s.started_at)) / 1000) : elapsedS;
  return evaluateTermination({
    direction: cfg.direction,
    target: cfg.target,
    best: s.best,
    kept: s.best_kept === undefined ? s.best : s.best_kept,
    plateau: cfg.plateau,
    runsSinceImprovement: s.runs_since_improvement,
    maxRuns: cfg.max_runs,
    runs: s.runs_total,
    maxWallClock: cfg.max_wall_clock,
    elapsedS,
    lastActiveS,
    chainExhausted,
  });
}

export type LoopState = 'active' | 'paused' | 'stopped' | 'terminated';

export function loopState(s: State, t: Termination): LoopState {
  if (s.stopped) return 'stopped';
  if (t.terminate) return 'terminated';
  if (s.health.health === 'paused') return 'paused';
  return 'active';
}

/** The loop as the user is shown it: 'cleared' once `control clear` took away active.json, the one file the hooks read. */
export type ShownLoop = LoopState | 'cleared';

/**
 * The state the hooks act on: without active.json (`control clear`) they are
 * quiet whatever the ledger says, until `control resume` or a run publishes it
 * again; status and explain said "active" there.
 */
export function shownLoop(s: State, t: Termination, published: boolean): ShownLoop {
  return published ? loopState(s, t) : 'cleared';
}

/** The next step of a cleared loop that may still run. */
export const CLEARED_NEXT = 'autoloop is cleared in this repository (hooks quiet, history kept): control.mjs resume, or a run, wakes it';

export function confidenceOf(s: State): ReturnType<typeof confidence> {
  return confidence({ primaries: s.valid_primaries, baseline: s.baseline, bestKept: s.best_run ? s.best : null });
}

/** Improvement of the best over the baseline in percent (positive = better). */
export function gainPct(s: State, cfg: Config): number | null {
  if (s.best === null || s.baseline === null || s.baseline === 0) return null;
  const d = cfg.direction === 'lower' ? s.baseline - s.best : s.best - s.baseline;
  return (d / Math.abs(s.baseline)) * 100;
}
