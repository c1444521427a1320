// Every shape that crosses a boundary (config file, ledger line, run result,
// state cache, hook file) is declared here once, as a zod schema, and the
// TypeScript types are inferred from it.
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import { SourceSpec } from './sources/spec.ts';
import { SlurmSpec } from './runners/slurm.ts';

import { METRIC_NAME, METRIC_NAME_RULE, RUN_ID, SLUG } from './patterns.ts';

export { METRIC_NAME, RUN_ID, SLUG };

export const Slug = z.string().check(z.regex(SLUG, 'must be lower-case letters, digits and dashes (max 63)'));
export const MetricName = z.string().check(
  z.regex(METRIC_NAME, `must be ${METRIC_NAME_RULE}`),
  // A metric a benchmark can never report would leave every run invalid.
  z.refine((n) => !['__proto__', 'constructor', 'prototype'].includes(n), 'is a reserved name (choose another)'),
);
export const Direction = z.enum(['lower', 'higher']);
export type Direction = z.infer<typeof Direction>;

/** `2%` (relative to the best) or a plain number (absolute, in the metric's unit). */
export const MinImprovement = lazySchema(() => z.union([
  z.number().check(z.minimum(0)),
  z.string().check(z.regex(/^\d+(\.\d+)?%$/, 'must be a number or a percentage such as "2%"')),
]));

/**
 * A guardrail on a secondary metric, judged against the segment's BASELINE.
 * The old shape {metric, direction, max_regression_pct} parses unchanged; a
 * guardrail with none of the three tolerances keeps the old 5% default.
 */
export const Guardrail = lazySchema(() => z.pipe(
  z.object({
    metric: MetricName,
    /** Which way is better for this secondary metric. */
    direction: z._default(Direction, 'lower'),
    /** Largest tolerated regression against the baseline, in percent. */
    max_regression_pct: z.optional(z.number().check(z.minimum(0))),
    /** Largest tolerated regression against the baseline, in the metric's unit (works from 0). */
    max_regression_abs: z.optional(z.number().check(z.minimum(0))),
    /** Absolute limit: the value may not go past it (≤ for lower, ≥ for higher), e.g. lint_issues ≤ 12. */
    limit: z.optional(z.number()),
  }),
  z.transform((g) =>
    g.max_regression_pct === undefined && g.max_regression_abs === undefined && g.limit === undefined
      ? { ...g, max_regression_pct: 5 }
      : g,
  ),
));
export type Guardrail = z.infer<typeof Guardrail>;

/**
 * A gate: a check run on a candidate. Hard gates run BEFORE the benchmark,
 * fastest first, and a failure costs no benchmark sample; soft gates run too,
 * and a failure (or a printed number past `threshold`) blocks the keep but
 * leaves the measurement in the log.
 */
export const Gate = lazySchema(() => z.strictObject({
  name: z.string().check(z.minLength(1), z.maxLength(40)),
  command: z.string().check(z.minLength(1, 'must not be empty')),
  kind: z._default(z.enum(['hard', 'soft']), 'hard'),
  timeout: z._default(z.number().check(z.positive()), 300),
  /** A number the gate prints as `METRIC <metric>=<n>` that must stay within `max`/`min`. */
  threshold: z.optional(
    z.strictObject({ metric: MetricName, max: z.optional(z.number()), min: z.optional(z.number()) })
      .check(z.refine((t) => t.max !== undefined || t.min !== undefined, 'needs max or min')),
  ),
}));
export type Gate = z.infer<typeof Gate>;

export const Playbook = z.enum(['rebaseline', 'shrink_scope', 'diagnose', 'pause']);
export type Playbook = z.infer<typeof Playbook>;

export const HealthConfig = lazySchema(() => z.strictObject({
  no_improve_runs: z._default(z.int().check(z.minimum(1)), 5),
  max_crash_streak: z._default(z.int().check(z.minimum(1)), 2),
  max_heals: z._default(z.int().check(z.minimum(0)), 3),
  playbooks: z._default(z.array(Playbook).check(z.minLength(1)), ['rebaseline', 'shrink_scope', 'diagnose', 'pause']),
}));
export type HealthConfig = z.infer<typeof HealthConfig>;

export const StopHookConfig = lazySchema(() => z.strictObject({
  /** Blocks of the Stop hook per session before it lets the session end. */
  max_blocks: z._default(z.int().check(z.minimum(0)), 500),
  /** Consecutive blocks with no new logged run before it gives up. */
  max_idle_blocks: z._default(z.int().check(z.minimum(1)), 3),
}));

/**
 * The experiment's config (config.yaml). Flat, with the same names as the
 * init-experiment flags. The fields in JUDGED_FIELDS decide what a metric
 * means; they are fingerprinted when a segment opens and can only change by
 * opening a new segment. The rest (goal, budgets, health) is read live.
 */
export const Config = lazySchema(() => z.strictObject({
  name: Slug,
  goal: z._default(z.string(), ''),
  metric: MetricName,
  direction: Direction,
  unit: z._default(z.string(), ''),
  command: z.string().check(z.minLength(1, 'must not be empty')),
  checks: z._default(z.nullable(z.string().check(z.minLength(1))), null),
  timeout: z._default(z.number().check(z.positive()), 600),
  checks_timeout: z._default(z.number().check(z.positive()), 300),
  /** Seconds between SIGTERM and SIGKILL when a run times out. */
  grace: z._default(z.number().check(z.minimum(0), z.maximum(120)), 5),
  scope: z._default(z.array(z.string().check(z.minLength(1))).check(z.minLength(1)), ['**']),
  /** Extra files (globs) that judge the metric and must never change. */
  protect: z._default(z.array(z.string().check(z.minLength(1))), []),
  repeats: z._default(z.union([z.literal('auto'), z.int().check(z.minimum(1), z.maximum(100))]), 'auto'),
  min_improvement: z._default(MinImprovement, 0),
  guardrails: z._default(z.array(Guardrail), []),
  max_runs: z._default(z.nullable(z.int().check(z.minimum(1))), 100),
  plateau: z._default(z.nullable(z.int().check(z.minimum(1))), 20),
  target: z._default(z.nullable(z.number()), null),
  /** Wall-clock budget for the whole experiment, in seconds. */
  max_wall_clock: z._default(z.nullable(z.number().check(z.positive())), null),
  /** Wall-clock seconds one decision's samples may take; null = automatic (from the cost of a sample). */
  sample_budget_s: z._default(z.nullable(z.number().check(z.positive())), null),
  /** Is the benchmark deterministic? 'auto' decides from identical values (more of them for timings). */
  deterministic: z._default(z.union([z.literal('auto'), z.boolean()]), 'auto'),
  /** Tiered gates (see Gate). The older `checks` keeps working as a hard gate after the benchmark. */
  gates: z._default(z.array(Gate), []),
  health: z._default(HealthConfig, HealthConfig.parse({})),
  stop_hook: z._default(StopHookConfig, StopHookConfig.parse({})),
  /** Who runs the benchmark and the checks (runners/index.ts); absent means `local`. */
  runner: z.optional(z.string().check(z.minLength(1))),
  /** Settings of `runner: slurm` (runners/slurm.ts). */
  slurm: z.optional(SlurmSpec),
  /** Where the metrics come from (sources/index.ts); absent means METRIC lines in the output. */
  sources: z.optional(z.array(SourceSpec).check(z.minLength(1))),
  /** Files (globs) the benchmark writes and the best run's copy of which matters (checkpoints):
   *  kept per run, put back after a discard or crash. Outside the scope, never out-of-scope changes. */
  artifacts: z._default(z.array(z.string().check(z.minLength(1))), []),
  /** A run whose artifacts weigh more than this (MiB) keeps none of them (a warning says so). */
  artifacts_max_mb: z._default(z.number().check(z.positive()), 1024),
  /** Runs whose artifacts are kept besides the best's (the most recent ones). */
  artifacts_keep: z._default(z.int().check(z.minimum(0)), 2),
  /** Candidates in flight at once, each in its own worktree (candidates/). 1: the serial loop. */
  parallel: z._default(z.int().check(z.minimum(1), z.maximum(32)), 1),
  /**
   * Whether candidates' benchmark samples may run at the same time. auto: serial
   * on the local runner (one machine-wide timing lock), parallel where each run
   * gets resources of its own (slurm).
   */
  parallel_timing: z._default(z.enum(['auto', 'serial', 'parallel']), 'auto'),
}), 'Config');
export type Config = z.infer<typeof Config>;
export type ConfigInput = z.input<typeof Config>;

export const JUDGED_FIELDS = [
  'metric',
  'direction',
  'command',
  'checks',
  'timeout',
  'checks_timeout',
  'scope',
  'protect',
  'repeats',
  'min_improvement',
  'guardrails',
  'sources',
] as const satisfies readonly (keyof Config)[];

export const RunStatus = z.enum(['ok', 'crash', 'timeout', 'checks_failed', 'invalid']);
export type RunStatus = z.infer<typeof RunStatus>;
export const Verdict = z.enum(['keep', 'discard', 'crash', 'timeout', 'checks_failed', 'invalid']);
export type Verdict = z.infer<typeof Verdict>;
export const HealthState = z.enum(['running', 'improving', 'plateaued', 'crashing', 'healing', 'paused', 'completed']);
export type HealthState = z.infer<typeof HealthState>;
export const TerminatedBy = z.enum(['target', 'plateau', 'max_runs', 'wall_clock', 'chain_budget', 'manual']);
export type TerminatedBy = z.infer<typeof TerminatedBy>;

const Metrics = z.record(MetricName, z.number());
const Ts = z.string(); // ISO-8601, UTC

/** One invocation of the benchmark: which code it ran (the best's tree or the candidate), what it printed. */
export const InvocationLine = lazySchema(() => z.object({
  arm: z.enum(['best', 'candidate']),
  /** The primary metric's samples this invocation printed. */
  samples: z.array(z.number()),
  duration_s: z.optional(z.number().check(z.minimum(0))),
  /** Every metric of this invocation (median of its samples), for guardrails against the baseline. */
  metrics: z._default(Metrics, {}),
}));
export type InvocationLine = z.infer<typeof InvocationLine>;

/** What the sampling plan decided for a candidate (sampling.ts), as the ledger keeps it for learning. */
export const DecisionLine = lazySchema(() => z.object({
  keep: z.boolean(),
  tie: z.boolean(),
  effect: z.number(),
  pct: z.nullable(z.number()),
  threshold_pct: z.nullable(z.number()),
  se: z.number(),
  pairs: z.int().check(z.minimum(0)),
  invocations: z.int().check(z.minimum(0)),
  stop: z.enum(['win', 'futility', 'budget', 'deterministic', 'noise-discovered']),
  reason: z.string(),
  diffs: z.array(z.number()),
  /** The best arm ran the last improvement's code (a tie walk's anchor, run-plan.ts tieAnchor), not the best's. */
  anchored: z.optional(z.boolean()),
  /** The benchmark looked deterministic and printed two values for one code in this decision (sampling.ts planAfterNoise). */
  noise_discovered: z.optional(z.boolean()),
}));
export type DecisionLine = z.infer<typeof DecisionLine>;

/** A gate that ran on a candidate (gates.ts): its time orders the next runs' hard gates. */
export const GateRun = lazySchema(() => z.object({
  name: z.string(),
  kind: z.enum(['hard', 'soft']),
  passed: z.boolean(),
  duration_s: z.number().check(z.minimum(0)),
  reason: z._default(z.nullable(z.string()), null),
}));
export type GateRun = z.infer<typeof GateRun>;

export const Fingerprints = lazySchema(() => z.object({
  /** sha256 of the judged config fields, canonically serialised. */
  config: z.string(),
  /** path (relative to the repo root) → sha256 of its bytes, or "missing". */
  files: z.record(z.string(), z.string()),
  /** git mode: the ignore-rule files a keep cannot show (ignore-rules.ts) → sha256, or "missing". */
  ignore: z.optional(z.record(z.string(), z.string())),
  /** git mode: the excludes file git read when the segment opened (core.excludesFile, or its default; '' none): every engine git command reads that one (gitcmd.ts pinExcludesFile). */
  excludes: z.optional(z.string()),
  /** git mode: the .gitignore files in scope that git ignored when the segment opened (a tool's cache dir) → sha256. */
  hidden: z.optional(z.record(z.string(), z.string())),
  /** 2: a judge linked out of the repository is hashed with the files around its target (integrity.ts judgeDigest); absent: an older engine's segment, which hashed the target's bytes alone. */
  digests: z.optional(z.literal(2)),
}));
export type Fingerprints = z.infer<typeof Fingerprints>;

export const ConfigLine = lazySchema(() => z.object({
  type: z.literal('config'),
  ts: Ts,
  segment: z.int().check(z.minimum(1)),
  config: Config,
  fingerprints: Fingerprints,
  /** Commit (git) or snapshot id the segment starts from. */
  base: z.nullable(z.string()),
  reason: z._default(z.string(), 'init'),
}), 'ConfigLine');
export type ConfigLine = z.infer<typeof ConfigLine>;

export const Evidence = lazySchema(() => z.object({
  /** Repo-relative path. */
  file: z.string().check(z.minLength(1)),
  /** What it shows, in the model's words (optional). */
  what: z._default(z.string(), ''),
  /** sha256 of the file when it was cited, or "missing". */
  sha256: z.string(),
}));
export type Evidence = z.infer<typeof Evidence>;
/**
 * The in-scope content a run measured: each changed path's content id (git
 * blob id, or sha256 in snapshot mode) and mode (null = deleted), and a digest
 * over all of it. A keep commits exactly this content.
 */
export const MeasuredContent = lazySchema(() => z.object({
  digest: z.string(),
  files: z.record(z.string(), z.nullable(z.object({ id: z.string(), mode: z.int() }))),
}));
export type MeasuredContent = z.infer<typeof MeasuredContent>;

export const ResultLine = lazySchema(() => z.object({
  type: z.literal('result'),
  ts: Ts,
  segment: z.int().check(z.minimum(1)),
  run_id: z.string().check(z.regex(RUN_ID)),
  status: RunStatus,
  verdict: Verdict,
  /** Centre (median) of the samples of the primary metric, or null. */
  primary: z.nullable(z.number()),
  samples: z.array(z.number()),
  metrics: Metrics,
  description: z.string(),
  hypothesis: z._default(z.nullable(z.string()), null),
  /** Why the engine decided this verdict, in a few words. */
  reason: z.string(),
  /** Improvement over the best before this run (positive = better), or null. */
  delta: z._default(z.nullable(z.number()), null),
  duration_s: z.number().check(z.minimum(0)),
  /** Files in scope that the run changed (what a keep commits). */
  files: z._default(z.array(z.string()), []),
  /** True when the run re-measured the unchanged best (refreshes its samples). */
  rebaseline: z._default(z.boolean(), false),
  /** The run failed in the best's own tree (its re-measure), not in the change's: no mark against the loop's health. */
  best_failed: z.optional(z.boolean()),
  /** What the hypothesis rests on: files (diagnostic outputs, plots, tables) as they were when logged. */
  evidence: z._default(z.array(Evidence), []),
  /** Every benchmark invocation of the run, both arms, in the order they ran. */
  invocations: z._default(z.array(InvocationLine), []),
  /** The sampling plan's decision (null for a baseline, a failed run, or an older line). */
  decision: z._default(z.nullable(DecisionLine), null),
  /** Net in-scope lines the change removed (numstat); ties that shrink the code are kept. */
  net_lines_removed: z._default(z.int(), 0),
  gates: z._default(z.array(GateRun), []),
  /** Kept as an improvement or as a simplification (a tie that removed lines). */
  kind: z._default(z.enum(['improved', 'simplification', 'none']), 'none'),
  /** What was measured (what a keep commits, even when completed after a crash). */
  content: z.optional(MeasuredContent),
}));
export type ResultLine = z.infer<typeof ResultLine>;

export const EventName = z.enum([
  'committed', // a keep's commit landed: data.commit
  'reverted', // the working tree is back at the best
  'user_files', // new in-scope files not the model's, moved aside before a run: data.files, data.to
  'interrupted', // run-experiment was stopped before it finished
  'unclean', // processes survived a run: data.pids
  'cleared', // an unclean marker was cleared by repair
  'stop', // the user paused the loop
  'resume', // the user resumed it
  'terminated', // data.by
  'heal', // health started a recovery playbook: data.playbook
  'reconciled', // a half-finished log was completed: data.action
  'lock_takeover', // a lock left by a dead process was taken over
  'torn_line', // a torn ledger line was found and skipped
  'chain', // a follow-up experiment was started from this one
  'relaunch', // the supervisor (up) starts claude again: data.cause, data.wait_s, data.detail
  'artifacts', // artifacts were put in the tree: data.from (experiment), data.run_id, data.files
  'candidate_opened', // a candidate worktree was created: data.candidate, data.base
  'candidate_closed', // a candidate ended without a result of its own: data.candidate, data.reason
  'rebased', // a candidate's change was moved onto a newer best: data.candidate, data.onto
  'keep_failed', // a keep could not be committed: the run counts as not kept, the tree is reverted (data.reason)
  'outside_change', // files outside the scope changed between runs, not by a run: set aside (data.files)
  'tamper', // the judge or the engine's state changed while the code under test ran (data.what)
  'branch_moved', // the experiment branch moved outside the engine; repair put it back (data: BranchMovedData, the files it set aside)
  'measured', // a candidate's run was measured: data.candidate, data.sha256 (of its record, checked at its log)
]);
export type EventName = z.infer<typeof EventName>;

/** At most this many paths named in a branch_moved event's lists (their counts are whole): a ledger line stays short. */
export const BRANCH_MOVED_LISTED = 50;

/**
 * A branch_moved event's data: where the work of a branch moved outside the engine went when repair
 * put the best back. `saved` keeps the moved commits (a ref in git mode); `files` are the paths they
 * changed, now back at the best in the tree (first BRANCH_MOVED_LISTED, `files_count` all);
 * `rescued` the uncommitted edits on those paths moved to `rescued_to`.
 */
export const BranchMovedData = lazySchema(() => z.object({
  from: z.nullable(z.string()),
  to: z.string(),
  saved: z.string(),
  files: z.array(z.string()).check(z.maxLength(BRANCH_MOVED_LISTED)),
  files_count: z.int().check(z.minimum(0)),
  rescued: z.array(z.string()).check(z.maxLength(BRANCH_MOVED_LISTED)),
  rescued_count: z.int().check(z.minimum(0)),
  rescued_to: z.optional(z.string()),
  rescued_pruned: z.optional(z.array(z.string())),
}));
export type BranchMovedData = z.infer<typeof BranchMovedData>;

export const EventLine = lazySchema(() => z.object({
  type: z.literal('event'),
  ts: Ts,
  segment: z.optional(z.int().check(z.minimum(1))),
  event: EventName,
  run_id: z.optional(z.string().check(z.regex(RUN_ID))),
  data: z._default(z.record(z.string(), z.unknown()), {}),
}));
export type EventLine = z.infer<typeof EventLine>;

export const LedgerLine = lazySchema(() => z.discriminatedUnion('type', [ConfigLine, ResultLine, EventLine]), 'LedgerLine');
export type LedgerLine = z.infer<typeof LedgerLine>;

/** runs/<id>/result.json: what run-experiment measured, before log-experiment acts on it. */
/** runners/types.ts RunHandle, as stored in result.json and unclean.json. */
export const RunHandle = lazySchema(() => z.discriminatedUnion('runner', [
  z.object({ runner: z.literal('local'), pgid: z.int(), start: z.nullable(z.string()), token: z.optional(z.string()) }),
  z.object({ runner: z.literal('slurm'), job_id: z.nullable(z.string()), token: z.optional(z.string()) }),
]));

export const RunRecord = lazySchema(() => z.object({
  run_id: z.string().check(z.regex(RUN_ID)),
  segment: z.int().check(z.minimum(1)),
  started_at: Ts,
  finished_at: z.nullable(Ts),
  /** `running` only while run-experiment is alive (or was killed). */
  phase: z.enum(['running', 'measured', 'logged', 'interrupted']),
  status: z.nullable(RunStatus),
  reason: z._default(z.string(), ''),
  primary: z.nullable(z.number()),
  samples: z.array(z.number()),
  metrics: Metrics,
  warnings: z._default(z.array(z.string()), []),
  checks: z._default(z.nullable(z.object({ passed: z.boolean(), exit_code: z.nullable(z.number()), timed_out: z.boolean(), duration_s: z.number() })), null),
  duration_s: z._default(z.number().check(z.minimum(0)), 0),
  /** Seconds spent waiting before the commands ran (Slurm's queue, the local timing lock); not in duration_s. */
  queued_s: z._default(z.number().check(z.minimum(0)), 0),
  /**
   * The candidate that made the run (parallel mode): the best commit its worktree
   * stood on, and that best's figures, which a stale run is judged against.
   */
  candidate: z._default(z.nullable(z.object({ id: z.string(), base: z.string(), best_run: z.nullable(z.string()), best_samples: z.array(z.number()), best_metrics: Metrics })), null),
  /** The runner's handle on the command in flight, so a later call can find survivors. */
  handle: z._default(z.nullable(RunHandle), null),
  /** Before handles (records written by older versions): the local process group and its leader's start time. */
  pgid: z._default(z.nullable(z.int()), null),
  pgid_start: z._default(z.nullable(z.string()), null),
  /** Bounded tail of the output of the last failing step (≤ 40 lines / 4 KB). */
  tail: z._default(z.string(), ''),
  /** The failure was the best's invocation (run in the best's tree), not the candidate's. */
  best_failed: z._default(z.boolean(), false),
  /** In-scope files that differ from the best when the run started. */
  files: z._default(z.array(z.string()), []),
  /** Artifacts copied under runs/<id>/artifacts/ (repo-relative names), or null when none were kept. */
  artifacts: z._default(z.nullable(z.object({ files: z.array(z.string()), bytes: z.int().check(z.minimum(0)) })), null),
  invocations: z._default(z.array(InvocationLine), []),
  decision: z._default(z.nullable(DecisionLine), null),
  net_lines_removed: z._default(z.int(), 0),
  gates: z._default(z.array(GateRun), []),
  /** Soft gates that failed (or printed a number past their threshold): they block a keep. */
  soft_failures: z._default(z.array(z.string()), []),
  /** Their content as measured (checked again after the benchmark, the checks, and at log time). */
  content: z._default(z.nullable(MeasuredContent), null),
  /** The judges' fingerprints when the run started (checked again after the benchmark and the checks). */
  judges: z._default(z.nullable(Fingerprints), null),
  /** How the run's processes were contained (runners/containment.ts). */
  containment: z.optional(z.string()),
  /** The runner refused to start its command for its settings' sake (sbatch's reason): the run is interrupted, nothing counted. */
  config_error: z.optional(z.string()),
  /**
   * git mode: the in-scope .gitignore files git ignores that this run found
   * accepted (the segment's, and those its benchmarks wrote, e.g. a test
   * cache's), path → sha256: the next run refuses any other.
   */
  hidden_ignores: z.optional(z.record(z.string(), z.string())),
}), 'RunRecord');
export type RunRecord = z.infer<typeof RunRecord>;

/**
 * .autoloop/active.json: the one small file the hooks read. The engine
 * rewrites it after every state change so that hooks never parse the ledger.
 */
export const ActiveFile = lazySchema(() => z.object({
  version: z.literal(1),
  experiment: Slug,
  /** active: the loop should go on; paused/stopped/terminated: it should not. */
  loop: z.enum(['active', 'paused', 'stopped', 'terminated']),
  scope: z.array(z.string()),
  /** Files the model must never write: benchmark, checks, other judges (repo-relative). */
  protect: z.array(z.string()),
  /** Files under .autoloop/ the model may write (its notes and ideas). */
  writable: z.array(z.string()),
  /** Compact state summary for SessionStart, ≤ 2,000 characters. */
  summary: z.string(),
  next_action: z.string(),
  /** The primary metric's direction: the status line's % is + = better. */
  direction: z.optional(Direction),
  terminated_by: z.nullable(TerminatedBy),
  /** After termination: may the Stop hook push the session into a follow-up? */
  chain_allowed: z._default(z.boolean(), false),
  runs: z.int().check(z.minimum(0)),
  /** The number the next run takes: the hooks find the latest run folder from it, not by listing them all. */
  next_run: z.optional(z.int().check(z.minimum(1))),
  stop_hook: StopHookConfig,
  /** Candidate worktrees in flight: the hooks guard each one exactly as the main tree. */
  worktrees: z._default(z.array(z.object({ id: z.string(), path: z.string() })), []),
  updated_at: Ts,
}));
export type ActiveFile = z.infer<typeof ActiveFile>;
