// run-experiment --candidate ID: measure one candidate's worktree while other
// candidates measure theirs. The run is allocated under the ledger lock (its
// number, its folder, the best it stands on); a candidate whose best has moved
// is first rebased onto the new one, so what is measured is what a keep would
// commit. The measuring itself holds only the candidate's own lock, and on the
// local runner each timed sample takes the machine-wide timing lock.
import { assertBranchAtKeep, assertNotUnclean, currentTermination, event, latestRunNumber, publishActive, readRunRecord, type Experiment } from '../experiment.ts';
import { RefusalError } from '../errors.ts';
import { acquireLock } from '../lock.ts';
import { runId as formatRunId } from '../paths.ts';
import { runnerFor, runsIsolated } from '../runners/index.ts';
import { assertMayRun, assertNoNewHiddenIgnores, measure, Measurement, recordSurvivors, settleAbandoned, type Gate, type RunCommandResult } from './run.ts';
import { hiddenModesReason } from '../hidden-modes.ts';
import { candidatePaths, openCandidate, saveCandidate, type Candidate } from '../candidates/store.ts';
import { sealRecord } from '../candidates/record-seal.ts';
import { withLedger } from '../candidates/ledger.ts';
import { headOf, rebaseChange } from '../candidates/tree.ts';
import { candidateStateFile, openCandidateWorkspace } from '../candidates/workspace.ts';
import { runBeside, timeAlone } from '../candidates/locks.ts';
import type { GitWorkspace } from '../git-workspace.ts';

export interface CandidateRunResult extends RunCommandResult {
  candidate: string;
  /** What happened to the candidate's base before measuring (rebased onto a newer best, or why not). */
  note: string | null;
}

/** Serial timing on runners that share the machine (the default for local), unless the config says otherwise. */
export function timingGate(exp: Experiment): Gate | null {
  const t = exp.config.parallel_timing;
  const serial = t === 'serial' || (t === 'auto' && !runsIsolated(exp.config.runner));
  return serial ? (kind, owner) => (kind === 'sample' ? timeAlone(owner) : runBeside()) : null;
}

/** A rebase made before measuring, for its ledger event. */
type Rebased = { from: string; onto: string; files: string[] };

/** Move the candidate onto the current best when the best moved; returns a note for the model. */
async function catchUp(exp: Experiment, c: Candidate, ws: GitWorkspace, head: string | null): Promise<{ c: Candidate; note: string | null; rebased: Rebased | null }> {
  const branchHead = head ?? (await ws.head());
  if (c.base === branchHead) return { c, note: null, rebased: null };
  const files = await ws.changedInScope();
  const r = await rebaseChange(exp.root, c.path, c.base, branchHead, files);
  if (!r.ok) {
    return { c, note: `the best moved (${exp.state.best_run}) and this change conflicts with it (${r.conflicts.slice(0, 3).join(', ')}): measured on its old base; it cannot be kept`, rebased: null };
  }
  const moved = { ...c, base: branchHead };
  saveCandidate(exp.paths, moved);
  return { c: moved, note: `rebased onto the new best ${exp.state.best_run} (${branchHead.slice(0, 8)}) before measuring`, rebased: { from: c.base, onto: branchHead, files } };
}

/** Checks and allocation under the ledger lock; returns the measurement ready to run. */
async function allocate(exp: Experiment, id: string, signal: AbortSignal): Promise<{ m: Measurement; ws: GitWorkspace; note: string | null }> {
  return withLedger(exp, 'run-experiment', async () => {
    let c = openCandidate(exp.paths, id);
    const prev = c.run_id ? readRunRecord(exp, c.run_id) : null;
    // Another run's survivors first: this one's run is not measured while any run's work lives on.
    assertNotUnclean(exp);
    if (prev) await settleAbandoned(exp, prev);
    assertNotUnclean(exp);
    assertMayRun(exp);
    // A candidate left open across a new segment: measured first, its change would be the baseline, kept with nothing to beat.
    if (exp.state.best_run === null) {
      throw new RefusalError(`no baseline in segment ${exp.state.segment} yet: close the open candidates (candidate close ID), then measure the unchanged code in the main tree (run-experiment, log-experiment --description baseline)`);
    }
    if (prev?.phase === 'measured') throw new RefusalError(`run ${prev.run_id} of ${id} is measured but not logged: log-experiment --candidate ${id} first`);
    const ws = await openCandidateWorkspace(exp, c);
    // Rebased only onto a commit the engine kept (another candidate's benchmark may have moved the branch).
    const head = await assertBranchAtKeep(exp, ws);
    const caught = await catchUp(exp, c, ws, head); // the branch as just read: nothing ran since
    c = caught.c;
    // As in the main tree: a .gitignore in the worktree's scope that hides itself refuses the run.
    const hidden = await assertNoNewHiddenIgnores(exp, ws, { last: prev });
    const modes = await ws.hiddenModes();
    if (modes.length) throw new RefusalError(hiddenModesReason(c.path, modes, true));
    const runId = formatRunId(Math.max(exp.state.next_run, latestRunNumber(exp) + 1));
    const runner = runnerFor(exp.config);
    // The record (and so the run's folder) exists before the lock is let go: the number is taken.
    const s = exp.state;
    const on = { id: c.id, base: await headOf(c.path), best_run: s.best_run, best_samples: s.best_samples, best_metrics: s.best_metrics };
    const m = new Measurement(exp, runId, runner, signal, c.path, timingGate(exp), on, candidateStateFile(exp, c));
    if (hidden) m.record.hidden_ignores = hidden;
    saveCandidate(exp.paths, { ...c, run_id: runId });
    // Named by the run it was made for, whose record exists now: a candidate measuring beside this one
    // checks the lines appended meanwhile against their records (ledger-tail.ts), and this candidate's
    // base may move again before that check (a later rebase), so its base cannot vouch for this line.
    if (caught.rebased) event(exp, 'rebased', { candidate: c.id, ...caught.rebased }, runId);
    return { m, ws, note: caught.note };
  });
}

export async function runCandidateCommand(exp: Experiment, id: string, signal: AbortSignal): Promise<CandidateRunResult> {
  openCandidate(exp.paths, id);
  const lock = acquireLock(candidatePaths(exp.paths, id).lock, 'run-experiment');
  try {
    const { m, ws, note } = await allocate(exp, id, signal);
    const interrupted = await measure(m, ws);
    await withLedger(exp, 'run-experiment', async () => {
      // Survivors first, then the record: a kill between leaves the record running, settled (survivors found again) by the next call.
      if (m.survivors) recordSurvivors(exp, m.id, m.survivors);
      m.save();
      if (interrupted) event(exp, 'interrupted', { reason: m.gaveUp || m.configError ? m.record.reason : 'signal', candidate: id }, m.id);
      else sealRecord(exp, m.record, id);
      publishActive(exp, currentTermination(exp));
    });
    return { record: m.record, interrupted, candidate: id, note };
  } finally {
    lock.release();
  }
}
