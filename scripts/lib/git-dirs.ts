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
