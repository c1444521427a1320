// Index entries git has been told not to look at: `assume-unchanged` (the
// entry's valid bit) and `skip-worktree`. git status skips their work-tree
// files, so an edit to one is invisible to every engine read: measured by the
// benchmark, never kept, never reverted, and the next run would re-measure it
// as the unchanged best. Code under test can set either bit (`git update-index`
// writes only .git/index). The engine reads the flags from the index file
// itself (no git process on the usual path, where no entry has them) and
// clears them on in-scope paths before it reads the tree.
import fs from 'node:fs';
import path from 'node:path';
import { gitDirsOf } from './git-dirs.ts';
import { blobIdOf, blobIdOfFile } from './blob-id.ts';

const ASSUME_VALID = 0x8000;
const EXTENDED = 0x4000;
const SKIP_WORKTREE = 0x4000; // in the extended flags (index v3+)

export interface FlaggedEntry {
  path: string;
  assumeUnchanged: boolean;
  skipWorktree: boolean;
}

/** git's offset varint (index v4 path prefixes). */
function varint(buf: Buffer, at: number): [number, number] {
  let c = buf[at++] ?? 0;
  let val = c & 127;
  while (c & 128) {
    c = buf[at++] ?? 0;
    val = ((val + 1) << 7) + (c & 127);
  }
  return [val, at];
}

/** One index entry (stage 0 or not), as far as the engine needs it. */
export interface IndexEntry extends FlaggedEntry {
  /** The blob id, hex. */
  id: string;
  mode: number;
}

/**
 * The entries of an index file's bytes whose path `keep` accepts; null when
 * the file cannot be read this way (not an index, an unknown version, a split
 * index whose shared part holds the entries): then git must be asked.
 */
export function indexEntries(buf: Buffer, hashLen: number, keep: (p: string, flagged: boolean) => boolean = () => true): IndexEntry[] | null {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'DIRC') return null;
  const version = buf.readUInt32BE(4);
  if (version < 2 || version > 4) return null;
  const count = buf.readUInt32BE(8);
  const out: IndexEntry[] = [];
  let at = 12;
  let prev: Buffer = Buffer.alloc(0);
  for (let i = 0; i < count; i++) {
    const start = at;
    const flagsAt = start + 40 + hashLen;
    if (flagsAt + 2 > buf.length) return null;
    const flags = buf.readUInt16BE(flagsAt);
    let ext = 0;
    at = flagsAt + 2;
    if (flags & EXTENDED) {
      if (version < 3 || at + 2 > buf.length) return null;
      ext = buf.readUInt16BE(at);
      at += 2;
    }
    let name: Buffer;
    if (version === 4) {
      const [strip, next] = varint(buf, at);
      const end = buf.indexOf(0, next);
      if (end < 0 || strip > prev.length) return null;
      name = Buffer.concat([prev.subarray(0, prev.length - strip), buf.subarray(next, end)]);
      at = end + 1;
    } else {
      const end = buf.indexOf(0, at);
      if (end < 0) return null;
      name = buf.subarray(at, end);
      at = start + Math.floor((end - start + 8) / 8) * 8; // 1 to 8 NULs pad the entry to a multiple of 8
    }
    prev = name;
    const p = name.toString('utf8');
    if (!keep(p, Boolean(flags & ASSUME_VALID) || Boolean(ext & SKIP_WORKTREE))) continue;
    out.push({ path: p, id: buf.toString('hex', start + 40, start + 40 + hashLen), mode: buf.readUInt32BE(start + 24), assumeUnchanged: Boolean(flags & ASSUME_VALID), skipWorktree: Boolean(ext & SKIP_WORKTREE) });
  }
  // A split index keeps most entries in a shared file: what is here is not all.
  while (at + 8 <= buf.length - hashLen) {
    const sig = buf.toString('latin1', at, at + 4);
    if (sig === 'link') return null;
    at += 8 + buf.readUInt32BE(at + 4);
  }
  return out;
}

/**
 * Whether any entry is flagged assume-unchanged or skip-worktree, without
 * decoding a name; null where only a full read can tell (index v4's prefix
 * compression, an unreadable file).
 */
export function anyFlagged(buf: Buffer, hashLen: number): boolean | null {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'DIRC') return null;
  const version = buf.readUInt32BE(4);
  if (version !== 2 && version !== 3) return null;
  const count = buf.readUInt32BE(8);
  let at = 12;
  for (let i = 0; i < count; i++) {
    const start = at;
    const flagsAt = start + 40 + hashLen;
    if (flagsAt + 2 > buf.length) return null;
    const flags = buf.readUInt16BE(flagsAt);
    if (flags & ASSUME_VALID) return true;
    at = flagsAt + 2;
    if (flags & EXTENDED) {
      if (version < 3 || at + 2 > buf.length) return null;
      if (buf.readUInt16BE(at) & SKIP_WORKTREE) return true;
      at += 2;
    }
    const end = buf.indexOf(0, at);
    if (end < 0) return null;
    at = start + Math.floor((end - start + 8) / 8) * 8;
  }
  return false;
}

/** The flagged entries only (as `git ls-files -v` tells them). */
export function flaggedEntries(buf: Buffer, hashLen: number): FlaggedEntry[] | null {
  const all = indexEntries(buf, hashLen);
  return all && all.filter((e) => e.assumeUnchanged || e.skipWorktree).map(({ path: p, assumeUnchanged, skipWorktree }) => ({ path: p, assumeUnchanged, skipWorktree }));
}

/**
 * The in-scope entries to clear: every flagged one whose file (or symlink)
 * exists in the work tree. A skip-worktree entry with no file there is a
 * sparse checkout's, hiding nothing; left alone.
 */
export function entriesToClear(entries: readonly FlaggedEntry[], root: string, inScope: (p: string) => boolean): FlaggedEntry[] {
  return entries.filter((e) => {
    if (!inScope(e.path)) return false;
    if (e.assumeUnchanged) return true;
    try {
      fs.lstatSync(path.join(root, e.path));
      return true;
    } catch {
      return false;
    }
  });
}

/** `git ls-files -v -z`: a lowercase tag is assume-unchanged, `S`/`s` skip-worktree. */
export function parseLsFilesV(out: string): FlaggedEntry[] {
  const found: FlaggedEntry[] = [];
  for (const rec of out.split('\0')) {
    const tag = rec[0] ?? '';
    if (rec.length < 3 || rec[1] !== ' ') continue;
    const assumeUnchanged = tag !== tag.toUpperCase();
    const skipWorktree = tag === 'S' || tag === 's';
    if (assumeUnchanged || skipWorktree) found.push({ path: rec.slice(2), assumeUnchanged, skipWorktree });
  }
  return found;
}

/** The engine's git, as index-flags needs it. */
export interface IndexGit {
  run(args: string[]): Promise<string>;
  input(args: string[], input: string): Promise<string>;
}

interface ReadIndex {
  entries: IndexEntry[];
  /** When git last wrote the index (its mtime, ns). */
  writtenNs: bigint;
}

/** The last read per index file, by its inode, size and mtime: git replaces the file (a new inode) on every write. */
const cache = new Map<string, { key: string; read: ReadIndex }>();

/** The in-scope entries of the work tree's index; 'none' without an index; null when it cannot be read here (then git is asked). */
function inScopeEntries(root: string, hashLen: number, inScope: (p: string) => boolean): ReadIndex | 'none' | null {
  const dirs = gitDirsOf(root);
  if (!dirs) return null;
  const file = path.join(dirs.gitDir, 'index');
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(file, { bigint: true });
  } catch {
    return 'none';
  }
  const key = `${st.ino}:${st.size}:${st.mtimeNs}`;
  const hit = cache.get(file);
  if (hit?.key === key) return hit.read;
  let entries: IndexEntry[] | null = null;
  try {
    entries = indexEntries(fs.readFileSync(file), hashLen, inScope);
  } catch {
    entries = null;
  }
  if (!entries) return null;
  const read = { entries, writtenNs: st.mtimeNs };
  cache.set(file, { key, read });
  return read;
}

/**
 * Entries whose file changed after git last wrote the index (its ctime, which
 * no one can set back, says so) and whose bytes are not the entry's blob, yet
 * which status did not list: git's stat check compares whole seconds, so an
 * edit that keeps the size and puts the mtime back within the second of the
 * entry's ctime passes it.
 */
export function staleEntries(entries: readonly IndexEntry[], root: string, writtenNs: bigint, hexLen: number, listed: ReadonlySet<string>): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const e of entries) {
    if (e.assumeUnchanged || e.skipWorktree || listed.has(e.path)) continue;
    const abs = path.join(root, e.path);
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(abs, { bigint: true });
    } catch {
      continue; // gone: git sees that
    }
    if (st.ctimeNs < writtenNs) continue;
    const id = st.isSymbolicLink() ? blobIdOf(Buffer.from(fs.readlinkSync(abs)), hexLen) : st.isFile() ? blobIdOfFile(abs, Number(st.size), hexLen) : e.id;
    if (id !== e.id) out.push(e);
  }
  return out;
}

/**
 * Makes the status read that follows see every in-scope file as it is: clears
 * the two flags on entries that hide a work-tree file, and forgets the stat
 * data of entries whose file changed unseen (the same blob put back through
 * `update-index --index-info`, so git compares the bytes). Returns the paths.
 * `hashLen` is the object id's length in bytes (20 for sha1, 32 for sha256).
 */
export async function unhideInScope(root: string, hashLen: number, inScope: (p: string) => boolean, listed: ReadonlySet<string>, git: IndexGit): Promise<{ flags: string[]; stale: string[] }> {
  const read = inScopeEntries(root, hashLen, inScope);
  if (read === 'none') return { flags: [], stale: [] };
  const flagged = read ? read.entries.filter((e) => e.assumeUnchanged || e.skipWorktree) : parseLsFilesV(await git.run(['ls-files', '-v', '-z'])).filter((e) => inScope(e.path));
  const clear = entriesToClear(flagged, root, inScope);
  const assumed = clear.filter((e) => e.assumeUnchanged).map((e) => e.path);
  const skipped = clear.filter((e) => e.skipWorktree).map((e) => e.path);
  // One flag per update-index call: it applies the first flag option it was given to each path.
  if (assumed.length) await git.run(['update-index', '--no-assume-unchanged', '--', ...assumed]);
  if (skipped.length) await git.run(['update-index', '--no-skip-worktree', '--', ...skipped]);
  const stale = read ? staleEntries(read.entries, root, read.writtenNs, hashLen * 2, listed) : [];
  if (stale.length) await git.input(['update-index', '-z', '--index-info'], stale.map((e) => `${e.mode.toString(8)} ${e.id}\t${e.path}\0`).join(''));
  return { flags: clear.map((e) => e.path), stale: stale.map((e) => e.path) };
}
