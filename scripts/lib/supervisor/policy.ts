// The supervisor's decisions, pure: after a session ends, stop for good or
// start claude again, and after how long. Never spin: every relaunch waits at
// least the backoff of the sessions that made no progress, a usage limit waits
// for its reset, and the relaunches of the last hour are capped.
import type { Cause, Ending } from './outcome.ts';

export interface Policy {
  /** First backoff; doubles with each session in a row that logged no run. */
  baseMs: number;
  maxMs: number;
  /** At most this many relaunches in any rolling hour. */
  perHour: number;
  /** Added to a usage limit's reset time. */
  resetMarginMs: number;
  /** Wait after a usage limit whose reset time is unknown. */
  unknownResetMs: number;
}

export const DEFAULT_POLICY: Policy = {
  baseMs: 15_000,
  maxMs: 30 * 60_000,
  perHour: 12,
  resetMarginMs: 2 * 60_000,
  unknownResetMs: 30 * 60_000,
};

const HOUR_MS = 3_600_000;
/**
 * The longest wait a reported reset can ask for: the CLI's longest window is a
 * week. A reset further out (or not a number) is not believed, and waited for
 * as an unknown one, so a bogus time can never hold the loop for good.
 */
export const MAX_RESET_AHEAD_MS = 8 * 24 * HOUR_MS;

/** The engine's view of the loop, re-read after every session. */
export type LoopView =
  | { live: true; slug: string; runs: number }
  | { live: false; slug: string | null; why: 'terminated' | 'paused' | 'stopped' | 'cleared' | 'unreadable'; message: string };

/**
 * The exit code once the loop is over: 0 when it ended as asked (terminated,
 * stopped by the user, cleared); 1 when it needs a person (paused by its
 * health check, or the experiment could not be read).
 */
export function endCode(loop: Extract<LoopView, { live: false }>): number {
  return loop.why === 'paused' || loop.why === 'unreadable' ? 1 : 0;
}

/** How long to wait for a usage limit: its reset plus the margin, or the unknown-reset wait when it names none believable. */
export function usageWaitMs(resetAtMs: number | null | undefined, nowMs: number, p: Policy): { waitMs: number; believed: boolean } {
  const ahead = resetAtMs === null || resetAtMs === undefined ? NaN : resetAtMs - nowMs;
  if (!Number.isFinite(ahead) || ahead > MAX_RESET_AHEAD_MS) return { waitMs: p.unknownResetMs, believed: resetAtMs === null || resetAtMs === undefined };
  return { waitMs: Math.max(0, ahead) + p.resetMarginMs, believed: true };
}

export interface History {
  /** When each past relaunch was started (epoch ms). */
  relaunches: number[];
  /** Sessions in a row that logged no new run. */
  stalled: number;
}

export type Decision =
  | { action: 'stop'; code: number; why: string }
  | { action: 'relaunch'; cause: Cause; waitMs: number; why: string; capped: boolean };

/** Backoff before relaunch number `stalled` of a streak with no progress (0 = the session made progress). */
export function backoffMs(stalled: number, p: Policy): number {
  if (stalled <= 0) return Math.min(p.baseMs, p.maxMs);
  return Math.min(p.maxMs, p.baseMs * 2 ** Math.min(stalled - 1, 40));
}

/** How long until the hourly cap allows another relaunch (0 when it does now). */
export function capWaitMs(relaunches: readonly number[], nowMs: number, perHour: number): number {
  const recent = relaunches.filter((t) => t > nowMs - HOUR_MS).sort((a, b) => a - b);
  if (recent.length < perHour) return 0;
  // The oldest relaunch that must leave the window before one more fits.
  const oldest = recent[recent.length - perHour]!;
  return Math.max(0, oldest + HOUR_MS - nowMs);
}

/** Fold a finished session into the history: a logged run ends a stalled streak. */
export function afterSession(h: History, runsBefore: number, runsAfter: number, cause: Cause): History {
  if (runsAfter > runsBefore) return { ...h, stalled: 0 };
  // Waiting out a usage limit is not the loop failing: it does not grow the backoff.
  return cause === 'usage_limit' ? h : { ...h, stalled: h.stalled + 1 };
}

const WHY: Record<Cause, string> = {
  usage_limit: 'usage limit reached',
  rate_limit: 'rate-limited by the API (429) after claude gave up retrying',
  overloaded: 'API overloaded (529) after claude gave up retrying',
  api_error: 'API error after claude gave up retrying',
  connection: 'no connection to the API after claude gave up retrying',
  max_turns: "claude's turn limit was reached",
  killed: 'claude was killed',
  crash: 'claude crashed',
  ended: 'the session ended while the loop is still live',
  start_failure: 'claude could not start',
  resume_failed: "the loop's conversation could not be resumed: starting a new one",
  fatal: 'an error that a relaunch cannot fix',
  unclosed: 'the loop terminated but its experiment was not closed: one session to close it (/autoloop:chain)',
  restart: 'an earlier up ended without stopping cleanly',
};

/** Sessions up starts to close a terminated experiment (report, then follow up or finalize and clear): never a loop. */
export const MAX_CLOSINGS = 2;

export function describeCause(c: Cause): string {
  return WHY[c];
}

export interface DecideInput {
  ending: Ending;
  loop: LoopView;
  history: History;
  policy: Policy;
  nowMs: number;
  /** Closing sessions already started for this termination. */
  closings?: number;
}

/** Stop for good, or relaunch after a wait. `history` already counts the session that just ended. */
export function decide({ ending, loop, history, policy, nowMs, closings = 0 }: DecideInput): Decision {
  if (!loop.live && loop.why !== 'terminated') return { action: 'stop', code: endCode(loop), why: loop.message };
  if (ending.cause === 'start_failure' || ending.cause === 'fatal') {
    return { action: 'stop', code: 1, why: `${describeCause(ending.cause)}: ${ending.detail}` };
  }
  if (!loop.live) {
    // Terminated: one session to close it; a second only when the first was cut short (an API error, a crash), never one that ended by itself.
    const again = closings === 0 || (closings < MAX_CLOSINGS && ending.cause !== 'ended');
    if (!again) return { action: 'stop', code: 1, why: `${loop.message}; the experiment is still not closed after ${closings} closing session${closings === 1 ? '' : 's'}: run /autoloop:chain` };
    return capped({ action: 'relaunch', cause: 'unclosed', waitMs: backoffMs(history.stalled, policy), why: `${loop.message}: ${describeCause('unclosed')}`, capped: false }, history, nowMs, policy);
  }
  // Nothing ran (its conversation is gone): a new one at once, as the cap allows.
  if (ending.cause === 'resume_failed') return capped({ action: 'relaunch', cause: 'resume_failed', waitMs: 0, why: `${describeCause('resume_failed')}: ${ending.detail}`, capped: false }, history, nowMs, policy);
  let waitMs: number;
  let why = `${describeCause(ending.cause)}: ${ending.detail}`;
  if (ending.cause === 'usage_limit') {
    const u = usageWaitMs(ending.resetAtMs, nowMs, policy);
    waitMs = u.waitMs;
    if (!u.believed) why += ' (its reset time is not believable: waited for as unknown)';
  } else {
    // A bogus retry delay from the CLI is bounded by the backoff's own ceiling.
    const retry = Number.isFinite(ending.retryDelayMs) ? Math.min(ending.retryDelayMs!, policy.maxMs) : 0;
    waitMs = Math.max(backoffMs(history.stalled, policy), retry);
  }
  return capped({ action: 'relaunch', cause: ending.cause, waitMs, why, capped: false }, history, nowMs, policy);
}

/** The hourly cap lengthens a wait. */
function capped(d: Extract<Decision, { action: 'relaunch' }>, history: History, nowMs: number, policy: Policy): Decision {
  const cap = capWaitMs(history.relaunches, nowMs, policy.perHour);
  return cap > d.waitMs ? { ...d, waitMs: cap, capped: true } : d;
}
