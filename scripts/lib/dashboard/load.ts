// Reading an experiment for the dashboard: read-only (a viewer never takes the
// lock and never rewrites state.json, so it cannot disturb a running loop), and
// incremental, so --watch only parses what the ledger gained since last time.
import fs from 'node:fs';
import { LedgerLine, METRIC_NAME, RUN_ID, RunStatus, Verdict, type Config, type ResultLine } from '../schema.ts';
import { experimentPaths, type ExperimentPaths } from '../paths.ts';
import { loadConfig } from '../config.ts';
import { readLedger, type LedgerRead } from '../ledger.ts';
import { UsageError } from '../errors.ts';
import { emptyState, foldLines, type State, type Termination } from '../reduce.ts';
import { loadStateCache } from '../state-cache.ts';
import type { ModelInput } from './model.ts';
import { chainStatusIn, loadChainFile } from '../chain.ts';

export interface Loaded {
  slug: string;
  paths: ExperimentPaths;
  config: Config;
  lines: LedgerLine[];
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
function stateFor(paths: ExperimentPaths, config: Config, end: number, warnings: string[]): State {
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

const STATUSES: ReadonlySet<unknown> = new Set(RunStatus.options);
const VERDICT_SET: ReadonlySet<unknown> = new Set(Verdict.options);
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isStrArray = (x: unknown): boolean => Array.isArray(x) && x.every((v) => typeof v === 'string');

/**
 * The ResultLine schema, checked by hand: the same rules, a tenth of the cost
 * (a 10,000-run ledger is 20,000 lines, and zod was most of the dashboard's
 * time). A line that fails here goes to the zod schema, which has the last word.
 */
function asResultLine(o: Record<string, unknown>): ResultLine | null {
  const m = o.metrics;
  if (
    o.type === 'result' &&
    typeof o.ts === 'string' &&
    Number.isInteger(o.segment) && (o.segment as number) >= 1 &&
    typeof o.run_id === 'string' && RUN_ID.test(o.run_id) &&
    STATUSES.has(o.status) &&
    VERDICT_SET.has(o.verdict) &&
    (o.primary === null || isNum(o.primary)) &&
    Array.isArray(o.samples) && o.samples.every(isNum) &&
    typeof m === 'object' && m !== null && !Array.isArray(m) &&
    Object.entries(m).every(([k, v]) => METRIC_NAME.test(k) && isNum(v)) &&
    typeof o.description === 'string' &&
    (o.hypothesis === null || typeof o.hypothesis === 'string') &&
    typeof o.reason === 'string' &&
    (o.delta === null || isNum(o.delta)) &&
    isNum(o.duration_s) && o.duration_s >= 0 &&
    isStrArray(o.files) &&
    typeof o.rebaseline === 'boolean'
  ) {
    return o as unknown as ResultLine;
  }
  return null;
}

// Lines are written by JSON.stringify of the schema's output, so they begin with their type.
const EVENT_PREFIX = Buffer.from('{"type":"event"');
const COMMITTED = Buffer.from('"event":"committed"');

/**
 * What the chart and the table need, read fast: config lines, result lines and
 * `committed` events (for the commits). Other events only move the derived
 * state, which comes from the engine's cache. Torn and invalid lines are
 * skipped with the same warnings readLedger gives.
 */
export function readDashboardLines(file: string): LedgerRead {
  return readLedger(file, 0, {
    skip: (buf, start, end) =>
      buf.compare(EVENT_PREFIX, 0, EVENT_PREFIX.length, start, Math.min(end, start + EVENT_PREFIX.length)) === 0 &&
      buf.subarray(start, end).indexOf(COMMITTED) === -1,
    fast: asResultLine,
  });
}

export function loadExperiment(root: string, slug: string): Loaded {
  const paths = experimentPaths(root, slug);
  if (!fs.existsSync(paths.config)) throw new UsageError(`experiment "${slug}" has no config.yaml`);
  const stamp = stampOf(paths);
  const config = loadConfig(paths.config);
  const read = readDashboardLines(paths.ledger);
  const warnings = [...read.warnings];
  const state = stateFor(paths, config, read.end, warnings);
  return { slug, paths, config, lines: read.lines, state, warnings, end: read.end, stamp };
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
  if (size < prev.end) return loadExperiment(root, prev.slug);
  const config = loadConfig(prev.paths.config);
  const read = readLedger(prev.paths.ledger, prev.end);
  // The state may have been folded a little further than the lines (the cache
  // was newer than our read): fold from where the state stands, not from ours.
  const tail = prev.state.ledger_offset === prev.end ? read : readLedger(prev.paths.ledger, prev.state.ledger_offset);
  const state = { ...foldLines(prev.state, tail.lines, config), ledger_offset: tail.end };
  return {
    ...prev,
    config,
    lines: read.lines.length ? [...prev.lines, ...read.lines] : prev.lines,
    state,
    warnings: [...prev.warnings, ...read.warnings].slice(-5),
    end: read.end,
    stamp,
  };
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

export function modelInput(l: Loaded, t: Termination, chain: readonly string[], now: number, chartBuckets: number): ModelInput {
  return { slug: l.slug, config: l.config, lines: l.lines, state: l.state, termination: t, chain, now, chartBuckets, warnings: l.warnings };
}
