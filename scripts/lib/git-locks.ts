// git's index.lock left behind by a git process that no longer runs (one a
// benchmark started and the timeout killed, a crash, or one the code under
// test made) blocks every command that writes the index: a keep moved the
// branch and then failed to stage (the engine then took its own commit for
// someone else's), and every later call failed on it. A lock no live process
// holds open, and still there a moment later, is stale: removed, as git's own
// message advises. One that a running git holds is left alone, and the keep
// refuses before it moves the branch. Linux (/proc) only; elsewhere a lock is
// always taken as held.
import fs from 'node:fs';
import path from 'node:path';
import { heldOpen } from './procs.ts';

export type LockState = 'none' | 'stale' | 'held';

const inode = (file: string): bigint | null => {
  try {
    return fs.statSync(file, { bigint: true }).ino;
  } catch {
    return null;
  }
};

/** The state of `<gitDir>/index.lock`: absent, left by no live process (checked twice, 100 ms apart), or held. */
export function indexLockState(gitDir: string): LockState {
  const file = path.join(gitDir, 'index.lock');
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

/**
 * Remove a stale index.lock (with a note on stderr); returns why the index
 * cannot be written now (a live git holds it), or null.
 */
export function clearStaleIndexLock(gitDir: string): string | null {
  const state = indexLockState(gitDir);
  if (state === 'none') return null;
  const file = path.join(gitDir, 'index.lock');
  if (state === 'held') return `git's index is locked by a running git process (${file}); nothing was committed`;
  // recursive: a directory by that name (no git makes one, code under test can) blocks git as well.
  fs.rmSync(file, { force: true, recursive: true });
  process.stderr.write(`note: removed ${file}, left by a git process that no longer runs\n`);
  return null;
}
