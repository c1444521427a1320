// The ledger lock of parallel mode: the experiment's lock file, held only for
// the short steps that read the state and append to the ledger (allocate a
// run, decide and record a verdict, commit a keep), so candidates measure at
// the same time while appends and keeps happen one at a time. A waiter polls.
// Inside it, what a killed candidate log left half-done is completed first.
import fs from 'node:fs';
import { append, assertActiveWritable, event, readRunRecord, refresh, type Experiment } from '../experiment.ts';
import { readLedger } from '../ledger.ts';
import { runDir } from '../paths.ts';
import { writeJsonAtomic } from '../fsx.ts';
import { crashPoint } from '../faults.ts';
import { waitLock } from './locks.ts';
import { acquireLock, lockHolder } from '../lock.ts';
import { checkLedger, cutLedger, dropSeal, keptSeal, readText, sealIsMine, sealKept } from './ledger-cut.ts';
import type { TailCheck } from './ledger-tail.ts';
import { candidatePaths, openCandidates, saveCandidate, type Candidate } from './store.ts';
import { removeWorktree, mainTreeState, updateMainTree } from './tree.ts';
import { candidateStateFile } from './workspace.ts';
import { openWorkspace } from '../workspace.ts';
import { recoverGitFiles } from '../git-files-journal.ts';
import type { Workspace } from '../workspace-base.ts';

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
 * lock free): the cut it did not make, made now (ledger-cut.ts). Lines appended since by other engine
 * calls are accounted for as that guard would have; its own note of a cut it did make is too.
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
    // No run is "own" here: the killed guard's note names its run, and a result line of a run still running is accounted for by nothing.
    const found = before !== null ? checkLedger(exp, before, '', c.id) : null;
    const t = found && cuttable(readText(exp.paths.ledger), found.removed);
    if (t) cutLedger(exp, t, c.run_id, rec.segment, 'benchmark');
    dropSeal(exp, c.run_id);
    return t ? `took ${t.removed.length} forged ledger line(s) out, left by ${c.run_id} (candidate ${c.id}), whose engine was killed` : null;
  } finally {
    lock?.release();
  }
}

/**
 * Of the lines a late check finds unaccounted for, only those naming a run (a forged verdict, a run's
 * event): the check spans more than one command, and a real line that names no run (a segment opened
 * once that guard's engine was dead and its lock free) must never be cut. Nothing else is put back.
 */
function cuttable(now: string, removed: readonly string[]): TailCheck | null {
  const cut = new Set(removed.filter((l) => {
    try {
      const v = JSON.parse(l) as { type?: unknown; run_id?: unknown };
      return v.type !== 'config' && typeof v.run_id === 'string';
    } catch {
      return false;
    }
  }));
  if (!cut.size) return null;
  const text = now.split('\n').filter((l) => l !== '' && !cut.has(l)).map((l) => `${l}\n`).join('');
  return { text, forged: cut.size, removed: [...cut] };
}
