// The owner-write bits owner-write.ts lends, on disk while they are lent. A
// process killed between the lend and the restore (kill -9, the OOM killer)
// left the folder owner-writable for good: the user's read-only folder was
// not what it made. Each lend is written to `.autoloop/owner-lent/<pid>.<start>.<n>.json`
// (the folders and their modes before the lend) before any bit is set, and
// removed once every mode is back. The next call that takes the repository's
// lock finds the notes whose engine is gone and puts those modes back.
// Without a repository known to this process (no call has recovered yet),
// nothing is written: the lend goes on as before.
import fs from 'node:fs';
import path from 'node:path';
import { repoPaths } from './paths.ts';
import { sweepTemps, writeFileAtomic } from './fsx.ts';
import { pidAlive, procStart } from './procs.ts';

export type Lent = readonly (readonly [dir: string, mode: number])[];

interface Note {
  pid: number;
  start: string | null;
  dirs: [string, number][];
}

let notesDir: string | null = null;
let serial = 0;

const lentDir = (root: string): string => path.join(repoPaths(root).dir, 'owner-lent');

/** Note the modes about to be lent; returns the note to drop once they are back (null: none written). */
export function noteLend(dirs: Lent): string | null {
  if (notesDir === null || dirs.length === 0) return null;
  const start = procStart(process.pid);
  const file = path.join(notesDir, `${process.pid}.${start ?? 'x'}.${serial++}.json`);
  const note: Note = { pid: process.pid, start, dirs: dirs.map(([d, m]) => [d, m]) };
  writeFileAtomic(file, JSON.stringify(note));
  return file;
}

/** Every lent mode is back: the note goes. */
export function dropLend(file: string | null): void {
  if (file !== null) fs.rmSync(file, { force: true });
}

function readNote(file: string): Note | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Note>;
    if (typeof v.pid !== 'number' || !Array.isArray(v.dirs)) return null;
    const dirs = v.dirs.filter((e): e is [string, number] => Array.isArray(e) && typeof e[0] === 'string' && Number.isInteger(e[1]));
    return { pid: v.pid, start: typeof v.start === 'string' ? v.start : null, dirs };
  } catch {
    return null;
  }
}

/** Put back one lent mode: only on a folder still ours whose mode is the lent one (one changed since is left as it is). */
function restoreMode(dir: string, mode: number): boolean {
  try {
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o7777) !== (mode | 0o200)) return false;
    fs.chmodSync(dir, mode);
    return true;
  } catch {
    return false;
  }
}

/**
 * Put back the modes a killed engine lent in this repository, and note this
 * process's own lends there from now on. Returns a line for each folder put back.
 */
export function recoverLentModes(root: string): string[] {
  const dir = lentDir(root);
  notesDir = dir;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  sweepTemps(dir);
  const out: string[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const file = path.join(dir, name);
    const note = readNote(file);
    if (note && pidAlive(note.pid, note.start)) continue;
    for (const [d, mode] of note?.dirs ?? []) {
      if (restoreMode(d, mode)) out.push(`put back the mode ${mode.toString(8)} of ${path.relative(root, d) || '.'}, lent by an engine killed before it restored it`);
    }
    fs.rmSync(file, { force: true });
  }
  return out;
}
