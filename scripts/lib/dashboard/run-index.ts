// The dashboard's own cache, runs.idx: 32 bytes per result line and per
// `committed` event of the ledger (where it starts, its run, and for a result
// its segment, verdict, status and primary value), so that a 100,000-run
// ledger is drawn from 3 MB of fixed records instead of 80 MB of JSON. Only
// the runs that are shown have their line read back, by offset.
//
// It is a cache like state.json: appended by whichever dashboard call finds
// the ledger grown (a chunk of records closed by an END record holding the
// offset the scan reached), rebuilt whole when it does not check out (a torn
// chunk is cut off before the next append; offsets that go backwards, an END beyond the ledger, or a
// line that is not the run it should be). The engine never reads it.
import fs from 'node:fs';
import path from 'node:path';
import { LedgerLine, RunStatus, Verdict, type ResultLine } from '../schema.ts';
import type { ExperimentPaths } from '../paths.ts';
import { writeFileAtomic } from '../fsx.ts';
import type { LedgerRead } from '../ledger.ts';
import { runId } from '../paths.ts';
import type { RunPoint, RunSeries } from './series.ts';
import { asResultLine, runPoint } from './result-line.ts';
import { COMMITTED, END, offsetsGrow, REC, recordsOf, recordViews, RESULT } from './records.ts';
import { runSummaryFile, updateSummarized, writeSummary, type Summarized } from './summary-index.ts';
import { appendCommits, commitIndexFile, dropCommitIndex } from './commit-index.ts';

export { recordViews, type RecordViews } from './records.ts';

const VERDICTS = Verdict.options;
const STATUSES = RunStatus.options;

export function runIndexFile(paths: ExperimentPaths): string {
  return path.join(paths.dir, 'runs.idx');
}

/** Records up to and including the last END, or null when the file is missing or does not check out. */
function readIndex(file: string, ledgerSize: number): { recs: Buffer; end: number } | null {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return null;
  }
  let last = Math.floor(buf.length / REC) - 1;
  while (last >= 0 && buf[last * REC] !== END) last--;
  if (last < 0) return null;
  const v = recordViews(buf);
  const prev = offsetsGrow(v, last);
  if (prev === null) return null;
  const end = v.f64[last * 4 + 1] as number;
  if (end < prev || end > ledgerSize) return null;
  return { recs: buf.subarray(0, (last + 1) * REC), end };
}

/** The index as a call reads it: whole (its records), or through its summary (run-summary.ts). */
export type IndexRead =
  | { kind: 'full'; recs: Buffer; end: number; warnings: string[] }
  | ({ kind: 'blocks'; file: string } & Summarized);

/**
 * The index brought up to the ledger's end: `read(from)` reads the ledger's
 * lines from a byte offset (the dashboard's fast reader). Through the
 * summary when there is one that checks out (`summary`); else the whole
 * index is read, and a new summary written. Writing the caches is best
 * effort: a read-only directory still gets its dashboard.
 */
export function updateIndex(paths: ExperimentPaths, readLines: (from: number) => LedgerRead, opts: { rebuild?: boolean; summary?: boolean } = {}): IndexRead {
  const file = runIndexFile(paths);
  dropLinks([file, runSummaryFile(paths), commitIndexFile(paths)]);
  // The lines read to extend the index hold their committed events' commits: the sidecar gets them at no extra read.
  const read = (from: number) => {
    // An index rebuilt from the start: the sidecar may describe another ledger.
    if (from === 0) dropCommitIndex(paths);
    const got = readLines(from);
    appendCommits(paths, got);
    return got;
  };
  let size = 0;
  try {
    size = fs.statSync(paths.ledger).size;
  } catch {
    size = 0;
  }
  const useSummary = opts.summary !== false;
  if (useSummary && !opts.rebuild) {
    const s = updateSummarized(paths, file, size, read);
    if (s) return { kind: 'blocks', file, ...s };
  }
  const old = opts.rebuild ? null : readIndex(file, size);
  const from = old?.end ?? 0;
  const got = read(from);
  const recs = old && got.end === from ? old.recs : appendRecords(file, old?.recs ?? null, recordsOf(got));
  if (useSummary) writeSummary(paths, recs);
  return { kind: 'full', recs, end: got.end, warnings: got.warnings };
}

/** `fresh` written after `old` (or as the whole index); the records now indexed. */
function appendRecords(file: string, old: Buffer | null, fresh: Buffer): Buffer {
  try {
    if (old) {
      // A chunk torn by a crash after the last END goes first: appended after it, the new one would not line up.
      if (fs.statSync(file).size > old.length) fs.truncateSync(file, old.length);
      fs.appendFileSync(file, fresh);
    } else writeFileAtomic(file, fresh, { durable: false });
  } catch {
    /* a cache: the next call tries again */
  }
  return old ? Buffer.concat([old, fresh]) : fresh;
}

/**
 * The indexes are appended and cut in place, which a symbolic link put where one
 * belongs would carry to wherever it points (outside .autoloop/, maybe): the link
 * is removed instead, and the index rebuilt as a file of its own.
 */
function dropLinks(files: readonly string[]): void {
  for (const f of files) {
    try {
      if (fs.lstatSync(f).isSymbolicLink()) fs.rmSync(f);
    } catch {
      /* missing: nothing to drop */
    }
  }
}

/**
 * Drop the index, its summary and its commits (they no longer match the ledger): the next call rebuilds both.
 * Best effort, as every write of these caches: in a read-only directory the caller reads the ledger instead.
 */
export function dropIndex(paths: ExperimentPaths): void {
  for (const f of [runIndexFile(paths), runSummaryFile(paths)]) {
    try {
      fs.rmSync(f, { force: true });
    } catch {
      /* a read-only directory: the index stays stale, and each reader finds it so */
    }
  }
  dropCommitIndex(paths);
}

/** A ledger line at `offset` that is not what the index says it is: the index is stale. */
export class StaleIndex extends Error {}

/** Bytes read first for a line: most result lines fit (a longer one is read again, whole). */
const FIRST_READ = 2048;
const AHEAD = 64 * 1024;

/**
 * A reader of the ledger's lines by offset, as JSON, into one reused buffer
 * (a chart reads back a few thousand). A keep's `committed` event is usually
 * the next line, already in the buffer: it costs no second read. One per open file.
 */
export function lineReader(fd: number): (offset: number) => unknown {
  return jsonLines(lineBytesReader(fd));
}

/** Lines as JSON, from a reader of their bytes (a line that is not JSON: the index is stale). */
export function jsonLines(bytes: (offset: number) => Buffer): (offset: number) => unknown {
  return (offset) => {
    const line = bytes(offset);
    try {
      return JSON.parse(line.toString('utf8'));
    } catch {
      throw new StaleIndex(`no ledger line at byte ${offset}`);
    }
  };
}

/** The bytes of the ledger's line at an offset (without its newline), valid until the next call: for a check that needs no parse. */
export function lineBytesReader(fd: number): (offset: number) => Buffer {
  let buf = Buffer.allocUnsafe(4 * FIRST_READ);
  // buf holds the ledger's bytes [from, from + n).
  let from = 0;
  let n = 0;
  // The newline ending the line that starts at buf[start], among the n bytes read (-1: not read yet).
  const newline = (start: number) => {
    const nl = buf.indexOf(0x0a, start);
    return nl >= 0 && nl < n ? nl : -1;
  };
  return (offset) => {
    let nl = offset >= from && offset < from + n ? newline(offset - from) : -1;
    if (nl >= 0) return buf.subarray(offset - from, nl);
    // Reading on through the ledger (the table's rows come in ledger order): one read serves the next lines too.
    const onward = n > 0 && offset >= from && offset < from + n + AHEAD;
    for (let want = onward ? AHEAD : FIRST_READ; ; want *= 4) {
      if (want > buf.length) buf = Buffer.allocUnsafe(want);
      from = offset;
      n = fs.readSync(fd, buf, 0, want, offset);
      nl = newline(0);
      if (nl >= 0) return buf.subarray(0, nl);
      if (n < want) throw new StaleIndex(`no ledger line at byte ${offset}`);
    }
  };
}

/**
 * Where the segment's results are among the records (one pass; nothing
 * copied but their positions), the commits' offsets by run number, and the
 * results of earlier segments counted.
 */
function segmentRecords(recs: Buffer, segment: number) {
  const v = recordViews(recs);
  const pos = new Uint32Array(v.count);
  const commits = new Map<number, number>();
  let n = 0;
  let earlier = 0;
  for (let i = 0; i < v.count; i++) {
    const kind = recs[i * REC];
    if (kind === COMMITTED) commits.set(v.f64[i * 4 + 3] as number, v.f64[i * 4 + 1] as number);
    else if (kind !== RESULT) continue;
    else if (v.u32[i * 8 + 1] !== segment) earlier++;
    else pos[n++] = i;
  }
  return { v, pos: pos.subarray(0, n), commits, earlier };
}

/**
 * The segment's runs from the index: the chart's fields read from the
 * records in place, and each shown run read from the ledger (`fd`) when it is
 * first asked for.
 */
export function indexSeries(recs: Buffer, segment: number, fd: number): { runs: RunSeries; earlier: number } {
  const { v, pos, commits, earlier } = segmentRecords(recs, segment);
  const f64 = (j: number, k: number) => v.f64[(pos[j] as number) * 4 + k] as number;
  const byte = (j: number, k: number) => recs[(pos[j] as number) * REC + k] as number;
  const cache = new Map<number, RunPoint>();
  const lineAt = lineReader(fd);
  const point = (j: number): RunPoint => {
    const hit = cache.get(j);
    if (hit) return hit;
    const runNo = f64(j, 3);
    const line = resultAt(lineAt(f64(j, 1)));
    if (!line || Number(line.run_id.slice(1)) !== runNo) throw new StaleIndex(`the ledger line of run ${runId(runNo)} moved`);
    const at = commits.get(runNo);
    const p = runPoint(line, j + 1, at === undefined ? null : commitAt(lineAt(at)));
    cache.set(j, p);
    return p;
  };
  const runs: RunSeries = {
    length: pos.length,
    runId: (j) => runId(f64(j, 3)),
    primary: (j) => {
      const x = f64(j, 2);
      return Number.isNaN(x) ? null : x;
    },
    verdict: (j) => VERDICTS[byte(j, 1)] as Verdict,
    status: (j) => STATUSES[byte(j, 2)] as RunStatus,
    rebaseline: (j) => byte(j, 3) === 1,
    point,
  };
  return { runs, earlier };
}

/** A line read back as a result line: the fast check, then zod (which has the last word). */
export function resultAt(raw: unknown): ResultLine | null {
  const quick = typeof raw === 'object' && raw !== null ? asResultLine(raw as Record<string, unknown>) : null;
  if (quick) return quick;
  const parsed = LedgerLine.safeParse(raw);
  return parsed.success && parsed.data.type === 'result' ? parsed.data : null;
}

export function commitAt(line: unknown): string | null {
  const raw = line as { data?: { commit?: unknown } } | null;
  return typeof raw?.data?.commit === 'string' ? raw.data.commit : null;
}
