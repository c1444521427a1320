// state.json, the derived state's cache, kept small: its size must not grow
// with the number of runs, because every engine call reads it and log
// rewrites it. The one aggregate that does grow, the segment's valid primary
// values (confidence needs their exact median and MAD), lives beside it in an
// append-only sidecar of float64s, primaries-<segment>.f64: a log appends one
// value instead of rewriting the list. Both are caches: anything missing,
// short or foreign makes the caller rebuild from the ledger.
// A checkpoint, state-checkpoint.json, is the same cache as it stood at most
// CHECKPOINT_EVERY runs ago: when state.json is lost (deleted, or never
// written by a killed call), the caller folds the ledger from the
// checkpoint's offset instead of from the first line, so that recovering
// costs the same at 100,000 runs as at 100.
import fs from 'node:fs';
import path from 'node:path';
import type { ExperimentPaths } from './paths.ts';
import { createHash } from 'node:crypto';
import { readJsonOrNull, writeJsonCache } from './fsx.ts';
import { StateFile, type State } from './reduce.ts';
import { MIN_CONFIDENCE_RUNS, rememberSpread, spreadOf } from './confidence.ts';

const SIDECAR = /^primaries-(\d+)\.f64$/;

/** Runs between two checkpoints: a lost state.json costs at most this many runs' lines to refold. */
export const CHECKPOINT_EVERY = 100;

function sidecar(paths: ExperimentPaths, segment: number): string {
  return path.join(paths.dir, `primaries-${segment}.f64`);
}

export function checkpointFile(paths: ExperimentPaths): string {
  return path.join(paths.dir, 'state-checkpoint.json');
}

/**
 * The cached state, or null when there is none usable (missing, foreign, or
 * its sidecar is short): state.json, else the checkpoint (older: the caller
 * folds what the ledger holds after its offset, as it does for state.json).
 */
export function loadStateCache(paths: ExperimentPaths, opts: CacheRead = {}): State | null {
  return loadCacheFile(paths, paths.state, opts) ?? loadCacheFile(paths, checkpointFile(paths), opts);
}

/**
 * `values: false`: a reader that only shows the state (the one-shot
 * dashboard) gets the primaries' count and spread, and a list of that length
 * whose values are not read (holes, never filled: filling 100,000 of them was
 * a cost that grew with the history): confidence needs nothing else. Never for
 * a state that is folded further.
 */
export interface CacheRead {
  values?: boolean;
}

function loadCacheFile(paths: ExperimentPaths, file: string, opts: CacheRead): State | null {
  const parsed = StateFile.safeParse(readJsonOrNull(file));
  if (!parsed.success) return null;
  const raw = parsed.data as unknown as State & { primaries_count?: unknown; primaries_mad?: unknown; ledger_tail?: unknown };
  // Another experiment's cache (copied in, or a ledger replaced under it) can hold an offset inside
  // this ledger: its figures would be taken for this ledger's. (Caches written before the tail was kept have none.)
  if (typeof raw.ledger_tail === 'string' && !sameTail(raw.ledger_tail, paths.ledger, raw.ledger_offset)) return null;
  // A cache written before the sidecar existed carries its list inline.
  if (Array.isArray(raw.valid_primaries)) return raw;
  const count = typeof raw.primaries_count === 'number' ? raw.primaries_count : -1;
  if (count < 0) return null;
  let values: number[] = [];
  const spreadKnown = typeof raw.primaries_mad === 'number' || count < MIN_CONFIDENCE_RUNS;
  if (count > 0 && opts.values === false && spreadKnown) {
    try {
      const st = fs.lstatSync(sidecar(paths, raw.segment));
      if (!st.isFile() || st.size < count * 8) return null;
    } catch {
      return null;
    }
    values = lengthOnly(count);
  } else if (count > 0) {
    let buf: Buffer;
    try {
      // Not through a link put in its place: what it points to is not this cache.
      buf = fs.readFileSync(sidecar(paths, raw.segment), { flag: fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW });
    } catch {
      return null;
    }
    if (buf.length < count * 8) return null;
    // Copied out whole (the file was written from a Float64Array, in this machine's byte order).
    const f64 = new Float64Array(count);
    new Uint8Array(f64.buffer).set(buf.subarray(0, count * 8));
    // Into a list of its final length: Array.from grows its list as it goes.
    values = new Array<number>(count);
    for (let i = 0; i < count; i++) values[i] = f64[i] as number;
  }
  // The spread saved with the list (a number only when there were enough values to compute one).
  if (typeof raw.primaries_mad === 'number' && values.length >= MIN_CONFIDENCE_RUNS) rememberSpread(values, raw.primaries_mad);
  const { primaries_count: _drop, primaries_mad: _spread, ledger_tail: _tail, ...rest } = raw;
  return { ...rest, valid_primaries: values } as State;
}

/**
 * A list of `count` holes that costs nothing to make: V8 gives `length = n`
 * (and `new Array(n)`) a store of n slots (12-25 ms at 100,000, 140 ms at a
 * million, growing with the history); a list whose one element lies far past
 * its start is kept as a dictionary, and deleting that element leaves the length.
 */
function lengthOnly(count: number): number[] {
  const values: number[] = [];
  values[count - 1] = 0;
  delete values[count - 1];
  return values;
}

/** Does the file's first `n` values end (and start) as `values` does? A cheap check that it is the same list. */
function samePrefix(file: string, values: readonly number[], n: number): boolean {
  if (n === 0) return true;
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(8);
    fs.readSync(fd, b, 0, 8, 0);
    if (!Object.is(b.readDoubleLE(0), values[0])) return false;
    fs.readSync(fd, b, 0, 8, (n - 1) * 8);
    return Object.is(b.readDoubleLE(0), values[n - 1]);
  } finally {
    fs.closeSync(fd);
  }
}

const f64 = (xs: readonly number[]) => Buffer.from(Float64Array.from(xs).buffer);

/**
 * Write the cache, best effort: the ledger already holds what it derives from, so a cache
 * that cannot be written (a directory in its place) costs the next call a refold, never
 * the answer of a call whose ledger lines and commits are done.
 */
export function saveStateCache(paths: ExperimentPaths, state: State): void {
  try {
    writeStateCache(paths, state);
  } catch {
    /* a cache: the next call folds the ledger instead */
  }
}

/** The sidecar first (appending what it lacks), then state.json naming how many values count. */
function writeStateCache(paths: ExperimentPaths, state: State): void {
  const values = state.valid_primaries;
  const file = sidecar(paths, state.segment);
  let size = -1;
  try {
    const st = fs.lstatSync(file);
    // A link put in the cache's place is dropped, never written through (to wherever it points).
    if (st.isSymbolicLink()) fs.rmSync(file);
    else size = st.size;
  } catch {
    size = -1;
  }
  if (values.length > 0) {
    const have = size / 8;
    if (size < 0) sweepSidecars(paths, state.segment);
    if (size <= 0 || !Number.isInteger(have) || have > values.length || !samePrefix(file, values, have)) fs.writeFileSync(file, f64(values));
    else if (have < values.length) fs.appendFileSync(file, f64(values.slice(have)));
  } else if (size >= 0) fs.rmSync(file, { force: true });
  const { valid_primaries: _list, ...rest } = state;
  // The list's spread too (confidence's MAD): a reader loads it instead of recomputing it.
  const cache = {
    ...rest,
    primaries_count: values.length,
    primaries_mad: values.length >= MIN_CONFIDENCE_RUNS ? spreadOf(values) : null,
    ledger_tail: ledgerTail(paths.ledger, state.ledger_offset),
  };
  writeJsonCache(paths.state, cache);
  if (checkpointDue(paths, state)) writeJsonCache(checkpointFile(paths), cache);
}

/** A checkpoint is due when there is none, it is foreign, or it is CHECKPOINT_EVERY runs (or a ledger) behind. */
function checkpointDue(paths: ExperimentPaths, state: State): boolean {
  const cp = readJsonOrNull(checkpointFile(paths)) as { runs_total?: unknown; ledger_offset?: unknown; segment?: unknown } | null;
  if (typeof cp?.runs_total !== 'number' || typeof cp.ledger_offset !== 'number') return true;
  // Another segment's checkpoint names a swept sidecar: it could not be loaded.
  if (cp.segment !== state.segment || cp.ledger_offset > state.ledger_offset || cp.runs_total > state.runs_total) return true;
  return state.runs_total - cp.runs_total >= CHECKPOINT_EVERY;
}

/** Bytes of the ledger just before a cache's offset: enough to tell this ledger from another one. */
const TAIL_BYTES = 64;

/**
 * The TAIL_BYTES before `offset` (its last line's end, timestamps and all), as hex; null when the
 * ledger is shorter or unreadable. The bytes themselves, not a digest: a digest would load
 * node:crypto before the call's first git process (where it loads while git runs).
 */
function ledgerTail(ledger: string, offset: number): string | null {
  return tailBytes(ledger, offset)?.toString('hex') ?? null;
}

/** Whether a cache's recorded tail is this ledger's; a cache written before the bytes were kept holds their sha256's first 16 hex digits. */
function sameTail(recorded: string, ledger: string, offset: number): boolean {
  const legacy = recorded.length === 16 && offset > 8; // 8 bytes' hex is 16 digits too
  if (!legacy) return recorded === ledgerTail(ledger, offset);
  const buf = tailBytes(ledger, offset);
  return buf !== null && createHash('sha256').update(buf).digest('hex').slice(0, 16) === recorded;
}

function tailBytes(ledger: string, offset: number): Buffer | null {
  if (offset === 0) return Buffer.alloc(0);
  const n = Math.min(TAIL_BYTES, offset);
  const buf = Buffer.alloc(n);
  let fd: number;
  try {
    fd = fs.openSync(ledger, 'r');
  } catch {
    return null;
  }
  try {
    if (fs.readSync(fd, buf, 0, n, offset - n) < n) return null;
  } finally {
    fs.closeSync(fd);
  }
  return buf;
}

/** Sidecars of other segments are stale (a segment's figures start over). */
function sweepSidecars(paths: ExperimentPaths, keep: number): void {
  let names: string[];
  try {
    names = fs.readdirSync(paths.dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = SIDECAR.exec(n);
    if (m && Number(m[1]) !== keep) fs.rmSync(path.join(paths.dir, n), { force: true });
  }
}
