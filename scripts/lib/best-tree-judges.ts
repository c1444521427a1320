// The judges in the best's tree (best-tree.ts) are the user's tree's judges,
// byte for byte, as real files. A worktree of the best commit holds a judge
// as that commit has it, and the untracked things linked into it are symbolic
// links; three ways the best was measured by another judge than the
// candidate:
// - a benchmark under `.autoloop/` (the setup skill's `.autoloop/bench.sh`):
//   the tree has no `.autoloop/`, so the best's every sample failed to start;
// - an untracked judge (`evaluate.py`, not committed yet): linked, Python
//   (sys.path[0]) and Node (__dirname) resolve the link and import the code
//   under test from the user's tree, so the "best" was the candidate, a change
//   that made val_loss 2,700 times worse was kept as a tie;
// - a judge with uncommitted edits when the segment opened: the best ran the
//   committed one.
// A parallel candidate's worktree (candidate.ts) gets the same copies: without
// them each of its runs was invalid, its judge "changed" (absent).
// The judges are fingerprinted when the segment opens and cannot change within
// it, so the copies are made when a tree is built, and a tree built for other
// fingerprints is built again (the marker carries judgesKey).
import fs from 'node:fs';
import path from 'node:path';
import { canonicalJson, MISSING, sha256, sha256File } from './integrity.ts';

/** The fingerprints the tree's judges were placed for. */
export function judgesKey(files: Readonly<Record<string, string>>): string {
  return sha256(canonicalJson(files)).slice(0, 16);
}

/** Engine state and git's own files are never judges to copy. */
const engineOwned = (rel: string) => rel === '.git' || rel.startsWith('.git/') || rel.startsWith('.autoloop/experiments/') || /^\.autoloop\/(active|session)\.json$/.test(rel);

/**
 * A judge this big that the tree already reaches through a link (a protected data set in an untracked
 * folder) stays linked: the same bytes, and no program is imported from beside a data file.
 */
const LINK_ENOUGH = 1 << 20;

function reaches(dst: string, src: string): boolean {
  try {
    return fs.realpathSync(dst) === fs.realpathSync(src);
  } catch {
    return false;
  }
}

/** Copy each judge of `root` into the best's tree `dir` where it is absent, a link, or other bytes. */
export function placeJudges(root: string, dir: string, files: Readonly<Record<string, string>>): void {
  for (const [rel, hash] of Object.entries(files)) {
    if (hash === MISSING || engineOwned(rel)) continue;
    const src = path.join(root, rel);
    const st = fs.statSync(src, { throwIfNoEntry: false });
    if (!st?.isFile() || (st.size > LINK_ENOUGH && reaches(path.join(dir, rel), src))) continue;
    const out = folderLinkedOut(root, rel);
    if (out !== null && linkFolder(root, dir, out)) continue;
    if (!realDirs(root, dir, path.posix.dirname(rel))) continue;
    const dst = path.join(dir, rel);
    const cur = fs.lstatSync(dst, { throwIfNoEntry: false });
    if (cur?.isDirectory()) continue;
    // A judge that is a link of the user's stays one, to the same place (Python and Node resolve it to import beside its target).
    const link = fs.lstatSync(src).isSymbolicLink() ? samePlace(root, src, fs.readlinkSync(src)) : null;
    if (link !== null) {
      if (cur?.isSymbolicLink() && fs.readlinkSync(dst) === link) continue;
      fs.rmSync(dst, { force: true });
      fs.symlinkSync(link, dst);
      continue;
    }
    if (cur?.isFile() && cur.size === st.size && sha256File(dst) === hash) continue;
    fs.rmSync(dst, { force: true });
    fs.copyFileSync(src, dst);
    fs.chmodSync(dst, st.mode & 0o7777);
  }
}

/**
 * The text of a link at `src` that leads where the user's (`text`) does from another tree: a relative
 * link out of the repository (bench.py -> ../shared/bench.py) led nowhere from the best's tree, and
 * every re-measure of the best crashed; it becomes absolute. One inside stays as it is (the tree
 * holds the same files at the same places).
 */
function samePlace(root: string, src: string, text: string): string {
  if (path.isAbsolute(text)) return text;
  const to = path.resolve(path.dirname(src), text);
  const rel = path.relative(root, to);
  return rel.startsWith('..') || path.isAbsolute(rel) ? to : text;
}

/**
 * The folder on the way to judge `rel` that is a link of the user's leading out of the repository
 * (tools -> ../shared/tools), with where it leads; null when there is none.
 */
function folderLinkedOut(root: string, rel: string): { rel: string; target: string } | null {
  const top = fs.realpathSync(root);
  let at = '';
  for (const part of path.posix.dirname(rel).split('/').filter((p) => p !== '.')) {
    at = at ? `${at}/${part}` : part;
    if (!fs.lstatSync(path.join(root, at), { throwIfNoEntry: false })?.isSymbolicLink()) continue;
    let target: string;
    try {
      target = fs.realpathSync(path.join(root, at));
    } catch {
      return null;
    }
    const inside = path.relative(top, target);
    if (inside.startsWith('..') || path.isAbsolute(inside)) return { rel: at, target };
  }
  return null;
}

/**
 * The folder linked out made the same link in the tree, absolute: a judge under it is then
 * where the user's is (its fingerprint, taken through the link, is the segment's), beside the
 * same files. A copy in a folder of links fingerprinted as a plain file: every run of a parallel
 * candidate was invalid, the judge "changed". False where the tree holds a real folder there
 * (the commit's own files, left as they are) or a file in the way.
 */
function linkFolder(root: string, dir: string, out: { rel: string; target: string }): boolean {
  const dst = path.join(dir, out.rel);
  const cur = fs.lstatSync(dst, { throwIfNoEntry: false });
  if (cur?.isSymbolicLink() && fs.readlinkSync(dst) === out.target) return true;
  if (cur && !cur.isSymbolicLink()) return false;
  if (!realDirs(root, dir, path.posix.dirname(out.rel))) return false;
  if (cur) fs.rmSync(dst);
  fs.symlinkSync(out.target, dst);
  return true;
}

/**
 * Make `relDir` in the tree a chain of real directories: a link to an
 * untracked directory of the user's (linkUntracked) becomes a directory of
 * links to its entries, so one judge in it can be a file of its own. False
 * where a file stands in the way.
 */
function realDirs(root: string, dir: string, relDir: string): boolean {
  let rel = '';
  for (const part of relDir === '.' ? [] : relDir.split('/')) {
    rel = rel ? `${rel}/${part}` : part;
    const abs = path.join(dir, rel);
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (st?.isDirectory()) continue;
    if (st && !st.isSymbolicLink()) return false;
    if (st) fs.rmSync(abs);
    fs.mkdirSync(abs);
    if (!st) continue;
    for (const name of fs.readdirSync(path.join(root, rel))) fs.symlinkSync(path.join(root, rel, name), path.join(abs, name));
  }
  return true;
}
