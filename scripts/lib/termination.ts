// When the experiment stops on its own. Checked in a fixed order and the
// first rule that fires is reported, so the reason is stable and explainable;
// when it stops as the last follow-up its chain allows, chain_budget is.
import type { Direction, TerminatedBy } from './schema.ts';
import { reached } from './goal.ts';
import { fmt } from './format.ts';

export type TerminationInput = {
  direction: Direction;
  target: number | null;
  best: number | null;
  /** The primary the best was kept at (reduce.ts best_kept): what the target is judged on. Absent: best. */
  kept?: number | null;
  plateau: number | null;
  runsSinceImprovement: number;
  maxRuns: number | null;
  runs: number;
  /** Seconds. */
  maxWallClock: number | null;
  elapsedS: number;
  /** Seconds from the start to the ledger's last line: when the loop last did anything. Absent: elapsedS. */
  lastActiveS?: number;
  /**
   * The experiment is the last its chain allows (budget used, no follow-up):
   * asked only once a rule fired (a function reads chain.json then, not before).
   */
  chainExhausted?: boolean | (() => boolean);
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

/**
 * The time the wall-clock budget shows. Past it, the clock stops where the loop
 * stopped (its last line, or the budget when it ran out between two calls): a
 * report read the next morning said "9.2h of 1h", as if the loop had overrun.
 */
function shownElapsed(i: TerminationInput): number {
  if (i.maxWallClock === null || i.elapsedS < i.maxWallClock) return i.elapsedS;
  return Math.max(i.maxWallClock, Math.min(i.elapsedS, i.lastActiveS ?? i.elapsedS));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The experiment's own rule that fired first (target, plateau, max_runs, wall_clock), or null. */
function firedRule(i: TerminationInput): { by: TerminatedBy; why: string } | null {
  // A change kept at the target, not a re-measure of the best that noise or a faster machine took past it.
  const kept = i.kept === undefined ? i.best : i.kept;
  if (i.target !== null && kept !== null && reached(i.direction, kept, i.target)) {
    return { by: 'target', why: `best ${num(kept)} ${i.direction === 'lower' ? '<=' : '>='} target ${num(i.target)}` };
  }
  if (i.plateau !== null && i.runsSinceImprovement >= i.plateau) return { by: 'plateau', why: `${plural(i.runsSinceImprovement, 'run')} without a real improvement` };
  if (i.maxRuns !== null && i.runs >= i.maxRuns) return { by: 'max_runs', why: `${plural(i.runs, 'run')} of ${i.maxRuns}` };
  if (i.maxWallClock !== null && i.elapsedS >= i.maxWallClock) return { by: 'wall_clock', why: `${formatDuration(shownElapsed(i))} of ${formatDuration(i.maxWallClock)}` };
  return null;
}

export function evaluateTermination(i: TerminationInput): Termination {
  const progress = {
    runs: i.maxRuns === null ? String(i.runs) : `${i.runs}/${i.maxRuns}`,
    plateau: i.plateau === null ? null : `${i.runsSinceImprovement}/${i.plateau}`,
    target: i.target === null ? null : `${i.best === null ? 'none' : num(i.best)} → ${num(i.target)}`,
    wall_clock: i.maxWallClock === null ? null : `${formatDuration(shownElapsed(i))}/${formatDuration(i.maxWallClock)}`,
  };
  const stop = (by: TerminatedBy, why: string): Termination => ({
    terminate: true,
    by,
    message: `terminated: ${by} (${why})`,
    progress,
  });

  const fired = firedRule(i);
  if (fired) {
    // The chain budget ends no experiment by itself; it ends the chain when the last follow-up it allows stops: said
    // as chain_budget on every surface (the rule that fired stays in the message).
    const exhausted = typeof i.chainExhausted === 'function' ? i.chainExhausted() : i.chainExhausted === true;
    return exhausted ? stop('chain_budget', `${fired.by}: ${fired.why}; no follow-up left: the chain has used its budget`) : stop(fired.by, fired.why);
  }

  const parts = [`runs ${progress.runs}`];
  if (progress.plateau !== null) parts.push(`plateau ${progress.plateau}`);
  if (progress.target !== null) parts.push(`target ${progress.target}`);
  if (progress.wall_clock !== null) parts.push(`wall clock ${progress.wall_clock}`);
  return { terminate: false, by: null, message: `continuing: ${parts.join(', ')}`, progress };
}
