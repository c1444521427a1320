// The log command: record the last measured run and act on it. The verdict is
// decided in code (verdict.ts); the caller can only describe the change or
// throw it away (discard). The result reaches the ledger before the tree is
// touched, and every step after it can be completed by reconcile().
import { warmForRun } from '../warm.ts';
import {
  appendLater,
  currentTermination,
  event,
  latestRunNumber,
  publishActive,
  readRunRecord,
  afterRevert,
  artifactsFields,
  artifactsNote,
  movedNote,
  reconcile,
  rescueDir,
  trailers,
  withLock,
  type Experiment,
} from '../experiment.ts';
import { openWorkspace, type Workspace } from '../workspace.ts';
import { restoreJudges } from '../integrity.ts';
import { judgeRun } from '../judge-run.ts';
import { nextAction } from '../next-action.ts';
import type { ResultLine, RunRecord } from '../schema.ts';
import { runDir, runId as formatRunId } from '../paths.ts';
import { NotDurableError, writeJsonAtomic } from '../fsx.ts';
import { nowIso } from '../ledger.ts';
import { RefusalError } from '../errors.ts';
import { confidenceOf, gainPct } from '../reduce.ts';
import { clip, fmtApart, gainText, progressLine } from '../summary.ts';
import { ratio } from '../format.ts';
import { chainBudgetLine, safeChainStatus } from '../chain.ts';
import { crashPoint } from '../faults.ts';
import { dropArtifactStamp, noArtifacts, pruneArtifacts, restoreBestArtifacts, type RestoredArtifacts } from '../artifacts.ts';
import { ensureScratch } from '../analysis.ts';
import type { Evidence } from '../schema.ts';
import { applyRetention } from '../retention.ts';
import { assertNoCandidates } from '../candidates/store.ts';
import { describeDrift, recheck } from '../measured.ts';
import { resetJournal } from '../journal.ts';
import { attribution, driftWithoutUsers, type Attribution } from '../user-files.ts';

export interface LogInput {
  description: string;
  hypothesis?: string;
  /** Files the hypothesis rests on (analysis.ts parseEvidence). */
  evidence?: Evidence[];
  discard: boolean;
}

export interface LogResult {
  line: ResultLine;
  commit: string | null;
  restored: string[];
  /** Artifacts put back from the best run after a discard or crash (what was in their way moved to rescued/<run>/). */
  artifacts: RestoredArtifacts;
  /** New files a revert moved aside instead of deleting them (they may be the user's), and where. */
  moved: { to: string; files: string[] } | null;
}

export function measuredRun(exp: Experiment): RunRecord {
  const n = latestRunNumber(exp);
  const rec = n ? readRunRecord(exp, formatRunId(n)) : null;
  if (!rec) throw new RefusalError('no measured run to log: run run-experiment first');
  if (rec.phase === 'logged') throw new RefusalError(`run ${rec.run_id} is already logged: run run-experiment for the next change`);
  if (rec.phase !== 'measured') throw new RefusalError(`run ${rec.run_id} was ${rec.phase}, not measured: run run-experiment again`);
  if (rec.segment !== exp.state.segment) throw new RefusalError(`run ${rec.run_id} belongs to segment ${rec.segment}, not ${exp.state.segment}: run run-experiment again`);
  return rec;
}

/** The ledger line for a measured run, with its verdict. */
export function resultLine(exp: Experiment, rec: RunRecord, input: LogInput): ResultLine {
  const { config, state: s } = exp;
  const status = rec.status ?? 'crash';
  const v = judgeRun(config, s, rec, input.discard);
  return {
    type: 'result',
    ts: nowIso(),
    segment: s.segment,
    run_id: rec.run_id,
    status,
    verdict: v.verdict,
    primary: rec.primary,
    samples: rec.samples,
    metrics: rec.metrics,
    description: input.description,
    hypothesis: input.hypothesis ?? null,
    reason: v.reason,
    delta: v.delta,
    duration_s: rec.duration_s,
    files: rec.files,
    rebaseline: v.rebaseline,
    ...(status !== 'ok' && rec.best_failed ? { best_failed: true } : {}),
    invocations: rec.invocations,
    decision: rec.decision,
    net_lines_removed: rec.net_lines_removed,
    gates: rec.gates,
    kind: v.kind,
    evidence: input.evidence ?? [],
    ...(rec.content ? { content: rec.content } : {}),
  };
}

/** The record as it must be judged: invalid when the in-scope files are no longer what was measured. */
export async function stillMeasured(ws: Workspace, rec: RunRecord, users: Attribution | null = null): Promise<RunRecord> {
  if (!rec.content || rec.status !== 'ok') return rec;
  // A new file of the user's (by the owner's journal) is not part of the change: left where it is.
  const drift = await driftWithoutUsers(ws, users, (await recheck(ws, rec.content)).drift, rec.content);
  return drift.length ? { ...rec, status: 'invalid', reason: describeDrift(drift, 'after the run was measured') } : rec;
}

/** Keep (commit) or revert (restoring the judges if the run changed them); returns the commit and restored judges. */
async function actOnTree(exp: Experiment, ws: Workspace, rec: RunRecord, line: ResultLine, durable: Promise<void>): Promise<Omit<LogResult, 'line'>> {
  if (line.verdict === 'keep') {
    const msg = `autoloop: ${clip(line.description, 72)}`;
    try {
      // A git keep awaits the line's fsync just before the branch moves (its tree and commit object are written meanwhile).
      if (ws.mode !== 'git' || !rec.files.length) await durable;
      // Snapshot mode: the walk's anchor (the state holds this line already) is kept from the keep's clean-up (run-plan.ts tieAnchor).
      await ws.pin?.(exp.state.tie_drift?.anchor?.commit ?? null);
      const commit = rec.files.length ? await ws.keep(rec.files, msg, trailers(exp, rec.run_id, rec.primary), rec.content?.files, durable) : await ws.head();
      crashPoint('after-commit');
      event(exp, 'committed', { commit }, rec.run_id);
      return { commit, restored: [], artifacts: noArtifacts(), moved: null };
    } catch (e) {
      if (e instanceof NotDurableError) throw e;
      // Never retried forever: the run counts as not kept and the tree goes back to the best.
      const reason = (e instanceof Error ? e.message : String(e)).split('\n')[0] as string;
      event(exp, 'keep_failed', { reason }, rec.run_id);
      line.verdict = 'invalid';
      line.reason = `keep failed: ${reason}`;
    }
  }
  await durable; // the result line is on disk before the revert touches the tree
  let restored: string[] = [];
  const prints = exp.state.fingerprints;
  // Content and mode: a judge made non-executable (chmod) has the same bytes but would fail every later run.
  if (prints) restored = restoreJudges(exp.root, exp.paths.judges, Object.keys(prints.files));
  crashPoint('after-judges');
  // Judges put back are not an outside change for the next run. The tree changed
  // under the last read (log-experiment's observe()): the settle and the revert look again.
  if (restored.length) {
    ws.stale();
    await ws.settleOutOfScope();
  }
  const reverted = await ws.revert(rescueDir(exp, rec.run_id));
  crashPoint('after-revert');
  // The tree holds the best's checkpoint again, not the discarded run's.
  const artifacts = restoreBestArtifacts(exp, rec.run_id, Date.parse(rec.started_at), rescueDir(exp, rec.run_id));
  const aside = afterRevert(exp, rec.run_id, reverted);
  event(exp, 'reverted', { files: reverted.files, judges: restored, ...(artifacts.from ? { artifacts: artifacts.from } : {}), ...(artifacts.rescued.length ? { artifacts_rescued: artifacts.rescued.slice(0, 50) } : {}), ...aside }, rec.run_id);
  const moved = reverted.created.length ? { to: String(aside.rescued_to), files: reverted.created } : null;
  return { commit: null, restored, artifacts, moved };
}

export async function logCommand(exp: Experiment, input: LogInput): Promise<LogResult> {
  let result!: LogResult;
  await withLock(exp, 'log-experiment', async () => {
    assertNoCandidates(exp.paths);
    const ws = await openWorkspace(exp.root, exp.paths, exp.config);
    // One look at the tree answers reconcile's branch check and the check that the
    // measured content is still there (as in run); what reconcile changed is looked at again.
    const look = ws.observe();
    warmForRun(); // while git runs: the content check hashes, a keep deflates
    await look;
    const fixed = await reconcile(exp, ws);
    if (fixed.length) {
      process.stderr.write(`reconciled: ${fixed.join('; ')}\n`);
      await ws.observe();
    }
    result = await logMeasured(exp, ws, await stillMeasured(ws, measuredRun(exp), attribution(exp.root)), input);
  });
  return result;
}

/**
 * Log a measured run, under the lock, its record already checked against the
 * tree (stillMeasured, or the run's own check after its last command when the
 * same process measured it): the ledger first, then the tree, then the rest.
 */
export async function logMeasured(exp: Experiment, ws: Workspace, rec: RunRecord, input: LogInput): Promise<LogResult> {
  const previousBest = exp.state.best_run;
  const line = resultLine(exp, rec, input);
  // 1. the record first: whatever happens next, the run is in the ledger.
  crashPoint('before-ledger');
  const durable = appendLater(exp, line);
  crashPoint('after-ledger');
  // 2. then the tree, once the line is on disk (its fsync runs beside a keep's tree and commit object).
  const result = { line, ...(await actOnTree(exp, ws, rec, line, durable)) };
  // What the journal attributed is settled now (kept or reverted); the next change starts a fresh one.
  resetJournal(exp.root);
  crashPoint('after-event');
  writeJsonAtomic(runDir(exp.paths, rec.run_id).result, { ...rec, phase: 'logged' }, { durable: false });
  crashPoint('after-record');
  pruneArtifacts(exp);
  // The run is logged: its pre-run stamp of the artifacts (only a recovered revert reads it) goes.
  dropArtifactStamp(exp.paths, rec.run_id);
  ensureScratch(exp.paths, formatRunId(exp.state.next_run));
  applyRetention(exp.paths, Number(rec.run_id.slice(1)), exp.state.best_run, previousBest);
  const t = currentTermination(exp);
  if (t.terminate && !exp.state.terminated_event) event(exp, 'terminated', { by: t.by, message: t.message }, rec.run_id);
  publishActive(exp, t);
  return result;
}

/** What log-experiment prints: data for --json, text for the model. */
export function logOutput(exp: Experiment, r: LogResult): { data: Record<string, unknown>; text: string } {
  const { config, state: s } = exp;
  const { line, commit, restored } = r;
  const t = currentTermination(exp);
  const conf = confidenceOf(s);
  const h = s.health;
  const unit = config.unit ? ` ${config.unit}` : '';
  // Which rule fired is terminated_by; whether a follow-up may start is the chain budget's call.
  const chain = safeChainStatus(exp.root, exp.paths.slug);
  const data = {
    run_id: line.run_id,
    verdict: line.verdict,
    reason: line.reason,
    commit,
    best: s.best,
    baseline: s.baseline,
    gain_pct: gainPct(s, config),
    confidence: conf.value,
    // Read every iteration: a label only with a value, a health reason only when health is not ordinary.
    ...(conf.value !== null ? { confidence_label: conf.label } : {}),
    health: h.health,
    ...(h.health === 'running' || h.health === 'improving' ? {} : { health_reason: h.reason }),
    next_action: t.terminate ? 'run /autoloop:chain' : nextAction(s),
    should_terminate: t.terminate,
    ...(t.terminate ? { terminated_by: t.by } : {}),
    // The chain's budget matters only once the loop stops.
    ...(t.terminate ? { chain_allowed: chain.allowed, chain_remaining: chain.remaining } : {}),
    ...(restored.length ? { restored_judges: restored } : {}),
    ...artifactsFields(exp, line.run_id, r.artifacts),
    ...(r.moved ? { moved_new_files: { to: r.moved.to, count: r.moved.files.length, files: r.moved.files.slice(0, 3) } } : {}),
  };
  const text = [
    `${line.run_id} ${line.verdict.toUpperCase()}: ${line.reason}${commit ? ` [${String(commit).slice(0, 8)}]` : ''}`,
    `best ${fmtApart(s.best, s.baseline).join(`${unit} vs baseline `)}${unit} (${gainText(gainPct(s, config), s.baseline)}); confidence ${conf.value === null ? 'n/a' : `${ratio(conf.value)}x ${conf.label}`}`,
    `health ${h.health}: ${h.reason}; ${progressLine(t)}`,
    restored.length ? `restored protected files: ${restored.join(' ')}` : '',
    artifactsNote(exp, line.run_id, r.artifacts),
    r.moved ? movedNote(exp, line.run_id, r.moved.files) : '',
    t.terminate ? `STOP: ${t.message}. Next: /autoloop:chain` : `next: ${nextAction(s)}`,
    t.terminate ? chainBudgetLine(chain) : '',
  ].filter(Boolean);
  return { data, text: text.join('\n') };
}
