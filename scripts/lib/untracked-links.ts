// What the benchmark needs that git does not hold (a Python venv, node_modules,
// a data/ folder, a model's weights), outside the scope: linked from the user's
// tree into a tree the engine builds at the same place, so the benchmark finds
// it there as it does in the user's tree. The best's tree (best-tree.ts) and a
// parallel candidate's worktree (candidate.ts) both take it: a candidate built
// without it crashed on its first run where the serial loop measured (`No such
// file or directory: 'data/input.txt'`). A link reaches the user's own file,
// which the run's containment binds read-only where it is a judge, as in the
// serial loop; the judges among them are then made files of their own
// (best-tree-judges.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { Scope } from './scope.ts';
import { firstLine, gitTry } from './gitcmd.ts';
import { RefusalError } from './errors.ts';
import { buildDirKind, buildDirOf, copyObjectsDir, objectsCopyable, objectsTooLargeNote } from './build-dirs.ts';

/** The engine's state and git's own files: never linked. */
export const notLinked = (rel: string): boolean => rel === '.autoloop' || rel.startsWith('.autoloop/') || rel === '.git' || rel.startsWith('.git/');

/**
 * Untracked (and ignored) paths of `root` outside the scope, linked into the
 * tree `dir` where it has nothing at that place; a build folder (build-dirs.ts)
 * is made empty there instead, so that tree's build makes its own, or copied
 * when it holds object files only (copyObjectsDir: `before`, a time before the
 * tree's tracked files were written, bounds the copies' mtimes).
 */
export async function linkUntracked(root: string, dir: string, scope: Scope, what: string, before: number): Promise<void> {
  const r = await gitTry(root, ['ls-files', '--others', '--directory', '-z']);
  if (r.code !== 0) throw new RefusalError(`could not prepare ${what}: git ls-files: ${firstLine(r.stderr) || `exit ${r.code}`}`);
  const memo = new Map<string, boolean>();
  const copyable = new Map<string, boolean>();
  for (const entry of r.stdout.split('\0')) {
    const rel = entry.replace(/\/$/, '');
    if (!rel || notLinked(rel) || scope.inScope(rel)) continue;
    const dst = path.join(dir, rel);
    if (fs.lstatSync(dst, { throwIfNoEntry: false })) continue;
    const build = buildDirOf(root, entry, memo);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    if (build !== null && copyObjects(root, build, what, copyable)) copyObjectsDir(path.join(root, rel), dst, before);
    else if (build === null) fs.symlinkSync(path.join(root, rel), dst);
    else if (entry.endsWith('/')) fs.mkdirSync(dst); // a file of a build folder git lists entry by entry: left out
  }
}

/** Whether the build folder `rel` of root is copied (object files only, within the bound); the note, once, when too large. */
function copyObjects(root: string, rel: string, what: string, memo: Map<string, boolean>): boolean {
  let yes = memo.get(rel);
  if (yes !== undefined) return yes;
  const abs = path.join(root, rel);
  const why = buildDirKind(abs) === 'objects' ? objectsCopyable(abs) : 'state';
  if (why === 'size') process.stderr.write(objectsTooLargeNote(rel, what));
  memo.set(rel, (yes = why === true));
  return yes;
}

/** Is `rel` in the tree `dir` a link linkUntracked made (to the same place in `root`)? Not the candidate's change: `control clear` rescued the link to data/ as one. */
export function linkedFromRoot(root: string, dir: string, rel: string): boolean {
  try {
    return fs.lstatSync(path.join(dir, rel)).isSymbolicLink() && fs.readlinkSync(path.join(dir, rel)) === path.join(root, rel);
  } catch {
    return false;
  }
}
