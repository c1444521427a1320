// The experiment's branch is gone, most often renamed by hand (`git branch -m`
// on the checked-out autoloop/<name>): every engine call refuses. Say so, with
// the command that puts it back, instead of calling the tree another
// experiment's.
import fs from 'node:fs';
import path from 'node:path';

/** `on` (the checked-out branch) is a branch of no experiment of this repository: maybe the renamed one. */
function maybeRenamed(root: string, on: string | null, branch: string): on is string {
  if (!on || on === branch) return false;
  return !(on.startsWith('autoloop/') && fs.existsSync(path.join(root, '.autoloop', 'experiments', on.slice('autoloop/'.length))));
}

/** What to do about it: rename back when the tree is on a branch that may be it, else open a new segment. */
export function missingBranchRemedy(root: string, branch: string, on: string | null): string {
  const back = maybeRenamed(root, on, branch) ? `if you renamed it, git branch -m ${on} ${branch} puts it back (the tree is on ${on}); else ` : '';
  return `${back}init-experiment opens a new segment from the tree`;
}

export function missingBranchText(root: string, branch: string, on: string | null): string {
  return `branch ${branch} does not exist: ${missingBranchRemedy(root, branch, on)}`;
}
