// log-experiment --candidate ID: record a candidate's measured run and act on
// it, under the ledger lock, so two keeps never interleave. The verdict is
// decided against the best as it is now. A would-be keep measured on a best
// that has since moved is not kept: its change is rebased onto the new best
// and must be measured again (what would be committed is new best + change,
// a program nobody has measured yet); when the rebase conflicts, it is
// discarded with that reason. A keep moves the experiment branch by
// compare-and-swap from the best it was measured on, then brings the user's
// main tree to the new best for the kept files. Every candidate closes here.
import { lateLooseBlame } from '../loose-windows.ts';
import { append, assertBranchAtKeep, currentTermination, event, publishActive, readRunRecord, trailers, type Experiment } from '../experiment.ts';
import { RefusalError } from '../errors.ts';
import { acquireLock } from '../lock.ts';
import { runDir } from '../paths.ts';
import { writeJsonAtomic } from '../fsx.ts';
import { crashPoint, stopPoint } from '../faults.ts';
import type { ResultLine, RunRecord } from '../schema.ts';
import { clip } from '../summary.ts';
import { noArtifacts } from '../artifacts.ts';
import { resultLine, stillMeasured, type LogInput, type LogResult } from './log.ts';
import { candidatePaths, openCandidate, saveCandidate, type Candidate } from '../candidates/store.ts';
import { closeCandidate, markLogged, withLedger } from '../candidates/ledger.ts';
import { recordIntact } from '../candidates/record-seal.ts';
import { foldVerified } from '../candidates/verified.ts';
import { mainTreeState, rebaseChange, updateMainTree, type MainTree } from '../candidates/tree.ts';
import { openCandidateWorkspace } from '../candidates/workspace.ts';
import type { GitWorkspace } from '../git-workspace.ts';

export type CandidateLogResult =
  | ({ kind: 'logged'; candidate: string; stale: boolean; leftInMainTree: string[] } & LogResult)
  | { kind: 'rebased'; candidate: string; run_id: string; onto: string; best_run: string | null };

function measuredRun(exp: Experiment, c: Candidate): RunRecord {
  const rec = c.run_id ? readRunRecord(exp, c.run_id) : null;
  if (!rec) throw new RefusalError(`candidate ${c.id} has no measured run: run-experiment --candidate ${c.id} first`);
  if (rec.phase !== 'measured') throw new RefusalError(`run ${rec.run_id} of ${c.id} was ${rec.phase}${rec.reason ? ` (${rec.reason})` : ''}, not measured: run-experiment --candidate ${c.id} again`);
  if (rec.segment !== exp.state.segment) throw new RefusalError(`run ${rec.run_id} belongs to segment ${rec.segment}, not ${exp.state.segment}: run-experiment --candidate ${c.id} again`);
  if (!recordIntact(exp, rec.run_id)) {
    // Not what the engine measured (another candidate's benchmark can reach it without the read-only containment): measured again.
    const reason = 'its record changed after it was measured';
    writeJsonAtomic(runDir(exp.paths, rec.run_id).result, { ...rec, phase: 'interrupted', reason });
    throw new RefusalError(`run ${rec.run_id} of ${c.id}: ${reason}, so it is not logged: run-experiment --candidate ${c.id} again`);
  }
  return rec;
}

const discard = (line: ResultLine, reason: string): ResultLine => ({ ...line, verdict: 'discard', reason, rebaseline: false });

/**
 * The verdict. A run on the current best is judged as in the serial loop. A
 * stale run is judged against the best it was measured on (the only fair
 * comparison its samples allow): no better than that, it is a discard; better,
 * it is a would-be keep that must be measured again on the current best.
 */
async function decide(exp: Experiment, c: Candidate, rec: RunRecord, input: LogInput, branchHead: string): Promise<{ line: ResultLine; stale: boolean; main: MainTree | null }> {
  const on = rec.candidate;
  const stale = (on?.base ?? c.base) !== branchHead;
  const asMeasured: Experiment = stale && on ? { ...exp, state: { ...exp.state, best_run: on.best_run, best_samples: on.best_samples, best_metrics: on.best_metrics } } : exp;
  let line = resultLine(asMeasured, rec, input);
  // Re-measuring an older best says nothing about the current one.
  if (stale && line.rebaseline) line = discard(line, 'no change, measured on an older best: nothing to keep');
  else if (stale && line.verdict !== 'keep') line = { ...line, reason: `${line.reason} (against ${on?.best_run ?? 'the best'} it was measured on)` };
  let main: MainTree | null = null;
  if (line.verdict === 'keep' && !stale) {
    main = await mainTreeState(exp.root, `autoloop/${exp.paths.slug}`, rec.files, branchHead);
    const theirs = rec.files.filter((f) => main!.dirty.get(f) === '??');
    if (theirs.length) line = discard(line, `would overwrite the user's untracked ${theirs.slice(0, 3).join(', ')} in the main tree: discarded`);
  }
  return { line, stale, main };
}

/** Commit the keep (branch moves from the best by compare-and-swap), record it, update the main tree. */
async function keep(exp: Experiment, c: Candidate, ws: GitWorkspace, rec: RunRecord, line: ResultLine, branchHead: string, known: MainTree | null): Promise<{ commit: string; left: string[] }> {
  // The main tree as decide() read it moments ago (nothing ran since), else read now.
  const main = known ?? (await mainTreeState(exp.root, `autoloop/${exp.paths.slug}`, rec.files, branchHead));
  saveCandidate(exp.paths, { ...c, pending: line });
  // The measured blobs, never what the worktree holds now.
  const commit = rec.files.length ? await ws.keep(rec.files, `autoloop: ${clip(line.description, 72)}`, trailers(exp, rec.run_id, rec.primary), rec.content?.files) : branchHead;
  append(exp, line);
  event(exp, 'committed', { commit, candidate: c.id }, rec.run_id);
  const left = await updateMainTree(exp.root, commit, rec.files, main);
  return { commit, left };
}

async function logUnderLedger(exp: Experiment, id: string, input: LogInput): Promise<CandidateLogResult> {
  const c = openCandidate(exp.paths, id);
  const ws = await openCandidateWorkspace(exp, c);
  // Edited since it was measured: judged invalid, never committed under the earlier measurement.
  // And not named by a forged loose object found once its phases had ended (loose-blame.ts).
  const rec = lateLooseBlame(exp.root, await stillMeasured(ws, measuredRun(exp, c)));
  // A branch moved outside the engine (by a candidate's benchmark: .git is shared) is neither built on nor adopted.
  const branchHead = (await assertBranchAtKeep(exp, ws)) ?? (await ws.head());
  let { line, stale, main } = await decide(exp, c, rec, input, branchHead);
  stopPoint('candidate:decided');
  if (line.verdict === 'keep' && stale) {
    const from = rec.candidate?.base ?? c.base;
    const r = await rebaseChange(exp.root, c.path, from, branchHead, rec.files);
    if (r.ok) {
      writeJsonAtomic(runDir(exp.paths, rec.run_id).result, { ...rec, phase: 'interrupted', reason: `the best moved to ${exp.state.best_run} while it was measured; rebased onto it: measure again` });
      saveCandidate(exp.paths, { ...c, base: branchHead });
      event(exp, 'rebased', { candidate: id, from, onto: branchHead, files: rec.files }, rec.run_id);
      publishActive(exp, currentTermination(exp));
      return { kind: 'rebased', candidate: id, run_id: rec.run_id, onto: branchHead, best_run: exp.state.best_run };
    }
    line = discard(line, `conflicts with the new best ${exp.state.best_run} (${r.conflicts.slice(0, 3).join(', ') || 'merge failed'}): discarded, never merged by hand`);
  }
  let commit: string | null = null;
  let left: string[] = [];
  if (line.verdict === 'keep') ({ commit, left } = await keep(exp, c, ws, rec, line, branchHead, main));
  else {
    append(exp, line);
    // The worktree goes with the candidate: nothing to restore file by file.
    event(exp, 'reverted', { files: rec.files, candidate: id }, rec.run_id);
  }
  crashPoint('candidate:logged');
  markLogged(exp, rec.run_id);
  await closeCandidate(exp, { ...c, pending: null }, null);
  // The appends above folded what was appended meanwhile: a live guard's forged lines out again before termination is judged.
  foldVerified(exp);
  const t = currentTermination(exp);
  if (t.terminate && !exp.state.terminated_event) event(exp, 'terminated', { by: t.by, message: t.message }, rec.run_id);
  publishActive(exp, t);
  // Artifacts (checkpoints) of candidates are kept in their run folders but not put back in any tree (not done yet).
  return { kind: 'logged', candidate: id, stale, leftInMainTree: left, line, commit, restored: [], artifacts: noArtifacts(), moved: null };
}

export async function logCandidateCommand(exp: Experiment, id: string, input: LogInput): Promise<CandidateLogResult> {
  openCandidate(exp.paths, id);
  const lock = acquireLock(candidatePaths(exp.paths, id).lock, 'log-experiment');
  try {
    return await withLedger(exp, 'log-experiment', () => logUnderLedger(exp, id, input));
  } finally {
    lock.release();
  }
}
