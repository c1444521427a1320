// The ledger lock of parallel mode: the experiment's lock file, held only for
// the short steps that read the state and append to the ledger (allocate a
// run, decide and record a verdict, commit a keep), so candidates measure at
// the same time while appends and keeps happen one at a time. A waiter polls.
// Inside it, what a killed candidate log left half-done is completed first.
import fs from 'node:fs';
import { append, assertActiveWritable, event, listExperiments, openExperiment, readRunRecord, refresh, type Experiment } from '../experiment.ts';
import { readLedger } from '../ledger.ts';
import { experimentPaths, runDir } from '../paths.ts';
import { writeJsonAtomic } from '../fsx.ts';
import { crashPoint } from '../faults.ts';
import { waitLock } from './locks.ts';
import { acquireLock, lockHolder } from '../lock.ts';
import { checkLedger, cutLedger, dropSeal, keptSeal, sealIsMine, sealKept } from './ledger-cut.ts';
import { candidatePaths, openCandidates, saveCandidate, type Candidate } from './store.ts';
import { removeWorktree, mainTreeState, updateMainTree } from './tree.ts';
import { candidateStateFile } from './workspace.ts';
import { openWorkspace } from '../workspace.ts';
import { recoverGitFiles } from '../git-files-journal.ts';
import type { Workspace } from '../workspace-base.ts';
import { foldVerified } from './verified.ts';

/** Run fn under the ledger lock with a fresh state and no half-done candidate log left behind. */
export async function withLedger<T>(exp: Experiment, owner: string, fn: () => Promise<T>, maxWaitMs?: number): Promise<T> {
  const lock = await waitLock(exp.paths.lock, owner, maxWaitMs);
  try {
    assertActiveWritable(exp.root);
    // Before any git command (git-files-journal.ts).
    for (const l of await recoverGitFiles(exp.root)) process.stderr.write(`reconciled: ${l}\n`);
    refresh(exp);
    if (lock.tookOver) event(exp, 'lock_takeover', { pid: lock.tookOver.pid });
    await reconcileCandidates(exp);
    // Judged without the lines a live candidate's guard will cut (verified.ts).
    foldVerified(exp);
    return await fn();
  } finally {
    lock.release();
  }
}

/** The result line of a run, if the ledger has one. */
function loggedInLedger(exp: Experiment, runId: string): boolean {
  return readLedger(exp.paths.ledger).lines.some((l) => l.type === 'result' && l.run_id === runId);
}

/** Remove a candidate's worktree and mark it closed. */
export async function closeCandidate(exp: Experiment, c: Candidate, reason: string | null): Promise<void> {
  await removeWorktree(exp.root, c.path);
  crashPoint('candidate:tree-removed');
  fs.rmSync(candidatePaths(exp.paths, c.id).lock + '.stale', { force: true });
  saveCandidate(exp.paths, { ...c, status: 'closed', pending: null, closed_reason: reason });
}

/** A run's result line is in the ledger. A killed log's line is the latest result when the next ledger-locked call looks, so state.recent holds it. */
function logged(exp: Experiment, runId: string): boolean {
  return exp.state.recent.some((r) => r.run_id === runId) || readRunRecord(exp, runId)?.phase === 'logged';
}

/** candidate start was cut short: its worktree, or the worktree's workspace record, was never made. */
function halfOpened(exp: Experiment, c: Candidate): boolean {
  return c.run_id === null && !(fs.existsSync(c.path) && fs.existsSync(candidateStateFile(exp, c)));
}

/**
 * Complete what a killed candidate call left: a keep whose commit landed but
 * whose result line or event did not, a logged run whose candidate was not
 * closed (its worktree maybe gone already), a start that never made its
 * worktree. A keep whose commit never landed is forgotten: its run is still
 * measured and can be logged again. Idempotent.
 */
export async function reconcileCandidates(exp: Experiment): Promise<string[]> {
  const done: string[] = [];
  // The keep's commit is found on the branch from the main tree: the candidate's worktree may be gone.
  let main: Workspace | null = null;
  for (const c of openCandidates(exp.paths)) {
    const cut = cutForKilledGuard(exp, c);
    if (cut) done.push(cut);
    const p = c.pending;
    if (p) {
      main ??= await openWorkspace(exp.root, exp.paths, exp.config);
      const commit = await main.findKeep(p.run_id);
      if (!commit) {
        saveCandidate(exp.paths, { ...c, pending: null });
        continue;
      }
      const before = await mainTreeState(exp.root, `autoloop/${exp.paths.slug}`, p.files, `${commit}^`);
      if (!loggedInLedger(exp, p.run_id)) append(exp, p);
      if (exp.state.pending?.run_id === p.run_id) event(exp, 'committed', { commit, reconciled: true }, p.run_id);
      await updateMainTree(exp.root, commit, p.files, before);
      markLogged(exp, p.run_id);
      await closeCandidate(exp, c, null);
      done.push(`completed the keep of ${p.run_id} (candidate ${c.id})`);
    } else if (c.run_id && logged(exp, c.run_id)) {
      // Logged already: closing it is all that is left (logging it again would count it twice).
      if (exp.state.pending?.run_id === c.run_id && exp.state.pending.action === 'revert') event(exp, 'reverted', { files: [], candidate: c.id, reconciled: true }, c.run_id);
      markLogged(exp, c.run_id);
      await closeCandidate(exp, c, null);
      done.push(`completed the log of ${c.run_id} (candidate ${c.id})`);
    } else if (halfOpened(exp, c)) {
      const why = 'its worktree was never made or is gone (a start cut short, or removed by hand)';
      await closeCandidate(exp, c, why);
      event(exp, 'candidate_closed', { candidate: c.id, reason: why });
      done.push(`closed ${c.id}: ${why}`);
    }
  }
  return done;
}

export function markLogged(exp: Experiment, runId: string): void {
  const rec = readRunRecord(exp, runId);
  if (rec && rec.phase !== 'logged') writeJsonAtomic(runDir(exp.paths, runId).result, { ...rec, phase: 'logged' });
}

/**
 * A candidate's guard killed while its command ran (its seal kept on disk, its run still running, its
 * lock free): the cut it did not make, made now (ledger-cut.ts), as that guard would have made it: its
 * run is the one the check treats as its own (a line naming it, or naming no run and accounted for by
 * nothing, is cut). A real line the engine writes without a run once that guard was dead (a segment
 * opened by init-experiment, a chain's events) comes only after this cut: those calls make it first
 * (cutForKilledGuards). Its own note of a cut it did make is in its seal (keptSeal).
 */
function cutForKilledGuard(exp: Experiment, c: Candidate): string | null {
  if (!c.run_id || !sealKept(exp, c.run_id)) return null;
  const rec = readRunRecord(exp, c.run_id);
  // Its command ended (interrupted, settled): nothing uses the seal. Its lock is not tried: a call of its own may be taking it.
  if (rec?.phase !== 'running') {
    dropSeal(exp, c.run_id);
    return null;
  }
  if (sealIsMine(c.run_id)) return null; // this process's own command: its guard makes the cut
  // Held by this process: a new call of that candidate, whose last engine was killed.
  const file = candidatePaths(exp.paths, c.id).lock;
  let lock: ReturnType<typeof acquireLock> | null = null;
  if (lockHolder(file)?.pid !== process.pid) {
    try {
      lock = acquireLock(file, 'ledger check');
    } catch {
      return null; // its engine is alive: its guard makes the cut
    }
  }
  try {
    const before = keptSeal(exp, c.run_id);
    const t = before !== null ? checkLedger(exp, before, c.run_id, c.id) : null;
    if (t) cutLedger(exp, t, c.run_id, rec.segment, 'benchmark');
    dropSeal(exp, c.run_id);
    return t ? `took ${t.removed.length} forged ledger line(s) out, left by ${c.run_id} (candidate ${c.id}), whose engine was killed` : null;
  } finally {
    lock?.release();
  }
}

/**
 * The cuts killed guards left, in every experiment of the repository: made by a call that writes lines
 * no record accounts for (init-experiment's config line, chain's events) before it writes them, holding
 * the repository's lock, so a later late cut never takes them for forged.
 */
export function cutForKilledGuards(root: string): string[] {
  const done: string[] = [];
  for (const slug of listExperiments(root)) {
    const paths = experimentPaths(root, slug);
    const open = openCandidates(paths).filter((c) => c.run_id !== null && sealKept({ paths }, c.run_id));
    if (!open.length) continue;
    try {
      const exp = openExperiment(root, slug);
      for (const c of open) {
        const cut = cutForKilledGuard(exp, c);
        if (cut) done.push(cut);
      }
    } catch (e) {
      // An experiment that cannot be opened (init-experiment may be what repairs it): its next ledger-locked call cuts.
      done.push(`left the ledger check of ${slug}: ${(e as Error).message}`);
    }
  }
  return done;
}
