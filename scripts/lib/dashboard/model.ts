// The dashboard's view model: one pure function from what the engine knows
// (config, ledger lines, derived state, termination, chain trail) to the data
// every renderer draws. Renderers add layout, never facts.
import type { Config, Direction, LedgerLine, ResultLine, RunStatus, TerminatedBy, Verdict } from '../schema.ts';
import { confidenceOf, gainPct, loopState, type LoopState, type State, type Termination } from '../reduce.ts';
import type { ConfidenceLabel } from '../confidence.ts';
import { sanitize } from './text.ts';
import { relaunchText } from '../supervisor/view.ts';
import { nextActionOrChain } from '../next-action.ts';
import { bestGuardrailChecks } from '../judge-run.ts';

export const VERDICTS: readonly Verdict[] = ['keep', 'discard', 'crash', 'timeout', 'checks_failed', 'invalid'];
/** Rows kept for the table (plus every keep): a person reads the recent end, not 10,000 lines. */
export const ROWS_CAP = 200;

/** One run as the dashboard shows it (buildModel sanitizes the texts of the runs it shows). */
export interface RunPoint {
  /** 1-based position of the run in the segment. */
  n: number;
  run_id: string;
  verdict: Verdict;
  status: RunStatus;
  primary: number | null;
  delta: number | null;
  description: string;
  reason: string;
  commit: string | null;
  rebaseline: boolean;
  duration_s: number;
  ts: string;
}

/**
 * A run of consecutive runs folded into one chart column: the lowest and the
 * highest value (min/max downsampling keeps outliers visible), the best keep,
 * the first failure and the best-so-far after the last run of the bucket.
 */
export interface ChartBucket {
  /** Run id of the bucket's first run. */
  first: string;
  from: number;
  to: number;
  count: number;
  lo: RunPoint | null;
  hi: RunPoint | null;
  keep: RunPoint | null;
  fail: RunPoint | null;
  best: number | null;
  failures: number;
}

export interface ChartModel {
  runs: number;
  /** Runs per bucket (1 when every run has its own column). */
  per_bucket: number;
  buckets: ChartBucket[];
  min: number | null;
  max: number | null;
  first_run: string | null;
  last_run: string | null;
}

export interface ViewModel {
  experiment: string;
  segment: number;
  /** Runs logged in earlier segments (their numbers are not comparable with this one's). */
  earlier_runs: number;
  loop: LoopState;
  goal: string;
  metric: string;
  unit: string;
  direction: Direction;
  best: { value: number | null; run: string | null; commit: string | null };
  baseline: { value: number | null; run: string | null };
  /** Improvement of best over baseline in % (positive = better). */
  gain_pct: number | null;
  /** Raw change of best vs baseline in % (negative = the number went down). */
  change_pct: number | null;
  confidence: { value: number | null; label: ConfidenceLabel | null };
  health: { state: string; reason: string; playbook: string | null; next_action: string };
  /** Every guardrail: the best against the segment's baseline. */
  guardrails: { metric: string; status: string; value: number | null; reference: number | null; allowed: number | null }[];
  budget: {
    runs: number;
    max_runs: number | null;
    since_improvement: number;
    plateau: number | null;
    target: number | null;
    elapsed_s: number;
    max_wall_clock: number | null;
    progress: Termination['progress'];
    terminated: boolean;
    by: TerminatedBy | null;
    message: string;
  };
  counts: Record<Verdict, number>;
  segment_runs: number;
  chart: ChartModel;
  /** Table rows, oldest first: the last ROWS_CAP runs of the segment plus every keep. */
  rows: RunPoint[];
  /** How many of the rows are the segment's last runs (the others are earlier keeps). */
  rows_recent: number;
  rows_omitted: number;
  chain: string[];
  /** The supervisor's relaunches in one line, or null when there were none. */
  relaunch: string | null;
  warnings: string[];
  generated_at: string;
}

export interface ModelInput {
  slug: string;
  config: Config;
  lines: readonly LedgerLine[];
  state: State;
  termination: Termination;
  chain: readonly string[];
  /** Milliseconds since the epoch (time used is measured against it). */
  now: number;
  /** Columns the chart is downsampled to (a renderer's resolution). */
  chartBuckets: number;
  rowsCap?: number;
  warnings?: readonly string[];
}

const better = (dir: Direction, a: number, b: number): boolean => (dir === 'lower' ? a < b : a > b);

/** The current segment's runs, in ledger order, with their commits. */
export function segmentRuns(lines: readonly LedgerLine[], segment: number): { runs: RunPoint[]; earlier: number } {
  const commits = new Map<string, string>();
  for (const l of lines) {
    if (l.type === 'event' && l.event === 'committed' && l.run_id && typeof l.data.commit === 'string') commits.set(l.run_id, l.data.commit);
  }
  const runs: RunPoint[] = [];
  let earlier = 0;
  for (const l of lines) {
    if (l.type !== 'result') continue;
    if (l.segment !== segment) {
      earlier++;
      continue;
    }
    runs.push(point(l, runs.length + 1, commits.get(l.run_id) ?? null));
  }
  return { runs, earlier };
}

function point(l: ResultLine, n: number, commit: string | null): RunPoint {
  return {
    n,
    run_id: l.run_id,
    verdict: l.verdict,
    status: l.status,
    primary: l.primary !== null && Number.isFinite(l.primary) ? l.primary : null,
    delta: l.delta,
    description: l.description,
    reason: l.reason,
    commit,
    rebaseline: l.rebaseline,
    duration_s: l.duration_s,
    ts: l.ts,
  };
}

/**
 * Downsample to at most `columns` buckets in one pass over the runs; whatever
 * draws the result does O(columns) work, so a 10,000-run chart costs a
 * renderer no more than a 100-run one.
 */
export function buildChart(runs: readonly RunPoint[], direction: Direction, columns: number): ChartModel {
  const n = runs.length;
  const cols = Math.max(1, Math.floor(columns));
  const per = Math.max(1, Math.ceil(n / cols));
  const buckets: ChartBucket[] = [];
  let best: number | null = null;
  let min: number | null = null;
  let max: number | null = null;
  for (let start = 0; start < n; start += per) {
    const b: ChartBucket = { first: (runs[start] as RunPoint).run_id, from: start + 1, to: Math.min(n, start + per), count: 0, lo: null, hi: null, keep: null, fail: null, best: null, failures: 0 };
    for (let i = start; i < start + per && i < n; i++) {
      const r = runs[i] as RunPoint;
      b.count++;
      const v = r.primary;
      // The same rule as the state: a keep sets the best, a rebaseline re-measures it.
      if (r.verdict === 'keep') best = v;
      else if (r.rebaseline && r.status === 'ok' && v !== null) best = v;
      if (r.verdict === 'keep' && v !== null && (b.keep === null || b.keep.primary === null || better(direction, v, b.keep.primary))) b.keep = r;
      if (r.verdict === 'crash' || r.verdict === 'timeout' || r.verdict === 'checks_failed' || r.verdict === 'invalid') {
        b.failures++;
        b.fail ??= r;
      }
      if (v === null) continue;
      if (b.lo === null || v < (b.lo.primary as number)) b.lo = r;
      if (b.hi === null || v > (b.hi.primary as number)) b.hi = r;
      if (min === null || v < min) min = v;
      if (max === null || v > max) max = v;
    }
    b.best = best;
    buckets.push(b);
  }
  return { runs: n, per_bucket: per, buckets, min, max, first_run: runs[0]?.run_id ?? null, last_run: runs[n - 1]?.run_id ?? null };
}

/** The last `cap` runs plus every earlier keep, oldest first. */
export function tableRows(runs: readonly RunPoint[], cap: number): { rows: RunPoint[]; recent: number; omitted: number } {
  const cut = Math.max(0, runs.length - cap);
  const rows: RunPoint[] = [];
  for (let i = 0; i < cut; i++) if ((runs[i] as RunPoint).verdict === 'keep') rows.push(runs[i] as RunPoint);
  for (let i = cut; i < runs.length; i++) rows.push(runs[i] as RunPoint);
  return { rows, recent: runs.length - cut, omitted: runs.length - rows.length };
}

export function buildModel(i: ModelInput): ViewModel {
  const { config: c, state: s, termination: t } = i;
  const { runs, earlier } = segmentRuns(i.lines, s.segment);
  const conf = confidenceOf(s);
  const table = tableRows(runs, i.rowsCap ?? ROWS_CAP);
  const chart = buildChart(runs, c.direction, i.chartBuckets);
  // Only the runs that are shown get their texts cleaned: on a 10,000-run
  // ledger that is a few hundred strings, not 20,000.
  const cleaned = new Set<RunPoint>();
  const clean = (r: RunPoint | null) => {
    if (!r || cleaned.has(r)) return;
    cleaned.add(r);
    r.description = sanitize(r.description);
    r.reason = sanitize(r.reason);
  };
  for (const b of chart.buckets) [b.lo, b.hi, b.keep, b.fail].forEach(clean);
  table.rows.forEach(clean);
  const change = s.best !== null && s.baseline !== null && s.baseline !== 0 ? ((s.best - s.baseline) / Math.abs(s.baseline)) * 100 : null;
  const elapsed = s.started_at ? Math.max(0, (i.now - Date.parse(s.started_at)) / 1000) : 0;
  return {
    experiment: i.slug,
    segment: s.segment,
    earlier_runs: earlier,
    loop: loopState(s, t),
    goal: sanitize(c.goal),
    metric: c.metric,
    unit: sanitize(c.unit),
    direction: c.direction,
    best: { value: s.best, run: s.best_run, commit: s.best_commit },
    baseline: { value: s.baseline, run: s.baseline_run },
    gain_pct: gainPct(s, c),
    change_pct: change,
    confidence: { value: conf.value, label: conf.label },
    guardrails: bestGuardrailChecks(c, s).map((g) => ({ metric: sanitize(g.metric), status: g.status, value: g.value, reference: g.reference, allowed: g.allowed })),
    health: {
      state: s.health.health,
      reason: sanitize(s.health.reason),
      playbook: s.health.playbook,
      next_action: nextActionOrChain(s, t),
    },
    budget: {
      runs: s.runs_total,
      max_runs: c.max_runs,
      since_improvement: s.runs_since_improvement,
      plateau: c.plateau,
      target: c.target,
      elapsed_s: elapsed,
      max_wall_clock: c.max_wall_clock,
      progress: t.progress,
      terminated: t.terminate,
      by: t.by,
      message: t.message,
    },
    counts: { ...s.counts },
    segment_runs: runs.length,
    chart,
    rows: table.rows,
    rows_recent: table.recent,
    rows_omitted: table.omitted,
    chain: i.chain.map(sanitize),
    relaunch: relaunchText(s.relaunches),
    warnings: (i.warnings ?? []).map(sanitize),
    generated_at: new Date(i.now).toISOString(),
  };
}
