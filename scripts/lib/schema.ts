// Every shape that crosses a boundary (config file, ledger line, run result,
// state cache, hook file) is declared here once, as a zod schema, and the
// TypeScript types are inferred from it.
import { z } from 'zod';
import { SourceSpec } from './sources/spec.ts';
import { SlurmSpec } from './runners/slurm.ts';

import { METRIC_NAME, RUN_ID, SLUG } from './patterns.ts';

export { METRIC_NAME, RUN_ID, SLUG };

export const Slug = z.string().regex(SLUG, 'must be lower-case letters, digits and dashes (max 63)');
export const MetricName = z
  .string()
  .regex(METRIC_NAME, 'must be letters, digits, _ . - or µ')
  // A metric a benchmark can never report would leave every run invalid.
  .refine((n) => !['__proto__', 'constructor', 'prototype'].includes(n), 'is a reserved name (choose another)');
export const Direction = z.enum(['lower', 'higher']);
export type Direction = z.infer<typeof Direction>;

/** `2%` (relative to the best) or a plain number (absolute, in the metric's unit). */
export const MinImprovement = z.union([
  z.number().min(0),
  z.string().regex(/^\d+(\.\d+)?%$/, 'must be a number or a percentage such as "2%"'),
]);

/**
 * A guardrail on a secondary metric, judged against the segment's BASELINE.
 * The old shape {metric, direction, max_regression_pct} parses unchanged; a
 * guardrail with none of the three tolerances keeps the old 5% default.
 */
export const Guardrail = z
  .object({
    metric: MetricName,
    /** Which way is better for this secondary metric. */
    direction: Direction.default('lower'),
    /** Largest tolerated regression against the baseline, in percent. */
    max_regression_pct: z.number().min(0).optional(),
    /** Largest tolerated regression against the baseline, in the metric's unit (works from 0). */
    max_regression_abs: z.number().min(0).optional(),
    /** Absolute limit: the value may not go past it (≤ for lower, ≥ for higher), e.g. lint_issues ≤ 12. */
    limit: z.number().optional(),
  })
  .transform((g) =>
    g.max_regression_pct === undefined && g.max_regression_abs === undefined && g.limit === undefined
      ? { ...g, max_regression_pct: 5 }
      : g,
  );
export type Guardrail = z.infer<typeof Guardrail>;

/**
 * A gate: a check run on a candidate. Hard gates run BEFORE the benchmark,
 * fastest first, and a failure costs no benchmark sample; soft gates run too,
 * and a failure (or a printed number past `threshold`) blocks the keep but
 * leaves the measurement in the log.
 */
export const Gate = z
  .object({
    name: z.string().min(1).max(40),
    command: z.string().min(1, 'must not be empty'),
    kind: z.enum(['hard', 'soft']).default('hard'),
    timeout: z.number().positive().default(300),
    /** A number the gate prints as `METRIC <metric>=<n>` that must stay within `max`/`min`. */
    threshold: z
      .object({ metric: MetricName, max: z.number().optional(), min: z.number().optional() })
      .strict()
      .refine((t) => t.max !== undefined || t.min !== undefined, 'needs max or min')
      .optional(),
  })
  .strict();
export type Gate = z.infer<typeof Gate>;

export const Playbook = z.enum(['rebaseline', 'shrink_scope', 'diagnose', 'pause']);
export type Playbook = z.infer<typeof Playbook>;

export const HealthConfig = z
  .object({
    no_improve_runs: z.number().int().min(1).default(5),
    max_crash_streak: z.number().int().min(1).default(2),
    max_heals: z.number().int().min(0).default(3),
    playbooks: z.array(Playbook).min(1).default(['rebaseline', 'shrink_scope', 'diagnose', 'pause']),
  })
  .strict();
export type HealthConfig = z.infer<typeof HealthConfig>;

export const StopHookConfig = z
  .object({
    /** Blocks of the Stop hook per session before it lets the session end. */
    max_blocks: z.number().int().min(0).default(500),
    /** Consecutive blocks with no new logged run before it gives up. */
    max_idle_blocks: z.number().int().min(1).default(3),
  })
  .strict();

/**
 * The experiment's config (config.yaml). Flat, with the same names as the
 * init-experiment flags. The fields in JUDGED_FIELDS decide what a metric
 * means; they are fingerprinted when a segment opens and can only change by
 * opening a new segment. The rest (goal, budgets, health) is read live.
 */
export const Config = z
  .object({
    name: Slug,
    goal: z.string().default(''),
    metric: MetricName,
    direction: Direction,
    unit: z.string().default(''),
    command: z.string().min(1, 'must not be empty'),
    checks: z.string().min(1).nullable().default(null),
    timeout: z.number().positive().default(600),
    checks_timeout: z.number().positive().default(300),
    /** Seconds between SIGTERM and SIGKILL when a run times out. */
    grace: z.number().min(0).max(120).default(5),
    scope: z.array(z.string().min(1)).min(1).default(['**']),
    /** Extra files (globs) that judge the metric and must never change. */
    protect: z.array(z.string().min(1)).default([]),
    repeats: z.union([z.literal('auto'), z.number().int().min(1).max(100)]).default('auto'),
    min_improvement: MinImprovement.default(0),
    guardrails: z.array(Guardrail).default([]),
    max_runs: z.number().int().min(1).nullable().default(100),
    plateau: z.number().int().min(1).nullable().default(20),
    target: z.number().nullable().default(null),
    /** Wall-clock budget for the whole experiment, in seconds. */
    max_wall_clock: z.number().positive().nullable().default(null),
    /** Wall-clock seconds one decision's samples may take; null = automatic (from the cost of a sample). */
    sample_budget_s: z.number().positive().nullable().default(null),
    /** Is the benchmark deterministic? 'auto' decides from identical values (more of them for timings). */
    deterministic: z.union([z.literal('auto'), z.boolean()]).default('auto'),
    /** Tiered gates (see Gate). The older `checks` keeps working as a hard gate after the benchmark. */
    gates: z.array(Gate).default([]),
    health: HealthConfig.default(HealthConfig.parse({})),
    stop_hook: StopHookConfig.default(StopHookConfig.parse({})),
    /** Who runs the benchmark and the checks (runners/index.ts); absent means `local`. */
    runner: z.string().min(1).optional(),
    /** Settings of `runner: slurm` (runners/slurm.ts). */
    slurm: SlurmSpec.optional(),
    /** Where the metrics come from (sources/index.ts); absent means METRIC lines in the output. */
    sources: z.array(SourceSpec).min(1).optional(),
    /** Files (globs) the benchmark writes and the best run's copy of which matters (checkpoints):
     *  kept per run, put back after a discard or crash. Outside the scope, never out-of-scope changes. */
    artifacts: z.array(z.string().min(1)).default([]),
    /** A run whose artifacts weigh more than this (MiB) keeps none of them (a warning says so). */
    artifacts_max_mb: z.number().positive().default(1024),
    /** Runs whose artifacts are kept besides the best's (the most recent ones). */
    artifacts_keep: z.number().int().min(0).default(2),
    /** Candidates in flight at once, each in its own worktree (candidates/). 1: the serial loop. */
    parallel: z.number().int().min(1).max(32).default(1),
    /**
     * Whether candidates' benchmark samples may run at the same time. auto: serial
     * on the local runner (one machine-wide timing lock), parallel where each run
     * gets resources of its own (slurm).
     */
    parallel_timing: z.enum(['auto', 'serial', 'parallel']).default('auto'),
  })
  .strict();
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
export const InvocationLine = z.object({
  arm: z.enum(['best', 'candidate']),
  /** The primary metric's samples this invocation printed. */
  samples: z.array(z.number()),
  duration_s: z.number().min(0).optional(),
  /** Every metric of this invocation (median of its samples), for guardrails against the baseline. */
  metrics: Metrics.default({}),
});
export type InvocationLine = z.infer<typeof InvocationLine>;

/** What the sampling plan decided for a candidate (sampling.ts), as the ledger keeps it for learning. */
export const DecisionLine = z.object({
  keep: z.boolean(),
  tie: z.boolean(),
  effect: z.number(),
  pct: z.number().nullable(),
  threshold_pct: z.number().nullable(),
  se: z.number(),
  pairs: z.number().int().min(0),
  invocations: z.number().int().min(0),
  stop: z.enum(['win', 'futility', 'budget', 'deterministic', 'noise-discovered']),
  reason: z.string(),
  diffs: z.array(z.number()),
});
export type DecisionLine = z.infer<typeof DecisionLine>;

/** A gate that ran on a candidate (gates.ts): its time orders the next runs' hard gates. */
export const GateRun = z.object({
  name: z.string(),
  kind: z.enum(['hard', 'soft']),
  passed: z.boolean(),
  duration_s: z.number().min(0),
  reason: z.string().nullable().default(null),
});
export type GateRun = z.infer<typeof GateRun>;

export const Fingerprints = z.object({
  /** sha256 of the judged config fields, canonically serialised. */
  config: z.string(),
  /** path (relative to the repo root) → sha256 of its bytes, or "missing". */
  files: z.record(z.string(), z.string()),
});
export type Fingerprints = z.infer<typeof Fingerprints>;

export const ConfigLine = z.object({
  type: z.literal('config'),
  ts: Ts,
  segment: z.number().int().min(1),
  config: Config,
  fingerprints: Fingerprints,
  /** Commit (git) or snapshot id the segment starts from. */
  base: z.string().nullable(),
  reason: z.string().default('init'),
});
export type ConfigLine = z.infer<typeof ConfigLine>;

export const Evidence = z.object({
  /** Repo-relative path. */
  file: z.string().min(1),
  /** What it shows, in the model's words (optional). */
  what: z.string().default(''),
  /** sha256 of the file when it was cited, or "missing". */
  sha256: z.string(),
});
export type Evidence = z.infer<typeof Evidence>;
/**
 * The in-scope content a run measured: each changed path's content id (git
 * blob id, or sha256 in snapshot mode) and mode (null = deleted), and a digest
 * over all of it. A keep commits exactly this content.
 */
export const MeasuredContent = z.object({
  digest: z.string(),
  files: z.record(z.string(), z.object({ id: z.string(), mode: z.number().int() }).nullable()),
});
export type MeasuredContent = z.infer<typeof MeasuredContent>;

export const ResultLine = z.object({
  type: z.literal('result'),
  ts: Ts,
  segment: z.number().int().min(1),
  run_id: z.string().regex(RUN_ID),
  status: RunStatus,
  verdict: Verdict,
  /** Centre (median) of the samples of the primary metric, or null. */
  primary: z.number().nullable(),
  samples: z.array(z.number()),
  metrics: Metrics,
  description: z.string(),
  hypothesis: z.string().nullable().default(null),
  /** Why the engine decided this verdict, in a few words. */
  reason: z.string(),
  /** Improvement over the best before this run (positive = better), or null. */
  delta: z.number().nullable().default(null),
  duration_s: z.number().min(0),
  /** Files in scope that the run changed (what a keep commits). */
  files: z.array(z.string()).default([]),
  /** True when the run re-measured the unchanged best (refreshes its samples). */
  rebaseline: z.boolean().default(false),
  /** What the hypothesis rests on: files (diagnostic outputs, plots, tables) as they were when logged. */
  evidence: z.array(Evidence).default([]),
  /** Every benchmark invocation of the run, both arms, in the order they ran. */
  invocations: z.array(InvocationLine).default([]),
  /** The sampling plan's decision (null for a baseline, a failed run, or an older line). */
  decision: DecisionLine.nullable().default(null),
  /** Net in-scope lines the change removed (numstat); ties that shrink the code are kept. */
  net_lines_removed: z.number().int().default(0),
  gates: z.array(GateRun).default([]),
  /** Kept as an improvement or as a simplification (a tie that removed lines). */
  kind: z.enum(['improved', 'simplification', 'none']).default('none'),
  /** What was measured (what a keep commits, even when completed after a crash). */
  content: MeasuredContent.optional(),
});
export type ResultLine = z.infer<typeof ResultLine>;

export const EventName = z.enum([
  'committed', // a keep's commit landed: data.commit
  'reverted', // the working tree is back at the best
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
  'branch_moved', // the experiment branch moved outside the engine; repair put it back (data.from, data.to, data.saved)
]);
export type EventName = z.infer<typeof EventName>;

export const EventLine = z.object({
  type: z.literal('event'),
  ts: Ts,
  segment: z.number().int().min(1).optional(),
  event: EventName,
  run_id: z.string().regex(RUN_ID).optional(),
  data: z.record(z.string(), z.unknown()).default({}),
});
export type EventLine = z.infer<typeof EventLine>;

export const LedgerLine = z.discriminatedUnion('type', [ConfigLine, ResultLine, EventLine]);
export type LedgerLine = z.infer<typeof LedgerLine>;

/** runs/<id>/result.json: what run-experiment measured, before log-experiment acts on it. */
/** runners/types.ts RunHandle, as stored in result.json and unclean.json. */
export const RunHandle = z.discriminatedUnion('runner', [
  z.object({ runner: z.literal('local'), pgid: z.number().int(), start: z.string().nullable(), token: z.string().optional() }),
  z.object({ runner: z.literal('slurm'), job_id: z.string() }),
]);

export const RunRecord = z.object({
  run_id: z.string().regex(RUN_ID),
  segment: z.number().int().min(1),
  started_at: Ts,
  finished_at: Ts.nullable(),
  /** `running` only while run-experiment is alive (or was killed). */
  phase: z.enum(['running', 'measured', 'logged', 'interrupted']),
  status: RunStatus.nullable(),
  reason: z.string().default(''),
  primary: z.number().nullable(),
  samples: z.array(z.number()),
  metrics: Metrics,
  warnings: z.array(z.string()).default([]),
  checks: z
    .object({ passed: z.boolean(), exit_code: z.number().nullable(), timed_out: z.boolean(), duration_s: z.number() })
    .nullable()
    .default(null),
  duration_s: z.number().min(0).default(0),
  /** Seconds spent waiting before the commands ran (Slurm's queue, the local timing lock); not in duration_s. */
  queued_s: z.number().min(0).default(0),
  /**
   * The candidate that made the run (parallel mode): the best commit its worktree
   * stood on, and that best's figures, which a stale run is judged against.
   */
  candidate: z
    .object({ id: z.string(), base: z.string(), best_run: z.string().nullable(), best_samples: z.array(z.number()), best_metrics: Metrics })
    .nullable()
    .default(null),
  /** The runner's handle on the command in flight, so a later call can find survivors. */
  handle: RunHandle.nullable().default(null),
  /** Before handles (records written by older versions): the local process group and its leader's start time. */
  pgid: z.number().int().nullable().default(null),
  pgid_start: z.string().nullable().default(null),
  /** Bounded tail of the output of the last failing step (≤ 40 lines / 4 KB). */
  tail: z.string().default(''),
  /** In-scope files that differ from the best when the run started. */
  files: z.array(z.string()).default([]),
  /** Artifacts copied under runs/<id>/artifacts/ (repo-relative names), or null when none were kept. */
  artifacts: z.object({ files: z.array(z.string()), bytes: z.number().int().min(0) }).nullable().default(null),
  invocations: z.array(InvocationLine).default([]),
  decision: DecisionLine.nullable().default(null),
  net_lines_removed: z.number().int().default(0),
  gates: z.array(GateRun).default([]),
  /** Soft gates that failed (or printed a number past their threshold): they block a keep. */
  soft_failures: z.array(z.string()).default([]),
  /** Their content as measured (checked again after the benchmark, the checks, and at log time). */
  content: MeasuredContent.nullable().default(null),
  /** The judges' fingerprints when the run started (checked again after the benchmark and the checks). */
  judges: Fingerprints.nullable().default(null),
  /** How the run's processes were contained (runners/containment.ts). */
  containment: z.string().optional(),
});
export type RunRecord = z.infer<typeof RunRecord>;

/**
 * .autoloop/active.json: the one small file the hooks read. The engine
 * rewrites it after every state change so that hooks never parse the ledger.
 */
export const ActiveFile = z.object({
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
  direction: Direction.optional(),
  terminated_by: TerminatedBy.nullable(),
  /** After termination: may the Stop hook push the session into a follow-up? */
  chain_allowed: z.boolean().default(false),
  runs: z.number().int().min(0),
  stop_hook: StopHookConfig,
  /** Candidate worktrees in flight: the hooks guard each one exactly as the main tree. */
  worktrees: z.array(z.object({ id: z.string(), path: z.string() })).default([]),
  updated_at: Ts,
});
export type ActiveFile = z.infer<typeof ActiveFile>;
