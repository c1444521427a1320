// commits.idx, the run index's sidecar: the commit each `committed` event
// names, by the event's ledger offset and run, so that finalize learns the
// commit of 10,000 keeps from one read of 640 kB instead of 10,000 ledger
// lines. 64 bytes a record, little-endian: the event's offset (f64), its run
// number (f64), the commit's length in bytes (20, or 32 for SHA-256), the
// commit (32 bytes, zero-padded), a checksum of the bytes before it (u32).
//
// A cache like runs.idx: appended by whichever call brings the run index up
// to date (from the lines it has parsed anyway), and by finalize with the
// events it had to read itself. What does not check out is not trusted: a
// record must name the same run at the same offset as the index, and pass its
// checksum, or carry the very bytes of the record used before it (which did:
// 10,000 keeps of one commit check one record); a torn record is cut off, and
// an event the sidecar lacks or that fails is read from the ledger (the
// sidecar is then rewritten). Dropped with the index.
import fs from 'node:fs';
import path from 'node:path';
import type { ExperimentPaths } from '../paths.ts';
import { writeAll, writeFileAtomic } from '../fsx.ts';
import { crashPoint } from '../faults.ts';
import os from 'node:os';
import type { LedgerRead } from '../ledger.ts';

export const CREC = 64;
const LEN = 16;
const COMMIT = 24;
const SUMAT = 56;
const NATIVE_LE = os.endianness() === 'LE';
const HEX = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export function commitIndexFile(paths: ExperimentPaths): string {
  return path.join(paths.dir, 'commits.idx');
}

/** FNV-1a over the 32-bit words [from, to) of w: a torn or flipped record does not pass. */
function fnv(w: Uint32Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let k = from; k < to; k++) h = Math.imul(h ^ (w[k] as number), 0x01000193);
  return h >>> 0;
}

/** The buffer's 32-bit words (little-endian, as the file is; a copy when not aligned or not little-endian). */
function words(buf: Buffer): Uint32Array {
  const n = Math.floor(buf.length / 4);
  if (NATIVE_LE && buf.byteOffset % 8 === 0) return new Uint32Array(buf.buffer, buf.byteOffset, n);
  const w = new Uint32Array(n);
  for (let k = 0; k < n; k++) w[k] = buf.readUInt32LE(k * 4);
  return w;
}

/** One record; null when the commit is not a plain hex object id (such an event is read from the ledger each time). */
export function commitRecord(offset: number, runNo: number, commit: string): Buffer | null {
  if (!HEX.test(commit)) return null;
  const b = Buffer.alloc(CREC);
  b.writeDoubleLE(offset, 0);
  b.writeDoubleLE(runNo, 8);
  b[LEN] = commit.length / 2;
  b.write(commit, COMMIT, 'hex');
  b.writeUInt32LE(fnv(words(b), 0, SUMAT / 4), SUMAT);
  return b;
}

/** The sidecar's whole records, read in place: record r's event offset at f[8r], its run at f[8r + 1], its commit's bytes from buf[64r + 24]. */
interface CommitRecords {
  count: number;
  buf: Buffer;
  w: Uint32Array;
  f: Float64Array;
}

const R = CREC / 4;

/** The sidecar's whole records, not yet checked (missing or unreadable: none). */
export function readCommitIndex(paths: ExperimentPaths): CommitRecords {
  let buf = Buffer.alloc(0);
  try {
    // Read through float64 views: a big-endian machine reads no records (every commit is read from the ledger).
    if (NATIVE_LE) buf = fs.readFileSync(commitIndexFile(paths));
  } catch {
    /* none */
  }
  const w = words(buf);
  return { count: Math.floor(buf.length / CREC), buf, w, f: new Float64Array(w.buffer, w.byteOffset, Math.floor(w.length / 2)) };
}

/** Does record r check out: a commit's length, and the checksum of its bytes? */
function intact(have: CommitRecords, r: number): boolean {
  const len = have.buf[r * CREC + LEN];
  return (len === 20 || len === 32) && have.w[r * R + SUMAT / 4] === fnv(have.w, r * R, r * R + SUMAT / 4);
}

/** The offset of the sidecar's last whole record (-1: none), and its length in whole records. */
function lastRecord(file: string): { offset: number; size: number } {
  try {
    const size = fs.statSync(file).size;
    const whole = size - (size % CREC);
    if (whole === 0) return { offset: -1, size };
    const fd = fs.openSync(file, 'r');
    try {
      const b = Buffer.alloc(8);
      fs.readSync(fd, b, 0, 8, whole - CREC);
      return { offset: b.readDoubleLE(0), size };
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return { offset: -1, size: 0 };
  }
}

/**
 * Append the committed events of a ledger read (lines already parsed) that
 * lie after the sidecar's last record. Best effort: a cache.
 */
export function appendCommits(paths: ExperimentPaths, got: LedgerRead): void {
  // Nothing read (the index was up to date): the sidecar is not even looked at.
  if (got.lines.length === 0) return;
  const file = commitIndexFile(paths);
  const last = lastRecord(file);
  const recs: Buffer[] = [];
  got.lines.forEach((l, k) => {
    const at = got.starts[k] as number;
    if (at <= last.offset || l.type !== 'event' || l.event !== 'committed' || !l.run_id || typeof l.data.commit !== 'string') return;
    const r = commitRecord(at, Number(l.run_id.slice(1)), l.data.commit);
    if (r) recs.push(r);
  });
  if (!recs.length) return;
  try {
    // A record torn by a crash goes first: appended after it, the new ones would not line up.
    if (last.size % CREC !== 0) fs.truncateSync(file, last.size - (last.size % CREC));
    const data = Buffer.concat(recs);
    const fd = fs.openSync(file, 'a');
    try {
      // In two writes only for the kill test: a crash mid-append leaves a torn record, which the next call cuts off.
      const cut = Math.floor(data.length / 2) + CREC / 2;
      writeAll(fd, data.subarray(0, cut));
      crashPoint('commits-idx:append');
      writeAll(fd, data.subarray(cut));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* a cache: the next call tries again */
  }
}

/** Replace the sidecar with these records (in offset order). Best effort. */
export function writeCommitIndex(paths: ExperimentPaths, recs: { offset: number; runNo: number; commit: string }[]): void {
  const bufs = [...recs].sort((a, b) => a.offset - b.offset).flatMap((r) => commitRecord(r.offset, r.runNo, r.commit) ?? []);
  try {
    writeFileAtomic(commitIndexFile(paths), Buffer.concat(bufs), { durable: false });
  } catch {
    /* a cache */
  }
}

export function dropCommitIndex(paths: ExperimentPaths): void {
  try {
    fs.rmSync(commitIndexFile(paths), { force: true });
  } catch {
    /* a read-only directory: its records are still checked against the index */
  }
}

/** The first record at or after `offset`. */
function lowerBound(have: CommitRecords, offset: number): number {
  let lo = 0;
  let hi = have.count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((have.f[mid * 8] as number) < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Commits by number: keep k's commit is table[ids[k]], each distinct commit one string; `starts`: the k whose commit is not k - 1's. */
export interface CommitTable {
  ids: Int32Array;
  table: string[];
  starts: number[];
}

/**
 * The commits of these committed events (their offsets, increasing, and runs,
 * from the run index): from the sidecar where it holds the event, else by
 * `read` (the event's line), after which the sidecar is rewritten to hold them all.
 * A record whose commit is the one before it (keeps that carry the same
 * commit: baselines, a history of measurements) makes no string.
 */
export function commitsOf(paths: ExperimentPaths, offsets: Float64Array, runs: Float64Array, read: (offset: number, runNo: number) => string): CommitTable {
  const have = readCommitIndex(paths);
  const { count, buf, f } = have;
  const ids = new Int32Array(offsets.length);
  const table: string[] = [];
  const starts: number[] = [];
  const known = new Map<string, number>();
  const idOf = (commit: string) => {
    let id = known.get(commit);
    if (id === undefined) {
      id = table.push(commit) - 1;
      known.set(commit, id);
    }
    return id;
  };
  let missed = 0;
  let r = 0;
  let last = -1;
  // The last record used, and its commit's number.
  let prevRec = -1;
  let prevId = -1;
  for (let k = 0; k < offsets.length; k++) {
    const offset = offsets[k] as number;
    const runNo = runs[k] as number;
    // Both in ledger order: one pass; an event logged before the last one asked (displaced) is searched for.
    if (offset < last) r = lowerBound(have, offset);
    last = offset;
    while (r < count && (f[r * 8] as number) < offset) r++;
    if (r < count && f[r * 8] === offset && f[r * 8 + 1] === runNo) {
      // The commit (zero-padded to 32 bytes: four float64s) and its length compared with the last record used: the same
      // bytes at the offset and run the index names are that commit (nothing to check, no string made); another is checked.
      // (Eight bytes that read as NaN never compare equal: that commit is then checked and looked up, as a new one is.)
      const x = r * 8 + COMMIT / 8;
      const y = prevRec * 8 + COMMIT / 8;
      const same = prevRec >= 0 && f[x] === f[y] && f[x + 1] === f[y + 1] && f[x + 2] === f[y + 2] && f[x + 3] === f[y + 3] && buf[r * CREC + LEN] === buf[prevRec * CREC + LEN];
      if (same || intact(have, r)) {
        if (!same) prevId = idOf(buf.toString('hex', r * CREC + COMMIT, r * CREC + COMMIT + (buf[r * CREC + LEN] as number)));
        prevRec = r;
        ids[k] = prevId;
      } else {
        missed++;
        ids[k] = idOf(read(offset, runNo));
      }
    } else {
      missed++;
      ids[k] = idOf(read(offset, runNo));
    }
    if (k === 0 || ids[k] !== ids[k - 1]) starts.push(k);
  }
  if (missed > 0) writeCommitIndex(paths, Array.from(offsets, (offset, k) => ({ offset, runNo: runs[k] as number, commit: table[ids[k] as number] as string })));
  return { ids, table, starts };
}
