// The run index brought up to date through its summary (runs.sum): what is
// read is the summary, the last summarised block (to check the summary still
// describes this index) and the records after it, never the whole index. A
// summary that does not check out (torn mid-record is only cut; otherwise a
// foreign record, offsets that go backwards, a last block that no longer
// matches the index, an index shorter than it claims) answers null: the
// caller reads the whole index and writes a new summary.
import fs from 'node:fs';
import path from 'node:path';
import type { ExperimentPaths } from '../paths.ts';
import type { LedgerRead } from '../ledger.ts';
import { END, offsetsGrow, REC, recordsOf, recordViews } from './records.ts';
import { BLOCK, decodeSum, doubles, encodeSum, SUM, summarize, summarizeBlocks, type BlockSum } from './run-summary.ts';
import { writeFileAtomic } from '../fsx.ts';

export function runSummaryFile(paths: ExperimentPaths): string {
  return path.join(paths.dir, 'runs.sum');
}

export interface Summarized {
  sums: BlockSum[];
  /** Records in the index up to its last END. */
  count: number;
  /** Ledger offset the index reached. */
  end: number;
  warnings: string[];
}

function readSums(file: string): BlockSum[] | null {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return null;
  }
  const sums: BlockSum[] = [];
  let prev = -1;
  // Read in place through one float64 view (a copy when the buffer is not aligned).
  if (buf.byteOffset % 8 !== 0) buf = Buffer.from(buf);
  const f64 = doubles(buf);
  for (let at = 0; at + SUM <= buf.length; at += SUM) {
    const s = decodeSum(buf, at, f64);
    if (!s || s.firstOffset < prev) return null;
    prev = s.lastOffset;
    sums.push(s);
  }
  return sums;
}

function readRecords(fd: number, from: number, to: number): Buffer {
  const buf = Buffer.alloc((to - from) * REC);
  let got = 0;
  while (got < buf.length) {
    const n = fs.readSync(fd, buf, got, buf.length - got, from * REC + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got - (got % REC));
}

/**
 * The index's records after the summary, checked as readIndex checks the
 * whole file; `base` is the first record held in `tail`. Null when they do
 * not check out or the last END comes before the summary's end.
 */
function checkTail(tail: Buffer, base: number, covered: number, ledgerSize: number): { count: number; end: number } | null {
  const v = recordViews(tail);
  let last = v.count - 1;
  while (last >= 0 && tail[last * REC] !== END) last--;
  if (last < 0 || base + last < covered - 1) return null;
  const prev = offsetsGrow(v, last);
  if (prev === null) return null;
  const end = v.f64[last * 4 + 1] as number;
  if (end < prev || end > ledgerSize) return null;
  return { count: base + last + 1, end };
}

/**
 * The index and its summary brought up to the ledger's end, reading
 * O(blocks) bytes; null when the summary is missing or does not check out.
 */
export function updateSummarized(paths: ExperimentPaths, idxFile: string, ledgerSize: number, read: (from: number) => LedgerRead): Summarized | null {
  const sumFile = runSummaryFile(paths);
  const sums = readSums(sumFile);
  if (!sums) return null;
  let fd: number;
  try {
    fd = fs.openSync(idxFile, 'r');
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    // A directory in the index's place opens, then fails every read (EISDIR): no index, as when missing.
    if (!st.isFile()) return null;
    const covered = sums.length * BLOCK;
    const size = Math.floor(st.size / REC);
    if (size < covered) return null;
    // The last summarised block (and the record before it) is read again: it must still summarise the same way.
    const base = Math.max(0, covered - BLOCK - 1);
    const tail = readRecords(fd, base, size);
    if (sums.length > 0 && !sameSum(recordViews(tail), covered - BLOCK - base, sums[sums.length - 1] as BlockSum)) return null;
    // The first block too: a summary of another history rarely ends and starts like this one.
    if (sums.length > 1 && !sameSum(recordViews(readRecords(fd, 0, BLOCK)), 0, sums[0] as BlockSum)) return null;
    const ok = checkTail(tail, base, covered, ledgerSize);
    if (!ok) return null;
    const got = read(ok.end);
    if (got.end === ok.end) return { sums, count: ok.count, end: ok.end, warnings: got.warnings };
    const fresh = recordsOf(got);
    try {
      // A chunk torn by a crash after the last END goes first, as in updateIndex.
      writeAt(idxFile, fresh, ok.count * REC);
      const all = recordViews(Buffer.concat([tail.subarray(0, (ok.count - base) * REC), fresh]));
      const added = summarizeFrom(all, base, sums.length);
      appendSums(sumFile, sums.length, added);
      sums.push(...added);
    } catch {
      /* a cache: the next call tries again (and checks what this one left) */
    }
    return { sums, count: ok.count + fresh.length / REC, end: got.end, warnings: got.warnings };
  } finally {
    fs.closeSync(fd);
  }
}

/** Does the block at `start` of `v` still summarise as `s`? */
function sameSum(v: ReturnType<typeof recordViews>, start: number, s: BlockSum): boolean {
  return v.count >= start + BLOCK && encodeSum(summarize(v, start)).equals(encodeSum(s));
}

/** Summaries of the whole blocks from block `from` on, of records held from index record `base` on. */
function summarizeFrom(v: ReturnType<typeof recordViews>, base: number, from: number): BlockSum[] {
  const out: BlockSum[] = [];
  for (let b = from; (b + 1) * BLOCK - base <= v.count; b++) out.push(summarize(v, b * BLOCK - base));
  return out;
}

/** `data` written at byte `at`, and the file cut after it: what a crash tore there is overwritten, not followed. */
function writeAt(file: string, data: Buffer, at: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    let done = 0;
    while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, at + done);
    fs.ftruncateSync(fd, at + data.length);
  } finally {
    fs.closeSync(fd);
  }
}

function appendSums(file: string, have: number, added: readonly BlockSum[]): void {
  if (added.length > 0) writeAt(file, Buffer.concat(added.map(encodeSum)), have * SUM);
}

/** A new summary of a whole index (after the index was read whole, or rebuilt). Best effort, like the index. */
export function writeSummary(paths: ExperimentPaths, recs: Buffer): BlockSum[] | null {
  const data = summarizeBlocks(recordViews(recs), 0);
  try {
    writeFileAtomic(runSummaryFile(paths), data, { durable: false });
  } catch {
    return null;
  }
  const sums: BlockSum[] = [];
  const f64 = doubles(data);
  for (let at = 0; at < data.length; at += SUM) sums.push(decodeSum(data, at, f64) as BlockSum);
  return sums;
}
