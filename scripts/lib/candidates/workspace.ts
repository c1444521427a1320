// A candidate's worktree as a Workspace (git mode's rules on a detached HEAD).
import path from 'node:path';
import type { Experiment } from '../experiment-data.ts';
import { GitWorkspace } from '../git-workspace.ts';
import { candidatePaths, type Candidate } from './store.ts';

/** The candidate's workspace record (its own, beside its other files). */
export function candidateStateFile(exp: Experiment, c: Candidate): string {
  return path.join(candidatePaths(exp.paths, c.id).dir, 'workspace.json');
}

export function openCandidateWorkspace(exp: Experiment, c: Candidate): Promise<GitWorkspace> {
  return GitWorkspace.openCandidate(c.path, exp.paths, exp.config, candidateStateFile(exp, c));
}
