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

export interface WriteOptions {
  /** fsync before the rename (default true); false for caches that can be rebuilt. */
  durable?: boolean;
}

function fsync(fd: number): void {
  fs.fsyncSync(fd);
  countIo('fsync');
}

/** Write a file so that readers see either the old or the new content, never a mix. */
export function writeFileAtomic(file: string, data: string | Uint8Array, opts: WriteOptions = {}): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    if (typeof data === 'string') fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
    if (opts.durable !== false) fsync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
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
 * the torn fragment stays isolated and the new line parses.
 */
export function appendLineDurable(file: string, line: string, opts: WriteOptions = {}): void {
  if (line.includes('\n')) throw new Error('a ledger line must not contain a newline');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a+');
  try {
    fs.writeSync(fd, (endsMidLine(fd) ? '\n' : '') + line + '\n');
    if (opts.durable !== false) fsync(fd);
  } finally {
    fs.closeSync(fd);
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
