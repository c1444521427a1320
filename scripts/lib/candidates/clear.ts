// control clear with candidates open: each one's worktree goes (git's record
// of it too), so nothing of the loop is left in `git worktree list` or on
// disk. The candidate's unlogged change is moved to rescued/ first, never
// lost; a candidate whose run or log is in flight is left, and named.
import fs from 'node:fs';
import path from 'node:path';
import { event, readRunRecord, rescueDir, type Experiment } from '../experiment.ts';
import { writeJsonAtomic } from '../fsx.ts';
import { statusEntries } from '../gitcmd.ts';
import { acquireLock } from '../lock.ts';
import { runDir } from '../paths.ts';
import { rescueFile } from '../workspace-base.ts';
import { closeCandidate } from './ledger.ts';
import { linkedFromRoot } from '../untracked-links.ts';
import { candidatePaths, openCandidates, type Candidate } from './store.ts';

const CLEARED = 'the experiment was cleared';

/** The files the candidate's worktree holds changed or new (git's ignored files and the links to the user's untracked ones are not its change). */
async function changedFiles(root: string, tree: string): Promise<string[]> {
  const entries = (await statusEntries(tree, 'all')) ?? [];
  return entries.filter((e) => !e.xy.includes('D') && !(e.xy === '??' && linkedFromRoot(root, tree, e.path))).map((e) => e.path);
}

/** Close the experiment's open candidates (call under its ledger lock). Returns lines for the user. */
export async function clearCandidates(exp: Experiment): Promise<string[]> {
  const closed: string[] = [];
  const left: string[] = [];
  const folder = `clear-${Date.now().toString(36)}`;
  let saved = 0;
  for (const c of openCandidates(exp.paths)) {
    let lock: ReturnType<typeof acquireLock>;
    try {
      lock = acquireLock(candidatePaths(exp.paths, c.id).lock, 'control clear');
    } catch {
      left.push(`${c.id} (a run or log of it is in flight: candidate close ${c.id} once it ends)`);
      continue;
    }
    try {
      const rec = c.run_id ? readRunRecord(exp, c.run_id) : null;
      // Its engine was killed mid-run: what it started may still run, and only repair stops it.
      if (rec?.phase === 'running') {
        left.push(`${c.id} (its engine was killed while ${rec.run_id} ran: control repair, then clear again)`);
        continue;
      }
      saved += await rescueChange(exp, c, folder);
      if (rec?.phase === 'measured') writeJsonAtomic(runDir(exp.paths, rec.run_id).result, { ...rec, phase: 'interrupted', reason: `${CLEARED} before it was logged` });
      await closeCandidate(exp, c, CLEARED);
      event(exp, 'candidate_closed', { candidate: c.id, reason: CLEARED });
      closed.push(c.id);
    } finally {
      lock.release();
    }
  }
  const out: string[] = [];
  const where = path.relative(exp.root, rescueDir(exp, folder));
  if (closed.length) out.push(`closed candidate(s) ${closed.join(', ')} of ${exp.paths.slug}, worktrees removed${saved ? ` (their ${saved} changed file(s) moved to ${where}/)` : ''}`);
  if (left.length) out.push(`left candidate(s) of ${exp.paths.slug}: ${left.join('; ')}`);
  return out;
}

/** Move the candidate's changed files to rescued/<folder>/<id>/; how many. */
async function rescueChange(exp: Experiment, c: Candidate, folder: string): Promise<number> {
  if (!fs.existsSync(c.path)) return 0;
  const dir = path.join(rescueDir(exp, folder), c.id);
  let n = 0;
  for (const f of await changedFiles(exp.root, c.path)) if (rescueFile(c.path, f, dir)) n++;
  return n;
}
