// The loop's health: a small state machine over the verdicts, with recovery
// playbooks that ROTATE, so a loop that is stuck tries a different remedy each
// time instead of repeating the one that did not work. Every state carries a
// reason (why, with numbers) and one concrete next action for the model.
import type { HealthConfig, HealthState, Playbook, Verdict } from './schema.ts';

export type HealthMemory = {
  health: HealthState;
  reason: string;
  next_action: string;
  /** Playbook of the current or last recovery episode; null after a keep or a resume. */
  playbook: Playbook | null;
  /** Playbooks started since the last keep (or resume). */
  heals: number;
  /** Runs since the last keep (discards and failures alike). */
  no_improve: number;
  /** Consecutive failed runs (crash, timeout, checks_failed, invalid). */
  crash_streak: number;
  keep_streak: number;
};

type EpisodeClass = 'crash' | 'plateau';

// A run that keeps failing needs understanding first; a plateau first needs
// to know whether the best's number was a lucky draw.
export const ROTATION: Record<EpisodeClass, readonly Playbook[]> = {
  crash: ['diagnose', 'rebaseline', 'shrink_scope', 'pause'],
  plateau: ['rebaseline', 'shrink_scope', 'diagnose', 'pause'],
};

export const NEXT_ACTION = {
  // Read every ordinary iteration: kept short.
  backlog: 'Next idea from ideas.md: one change, then measure it.',
  crashing: "Make one attempt to fix the failure (read the tail of the last run's output); if it fails again, drop the idea.",
  plateaued: 'Change tack: pick a backlog idea unlike the recent attempts (another part of the code or another kind of change).',
  rebaseline: 'Re-measure the best: change nothing and run run-experiment --description rebaseline.',
  diagnose:
    "Diagnose before the next change: read the tail of the last run's output (or profile the benchmark with diagnose --profile) and note the cause in program.md.",
  shrink_scope: 'Shrink the scope: make one small change in one function, then measure it.',
} as const;

function pauseAction(reason: string): string {
  return `Stop the loop and tell the user why: ${reason}.`;
}

function completeAction(reason: string): string {
  return `Stop: the experiment is complete (${reason}); summarise the results for the user.`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function initialHealth(): HealthMemory {
  return {
    health: 'running',
    reason: 'started',
    next_action: NEXT_ACTION.backlog,
    playbook: null,
    heals: 0,
    no_improve: 0,
    crash_streak: 0,
    keep_streak: 0,
  };
}

/** Next playbook of the rotation: the class's order, filtered to the enabled ones, indexed by heals (clamped). */
export function choosePlaybook(cls: EpisodeClass, heals: number, enabled: readonly Playbook[]): Playbook {
  const order = ROTATION[cls].filter((p) => enabled.includes(p));
  if (order.length === 0) return 'pause';
  return order[Math.min(heals, order.length - 1)] as Playbook;
}

export function advanceHealth(prev: HealthMemory, verdict: Verdict, cfg: HealthConfig): HealthMemory {
  const failed = verdict !== 'keep' && verdict !== 'discard';
  const counters =
    verdict === 'keep'
      ? { no_improve: 0, crash_streak: 0, keep_streak: prev.keep_streak + 1, heals: 0 }
      : {
          no_improve: prev.no_improve + 1,
          crash_streak: failed ? prev.crash_streak + 1 : 0,
          keep_streak: 0,
          heals: prev.heals,
        };

  // Paused and completed hold until resumeHealth: the counters move, but the
  // loop must not silently un-pause because another run was logged.
  if (prev.health === 'paused' || prev.health === 'completed') return { ...prev, ...counters };

  if (verdict === 'keep') {
    return {
      ...counters,
      health: 'improving',
      reason: `kept (${plural(counters.keep_streak, 'keep')} in a row)`,
      next_action: NEXT_ACTION.backlog,
      playbook: null,
    };
  }

  const crashWhy = `${plural(counters.crash_streak, 'failed run')} in a row (last: ${verdict})`;
  const plateauWhy = `${plural(counters.no_improve, 'run')} without improvement`;
  const crashEpisode = failed && counters.crash_streak % cfg.max_crash_streak === 0;
  const plateauEpisode = counters.no_improve % cfg.no_improve_runs === 0;

  if (crashEpisode || plateauEpisode) {
    const cls: EpisodeClass = crashEpisode ? 'crash' : 'plateau';
    const why = cls === 'crash' ? crashWhy : plateauWhy;
    if (counters.heals >= cfg.max_heals) {
      const reason = `recovery exhausted after ${plural(counters.heals, 'heal')} (${why})`;
      return { ...counters, health: 'paused', reason, next_action: pauseAction(reason), playbook: 'pause' };
    }
    const playbook = choosePlaybook(cls, counters.heals, cfg.playbooks);
    const heals = counters.heals + 1;
    const reason = `${why}; heal ${heals}/${cfg.max_heals}: ${playbook}`;
    if (playbook === 'pause') {
      return { ...counters, heals, health: 'paused', reason, next_action: pauseAction(reason), playbook };
    }
    return { ...counters, heals, health: 'healing', reason, next_action: NEXT_ACTION[playbook], playbook };
  }

  const between = { ...counters, playbook: prev.playbook };
  if (counters.crash_streak > 0) {
    return { ...between, health: 'crashing', reason: crashWhy, next_action: NEXT_ACTION.crashing };
  }
  if (counters.no_improve >= cfg.no_improve_runs) {
    return { ...between, health: 'plateaued', reason: plateauWhy, next_action: NEXT_ACTION.plateaued };
  }
  return { ...between, health: 'running', reason: `discarded; ${plateauWhy}`, next_action: NEXT_ACTION.backlog };
}

/**
 * A run whose failure was the best's own re-measure (run in the best's tree): the change was not judged,
 * so no counter moves; the next action is to re-measure the best, whose failure then counts as any run's.
 */
export function bestFailedHealth(prev: HealthMemory): HealthMemory {
  if (prev.health === 'paused' || prev.health === 'completed') return prev;
  return { ...prev, reason: "re-measuring the best failed (not the change's doing)", next_action: NEXT_ACTION.rebaseline };
}

/**
 * A rebaseline: the unchanged best measured again, no change judged. No counter moves, as the plateau
 * rule (termination.ts) does not count it either: status showed "3 runs without improvement" beside
 * "plateau 2/3". A heal that asked for it is done: the next action is the backlog's.
 */
export function rebaselineHealth(prev: HealthMemory): HealthMemory {
  if (prev.health === 'paused' || prev.health === 'completed') return prev;
  // The benchmark ran clean: a crash streak is over, as after any measured run; a healing or plateaued loop stays so.
  const health = prev.health === 'crashing' || prev.health === 'improving' ? 'running' : prev.health;
  const reason = `the unchanged best was re-measured; ${plural(prev.no_improve, 'run')} without improvement`;
  return { ...prev, crash_streak: 0, keep_streak: 0, health, reason, next_action: NEXT_ACTION.backlog };
}

/** The user (or the engine) pauses the loop. */
export function pauseHealth(prev: HealthMemory, reason: string): HealthMemory {
  const why = reason.trim() || 'paused';
  return { ...prev, health: 'paused', reason: why, next_action: pauseAction(why) };
}

/** Back to running with a fresh recovery budget; the streaks are kept. */
export function resumeHealth(prev: HealthMemory): HealthMemory {
  return { ...prev, health: 'running', reason: 'resumed', next_action: NEXT_ACTION.backlog, heals: 0, playbook: null };
}

export function completeHealth(prev: HealthMemory, reason: string): HealthMemory {
  const why = reason.trim() || 'completed';
  return { ...prev, health: 'completed', reason: why, next_action: completeAction(why), playbook: null };
}
