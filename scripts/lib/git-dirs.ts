// Where a work tree's repository lives, as git finds it from the top of the
// work tree: `.git` a directory, or a file naming a linked worktree's git dir
// (whose `commondir` names the shared one). Read without starting git by the
// callers that write objects (loose-object.ts) or read the config's files
// (git-config-files.ts); null whenever it cannot be told (then they ask git).
import fs from 'node:fs';
import path from 'node:path';

export interface GitDirs {
  /** The work tree's own git dir (HEAD, index, config.worktree). */
  gitDir: string;
  /** The shared one (objects, refs, config). */
  commonDir: string;
}

export function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function gitDirsOf(root: string): GitDirs | null {
  try {
    const dotGit = path.join(root, '.git');
    const st = fs.statSync(dotGit);
    let gitDir = dotGit;
    if (st.isFile()) {
      const m = /^gitdir: (.+)$/m.exec(fs.readFileSync(dotGit, 'utf8'));
      if (!m?.[1]) return null;
      gitDir = path.resolve(root, m[1].trim());
    } else if (!st.isDirectory()) return null;
    const common = readOrEmpty(path.join(gitDir, 'commondir')).trim();
    return { gitDir, commonDir: common ? path.resolve(gitDir, common) : gitDir };
  } catch {
    return null;
  }
}

/**
 * HEAD as its file says: a symbolic ref (`ref: refs/heads/x`) or a detached
 * commit; null when the file says neither plainly (missing, a reftable
 * repository's placeholder is still a `ref:` line: callers compare the answer
 * with one git gave before trusting it).
 */
export function headFile(root: string): { ref: string } | { detached: string } | null {
  const dirs = gitDirsOf(root);
  const text = dirs ? readOrEmpty(path.join(dirs.gitDir, 'HEAD')) : '';
  const ref = /^ref: (refs\/[^\s]+)\s*$/.exec(text);
  if (ref?.[1]) return { ref: ref[1] };
  const oid = /^([0-9a-f]{40}|[0-9a-f]{64})\s*$/.exec(text);
  return oid?.[1] ? { detached: oid[1] } : null;
}

/**
 * The branch HEAD is on (short name), null when detached, as the files alone
 * settle it: HEAD's file names a branch whose own loose ref is not a
 * symbolic ref in turn (git answers with the branch at the end of such a
 * chain), or holds a commit id. Undefined whenever they do not settle it (a
 * reftable repository's `refs/heads/.invalid` placeholder, no readable HEAD):
 * ask git.
 */
export function headBranch(root: string): string | null | undefined {
  const file = headFile(root);
  if (!file) return undefined;
  if ('detached' in file) return null;
  const name = file.ref.startsWith('refs/heads/') ? file.ref.slice('refs/heads/'.length) : '';
  if (!name || name.split('/').some((c) => c === '' || c.startsWith('.'))) return undefined;
  const dirs = gitDirsOf(root);
  if (!dirs || readOrEmpty(path.join(dirs.commonDir, file.ref)).startsWith('ref:')) return undefined;
  return name;
}
