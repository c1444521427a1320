// The git side of parallel candidates: a worktree per candidate (detached at
// the best it starts from), moving a candidate's change onto a newer best
// (a real three-way merge, computed by git; a conflict is reported, never
// resolved by hand), and bringing the user's main tree up to a new best for
// the files a candidate's keep changed. Every command goes through gitcmd.ts.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { git, gitTry, headRef, identityEnv, revParse, firstLine } from '../gitcmd.ts';
import { batches } from '../workspace-base.ts';
import { inOwnFolders, rmOwnTree } from '../owner-write.ts';

const LITERAL = { GIT_LITERAL_PATHSPECS: '1' };

/** A fresh worktree at `commit`, detached (the experiment branch stays checked out in the main tree). */
export async function addWorktree(root: string, tree: string, commit: string): Promise<void> {
  if (fs.existsSync(tree)) await removeWorktree(root, tree);
  fs.mkdirSync(path.dirname(tree), { recursive: true });
  await git(root, ['worktree', 'add', '-q', '--detach', tree, commit]);
}

/** Remove a candidate's worktree and git's record of it; idempotent. */
export async function removeWorktree(root: string, tree: string): Promise<void> {
  await gitTry(root, ['worktree', 'remove', '--force', '--force', tree]);
  rmOwnTree(tree); // the candidate's code ran there: it may have left read-only folders
  await gitTry(root, ['worktree', 'prune']);
}

export async function headOf(tree: string): Promise<string> {
  const sha = await revParse(tree, 'HEAD');
  if (!sha) throw new Error(`${tree} has no HEAD`);
  return sha;
}

export type Rebase = { ok: true } | { ok: false; conflicts: string[] };

/**
 * Move the uncommitted change to `files` in `tree` (standing on `base`) onto
 * `onto`, a descendant of base. The change is first written as a commit of
 * its own (no branch, a private index), merged with onto by git's merge-tree;
 * on success the worktree stands on onto with the merged files as its
 * uncommitted change. On a conflict nothing in the worktree moves.
 */
export async function rebaseChange(root: string, tree: string, base: string, onto: string, files: string[]): Promise<Rebase> {
  let merged: string | null = null;
  if (files.length) {
    const change = await commitChange(tree, base, files);
    const r = await gitTry(root, ['merge-tree', '--write-tree', '--name-only', '--no-messages', onto, change]);
    const lines = r.stdout.split('\n').filter(Boolean);
    if (r.code === 1) return { ok: false, conflicts: lines.slice(1) };
    // A merge driver of the user's (switched off: gitcmd.ts) fails its merge: a conflict, not an error.
    if (/failure to merge/.test(r.stderr)) return { ok: false, conflicts: [] };
    if (r.code !== 0 || !lines[0]) throw new Error(`git merge-tree: ${firstLine(r.stderr) || `exit code ${r.code}`}`);
    merged = lines[0];
  }
  // Files the change created are in its commit now; off the work tree, so the merged ones can take their place.
  for (const f of await absentFrom(tree, base, files)) fs.rmSync(path.join(tree, f), { force: true });
  await git(tree, ['checkout', '-q', '-f', '--detach', onto]);
  if (merged) {
    // Take the merged files into the work tree, then leave them as an uncommitted change on onto.
    await git(tree, ['read-tree', '-m', '-u', onto, merged]);
    await git(tree, ['read-tree', onto]);
  }
  return { ok: true };
}

/** Of these paths, those the commit does not hold. */
async function absentFrom(cwd: string, commit: string, files: string[]): Promise<string[]> {
  const present = new Set<string>();
  for (const chunk of batches(files)) {
    const out = await git(cwd, ['ls-tree', '-r', '-z', '--name-only', commit, '--', ...chunk], LITERAL);
    for (const p of out.split('\0')) if (p) present.add(p);
  }
  return files.filter((f) => !present.has(f));
}

/** The change as a commit on base (dangling: reachable from no ref), from a private index. */
async function commitChange(tree: string, base: string, files: string[]): Promise<string> {
  const gitDir = (await git(tree, ['rev-parse', '--absolute-git-dir'])).trim();
  const index = path.join(gitDir, `autoloop-rebase-index-${process.pid}-${randomBytes(4).toString('hex')}`);
  const priv = { ...LITERAL, GIT_INDEX_FILE: index };
  try {
    await git(tree, ['read-tree', base], priv);
    for (const chunk of batches(files)) await git(tree, ['update-index', '--add', '--remove', '--', ...chunk], priv);
    const t = (await git(tree, ['write-tree'], priv)).trim();
    return (await git(tree, ['commit-tree', '--no-gpg-sign', t, '-p', base, '-m', 'autoloop: candidate change (rebase)'], await identityEnv(tree))).trim();
  } finally {
    fs.rmSync(index, { force: true });
    fs.rmSync(index + '.lock', { force: true });
  }
}

export interface MainTree {
  /** The main tree has the experiment branch checked out (else it is left alone). */
  onBranch: boolean;
  /** Of the files, those the main tree holds changed (uncommitted edits, or untracked files). */
  dirty: Map<string, string>;
}

/**
 * How the main tree stands for these files against `against` (the best the
 * keep builds on): files it holds changed or untracked are the user's business.
 */
export async function mainTreeState(root: string, branch: string, files: string[], against: string): Promise<MainTree> {
  const onBranch = (await headRef(root)) === `refs/heads/${branch}`;
  const dirty = new Map<string, string>();
  if (!onBranch || !files.length) return { onBranch, dirty };
  for (const chunk of batches(files)) {
    const changed = await git(root, ['diff', '--name-only', '-z', '--no-renames', against, '--', ...chunk], LITERAL);
    for (const p of changed.split('\0')) if (p) dirty.set(p, 'M');
    const others = await git(root, ['ls-files', '-z', '--others', '--', ...chunk], LITERAL);
    for (const p of others.split('\0')) if (p) dirty.set(p, '??');
  }
  return { onBranch, dirty };
}

/**
 * After a keep moved the branch to `commit`: bring the main tree's copies of
 * the kept files to it (index and work tree), except files the main tree
 * holds changed, which are left as they are. Returns those left.
 */
export async function updateMainTree(root: string, commit: string, files: string[], main: MainTree): Promise<string[]> {
  if (!main.onBranch) return [];
  const clean = files.filter((f) => !main.dirty.has(f));
  const gone = await absentFrom(root, commit, clean);
  const take = clean.filter((f) => !gone.includes(f));
  // The main tree's folders may be ones the user's code made read-only (owner-write.ts).
  await inOwnFolders(root, clean, async () => {
    for (const chunk of batches(take)) await git(root, ['checkout', '-q', commit, '--', ...chunk], LITERAL);
    for (const chunk of batches(gone)) await git(root, ['rm', '-q', '--cached', '--ignore-unmatch', '--', ...chunk], LITERAL);
    for (const f of gone) fs.rmSync(path.join(root, f), { force: true });
  });
  return files.filter((f) => main.dirty.has(f));
}
