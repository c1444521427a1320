// Stop: keep the owner session working while the loop is active. Claude Code
// reports stop_hook_active=true on every Stop after the first block, so the
// hook keeps its own counters in session.json; two caps (total blocks, blocks
// without a new logged run) make sure a stuck model is let go.
import type { ActiveFile, SessionFile } from './schema.ts';
import { clip, MAX_TEXT } from './text.ts';

export interface StopOutput {
  decision?: 'block';
  reason?: string;
  systemMessage?: string;
}

export interface StopResult {
  output: StopOutput | null;
  /** New hook state to persist, or null when nothing changed. */
  session: SessionFile | null;
}

import { terminationKey } from './roles.ts';
import { nextStep } from './session-start.ts';

/**
 * Parallel mode: candidates still in flight when the loop terminated must be
 * logged (or closed) before the session ends; the same caps as the loop's: a
 * session that logs none over max_idle_blocks continuations is let go.
 */
function candidatesInFlight(active: ActiveFile, session: SessionFile): StopResult | null {
  if (active.loop !== 'terminated' || active.worktrees.length === 0) return null;
  if (session.blocks >= active.stop_hook.max_blocks) return null;
  const s: SessionFile = { ...session };
  if (s.last_runs !== null && active.runs !== s.last_runs) s.idle_blocks = 0;
  if (s.idle_blocks >= active.stop_hook.max_idle_blocks) {
    return {
      output: {
        systemMessage: `autoloop: nothing was logged over the last ${s.idle_blocks} continuations, so the Stop hook lets the session end; candidate.mjs list shows what is still in flight.`,
      },
      session: { ...s, idle_blocks: 0, last_runs: active.runs },
    };
  }
  const ids = active.worktrees.map((w) => w.id).join(', ');
  return {
    output: {
      decision: 'block',
      reason: `autoloop: ${active.worktrees.length} candidate(s) still in flight (${ids}). Log each measured one (log-experiment --candidate ID) and close the others (candidate close ID); then the experiment can end.`,
    },
    session: { ...s, blocks: s.blocks + 1, idle_blocks: s.idle_blocks + 1, last_runs: active.runs },
  };
}

/**
 * lastPhase: the phase of the experiment's latest run (state.ts, latestRunPhase). A run
 * measured but not logged, or cut off, comes before the engine's next action: active.json
 * does not know of it, and "change code, then run-experiment" would throw the measured
 * result away as invalid (the tree no longer what was measured).
 */
export function stopDecision(active: ActiveFile, session: SessionFile, sessionId: string, enabled: boolean, lastPhase: string | null = null): StopResult {
  const none: StopResult = { output: null, session: null };
  // Never hold on to a session that does not drive the loop (another Claude in the same repo).
  if (!enabled || session.owner_session !== sessionId) return none;
  const pending = candidatesInFlight(active, session);
  if (pending) return pending;

  if (active.loop === 'terminated') {
    const key = terminationKey(active);
    if (!active.chain_allowed || session.chain_nudged === key) return none;
    return {
      output: {
        decision: 'block',
        reason: `autoloop: experiment terminated (${active.terminated_by ?? 'done'}); the chain budget allows a follow-up: run /autoloop:chain`,
      },
      session: { ...session, chain_nudged: key },
    };
  }
  if (active.loop !== 'active') return none;

  // A run logged since the last block is progress: the idle streak starts over.
  const s: SessionFile = { ...session };
  if (s.last_runs !== null && active.runs !== s.last_runs) s.idle_blocks = 0;
  const { max_blocks, max_idle_blocks } = active.stop_hook;

  if (s.blocks >= max_blocks) {
    return {
      output: {
        systemMessage: `autoloop: the Stop hook already continued this session ${s.blocks} times (stop_hook.max_blocks = ${max_blocks}), so it lets it end. The loop is still active: continue with /autoloop:run.`,
      },
      session: s.idle_blocks !== session.idle_blocks ? s : null,
    };
  }
  if (s.idle_blocks >= max_idle_blocks) {
    // Fresh idle budget for the next turn the user starts.
    return {
      output: {
        systemMessage: `autoloop: no new run was logged over the last ${s.idle_blocks} continuations, so the Stop hook lets the session end. The loop is still active: look at the last run, then continue with /autoloop:run.`,
      },
      session: { ...s, idle_blocks: 0, last_runs: active.runs },
    };
  }

  const head = `autoloop: the experiment loop is still active (${active.runs} runs logged). Next: `;
  const halfDone = lastPhase === 'measured' || lastPhase === 'running' || lastPhase === 'in_progress';
  const tail = halfDone
    ? '\nDo not ask the user whether to continue and do not wrap up: do this before any new change, then carry on until the engine reports a stop.'
    : '\nDo not ask the user whether to continue and do not wrap up: carry on (change code in scope, then run-experiment --description "…") until the engine reports a stop.';
  const next = halfDone ? nextStep(active, lastPhase) : active.next_action;
  const reason = head + clip(next, MAX_TEXT - head.length - tail.length) + tail;
  return {
    output: { decision: 'block', reason },
    session: { ...s, blocks: s.blocks + 1, idle_blocks: s.idle_blocks + 1, last_runs: active.runs },
  };
}
