// The one line `status` and the dashboard show about the supervisor's
// relaunches (folded from the ledger's relaunch events into the state).
import type { State } from '../reduce.ts';
import { seconds } from './outcome.ts';

const CAUSE_WORDS: Record<string, string> = {
  usage_limit: 'a usage limit',
  rate_limit: 'a rate limit',
  overloaded: 'API overload',
  api_error: 'an API error',
  connection: 'a lost connection',
  max_turns: 'the turn limit',
  killed: 'a kill',
  crash: 'a crash',
  ended: 'the session ended',
  unclosed: 'a termination left unclosed',
  resume_failed: 'a conversation that could not be resumed',
  restart: 'a restart of up',
};

/** "relaunched 3× by up; last at 02:14 UTC after a usage limit (waited 3.0 h)", or null when never. */
export function relaunchText(r: State['relaunches']): string | null {
  if (!r || r.count <= 0) return null;
  const wait = r.wait_s > 0 ? ` (waited ${seconds(r.wait_s * 1000)})` : '';
  return `relaunched ${r.count}× by up; last at ${r.last_ts.slice(11, 16)} UTC after ${CAUSE_WORDS[r.cause] ?? r.cause}${wait}`;
}
