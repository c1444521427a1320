// When the experiment stops on its own. Checked in a fixed order and the
// first rule that fires is reported, so the reason is stable and explainable.
import type { Direction, TerminatedBy } from './schema.ts';
import { reached } from './goal.ts';
import { fmt } from './format.ts';

export type TerminationInput = {
  direction: Direction;
  target: number | null;
  best: number | null;
  plateau: number | null;
  runsSinceImprovement: number;
  maxRuns: number | null;
  runs: number;
  /** Seconds. */
  maxWallClock: number | null;
  elapsedS: number;
  /** The chain of follow-up experiments has used its budget. */
  chainExhausted?: boolean;
};

export type Termination = {
  terminate: boolean;
  by: TerminatedBy | null;
  message: string;
  progress: { runs: string; plateau: string | null; target: string | null; wall_clock: string | null };
};

/** Best and target as every surface prints them (rounding made 1499999.6 and 1500000.4 both read 1500000). */
const num = fmt;

function one(x: number): string {
  return String(Number(x.toFixed(1)));
}

/** Short duration: 45s, 12.5m, 1.2h. */
export function formatDuration(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${one(s / 60)}m`;
  return `${one(s / 3600)}h`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function evaluateTermination(i: TerminationInput): Termination {
  const progress = {
    runs: i.maxRuns === null ? String(i.runs) : `${i.runs}/${i.maxRuns}`,
    plateau: i.plateau === null ? null : `${i.runsSinceImprovement}/${i.plateau}`,
    target: i.target === null ? null : `${i.best === null ? 'none' : num(i.best)} → ${num(i.target)}`,
    wall_clock: i.maxWallClock === null ? null : `${formatDuration(i.elapsedS)}/${formatDuration(i.maxWallClock)}`,
  };
  const stop = (by: TerminatedBy, why: string): Termination => ({
    terminate: true,
    by,
    message: `terminated: ${by} (${why})`,
    progress,
  });

  if (i.target !== null && i.best !== null && reached(i.direction, i.best, i.target)) {
    return stop('target', `best ${num(i.best)} ${i.direction === 'lower' ? '<=' : '>='} target ${num(i.target)}`);
  }
  if (i.plateau !== null && i.runsSinceImprovement >= i.plateau) {
    return stop('plateau', `${plural(i.runsSinceImprovement, 'run')} without a real improvement`);
  }
  if (i.maxRuns !== null && i.runs >= i.maxRuns) {
    return stop('max_runs', `${plural(i.runs, 'run')} of ${i.maxRuns}`);
  }
  if (i.maxWallClock !== null && i.elapsedS >= i.maxWallClock) {
    return stop('wall_clock', `${formatDuration(i.elapsedS)} of ${formatDuration(i.maxWallClock)}`);
  }
  if (i.chainExhausted === true) {
    return stop('chain_budget', 'the chain of follow-up experiments has used its budget');
  }

  const parts = [`runs ${progress.runs}`];
  if (progress.plateau !== null) parts.push(`plateau ${progress.plateau}`);
  if (progress.target !== null) parts.push(`target ${progress.target}`);
  if (progress.wall_clock !== null) parts.push(`wall clock ${progress.wall_clock}`);
  return { terminate: false, by: null, message: `continuing: ${parts.join(', ')}`, progress };
}
