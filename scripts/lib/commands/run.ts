// The run command: measure the working tree. Runs the hard gates, then as
// many invocations of the benchmark as the plan asks for (run-plan.ts: the
// best re-measured in its own tree beside the candidate; each through the
// configured runner, its metrics read by the configured sources), then the
// checks; writes
// runs/<id>/result.json for the log command to act on. The status itself is
// decided by run-outcome.ts.
import fs from 'node:fs';
import path from 'node:path';
import {
  assertNotUnclean,
  currentTermination,
  event,
  latestRunNumber,
  isMeasuredNotLogged,
  publishActive,
  readRunRecord,
  reconcile,
  rescueDir,
  withLock,
  type Experiment,
} from '../experiment.ts';
import { attribution, setAsideNote, setAsideUsers, type Attribution } from '../user-files.ts';
import { openWorkspace, type Workspace } from '../workspace.ts';
import { changedFingerprints, fingerprintAgainst } from '../integrity.ts';
import { outsideTarget } from '../outside-judges.ts';
import { RunGuard } from '../run-guard.ts';
import { CandidateGuard } from '../candidates/guard.ts';
import { benchEnv } from '../bench-env.ts';
import { procStart } from '../procs.ts';
import { median } from '../stats.ts';
import { invocationValue, timingProofNote } from '../noise-model.ts';
import { nextInvocation, runKind, tieAnchor } from '../run-plan.ts';
import { prepareBestTree } from '../best-tree.ts';
import { BestTreeWatch } from '../best-tree-watch.ts';
import { runGates } from './run-gates.ts';
import type { Arm } from '../sampling.ts';
import { runDir, runId as formatRunId } from '../paths.ts';
import { RunRecord, type InvocationLine, type RunStatus } from '../schema.ts';
import { writeJsonAtomic } from '../fsx.ts';
import { recordUnclean } from '../unclean.ts';
import { nowIso } from '../ledger.ts';
import { RefusalError } from '../errors.ts';
import { hiddenModesReason } from '../hidden-modes.ts';
import { ignoreRulesProblem, ignoreRulesReason, nestedReposReason, newHiddenIgnores, type IgnoreRules } from '../ignore-rules.ts';
import { benchmarkOutcome, checksOutcome, checksPassed, sampleEndsRun, signalledAgain, type BenchmarkFacts, type Outcome } from '../run-outcome.ts';
import { runnerFor, runnerOf, type RunHandle, type RunRequest, type RunResult, type Runner } from '../runners/index.ts';
import { buildSources, readSample, stampFiles, type MetricSource } from '../sources/index.ts';
import { TAIL_MAX_BYTES, TAIL_MAX_LINES } from '../runners/log.ts';
import { artifactMatcher, collectArtifacts, stampArtifacts } from '../artifacts.ts';
import { partlyMeasured } from '../judge-run.ts';
import { assertNoCandidates } from '../candidates/store.ts';
import { taintProblem } from '../outside-taint.ts';
import { progressLine } from '../progress-line.ts';
import { outputCutNote } from '../disk-space.ts';
import { warmForRun } from '../warm.ts';

/**
 * How often the engine itself takes a sample again when the runner says the
 * cluster, not the candidate, ended it (retry: true; the Slurm runner has
 * already resubmitted up to its max_requeues by then). Past this the run ends
 * interrupted: never a crash of the candidate.
 */
export const ENGINE_RETRIES = 2;

/** Taken around each command: e.g. the machine-wide timing lock of parallel candidates. */
export type Gate = (kind: 'sample' | 'checks', owner: string) => Promise<{ release: () => void; waitedS: number }>;

export interface RunCommandResult {
  record: RunRecord;
  interrupted: boolean;
}

function latestRun(exp: Experiment): { id: string; record: RunRecord | null } | null {
  const n = latestRunNumber(exp);
  if (!n) return null;
  const id = formatRunId(n);
  return { id, record: readRunRecord(exp, id) };
}

/** A record's handle; records of older versions name a local process group instead. */
function handleOf(rec: RunRecord): RunHandle | null {
  if (rec.handle) return rec.handle;
  return rec.pgid ? { runner: 'local', pgid: rec.pgid, start: rec.pgid_start } : null;
}

/** Survivor ids as unclean.json has always stored them: numbers for pids. */
const storedIds = (ids: string[]): (number | string)[] => ids.map((s) => (/^\d+$/.test(s) ? Number(s) : s));

function markUnclean(exp: Experiment, runId: string, pids: string[], handle: RunHandle | null): void {
  // Each pid with its start time: repair must never kill a process that reused the pid.
  const starts: Record<string, string> = {};
  for (const p of pids) if (/^\d+$/.test(p)) starts[p] = procStart(Number(p)) ?? '';
  recordUnclean(exp.paths.unclean, { run_id: runId, handle, pids: storedIds(pids), starts }, nowIso());
}

/** A run's survivors recorded (unclean.json, its event); a candidate's caller holds the ledger lock. */
export function recordSurvivors(exp: Experiment, runId: string, u: { pids: string[]; event: boolean }): void {
  markUnclean(exp, runId, u.pids, null);
  if (u.event) event(exp, 'unclean', { pids: storedIds(u.pids) }, runId);
}

/** A run left 'running' by a killed call: record it as interrupted, and unclean if its work lives on. */
async function settleAbandonedRun(exp: Experiment): Promise<void> {
  const n = latestRunNumber(exp);
  const rec = n ? readRunRecord(exp, formatRunId(n), 'running') : null;
  if (rec) await settleAbandoned(exp, rec);
}

/** The same for one known record (a candidate's latest run). */
export async function settleAbandoned(exp: Experiment, rec: RunRecord): Promise<void> {
  if (rec.phase !== 'running') return;
  const handle = handleOf(rec);
  const survivors = handle ? await runnerOf(handle, exp.config).survivors(handle) : [];
  writeJsonAtomic(runDir(exp.paths, rec.run_id).result, { ...rec, phase: 'interrupted', reason: 'the engine was killed during the run' });
  event(exp, 'interrupted', { reason: 'engine killed during the run', survivors: storedIds(survivors) }, rec.run_id);
  if (survivors.length) {
    markUnclean(exp, rec.run_id, survivors, handle);
    event(exp, 'unclean', { pids: storedIds(survivors) }, rec.run_id);
  }
}

/**
 * A run whose engine is known dead (its lock was free): its work stopped through the runner that
 * started it (process tree, Slurm job), then settled as above. Returns what is still alive.
 */
export async function stopAbandoned(exp: Experiment, rec: RunRecord): Promise<string[]> {
  if (rec.phase !== 'running') return [];
  const handle = handleOf(rec);
  const left = handle ? await runnerOf(handle, exp.config).cancel(handle, exp.config.grace) : [];
  await settleAbandoned(exp, rec);
  return left;
}

/** Refuse to measure when the loop must not go on. */
export function assertMayRun(exp: Experiment): void {
  const t = currentTermination(exp);
  if (t.terminate) throw new RefusalError(`${t.message}; start a follow-up with /autoloop:chain or raise the budget in config.yaml`);
  if (exp.state.stopped) throw new RefusalError('the loop is stopped by the user; control.mjs resume to continue');
  if (exp.state.health.health === 'paused') throw new RefusalError(`the loop is paused (${exp.state.health.reason}); control.mjs resume to continue`);
}

/**
 * Refuse to measure while the ignore rules differ from the segment's (they
 * could hide a file from the keep). An in-scope .gitignore the tree shows as
 * changed is left to the run guard: that run is invalid and its revert puts it back.
 */
function assertIgnoreRulesKept(exp: Experiment, changedInScope: readonly string[]): void {
  const recorded = exp.state.fingerprints?.ignore;
  if (!recorded) return;
  const visible = new Set(changedInScope);
  const problem = ignoreRulesProblem(exp.root, Object.fromEntries(Object.entries(recorded).filter(([k]) => !visible.has(k))), 'since the segment opened');
  if (problem) throw new RefusalError(problem);
}

/**
 * Refuse to measure when a .gitignore in scope that git ignores (one hiding
 * itself and the files beside it from the keep) is new or changed since it
 * was last accepted: when the segment opened, or written by an earlier run's
 * benchmark (a test tool's cache). Returns what this run accepts.
 */
export async function assertNoNewHiddenIgnores(
  exp: Experiment,
  ws: Workspace,
  o: { taken?: Promise<IgnoreRules> | undefined; last?: RunRecord | null } = {},
): Promise<IgnoreRules | undefined> {
  if (!ws.hiddenIgnores) return undefined;
  const now = await (o.taken ?? ws.hiddenIgnores());
  const segment = exp.state.fingerprints?.hidden;
  // A segment opened before this check: what is there now is its starting point.
  if (!segment) return now;
  // The tree's own last run (a candidate's is its worktree's), whose benchmark may have written a cache's ignore file.
  const last = o.last === undefined ? latestRun(exp)?.record : o.last;
  const accepted = { ...segment, ...(last?.segment === exp.state.segment ? last.hidden_ignores : undefined) };
  const fresh = newHiddenIgnores(accepted, now);
  if (fresh.length) throw new RefusalError(ignoreRulesReason(fresh, 'since the last run'));
  return { ...accepted, ...now };
}

/**
 * Refuse to measure when the loop must not go on; returns the id of the next
 * run, and the latest run's record as read (the hidden-ignore check wants it too).
 */
function nextRunId(exp: Experiment): { id: string; last: RunRecord | null } {
  assertMayRun(exp);
  const last = latestRun(exp);
  if (isMeasuredNotLogged(exp, last?.record)) {
    throw new RefusalError(`run ${last?.id} is measured but not logged: run log-experiment first`);
  }
  return { id: formatRunId(Math.max(exp.state.next_run, last ? Number(last.id.slice(1)) + 1 : 1)), last: last?.record ?? null };
}

function boundTail(text: string): string {
  let lines = text.split('\n');
  if (lines.length > TAIL_MAX_LINES) lines = lines.slice(-TAIL_MAX_LINES);
  let out = lines.join('\n');
  if (Buffer.byteLength(out) > TAIL_MAX_BYTES) out = Buffer.from(out).subarray(-TAIL_MAX_BYTES).toString('utf8');
  return out;
}

/** One run in flight: its record on disk, and what every step shares. */
export class Measurement {
  record: RunRecord;
  readonly started = Date.now();
  readonly rd: ReturnType<typeof runDir>;
  /** Set when the cluster kept interrupting a sample (retry past ENGINE_RETRIES): why. */
  gaveUp: string | null = null;
  /** Set when the runner refused to start a command for its settings' sake (sbatch's reason): the run ends, unmeasured. */
  configError: string | null = null;
  /** The integrity checks around the commands of the code under test (a candidate's own in parallel mode). */
  guard: RunGuard | null = null;
  /** The first integrity failure seen after a command of the code under test. */
  broken: string | null = null;
  /** The owner's attribution journal (serial runs only): the user's new files are no drift. */
  users: Attribution | null = null;
  /** A candidate's survivors, until its caller records them (recordSurvivors) under the ledger lock. */
  survivors: { pids: string[]; event: boolean } | null = null;

  constructor(
    readonly exp: Experiment,
    readonly id: string,
    readonly runner: Runner,
    readonly signal: AbortSignal,
    /** Where the commands run: the repository root, or a candidate's worktree. */
    readonly cwd: string = exp.root,
    readonly gate: Gate | null = null,
    candidate: RunRecord['candidate'] = null,
    /** A candidate's workspace record (sealed with the engine's state while its commands run). */
    readonly candidateState: string | null = null,
  ) {
    this.rd = runDir(exp.paths, id);
    fs.mkdirSync(this.rd.dir, { recursive: true });
    this.bestWatch = candidateState === null ? new BestTreeWatch(exp, this.rd.dir) : null;
    this.record = RunRecord.parse({
      run_id: id,
      segment: exp.state.segment,
      started_at: nowIso(),
      finished_at: null,
      phase: 'running',
      status: null,
      primary: null,
      samples: [],
      metrics: {},
      candidate,
    });
    this.save();
    // Before any command: which checkpoints this run writes is told by what changes from here.
    stampArtifacts(cwd, exp.config, exp.paths, id);
  }

  /** The segment's recorded environment (env.json), read once per run: sealed around every command, it cannot change between samples. */
  private benchEnvBase: Record<string, string> | null = null;

  private benchBase(): Record<string, string> {
    return (this.benchEnvBase ??= benchEnv(this.exp.paths, {}).env);
  }

  /** Saves while running are not fsynced (a lost one only means the run is measured again); the measured record is. */
  save(durable = false): void {
    writeJsonAtomic(this.rd.result, this.record, { durable });
  }

  finish(status: RunStatus, reason: string, tail = ''): void {
    const wall = (Date.now() - this.started) / 1000;
    this.record = { ...this.record, status, reason, tail: boundTail(tail), phase: 'measured', finished_at: nowIso(), duration_s: Math.max(0, wall - this.record.queued_s) };
  }

  /**
   * One command through the runner (inside the gate, if any), taken again when
   * the runner says the interruption was not the command's doing. Time spent
   * queued (the gate, the cluster's queue) is recorded apart from the duration.
   */
  async step(command: string, timeoutS: number, header: string, env: Record<string, string>, kind: 'sample' | 'checks' = 'sample', cwd = this.cwd): Promise<RunResult> {
    return (await this.stepAt(command, timeoutS, header, env, kind, async () => ({ cwd }))).r;
  }

  /**
   * step, with where the command runs set up by `place` once the gate is held,
   * before each attempt: the best's tree is rebuilt when another candidate's
   * keep moved the best, and must never be while a sample runs in it.
   */
  async stepAt<P extends { cwd: string }>(command: string, timeoutS: number, header: string, env: Record<string, string>, kind: 'sample' | 'checks', place: () => Promise<P>): Promise<{ r: RunResult; at: P }> {
    let s = await this.gatedStep(command, timeoutS, header, env, kind, place);
    for (let retry = 1; s.r.retry && retry <= ENGINE_RETRIES && !this.signal.aborted; retry++) {
      s = await this.gatedStep(command, timeoutS, `${header} (engine retry ${retry} of ${ENGINE_RETRIES}: ${s.r.detail ?? 'interrupted by the cluster'})`, env, kind, place);
    }
    if (s.r.retry) this.gaveUp = `${s.r.detail ?? 'the runner could not finish it'}; tried ${ENGINE_RETRIES + 1} times`;
    return s;
  }

  private async gatedStep<P extends { cwd: string }>(command: string, timeoutS: number, header: string, env: Record<string, string>, kind: 'sample' | 'checks', place: () => Promise<P>): Promise<{ r: RunResult; at: P }> {
    const held = this.gate ? await this.gate(kind, `${this.id} ${kind}`) : null;
    try {
      const at = await place();
      const r = await this.rawStep(command, timeoutS, header, env, at.cwd);
      this.record.queued_s += (held?.waitedS ?? 0) + r.queuedS;
      return { r, at };
    } finally {
      held?.release();
    }
  }

  /**
   * The best's tree, which the best is measured in beside a serial run's candidate, must not change
   * during any command of the candidate (best-tree-watch.ts; a parallel candidate's commands are not
   * watched: other candidates' best arms write that tree meanwhile).
   */
  private readonly bestWatch: BestTreeWatch | null;

  /** The best's tree checked for the candidate's commands since the best was last measured; true when that voids the run. */
  settleBestTree(): boolean {
    this.broken ??= this.bestWatch?.settle() ?? null;
    return this.broken !== null;
  }

  private async rawStep(command: string, timeoutS: number, header: string, env: Record<string, string>, cwd: string): Promise<RunResult> {
    const req: RunRequest = {
      command,
      cwd,
      env: { ...this.benchBase(), ...env },
      timeoutS,
      graceS: this.exp.config.grace,
      logFile: this.rd.log,
      header,
      signal: this.signal,
      protect: this.guard?.protect(cwd),
      onStart: (handle) => {
        this.record.handle = handle;
        this.save();
      },
    };
    const sealed = this.guard?.seal() ?? null;
    this.broken ??= this.bestWatch?.beforeCommand(cwd) ?? null;
    const r = await this.runner.run(req);
    this.record.handle = null;
    if (r.configError) this.configError ??= r.configError;
    // Under the readonly containment .autoloop/, the best's tree with it, was read-only to the command: its git dir only.
    this.bestWatch?.afterCommand(r.containment);
    // When it could write git's store: who a forged loose object voids (loose-blame.ts).
    this.guard?.commandEnded(r.containment);
    if (r.containment) this.record.containment = r.containment;
    if (sealed && this.guard) this.broken ??= await this.guard.afterCommand(sealed, header.includes(' checks') || header.includes(' gate') ? 'checks' : 'benchmark');
    return r;
  }
}

/** Median of each metric over invocations (one value per invocation). */
function medianMetrics(invs: readonly InvocationLine[]): Record<string, number> {
  const per = new Map<string, number[]>();
  for (const inv of invs) for (const [k, v] of Object.entries(inv.metrics)) per.set(k, [...(per.get(k) ?? []), v]);
  return Object.fromEntries([...per].map(([k, vs]) => [k, median(vs)]));
}

/**
 * Invocations until the plan (run-plan.ts) is done or one ends the run. A
 * candidate's plan interleaves the best (run in the best's own tree) with the
 * working tree; a baseline runs the working tree only.
 */
async function takeInvocations(m: Measurement, ws: Workspace, sources: MetricSource[]): Promise<Outcome> {
  const { config } = m.exp;
  const kind = runKind(m.exp.state, m.record.files);
  const warnings = new Set<string>();
  const invs: InvocationLine[] = [];
  let last: RunResult | null = null;
  let bestFailed = false;
  let primaryMissing = false;
  let looked: BenchmarkFacts['sources'] = { labels: sources.map((s) => s.label), failures: [] };
  // A person at a terminal sees progress; the model (no TTY) sees nothing extra.
  const line = progressLine(process.stderr, process.env.TERM);
  const progress = process.stderr.isTTY
    ? setInterval(() => line.show(`${m.id} invocation ${invs.length + 1}… ${((Date.now() - m.started) / 1000).toFixed(0)}s`), 500)
    : null;
  // A simplification in a walk of ties is measured against the walk's anchor (its commit's tree, or its
  // snapshot while the workspace still holds it: else the walk's summed guard, as before).
  const walkAnchor = kind === 'candidate' ? tieAnchor(m.exp.state, m.record.net_lines_removed) : null;
  const anchor = walkAnchor && (ws.mode === 'git' || ws.holds?.(walkAnchor.commit) === true) ? walkAnchor : null;
  for (;;) {
    const step = nextInvocation({ kind, config, state: m.exp.state, invocations: invs, netLinesRemoved: m.record.net_lines_removed, softGateFailures: m.record.soft_failures, anchor });
    if ('done' in step) {
      m.record.decision = step.decision;
      break;
    }
    const arm: Arm = step.next;
    const n = String(invs.length + 1);
    const header = `== ${m.id} invocation ${n} (${arm}): ${config.command}`;
    // The candidate's commands since the best was last measured, checked before it is measured again in its tree.
    if (arm === 'best' && m.settleBestTree()) break;
    // Inside the timing gate: another candidate's sample may be running in the best's tree until then.
    const s = await m.stepAt(config.command, config.timeout, header, { AUTOLOOP_RUN: m.id, AUTOLOOP_SAMPLE: n, AUTOLOOP_ARM: arm }, 'sample', async () => {
      const cwd = arm === 'best' ? await prepareBestTree(m.exp, ws, anchor?.commit) : m.cwd;
      // What the result files are before the sample: only those it then writes are read.
      return { cwd, before: await stampFiles(sources, cwd), startedAtMs: Date.now() };
    });
    last = s.r;
    const { cwd, before, startedAtMs } = s.at;
    if (m.gaveUp || m.broken) break;
    if (sampleEndsRun(last, true)) {
      bestFailed = arm === 'best';
      break;
    }
    const reading = await readSample(sources, { cwd, log: { file: m.rd.log, ...last.log }, startedAtMs, before }, { primary: config.metric });
    looked = { labels: reading.labels, failures: reading.failures, warnings: reading.warnings, seen: Object.keys(reading.metrics) };
    reading.warnings.forEach((w) => warnings.add(w));
    // Own properties only: a metric named toString is not Object.prototype's.
    const primary = Object.hasOwn(reading.metrics, config.metric) ? reading.metrics[config.metric] : undefined;
    if (!primary?.length) {
      // Any invocation without the primary voids the run, whichever arm and however many came before.
      primaryMissing = true;
      bestFailed = arm === 'best';
      break;
    }
    const metrics = Object.fromEntries(Object.entries(reading.metrics).map(([k, vs]) => [k, median(vs)]));
    invs.push({ arm, samples: primary, duration_s: Number(last.durationS.toFixed(3)), metrics });
    if (arm === 'candidate') m.record.samples.push(...primary);
    m.record.invocations = invs;
    // A source that read nothing makes the run invalid (run-outcome.ts): no more invocations.
    if (reading.failures.length) break;
  }
  if (progress) {
    clearInterval(progress);
    line.clear();
  }
  if (m.gaveUp) return { phase: 'interrupted', reason: `not the candidate's doing: ${m.gaveUp}; run run-experiment again` };
  m.record.metrics = medianMetrics(invs.filter((i) => i.arm === 'candidate'));
  for (const p of partlyMeasured(config.guardrails, invs)) {
    delete m.record.metrics[p.metric];
    warnings.add(`guardrail ${p.metric}: ${p.missing} of ${p.of} invocations did not measure it, so this run has no value for it`);
  }
  const proof = m.exp.state.best_run === null ? timingProofNote(config, invs.map((i) => i.samples)) : null;
  m.record.warnings = [...unguarded(m.exp, m.record.metrics, invs.length > 0), ...(proof ? [proof] : []), ...m.record.warnings, ...warnings];
  const o = withDiskNote(benchmarkOutcome({ metric: config.metric, timeoutS: config.timeout, integrity: [], outside: [], samples: m.record.samples, last, sources: looked, primaryMissing }), m.rd, m.exp.root);
  // The best's own tree failed: say so, the candidate is not to blame, in the words nor in the loop's health.
  if (!(bestFailed && o.phase === 'measured')) return o;
  m.record.best_failed = true;
  return { ...o, reason: `re-measuring the best failed: ${o.reason}` };
}

/** A failed benchmark on a full disk or at the file size limit: its reason says so (the write that failed is the output the model would read). */
function withDiskNote(o: Outcome, rd: { dir: string; log: string }, cwd: string): Outcome {
  if (o.phase !== 'measured' || o.status === 'ok') return o;
  const note = outputCutNote(rd.dir, rd.log, path.relative(cwd, rd.dir) || '.');
  return note ? { ...o, reason: `${o.reason}; ${note}` } : o;
}

/**
 * The segment's first baseline is every guardrail's reference: one it does not
 * measure (no source gives it, a coverage summary with no branches) guards
 * nothing this segment, and without a word the user would think it does.
 */
function unguarded(exp: Experiment, metrics: Record<string, number>, measured: boolean): string[] {
  if (exp.state.best_run !== null || !measured) return [];
  const seen = Object.keys(metrics).join(', ') || 'nothing';
  return exp.config.guardrails
    .filter((g) => !Object.hasOwn(metrics, g.metric))
    .map((g) => `guardrail ${g.metric}: the baseline did not measure it, so it guards nothing this segment${g.limit !== undefined ? ' (its limit still bounds a value a run reports)' : ''}; the sources gave ${seen}`);
}

/** Apply a decided outcome to the record (and unclean.json); true when the run was interrupted. */
function apply(m: Measurement, o: Outcome, during: 'samples' | 'checks'): boolean {
  if (o.phase === 'interrupted') {
    // Interrupted samples end the run; interrupted checks leave the benchmark's figures as they were.
    // A refused configuration says so, in place of the generic "interrupted".
    const refused = m.configError ? { reason: `not run: ${m.configError}`, config_error: m.configError } : { reason: o.reason };
    m.record = { ...m.record, phase: 'interrupted', ...refused, ...(during === 'samples' ? { finished_at: nowIso() } : {}) };
    return true;
  }
  // A candidate's are recorded by its caller under the ledger lock: candidates beside it write there too.
  if (o.unclean && m.candidateState !== null) m.survivors = o.unclean;
  else if (o.unclean) recordSurvivors(m.exp, m.id, o.unclean);
  m.finish(o.status, o.reason, o.tail);
  return false;
}

async function runChecks(m: Measurement, checks: string): Promise<boolean> {
  const { config } = m.exp;
  const c = await m.step(checks, config.checks_timeout, `== ${m.id} checks: ${checks}`, { AUTOLOOP_RUN: m.id }, 'checks');
  m.settleBestTree();
  if (m.gaveUp) return apply(m, { phase: 'interrupted', reason: `checks: not the candidate's doing: ${m.gaveUp}; run run-experiment again` }, 'checks');
  if (!c.interrupted && m.guard) m.broken ??= await m.guard.afterPhase('checks');
  m.record.checks = { passed: checksPassed(c), exit_code: c.exitCode, timed_out: c.timedOut, duration_s: c.durationS };
  const o = m.broken && !c.interrupted ? invalid(m.broken) : checksOutcome(c, config.checks_timeout);
  return o ? apply(m, o, 'checks') : false;
}

/** Hard gates before any invocation (a failure costs no sample), then the soft gates; true when interrupted. */
async function gatesFirst(m: Measurement): Promise<boolean | 'rejected'> {
  const { exp } = m;
  const g = await runGates({
    gates: exp.config.gates,
    lastSeconds: exp.state.gate_seconds,
    step: (command, timeoutS, header) => m.step(command, timeoutS, header, { AUTOLOOP_RUN: m.id }, 'checks'),
    logFile: m.rd.log,
    cwd: m.cwd,
    runId: m.id,
  });
  m.record.gates = g.runs;
  m.record.soft_failures = g.softFailures;
  if (g.interrupted) return apply(m, { phase: 'interrupted', reason: 'interrupted during a gate' }, 'samples');
  if (g.reject) {
    m.finish('checks_failed', g.reject.reason, g.reject.tail);
    return 'rejected';
  }
  return false;
}

/** Baseline first: the segment's baseline measures the code as the segment opened it. */
function assertBaselineUnchanged(exp: Experiment, files: readonly string[]): void {
  if (exp.state.best_run !== null || files.length === 0) return;
  const names = `${files.slice(0, 3).join(', ')}${files.length > 3 ? ' …' : ''}`;
  throw new RefusalError(`no baseline yet: the baseline measures the code unchanged, but in-scope files changed (${names}); undo them, run-experiment, then log-experiment --description baseline`);
}

const invalid = (reason: string): Outcome => ({ phase: 'measured', status: 'invalid', reason, tail: '', unclean: null });

/** Measure, given the open workspace (of m.cwd); returns true when interrupted. */
export async function measure(m: Measurement, ws: Workspace): Promise<boolean> {
  try {
    return await measureSteps(m, ws);
  } finally {
    // However the run ended (a gate's reject, an interruption): a best's tree its commands wrote is not reused.
    m.settleBestTree();
  }
}

async function measureSteps(m: Measurement, ws: Workspace): Promise<boolean> {
  const { exp } = m;
  const { config } = exp;
  // Outside changes set aside, the in-scope change captured, what cannot be kept found (run-guard.ts).
  const isArtifact = artifactMatcher(config);
  const own = m.candidateState !== null;
  m.guard = own ? new CandidateGuard(exp, ws, m.record, isArtifact, m.cwd, m.candidateState) : new RunGuard(exp, ws, m.record, isArtifact);
  m.guard.users = m.users;
  const unkeepable = await m.guard.before();
  // In a candidate's own worktree nobody else edits: a change outside the scope there is the candidate's.
  const outside = !own || ws.mode !== 'git' ? [] : (await ws.outOfScopeChanges()).map((c) => c.path).filter((p) => !isArtifact(p));
  // The judge must be the one fingerprinted when the segment opened. The guard has just
  // fingerprinted the judges of this tree (nothing has run since): those, not a second hashing.
  const prints = exp.state.fingerprints;
  const judgesNow = prints && (m.guard.tree === m.cwd && m.record.judges ? m.record.judges : fingerprintAgainst(m.cwd, config, prints));
  const integrity = prints && judgesNow ? changedFingerprints(prints, judgesNow) : [];
  const outsideLinks = integrity.flatMap((rel) => {
    const target = rel === 'config' ? null : outsideTarget(m.cwd, path.join(m.cwd, rel));
    return target ? [{ rel, target }] : [];
  });
  const early = benchmarkOutcome({ metric: config.metric, timeoutS: config.timeout, integrity, outsideLinks, outside, samples: [], last: null, sources: { labels: [], failures: [] } });
  if (early.phase === 'measured' && early.status === 'invalid') return apply(m, early, 'samples');
  if (unkeepable) return apply(m, invalid(unkeepable), 'samples');
  m.record.net_lines_removed = runKind(exp.state, m.record.files) === 'candidate' ? await ws.netLinesRemoved(m.record.files) : 0;

  const gated = await gatesFirst(m);
  if (gated !== false) return gated === true;
  let o = await takeInvocations(m, ws, buildSources(config.sources));
  m.settleBestTree();
  // Whatever the code under test changed that it must not have: the run is invalid.
  if (o.phase === 'measured') {
    // Also when a command already broke the run (a judge touched): what else it changed outside the scope is recorded all the same.
    const after = await m.guard.afterPhase('benchmark');
    m.broken ??= after;
  }
  if (m.broken && o.phase === 'measured') o = invalid(m.broken);
  if (o.phase === 'measured' && o.status === 'ok') {
    m.record.primary = median(m.record.invocations.filter((i) => i.arm === 'candidate').map((i) => invocationValue(i.samples)));
    m.record.metrics[config.metric] = m.record.primary;
    const kept = collectArtifacts(m.cwd, exp.paths, config, m.id, m.started);
    m.record.artifacts = kept.artifacts;
    if (kept.warning) m.record.warnings.push(kept.warning);
  }
  if (apply(m, o, 'samples')) return true;
  return o.phase === 'measured' && o.status === 'ok' && config.checks ? runChecks(m, config.checks) : false;
}

/** run-experiment's work, under the lock. Signals abort the run in flight (its processes are killed). */
export async function runCommand(exp: Experiment, signal: AbortSignal): Promise<RunCommandResult> {
  let result!: RunCommandResult;
  await withLock(exp, 'run-experiment', async () => {
    const r = await measureNext(exp, signal);
    publishActive(exp, currentTermination(exp));
    result = { record: r.record, interrupted: r.interrupted };
  });
  return result;
}

/**
 * Measure the next run, the lock held by the caller: what a killed call left
 * is settled first, the tree reconciled and observed, then the run measured
 * and its record saved: durably when a later call acts on it (log-experiment);
 * a log in the same call (loggedNext) fsyncs the ledger line instead, and a
 * measured record lost with the machine only means the change is measured
 * again. Returns the open workspace too, for that log.
 */
export async function measureNext(exp: Experiment, signal: AbortSignal, opts: { loggedNext?: boolean } = {}): Promise<RunCommandResult & { ws: Workspace }> {
  assertNoCandidates(exp.paths);
  await settleAbandonedRun(exp);
  assertNotUnclean(exp);
  const ws = await openWorkspace(exp.root, exp.paths, exp.config);
  // The hidden-ignore listing runs beside the status (both only read); it is taken again if reconcile or the set-aside changed the tree.
  const early = ws.hiddenIgnores?.();
  early?.catch(() => undefined);
  // One look at the tree answers reconcile's branch check too; what reconcile changed is looked at again.
  const look = ws.observe();
  warmForRun(); // while the two git processes run
  latestRun(exp); // so is the latest record's first parse: nextRunId reads it again, from the cache (same bytes)
  await look;
  const fixed = await reconcile(exp, ws);
  if (fixed.length) {
    process.stderr.write(`reconciled: ${fixed.join('; ')}\n`);
    await ws.observe();
  }
  const tainted = taintProblem(exp.paths, exp.root, exp.state.segment, ws.restoreOutside !== undefined);
  if (tainted) throw new RefusalError(tainted);
  const { id, last } = nextRunId(exp);
  // The user's new in-scope files (attributed by the owner's journal) go aside before anything is measured.
  const users = attribution(exp.root);
  const aside = users ? await setAsideUsers(ws, users, rescueDir(exp, id)) : [];
  if (aside.length) await ws.observe();
  const changed = await ws.changedInScope();
  const nested = (await ws.nestedRepos?.()) ?? [];
  if (nested.length) throw new RefusalError(nestedReposReason(nested));
  const modes = (await ws.hiddenModes?.()) ?? [];
  if (modes.length) throw new RefusalError(hiddenModesReason(exp.root, modes));
  assertIgnoreRulesKept(exp, changed);
  // Setting the user's files aside writes no run record: the latest is still the one nextRunId read.
  const hidden = await assertNoNewHiddenIgnores(exp, ws, { taken: fixed.length || aside.length ? undefined : early, last });
  assertBaselineUnchanged(exp, changed);
  const m = new Measurement(exp, id, runnerFor(exp.config), signal);
  if (hidden) m.record.hidden_ignores = hidden;
  if (aside.length) {
    m.record.warnings.push(setAsideNote(aside, rescueDir(exp, id), exp.root));
    event(exp, 'user_files', { files: aside.slice(0, 50), count: aside.length, to: rescueDir(exp, id).slice(exp.root.length + 1) }, id);
  }
  m.users = users;
  let interrupted = await measure(m, ws);
  // A signal, twice in a row on the same change, where the change's processes can reach the engine: its doing.
  const again = interrupted && !m.gaveUp && !m.configError ? signalledAgain(m.record, last) : null;
  if (again) {
    m.finish('invalid', again);
    interrupted = false;
  }
  m.save(interrupted || !opts.loggedNext);
  if (interrupted) event(exp, 'interrupted', { reason: m.gaveUp || m.configError ? m.record.reason : 'signal' }, m.id);
  return { record: m.record, interrupted, ws };
}
