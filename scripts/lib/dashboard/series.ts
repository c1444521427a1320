// A segment's runs as the dashboard's model reads them: a few compact fields
// per run for the chart's downsampling, and the whole run (texts, commit)
// only for the runs that are shown. An in-memory list of RunPoints is one
// source; the run index (run-index.ts) is another, which reads a shown run's
// line from the ledger by its offset, so that a 100,000-run chart parses a
// few hundred lines instead of 200,000.
import type { RunStatus, Verdict } from '../schema.ts';

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
 * A run as a chart mark: what the run index holds of it. A mark carries the
 * run's texts and commit (it is then the run's RunPoint) only when the chart
 * draws every run, or when the run is also listed in the table: a downsampled
 * chart of 100,000 runs reads no ledger line for its marks.
 */
export type RunMark = Pick<RunPoint, 'n' | 'run_id' | 'verdict' | 'status' | 'primary' | 'rebaseline'> & Partial<RunPoint>;

export function runMark(n: number, run_id: string, verdict: Verdict, status: RunStatus, primary: number | null, rebaseline: boolean): RunMark {
  return { n, run_id, verdict, status, primary, rebaseline };
}

export interface RunSeries {
  readonly length: number;
  runId(i: number): string;
  primary(i: number): number | null;
  verdict(i: number): Verdict;
  status(i: number): RunStatus;
  rebaseline(i: number): boolean;
  /** The whole run (the same object for the same i). */
  point(i: number): RunPoint;
}

/** Run i of the series as a mark, from its compact fields. */
export function markOf(runs: RunSeries, i: number): RunMark {
  return runMark(i + 1, runs.runId(i), runs.verdict(i), runs.status(i), runs.primary(i), runs.rebaseline(i));
}

/** The series of runs already in memory. */
export function seriesOf(runs: readonly RunPoint[]): RunSeries {
  const at = (i: number) => runs[i] as RunPoint;
  return {
    length: runs.length,
    runId: (i) => at(i).run_id,
    primary: (i) => at(i).primary,
    verdict: (i) => at(i).verdict,
    status: (i) => at(i).status,
    rebaseline: (i) => at(i).rebaseline,
    point: at,
  };
}

export function isSeries(x: readonly RunPoint[] | RunSeries): x is RunSeries {
  return typeof (x as RunSeries).point === 'function';
}
