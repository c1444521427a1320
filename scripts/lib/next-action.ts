// The one sentence every output ends with (status, control explain, log
// output, active.json for the hooks, the dashboard): what to do next. Until
// the segment has a baseline that is always the baseline, measured unchanged.
import type { State, Termination } from './reduce.ts';

export const BASELINE_ACTION =
  'No baseline yet: run run-experiment on the unchanged code, then log-experiment --description baseline (change nothing before that).';

export function hasBaseline(s: Pick<State, 'best_run'>): boolean {
  return s.best_run !== null;
}

/** For a running loop: the baseline first, then what health says. */
export function nextAction(s: Pick<State, 'best_run' | 'health'>): string {
  return hasBaseline(s) ? s.health.next_action : BASELINE_ACTION;
}

/** With termination: the chain once it is over. */
export function nextActionOrChain(s: Pick<State, 'best_run' | 'health'>, t: Termination): string {
  return t.terminate ? `Experiment terminated (${t.by}): ${t.message}. Run /autoloop:chain.` : nextAction(s);
}
