// The one sentence every output ends with (status, control explain, log
// output, active.json for the hooks, the dashboard): what to do next. Until
// the segment has a baseline that is always the baseline, measured unchanged.
import type { State, Termination } from './reduce.ts';

export const BASELINE_ACTION =
  'No baseline yet: run run-experiment on the unchanged code, then log-experiment --description baseline (change nothing before that).';

export function hasBaseline(s: Pick<State, 'best_run'>): boolean {
  return s.best_run !== null;
}

/**
 * For a running loop: the baseline first, then what health says. A paused loop
 * (health or the user) says why it stopped even without a baseline: run-experiment
 * refuses until control.mjs resume, so "measure the baseline" would send the
 * reader into a refusal.
 */
export function nextAction(s: Pick<State, 'best_run' | 'health'>): string {
  if (s.health.health === 'paused') return s.health.next_action;
  return hasBaseline(s) ? s.health.next_action : BASELINE_ACTION;
}

/**
 * With termination: the chain once it is over, or, when a follow-up already
 * started from it (chain.json names it), that follow-up: /autoloop:chain
 * would refuse a second one.
 */
export function nextActionOrChain(s: Pick<State, 'best_run' | 'health'>, t: Termination, child: string | null = null): string {
  if (!t.terminate) return nextAction(s);
  return `Experiment terminated (${t.by}): ${t.message}. ${child ? `${capital(followUpNext(child))}.` : 'Run /autoloop:chain.'}`;
}

/** Where a terminated experiment with a follow-up goes on. */
export function followUpNext(child: string): string {
  return `its follow-up ${child} carries on: status --experiment ${child}`;
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
