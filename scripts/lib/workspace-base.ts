// What both workspace modes (git-workspace.ts, snapshot-workspace.ts) share:
// the Workspace interface the engine works against, and the file helpers
// (argv batches, bounded diffs, removing a created file). workspace.ts picks
// the mode; nothing here knows either one.
import fs from 'node:fs';
import path from 'node:path';
import type { ExperimentPaths } from './paths.ts';
import { crashPoint } from './faults.ts';
import { inOwnFolder } from './owner-write.ts';

/** One in-scope path as measured: its content id (git blob id / sha256) and mode; null = deleted. */
export interface CapturedFile {
  id: string;
  mode: number;
}
export type Capture = Record<string, CapturedFile | null>;

export interface CaptureResult {
  files: Capture;
  /** Paths that cannot be kept as measured (a submodule, a symlink leaving the repository…), with why. */
  problems: string[];
}

/**
 * A change outside the scope: `modified` a tracked file (git) or a file that
 * existed at begin (snapshot); `created` an untracked path that appeared or changed.
 */
export interface OutsideChange {
  path: string;
  kind: 'modified' | 'created';
}

/** What restoreHead did: the moved head's keeper, the paths put back, the edits moved aside. */
export interface HeadRestored {
  saved: string;
  changed: string[];
  rescued: string[];
}

export interface Workspace {
  mode: 'git' | 'snapshot';
  /**
   * Start (or re-open, for a new segment) the experiment. git: check out
   * autoloop/<slug> (created from HEAD when missing); refuses when in-scope
   * tracked files have uncommitted changes. snapshot: copy the in-scope files.
   * Returns the starting point (commit sha / snapshot id), and `moved` when
   * git checked out another commit (the index may list other files now).
   */
  begin(): Promise<{ base: string; moved?: true }>;
  /** git: put HEAD back where begin() found it (an init that failed after it); the files begin() wrote go with the init's rollback. */
  undoBegin?(): Promise<void>;
  /** The current best: the branch's commit, or the current snapshot id. */
  head(): Promise<string>;
  /**
   * Read the tree once now: until the next keep or revert, changedInScope,
   * outOfScopeChanges and diffSummary answer from this read instead of each
   * reading it again (a run asks several questions of one moment). Without
   * it every query reads the tree afresh. No-op in snapshot mode.
   */
  observe(): Promise<void>;
  /**
   * A command of the code under test is about to run: no earlier read of the
   * tree describes what comes after it (head() asks again). No-op in snapshot mode.
   */
  stale(): void;
  /** git: the .gitignore files in scope that git ignores (one hiding itself), path → sha256. */
  hiddenIgnores?(): Promise<Record<string, string>>;
  /** git: untracked git repositories inside the scope (not the user's), each `dir/`, from the last read of the tree. */
  nestedRepos?(): Promise<string[]>;
  /** git: in-scope tracked files whose executable bit git does not see change (core.fileMode=false). Sorted. */
  hiddenModes?(): Promise<string[]>;
  /** In-scope files that differ from the best (modified, deleted, created; user files excluded). Sorted. */
  changedInScope(): Promise<string[]>;
  /**
   * Which of these changed in-scope paths are new files the best does not
   * hold (git: untracked), from the last read of the tree (no new read).
   */
  created(paths: readonly string[]): Promise<string[]>;
  /** Out-of-scope paths changed since the reference (begin, or the last settle), sorted by path. */
  outOfScopeChanges(): Promise<OutsideChange[]>;
  /**
   * Make the current out-of-scope state the new reference for outOfScopeChanges()
   * (after the benchmark ran, and when an outside change is set aside). Returns what changed.
   */
  settleOutOfScope(): Promise<OutsideChange[]>;
  /**
   * git: tracked files outside the scope written (ctime) at or after `mark`: those whose bytes are the
   * index's again (`restored`), and those whose edit an index flag hides from status (`hidden`).
   * Snapshot mode's outOfScopeChanges compares ctimes already.
   */
  touchedOutside?(mark: bigint): Promise<{ restored: string[]; hidden: string[] }>;
  /**
   * git: HEAD put back on the experiment branch when a command of the code
   * under test moved it (a checkout, symbolic-ref, a detach); returns where it
   * was, or null when it had not moved.
   */
  reattach?(): Promise<string | null>;
  /**
   * The content of these in-scope paths now (git: blobs written to the object
   * store, so a later keep commits exactly these bytes). `compareOnly`: the
   * content is only compared with an earlier capture, nothing is stored (git:
   * the blob ids are computed in this process, no git process).
   */
  capture(paths: string[], opts?: { compareOnly?: boolean }): Promise<CaptureResult>;
  /**
   * Commit exactly these in-scope files with the trailers. With `capture`, the
   * content committed is the captured one (git) or must still be it (snapshot).
   * Returns the new commit sha / snapshot id.
   */
  /** `durable`: settled once the keep's ledger line is on disk; awaited before anything the tree or the branch shows. */
  keep(files: string[], message: string, trailers: Record<string, string>, capture?: Capture, durable?: Promise<void>): Promise<string>;
  /**
   * Restore in-scope files to the best and take away the in-scope files the
   * change created. Idempotent. Every file overwritten or taken away is moved
   * into `rescueDir` first, never deleted (it may be the user's).
   */
  revert(rescueDir: string): Promise<Reverted>;
  /**
   * Put the best back at `expected` (after a commit or reset made outside the engine); returns where the
   * moved head was saved ('' when it had not moved), the paths put back at the best (`changed`), and
   * the uncommitted edits on them moved to `rescueDir` (`rescued`; without rescueDir: refused).
   */
  restoreHead(expected: string, rescueDir?: string): Promise<HeadRestored>;
  /**
   * git: put these tracked paths outside the scope back as the best commit has
   * them (a file the code under test rewrote), each moved into `rescueDir`
   * first; returns the paths put back.
   */
  restoreOutside?(paths: readonly string[], rescueDir: string): Promise<string[]>;
  /**
   * workspace.json rebuilt when it is damaged or missing (control repair), from
   * what the ledger recorded and the tree; what was done, or null when it reads fine.
   */
  rebuildRecord?(from: RecordSource): Promise<string | null>;
  /** The keep recorded for a run (commit sha / snapshot id), or null. */
  findKeep(runId: string): Promise<string | null>;
  /** snapshot: keep this snapshot (a tie walk's anchor) besides the current one; git keeps every commit. */
  pin?(id: string | null): Promise<void>;
  /** snapshot: whether this snapshot is here and whole (the best's arm can measure it); git: absent. */
  holds?(id: string): boolean;
  /** Unified diff of the in-scope changes against the best, ≤ 4 KB; '' when none. */
  diffSummary(): Promise<string>;
  /** Net lines these in-scope changes remove against the best (removed − added; binary files count 0). */
  netLinesRemoved(files: readonly string[]): Promise<number>;
}

/** What the ledger holds of a workspace's record: where the branch and the segment started, the best, every keep. */
export interface RecordSource {
  started_from: string;
  base: string;
  best: string | null;
  keeps: Array<{ run: string; id: string; ts: string }>;
}

/** A copy of a damaged record beside it (never lost to the rebuild); its name, or '' when there was no file. */
export function keepDamagedCopy(file: string): string {
  if (!fs.existsSync(file)) return '';
  const name = `${path.basename(file)}.damaged-${Date.now().toString(36)}`;
  fs.copyFileSync(file, path.join(path.dirname(file), name));
  return name;
}

/** Text lines of a file's bytes (0 for absent or binary content). */
export function lineCount(b: Buffer | null): number {
  if (b === null || isBinary(b)) return 0;
  return splitLines(b).length;
}

/** <exp.dir>/workspace.json: what the workspace must remember between calls. */
export function workspaceFile(exp: ExperimentPaths): string {
  return path.join(exp.dir, 'workspace.json');
}

/**
 * The name under which the engine stores its copies of work-tree files inside
 * the repository (rescued files, snapshots). Test runners and build tools walk
 * `.autoloop/` too (`node --test` does): with this suffix no `*.test.js`,
 * `test_*.py` or `*.ts` glob ever picks a copy up and runs or compiles it.
 */
export const COPY_SUFFIX = '.autoloop-copy';

/**
 * Move a file (or symlink) into `dir` before the engine overwrites or deletes
 * it: to dir/rel + COPY_SUFFIX, or a free name beside it (an earlier copy is
 * never replaced). Returns the copy's path, or null when there is nothing
 * there. A rename on one filesystem; across filesystems a durable copy first,
 * then the unlink, so a kill -9 at any moment leaves the file in its place or
 * in the copy (or both), never nowhere.
 */
export function rescueFile(root: string, rel: string, dir: string): string | null {
  const abs = path.join(root, rel);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch {
    return null;
  }
  if (st.isDirectory()) return null;
  const dst = freeCopyPath(dir, rel);
  // The file's folder may be one the user's code made read-only (inOwnFolder).
  const folder = path.dirname(abs);
  try {
    inOwnFolder(folder, () => fs.renameSync(abs, dst));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    copyDurably(abs, dst, st);
    inOwnFolder(folder, () => fs.unlinkSync(abs));
  }
  return dst;
}

const taken = (p: string): boolean => {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

/** A path for rel's copy under dir that holds nothing yet, its directory made: rel~2, rel~3… beside an earlier copy. */
function freeCopyPath(dir: string, rel: string): string {
  // A directory of an earlier copy may be a file here (or the reverse): then a fresh ~N/ tree below dir.
  for (let tree = 1; tree <= 100; tree++) {
    const base = tree === 1 ? dir : path.join(dir, `~${tree}`);
    try {
      fs.mkdirSync(path.dirname(path.join(base, rel)), { recursive: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'EEXIST') continue;
      throw e;
    }
    for (let n = 1; n < 1000; n++) {
      const dst = path.join(base, n === 1 ? rel + COPY_SUFFIX : `${rel}~${n}${COPY_SUFFIX}`);
      if (!taken(dst)) return dst;
    }
  }
  throw new Error(`no free place for a copy of ${rel} under ${dir}`);
}

/** Copy a file or symlink to dst with its bytes on disk before dst appears (a temp name, fsync, rename, fsync of the directory). */
function copyDurably(abs: string, dst: string, st: fs.Stats): void {
  const tmp = `${dst}.partial-${process.pid}`;
  if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(abs), tmp);
  else {
    fs.copyFileSync(abs, tmp);
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  fs.renameSync(tmp, dst);
  const d = fs.openSync(path.dirname(dst), 'r');
  try {
    fs.fsyncSync(d);
  } finally {
    fs.closeSync(d);
  }
}

/** Why a captured path cannot be kept as it was measured, or null. */
export function keepProblem(root: string, rel: string): string | null {
  const abs = path.join(root, rel);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch {
    // git names it in bytes that are not UTF-8: decoded, the name finds nothing, and the file would be taken for deleted.
    if (rel.includes('\uFFFD')) return `${rel}: its name is not valid UTF-8, so the engine cannot name it to git or keep it as measured; rename it`;
    return null; // deleted: a deletion can be kept
  }
  if (st.isDirectory()) return `${rel} is a directory in the index (a submodule or a nested repository): autoloop cannot keep changes to it`;
  if (st.isSymbolicLink()) {
    const target = path.resolve(path.dirname(abs), fs.readlinkSync(abs));
    let real = target;
    try {
      real = fs.realpathSync(target);
    } catch {
      // dangling: judge the literal target
    }
    let realRoot = root;
    try {
      realRoot = fs.realpathSync(root);
    } catch {
      // keep the root as given
    }
    const inside = (p: string, r: string) => p === r || p.startsWith(r + path.sep);
    if (!inside(target, root) || !inside(real, realRoot)) return `${rel} is a symlink to ${fs.readlinkSync(abs)}, outside the repository: what it measures could not be kept`;
    return null;
  }
  if (!st.isFile()) return `${rel} is not a regular file`;
  return null;
}

/** Split a path list into argv-sized batches. */
export function batches(paths: readonly string[], maxBytes = 64 * 1024): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let size = 0;
  for (const p of paths) {
    const n = Buffer.byteLength(p) + 1;
    if (cur.length && size + n > maxBytes) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(p);
    size += n;
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * Delete one file (or symlink, never followed) that a commit the engine saved
 * holds (restoreHead: recoverable from that commit), then the directories that
 * became empty because of it. A revert never deletes: it moves (moveAside).
 */
export function removeCreated(root: string, rel: string): boolean {
  const abs = path.join(root, rel);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch {
    return false;
  }
  if (st.isDirectory()) return false;
  fs.unlinkSync(abs);
  dropEmptyParents(root, rel);
  return true;
}

/** Remove the directories above rel that are empty now, up to (excluding) root. */
export function dropEmptyParents(root: string, rel: string): void {
  let dir = path.dirname(path.join(root, rel));
  while (dir !== root && dir.startsWith(root + path.sep)) {
    try {
      fs.rmdirSync(dir);
    } catch {
      break; // not empty (or not ours to judge): stop here
    }
    dir = path.dirname(dir);
  }
}

/** What a revert did: the in-scope paths it put back at the best, and the new files among them it moved into its rescue folder. */
export interface Reverted {
  files: string[];
  created: string[];
}

/**
 * Move every file a revert will overwrite or delete into `dir` (nothing is
 * unlinked: it may be the user's); a moved new file's emptied directories go.
 * Returns the new files moved.
 */
export function moveAside(root: string, changed: readonly string[], created: ReadonlySet<string>, dir: string): string[] {
  const moved: string[] = [];
  for (const p of changed) {
    if (!rescueFile(root, p, dir)) continue;
    crashPoint('revert:moved-one');
    if (!created.has(p)) continue;
    moved.push(p);
    dropEmptyParents(root, p);
  }
  return moved;
}

export const DIFF_LIMIT = 4096;

/** Cut text to at most `limit` UTF-8 bytes, on a character boundary, saying so. */
export function boundText(text: string, limit = DIFF_LIMIT): string {
  if (Buffer.byteLength(text) <= limit) return text;
  const marker = '\n… (diff truncated)\n';
  const keep = limit - Buffer.byteLength(marker);
  const cut = Buffer.from(text).subarray(0, keep).toString('utf8').replace(/\uFFFD+$/, '');
  return cut + marker;
}

function isBinary(b: Buffer): boolean {
  return b.subarray(0, 8000).includes(0);
}

function splitLines(b: Buffer): string[] {
  const lines = b.toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * A unified diff of one file with a single hunk around the changed region
 * (common leading and trailing lines trimmed). before/after null = absent.
 */
export function fileDiff(rel: string, before: Buffer | null, after: Buffer | null): string {
  const head = `--- ${before ? 'a/' + rel : '/dev/null'}\n+++ ${after ? 'b/' + rel : '/dev/null'}\n`;
  if ((before && isBinary(before)) || (after && isBinary(after))) return `Binary file ${rel} differs\n`;
  const a = before ? splitLines(before) : [];
  const b = after ? splitLines(after) : [];
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  if (p === a.length && p === b.length) return before && after ? `${rel}: mode changed\n` : head;
  const ctx = 3;
  const from = Math.max(0, p - ctx);
  const aEnd = Math.min(a.length, a.length - s + ctx);
  const bEnd = Math.min(b.length, b.length - s + ctx);
  const lines: string[] = [];
  for (let i = from; i < p; i++) lines.push(' ' + a[i]);
  for (let i = p; i < a.length - s; i++) lines.push('-' + a[i]);
  for (let i = p; i < b.length - s; i++) lines.push('+' + b[i]);
  for (let i = a.length - s; i < aEnd; i++) lines.push(' ' + a[i]);
  const oldLen = aEnd - from;
  const newLen = bEnd - from;
  const range = (start: number, len: number) => `${len === 0 ? start : start + 1},${len}`;
  return `${head}@@ -${range(from, oldLen)} +${range(from, newLen)} @@\n${lines.join('\n')}\n`;
}

/** Read a file for a diff (symlinks as their target text); null when absent. */
export function readForDiff(abs: string): Buffer | null {
  try {
    const st = fs.lstatSync(abs);
    if (st.isSymbolicLink()) return Buffer.from(`-> ${fs.readlinkSync(abs)}\n`);
    if (!st.isFile()) return null;
    return fs.readFileSync(abs);
  } catch {
    return null;
  }
}
