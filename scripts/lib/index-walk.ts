// One pass over the run index's records (runs.idx) for the report and
// finalize: the results counted by verdict, every keep with its run, the best
// before it and where its `committed` event is, and the newest dead ends. Columns
// of numbers, no object per record or per keep: at 100,000 runs this loop is
// most of what a report or a finalize does beyond starting, and it runs
// once, so it is written to be cheap before V8 has optimised it (one
// function, locals, no call per record).
import { COMMITTED, header, REC, RESULT, type RecordViews } from './dashboard/records.ts';
import { RunStatus, Verdict } from './schema.ts';

const VERDICT_COUNT = Verdict.options.length;
const KEEP = Verdict.options.indexOf('keep');
const DISCARD = Verdict.options.indexOf('discard');
const OK = RunStatus.options.indexOf('ok');
/** A discard measured ok, not a rebaseline: most of a long history. */
const PLAIN_DISCARD = header(RESULT, DISCARD, OK, 0);

export interface IndexWalk {
  /** Results per verdict (Verdict.options order), and those that were rebaselines. */
  byVerdict: number[];
  rebaselines: number;
  /** Keeps in ledger order (`keepCount` of them): their record positions and run numbers. */
  keepCount: number;
  keeps: Int32Array;
  runs: Float64Array;
  /** The best before each keep (NaN: none, or a baseline), keptChanges' rule. */
  froms: Float64Array;
  /** 1 for a segment's first keep (its baseline), else 0. */
  baseline: Uint8Array;
  /**
   * The ledger offset of each keep's `committed` event (-1: none): the record
   * right after its result, unless a later one logged elsewhere names the
   * same run (the last such wins), as a reconcile or a candidate writes it.
   */
  events: Float64Array;
  /** The first keep whose run number is not above the keep's before it, and the first with no committed event (-1: none). */
  disorder: number;
  unevented: number;
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
  // At most one keep per record (the pages past the keeps are never touched); trimmed after.
  const keeps = new Int32Array(count);
  const runs = new Float64Array(count);
  const froms = new Float64Array(count);
  const baseline = new Uint8Array(count);
  const events = new Float64Array(count);
  let n = 0;
  let disorder = -1;
  let unevented = -1;
  // Committed events not right after their run's result: run number → record (the last one wins).
  let displaced: Map<number, number> | null = null;
  let segment = -1;
  let best = Number.NaN;
  let based = false;
  // p: the record's first byte, q: its first word (header()), q + 1 its segment; its float64s from f64[i * 4 + 1].
  for (let i = 0, p = 0, q = 0; i < count; i++, p += REC, q += 8) {
    // Most records are plain discards (measured, not better): counted, their segment followed, nothing else.
    if (u32[q] === PLAIN_DISCARD) {
      discards++;
      if (u32[q + 1] !== segment) {
        segment = u32[q + 1] as number;
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
    if (u32[q + 1] !== segment) {
      segment = u32[q + 1] as number;
      best = Number.NaN;
      based = false;
    }
    const x = f64[i * 4 + 2] as number;
    if (rebaseline) rebaselines++;
    if (verdict === KEEP) {
      const runNo = f64[i * 4 + 3] as number;
      // The engine numbers runs upward through the ledger; a keep commits before it is done (its event follows).
      if (n > 0 && !(runNo > (runs[n - 1] as number)) && disorder < 0) disorder = n;
      const evented = i + 1 < count && buf[p + REC] === COMMITTED && f64[i * 4 + 7] === runNo;
      if (!evented && unevented < 0) unevented = n;
      keeps[n] = i;
      runs[n] = runNo;
      froms[n] = based ? best : Number.NaN;
      baseline[n] = based ? 0 : 1;
      events[n] = evented ? (f64[i * 4 + 5] as number) : -1;
      n++;
      based = true;
      best = x;
    } else if (rebaseline) {
      deadRebaselines++;
      if (buf[p + 2] === OK && x === x) best = x;
    }
  }
  byVerdict[DISCARD] = (byVerdict[DISCARD] as number) + discards;
  if (displaced) unevented = redirect(f64, displaced, runs.subarray(0, n), events);
  const results = byVerdict.reduce((a, b) => a + b, 0);
  return {
    byVerdict, rebaselines, keepCount: n, keeps: keeps.subarray(0, n), runs: runs.subarray(0, n), froms: froms.subarray(0, n), baseline: baseline.subarray(0, n),
    events: events.subarray(0, n), disorder, unevented, deadTotal: results - n - deadRebaselines, dead: newestDead(v, deadCap),
  };
}

/** Keeps whose committed event was logged again later (or only later) take that one; the first keep still without one (-1: none). */
function redirect(f64: Float64Array, displaced: Map<number, number>, runs: Float64Array, events: Float64Array): number {
  let unevented = -1;
  for (let j = 0; j < runs.length; j++) {
    const d = displaced.get(runs[j] as number);
    const at = d === undefined ? -1 : (f64[d * 4 + 1] as number);
    if (at > (events[j] as number)) events[j] = at;
    if (events[j] === -1 && unevented < 0) unevented = j;
  }
  return unevented;
}

/** The newest `cap` results that are neither keeps nor rebaselines (record positions, oldest first), read backwards from the end. */
function newestDead(v: RecordViews, cap: number): number[] {
  const out: number[] = [];
  for (let i = v.count - 1; i >= 0 && out.length < cap; i--) {
    if (v.buf[i * REC] === RESULT && v.buf[i * REC + 1] !== KEEP && v.buf[i * REC + 3] !== 1) out.push(i);
  }
  return out.reverse();
}
