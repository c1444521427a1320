// The best's own tree, where the benchmark re-measures the best interleaved
// with the candidate (sampling.ts): git mode, a detached worktree of the best
// commit; snapshot mode, a copy of the tree with the best snapshot's in-scope
// files. Engine-managed under .autoloop/experiments/<slug>/: best/<id>/ the
// trees, best.json which one is the current best's. A new best gets a new tree
// beside the old one; an old tree is removed once no live engine process uses
// it (best.uses/<pid>.json): parallel candidates without a timing gate may
// still be measuring in it. Untracked things the benchmark needs but git does
// not hold (node_modules, data) are linked from the user's tree; the judges
// are copied from it (best-tree-judges.ts).
// In git mode the tree's own git dir (.git/worktrees/<name>/: HEAD, index,
// config.worktree) lies under `.git`, which stays writable to the code under
// test under every containment: a candidate's command that writes it voids
// its run (bestGitFiles), and a tree whose git dir is not as built (moved
// HEAD, unreadable index, a config.worktree, pruned) is built again before use.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import type { Experiment } from './experiment-data.ts';
import type { Workspace } from './workspace-base.ts';
import { SnapshotWorkspace } from './snapshot-workspace.ts';
import { compileScope, type Scope } from './scope.ts';
import { gitTry, firstLine } from './gitcmd.ts';
import { readJsonOrNull, writeJsonAtomic } from './fsx.ts';
import { RefusalError } from './errors.ts';
import { waitLock } from './candidates/locks.ts';
import { pidAlive, procStart } from './procs.ts';
import { gitDirsOf } from './git-dirs.ts';
import { indexReadable } from './git-files-guard.ts';
import { readOrNull, statSigOf } from './stat-sig.ts';
import { rmOwnTree } from './owner-write.ts';
import { judgesKey, placeJudges } from './best-tree-judges.ts';
import { buildDirKind, copyObjectsDir, objectsCopyable, objectsTooLargeNote } from './build-dirs.ts';
import { linkUntracked, notLinked } from './untracked-links.ts';

const Current = lazySchema(() => z.object({ head: z.string(), tree: z.string().check(z.regex(/^[0-9a-zA-Z]{1,12}-[0-9a-f]{8}$/)), judges: z.optional(z.string()) }));
const Use = lazySchema(() => z.object({ pid: z.number(), start: z.nullable(z.string()), tree: z.string() }));

const treesDir = (expDir: string) => path.join(expDir, 'best');
const markerFile = (expDir: string) => path.join(expDir, 'best.json');
const usesDir = (expDir: string) => path.join(expDir, 'best.uses');
const lockFile = (expDir: string) => path.join(expDir, 'best.lock');

/** The current best's tree, if one is built. */
export function bestTreeDir(exp: Experiment): string | null {
  const cur = Current.safeParse(readJsonOrNull(markerFile(exp.paths.dir)));
  return cur.success ? path.join(treesDir(exp.paths.dir), cur.data.tree) : null;
}

/** The best's tree is no longer as its commit has it (a candidate wrote it): the next use builds it again. */
export function forgetBestTree(exp: Experiment): void {
  fs.rmSync(markerFile(exp.paths.dir), { force: true });
}

/**
 * The directory holding the best's tree, built for a new best on demand, and
 * recorded as used by this process until its next call or its end. Under a
 * lock of its own: two candidates never build at once, and no tree is removed
 * between being chosen and being recorded as used.
 */
export async function prepareBestTree(exp: Experiment, ws: Workspace, commit?: string): Promise<string> {
  const expDir = exp.paths.dir;
  const lock = await waitLock(lockFile(expDir), 'best tree');
  try {
    // `commit`: the reference is another commit of the experiment's branch, or another snapshot (a tie walk's anchor).
    const head = commit ?? await ws.head();
    const judges = exp.state.fingerprints?.files ?? {};
    const key = judgesKey(judges);
    const cur = Current.safeParse(readJsonOrNull(markerFile(expDir)));
    // A tree whose judges were placed for other fingerprints (a new segment's) is built again, never rewritten in place.
    const reuse = cur.success && cur.data.head === head && cur.data.judges === key && fs.existsSync(path.join(treesDir(expDir), cur.data.tree));
    let tree = reuse && (ws instanceof SnapshotWorkspace || gitDirSound(exp.root, path.join(treesDir(expDir), cur.data.tree), head)) ? cur.data.tree : null;
    if (!tree) {
      await removeOldLayout(exp.root, expDir);
      tree = `${head.replace(/[^0-9a-zA-Z]/g, '').slice(0, 12)}-${randomUUID().slice(0, 8)}`;
      await build(exp, ws, path.join(treesDir(expDir), tree), head);
      placeJudges(exp.root, path.join(treesDir(expDir), tree), judges);
      writeJsonAtomic(markerFile(expDir), { head, tree, judges: key });
    }
    fs.mkdirSync(usesDir(expDir), { recursive: true });
    writeJsonAtomic(path.join(usesDir(expDir), `${process.pid}.json`), { pid: process.pid, start: procStart(process.pid), tree });
    await prune(exp.root, expDir, tree);
    return path.join(treesDir(expDir), tree);
  } finally {
    lock.release();
  }
}

/** The names in a worktree's own git dir that git reads for it. */
const GIT_DIR_FILES = ['HEAD', 'index', 'config.worktree', 'commondir', 'gitdir'];

/**
 * The best's worktree's own git dir, by the stat signature of each file git
 * reads there (the dir itself too: a prune removes it); null in snapshot mode.
 */
export function bestGitFiles(dir: string): Map<string, string> | null {
  const dirs = gitDirsOf(dir);
  if (!dirs || dirs.gitDir === dirs.commonDir) return null;
  return new Map([dirs.gitDir, ...GIT_DIR_FILES.map((n) => path.join(dirs.gitDir, n))].map((f) => [f, statSigOf(f)]));
}

/** Those of the files bestGitFiles recorded that changed since (relative to root). */
export function bestGitFilesChanged(root: string, before: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [file, sig] of before) if (statSigOf(file) !== sig && !fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) out.push(path.relative(root, file));
  // The dir gone (its entries' signatures changed too): named once.
  const gitDir = [...before.keys()][0] as string;
  return fs.existsSync(gitDir) ? out : [path.relative(root, gitDir)];
}

/**
 * Whether the worktree at `dir` is still as build() made it, as git sees it:
 * registered in this repository, HEAD detached at `head`, an index git can
 * read, no config of its own. Else it is built again (a best re-measured in a
 * tree git reads otherwise, or cannot read, would judge every later run).
 */
function gitDirSound(root: string, dir: string, head: string): boolean {
  const dirs = gitDirsOf(dir);
  const main = gitDirsOf(root);
  if (!dirs || !main || dirs.gitDir === dirs.commonDir) return false;
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return null;
    }
  };
  if (real(dirs.commonDir) !== real(main.commonDir)) return false;
  if (readOrNull(path.join(dirs.gitDir, 'HEAD'))?.toString('latin1').trim() !== head) return false;
  if (real(path.resolve(dirs.gitDir, readOrNull(path.join(dirs.gitDir, 'gitdir'))?.toString('utf8').trim() ?? '')) !== real(path.join(dir, '.git'))) return false;
  if (fs.existsSync(path.join(dirs.gitDir, 'config.worktree'))) return false;
  const index = readOrNull(path.join(dirs.gitDir, 'index'));
  return index !== null && indexReadable(index);
}

async function build(exp: Experiment, ws: Workspace, dir: string, head: string): Promise<void> {
  const scope = compileScope(exp.config.scope, exp.config.protect);
  const before = Date.now(); // before the best's files are written: copied objects are dated earlier (copyObjectsDir)
  if (ws instanceof SnapshotWorkspace) {
    copyOutOfScope(exp.root, dir, scope, before);
    await ws.exportBest(dir, head);
  } else {
    await gitWorktree(exp.root, dir, head);
    await linkUntracked(exp.root, dir, scope, "the best's worktree", before);
  }
}

/** The trees a live engine process records as used (dead ones' records are removed). */
function inUse(expDir: string): Set<string> {
  const used = new Set<string>();
  let names: string[] = [];
  try {
    names = fs.readdirSync(usesDir(expDir));
  } catch {
    return used;
  }
  for (const n of names) {
    const file = path.join(usesDir(expDir), n);
    const u = Use.safeParse(readJsonOrNull(file));
    if (u.success && pidAlive(u.data.pid, u.data.start)) used.add(u.data.tree);
    else fs.rmSync(file, { force: true });
  }
  return used;
}

/** Remove the trees that are neither the current one nor used by a live engine process. */
async function prune(root: string, expDir: string, current: string): Promise<void> {
  const used = inUse(expDir);
  let removed = false;
  for (const name of fs.existsSync(treesDir(expDir)) ? fs.readdirSync(treesDir(expDir)) : []) {
    if (name === current || used.has(name)) continue;
    await removeTree(root, path.join(treesDir(expDir), name));
    removed = true;
  }
  if (removed) await gitTry(root, ['worktree', 'prune']);
}

async function removeTree(root: string, dir: string): Promise<void> {
  if (fs.existsSync(path.join(dir, '.git'))) await gitTry(root, ['worktree', 'remove', '--force', dir]);
  rmOwnTree(dir); // the benchmark ran there: it may have left read-only folders
}

/** Versions before per-best trees kept the one tree at best/ itself. */
async function removeOldLayout(root: string, expDir: string): Promise<void> {
  if (!fs.existsSync(path.join(treesDir(expDir), '.git'))) return;
  await removeTree(root, treesDir(expDir));
  await gitTry(root, ['worktree', 'prune']);
}

/**
 * Remove the best's trees (their worktree registrations too): `control clear` closes the loop, and no
 * checkout of the engine's stays in the user's `git worktree list`. Rebuilt on demand if the loop wakes.
 * A tree a live engine process records as used stays (a candidate's run that clear left in flight may
 * be measuring the best there): the next build's prune, or the next clear, removes it.
 */
export async function removeBestTree(root: string, expDir: string): Promise<boolean> {
  const dir = treesDir(expDir);
  if (!fs.existsSync(dir) && !fs.existsSync(markerFile(expDir))) return false;
  const lock = await waitLock(lockFile(expDir), 'control clear');
  try {
    fs.rmSync(markerFile(expDir), { force: true });
    if (!fs.existsSync(dir)) {
      fs.rmSync(usesDir(expDir), { recursive: true, force: true });
      return false;
    }
    await removeOldLayout(root, expDir);
    const used = inUse(expDir);
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) if (!used.has(name)) await removeTree(root, path.join(dir, name));
    if (!used.size) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(usesDir(expDir), { recursive: true, force: true });
    }
    await gitTry(root, ['worktree', 'prune']);
    return true;
  } finally {
    lock.release();
  }
}

async function git(root: string, args: string[]): Promise<string> {
  const r = await gitTry(root, args);
  if (r.code !== 0) throw new RefusalError(`could not prepare the best's worktree: git ${args[0]}: ${firstLine(r.stderr) || `exit ${r.code}`}`);
  return r.stdout;
}

async function gitWorktree(root: string, dir: string, head: string): Promise<void> {
  await git(root, ['worktree', 'add', '--detach', '--force', dir, head]);
}

const skipped = notLinked;

/**
 * Snapshot mode: everything outside the scope copied (node_modules linked, a build directory made
 * empty, or copied with its mtimes bounded by `before` when it holds object files only), the
 * in-scope files left to exportBest.
 */
function copyOutOfScope(root: string, dir: string, scope: Scope, before: number): void {
  rmOwnTree(dir);
  fs.mkdirSync(dir, { recursive: true });
  const walk = (relDir: string): void => {
    for (const d of fs.readdirSync(path.join(root, relDir), { withFileTypes: true })) {
      const rel = relDir ? `${relDir}/${d.name}` : d.name;
      if (skipped(rel)) continue;
      const src = path.join(root, rel);
      const dst = path.join(dir, rel);
      if (d.isDirectory() && d.name === 'node_modules') fs.symlinkSync(src, dst);
      else if (d.isDirectory() && buildDirKind(src) !== null) buildDirCopy(rel, src, dst, before);
      else if (d.isDirectory()) {
        fs.mkdirSync(dst, { recursive: true });
        walk(rel);
      } else if (!scope.inScope(rel) && (d.isFile() || d.isSymbolicLink())) fs.cpSync(src, dst, { verbatimSymlinks: true });
    }
  };
  walk('');
}

/** A build directory in the snapshot best's tree: copied when it holds object files only within the bound, else empty. */
function buildDirCopy(rel: string, src: string, dst: string, before: number): void {
  const why = buildDirKind(src) === 'objects' ? objectsCopyable(src) : 'state';
  if (why === true) return copyObjectsDir(src, dst, before);
  if (why === 'size') process.stderr.write(objectsTooLargeNote(rel, "the best's tree"));
  fs.mkdirSync(dst, { recursive: true });
}
