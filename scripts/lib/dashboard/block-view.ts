// The chart and the table drawn from the run index's summary (runs.sum): a
// chart column takes whole blocks from their summaries and reads the records
// of the blocks its edges fall in; the table reads the blocks of the runs it
// lists (and skips blocks with no keep when it looks for earlier keeps). The
// figures are the ones model.ts computes run by run (the test compares them).
import fs from 'node:fs';
import type { Direction } from '../schema.ts';
import { runId } from '../paths.ts';
import { COMMITTED, REC, recordViews, RESULT } from './records.ts';
import { BLOCK, MIXED, type BlockSum } from './run-summary.ts';
import { commitAt, lineReader, resultAt, StaleIndex } from './run-index.ts';
import { runPoint } from './result-line.ts';
import { RunStatus, Verdict } from '../schema.ts';
import type { ChartBucket, ChartModel, SegmentViews, TableRows } from './model.ts';
import { runMark, type RunMark, type RunPoint } from './series.ts';

const VERDICTS = Verdict.options;
const STATUSES = RunStatus.options;
const KEEP = VERDICTS.indexOf('keep');
const OK = STATUSES.indexOf('ok');
/** Blocks held at once (64 KB, reused): a chart walks its columns in order, so a few suffice. */
const SLOTS = 16;
const FAILURES = new Set(['crash', 'timeout', 'checks_failed', 'invalid'].map((v) => VERDICTS.indexOf(v as Verdict)));

/** A block's share of the segment: `count` results from segment position `start`; `sum` when it may be taken whole. */
interface Piece {
  block: number;
  start: number;
  count: number;
  sum: BlockSum | null;
}

/**
 * The index's records, a block read when one of its records is asked for,
 * into one of SLOTS slots of a small buffer used over and over (the oldest
 * block read gives its slot up), so that a record is a typed-array lookup.
 * A chart reads the blocks its columns' edges fall in and the blocks of its
 * marks: a few hundred, whatever the history's length. Reused memory, not
 * the index's size in fresh memory: on the machines measured, a page touched
 * for the first time cost more than reading it (a 100,000-run index read
 * whole was 860 such pages).
 */
function blockReader(idxFd: number, count: number) {
  const mem = Buffer.allocUnsafeSlow(SLOTS * BLOCK * REC);
  const v = recordViews(mem);
  const slotOf = new Int32Array(Math.ceil(count / BLOCK)).fill(-1);
  const held = new Int32Array(SLOTS).fill(-1);
  let next = 0;
  /** Block b's slot, the block read into it if it is not held. */
  const slot = (b: number): number => {
    const had = slotOf[b] as number;
    if (had >= 0) return had;
    const s = next;
    next = (next + 1) % SLOTS;
    if ((held[s] as number) >= 0) slotOf[held[s] as number] = -1;
    held[s] = -1;
    const len = Math.min(BLOCK, count - b * BLOCK) * REC;
    if (fs.readSync(idxFd, mem, s * BLOCK * REC, len, b * BLOCK * REC) !== len) throw new StaleIndex('the run index is shorter than its summary');
    held[s] = b;
    slotOf[b] = s;
    return s;
  };
  /** Where record `pos` is in `v` (its block read if need be); valid until the next block is read. */
  const at = (pos: number): number => {
    const b = Math.floor(pos / BLOCK);
    return slot(b) * BLOCK + (pos - b * BLOCK);
  };
  /** Block b's records, as index positions [first, end). */
  const block = (b: number) => ({ first: b * BLOCK, end: Math.min(count, (b + 1) * BLOCK) });
  const kind = (pos: number) => v.buf[at(pos) * REC] as number;
  const byte = (pos: number, k: number) => v.buf[at(pos) * REC + k] as number;
  const f64 = (pos: number, k: number) => v.f64[at(pos) * 4 + k] as number;
  const segment = (pos: number) => v.u32[at(pos) * 8 + 1] as number;
  // `v` read directly is at `at(pos)`, or from `slot(b) * BLOCK` for block b, with no block read in between.
  return { block, slot, at, kind, byte, f64, segment, v };
}

type Reader = ReturnType<typeof blockReader>;
const kindAt = (r: Reader, pos: number) => r.kind(pos);
const f64At = (r: Reader, pos: number, k: number) => r.f64(pos, k);
const byteAt = (r: Reader, pos: number, k: number) => r.byte(pos, k);

/**
 * The segment's blocks in order, and the results of other segments counted;
 * null when the run numbers do not increase through the index (then a
 * `committed` record could not be matched to its run without reading every record).
 */
function piecesOf(sums: readonly BlockSum[], r: Reader, count: number, segment: number): { pieces: Piece[]; n: number; earlier: number } | null {
  const pieces: Piece[] = [];
  let n = 0;
  let earlier = 0;
  let prevRun = -Infinity;
  const blocks = Math.ceil(count / BLOCK);
  for (let b = 0; b < blocks; b++) {
    const s = b < sums.length ? (sums[b] as BlockSum) : null;
    if (s && s.segment !== MIXED) {
      if (s.results > 0) {
        if (!s.increasing || !(s.firstRun > prevRun)) return null;
        prevRun = s.lastRun;
      }
      if (s.results > 0 && s.segment === segment) pieces.push({ block: b, start: n, count: s.results, sum: s });
      else earlier += s.results;
      if (s.segment === segment) n += s.results;
      continue;
    }
    const { first, end } = r.block(b);
    let c = 0;
    for (let pos = first; pos < end; pos++) {
      if (r.kind(pos) !== RESULT) continue;
      const runNo = r.f64(pos, 3);
      if (!(runNo > prevRun)) return null;
      prevRun = runNo;
      if (r.segment(pos) === segment) c++;
      else earlier++;
    }
    if (c > 0) pieces.push({ block: b, start: n, count: c, sum: null });
    n += c;
  }
  return { pieces, n, earlier };
}

/** `committed` records that do not follow their run's result, by run number (the last one wins, as in indexSeries). */
function displacedCommits(sums: readonly BlockSum[], r: Reader, count: number): Map<number, number> {
  const out = new Map<number, number>();
  for (let b = 0; b * BLOCK < count; b++) {
    if (b < sums.length && (sums[b] as BlockSum).displaced === 0) continue;
    const { first, end } = r.block(b);
    for (let pos = first; pos < end; pos++) {
      if (r.kind(pos) !== COMMITTED) continue;
      const runNo = r.f64(pos, 3);
      if (pos === 0 || kindAt(r, pos - 1) !== RESULT || f64At(r, pos - 1, 3) !== runNo) out.set(runNo, pos);
    }
  }
  return out;
}

const better = (dir: Direction, a: number, b: number): boolean => (dir === 'lower' ? a < b : a > b);

/**
 * The chart and the table of `segment` from the summary; null when the
 * summary cannot answer (the caller reads the whole index). `count` records
 * of the index count, `idxFd` and `ledgerFd` are open files.
 */
export function blockViews(sums: readonly BlockSum[], count: number, segment: number, idxFd: number, ledgerFd: number): SegmentViews | null {
  const r = blockReader(idxFd, count);
  const seg = piecesOf(sums, r, count, segment);
  if (!seg) return null;
  const { pieces, n, earlier } = seg;
  const displaced = displacedCommits(sums, r, count);
  const lineAt = lineReader(ledgerFd);
  const positions = new Map<number, number[]>();
  /** The block's results of the segment, as index positions. */
  const posOf = (b: number): number[] => {
    let p = positions.get(b);
    if (!p) {
      const { first, end } = r.block(b);
      const { buf, u32 } = r.v;
      const shift = r.slot(b) * BLOCK - first;
      p = [];
      for (let pos = first; pos < end; pos++) if (buf[(pos + shift) * REC] === RESULT && u32[(pos + shift) * 8 + 1] === segment) p.push(pos);
      positions.set(b, p);
    }
    return p;
  };
  /** The piece holding segment position j (a binary search: the pieces are in order). */
  const pieceAt = (j: number): Piece => {
    let lo = 0;
    let hi = pieces.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((pieces[mid] as Piece).start <= j) lo = mid;
      else hi = mid - 1;
    }
    return pieces[lo] as Piece;
  };
  const posAt = (j: number): number => {
    const pc = pieceAt(j);
    return posOf(pc.block)[j - pc.start] as number;
  };
  const cache = new Map<number, RunPoint>();
  const point = (j: number): RunPoint => {
    const hit = cache.get(j);
    if (hit) return hit;
    const pos = posAt(j);
    const runNo = f64At(r, pos, 3);
    const line = resultAt(lineAt(f64At(r, pos, 1)));
    if (!line || Number(line.run_id.slice(1)) !== runNo) throw new StaleIndex(`the ledger line of run ${runId(runNo)} moved`);
    let at = pos + 1 < count && kindAt(r, pos + 1) === COMMITTED && f64At(r, pos + 1, 3) === runNo ? pos + 1 : -1;
    const d = displaced.get(runNo);
    if (d !== undefined && d > at) at = d;
    const p = runPoint(line, j + 1, at < 0 ? null : commitAt(lineAt(f64At(r, at, 1))));
    cache.set(j, p);
    return p;
  };
  return {
    length: n,
    earlier,
    chart: (direction, columns, listed) => chartOf({ pieces, n, r, segment, posOf, posAt, point }, direction, columns, listed),
    table: (cap, keepsCap) => tableOf({ pieces, n, r, posOf, point }, cap, keepsCap),
  };
}

interface Ctx {
  pieces: Piece[];
  n: number;
  r: Reader;
  segment: number;
  posOf(b: number): number[];
  posAt(j: number): number;
  point(j: number): RunPoint;
}

/** A chosen run: its index position and its segment position; `runs`: the run numbers it may have (placed by a summary). */
interface Pick {
  pos: number;
  v: number;
  j: number;
  runs?: readonly [number, number];
}

/** A summary's pick of rank `rank` in its block: the run numbers increase through the block, so they bound its run's. */
function pickOf(pc: Piece, s: BlockSum, pos: number, v: number, rank: number): Pick {
  return { pos: pc.block * BLOCK + pos, v, j: pc.start + rank, runs: [s.firstRun + rank, s.lastRun - (s.results - 1 - rank)] };
}

interface Acc {
  best: number | null;
  min: number | null;
  max: number | null;
}

/**
 * Segment position j, index record `pos`, as a mark (model.ts buildChart):
 * the record alone is read. A record that is not one of the segment's results
 * means the summary placed it wrongly: the caller reads the whole ledger.
 */
function markAt(c: Ctx, { j, pos, runs }: Pick): RunMark {
  const i = c.r.at(pos);
  const { buf, f64, u32 } = c.r.v;
  const runNo = f64[i * 4 + 3] as number;
  const placed = buf[i * REC] === RESULT && u32[i * 8 + 1] === c.segment && (!runs || (runNo >= runs[0] && runNo <= runs[1]));
  if (!placed) throw new StaleIndex(`the run index summary places a run at record ${pos} wrongly`);
  const x = f64[i * 4 + 2] as number;
  const b = (k: number) => buf[i * REC + k] as number;
  return runMark(j + 1, runId(runNo), VERDICTS[b(1)] as Verdict, STATUSES[b(2)] as RunStatus, Number.isNaN(x) ? null : x, b(3) === 1);
}

function chartOf(c: Ctx, direction: Direction, columns: number, listed: ReadonlySet<number>): ChartModel {
  const cols = Math.max(1, Math.floor(columns));
  const per = Math.max(1, Math.ceil(c.n / cols));
  const show = (p: Pick): RunMark => {
    if (per !== 1 && !listed.has(p.j)) return markAt(c, p);
    // A run the table lists is read whole: its block is read, and must place it where the summary did.
    if (c.posAt(p.j) !== p.pos) throw new StaleIndex(`the run index summary places run ${p.j + 1} wrongly`);
    return c.point(p.j);
  };
  const buckets: ChartBucket[] = [];
  const acc: Acc = { best: null, min: null, max: null };
  let first = 0;
  for (let start = 0; start < c.n; start += per) {
    while ((c.pieces[first] as Piece).start + (c.pieces[first] as Piece).count <= start) first++;
    buckets.push(bucketOf(c, direction, start, Math.min(c.n, start + per), first, acc, show));
  }
  const runAt = (j: number) => runId(f64At(c.r, c.posAt(j), 3));
  return { runs: c.n, per_bucket: per, buckets, min: acc.min, max: acc.max, first_run: c.n ? runAt(0) : null, last_run: c.n ? runAt(c.n - 1) : null };
}

/** One column, runs [start, end) of the segment: whole blocks from their summaries, the edges run by run. */
function bucketOf(c: Ctx, direction: Direction, start: number, end: number, first: number, acc: Acc, show: (p: Pick) => RunMark): ChartBucket {
  let lo: Pick | null = null;
  let hi: Pick | null = null;
  let keep: Pick | null = null;
  let fail: Pick | null = null;
  let failures = 0;
  const range = (loV: number, hiV: number) => {
    if (acc.min === null || loV < acc.min) acc.min = loV;
    if (acc.max === null || hiV > acc.max) acc.max = hiV;
  };
  for (let q = first; q < c.pieces.length && (c.pieces[q] as Piece).start < end; q++) {
    const pc = c.pieces[q] as Piece;
    const s = pc.sum;
    if (s && pc.start >= start && pc.start + pc.count <= end) {
      // The whole block from its summary: its picks placed by their ranks, no record read.
      if (s.hasBest) acc.best = Number.isNaN(s.best) ? null : s.best;
      const [k, kr, kv] = direction === 'lower' ? [s.keepLo, s.keepLoRank, s.keepLoVal] : [s.keepHi, s.keepHiRank, s.keepHiVal];
      if (k >= 0 && (!keep || better(direction, kv, (keep as Pick).v))) keep = pickOf(pc, s, k, kv, kr);
      if (s.fail >= 0 && !fail) fail = pickOf(pc, s, s.fail, 0, s.failRank);
      failures += s.failures;
      if (s.lo < 0) continue;
      if (!lo || s.loVal < (lo as Pick).v) lo = pickOf(pc, s, s.lo, s.loVal, s.loRank);
      if (!hi || s.hiVal > (hi as Pick).v) hi = pickOf(pc, s, s.hi, s.hiVal, s.hiRank);
      range(s.loVal, s.hiVal);
      continue;
    }
    const e = edgeOf(c, pc, Math.max(start, pc.start), Math.min(end, pc.start + pc.count), direction);
    if (e.hasBest) acc.best = e.best;
    if (e.keep && (!keep || better(direction, e.keep.v, (keep as Pick).v))) keep = e.keep;
    if (e.fail && !fail) fail = e.fail;
    failures += e.failures;
    if (!e.lo || !e.hi) continue;
    if (!lo || e.lo.v < (lo as Pick).v) lo = e.lo;
    if (!hi || e.hi.v > (hi as Pick).v) hi = e.hi;
    range(e.lo.v, e.hi.v);
  }
  const at = (p: Pick | null) => (p ? show(p) : null);
  // A column that starts a block taken whole: its first run is in the summary.
  const head = c.pieces[first] as Piece;
  const firstRun = head.start === start && head.sum ? head.sum.firstRun : f64At(c.r, c.posAt(start), 3);
  return { first: runId(firstRun), from: start + 1, to: end, count: end - start, lo: at(lo), hi: at(hi), keep: at(keep), fail: at(fail), best: acc.best, failures };
}

const IS_FAILURE = Uint8Array.from(VERDICTS, (_, k) => (FAILURES.has(k) ? 1 : 0));

/**
 * Segment positions [from, to) of piece `pc`, record by record (a column's
 * edge falls in its block). A chart reads some 30,000 records this way
 * (two hundred edges), mostly before the code is optimised, where every call
 * and every double stored costs: the picks are kept as positions and values
 * in locals and made objects once, after the loop.
 */
function edgeOf(c: Ctx, pc: Piece, from: number, to: number, direction: Direction) {
  const ps = c.posOf(pc.block);
  // The block's records in place: its slot, shifted from index positions (no other block is read in this loop).
  const shift = c.r.slot(pc.block) * BLOCK - pc.block * BLOCK;
  const { buf, f64 } = c.r.v;
  let lo = -1;
  let hi = -1;
  let keep = -1;
  let fail = -1;
  let loV = 0;
  let hiV = 0;
  let keepV = 0;
  let failures = 0;
  let setsBest = -1;
  const lower = direction === 'lower';
  for (let j = from; j < to; j++) {
    const pos = (ps[j - pc.start] as number) + shift;
    const at = pos * REC;
    const x = f64[pos * 4 + 2] as number;
    const verdict = buf[at + 1] as number;
    const valued = x === x; // not NaN
    // The same rule as the state: a keep sets the best, a rebaseline re-measures it.
    if (verdict === KEEP || (valued && buf[at + 3] === 1 && buf[at + 2] === OK)) setsBest = j;
    if (verdict === KEEP && valued && (keep < 0 || (lower ? x < keepV : x > keepV))) (keep = j), (keepV = x);
    if (IS_FAILURE[verdict] === 1) {
      failures++;
      if (fail < 0) fail = j;
    }
    if (!valued) continue;
    if (lo < 0 || x < loV) (lo = j), (loV = x);
    if (hi < 0 || x > hiV) (hi = j), (hiV = x);
  }
  const pick = (j: number, v: number): Pick | null => (j < 0 ? null : { pos: ps[j - pc.start] as number, v, j });
  const bestX = setsBest < 0 ? Number.NaN : (f64[((ps[setsBest - pc.start] as number) + shift) * 4 + 2] as number);
  return { lo: pick(lo, loV), hi: pick(hi, hiV), keep: pick(keep, keepV), fail: pick(fail, 0), failures, hasBest: setsBest >= 0, best: Number.isNaN(bestX) ? null : bestX };
}

/** The last `cap` runs plus the newest `keepsCap` earlier keeps, oldest first (model.ts tableRows). */
function tableOf(c: Omit<Ctx, 'posAt' | 'segment'>, cap: number, keepsCap: number): TableRows {
  const cut = Math.max(0, c.n - cap);
  const keeps: number[] = [];
  for (let q = c.pieces.length - 1; q >= 0 && keeps.length < keepsCap; q--) {
    const pc = c.pieces[q] as Piece;
    if (pc.start >= cut || (pc.sum && pc.sum.keeps === 0)) continue;
    const ps = c.posOf(pc.block);
    for (let j = Math.min(cut, pc.start + pc.count) - 1; j >= pc.start && keeps.length < keepsCap; j--) {
      if (byteAt(c.r, ps[j - pc.start] as number, 1) === KEEP) keeps.push(j);
    }
  }
  const rows = keeps.reverse().map((j) => c.point(j));
  for (let j = cut; j < c.n; j++) rows.push(c.point(j));
  return { rows, recent: c.n - cut, omitted: c.n - rows.length };
}
