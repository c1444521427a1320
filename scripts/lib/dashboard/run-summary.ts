// runs.sum, the run index's coarse summary: one 96-byte record per block of
// BLOCK index records (runs.idx), holding what the chart and the table need
// of the block's results (their segment, count, keeps, failures, the first
// lowest and highest primary, the best keep either way, the first failure,
// the best-so-far after the block), so that a 100,000-run dashboard reads a
// few thousand summaries and the few blocks its columns start in, instead of
// every record. Only whole blocks are summarised (append-only, like the
// index); the blocks after the last one are read from the index itself.
// A cache of a cache: torn, stale or missing, it is rebuilt from runs.idx.
import os from 'node:os';
import { COMMITTED, END, REC, RESULT, type RecordViews } from './records.ts';
import { Verdict } from '../schema.ts';

/**
 * Index records per block: the chart reads one block per column edge, and one
 * summary per block. 128 (a byte holds a position in the block): a 100,000-run
 * history is ~860 summaries, and a page's 300 column edges ~38,000 records.
 */
export const BLOCK = 128;
export const SUM = 96;
/** 3: with the picks' ranks among the block's results (2 had none, 1 had blocks of 32 records). */
const VERSION = 3;
/** A block whose results belong to more than one segment: read record by record. */
export const MIXED = 0xffffffff;
const NONE = 0xff;

const FAILURES = new Set(['crash', 'timeout', 'checks_failed', 'invalid'].map((v) => Verdict.options.indexOf(v as Verdict)));
const KEEP = Verdict.options.indexOf('keep');
const OK = 0; // RunStatus.options[0] is 'ok' (checked in the test of this file's figures)

export interface BlockSum {
  /** The results' segment, 0 when the block has none, MIXED when several. */
  segment: number;
  results: number;
  keeps: number;
  failures: number;
  /** `committed` records not right after their run's result (a reconcile, a candidate). */
  displaced: number;
  /** Positions in the block, or -1: first lowest and highest primary, best keep lower/higher, first failure. */
  lo: number;
  hi: number;
  keepLo: number;
  keepHi: number;
  fail: number;
  /**
   * The same picks as ranks among the block's results (-1: none): a chart
   * mark's place in the segment is its block's first place plus its rank, so
   * a column taken whole from its summaries reads no block to place its marks.
   */
  loRank: number;
  hiRank: number;
  keepLoRank: number;
  keepHiRank: number;
  failRank: number;
  /** Whether a run of the block sets the best so far (a keep, an ok rebaseline), and the last value set (NaN: none). */
  hasBest: boolean;
  best: number;
  /** Run numbers of the block's results increase (the engine numbers runs in ledger order). */
  increasing: boolean;
  firstOffset: number;
  lastOffset: number;
  firstRun: number;
  lastRun: number;
  loVal: number;
  hiVal: number;
  keepLoVal: number;
  keepHiVal: number;
}

/**
 * The summary of records [start, start + BLOCK) of `v`; `prev` is the record
 * before the block (-1: none), to tell a `committed` record that follows its result.
 */
export function summarize(v: RecordViews, start: number): BlockSum {
  const s: BlockSum = {
    segment: 0, results: 0, keeps: 0, failures: 0, displaced: 0, lo: -1, hi: -1, keepLo: -1, keepHi: -1, fail: -1,
    loRank: -1, hiRank: -1, keepLoRank: -1, keepHiRank: -1, failRank: -1,
    hasBest: false, best: Number.NaN, increasing: true, firstOffset: 0, lastOffset: 0, firstRun: Number.NaN, lastRun: Number.NaN,
    loVal: Number.NaN, hiVal: Number.NaN, keepLoVal: Number.NaN, keepHiVal: Number.NaN,
  };
  const { buf, f64, u32 } = v;
  s.firstOffset = f64[start * 4 + 1] as number;
  s.lastOffset = f64[(start + BLOCK - 1) * 4 + 1] as number;
  for (let k = 0; k < BLOCK; k++) {
    const i = start + k;
    const kind = buf[i * REC];
    const runNo = f64[i * 4 + 3] as number;
    if (kind === COMMITTED) {
      if (i === 0 || buf[(i - 1) * REC] !== RESULT || f64[(i - 1) * 4 + 3] !== runNo) s.displaced++;
      continue;
    }
    if (kind !== RESULT) continue;
    const seg = u32[i * 8 + 1] as number;
    s.segment = s.results === 0 || s.segment === seg ? seg : MIXED;
    if (s.results > 0 && !(runNo > s.lastRun)) s.increasing = false;
    if (s.results === 0) s.firstRun = runNo;
    s.lastRun = runNo;
    const rank = s.results++;
    const x = f64[i * 4 + 2] as number;
    const verdict = buf[i * REC + 1] as number;
    // The chart's rules (model.ts chartBucket), run by run.
    if (verdict === KEEP) {
      s.keeps++;
      s.hasBest = true;
      s.best = x;
      if (!Number.isNaN(x)) {
        if (s.keepLo < 0 || x < s.keepLoVal) (s.keepLo = k), (s.keepLoRank = rank), (s.keepLoVal = x);
        if (s.keepHi < 0 || x > s.keepHiVal) (s.keepHi = k), (s.keepHiRank = rank), (s.keepHiVal = x);
      }
    } else if (!Number.isNaN(x) && buf[i * REC + 3] === 1 && buf[i * REC + 2] === OK) {
      s.hasBest = true;
      s.best = x;
    }
    if (FAILURES.has(verdict)) {
      s.failures++;
      if (s.fail < 0) (s.fail = k), (s.failRank = rank);
    }
    if (Number.isNaN(x)) continue;
    if (s.lo < 0 || x < s.loVal) (s.lo = k), (s.loRank = rank), (s.loVal = x);
    if (s.hi < 0 || x > s.hiVal) (s.hi = k), (s.hiRank = rank), (s.hiVal = x);
  }
  return s;
}

const idx = (n: number) => (n < 0 ? NONE : n);
const unidx = (n: number) => (n === NONE ? -1 : n);

export function encodeSum(s: BlockSum): Buffer {
  const b = Buffer.alloc(SUM);
  b[0] = VERSION;
  b[1] = (s.hasBest ? 1 : 0) | (s.increasing ? 2 : 0);
  b[2] = idx(s.lo);
  b[3] = idx(s.hi);
  b[4] = idx(s.keepLo);
  b[5] = idx(s.keepHi);
  b[6] = idx(s.fail);
  b[8] = s.results;
  b[9] = s.keeps;
  b[10] = s.failures;
  b[11] = s.displaced;
  b.writeUInt32LE(s.segment, 12);
  [s.loRank, s.hiRank, s.keepLoRank, s.keepHiRank, s.failRank].forEach((r, k) => (b[88 + k] = idx(r)));
  [s.firstOffset, s.lastOffset, s.firstRun, s.lastRun, s.loVal, s.hiVal, s.keepLoVal, s.keepHiVal, s.best].forEach((x, k) => b.writeDoubleLE(x, 16 + k * 8));
  return b;
}

/** The summary at `at` in `b` (`f64`: the same bytes as float64s, see doubles), or null when it is not one (a torn or foreign file). */
export function decodeSum(b: Buffer, at: number, f64: Float64Array | null = doubles(b)): BlockSum | null {
  if (b[at] !== VERSION) return null;
  // Called once per block by every dashboard call, mostly before the code is optimised: plain reads, no closures.
  const d = f64 ?? Float64Array.from({ length: 9 }, (_, i) => b.readDoubleLE(at + 16 + i * 8));
  const k = f64 ? (at + 16) / 8 : 0;
  const flags = b[at + 1] as number;
  const s: BlockSum = {
    segment: b.readUInt32LE(at + 12),
    results: b[at + 8] as number,
    keeps: b[at + 9] as number,
    failures: b[at + 10] as number,
    displaced: b[at + 11] as number,
    lo: unidx(b[at + 2] as number),
    hi: unidx(b[at + 3] as number),
    keepLo: unidx(b[at + 4] as number),
    keepHi: unidx(b[at + 5] as number),
    fail: unidx(b[at + 6] as number),
    loRank: unidx(b[at + 88] as number),
    hiRank: unidx(b[at + 89] as number),
    keepLoRank: unidx(b[at + 90] as number),
    keepHiRank: unidx(b[at + 91] as number),
    failRank: unidx(b[at + 92] as number),
    hasBest: (flags & 1) === 1,
    best: d[k + 8] as number,
    increasing: (flags & 2) === 2,
    firstOffset: d[k] as number,
    lastOffset: d[k + 1] as number,
    firstRun: d[k + 2] as number,
    lastRun: d[k + 3] as number,
    loVal: d[k + 4] as number,
    hiVal: d[k + 5] as number,
    keepLoVal: d[k + 6] as number,
    keepHiVal: d[k + 7] as number,
  };
  const counts = s.results <= BLOCK && s.keeps <= s.results && s.failures <= s.results && s.displaced <= BLOCK && s.lastOffset >= s.firstOffset;
  return counts && ranked(s.lo, s.loRank, s.results) && ranked(s.hi, s.hiRank, s.results) && ranked(s.keepLo, s.keepLoRank, s.results) && ranked(s.keepHi, s.keepHiRank, s.results) && ranked(s.fail, s.failRank, s.results) ? s : null;
}

/** A pick and its rank agree: both absent, or a rank among the results no later than the pick's place in the block. */
function ranked(pos: number, rank: number, results: number): boolean {
  return pos < 0 ? rank < 0 : rank >= 0 && rank <= pos && rank < results;
}

const NATIVE_LE = os.endianness() === 'LE';

/** The buffer's whole records as float64s, read in place (null: not aligned, or not a little-endian machine). */
export function doubles(b: Buffer): Float64Array | null {
  return NATIVE_LE && b.byteOffset % 8 === 0 ? new Float64Array(b.buffer, b.byteOffset, Math.floor(b.length / SUM) * (SUM / 8)) : null;
}

/** Summaries of the whole blocks of `v` from block `from` on, encoded. */
export function summarizeBlocks(v: RecordViews, from: number): Buffer {
  const out: Buffer[] = [];
  for (let b = from; (b + 1) * BLOCK <= v.count; b++) out.push(encodeSum(summarize(v, b * BLOCK)));
  return Buffer.concat(out);
}

/** Is record `i` of `v` an END record? */
export function isEnd(v: RecordViews, i: number): boolean {
  return v.buf[i * REC] === END;
}
