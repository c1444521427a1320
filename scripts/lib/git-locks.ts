// git's lock files left behind by a git process that no longer runs (one a
// benchmark started and the timeout killed, a crash, or one the code under
// test made) block every command that writes what they lock: a stale
// index.lock made a keep move the branch and then fail to stage (the engine
// then took its own commit for someone else's); a stale HEAD.lock or
// refs/heads/autoloop/<name>.lock failed every later keep's update-ref (the
// branch's reflog writes through HEAD), so the loop never kept again. A lock
// no live process holds open, and still there a moment later, is stale:
// removed, as git's own message advises. One that a running git holds is left
// alone: a held index.lock refuses the keep before it moves the branch; a held
// ref lock fails its update-ref (a clean revert with the reason). Linux (/proc) only;
// elsewhere a lock is always taken as held.
import fs from 'node:fs';
import path from 'node:path';
import { heldOpen } from './procs.ts';
import type { GitDirs } from './git-dirs.ts';

export type LockState = 'none' | 'stale' | 'held';

const inode = (file: string): bigint | null => {
  try {
    return fs.statSync(file, { bigint: true }).ino;
  } catch {
    return null;
  }
};

/** The state of a lock file: absent, left by no live process (checked twice, 100 ms apart), or held. */
export function lockState(file: string): LockState {
  const ino = inode(file);
  if (ino === null) return 'none';
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    return 'none';
  }
  if (heldOpen(real) !== false) return 'held';
  // A git between closing its lock and renaming it holds no descriptor: a moment later it is gone.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  if (inode(file) !== ino) return inode(file) === null ? 'none' : 'held';
  return heldOpen(real) === false ? 'stale' : 'held';
}

/** The locks a keep or a revert takes: the index, HEAD (its reflog), the branch's ref, packed-refs. */
export function mutationLocks(dirs: GitDirs, branch: string | null): string[] {
  return [
    path.join(dirs.gitDir, 'index.lock'),
    path.join(dirs.gitDir, 'HEAD.lock'),
    ...(branch ? [path.join(dirs.commonDir, 'refs', 'heads', `${branch}.lock`)] : []),
    path.join(dirs.commonDir, 'packed-refs.lock'),
  ];
}

/** Remove the stale ones of these locks (with a note on stderr each); returns those a live git holds. */
export function clearStaleLocks(files: readonly string[]): string[] {
  const held: string[] = [];
  for (const file of files) {
    const state = lockState(file);
    if (state === 'held') held.push(file);
    if (state !== 'stale') continue;
    // recursive: a directory by that name (no git makes one, code under test can) blocks git as well.
    fs.rmSync(file, { force: true, recursive: true });
    process.stderr.write(`note: removed ${file}, left by a git process that no longer runs\n`);
  }
  return held;
}
