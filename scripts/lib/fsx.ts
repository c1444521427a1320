// File primitives that survive a SIGKILL at any instruction: whole-file
// writes go through a temp file + rename, appends are one write() + fsync.
// A SIGKILL never loses what write() handed to the kernel; fsync only matters
// for a power loss or an OS crash, so it is paid where losing the bytes would
// lose data (the ledger, the measured record) and skipped for caches and
// files every call rewrites (state.json, active.json, the lock): see
// docs/design.md, "The cost of an iteration".
import fs from 'node:fs';
import path from 'node:path';
import { countIo } from './iocount.ts';
import { faultAt } from './faults.ts';

export interface WriteOptions {
  /** fsync before the rename (default true); false for caches that can be rebuilt. */
  durable?: boolean;
  /** Permission bits of the new file (e.g. 0o600 for the recorded environment). */
  mode?: number;
}

function fsync(fd: number): void {
  fs.fsyncSync(fd);
  countIo('fsync');
}

/** Write all of buf at the descriptor's position; a write that makes no progress is an error, never a silent short file. */
export function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.writeSync(fd, buf, off, buf.length - off);
    if (n <= 0) throw new Error(`short write: ${off} of ${buf.length} bytes written`);
    off += n;
  }
}

/**
 * Write a file so that readers see either the old or the new content, never a
 * mix. The temp file is removed when anything fails (a full disk, a short
 * write), and the size is checked before the rename.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, opts: WriteOptions = {}): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  try {
    const fd = fs.openSync(tmp, 'w', opts.mode);
    try {
      writeAll(fd, buf);
      if (opts.durable !== false) fsync(fd);
      if (fs.fstatSync(fd).size !== buf.length) throw new Error(`short write: ${file}`);
    } finally {
      fs.closeSync(fd);
    }
    if (opts.mode !== undefined) fs.chmodSync(tmp, opts.mode);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export function writeJsonAtomic(file: string, value: unknown, opts: WriteOptions = {}): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n', opts);
}

/** A cache or a file every call rewrites: atomic, compact, not fsynced. */
export function writeJsonCache(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value) + '\n', { durable: false });
}

/** Whether an open file's last byte is not a newline (a line torn by an earlier kill). */
export function endsMidLine(fd: number): boolean {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  fs.readSync(fd, last, 0, 1, size - 1);
  return last[0] !== 0x0a;
}

/**
 * Append one line with a single write and fsync it. If the file does not end
 * in a newline (a torn line from an earlier kill), start on a fresh line so
 * the torn fragment stays isolated and the new line parses. A write that
 * fails half-way (a full disk, a size limit) is cut back: no torn line stays.
 */
export function appendLineDurable(file: string, line: string, opts: WriteOptions = {}): void {
  const fd = appendLineOpen(file, line, opts.durable !== false);
  fs.closeSync(fd);
}

/** Append one line (as appendLineDurable) and return its descriptor, still open; fsynced first when `durable`. */
function appendLineOpen(file: string, line: string, durable: boolean): number {
  if (line.includes('\n')) throw new Error('a ledger line must not contain a newline');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = openAppendNoFollow(file);
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.from((endsMidLine(fd) ? '\n' : '') + line + '\n');
    try {
      writeAll(fd, buf);
      if (durable) fsync(fd);
    } catch (e) {
      fs.ftruncateSync(fd, size);
      throw e;
    }
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return fd;
}

/** A line appended by appendLineDurableLater whose fsync failed: the step it guards must not run. */
export class NotDurableError extends Error {}

/**
 * Append one line now (one write(): a SIGKILL from here on never loses it) and
 * fsync it on Node's thread pool while the caller goes on; the promise settles
 * when the line is on disk. For a record that must be durable before some later
 * step (a keep's branch move, a revert): the caller awaits it just before that
 * step, and the fsync's wait overlaps the work in between (the keep's tree and
 * commit object, which nothing refers to until the branch moves). A failed
 * fsync rejects: the caller stops before that step, and the line stays, as
 * after a crash at that point (reconcile completes it).
 */
export function appendLineDurableLater(file: string, line: string): Promise<void> {
  const fd = appendLineOpen(file, line, false);
  // The fault test's failing fsync is a real one: /dev/null refuses it (EINVAL).
  const target = faultAt('ledger:fsync') ? fs.openSync('/dev/null', 'r') : fd;
  return new Promise((resolve, reject) => {
    fs.fsync(target, (err) => {
      fs.close(fd, () => undefined);
      if (target !== fd) fs.close(target, () => undefined);
      if (err) return reject(new NotDurableError(`${file}: fsync failed (${err.code ?? err.message}); the line was written, its durability is unknown`));
      countIo('fsync');
      resolve();
    });
  });
}

/**
 * Open for appending (and reading its last byte), never through a symbolic link: history goes
 * into the file under .autoloop/ itself, not wherever a link placed there points.
 */
function openAppendNoFollow(file: string): number {
  const { O_APPEND, O_CREAT, O_RDWR, O_NOFOLLOW } = fs.constants;
  try {
    return fs.openSync(file, O_APPEND | O_CREAT | O_RDWR | O_NOFOLLOW, 0o666);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`${file} is a symbolic link: autoloop appends only to the file itself (put the file in the link's place)`);
    throw e;
  }
}

/** Read and JSON-parse a file; null when it is missing or does not parse. */
export function readJsonOrNull(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

export function exists(p: string): boolean {
  return fs.existsSync(p);
}

/** Temp files of writeFileAtomic left in dir by a process that died mid-write. */
export function sweepTemps(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /\.(\d+)\.\d+\.tmp$/.exec(n);
    if (!m || Number(m[1]) === process.pid) continue;
    let alive = true;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) fs.rmSync(path.join(dir, n), { force: true });
  }
}
