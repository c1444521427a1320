// How many of the copies a revert or repair moved aside (rescued/<run>/) are
// kept. The rule (README, "Run output"): the last RESCUE_KEEP folders are kept
// whole while they weigh at most RESCUE_MAX_BYTES together; beyond either
// bound the least recently written folders go first. Never pruned: the folder
// of the call that just moved files, and a folder holding files the hooks'
// journal gave to the user (marked with PIN; those files are surely the
// user's, and few). Applied only after a call moved something, so a loop that
// moves nothing pays nothing; each folder's size is measured once, when it
// was last written, and remembered in it (SIZE_FILE).
import fs from 'node:fs';
import path from 'node:path';

export const RESCUE_KEEP = 50;
export const RESCUE_MAX_BYTES = 1024 * 1024 * 1024;
/** In a folder: the user's files by attribution are in it (never pruned). No copy has this name (copies end in .autoloop-copy). */
export const PIN = '.users-files';
const SIZE_FILE = '.bytes';
/** A folder being pruned is renamed to this prefix first: a kill -9 mid-prune leaves only a name the next prune removes. */
const PRUNING = '.pruning-';

export interface Folder {
  name: string;
  mtimeMs: number;
  bytes: number;
  pinned: boolean;
}

/** Which folders to prune, oldest first, so the rest fit both bounds; never `current`, never a pinned one. Pure. */
export function foldersToPrune(folders: readonly Folder[], current: string, keep = RESCUE_KEEP, maxBytes = RESCUE_MAX_BYTES): string[] {
  const counted = folders.filter((f) => !f.pinned);
  const oldestFirst = counted.filter((f) => f.name !== current).sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
  let count = counted.length;
  let bytes = counted.reduce((n, f) => n + f.bytes, 0);
  const out: string[] = [];
  for (const f of oldestFirst) {
    if (count <= keep && bytes <= maxBytes) break;
    out.push(f.name);
    count--;
    bytes -= f.bytes;
  }
  return out;
}

/** Bytes of the files under dir (lstat sizes; symlinks not followed). */
function treeBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, e.name);
    if (e.isDirectory()) n += treeBytes(abs);
    else n += fs.lstatSync(abs, { throwIfNoEntry: false })?.size ?? 0;
  }
  return n;
}

/** Measure a folder and remember its size in it, its time left as it was (the order is by last write of copies). */
function remember(dir: string, st: fs.Stats): number {
  const bytes = treeBytes(dir);
  fs.writeFileSync(path.join(dir, SIZE_FILE), `${bytes}\n`);
  fs.utimesSync(dir, st.atime, st.mtime);
  return bytes;
}

function sizeOf(dir: string, st: fs.Stats): number {
  try {
    const n = Number(fs.readFileSync(path.join(dir, SIZE_FILE), 'utf8'));
    if (Number.isFinite(n) && n >= 0) return n;
  } catch {
    // not remembered (an older folder): measure it once
  }
  return remember(dir, st);
}

/** Mark a folder as holding the user's files by attribution: never pruned. */
export function pinRescued(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, PIN), 'files the journal gave to the user: never pruned\n');
}

/** After a call moved files into rescued/<current>/: prune the oldest folders beyond the rule. Returns the pruned names. */
export function pruneRescued(rescuedRoot: string, current: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(rescuedRoot);
  } catch {
    return [];
  }
  for (const n of names) if (n.startsWith(PRUNING)) fs.rmSync(path.join(rescuedRoot, n), { recursive: true, force: true });
  const folders: Folder[] = [];
  for (const name of names) {
    if (name.startsWith(PRUNING)) continue;
    const dir = path.join(rescuedRoot, name);
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (!st?.isDirectory()) continue;
    const bytes = name === current ? remember(dir, st) : sizeOf(dir, st);
    folders.push({ name, mtimeMs: st.mtimeMs, bytes, pinned: fs.existsSync(path.join(dir, PIN)) });
  }
  const pruned = foldersToPrune(folders, current);
  for (const name of pruned) {
    const doomed = path.join(rescuedRoot, PRUNING + name);
    fs.renameSync(path.join(rescuedRoot, name), doomed);
    fs.rmSync(doomed, { recursive: true, force: true });
  }
  return pruned;
}
