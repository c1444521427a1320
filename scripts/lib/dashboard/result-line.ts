// A result line checked fast, and made into the run the dashboard shows.
import { METRIC_NAME, RUN_ID, RunStatus, Verdict, type ResultLine } from '../schema.ts';
import type { RunPoint } from './series.ts';

const STATUSES: ReadonlySet<unknown> = new Set(RunStatus.options);
const VERDICT_SET: ReadonlySet<unknown> = new Set(Verdict.options);
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isStrArray = (x: unknown): boolean => Array.isArray(x) && x.every((v) => typeof v === 'string');

/**
 * The ResultLine schema, checked by hand: the same rules, a tenth of the cost
 * (a 10,000-run ledger is 20,000 lines, and zod was most of the dashboard's
 * time). A line that fails here goes to the zod schema, which has the last word.
 */
export function asResultLine(o: Record<string, unknown>): ResultLine | null {
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

/** The run as the dashboard shows it, `n`-th of its segment. */
export function runPoint(l: ResultLine, n: number, commit: string | null): RunPoint {
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
