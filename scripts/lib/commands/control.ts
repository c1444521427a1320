// The control command: the user's levers on a loop.
//   stop     pause the loop (the hooks stop pushing; runs refuse) — history kept
//   resume   continue a stopped or health-paused loop
//   explain  the state, why it is so, and the next action
//   repair   kill what survived a run, complete a half-finished log, rebuild the state cache
//   clear    deactivate autoloop in this repository (hooks go quiet); history kept
import fs from 'node:fs';
import * as z from '../zod.ts';
import { CommonFlags, resolveCwd } from '../cli.ts';
import { followUpNext, nextAction } from '../next-action.ts';
import { safeChainStatus } from '../chain.ts';
import { afterRevert, branchMovedShown, currentTermination, cutOffRun, event, findRoot, listExperiments, loggingFirst, measuredNotLogged, rerunFirst, openExperiment, publishActive, publishExperiment, readActive, readRunRecord, reconcile, refresh, rescueDir, resolveSlug, REPAIR_MOVED, type Experiment } from '../experiment.ts';
import { withLedger } from '../candidates/ledger.ts';
import { candidatePaths, openCandidates } from '../candidates/store.ts';
import { clearCandidates } from '../candidates/clear.ts';
import { acquireLock, lockHolder } from '../lock.ts';
import { stopAbandoned } from './run.ts';
import { cancelRemoteWork } from '../candidates/inflight.ts';
import { openWorkspace } from '../workspace.ts';
import { recoverChain } from '../chain-journal.ts';
import { sweepFinalizeWorktrees } from '../finalize.ts';
import { runnerOf } from '../runners/index.ts';
import { slurmJobs } from '../runners/slurm-name.ts';
import { readUnclean } from '../unclean.ts';
import { pidAlive } from '../procs.ts';
import { branchGone, checkoutFirst, experimentBranch } from './status.ts';
import { currentBranch } from '../gitcmd.ts';
import { experimentPaths, repoPaths } from '../paths.ts';
import { removeBestTree } from '../best-tree.ts';
import { restoreLostCommits } from '../lost-commits.ts';
import { forgetTaint, taintedNow } from '../outside-taint.ts';
import { createdIgnoreFiles } from '../ignore-rules.ts';
import { movedNoteOf } from '../moved-note.ts';
import { BRANCH_MOVED_LISTED, BranchMovedData } from '../schema.ts';
import { rescueFile, type RecordSource } from '../workspace-base.ts';
import { CLEARED_NEXT, emptyState, loopState, shownLoop } from '../reduce.ts';
import { readLedger } from '../ledger.ts';
import { UsageError } from '../errors.ts';
import { bestLine, countsLine, healthLine, progressLine, recentLines } from '../summary.ts';
import { clearSession } from '../session-lock.ts';

export const CONTROL_COMMANDS = ['stop', 'resume', 'explain', 'repair', 'clear'] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];
export const CONTROL_OPTIONS = { experiment: { type: 'string' }, reason: { type: 'string' } } as const;
export const ControlFlags = z.object({
  ...CommonFlags,
  experiment: z.optional(z.string()),
  reason: z.optional(z.string()),
});
export const CONTROL_USAGE = `usage: control ${CONTROL_COMMANDS.join('|')} [--experiment SLUG] [--reason TEXT] [--cwd DIR] [--json]\n`;

/** The command named by the first positional (the entry point has answered a missing one with the usage). */
export async function controlFromArgs(f: z.infer<typeof ControlFlags>, positionals: readonly string[]): Promise<{ data: Record<string, unknown>; text: string }> {
  const cmd = positionals[0] as ControlCommand;
  if (!CONTROL_COMMANDS.includes(cmd)) throw new UsageError(`unknown command "${cmd}" (expected ${CONTROL_COMMANDS.join(', ')})`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  return controlCommand(findRoot(resolveCwd(f.cwd)), cmd, f);
}

/** How long a control command waits for the experiment's lock (a candidate holds it briefly; a serial run for its whole length). */
const CONTROL_WAIT_MS = 60_000;

/** A terminated experiment: /autoloop:chain, or the follow-up that already started from it (chain would refuse another). */
function terminatedNext(exp: Experiment): string {
  const child = safeChainStatus(exp.root, exp.paths.slug).child;
  return child ? followUpNext(child) : 'run /autoloop:chain (report, follow-up or finalize)';
}

async function explain(exp: Experiment): Promise<{ data: Record<string, unknown>; text: string }> {
  const t = currentTermination(exp);
  const s = exp.state;
  const loop = shownLoop(s, t, readActive(exp.root) !== null);
  // A branch moved outside the loop stops every engine call until repair: that comes first.
  const branch = experimentBranch(exp);
  const on = branch === null ? branch : await currentBranch(exp.root);
  const away = branch !== null && on !== branch ? checkoutFirst(exp, on ?? 'a detached HEAD', await branchGone(exp.root, branch)) : null;
  const moved = away ? null : await openWorkspace(exp.root, exp.paths, exp.config).then((ws) => branchMovedShown(exp, ws), () => null);
  const why =
    moved ? moved
    : loop === 'stopped' ? 'stopped by the user (control.mjs resume to continue)'
    : loop === 'terminated' ? t.message
    : loop === 'paused' ? `paused by health: ${s.health.reason}`
    : loop === 'cleared' ? `cleared by control clear: the hooks are quiet (${t.terminate ? t.message : `the ledger says ${loopState(s, t)}: ${s.health.reason}`})`
    : `active: ${s.health.reason}`;
  // As status: a run measured but not logged is logged first (after termination too).
  const unlogged = measuredNotLogged(exp);
  // As status: a run cut off while measuring (no engine call holds the lock) is measured again first.
  const cut = unlogged || lockHolder(exp.paths.lock) ? null : cutOffRun(exp);
  const next = away ? away : moved ? REPAIR_MOVED : unlogged ? loggingFirst(unlogged) : cut && loop === 'active' ? rerunFirst(cut) : loop === 'terminated' || t.terminate ? terminatedNext(exp) : loop === 'cleared' ? CLEARED_NEXT : loop === 'active' ? nextAction(s) : 'control.mjs resume, after reading why it stopped';
  const unclean = fs.existsSync(exp.paths.unclean);
  const text = [
    `experiment ${exp.paths.slug}: loop ${loop}`,
    `why: ${why}`,
    bestLine(exp),
    countsLine(exp),
    healthLine(exp),
    progressLine(t),
    unclean ? 'UNCLEAN: processes of a run survived; control.mjs repair' : '',
    s.pending ? `pending: ${s.pending.action} of ${s.pending.run_id} (the next engine call completes it)` : '',
    ...recentLines(exp, 3),
    `next: ${next}`,
  ].filter(Boolean);
  return { data: { experiment: exp.paths.slug, loop, why, next_action: next, branch_moved: moved, health: s.health, termination: t, unclean, pending: s.pending }, text: text.join('\n') };
}

function stop(exp: Experiment, reason: string | undefined): string {
  if (exp.state.stopped) return 'already stopped';
  event(exp, 'stop', { reason: reason ?? 'stopped by the user' });
  return 'loop stopped: the hooks no longer keep sessions going; control.mjs resume continues it';
}

function resume(exp: Experiment, reason: string | undefined): string {
  let message: string;
  if (!exp.state.stopped && exp.state.health.health !== 'paused') message = 'the loop is not stopped';
  else {
    event(exp, 'resume', { reason: reason ?? 'resumed by the user' });
    message = 'loop resumed';
  }
  const t = currentTermination(exp);
  if (t.terminate) message += `; but it is terminated (${t.message}): raise the budget in config.yaml or chain`;
  return message;
}

/** Kill what unclean.json names, each run's work through the runner that started it; returns a line for the report, or null. */
async function killSurvivors(exp: Experiment): Promise<string | null> {
  const runs = readUnclean(exp.paths.unclean);
  if (!runs) return null;
  // A pid recorded with its start time is ours only while that process lives: never kill a reused pid.
  const starts: Record<string, string> = Object.assign({}, ...runs.map((r) => r.starts));
  const pids = runs.flatMap((r) => r.pids).filter((p): p is number => typeof p === 'number').filter((p) => !starts[String(p)] || pidAlive(p, starts[String(p)] ?? null));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const left: string[] = [];
  for (const r of runs) if (r.handle) left.push(...(await runnerOf(r.handle, exp.config).cancel(r.handle, 1)));
  const alive = pids.filter((p) => pidAlive(p, starts[String(p)] || null));
  if (left.length || alive.length) throw new UsageError(`processes still alive after SIGKILL: ${[...left, ...alive].join(', ')} (check them by hand)`);
  fs.rmSync(exp.paths.unclean, { force: true });
  event(exp, 'cleared', { pids });
  const slurm = runs.filter((r) => r.handle?.runner === 'slurm');
  if (slurm.length) return `cancelled slurm job ${slurm.map((r) => (r.handle?.runner === 'slurm' ? slurmJobs(r.handle, r.pids) : '?')).join(', ')} that outlived its engine`;
  return `killed ${pids.length} surviving process(es)`;
}

/**
 * Candidates whose engine was killed mid-run (their own lock is free): each run's work stopped and
 * the run settled, all of them at once (not one by one as each
 * candidate runs again: the survivors of all of them are recorded and killed by this repair). A line, or null.
 */
async function stopAbandonedCandidates(exp: Experiment): Promise<string | null> {
  const stopped: string[] = [];
  const left: string[] = [];
  for (const c of openCandidates(exp.paths)) {
    const rec = c.run_id ? readRunRecord(exp, c.run_id) : null;
    if (rec?.phase !== 'running') continue;
    let lock: ReturnType<typeof acquireLock>;
    try {
      lock = acquireLock(candidatePaths(exp.paths, c.id).lock, 'control repair');
    } catch {
      continue; // its engine is alive: the run is its own
    }
    try {
      left.push(...(await stopAbandoned(exp, rec)));
      stopped.push(`${rec.run_id} (${c.id})`);
    } finally {
      lock.release();
    }
  }
  if (!stopped.length) return null;
  const what = `stopped the work of ${stopped.join(', ')}, whose engine was killed`;
  if (left.length) throw new UsageError(`${what}, but still alive: ${left.join(', ')} (check them by hand)`);
  return what;
}

/**
 * What the ledger holds of the workspace's record: where the first segment
 * started (the branch's start), the current segment's base, the best, and every
 * keep with what it committed. Null before any segment.
 */
function recordSource(exp: Experiment): RecordSource | null {
  const base = exp.state.base;
  if (!base) return null;
  let first: string | null = null;
  const keeps: RecordSource['keeps'] = [];
  for (const line of readLedger(exp.paths.ledger).lines) {
    if (line.type === 'config') first ??= line.base ?? null;
    else if (line.type === 'event' && line.event === 'committed' && line.run_id && typeof line.data.commit === 'string') keeps.push({ run: line.run_id, id: line.data.commit, ts: line.ts });
  }
  return { started_from: first ?? base, base, best: exp.state.best_commit, keeps };
}

async function repair(exp: Experiment): Promise<string> {
  const done: string[] = [];
  // Cluster jobs whose engine process is gone (it would have cancelled them itself).
  const cancelled = await cancelRemoteWork(exp, true);
  if (cancelled) done.push(cancelled);
  const killed = await killSurvivors(exp);
  if (killed) done.push(killed);
  // After killSurvivors: settling a candidate's run may record survivors of its own in unclean.json.
  const candidates = await stopAbandonedCandidates(exp);
  if (candidates) done.push(candidates);
  // Rebuild the derived state from the ledger, then finish any half-done log.
  exp.state = emptyState();
  refresh(exp);
  const chained = await recoverChain(exp.root, publishExperiment);
  if (chained) done.push(chained);
  const swept = await sweepFinalizeWorktrees(exp.root);
  if (swept.length) done.push(`removed ${swept.length} worktree(s) of a killed finalize`);
  const ws = await openWorkspace(exp.root, exp.paths, exp.config);
  // Before reconcile: every step after it reads the record of the user's files.
  const source = ws.rebuildRecord ? recordSource(exp) : null;
  const rebuilt = source && ws.rebuildRecord ? await ws.rebuildRecord(source) : null;
  if (rebuilt) done.push(rebuilt);
  done.push(...(await reconcile(exp, ws, { branchMoved: 'ignore' })), 'state rebuilt from the ledger');
  // Before the branch is judged moved: a keep whose committed event was lost is the branch's own commit.
  const lost = await restoreLostCommits(exp, ws);
  if (lost) done.push(lost);
  // Files outside the scope that a run's code under test rewrote (outside-taint.ts): back as the best has them.
  const tainted = ws.restoreOutside ? taintedNow(exp.paths, exp.root, exp.state.segment) : null;
  if (tainted && ws.restoreOutside) {
    const folder = `repair-${Date.now().toString(36)}`;
    const back = await ws.restoreOutside(tainted.files, rescueDir(exp, folder));
    forgetTaint(exp.paths, back);
    event(exp, 'outside_change', { files: back, restored: true, run: tainted.run, rescued_to: rescueDir(exp, folder) });
    done.push(`put back ${back.length} file(s) outside the scope that ${tainted.run} rewrote (${back.slice(0, 3).join(', ')}${back.length > 3 ? ', …' : ''}; copies in rescued/${folder}/)`);
  }
  // An ignore file the segment did not have (one that hides itself is invisible to every revert): every run refuses while it is there.
  const hiding = createdIgnoreFiles(exp.root, exp.state.fingerprints?.ignore);
  if (hiding.length) {
    const folder = `repair-${Date.now().toString(36)}`;
    for (const f of hiding) rescueFile(exp.root, f, rescueDir(exp, folder));
    event(exp, 'outside_change', { files: hiding, restored: true, rescued_to: rescueDir(exp, folder) });
    done.push(`moved ${hiding.length} ignore file(s) the segment did not have (${hiding.slice(0, 3).join(', ')}) to rescued/${folder}/`);
  }
  const kept = exp.state.best_commit;
  const head = kept ? await ws.head() : null;
  if (kept && head !== kept) {
    const folder = `repair-${Date.now().toString(36)}`;
    const { saved, changed, rescued } = await ws.restoreHead(kept, rescueDir(exp, folder));
    // Where the work went, in the ledger: the paths the moved commits changed (kept under `saved`), the uncommitted edits moved aside.
    const data = BranchMovedData.parse({
      from: head,
      to: kept,
      saved,
      files: changed.slice(0, BRANCH_MOVED_LISTED),
      files_count: changed.length,
      rescued: rescued.slice(0, BRANCH_MOVED_LISTED),
      rescued_count: rescued.length,
      ...afterRevert(exp, folder, { files: [], created: [] }),
    });
    event(exp, 'branch_moved', data);
    done.push(`put the best back at ${kept.slice(0, 12)} (the moved ${head?.slice(0, 12)} is saved${saved.startsWith('refs/') ? ` as ${saved}` : ''})`);
    const note = saved.startsWith('refs/') ? await movedNoteOf(exp.root, kept, saved) : '';
    if (note) done.push(note);
  }
  return done.join('; ');
}

/** clearCandidates for another experiment of the repository, under its own ledger lock. */
async function clearOther(root: string, slug: string): Promise<string[]> {
  if (!openCandidates(experimentPaths(root, slug)).length) return [];
  try {
    const other = openExperiment(root, slug);
    return await withLedger(other, 'control clear', () => clearCandidates(other), CONTROL_WAIT_MS);
  } catch (e) {
    return [`left the candidates of ${slug}: ${(e as Error).message}`];
  }
}

/** Run one control command; returns what to print. */
export async function controlCommand(root: string, cmd: ControlCommand, f: { experiment?: string; reason?: string }): Promise<{ data: Record<string, unknown>; text: string }> {
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  if (cmd === 'explain') return explain(exp);
  let message = '';
  // stop: queued or running cluster jobs go first (their runs end interrupted and let the lock go).
  const cancelled = cmd === 'stop' ? await cancelRemoteWork(exp) : null;
  await withLedger(exp, `control ${cmd}`, async () => {
    if (cmd === 'clear') {
      const repo = repoPaths(root);
      fs.rmSync(repo.active, { force: true });
      clearSession(repo.session);
      const notes: string[] = [];
      for (const slug of listExperiments(root)) {
        // Every experiment's candidates: their worktrees would stay in `git worktree list` and on disk.
        notes.push(...(slug === exp.paths.slug ? await clearCandidates(exp) : await clearOther(root, slug)));
        await removeBestTree(root, experimentPaths(root, slug).dir);
      }
      message = ['autoloop deactivated in this repository (hooks are quiet); history is kept under .autoloop/', ...notes].join('; ');
      return;
    }
    const cleared = !fs.existsSync(repoPaths(root).active);
    message = cmd === 'stop' ? stop(exp, f.reason) : cmd === 'resume' ? resume(exp, f.reason) : await repair(exp);
    if (cancelled) message += `; ${cancelled}`;
    const t = currentTermination(exp);
    // A cleared experiment stays cleared (hooks quiet, `up` done with it): only a resume of a loop
    // that may still run wakes it. A repair after a killed finalize must not bring the hooks back.
    if (!cleared || (cmd === 'resume' && !t.terminate)) publishActive(exp, t);
  }, CONTROL_WAIT_MS);
  const loop = fs.existsSync(repoPaths(root).active) ? loopState(exp.state, currentTermination(exp)) : 'cleared';
  return { data: { command: cmd, message, loop }, text: message };
}
