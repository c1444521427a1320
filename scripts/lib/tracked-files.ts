// The paths git tracks, listed once for the questions one call asks of them:
// init-experiment asked `git ls-files` up to five times (whether each scope glob
// names a tracked file, the graders in the scope, the .gitattributes files, the
// judges git does not track), each over part of the same index. One
// `ls-files -z` of the whole index answers them all; the caller forgets it
// when the index may have changed (a checkout of another commit).
import { gitSyncOrNull } from './gitcmd.ts';

export interface TrackedFiles {
  /** Every path in the index (repo-relative), or null when git cannot tell. Listed at the first call. */
  list(): readonly string[] | null;
  /** Whether git tracks `rel`; null when git cannot tell. */
  has(rel: string): boolean | null;
  /** The index may have changed: the next question lists it again. */
  forget(): void;
}

export function trackedFiles(root: string): TrackedFiles {
  let listed: { paths: string[]; set: Set<string> } | null | undefined;
  const read = () => {
    if (listed === undefined) {
      const out = gitSyncOrNull(root, ['ls-files', '-z']);
      const paths = out === null ? null : [...new Set(out.split('\0').filter((f) => f !== ''))];
      listed = paths && { paths, set: new Set(paths) };
    }
    return listed;
  };
  return {
    list: () => read()?.paths ?? null,
    has: (rel) => {
      const l = read();
      return l ? l.set.has(rel) : null;
    },
    forget: () => {
      listed = undefined;
    },
  };
}
