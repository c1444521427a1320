// The work tree's `.git` entry itself. The guard keeps git's files by their
// paths under `.git`, so a phase that moved the directory away and put a
// symbolic link or a `gitdir:` file to another repository in its place (or
// rewrote a worktree's `.git` file to name another git dir) had every later
// git command, the engine's included, read that repository: its objects, its
// refs, its config; the kept paths then led there too. The entry is held when
// the phase starts (its inode; a directory also by an open descriptor, whose
// /proc link names where it went; a file by its bytes) and put back when the
// phase ends: what took its place is set aside (`.git.autoloop-forged`).
import fs from 'node:fs';
import path from 'node:path';
import { RefusalError } from './errors.ts';
import { writeFileAtomic } from './fsx.ts';

export interface DotGit {
  file: string;
  dev: number;
  ino: number;
  /** A `gitdir:` file's bytes (a linked worktree's), or null for a directory. */
  bytes: Buffer | null;
  /** An open descriptor of the directory (Linux: /proc/self/fd names it wherever it is moved). */
  fd: number | null;
}

/** Hold the `.git` of `tree` (null when there is none, or it is neither a directory nor a file). */
export function holdDotGit(tree: string): DotGit | null {
  const file = `${tree}/.git`;
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st || !(st.isDirectory() || st.isFile())) return null;
  let fd: number | null = null;
  if (st.isDirectory()) {
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch {
      fd = null;
    }
  }
  return { file, dev: st.dev, ino: st.ino, bytes: st.isFile() ? fs.readFileSync(file) : null, fd };
}

function aside(file: string): void {
  let name = `${file}.autoloop-forged`;
  for (let i = 1; fs.existsSync(name); i++) name = `${file}.autoloop-forged-${i}`;
  fs.renameSync(file, name);
}

/** Where the held directory is now, or null (gone, or no /proc). */
function whereNow(h: DotGit): string | null {
  if (h.fd === null) return null;
  try {
    const now = fs.readlinkSync(`/proc/self/fd/${h.fd}`);
    const st = fs.lstatSync(now, { throwIfNoEntry: false });
    return st?.isDirectory() && st.dev === h.dev && st.ino === h.ino ? now : null;
  } catch {
    return null;
  }
}

/**
 * Put `.git` back as the phase found it, and let the descriptor go. Returns null when it was not
 * touched, else what was done (`put back`, or `gone` when the original could not be found).
 */
export function restoreDotGit(h: DotGit): 'put back' | 'gone' | null {
  try {
    const st = fs.lstatSync(h.file, { throwIfNoEntry: false });
    const same = st !== undefined && st.dev === h.dev && st.ino === h.ino;
    if (h.bytes === null) {
      if (same && st.isDirectory()) return null;
      const now = whereNow(h);
      // What took its place goes aside either way: no git reads another repository in its name.
      if (st) aside(h.file);
      if (!now) return 'gone';
      fs.renameSync(now, h.file);
      return 'put back';
    }
    if (same && st.isFile() && fs.readFileSync(h.file).equals(h.bytes)) return null;
    if (st && !st.isFile()) aside(h.file);
    writeFileAtomic(h.file, h.bytes);
    return 'put back';
  } finally {
    if (h.fd !== null) fs.closeSync(h.fd);
    h.fd = null;
  }
}

/** How far the search for a moved `.git` looks: directories read, and levels below the tree's top. */
export const DOT_GIT_SEARCH = { dirs: 20_000, depth: 8 };

/** The directory below `tree` with this identity, breadth first within DOT_GIT_SEARCH (never through a link or onto another device). */
function searchMoved(tree: string, id: { dev: number; ino: number }): string | null {
  let level = [tree];
  let read = 0;
  for (let depth = 1; depth <= DOT_GIT_SEARCH.depth && level.length; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      if (++read > DOT_GIT_SEARCH.dirs) return null;
      let entries: fs.Dirent[] = [];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        if (!e.isDirectory() || (dir === tree && e.name === '.git')) continue;
        const at = `${dir}/${e.name}`;
        const s = fs.lstatSync(at, { throwIfNoEntry: false });
        if (!s?.isDirectory() || s.dev !== id.dev) continue;
        if (s.ino === id.ino) return fs.existsSync(`${at}/HEAD`) && fs.existsSync(`${at}/objects`) ? at : null;
        next.push(at);
      }
    }
    level = next;
  }
  return null;
}

/** A git dir holding an experiment's branch (`autoloop/…`), loose or packed: the repository the loop runs on. */
function hasExperimentBranch(gitDir: string): boolean {
  try {
    if (fs.readdirSync(`${gitDir}/refs/heads/autoloop`).length) return true;
  } catch {
    // none loose
  }
  try {
    return fs.readFileSync(`${gitDir}/packed-refs`, 'utf8').includes(' refs/heads/autoloop/');
  } catch {
    return false;
  }
}

/**
 * After an engine killed mid-phase (its descriptor gone): the `.git` directory with this identity,
 * moved by the phase anywhere below the tree (DOT_GIT_SEARCH), put back (what took its place set
 * aside: a link, a `gitdir:` file, or a directory without the experiment's branch). Returns the name it was found under (relative to the tree), null when `.git` is in place,
 * or throws when it is not and cannot be found (every git command would read the wrong repository
 * or none): naming the command that finds it.
 */
export function findDotGit(tree: string, id: { dev: number; ino: number }): string | null {
  const file = `${tree}/.git`;
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (st?.isDirectory()) {
    // The identity comes from a copy the code under test may have written: a directory in place is
    // replaced only when it has no experiment branch (a `git init` put there) and the one moved has.
    if ((st.dev === id.dev && st.ino === id.ino) || hasExperimentBranch(file)) return null;
    const moved = searchMoved(tree, id);
    if (!moved || !hasExperimentBranch(moved)) return null;
    aside(file);
    fs.renameSync(moved, file);
    return path.relative(tree, moved);
  }
  const at = searchMoved(tree, id);
  if (!at) {
    const what = st ? `is not the repository's own (a ${st.isSymbolicLink() ? 'symbolic link' : 'file'} took its place)` : 'is gone';
    throw new RefusalError(
      `${file} ${what}: a phase whose engine was killed moved it, and it is not within ${DOT_GIT_SEARCH.depth} levels of the tree; find it with \`find ${tree} -xdev -type d -inum ${id.ino}\` (or from a wider directory of the same filesystem), then \`${st ? `mv ${file} ${file}.autoloop-forged && ` : ''}mv FOUND ${file}\``,
    );
  }
  if (st) aside(file);
  fs.renameSync(at, file);
  return path.relative(tree, at);
}
