// What finalize replays: every keep of an experiment, with its commit, and
// the commit its first segment started from. Through the run index where it
// answers: each keep's run from the index, its commit from the index's
// sidecar (commits.idx: no ledger line read for a keep that is not
// replayed), and its lines parsed and checked only for the keeps finalize
// replays (a history of 10,000 keeps that share a few commits reads a few lines). When the index cannot answer or
// disagrees with the ledger: from every ledger line. Both ways give the same result.
import fs from 'node:fs';
import type { Experiment } from './experiment-data.ts';
import { changePct, type KeptChange } from './report-lists.ts';
import { indexedSource, ledgerStart, Mismatch, readOrDrop, REPORT_CAPS, throughIndex, wholeSource, type Caps, type Indexed, type ReportSource } from './report-source.ts';
import { recordViews } from './dashboard/records.ts';
import { walkIndex, type IndexWalk } from './index-walk.ts';
import { lineReader, resultAt } from './dashboard/run-index.ts';
import { commitsOf } from './dashboard/commit-index.ts';
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
  /** How many keeps; keep j (in ledger order) is read through the functions below, no object made per keep. */
  count: number;
  runId(j: number): string;
  /** Its commit (null: none recorded); keeps that carry the same commit give the same string. */
  commit(j: number): string | null;
  baseline(j: number): boolean;
  /** The keeps whose commit is not the keep's before it (those without one left out): the only ones that can be replayed. */
  newCommits: readonly number[];
  /** The first keep with no recorded commit (-1: none). */
  firstUncommitted: number;
  /** Every keep as an object, in ledger order (made when asked for). */
  readonly refs: KeepRef[];
  /** The keeps at these positions, read whole; null when a line is not the run the index names (the index is dropped: read every line). */
  changes(which: readonly number[]): KeptChange[] | null;
}

/** The refs of a KeptRefs as objects. */
function refList(r: Pick<KeptRefs, 'count' | 'runId' | 'commit' | 'baseline'>): KeepRef[] {
  return Array.from({ length: r.count }, (_, j) => ({ run_id: r.runId(j), commit: r.commit(j), baseline: r.baseline(j) }));
}

/** The caps with every keep listed (the run count bounds them). */
const uncapped = (exp: Experiment, caps: Caps): Caps => ({ ...caps, kept: Math.max(1, exp.state.runs_total) });
/** The report's own source out of an uncapped one: its newest keeps. */
const capped = (src: ReportSource, caps: Caps): ReportSource => ({ ...src, kept: src.kept.length > caps.kept ? src.kept.slice(src.kept.length - caps.kept) : src.kept });

/** Refs over keeps already read whole. */
function refsOf(src: KeptSource): KeptRefs {
  const k = (j: number) => src.kept[j] as KeptChange;
  return {
    start: src.start,
    count: src.kept.length,
    runId: (j) => k(j).run_id,
    commit: (j) => k(j).commit,
    baseline: (j) => k(j).baseline,
    newCommits: src.kept.flatMap((x, j) => (x.commit !== null && (j === 0 || x.commit !== k(j - 1).commit) ? [j] : [])),
    firstUncommitted: src.kept.findIndex((x) => x.commit === null),
    get refs() {
      return refList(this);
    },
    changes: (which) => which.map(k),
  };
}

/** Every line parsed (the reference the fast way must agree with). */
export function keptWhole(exp: Experiment): KeptSource {
  const src = wholeSource(exp, uncapped(exp, { kept: 1, dead_ends: 0, hypotheses: 0 }));
  return { start: src.start, kept: src.kept };
}

const EVENT_PREFIX = '{"type":"event"';
const COMMITTED_KEY = '"event":"committed"';
/** The engine's committed events hold their commit first in their data. */
const COMMIT_KEY = '"data":{"commit":"';

/** The commit of run `id`'s committed event at `offset`: from its text (its keys as the engine writes them), else parsed; it must be that run's. */
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
  return eventCommit(ix.at(offset), runNo, id);
}

/** The commit a parsed line names, when it is run `runNo`'s committed event; else the index is stale. */
function eventCommit(raw: unknown, runNo: number, id: string): string {
  const l = raw as { type?: unknown; event?: unknown; run_id?: unknown; data?: { commit?: unknown } } | null;
  const ok = l?.type === 'event' && l.event === 'committed' && typeof l.run_id === 'string' && Number(l.run_id.slice(1)) === runNo;
  if (!ok || typeof l.data?.commit !== 'string') throw new Mismatch(`the committed event of run ${id} moved`);
  return l.data.commit;
}

/** Every keep's ref from the index (its walk, shared with the report) and its commits' sidecar; the lines of those replayed read and checked later, on demand. */
function indexedRefs(exp: Experiment, ix: Indexed, walk?: IndexWalk): KeptRefs {
  const v = recordViews(ix.recs);
  const w = walk ?? walkIndex(v, 0);
  const n = w.keepCount;
  const offset = (j: number) => v.f64[(w.keeps[j] as number) * 4 + 1] as number;
  const segment = (j: number) => v.u32[(w.keeps[j] as number) * 8 + 1] as number;
  const { runs, events } = w;
  // The engine numbers runs upward through the ledger: keeps out of that order (a keep's line is not read) are not trusted.
  if (w.disorder >= 0) throw new Mismatch(`run ${runId(runs[w.disorder] as number)} is out of order in the run index`);
  // A keep commits before it is done (else it is pending, and refused): one without a committed event is asked of every line.
  if (w.unevented >= 0) throw new Mismatch(`keep ${runId(runs[w.unevented] as number)} has no committed event in the index`);
  // The commits from the index's sidecar (commits.idx); an event it lacks is read from its line, checked to be that run's.
  const { ids, table, starts } = commitsOf(exp.paths, events, runs, (c, runNo) => committedCommit(ix, c, runNo, runId(runNo)));
  const commit = (j: number) => table[ids[j] as number] as string;
  const baseline = (j: number) => w.baseline[j] === 1;
  const { end } = ix;
  const changes = (which: readonly number[]): KeptChange[] | null => {
    const fd = fs.openSync(exp.paths.ledger, 'r');
    return readOrDrop(() => {
      const read = lineReader(fd);
      return which.map((j) => {
        const id = runId(runs[j] as number);
        if (offset(j) >= end) throw new Mismatch(`no ledger line at byte ${offset(j)}`);
        const line = resultAt(read(offset(j)));
        if (!line || Number(line.run_id.slice(1)) !== runs[j] || line.segment !== segment(j)) throw new Mismatch(`the ledger line of run ${id} moved`);
        // A replayed keep's commit is read back from its event: the sidecar is trusted only for the keeps that are not.
        if (eventCommit(read(events[j] as number), runs[j] as number, id) !== commit(j)) throw new Mismatch(`the commit of run ${id} is not the one its event names`);
        const f = w.froms[j] as number;
        const from = baseline(j) || Number.isNaN(f) ? null : f;
        return {
          run_id: line.run_id, segment: line.segment, description: line.description, from, to: line.primary, delta: line.delta,
          change_pct: baseline(j) ? null : changePct(from, line.primary), commit: commit(j), files: line.files, baseline: baseline(j),
        };
      });
    }, exp, fd);
  };
  return {
    start: ledgerStart(exp, ix.at),
    count: n,
    runId: (j) => runId(runs[j] as number),
    commit,
    baseline,
    newCommits: starts,
    // Every keep has a commit here: from the sidecar, or read from its event.
    firstUncommitted: -1,
    get refs() {
      return refList(this);
    },
    changes,
  };
}

/** Through the run index; null when the index cannot answer. */
export function keptRefsFast(exp: Experiment): KeptRefs | null {
  return throughIndex(exp, (ix) => indexedRefs(exp, ix));
}

/** Every keep through the run index, each read whole; null when the index cannot answer. */
export function keptFast(exp: Experiment): KeptSource | null {
  const r = keptRefsFast(exp);
  const kept = r?.changes(Array.from({ length: r.count }, (_, j) => j));
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
  const fast = throughIndex(exp, (ix) => {
    // One walk of the index for both.
    const walk = walkIndex(recordViews(ix.recs), caps.dead_ends);
    return { report: indexedSource(exp, ix, caps, reportWant(exp), walk), kept: indexedRefs(exp, ix, walk) };
  });
  if (fast) return fast;
  const src = wholeSource(exp, uncapped(exp, caps));
  return { kept: refsOf({ start: src.start, kept: src.kept }), report: capped(src, caps) };
}
