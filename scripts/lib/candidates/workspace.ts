// A candidate's worktree as a Workspace (git mode's rules on a detached HEAD).
import fs from 'node:fs';
import path from 'node:path';
import { RefusalError } from '../errors.ts';
import type { Experiment } from '../experiment-data.ts';
import { GitWorkspace } from '../git-workspace.ts';
import { candidatePaths, type Candidate } from './store.ts';

/** The candidate's workspace record (its own, beside its other files). */
export function candidateStateFile(exp: Experiment, c: Candidate): string {
  return path.join(candidatePaths(exp.paths, c.id).dir, 'workspace.json');
}

export function openCandidateWorkspace(exp: Experiment, c: Candidate): Promise<GitWorkspace> {
  // Removed by hand: every git command there would fail with a bare ENOENT.
  if (!fs.existsSync(c.path)) {
    throw new RefusalError(`the worktree of candidate ${c.id} is gone (${c.path}): what was measured cannot be checked; candidate close ${c.id} gives it up`);
  }
  return GitWorkspace.openCandidate(c.path, exp.paths, exp.config, candidateStateFile(exp, c));
}
