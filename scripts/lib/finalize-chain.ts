// finalize's fast replay. The engine commits each keep on the experiment's
// branch, so the kept commits usually form a chain from the experiment's
// start: each one's parent is the keep before it. Cherry-picking such a chain
// in order onto its start makes exactly their own trees, so the replay can
// reuse each keep's tree and write one commit object per keep (one git
// process), instead of a cherry-pick, two tree reads, an author read, the
// commit and a ref update in a temporary worktree (six, plus the worktree's
// checkout). When the commits do not chain (a keep on another parent, a merge,
// a hand-made commit), finalize cherry-picks as before.
import { gitWithInput } from './gitcmd.ts';

export interface Chained {
  /** The start's tree. */
  baseTree: string;
  /** Each commit's tree and author (as git's environment), in order. */
  picks: { tree: string; author: Record<string, string> }[];
}

/** The trees and authors of `commits` when each one's only parent is the one before it (`base` for the first); null otherwise. */
export async function chainFrom(root: string, base: string, commits: readonly string[]): Promise<Chained | null> {
  // One process for all: the start and the commits, in the order given.
  const r = await gitWithInput(root, ['log', '--no-walk=unsorted', '--stdin', '--format=%H%x00%P%x00%T%x00%an%x00%ae%x00%ad', '--date=raw'], [base, ...commits].join('\n') + '\n');
  if (r.code !== 0) return null;
  const rows = r.stdout.split('\n').filter(Boolean).map((l) => l.split('\0'));
  if (rows.length !== commits.length + 1) return null;
  const [start, ...rest] = rows as string[][];
  if (start?.[0] !== base || !start[2]) return null;
  const picks: Chained['picks'] = [];
  let prev = base;
  for (const [k, row] of rest.entries()) {
    const [sha, parents, tree, name, email, date] = row;
    if (sha !== commits[k] || parents !== prev || !tree) return null;
    picks.push({ tree, author: name && email && date ? { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: email, GIT_AUTHOR_DATE: date } : {} });
    prev = sha as string;
  }
  return { baseTree: start[2], picks };
}
