// What a run's status is, from what happened: the integrity and scope checks,
// the samples taken, the runner's result for the last sample, where the
// metric was looked for, and the checks. Pure: run-experiment does the I/O.
import type { RunStatus } from './schema.ts';
import { withoutColour } from './metrics.ts';
import { cut } from './format.ts';

/** The part of a runner's result the decision reads. */
export interface StepResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  interrupted: boolean;
  spawnError: string | null;
  survivors: string[];
  tail: string;
  /** The runner's own word on how it ended (e.g. Slurm's OUT_OF_MEMORY); local runs have none. */
  detail?: string | undefined;
}

export interface BenchmarkFacts {
  metric: string;
  timeoutS: number;
  /** Judges (config, protected files) changed since the segment opened. */
  integrity: string[];
  /** Those of them that are links out of the repository (outside-judges.ts), with where each leads: the engine cannot put them back. */
  outsideLinks?: ReadonlyArray<{ rel: string; target: string }>;
  /** Paths changed outside the scope. */
  outside: string[];
  /** The primary metric's value per sample, in order. */
  samples: number[];
  /** The runner's result for the last sample; null when none was taken. */
  last: StepResult | null;
  /** Where the primary metric was looked for in the last sample, and sources that failed there;
   *  what that sample's reading warned about and the metric names it found (for a reason that helps). */
  sources: { labels: string[]; failures: string[]; warnings?: readonly string[]; seen?: readonly string[] };
  /** The last sample ran cleanly but gave no primary metric (earlier samples may have). */
  primaryMissing?: boolean;
}

export type Outcome =
  | { phase: 'interrupted'; reason: string }
  | { phase: 'measured'; status: RunStatus; reason: string; tail: string; unclean: { pids: string[]; event: boolean } | null };

const measured = (status: RunStatus, reason: string, tail = '', unclean: { pids: string[]; event: boolean } | null = null): Outcome => ({
  phase: 'measured',
  status,
  reason,
  tail,
  unclean,
});

/** The METRIC-lines wording when that is the only source, else the sources by name; plus why a printed value was not read. */
function missingMetric(metric: string, sources: BenchmarkFacts['sources'], tail = ''): string {
  const hint = missingHint(metric, sources) || prefixHint(metric, tail);
  if (sources.failures.length === 0 && sources.labels.length === 1 && sources.labels[0] === 'METRIC lines') {
    return `metric ${metric} was not printed (expected a line "METRIC ${metric}=<number>")${hint}`;
  }
  const failed = sources.failures.length ? ` (${sources.failures.join('; ')})` : '';
  return `metric ${metric} was found by no source: ${sources.labels.join(', ')}${failed}${hint}`;
}

/**
 * Why a metric the benchmark did print was not read: the warnings that name it
 * (`METRIC ms=nan`, `METRIC ms=12ms`), or a name that differs only by case.
 */
function missingHint(metric: string, sources: BenchmarkFacts['sources']): string {
  const esc = metric.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const word = new RegExp(`(?<![\\p{L}\\p{N}_.-])${esc}(?![\\p{L}\\p{N}_.-])`, 'u');
  const named = (sources.warnings ?? []).filter((w) => word.test(w));
  if (named.length) return `; ${named.slice(0, 2).join('; ')}`;
  const lower = metric.toLowerCase();
  const near = (sources.seen ?? []).filter((n) => n !== metric && n.toLowerCase() === lower);
  return near.length ? `; it printed ${near.slice(0, 3).join(', ')} (metric names are case-sensitive)` : '';
}

/**
 * `INFO:root:METRIC ms=12` (a logger's prefix): the line is not read, since a METRIC line starts
 * its line. Said when the output's tail shows one for this metric.
 */
function prefixHint(metric: string, tail: string): string {
  const esc = metric.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const line = tail.split(/[\r\n]/).find((l) => new RegExp(`\\S.*?METRIC\\s+${esc}\\s*=`).test(withoutColour(l).trim()));
  return line === undefined ? '' : `; ${JSON.stringify(cut(withoutColour(line).trim(), 80))} has text before METRIC (a logger's prefix?): print the line bare, METRIC first`;
}

/** Whether the sampling loop must stop after this sample, whatever the noise policy says. */
export function sampleEndsRun(r: StepResult, primaryFound: boolean): boolean {
  return r.interrupted || r.survivors.length > 0 || r.timedOut || r.spawnError !== null || r.exitCode !== 0 || !primaryFound;
}

/** The status of the benchmark part of a run (before the checks). */
export function benchmarkOutcome(f: BenchmarkFacts): Outcome {
  const out = f.outsideLinks?.[0];
  if (out) {
    return measured('invalid', `benchmark integrity: ${out.rel} changed since the segment opened: it links to ${out.target}, outside the repository, whose file or the files beside it changed; the engine writes nothing there: put them back as they were, or open a new segment with init-experiment`);
  }
  if (f.integrity.length) {
    return measured('invalid', `benchmark integrity: ${f.integrity.join(', ')} changed since the segment opened (logging restores protected files; a new rule needs init-experiment)`);
  }
  if (f.outside.length) {
    return measured('invalid', `changes outside the scope: ${f.outside.slice(0, 5).join(', ')}${f.outside.length > 5 ? ' …' : ''} (undo them; only in-scope files may change)`);
  }
  const o = f.last;
  if (!o) return measured('crash', 'no sample was taken');
  if (o.interrupted) return { phase: 'interrupted', reason: 'interrupted' };
  if (o.survivors.length) {
    return measured('crash', `processes survived the kill (pids ${o.survivors.join(', ')}); run control.mjs repair`, o.tail, { pids: o.survivors, event: true });
  }
  const detail = o.detail ? ` [${o.detail}]` : '';
  if (o.timedOut) return measured('timeout', `timed out after ${f.timeoutS}s (${o.detail ? 'job cancelled' : 'process group killed'})${detail}`, o.tail);
  if (o.spawnError) return measured('crash', `could not start: ${o.spawnError}`, o.tail);
  if (o.exitCode !== 0) return measured('crash', `exit code ${o.exitCode}${o.signal ? ` (${o.signal})` : ''}${detail}`, o.tail);
  if (!f.samples.length || f.primaryMissing === true) {
    const later = f.samples.length ? ' by a later invocation (earlier ones printed it)' : '';
    return measured('invalid', `${missingMetric(f.metric, f.sources, o.tail)}${later}`, o.tail);
  }
  // Every configured source is there for a metric the decision reads: one that found nothing voids the run.
  if (f.sources.failures.length) return measured('invalid', `source found nothing: ${f.sources.failures.join('; ')}`, o.tail);
  return measured('ok', `${f.samples.length} sample${f.samples.length > 1 ? 's' : ''}`);
}

/** Did the checks pass? */
export function checksPassed(c: StepResult): boolean {
  return !c.timedOut && !c.spawnError && c.exitCode === 0 && !c.interrupted;
}

/** The status after the checks ran on an ok benchmark; null: the benchmark's ok stands. */
export function checksOutcome(c: StepResult, checksTimeoutS: number): Outcome | null {
  if (c.interrupted) return { phase: 'interrupted', reason: 'interrupted during checks' };
  if (c.survivors.length) {
    return measured('crash', `checks left processes alive (pids ${c.survivors.join(', ')}); run control.mjs repair`, c.tail, { pids: c.survivors, event: false });
  }
  if (!checksPassed(c)) return measured('checks_failed', c.timedOut ? `checks timed out after ${checksTimeoutS}s` : `checks failed (exit code ${c.exitCode})`, c.tail);
  return null;
}

/** What signalledAgain reads of a run record. */
interface Interruptible {
  phase: string;
  reason: string;
  containment?: string | undefined;
  content: unknown;
  config_error?: string | null | undefined;
}

/** Containments whose runs live in a PID namespace of their own, where no process of the engine can be seen or signalled. */
const SEALED_OFF = new Set(['pidns', 'readonly']);

/**
 * A signal interrupts a run, and the one before it was interrupted too, with
 * the same change measured, where the code under test can see the engine (the
 * process-group fallback: same user, same PID namespace): taken as the
 * change's own doing (a benchmark that kills its engine would otherwise be
 * run again forever, never measured nor reverted). The reason, or null. Pure.
 */
export function signalledAgain(now: Interruptible, last: Interruptible | null): string | null {
  if (!last || last.phase !== 'interrupted' || last.config_error || now.config_error) return null;
  if (SEALED_OFF.has(now.containment ?? '') || SEALED_OFF.has(last.containment ?? '')) return null;
  if (now.content === null || JSON.stringify(now.content) !== JSON.stringify(last.content)) return null;
  return 'the engine was interrupted twice in a row while this same change ran, and its processes can signal the engine under this containment: taken as the change\'s doing (a benchmark that kills its engine); reverted by log-experiment';
}
