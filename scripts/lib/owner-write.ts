// The engine moves and writes files inside folders the user's own code made
// read-only (a 0555 build output, a generated tree). Root ignores the mode;
// anyone else gets EACCES. For a folder the caller owns, its owner-write bit
// is lent for the one operation and put back, so the folder ends as root's
// run leaves it. A folder of someone else is never touched: the error stands.
import fs from 'node:fs';
import path from 'node:path';
import { crashPoint } from './faults.ts';
import { dropLend, noteLend } from './owner-write-journal.ts';

const denied = (e: unknown): boolean => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
};

/** The folder's mode when this process owns it and cannot write it (so lending the bit may help), else null. */
function lendable(dir: string): number | null {
  const uid = process.getuid?.();
  if (uid === undefined || uid === 0) return null;
  try {
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o200) !== 0) return null;
    return st.mode & 0o7777;
  } catch {
    return null;
  }
}

/**
 * Run op (a rename, unlink or create whose folder is `dir`); when it is denied
 * in a folder of ours without the owner-write bit, again with the bit lent.
 * The folder's mode is put back whatever op does.
 */
export function inOwnFolder<T>(dir: string, op: () => T): T {
  try {
    return op();
  } catch (e) {
    if (!denied(e)) throw e;
    const mode = lendable(dir);
    if (mode === null) throw e;
    // Noted first: a kill before the restore leaves the note for the next call.
    const note = noteLend([[dir, mode]]);
    fs.chmodSync(dir, mode | 0o200);
    crashPoint('owner-write:lent');
    try {
      return op();
    } finally {
      fs.chmodSync(dir, mode);
      dropLend(note);
    }
  }
}

/** The nearest folder of `dir` (itself or an ancestor) that exists. */
function nearestExisting(dir: string): string {
  let d = dir;
  while (!fs.existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

/** Copy a file to `to`, its folders made; in folders of ours without the owner-write bit, as inOwnFolder. */
export function copyIntoOwnFolder(from: string, to: string): void {
  const dir = path.dirname(to);
  inOwnFolder(nearestExisting(dir), () => fs.mkdirSync(dir, { recursive: true }));
  inOwnFolder(dir, () => fs.copyFileSync(from, to));
}

/**
 * Run op (a batch of writes, git's checkout among them) with the owner-write
 * bit lent to every folder of ours among the folders of `rels` under root
 * (the nearest that exists), put back after whatever op does. For root,
 * and where every folder is writable, op alone.
 */
export async function inOwnFolders<T>(root: string, rels: readonly string[], op: () => Promise<T>): Promise<T> {
  const lent = new Map<string, number>();
  if (process.getuid?.() !== 0) {
    for (const rel of rels) {
      const dir = nearestExisting(path.dirname(path.join(root, rel)));
      if (lent.has(dir)) continue;
      const mode = lendable(dir);
      if (mode !== null) lent.set(dir, mode);
    }
  }
  const note = noteLend([...lent]);
  for (const [dir, mode] of lent) fs.chmodSync(dir, mode | 0o200);
  if (lent.size > 0) crashPoint('owner-write:lent');
  try {
    return await op();
  } finally {
    for (const [dir, mode] of lent) fs.chmodSync(dir, mode);
    dropLend(note);
  }
}

/** Give the owner-write and search bits to every folder of ours under dir that lacks them (the walk stops at one it cannot read). */
function openOwnFolders(dir: string): void {
  const mode = lendable(dir) ?? searchless(dir);
  if (mode !== null) fs.chmodSync(dir, mode | 0o700);
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const d of names) if (d.isDirectory()) openOwnFolders(path.join(dir, d.name));
}

/** The mode of a folder of ours that we can write but not read or enter, else null. */
function searchless(dir: string): number | null {
  try {
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o500) === 0o500) return null;
    return st.mode & 0o7777;
  } catch {
    return null;
  }
}

/**
 * Remove a tree the engine made and the code under test ran in (a candidate's
 * worktree, a copy for the best): when a folder in it was made read-only by
 * that code and this process owns it, its bits are opened first, which root
 * never needs. Anything of another owner still fails as before.
 */
export function rmOwnTree(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (e) {
    if (!denied(e) || process.getuid?.() === 0) throw e;
    openOwnFolders(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
