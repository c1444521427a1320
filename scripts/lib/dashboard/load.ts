// Reading an experiment for the dashboard: read-only (a viewer never takes the
// lock and never rewrites state.json, so it cannot disturb a running loop), and
// incremental, so --watch only parses what the ledger gained since last time.
import fs from 'node:fs';
import type { Config } from '../schema.ts';
import { experimentPaths, type ExperimentPaths } from '../paths.ts';
import { loadConfig } from '../config.ts';
import { readLedger, type LedgerRead } from '../ledger.ts';
import { UsageError } from '../errors.ts';
import { emptyState, foldLines, type State, type Termination } from '../reduce.ts';
import { loadStateCache } from '../state-cache.ts';
import { buildModel, type ModelInput, type ViewModel } from './model.ts';
import { asResultLine } from './result-line.ts';
import { dropIndex, indexSeries, StaleIndex, updateIndex, type IndexRead } from './run-index.ts';
import { blockViews } from './block-view.ts';
import { REC } from './records.ts';
import { chainStatusIn, loadChainFile } from '../chain.ts';
import { activityOf, type Activity } from './activity.ts';

export interface Loaded {
  slug: string;
  paths: ExperimentPaths;
  config: Config;
  /** The run index (run-index.ts): its records, or its summary (run-summary.ts). */
  index: IndexRead;
  state: State;
  warnings: string[];
  /** Byte offset after the last complete ledger line read. */
  end: number;
  /** Ledger size and config mtime when read: a cheap "did anything change?" probe. */
  stamp: string;
}

function stampOf(paths: ExperimentPaths): string {
  const st = (f: string) => {
    try {
      const s = fs.statSync(f);
      return `${s.size}:${s.mtimeMs}`;
    } catch {
      return '-';
    }
  };
  return `${st(paths.ledger)}|${st(paths.config)}`;
}

export function changeStamp(root: string, slug: string): string {
  return stampOf(experimentPaths(root, slug));
}

/**
 * The derived state: the engine's cache (state.json) plus whatever the ledger
 * gained after it; a missing or foreign cache is rebuilt from the whole ledger.
 */
function stateFor(paths: ExperimentPaths, config: Config, end: number, warnings: string[], once: boolean): State {
  // Shown once and not folded: the primaries' values are not needed (their count and spread are in state.json).
  const shown = once ? loadStateCache(paths, { values: false }) : null;
  if (shown && shown.ledger_offset === end) return shown;
  const cached = loadStateCache(paths);
  if (cached && cached.ledger_offset <= end) {
    if (cached.ledger_offset === end) return cached;
    const tail = readLedger(paths.ledger, cached.ledger_offset);
    return { ...foldLines(cached, tail.lines, config), ledger_offset: tail.end };
  }
  if (cached) warnings.push('state.json is ahead of the ledger; rebuilt from the ledger');
  // No usable cache: fold every line (the dashboard's own read skips events the state needs).
  const all = readLedger(paths.ledger);
  return { ...foldLines(emptyState(), all.lines, config), ledger_offset: all.end };
}

/** How readLedger reports a last line without its newline (being written, or a write cut off). */
const TORN_LAST = 'ledger: torn last line';

// Lines are written by JSON.stringify of the schema's output, so they begin with their type.
const EVENT_PREFIX = Buffer.from('{"type":"event"');
const COMMITTED = Buffer.from('"event":"committed"');

/**
 * What the chart and the table need, read fast: config lines, result lines and
 * `committed` events (for the commits). Other events only move the derived
 * state, which comes from the engine's cache. Torn and invalid lines are
 * skipped with the same warnings readLedger gives.
 */
export function readDashboardLines(file: string, from = 0): LedgerRead {
  return readLedger(file, from, {
    skip: (buf, start, end) =>
      buf.compare(EVENT_PREFIX, 0, EVENT_PREFIX.length, start, Math.min(end, start + EVENT_PREFIX.length)) === 0 &&
      buf.subarray(start, end).indexOf(COMMITTED) === -1,
    fast: asResultLine,
  });
}

export interface LoadOptions {
  /** Through the run index's summary (default), or its whole records. */
  summary?: boolean;
  /** Shown once, never refreshed: the state's primary values are not read (see loadStateCache). */
  once?: boolean;
}

/**
 * Read an experiment: the run index brought up to date (only what the ledger
 * gained since it was last indexed is parsed), and the state from the
 * engine's cache, or from `prev` (--watch) folded further.
 */
export function loadExperiment(root: string, slug: string, prev?: Loaded, opts: LoadOptions = {}): Loaded {
  const paths = experimentPaths(root, slug);
  if (!fs.existsSync(paths.config)) throw new UsageError(`experiment "${slug}" has no config.yaml`);
  const stamp = stampOf(paths);
  const config = loadConfig(paths.config);
  const idx = updateIndex(paths, (from) => readDashboardLines(paths.ledger, from), { summary: opts.summary });
  // A read reports each bad line once, so --watch carries them on; but an unfinished last line is read
  // again by every read until it is whole (or cut by repair): carried on, it was shown for good.
  const warnings = prev ? [...prev.warnings.filter((w) => !w.startsWith(TORN_LAST)), ...idx.warnings].slice(-5) : [...idx.warnings];
  // The state may have been folded a little further than the index (the cache
  // was newer than our read): fold from where the state stands.
  const state =
    prev && prev.state.ledger_offset <= idx.end
      ? foldTail(prev.paths, prev.state, config)
      : stateFor(paths, config, idx.end, warnings, opts.once === true);
  return { slug, paths, config, index: idx, state, warnings, end: idx.end, stamp };
}

function foldTail(paths: ExperimentPaths, state: State, config: Config): State {
  const tail = readLedger(paths.ledger, state.ledger_offset);
  return tail.end === state.ledger_offset ? state : { ...foldLines(state, tail.lines, config), ledger_offset: tail.end };
}

/**
 * Bring a loaded experiment up to date: parse only the bytes appended since
 * the last read; start over when the ledger shrank (it was replaced).
 */
export function refreshExperiment(root: string, prev: Loaded): Loaded {
  const stamp = stampOf(prev.paths);
  if (stamp === prev.stamp) return prev;
  let size = 0;
  try {
    size = fs.statSync(prev.paths.ledger).size;
  } catch {
    size = 0;
  }
  return loadExperiment(root, prev.slug, size < prev.end ? undefined : prev);
}

/**
 * The view model. Runs come from the index, their lines read back by offset
 * for the runs shown; an index that no longer matches the ledger is dropped
 * (the next call rebuilds it) and this one reads the whole ledger. `table`
 * bounds the rows a renderer will show (each row is a line read back).
 */
export function viewModel(l: Loaded, t: Termination, chain: readonly string[], now: number, chartBuckets: number, table: { rowsCap?: number; keepsCap?: number; activity?: Activity; published?: boolean } = {}): ViewModel {
  const input: ModelInput = { slug: l.slug, config: l.config, state: l.state, termination: t, chain, now, chartBuckets, warnings: l.warnings, ...table };
  const fds: number[] = [];
  const open = (f: string) => {
    const fd = fs.openSync(f, 'r');
    fds.push(fd);
    return fd;
  };
  try {
    const ledgerFd = open(l.paths.ledger);
    return buildModel({ ...input, ...segmentSource(l, ledgerFd, open) });
  } catch (e) {
    if (!(e instanceof StaleIndex) && fds.length > 0) throw e;
    dropIndex(l.paths);
    return buildModel({ ...input, lines: readDashboardLines(l.paths.ledger).lines });
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}

/**
 * The segment's runs: from the index's summary when it was read that way
 * and can answer, else from the index's records (read whole when the
 * summary could not answer).
 */
function segmentSource(l: Loaded, ledgerFd: number, open: (file: string) => number): Pick<ModelInput, 'views' | 'series'> {
  const idx = l.index;
  if (idx.kind === 'full') return { series: indexSeries(idx.recs, l.state.segment, ledgerFd) };
  let idxFd: number;
  try {
    idxFd = open(idx.file);
  } catch {
    // Dropped since it was read (by this call's fallback, or another viewer's): the lines answer.
    throw new StaleIndex('the run index is gone');
  }
  const views = blockViews(idx.sums, idx.count, l.state.segment, idxFd, ledgerFd);
  if (views) return { views };
  const recs = Buffer.alloc(idx.count * REC);
  if (fs.readSync(idxFd, recs, 0, recs.length, 0) !== recs.length) throw new StaleIndex('the run index is shorter than its summary');
  return { series: indexSeries(recs, l.state.segment, ledgerFd) };
}

/** The chain trail this experiment is part of (root → … → newest), or nothing. */
export function chainTrail(root: string, slug: string): string[] {
  try {
    const st = chainStatusIn(loadChainFile(root), slug);
    return st.chain ? [...st.chain.trail] : [];
  } catch {
    // A chain.json that does not parse is chain.ts's to report; the dashboard shows no trail.
    return [];
  }
}

/** What is happening now in the experiment as loaded (activity.ts). */
export function activityNow(root: string, l: Loaded): Activity {
  return activityOf({ root, paths: l.paths, config: l.config, state: l.state, warnings: [] });
}
