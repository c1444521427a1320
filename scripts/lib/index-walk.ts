// One pass over the run index's records (runs.idx) for the report and
// finalize: the results counted by verdict, every keep with the best before it
// and the record of its `committed` event, and the newest dead ends. Columns
// of numbers, no object per record or per keep: at 100,000 runs this loop is
// most of what a report or a finalize does beyond starting, and it runs
// once, so it is written to be cheap before V8 has optimised it (one
// function, locals, no call per record).
import { COMMITTED, REC, RESULT, type RecordViews } from './dashboard/records.ts';
import { RunStatus, Verdict } from './schema.ts';

const VERDICT_COUNT = Verdict.options.length;
const KEEP = Verdict.options.indexOf('keep');
const DISCARD = Verdict.options.indexOf('discard');
const OK = RunStatus.options.indexOf('ok');

export interface IndexWalk {
  /** Results per verdict (Verdict.options order), and those that were rebaselines. */
  byVerdict: number[];
  rebaselines: number;
  /** Keeps in ledger order: `keeps` record positions (`keepCount` of them). */
  keepCount: number;
  keeps: Int32Array;
  /** The best before each keep (NaN: none, or a baseline), keptChanges' rule. */
  froms: Float64Array;
  /** 1 for a segment's first keep (its baseline), else 0. */
  baseline: Uint8Array;
  /**
   * The record of each keep's `committed` event (-1: none): the record right
   * after its result, unless a later one logged elsewhere names the same run
   * (the last such wins), as a reconcile or a candidate writes it.
   */
  events: Int32Array;
  /** Results that are neither keeps nor rebaselines, and the newest `deadCap` of them (record positions, oldest first). */
  deadTotal: number;
  dead: number[];
}

/**
 * keptChanges' rule over the records in ledger order: a segment's first keep
 * is its baseline, each later keep replaced the best before it (the last
 * keep, or an ok rebaseline's measurement).
 */
export function walkIndex(v: RecordViews, deadCap: number): IndexWalk {
  const { buf, f64, u32, count } = v;
  const byVerdict = new Array<number>(VERDICT_COUNT).fill(0);
  let discards = 0;
  let rebaselines = 0;
  let deadRebaselines = 0;
  // Grown as keeps come; trimmed after.
  let keeps = new Int32Array(Math.max(16, count >> 3));
  let froms = new Float64Array(keeps.length);
  let baseline = new Uint8Array(keeps.length);
  let events = new Int32Array(keeps.length);
  let n = 0;
  // Committed events not right after their run's result: run number → record (the last one wins).
  let displaced: Map<number, number> | null = null;
  let segment = -1;
  let best = Number.NaN;
  let based = false;
  // p: the record's first byte, q: its segment's u32.
  for (let i = 0, p = 0, q = 1; i < count; i++, p += REC, q += 8) {
    // Most records are plain discards: counted, their segment followed, nothing else.
    if (buf[p] === RESULT && buf[p + 1] === DISCARD && buf[p + 3] === 0) {
      discards++;
      if (u32[q] !== segment) {
        segment = u32[q] as number;
        best = Number.NaN;
        based = false;
      }
      continue;
    }
    const kind = buf[p];
    if (kind === COMMITTED) {
      const runNo = f64[i * 4 + 3] as number;
      if (i === 0 || buf[p - REC] !== RESULT || f64[i * 4 - 1] !== runNo) (displaced ??= new Map()).set(runNo, i);
      continue;
    }
    if (kind !== RESULT) continue;
    const verdict = buf[p + 1] as number;
    const rebaseline = buf[p + 3] === 1;
    byVerdict[verdict] = (byVerdict[verdict] as number) + 1;
    if (u32[q] !== segment) {
      segment = u32[q] as number;
      best = Number.NaN;
      based = false;
    }
    const x = f64[i * 4 + 2] as number;
    if (rebaseline) rebaselines++;
    if (verdict === KEEP) {
      if (n === keeps.length) {
        keeps = grow(keeps, new Int32Array(n * 2));
        froms = grow(froms, new Float64Array(n * 2));
        baseline = grow(baseline, new Uint8Array(n * 2));
        events = grow(events, new Int32Array(n * 2));
      }
      keeps[n] = i;
      froms[n] = based ? best : Number.NaN;
      baseline[n] = based ? 0 : 1;
      events[n] = i + 1 < count && buf[p + REC] === COMMITTED && f64[i * 4 + 7] === f64[i * 4 + 3] ? i + 1 : -1;
      n++;
      based = true;
      best = x;
    } else if (rebaseline) {
      deadRebaselines++;
      if (buf[p + 2] === OK && x === x) best = x;
    }
  }
  byVerdict[DISCARD] = (byVerdict[DISCARD] as number) + discards;
  if (displaced) {
    for (let j = 0; j < n; j++) {
      const d = displaced.get(f64[(keeps[j] as number) * 4 + 3] as number);
      if (d !== undefined && d > (events[j] as number)) events[j] = d;
    }
  }
  const results = byVerdict.reduce((a, b) => a + b, 0);
  return {
    byVerdict, rebaselines, keepCount: n, keeps: keeps.subarray(0, n), froms: froms.subarray(0, n), baseline: baseline.subarray(0, n), events: events.subarray(0, n),
    deadTotal: results - n - deadRebaselines, dead: newestDead(v, deadCap),
  };
}

/** The newest `cap` results that are neither keeps nor rebaselines (record positions, oldest first), read backwards from the end. */
function newestDead(v: RecordViews, cap: number): number[] {
  const out: number[] = [];
  for (let i = v.count - 1; i >= 0 && out.length < cap; i--) {
    if (v.buf[i * REC] === RESULT && v.buf[i * REC + 1] !== KEEP && v.buf[i * REC + 3] !== 1) out.push(i);
  }
  return out.reverse();
}

function grow<T extends Int32Array | Float64Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
