// What finalize replays: every keep of an experiment, with its commit, and
// the commit its first segment started from. Through the run index where it
// answers: each keep's run and commit from the index and its `committed`
// event, its own line checked by its bytes (run and segment), and parsed
// whole only for the keeps finalize replays (a history of 10,000 keeps that
// share a few commits parses a few lines). When the index cannot answer or
// disagrees with the ledger: from every ledger line. Both ways give the same result.
import fs from 'node:fs';
import type { Experiment } from './experiment-data.ts';
import { changePct, type KeptChange } from './report-lists.ts';
import { indexedSource, keepWalk, ledgerStart, Mismatch, readOrDrop, REPORT_CAPS, throughIndex, wholeSource, type Caps, type Indexed, type ReportSource } from './report-source.ts';
import { COMMITTED, REC, recordViews, RESULT } from './dashboard/records.ts';
import { lineReader, resultAt } from './dashboard/run-index.ts';
import { runId } from './paths.ts';
import { reportWant } from './report.ts';

export interface KeptSource {
  /** The base of the first segment (null when none is recorded). */
  start: string | null;
  /** Every keep, in ledger order (segment baselines marked). */
  kept: KeptChange[];
}

/** A keep as finalize first sees it: enough to tell whether it is replayed. */
export interface KeepRef {
  run_id: string;
  commit: string | null;
  baseline: boolean;
}

export interface KeptRefs {
  start: string | null;
  /** Every keep, in ledger order. */
  refs: KeepRef[];
  /** The keeps at these positions of `refs`, read whole; null when a line is not the run the index names (the index is dropped: read every line). */
  changes(which: readonly number[]): KeptChange[] | null;
}

/** The caps with every keep listed (the run count bounds them). */
const uncapped = (exp: Experiment, caps: Caps): Caps => ({ ...caps, kept: Math.max(1, exp.state.runs_total) });
/** The report's own source out of an uncapped one: its newest keeps. */
const capped = (src: ReportSource, caps: Caps): ReportSource => ({ ...src, kept: src.kept.length > caps.kept ? src.kept.slice(src.kept.length - caps.kept) : src.kept });

/** Refs over keeps already read whole. */
function refsOf(src: KeptSource): KeptRefs {
  return {
    start: src.start,
    refs: src.kept.map((k) => ({ run_id: k.run_id, commit: k.commit, baseline: k.baseline })),
    changes: (which) => which.map((j) => src.kept[j] as KeptChange),
  };
}

/** Every line parsed (the reference the fast way must agree with). */
export function keptWhole(exp: Experiment): KeptSource {
  const src = wholeSource(exp, uncapped(exp, { kept: 1, dead_ends: 0, hypotheses: 0 }));
  return { start: src.start, kept: src.kept };
}

const RESULT_PREFIX = '{"type":"result"';
const EVENT_PREFIX = '{"type":"event"';
const COMMITTED_KEY = '"event":"committed"';
/** The engine's committed events hold their commit first in their data. */
const COMMIT_KEY = '"data":{"commit":"';
/** A result line's first keys fit in this many bytes (type, ts, segment, run_id). */
const HEAD = 200;

/**
 * Does the result line name this run of this segment? Read from its first
 * bytes as the engine writes it (type, ts, segment, run_id first; a quote
 * inside a string is escaped, so these bytes are keys); a line written
 * otherwise is parsed. String search, not Buffer calls: 10,000 keeps are
 * checked mostly before the code is optimised.
 */
function namesRun(ix: Indexed, offset: number, segment: number, id: string): boolean {
  const line = ix.bytesAt(offset);
  const head = line.toString('latin1', 0, Math.min(line.length, HEAD));
  const at = head.indexOf('"segment":');
  if (head.startsWith(RESULT_PREFIX) && at > 0 && head.startsWith(`"segment":${segment},"run_id":"${id}"`, at)) return true;
  const parsed = resultAt(ix.at(offset));
  return parsed !== null && parsed.segment === segment && Number(parsed.run_id.slice(1)) === Number(id.slice(1));
}

/** The commit of run `id`'s committed event at `offset`: from its text (as namesRun reads), else parsed; it must be that run's. */
function committedCommit(ix: Indexed, offset: number, runNo: number, id: string): string {
  const line = ix.bytesAt(offset).toString('utf8');
  const run = line.indexOf('"run_id":"');
  if (line.startsWith(EVENT_PREFIX) && line.includes(COMMITTED_KEY) && run > 0 && line.startsWith(`"run_id":"${id}"`, run)) {
    const from = line.indexOf(COMMIT_KEY) + COMMIT_KEY.length;
    const to = from >= COMMIT_KEY.length ? line.indexOf('"', from) : -1;
    const commit = to > from ? line.slice(from, to) : '';
    // A plain value (no escape): the commit as written.
    if (commit && !commit.includes('\\')) return commit;
  }
  const l = ix.at(offset) as { type?: unknown; event?: unknown; run_id?: unknown; data?: { commit?: unknown } } | null;
  const ok = l?.type === 'event' && l.event === 'committed' && typeof l.run_id === 'string' && Number(l.run_id.slice(1)) === runNo;
  if (!ok || typeof l.data?.commit !== 'string') throw new Mismatch(`the committed event of run ${id} moved`);
  return l.data.commit;
}

/** Every keep's ref from the index, each checked against its lines; their lines read whole later, on demand. */
function indexedRefs(exp: Experiment, ix: Indexed): KeptRefs {
  const v = recordViews(ix.recs);
  const step = keepWalk(v);
  const committed = new Map<number, number>(); // run number → offset of its (last) committed event
  const keeps: number[] = [];
  const froms: (number | null)[] = [];
  for (let i = 0; i < v.count; i++) {
    const kind = ix.recs[i * REC];
    if (kind === COMMITTED) committed.set(v.f64[i * 4 + 3] as number, v.f64[i * 4 + 1] as number);
    else if (kind === RESULT) {
      const from = step(i);
      if (from !== undefined) {
        keeps.push(i);
        froms.push(from);
      }
    }
  }
  const offset = (j: number) => v.f64[(keeps[j] as number) * 4 + 1] as number;
  const segment = (j: number) => v.u32[(keeps[j] as number) * 8 + 1] as number;
  const refs = keeps.map((i, j): KeepRef => {
    const runNo = v.f64[i * 4 + 3] as number;
    const id = runId(runNo);
    if (!namesRun(ix, offset(j), segment(j), id)) throw new Mismatch(`the ledger line of run ${id} moved`);
    const c = committed.get(runNo);
    // A keep commits before it is done (else it is pending, and refused): one without a committed event is asked of every line.
    if (c === undefined) throw new Mismatch(`keep ${id} has no committed event in the index`);
    return { run_id: id, commit: committedCommit(ix, c, runNo, id), baseline: froms[j] === null };
  });
  const { end } = ix;
  const changes = (which: readonly number[]): KeptChange[] | null => {
    const fd = fs.openSync(exp.paths.ledger, 'r');
    return readOrDrop(() => {
      const read = lineReader(fd);
      return which.map((j) => {
        const ref = refs[j] as KeepRef;
        if (offset(j) >= end) throw new Mismatch(`no ledger line at byte ${offset(j)}`);
        const line = resultAt(read(offset(j)));
        if (!line || Number(line.run_id.slice(1)) !== Number(ref.run_id.slice(1)) || line.segment !== segment(j)) throw new Mismatch(`the ledger line of run ${ref.run_id} moved`);
        const f = froms[j] as number | null;
        const from = f === null || Number.isNaN(f) ? null : f;
        return {
          run_id: line.run_id, segment: line.segment, description: line.description, from, to: line.primary, delta: line.delta,
          change_pct: ref.baseline ? null : changePct(from, line.primary), commit: ref.commit, files: line.files, baseline: ref.baseline,
        };
      });
    }, exp, fd);
  };
  return { start: ledgerStart(exp, ix.at), refs, changes };
}

/** Through the run index; null when the index cannot answer. */
export function keptRefsFast(exp: Experiment): KeptRefs | null {
  return throughIndex(exp, (ix) => indexedRefs(exp, ix));
}

/** Every keep through the run index, each read whole; null when the index cannot answer. */
export function keptFast(exp: Experiment): KeptSource | null {
  const r = keptRefsFast(exp);
  const kept = r?.changes(r.refs.map((_, j) => j));
  return r && kept ? { start: r.start, kept } : null;
}

export function keptSource(exp: Experiment): KeptSource {
  return keptFast(exp) ?? keptWhole(exp);
}

/** Refs from every line: what a caller turns to when `changes` of the index's refs returned null. */
export function keptRefsWhole(exp: Experiment): KeptRefs {
  return refsOf(keptWhole(exp));
}

/** The keeps' refs: through the index, else from every line. */
export function keptRefs(exp: Experiment): KeptRefs {
  return keptRefsFast(exp) ?? keptRefsWhole(exp);
}

/** The keeps' refs and, from the same reading, the report's source (buildReport's `given`). */
export function keptWithReport(exp: Experiment, caps: Caps = REPORT_CAPS): { kept: KeptRefs; report: ReportSource } {
  const fast = throughIndex(exp, (ix) => ({ report: indexedSource(exp, ix, caps, reportWant(exp)), kept: indexedRefs(exp, ix) }));
  if (fast) return fast;
  const src = wholeSource(exp, uncapped(exp, caps));
  return { kept: refsOf({ start: src.start, kept: src.kept }), report: capped(src, caps) };
}
