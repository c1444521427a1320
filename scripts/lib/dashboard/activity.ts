// What is happening right now, beside what the ledger says happened: a run
// measuring (the ledger only gains its line when it ends, minutes or hours
// later), a run measured but not logged (a call cut off in between), a run cut
// off while it measured, the parallel candidates in flight. Read-only and
// cheap (the lock file, the latest run's record, the candidates' store), so
// every --watch frame reads it afresh. The next action then agrees with status.
import type { Experiment } from '../experiment-data.ts';
import type { RunRecord } from '../schema.ts';
import { isMeasuredNotLogged, latestRunNumber, loggingFirst, readRunRecord, rerunFirst } from '../experiment.ts';
import { lockHolder } from '../lock.ts';
import { runId } from '../paths.ts';
import fs from 'node:fs';
import { parallelLines, parallelStatus, type ParallelStatus } from '../candidates/status.ts';
import path from 'node:path';
import { CANDIDATE_ID, candidatePaths, openCandidates, readCandidate, type Candidate } from '../candidates/store.ts';
import type { ExperimentPaths } from '../paths.ts';

export interface Activity {
  /** The engine call holding the repository's lock (a run measuring, a log, a chain). */
  busy: { owner: string; pid: number; started_at: string } | null;
  /** Runs whose records say they are measuring now (one, or each candidate's in parallel mode). */
  measuring: { run_id: string; started_at: string; candidate: string | null; slurm_job: string | null }[];
  /** The latest run was measured but not logged (by the main loop, or a candidate): it is logged before anything else. */
  pending: { run_id: string; candidate: string | null } | null;
  /** The latest run was left measuring by an engine call that is gone: the next run-experiment records it as interrupted. */
  cut_off: string | null;
  candidates: ParallelStatus['candidates'];
  long_queue: ParallelStatus['long_queue'];
}

export const NO_ACTIVITY: Activity = { busy: null, measuring: [], pending: null, cut_off: null, candidates: [], long_queue: null };

/** The same words as status's next action while another call works. */
export function busyText(b: { owner: string; pid: number; started_at: string }): string {
  return `${b.owner} (pid ${b.pid}) is running since ${b.started_at.slice(11, 19)} UTC; what it measures shows when it ends`;
}

/**
 * The open candidates, found from git's registry of worktrees (the gitdir file of each folder in .git/worktrees): closing a
 * candidate removes its worktree first, and every candidate ever opened keeps its folder, so a long
 * parallel history has thousands, which read and parsed (or even probed) cost 0.1–0.6 s a call and
 * a --watch frame. Without a .git folder (a repository that is itself a linked worktree) every
 * folder is read, as status does. One still open whose worktree is gone is status's to report.
 */
function openWithTrees(root: string, paths: ExperimentPaths): Candidate[] {
  const trees = registeredTrees(root);
  if (!trees) return openCandidates(paths);
  const ids = trees.flatMap((t) => {
    const id = path.basename(path.dirname(t));
    return CANDIDATE_ID.test(id) && path.resolve(t) === path.resolve(candidatePaths(paths, id).tree) ? [id] : [];
  });
  return ids
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
    .map((id) => readCandidate(paths, id))
    .filter((c): c is Candidate => c?.status === 'open');
}

/** The linked worktrees git knows of (their folders), or null when the repository has no .git folder. */
function registeredTrees(root: string): string[] | null {
  const git = path.join(root, '.git');
  if (!fs.statSync(git, { throwIfNoEntry: false })?.isDirectory()) return null;
  let names: string[];
  try {
    names = fs.readdirSync(path.join(git, 'worktrees'));
  } catch {
    return []; // none registered
  }
  return names.flatMap((n) => {
    try {
      return [path.dirname(fs.readFileSync(path.join(git, 'worktrees', n, 'gitdir'), 'utf8').trim())];
    } catch {
      return [];
    }
  });
}

function measuringOf(rec: RunRecord): Activity['measuring'][number] {
  const job = rec.handle?.runner === 'slurm' ? rec.handle.job_id : null;
  return { run_id: rec.run_id, started_at: rec.started_at, candidate: rec.candidate?.id ?? null, slurm_job: job };
}

export function activityOf(exp: Experiment): Activity {
  const busy = lockHolder(exp.paths.lock);
  const n = latestRunNumber(exp);
  const latest = n ? readRunRecord(exp, runId(n)) : null;
  // Also outside parallel mode: a Slurm run's long wait in the queue is said there.
  const par = parallelStatus(exp, openWithTrees(exp.root, exp.paths));
  const measuring: Activity['measuring'] = [];
  let cutOff: string | null = null;
  // A run of this segment not yet in the ledger (a record left from an earlier segment says nothing now).
  if (latest && latest.phase === 'running' && latest.segment === exp.state.segment && n >= exp.state.next_run) {
    // A candidate's run measures without the lock; the main loop's holds it while it measures.
    if (busy || latest.candidate) measuring.push(measuringOf(latest));
    else cutOff = latest.run_id;
  }
  for (const c of par.candidates) {
    if (c.phase !== 'running' || !c.run_id || measuring.some((m) => m.run_id === c.run_id)) continue;
    const rec = readRunRecord(exp, c.run_id);
    if (rec) measuring.push(measuringOf(rec));
  }
  return {
    busy,
    measuring,
    pending: isMeasuredNotLogged(exp, latest) ? { run_id: latest.run_id, candidate: latest.candidate?.id ?? null } : null,
    cut_off: cutOff,
    candidates: par.candidates,
    long_queue: par.long_queue,
  };
}

/** The next action as status gives it: another call at work first, then a run to log, then (a live loop) a run cut off, else the state's. */
export function activityNext(a: Activity, otherwise: string, terminated = false): string {
  if (a.busy) return `wait: ${busyText(a.busy)}`;
  if (a.pending) return loggingFirst({ run_id: a.pending.run_id, candidate: a.pending.candidate ? { id: a.pending.candidate } : null });
  if (a.cut_off && !terminated) return rerunFirst(a.cut_off);
  return otherwise;
}

/** The activity in a few lines for people (the terminal's and the page's "now"); none when nothing is under way. */
export function activityLines(a: Activity, parallel: number): string[] {
  const out: string[] = [];
  // The candidates' line below says which of theirs measure.
  const main = a.measuring.filter((m) => !m.candidate || !a.candidates.length);
  const what = (m: Activity['measuring'][number]) => [m.candidate ? `candidate ${m.candidate}` : '', m.slurm_job ? `Slurm job ${m.slurm_job}` : ''].filter(Boolean).join(', ');
  if (main.length) out.push(main.map((m) => `${m.run_id} measuring since ${m.started_at.slice(11, 19)} UTC${what(m) ? ` (${what(m)})` : ''}`).join(', '));
  if (a.pending) out.push(`${a.pending.run_id} measured, not logged yet${a.pending.candidate ? ` (candidate ${a.pending.candidate})` : ''}`);
  if (a.cut_off) out.push(`${a.cut_off} was cut off while measuring (its engine call is gone): the next run-experiment records it as interrupted`);
  out.push(...parallelLines({ candidates: a.candidates, long_queue: a.long_queue }, parallel));
  return out;
}
