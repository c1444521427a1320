// The dashboard's view model: one pure function from what the engine knows
// (config, ledger lines, derived state, termination, chain trail) to the data
// every renderer draws. Renderers add layout, never facts.
import type { Config, Direction, LedgerLine, TerminatedBy, Verdict } from '../schema.ts';
import { confidenceOf, gainPct, shownLoop, type ShownLoop, type State, type Termination } from '../reduce.ts';
import type { ConfidenceLabel } from '../confidence.ts';
import { sanitize } from './text.ts';
import { relaunchText } from '../supervisor/view.ts';
import { nextActionOrChain } from '../next-action.ts';

/** The experiment after this one in its chain trail, if one started. */
function followUpIn(trail: readonly string[], slug: string): string | null {
  const at = trail.indexOf(slug);
  return at < 0 ? null : (trail[at + 1] ?? null);
}
import { bestGuardrailChecks } from '../judge-run.ts';
import { isSeries, markOf, seriesOf, type RunMark, type RunPoint, type RunSeries } from './series.ts';
import { runPoint } from './result-line.ts';
import { activityLines, activityNext, NO_ACTIVITY, type Activity } from './activity.ts';

export const VERDICTS: readonly Verdict[] = ['keep', 'discard', 'crash', 'timeout', 'checks_failed', 'invalid'];
/**
 * Rows kept for the table (plus earlier keeps): a person reads the recent end,
 * not 10,000 lines; the chart covers every run. 100: a 100-run history is
 * listed whole, and a 100,000-run one lists what a 100-run one does plus the
 * newest earlier keeps (each row is a ledger line read back and ~300 bytes of page).
 */
export const ROWS_CAP = 100;
/** Earlier keeps listed at most (the newest, the path to the best): a 100,000-run history has thousands. */
export const KEEPS_CAP = 50;

export type { RunMark, RunPoint, RunSeries } from './series.ts';

/**
 * A run of consecutive runs folded into one chart column: the lowest and the
 * highest value (min/max downsampling keeps outliers visible), the best keep,
 * the first failure and the best-so-far after the last run of the bucket.
 * Its marks carry their runs' texts when every run has its own column, or
 * when the run is listed in the table (see RunMark).
 */
export interface ChartBucket {
  /** Run id of the bucket's first run. */
  first: string;
  from: number;
  to: number;
  count: number;
  lo: RunMark | null;
  hi: RunMark | null;
  keep: RunMark | null;
  fail: RunMark | null;
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
  loop: ShownLoop;
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
  /** What is happening now and not yet in the ledger: a run measuring, one to log, one cut off (activity.ts). */
  activity: Activity;
  /** The activity for people, a line each (empty when nothing is under way). */
  now: string[];
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
  /** The ledger's lines; or `series`, the segment's runs read another way (run-index.ts). */
  lines?: readonly LedgerLine[];
  series?: { runs: RunSeries; earlier: number };
  /** Or the chart and the table computed another way (block-view.ts, from the run index's summary). */
  views?: SegmentViews;
  state: State;
  termination: Termination;
  chain: readonly string[];
  /** Milliseconds since the epoch (time used is measured against it). */
  now: number;
  /** Columns the chart is downsampled to (a renderer's resolution). */
  chartBuckets: number;
  rowsCap?: number;
  /** Earlier keeps listed at most (KEEPS_CAP unless told). */
  keepsCap?: number;
  warnings?: readonly string[];
  /** What is happening now (activity.ts); none when not told. */
  activity?: Activity;
  /** active.json is there (false after `control clear`: the loop shows 'cleared'); true when not told. */
  published?: boolean;
}

export interface TableRows {
  rows: RunPoint[];
  recent: number;
  omitted: number;
}

/** A segment's chart and table, for a source that computes them itself (same figures as buildChart and tableRows). */
export interface SegmentViews {
  length: number;
  earlier: number;
  /** `listed`: segment positions (0-based) of the table's rows, whose marks carry their texts. */
  chart(direction: Direction, columns: number, listed: ReadonlySet<number>): ChartModel;
  table(cap: number, keepsCap: number): TableRows;
}

const finite = (x: number | null): number | null => (x !== null && Number.isFinite(x) ? x : null);
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
    runs.push(runPoint(l, runs.length + 1, commits.get(l.run_id) ?? null));
  }
  return { runs, earlier };
}

/**
 * Downsample to at most `columns` buckets in one pass over the runs; whatever
 * draws the result does O(columns) work, so a 10,000-run chart costs a
 * renderer no more than a 100-run one. Only the runs a bucket shows are
 * materialised: whole (series.point) when every run has its column or the
 * run is `listed`, else as marks (markOf).
 */
export function buildChart(input: readonly RunPoint[] | RunSeries, direction: Direction, columns: number, listed: ReadonlySet<number> = new Set()): ChartModel {
  const runs = isSeries(input) ? input : seriesOf(input);
  const n = runs.length;
  const cols = Math.max(1, Math.floor(columns));
  const per = Math.max(1, Math.ceil(n / cols));
  const buckets: ChartBucket[] = [];
  const acc: ChartAcc = { best: null, min: null, max: null };
  const show = (i: number): RunMark => (per === 1 || listed.has(i) ? runs.point(i) : markOf(runs, i));
  for (let start = 0; start < n; start += per) buckets.push(chartBucket(runs, direction, start, Math.min(n, start + per), acc, show));
  return { runs: n, per_bucket: per, buckets, min: acc.min, max: acc.max, first_run: n ? runs.runId(0) : null, last_run: n ? runs.runId(n - 1) : null };
}

interface ChartAcc {
  best: number | null;
  min: number | null;
  max: number | null;
}

const FAILURES: ReadonlySet<Verdict> = new Set(['crash', 'timeout', 'checks_failed', 'invalid']);

/** One column: runs [start, end) by index, then materialised. `acc` carries the best so far and the range. */
function chartBucket(runs: RunSeries, direction: Direction, start: number, end: number, acc: ChartAcc, show: (i: number) => RunMark): ChartBucket {
  let lo = -1;
  let hi = -1;
  let keep = -1;
  let fail = -1;
  let failures = 0;
  for (let i = start; i < end; i++) {
    const v = runs.primary(i);
    const verdict = runs.verdict(i);
    // The same rule as the state: a keep sets the best, a rebaseline re-measures it.
    if (verdict === 'keep') acc.best = v;
    else if (v !== null && runs.rebaseline(i) && runs.status(i) === 'ok') acc.best = v;
    if (verdict === 'keep' && v !== null) {
      const kv = keep < 0 ? null : runs.primary(keep);
      if (kv === null || better(direction, v, kv)) keep = i;
    }
    if (FAILURES.has(verdict)) {
      failures++;
      if (fail < 0) fail = i;
    }
    if (v === null) continue;
    if (lo < 0 || v < (runs.primary(lo) as number)) lo = i;
    if (hi < 0 || v > (runs.primary(hi) as number)) hi = i;
    if (acc.min === null || v < acc.min) acc.min = v;
    if (acc.max === null || v > acc.max) acc.max = v;
  }
  const at = (i: number) => (i < 0 ? null : show(i));
  return { first: runs.runId(start), from: start + 1, to: end, count: end - start, lo: at(lo), hi: at(hi), keep: at(keep), fail: at(fail), best: acc.best, failures };
}

/** The last `cap` runs plus the newest `keepsCap` earlier keeps, oldest first. */
export function tableRows(input: readonly RunPoint[] | RunSeries, cap: number, keepsCap = KEEPS_CAP): TableRows {
  const runs = isSeries(input) ? input : seriesOf(input);
  const cut = Math.max(0, runs.length - cap);
  const keeps: number[] = [];
  for (let i = cut - 1; i >= 0 && keeps.length < keepsCap; i--) if (runs.verdict(i) === 'keep') keeps.push(i);
  const rows: RunPoint[] = keeps.reverse().map((i) => runs.point(i));
  for (let i = cut; i < runs.length; i++) rows.push(runs.point(i));
  return { rows, recent: runs.length - cut, omitted: runs.length - rows.length };
}

function inMemory(lines: readonly LedgerLine[], segment: number): { runs: RunSeries; earlier: number } {
  const { runs, earlier } = segmentRuns(lines, segment);
  return { runs: seriesOf(runs), earlier };
}

/** The views of a series of runs: the model's own downsampling and table. */
function seriesViews({ runs, earlier }: { runs: RunSeries; earlier: number }): SegmentViews {
  return {
    length: runs.length,
    earlier,
    chart: (direction, columns, listed) => buildChart(runs, direction, columns, listed),
    table: (cap, keepsCap) => tableRows(runs, cap, keepsCap),
  };
}

export function buildModel(i: ModelInput): ViewModel {
  const { config: c, state: s, termination: t } = i;
  const views = i.views ?? seriesViews(i.series ?? inMemory(i.lines ?? [], s.segment));
  const conf = confidenceOf(s);
  const table = views.table(i.rowsCap ?? ROWS_CAP, i.keepsCap ?? KEEPS_CAP);
  const chart = views.chart(c.direction, i.chartBuckets, new Set(table.rows.map((r) => r.n - 1)));
  // Only the runs that are shown get their texts cleaned: on a 10,000-run
  // ledger that is a few hundred strings, not 20,000.
  const cleaned = new Set<RunMark>();
  const clean = (r: RunMark | null) => {
    if (!r || cleaned.has(r) || r.description === undefined) return;
    cleaned.add(r);
    r.description = sanitize(r.description);
    r.reason = sanitize(r.reason ?? '');
  };
  for (const b of chart.buckets) [b.lo, b.hi, b.keep, b.fail].forEach(clean);
  table.rows.forEach(clean);
  const change = s.best !== null && s.baseline !== null && s.baseline !== 0 ? ((s.best - s.baseline) / Math.abs(s.baseline)) * 100 : null;
  const elapsed = s.started_at ? Math.max(0, (i.now - Date.parse(s.started_at)) / 1000) : 0;
  return {
    experiment: i.slug,
    segment: s.segment,
    earlier_runs: views.earlier,
    loop: shownLoop(s, t, i.published ?? true),
    goal: sanitize(c.goal),
    metric: c.metric,
    unit: sanitize(c.unit),
    direction: c.direction,
    best: { value: s.best, run: s.best_run, commit: s.best_commit },
    baseline: { value: s.baseline, run: s.baseline_run },
    // A ratio past the largest double (a baseline of 1e-310, a best of 1) is no percentage to print ("+Infinity%").
    gain_pct: finite(gainPct(s, c)),
    change_pct: finite(change),
    confidence: { value: conf.value, label: conf.label },
    guardrails: bestGuardrailChecks(c, s).map((g) => ({ metric: sanitize(g.metric), status: g.status, value: g.value, reference: g.reference, allowed: g.allowed })),
    health: {
      state: s.health.health,
      reason: sanitize(s.health.reason),
      playbook: s.health.playbook,
      // A stop reason is the user's text and reaches the next action: no escape passes.
      next_action: sanitize(activityNext(i.activity ?? NO_ACTIVITY, nextActionOrChain(s, t, followUpIn(i.chain, i.slug)), t.terminate)),
    },
    activity: i.activity ?? NO_ACTIVITY,
    now: activityLines(i.activity ?? NO_ACTIVITY, c.parallel).map(sanitize),
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
    segment_runs: views.length,
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
