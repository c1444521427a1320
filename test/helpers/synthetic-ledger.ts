// Synthetic experiments for the dashboard's tests and benchmark: realistic
// ledgers (a baseline, keeps that step the best down, discards around it,
// crashes, timeouts, failed checks, invalid runs, rebaselines, a second
// segment), every line validated by the ledger schema, written the way the
// engine writes them (config.yaml, ledger.jsonl, state.json, active.json).
import fs from 'node:fs';
import path from 'node:path';
import { ActiveFile, Config, LedgerLine, type ConfigInput, type Verdict } from '../../scripts/lib/schema.ts';
import { experimentPaths, repoPaths, runId } from '../../scripts/lib/paths.ts';
import { saveConfig } from '../../scripts/lib/config.ts';
import { writeJsonAtomic } from '../../scripts/lib/fsx.ts';
import { emptyState, foldLines, type State } from '../../scripts/lib/reduce.ts';
import { saveStateCache } from '../../scripts/lib/state-cache.ts';
import { mulberry32 } from './prng.ts';

export interface SyntheticOptions {
  runs: number;
  seed?: number;
  slug?: string;
  direction?: 'lower' | 'higher';
  /** Start a second segment after this many runs (null: one segment). */
  segmentAt?: number | null;
  /** Descriptions to use instead of the generated ones, cycled. */
  descriptions?: readonly string[];
  config?: Partial<ConfigInput>;
  start?: string;
}

export interface Synthetic {
  config: Config;
  lines: LedgerLine[];
}


const IDEAS = [
  'skip even numbers in the inner loop',
  'wheel factorisation mod 30',
  'cache the square root bound',
  'use a Uint8Array sieve',
  'unroll the marking loop by 4',
  'segmented sieve with 32 KB blocks',
  'bitset instead of bytes',
  'start marking at p*p',
  'precompute small primes',
  'avoid the modulo in the hot path',
];

function sha(r: () => number): string {
  let s = '';
  for (let i = 0; i < 40; i++) s += Math.floor(r() * 16).toString(16);
  return s;
}

export function syntheticLedger(o: SyntheticOptions): Synthetic {
  const r = mulberry32(o.seed ?? 1);
  const dir = o.direction ?? 'lower';
  const slug = o.slug ?? 'faster-primes';
  const config = Config.parse({
    name: slug,
    goal: 'Count primes below 20000 with fewer operations',
    metric: 'ops',
    unit: 'ops',
    direction: dir,
    command: 'node bench/bench.js',
    max_runs: Math.max(1, o.runs + 50),
    plateau: 40,
    ...o.config,
  });
  // By default the experiment started as long ago as its runs took, so "time used" reads like a real one.
  let t = o.start ? Date.parse(o.start) : Date.now() - o.runs * 130_000;
  const ts = () => {
    t += 30_000 + Math.floor(r() * 90_000);
    return new Date(t).toISOString();
  };
  const lines: LedgerLine[] = [];
  const push = (l: unknown) => lines.push(LedgerLine.parse(l));
  const openSegment = (segment: number, reason: string) =>
    push({
      type: 'config',
      ts: ts(),
      segment,
      config,
      fingerprints: { config: 'f'.repeat(64), files: { 'bench/bench.js': 'a'.repeat(64) } },
      base: sha(r),
      reason,
    });

  let segment = 1;
  openSegment(segment, 'init');
  let best: number | null = null;
  const start = 2_000_000;
  for (let i = 1; i <= o.runs; i++) {
    if (o.segmentAt && i === o.segmentAt + 1) {
      segment++;
      openSegment(segment, 'benchmark changed');
      best = null;
    }
    const id = runId(i);
    const describe = o.descriptions?.length ? (o.descriptions[(i - 1) % o.descriptions.length] as string) : `${IDEAS[Math.floor(r() * IDEAS.length)]} (#${i})`;
    const sign = dir === 'lower' ? 1 : -1;
    let verdict: Verdict;
    let primary: number | null;
    let rebaseline = false;
    // Keeps get rarer as the easy wins run out, as in a real loop.
    const pKeep = Math.min(0.25, 0.6 / Math.sqrt(i));
    const x = r();
    if (best === null) {
      verdict = 'keep';
      primary = start * (segment === 1 ? 1 : 0.8);
    } else if (r() < pKeep) {
      verdict = 'keep';
      // …and smaller: the first ideas win percents, the thousandth a fraction of one.
      primary = best * (1 - (sign * (0.01 + r() * 0.08)) / Math.sqrt(1 + i / 25));
    } else if (x < 0.03) {
      verdict = 'discard';
      rebaseline = true;
      primary = best * (1 + (r() - 0.5) * 0.004);
    } else if (x < 0.62) {
      verdict = 'discard';
      primary = best * (1 + sign * (r() * 0.12 - 0.004));
    } else if (x < 0.74) {
      verdict = 'crash';
      primary = null;
    } else if (x < 0.8) {
      verdict = 'timeout';
      primary = null;
    } else if (x < 0.93) {
      verdict = 'checks_failed';
      primary = best * (1 - sign * r() * 0.05);
    } else {
      verdict = 'invalid';
      primary = null;
    }
    if (primary !== null) primary = Math.round(primary);
    const status = verdict === 'keep' || verdict === 'discard' ? 'ok' : verdict;
    const delta = best !== null && primary !== null ? (dir === 'lower' ? best - primary : primary - best) : null;
    push({
      type: 'result',
      ts: ts(),
      segment,
      run_id: id,
      status,
      verdict,
      primary,
      samples: primary === null ? [] : [primary, Math.round(primary * 1.002), Math.round(primary * 0.998)],
      metrics: primary === null ? {} : { ops: primary },
      description: rebaseline ? 'rebaseline' : describe,
      hypothesis: null,
      reason: verdict === 'keep' ? 'better than the best by more than the noise' : `${verdict}`,
      delta: rebaseline ? null : delta,
      duration_s: 1 + r() * 20,
      files: rebaseline ? [] : ['src/primes.js'],
      rebaseline,
    });
    if (verdict === 'keep') {
      best = primary;
      push({ type: 'event', ts: ts(), segment, event: 'committed', run_id: id, data: { commit: sha(r) } });
    } else {
      if (rebaseline && primary !== null) best = primary;
      push({ type: 'event', ts: ts(), segment, event: 'reverted', run_id: id, data: {} });
    }
  }
  return { config, lines };
}

/**
 * Write a synthetic experiment into `root` as the engine would leave it.
 * `stateCache: false` leaves no state.json (the reader rebuilds it).
 */
export function writeSynthetic(root: string, syn: Synthetic, opts: { stateCache?: boolean; active?: boolean } = {}): { state: State } {
  const p = experimentPaths(root, syn.config.name);
  fs.mkdirSync(p.dir, { recursive: true });
  saveConfig(p.config, syn.config);
  const text = syn.lines.map((l) => JSON.stringify(l) + '\n').join('');
  fs.writeFileSync(p.ledger, text);
  const state = { ...foldLines(emptyState(), syn.lines, syn.config), ledger_offset: Buffer.byteLength(text) };
  if (opts.stateCache !== false) saveStateCache(p, state);
  if (opts.active !== false) {
    const active = ActiveFile.parse({
      version: 1,
      experiment: syn.config.name,
      loop: 'active',
      scope: syn.config.scope,
      protect: ['bench/bench.js'],
      writable: [path.relative(root, p.notes), path.relative(root, p.ideas)],
      summary: `autoloop experiment "${syn.config.name}"`,
      next_action: state.health.next_action,
      direction: syn.config.direction,
      terminated_by: null,
      runs: state.runs_total,
      stop_hook: syn.config.stop_hook,
      updated_at: new Date().toISOString(),
    });
    writeJsonAtomic(repoPaths(root).active, active);
  }
  return { state };
}
