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
/** Blocks read at once (64 KB). */
const SPAN = 16;
const FAILURES = new Set(['crash', 'timeout', 'checks_failed', 'invalid'].map((v) => VERDICTS.indexOf(v as Verdict)));

/** A block's share of the segment: `count` results from segment position `start`; `sum` when it may be taken whole. */
interface Piece {
  block: number;
  start: number;
  count: number;
  sum: BlockSum | null;
}

/**
 * The index's records, a block read when one of its records is first asked
 * for, into one buffer the size of the index (allocated, not filled: only the
 * blocks asked for are read), so that a record is a typed-array lookup. A
 * chart reads the blocks its columns' edges fall in (a few hundred at most,
 * whatever the history's length) and, for its marks, single records (record).
 */
function blockReader(idxFd: number, count: number) {
  const buf = Buffer.allocUnsafeSlow(count * REC);
  const v = recordViews(buf);
  const loaded = new Uint8Array(Math.ceil(count / BLOCK));
  const single = new Set<number>();
  const fill = (from: number, len: number): void => {
    if (fs.readSync(idxFd, buf, from, len, from) !== len) throw new StaleIndex('the run index is shorter than its summary');
  };
  const ensure = (b: number): void => {
    if (loaded[b]) return;
    // A span of blocks per read: a chart's column edges touch blocks all over the index, and a read costs more than its bytes.
    const first = b - (b % SPAN);
    const from = first * BLOCK * REC;
    fill(from, Math.min(SPAN * BLOCK * REC, buf.length - from));
    loaded.fill(1, first, first + SPAN);
  };
  /** Block b's records, as index positions [first, end) of `v`. */
  const block = (b: number) => {
    ensure(b);
    return { first: b * BLOCK, end: Math.min(count, (b + 1) * BLOCK) };
  };
  /** Record `pos` alone (its block is not read for it). */
  const record = (pos: number): void => {
    if (loaded[Math.floor(pos / BLOCK)] || single.has(pos)) return;
    fill(pos * REC, REC);
    single.add(pos);
  };
  const kind = (pos: number) => (ensure(Math.floor(pos / BLOCK)), v.buf[pos * REC] as number);
  const byte = (pos: number, k: number) => (ensure(Math.floor(pos / BLOCK)), v.buf[pos * REC + k] as number);
  const f64 = (pos: number, k: number) => (ensure(Math.floor(pos / BLOCK)), v.f64[pos * 4 + k] as number);
  const segment = (pos: number) => (ensure(Math.floor(pos / BLOCK)), v.u32[pos * 8 + 1] as number);
  // `v` read directly is for the records of a block just asked for (block), or of a record (record): no check per field.
  return { block, record, kind, byte, f64, segment, v };
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
      p = [];
      for (let pos = first; pos < end; pos++) if (buf[pos * REC] === RESULT && u32[pos * 8 + 1] === segment) p.push(pos);
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
  c.r.record(pos);
  const { buf, f64, u32 } = c.r.v;
  const runNo = f64[pos * 4 + 3] as number;
  const placed = buf[pos * REC] === RESULT && u32[pos * 8 + 1] === c.segment && (!runs || (runNo >= runs[0] && runNo <= runs[1]));
  if (!placed) throw new StaleIndex(`the run index summary places a run at record ${pos} wrongly`);
  const x = f64[pos * 4 + 2] as number;
  const b = (k: number) => buf[pos * REC + k] as number;
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
    const ps = c.posOf(pc.block); // the block is read: its records are read in place
    const { buf, f64 } = c.r.v;
    for (let j = Math.max(start, pc.start); j < Math.min(end, pc.start + pc.count); j++) {
      const pos = ps[j - pc.start] as number;
      const x = f64[pos * 4 + 2] as number;
      const v = Number.isNaN(x) ? null : x;
      const verdict = buf[pos * REC + 1] as number;
      // The same rule as the state: a keep sets the best, a rebaseline re-measures it.
      if (verdict === KEEP) acc.best = v;
      else if (v !== null && buf[pos * REC + 3] === 1 && buf[pos * REC + 2] === OK) acc.best = v;
      if (verdict === KEEP && v !== null && (!keep || better(direction, v, (keep as Pick).v))) keep = { pos, v, j };
      if (FAILURES.has(verdict)) {
        failures++;
        if (!fail) fail = { pos, v: 0, j };
      }
      if (v === null) continue;
      // A pick is made only when it wins: this loop runs record by record.
      if (!lo || v < (lo as Pick).v) lo = { pos, v, j };
      if (!hi || v > (hi as Pick).v) hi = { pos, v, j };
      range(v, v);
    }
  }
  const at = (p: Pick | null) => (p ? show(p) : null);
  // A column that starts a block taken whole: its first run is in the summary.
  const head = c.pieces[first] as Piece;
  const firstRun = head.start === start && head.sum ? head.sum.firstRun : f64At(c.r, c.posAt(start), 3);
  return { first: runId(firstRun), from: start + 1, to: end, count: end - start, lo: at(lo), hi: at(hi), keep: at(keep), fail: at(fail), best: acc.best, failures };
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
