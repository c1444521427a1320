// The candidate command (parallel mode): open, list and close candidates.
//   start   a worktree from the current best, for one change (prints its id and path)
//   list    the open candidates and where each stands
//   close   give a candidate up without a result (only when it has no measured run)
// A candidate is logged by log-experiment --candidate ID, which also closes it.
import * as z from '../zod.ts';
import { CommonFlags, resolveCwd } from '../cli.ts';
import { assertBranchAtKeep, currentTermination, event, findRoot, openExperiment, publishActive, readRunRecord, resolveSlug, type Experiment } from '../experiment.ts';
import { openWorkspace } from '../workspace.ts';
import { RefusalError, UsageError } from '../errors.ts';
import fs from 'node:fs';
import { nowIso } from '../ledger.ts';
import { writeJsonAtomic } from '../fsx.ts';
import { runDir } from '../paths.ts';
import { crashPoint } from '../faults.ts';
import { acquireLock } from '../lock.ts';
import { loopState } from '../reduce.ts';
import { candidatePaths, nextCandidateId, openCandidate, openCandidates, saveCandidate, type Candidate } from '../candidates/store.ts';
import { closeCandidate, withLedger } from '../candidates/ledger.ts';
import { addWorktree } from '../candidates/tree.ts';
import { placeJudges } from '../best-tree-judges.ts';
import { linkUntracked } from '../untracked-links.ts';
import { compileScope } from '../scope.ts';
import { openCandidateWorkspace } from '../candidates/workspace.ts';

export const CANDIDATE_COMMANDS = ['start', 'list', 'close'] as const;
export type CandidateCommand = (typeof CANDIDATE_COMMANDS)[number];

export const CANDIDATE_OPTIONS = { experiment: { type: 'string' }, reason: { type: 'string' } } as const;
export const CandidateFlags = z.object({ ...CommonFlags, experiment: z.optional(z.string()), reason: z.optional(z.string().check(z.maxLength(500))) });
export const CANDIDATE_USAGE = `usage: candidate start|list|close [ID] [--reason TEXT] [--experiment SLUG] [--cwd DIR] [--json]\n`;

/** The command named by the first positional (the entry point has answered a missing one with the usage). */
export async function candidateFromArgs(f: z.infer<typeof CandidateFlags>, positionals: readonly string[]): Promise<CandidateOutput> {
  const cmd = positionals[0] as CandidateCommand;
  if (!CANDIDATE_COMMANDS.includes(cmd)) throw new UsageError(`unknown command "${cmd}" (expected ${CANDIDATE_COMMANDS.join(', ')})`);
  const max = cmd === 'close' ? 2 : 1;
  if (positionals.length > max) throw new UsageError(`unexpected argument "${positionals[max]}"`);
  const root = findRoot(resolveCwd(f.cwd));
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  return candidateCommand(exp, cmd, { id: positionals[1], reason: f.reason });
}

export interface CandidateOutput {
  data: Record<string, unknown>;
  text: string;
}

/** Why no candidate may open now, or null. */
function refusal(exp: Experiment): string | null {
  const loop = loopState(exp.state, currentTermination(exp));
  if (loop !== 'active') return `the loop is ${loop}: no new candidate (log or close the open ones)`;
  if (exp.state.best_run === null) return 'no baseline yet: run-experiment and log-experiment --description baseline first (in the main tree)';
  if (exp.state.pending) return `the ${exp.state.pending.action} of ${exp.state.pending.run_id} is unfinished: control.mjs repair`;
  const open = openCandidates(exp.paths);
  if (open.length >= exp.config.parallel) {
    return `${open.length} candidate(s) open (${open.map((c) => c.id).join(', ')}), parallel is ${exp.config.parallel}: log or close one first`;
  }
  return null;
}

async function start(exp: Experiment): Promise<CandidateOutput> {
  if (exp.config.parallel < 2) throw new UsageError('parallel is 1: candidates need parallel: N (N ≥ 2) in config.yaml or init-experiment --parallel N');
  const main = await openWorkspace(exp.root, exp.paths, exp.config);
  if (main.mode !== 'git') throw new UsageError('parallel candidates need git mode; this experiment runs in snapshot mode');
  const c = await withLedger(exp, 'candidate start', async () => {
    const why = refusal(exp);
    if (why) throw new RefusalError(why);
    // Never from a commit the engine did not keep (a candidate's benchmark can move the branch: .git is shared).
    await assertBranchAtKeep(exp, main);
    const id = nextCandidateId(exp.paths);
    const base = await main.head();
    const cp = candidatePaths(exp.paths, id);
    const cand: Candidate = { version: 1, id, path: cp.tree, base, opened_at: nowIso(), status: 'open', run_id: null, pending: null, closed_reason: null };
    saveCandidate(exp.paths, cand); // first: a crash mid-way leaves a candidate that close can clean up
    crashPoint('candidate:saved');
    const before = Date.now(); // before the candidate's files are checked out: copied objects are dated earlier
    await addWorktree(exp.root, cp.tree, base);
    // What the benchmark reads that git does not hold (a venv, data/), as the serial loop and the best's tree see it.
    await linkUntracked(exp.root, cp.tree, compileScope(exp.config.scope, exp.config.protect), `candidate ${id}'s worktree`, before);
    // The judges git does not hold as the user's tree does (a .autoloop/bench.sh, an untracked evaluate.py): every run was invalid.
    placeJudges(exp.root, cp.tree, exp.state.fingerprints?.files ?? {});
    crashPoint('candidate:worktree');
    await (await openCandidateWorkspace(exp, cand)).begin();
    event(exp, 'candidate_opened', { candidate: id, base, path: cp.tree });
    publishActive(exp, currentTermination(exp));
    return cand;
  });
  const best = exp.state.best_run ?? '?';
  return {
    data: { candidate: c.id, path: c.path, base: c.base, best_run: best },
    text: [
      `candidate ${c.id} at ${c.path} (from the best, ${best} ${c.base.slice(0, 8)})`,
      `one change, in scope, inside that directory only; then run-experiment --candidate ${c.id}; log-experiment --candidate ${c.id} --description "…"`,
    ].join('\n'),
  };
}

function where(exp: Experiment, c: Candidate): string {
  const rec = c.run_id ? readRunRecord(exp, c.run_id) : null;
  if (!rec) return 'editing (no run yet)';
  if (rec.phase === 'running') return `measuring ${rec.run_id}`;
  if (rec.phase === 'measured') return `${rec.run_id} measured (${rec.status}): log it`;
  return `${rec.run_id} ${rec.phase}${rec.reason ? ` (${rec.reason})` : ''}: run again`;
}

function list(exp: Experiment): CandidateOutput {
  const open = openCandidates(exp.paths);
  const rows = open.map((c) => ({ id: c.id, path: c.path, base: c.base, run_id: c.run_id, state: where(exp, c) }));
  const text = open.length
    ? [`${open.length} of ${exp.config.parallel} candidate slot(s) in use`, ...rows.map((r) => `${r.id} ${r.state} — ${r.path}`)].join('\n')
    : `no open candidate (parallel ${exp.config.parallel}); candidate start opens one`;
  return { data: { parallel: exp.config.parallel, candidates: rows }, text };
}

async function close(exp: Experiment, id: string, reason: string | undefined): Promise<CandidateOutput> {
  const c0 = openCandidate(exp.paths, id);
  // The candidate's own lock: not while a run or log of it is in flight.
  const lock = acquireLock(candidatePaths(exp.paths, id).lock, 'candidate close');
  try {
    await withLedger(exp, 'candidate close', async () => {
      const c = openCandidate(exp.paths, c0.id);
      const rec = c.run_id ? readRunRecord(exp, c.run_id) : null;
      const gone = !fs.existsSync(c.path);
      if (rec?.phase === 'measured' && !gone) throw new RefusalError(`${id} has a measured run ${rec.run_id}: log it (log-experiment --candidate ${id}, with --discard to throw it away)`);
      // Its worktree removed by hand: the measurement can no longer be logged; it is given up, not left to be asked for.
      if (rec?.phase === 'measured') writeJsonAtomic(runDir(exp.paths, rec.run_id).result, { ...rec, phase: 'interrupted', reason: 'its worktree was removed before it was logged' });
      const why = reason ?? (gone ? 'its worktree was removed' : 'closed without a result');
      await closeCandidate(exp, c, why);
      event(exp, 'candidate_closed', { candidate: id, reason: why });
      publishActive(exp, currentTermination(exp));
    });
  } finally {
    lock.release();
  }
  return { data: { candidate: id, closed: true }, text: `candidate ${id} closed; its worktree is gone` };
}

export async function candidateCommand(exp: Experiment, cmd: CandidateCommand, f: { id?: string; reason?: string }): Promise<CandidateOutput> {
  if (cmd === 'start') return start(exp);
  if (cmd === 'list') return list(exp);
  if (!f.id) throw new UsageError('candidate close needs the candidate id (candidate list shows them)');
  return close(exp, f.id, f.reason);
}
