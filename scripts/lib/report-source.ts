// What a report lists, gathered two ways with one result. Fast: the run index
// (runs.idx, the dashboard's cache of every result's verdict, primary and
// offset) gives the counts and which runs are listed; only the listed runs'
// lines are parsed, and a byte scan of the ledger finds the config lines, the
// terminated events and the hypotheses. Whole: every line parsed with zod, the
// way to go when the index is missing a piece or does not match the ledger
// (a line read back is not the run the index names). The lists are capped (a
// person reads a report; 10,000 keeps help no one): the newest of each, with
// exact counts.
import fs from 'node:fs';
import { ConfigLine, EventLine, type LedgerLine, type Verdict, Verdict as VerdictSchema } from './schema.ts';
import type { Experiment } from './experiment-data.ts';
import { readLedger } from './ledger.ts';
import { readDashboardLines } from './dashboard/load.ts';
import { commitAt, dropIndex, jsonLines, lineBytesReader, resultAt, runIndexFile, StaleIndex, updateIndex } from './dashboard/run-index.ts';
import { writeSummary } from './dashboard/summary-index.ts';
import { recordViews, type RecordViews } from './dashboard/records.ts';
import { walkIndex, type IndexWalk } from './index-walk.ts';
import { runId } from './paths.ts';
import { adoptedBaseline, changePct, deadEnds, hypotheses, isChange, keptChanges, type DeadEnd, type Hypothesis, type KeptChange } from './report-lists.ts';

/** The newest kept changes, dead ends and hypotheses a report lists. */
export const REPORT_CAPS = { kept: 50, dead_ends: 30, hypotheses: 30 } as const;
export type Caps = { kept: number; dead_ends: number; hypotheses: number };

export interface ReportSource {
  segments: number;
  start: string | null;
  runs: { total: number; by_verdict: Record<Verdict, number>; rebaselines: number };
  /** The newest `caps.kept` keeps, oldest first. */
  kept: KeptChange[];
  /** Every keep, and those that are changes (not a segment's baseline without files of its own). */
  kept_total: number;
  changes_total: number;
  dead_ends: DeadEnd[];
  dead_ends_total: number;
  hypotheses: Hypothesis[];
  hypotheses_total: number;
  /** Data of the terminated events after the last config line, in ledger order. */
  terminated: Record<string, unknown>[];
  warnings: string[];
}

const newest = <T>(xs: T[], cap: number): T[] => (xs.length > cap ? xs.slice(xs.length - cap) : xs);

/** Every line parsed (the reference the fast way must agree with). */
export function wholeSource(exp: Experiment, caps: Caps): ReportSource {
  const read = readLedger(exp.paths.ledger);
  const lines = read.lines;
  const configs = lines.filter((l) => l.type === 'config');
  const results = lines.filter((l) => l.type === 'result');
  const byVerdict: Record<Verdict, number> = { keep: 0, discard: 0, crash: 0, timeout: 0, checks_failed: 0, invalid: 0 };
  for (const r of results) byVerdict[r.verdict]++;
  const lastConfig = lines.reduce((i, l, idx) => (l.type === 'config' ? idx : i), -1);
  const terminated = lines.slice(lastConfig + 1).flatMap((l) => (l.type === 'event' && l.event === 'terminated' ? [l.data] : []));
  const kept = keptChanges(lines);
  const dead = deadEnds(lines);
  const hyps = hypotheses(lines);
  return {
    segments: configs.length,
    start: configs[0]?.base ?? null,
    runs: { total: results.length, by_verdict: byVerdict, rebaselines: results.filter((r) => r.rebaseline).length },
    kept: newest(kept, caps.kept),
    kept_total: kept.length,
    changes_total: kept.filter(isChange).length,
    dead_ends: newest(dead, caps.dead_ends),
    dead_ends_total: dead.length,
    hypotheses: newest(hyps, caps.hypotheses),
    hypotheses_total: hyps.length,
    terminated,
    warnings: [...read.warnings],
  };
}

/** The index's record of a line that is not what it names: the index is dropped, the whole ledger read. */
export class Mismatch extends Error {}

/** What the report needs beyond the lists: the terminated events of a termination by `by` (null: none asked). */
export interface Want {
  terminatedBy: string | null;
}

/** The ledger opened through its run index: the records, and its lines read back by offset (JSON, or bytes). */
export interface Indexed {
  recs: Buffer;
  end: number;
  warnings: string[];
  fd: number;
  at: (offset: number) => unknown;
  bytesAt: (offset: number) => Buffer;
}

/**
 * `fn` over the run index brought up to the ledger's end, when it describes
 * the same lines as the state; null when it cannot answer (a Mismatch thrown
 * by `fn` drops the index: the caller reads every line).
 */
export function throughIndex<T>(exp: Experiment, fn: (ix: Indexed) => T): T | null {
  let idx;
  try {
    const had = fileSize(runIndexFile(exp.paths));
    idx = updateIndex(exp.paths, (from) => readDashboardLines(exp.paths.ledger, from), { summary: false });
    // Records this call added: the dashboard's summary of the index (runs.sum) is brought along, as the dashboard does.
    if (idx.kind === 'full' && idx.recs.length > had) writeSummary(exp.paths, idx.recs);
  } catch {
    return null;
  }
  // The state must describe the same lines as the index.
  if (idx.kind !== 'full' || exp.state.ledger_offset !== idx.end) return null;
  let fd: number;
  try {
    fd = fs.openSync(exp.paths.ledger, 'r');
  } catch {
    return null;
  }
  return readOrDrop(() => {
    const end = idx.end;
    const inside = (offset: number) => {
      if (offset >= end) throw new Mismatch(`no ledger line at byte ${offset}`);
      return offset;
    };
    // One reader for both forms: a keep's line and its committed event share the buffer.
    const bytes = lineBytesReader(fd);
    const bytesAt = (o: number) => bytes(inside(o));
    return fn({ recs: idx.recs, end, warnings: idx.warnings, fd, at: jsonLines(bytesAt), bytesAt });
  }, exp, fd);
}

/**
 * Runs one read of the ledger through the index on `fd`, which it closes:
 * null, and the index dropped, when the index and the lines disagree.
 */
export function readOrDrop<T>(body: () => T, exp: Experiment, fd: number): T | null {
  try {
    return body();
  } catch (e) {
    if (!(e instanceof Mismatch) && !(e instanceof StaleIndex)) throw e;
    dropIndex(exp.paths);
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The report's lists from the run index, the state's counts and the listed
 * lines alone; null when the index cannot answer (the caller reads every line).
 */
export function fastSource(exp: Experiment, caps: Caps, want: Want): ReportSource | null {
  return throughIndex(exp, (ix) => indexedSource(exp, ix, caps, want));
}

/** fastSource's reading, in a session of throughIndex; `walk`: the index's walk when another reading shares it (walkIndex with caps.dead_ends). */
export function indexedSource(exp: Experiment, ix: Indexed, caps: Caps, want: Want, walk?: IndexWalk): ReportSource {
  const v = recordViews(ix.recs);
  const w = walk ?? walkIndex(v, caps.dead_ends);
  if (w.byVerdict.reduce((x, y) => x + y, 0) !== exp.state.runs_total) throw new Mismatch('the run index and the state count different runs');
  const scan = scanned(exp, ix.fd, ix.end, ix.at, caps, want);
  return { ...fromIndex(ix.at, v, w, caps, ix.warnings, scan.start), ...scan };
}

/** The base of the first segment (null before any): config lines are numbered 1, 2, … by init, the first is the ledger's first line. */
export function ledgerStart(exp: Experiment, at: (offset: number) => unknown): string | null {
  if (exp.state.segment <= 0) return null;
  const first = ConfigLine.safeParse(at(0));
  if (!first.success || first.data.segment !== 1) throw new Mismatch('the ledger does not start with its first config line');
  return first.data.base;
}

/** Segments, start, hypotheses and terminated events: from the state's counts, else from a scan of every byte. */
function scanned(exp: Experiment, fd: number, end: number, at: (offset: number) => unknown, caps: Caps, want: Want) {
  const s = exp.state;
  const msgs = s.terminated_messages;
  const by = want.terminatedBy;
  if (s.hypotheses === undefined || (by !== null && msgs === undefined)) return scanLedger(readPrefix(fd, end), caps.hypotheses);
  const start = ledgerStart(exp, at);
  const terminated = by !== null && msgs && Object.hasOwn(msgs, by) ? [{ by, ...(msgs[by] === null ? {} : { message: msgs[by] }) }] : [];
  const offsets = newestHypotheses(fd, end, Math.min(s.hypotheses, caps.hypotheses));
  const shown = readHypotheses(offsets, at);
  return { segments: s.segment, start, terminated, hypotheses: shown, hypotheses_total: s.hypotheses };
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** The ledger's first `end` bytes: the complete lines the index covers (a torn last line lies after them). */
function readPrefix(fd: number, end: number, from = 0): Buffer {
  const buf = Buffer.allocUnsafe(end - from);
  let got = 0;
  while (got < buf.length) {
    const n = fs.readSync(fd, buf, got, buf.length - got, from + got);
    if (n === 0) throw new Mismatch('the ledger is shorter than its index');
    got += n;
  }
  return buf;
}

/**
 * Offsets of the newest `need` results with a hypothesis or evidence, oldest
 * first: the ledger read backwards from `end` in chunks until they are found.
 */
function newestHypotheses(fd: number, end: number, need: number): number[] {
  const found: number[] = [];
  let hi = end;
  let chunk = 1 << 20;
  while (hi > 0 && found.length < need) {
    const lo = Math.max(0, hi - chunk);
    const buf = readPrefix(fd, hi, lo);
    const first = lo === 0 ? 0 : buf.indexOf(0x0a) + 1;
    if (lo > 0 && first === 0) {
      chunk *= 4; // one line longer than the chunk
      continue;
    }
    const offs = hypothesisLines(buf.subarray(first));
    for (let k = offs.length - 1; k >= 0 && found.length < need; k--) found.push((offs[k] as number) + lo + first);
    hi = lo + first;
  }
  if (found.length < need) throw new Mismatch('the state counts more hypotheses than the ledger holds');
  return found.reverse();
}

/** The hypotheses of the lines at `offsets`, each checked to be one. */
function readHypotheses(offsets: readonly number[], at: (offset: number) => unknown): Hypothesis[] {
  const lines = offsets.map((o) => resultAt(at(o)));
  const shown = hypotheses(lines.filter((l): l is NonNullable<typeof l> => l !== null) as LedgerLine[]);
  if (shown.length !== offsets.length) throw new Mismatch('a hypothesis line did not read back as one');
  return shown;
}

const VERDICTS = VerdictSchema.options;

/** The walk's keeps and dead ends made into the report's lists: only the listed runs' lines (and hidden baselines') are read. */
function fromIndex(at: (offset: number) => unknown, v: RecordViews, w: IndexWalk, caps: Caps, warnings: string[], start: string | null): Omit<ReportSource, 'segments' | 'start' | 'terminated' | 'hypotheses' | 'hypotheses_total'> {
  const result = (i: number) => {
    const runNo = v.f64[i * 4 + 3] as number;
    const line = resultAt(at(v.f64[i * 4 + 1] as number));
    if (!line || Number(line.run_id.slice(1)) !== runNo || line.segment !== v.u32[i * 8 + 1]) throw new Mismatch(`the ledger line of run ${runId(runNo)} moved`);
    return line;
  };
  const commitOf = (j: number) => {
    const c = w.events[j] as number;
    return c < 0 ? null : commitAt(at(c));
  };
  // The commit before keep j: the keep's before it, or the start (a baseline that is not it took commits made outside the loop).
  const before = (j: number) => (j > 0 ? commitOf(j - 1) : start);
  const keptAt = (j: number): KeptChange => {
    const i = w.keeps[j] as number;
    const line = result(i);
    const f = w.froms[j] as number;
    const baseline = w.baseline[j] === 1;
    const from = baseline || Number.isNaN(f) ? null : f;
    const k: KeptChange = {
      run_id: line.run_id, segment: line.segment, description: line.description, from, to: line.primary, delta: line.delta,
      change_pct: baseline ? null : changePct(from, line.primary), commit: commitOf(j),
      files: line.files, baseline,
    };
    if (adoptedBaseline(k, baseline ? before(j) : null)) k.adopted = true;
    return k;
  };
  const first = Math.max(0, w.keepCount - Math.max(0, caps.kept));
  const shown: KeptChange[] = [];
  for (let j = first; j < w.keepCount; j++) shown.push(keptAt(j));
  // A segment's baseline counts as a change when it committed files or took commits made outside the loop: the baselines not listed are read (one per segment).
  let changes = first;
  for (let j = 0; j < first; j++) {
    if (w.baseline[j] !== 1) continue;
    const files = result(w.keeps[j] as number).files;
    if (!files.length && !adoptedBaseline({ baseline: true, files, commit: commitOf(j) }, before(j))) changes--;
  }
  changes += shown.filter(isChange).length;
  const deadShown = w.dead.map((i): DeadEnd => {
    const l = result(i);
    return { run_id: l.run_id, verdict: l.verdict as DeadEnd['verdict'], description: l.description, reason: l.reason };
  });
  return {
    runs: { total: w.byVerdict.reduce((x, y) => x + y, 0), by_verdict: Object.fromEntries(VERDICTS.map((k, j) => [k, w.byVerdict[j]])) as Record<Verdict, number>, rebaselines: w.rebaselines },
    kept: shown,
    kept_total: w.keepCount,
    changes_total: changes,
    dead_ends: deadShown,
    dead_ends_total: w.deadTotal,
    warnings,
  };
}

// Lines are JSON.stringify of the schema's output: they begin with their type, and a
// key's quotes are never escaped (a quote inside a string is), so these bytes are keys.
const CONFIG = Buffer.from('{"type":"config"');
const RESULT_PREFIX = Buffer.from('{"type":"result"');
const EVENT = Buffer.from('{"type":"event"');
const TERMINATED = Buffer.from('"event":"terminated"');
const HYPOTHESIS = Buffer.from('"hypothesis":"');
const NO_HYPOTHESIS = Buffer.from('"hypothesis":""');
const EVIDENCE = Buffer.from('"evidence":[{');

const startsWith = (buf: Buffer, at: number, prefix: Buffer) => buf.compare(prefix, 0, prefix.length, at, Math.min(buf.length, at + prefix.length)) === 0;
const lineStart = (buf: Buffer, at: number) => (at === 0 ? 0 : buf.lastIndexOf(0x0a, at - 1) + 1);

/** Starts of the lines holding `needle` (from byte `from`), in order. */
function linesWith(buf: Buffer, needle: Buffer, from = 0): number[] {
  const out: number[] = [];
  for (let at = buf.indexOf(needle, from); at >= 0; ) {
    const start = needle[0] === 0x7b && (at === 0 || buf[at - 1] === 0x0a) ? at : lineStart(buf, at);
    if (out[out.length - 1] !== start) out.push(start);
    const nl = buf.indexOf(0x0a, at);
    at = nl < 0 ? -1 : buf.indexOf(needle, nl + 1);
  }
  return out;
}

/** The line of `buf` at `offset`, as JSON. */
function lineAt(buf: Buffer, offset: number): unknown {
  const nl = buf.indexOf(0x0a, offset);
  if (offset >= buf.length || nl < 0) throw new Mismatch(`no ledger line at byte ${offset}`);
  try {
    return JSON.parse(buf.toString('utf8', offset, nl));
  } catch {
    throw new Mismatch(`no ledger line at byte ${offset}`);
  }
}

/** Starts of the result lines of `buf` (whole lines) that state a hypothesis or evidence, in order. */
function hypothesisLines(buf: Buffer): number[] {
  const withHyp = new Set(
    linesWith(buf, HYPOTHESIS).filter((at) => {
      const nl = buf.indexOf(0x0a, at);
      return buf.subarray(at, nl < 0 ? buf.length : nl).indexOf(NO_HYPOTHESIS) < 0;
    }),
  );
  for (const at of linesWith(buf, EVIDENCE)) withHyp.add(at);
  return [...withHyp].filter((at) => startsWith(buf, at, RESULT_PREFIX)).sort((a, b) => a - b);
}

function scanLedger(buf: Buffer, cap: number): Pick<ReportSource, 'segments' | 'start' | 'terminated' | 'hypotheses' | 'hypotheses_total'> {
  // Config lines: where a line starts with the config prefix (a match inside a line is not one).
  const configs = linesWith(buf, CONFIG).filter((at) => startsWith(buf, at, CONFIG)).flatMap((at) => {
    const c = ConfigLine.safeParse(lineAt(buf, at));
    return c.success ? [{ at, base: c.data.base }] : [];
  });
  const last = configs[configs.length - 1]?.at ?? 0;
  const terminated = linesWith(buf, TERMINATED, last).flatMap((at) => {
    if (!startsWith(buf, at, EVENT)) return [];
    const e = EventLine.safeParse(lineAt(buf, at));
    return e.success && e.data.event === 'terminated' ? [e.data.data] : [];
  });
  // Results with a stated hypothesis or evidence: counted from their bytes, the newest parsed.
  const all = hypothesisLines(buf);
  const shown = readHypotheses(newest(all, cap), (o) => lineAt(buf, o));
  return { segments: configs.length, start: configs[0]?.base ?? null, terminated, hypotheses: shown, hypotheses_total: all.length };
}
