// SessionStart: put the loop's state and rules back into the model's context
// on startup, resume, /clear and after compaction, so a fresh or compacted
// session carries on with the protocol instead of re-deriving it.
import { roleOf, type Caller } from './roles.ts';
import type { ActiveFile, SessionFile } from './schema.ts';
import { clip, MAX_TEXT } from './text.ts';

const RULES = [
  'Rules while the loop runs:',
  '- The engine decides keep or revert: after each change run run-experiment --description "…" (it measures and logs; run-experiment, then log-experiment only to look first). Never judge a result yourself.',
  '- Never edit the benchmark, the checks, or anything under .autoloop/ except your notes, ideas and the scratch/ area (profiles and analysis go there).',
  '- Never run git commit/reset/checkout/clean/stash by hand: the engine commits a keep and reverts the rest.',
  '- Never ask the user whether to continue: keep iterating until the engine reports a stop.',
  '- To pick the loop up again (after a restart or a pause), use /autoloop:run.',
].join('\n');

/**
 * The one next step for whoever picks the loop up (up's relaunch with --resume,
 * --continue, a fresh `claude --agent autoloop`): what was left half done comes
 * first, then the baseline, then the engine's own next action.
 */
export function nextStep(active: ActiveFile, lastPhase: string | null): string {
  if (lastPhase === 'measured') return 'A run was measured but not logged: log it first (log-experiment --description "…" describing the change it measured), then go on.';
  if (lastPhase === 'running') return 'The last run was cut off: run run-experiment again (it settles the interrupted run; if it refuses, control.mjs repair).';
  if (lastPhase === 'logged_unseen') return 'The last engine call was cut off after it logged its run, so the figures above predate that run: read its verdict with status.mjs (and note it in ideas.md), then go on; the next engine call completes what the cut-off one left undone.';
  if (lastPhase === 'in_progress') return 'A run is being measured right now (an engine process holds the lock: a call in the background, another session or up): do not edit, run or repair; wait until it ends (status then shows it).';
  if (active.runs === 0) return 'No baseline yet: run the baseline unchanged (run-experiment --description baseline), with no edit before it.';
  return active.next_action;
}

export function sessionStartContext(active: ActiveFile, lastPhase: string | null = null): string | null {
  const name = `experiment "${active.experiment}"`;
  const runs = `${active.runs} run${active.runs === 1 ? '' : 's'} logged`;
  switch (active.loop) {
    case 'stopped':
      return null; // the user stopped it: stay silent
    case 'paused':
      // The engine paused it (health; the user's stop is 'stopped'): its next action says why, which
      // is the one thing to tell the user. One line.
      return `autoloop: ${name} is paused (${runs}). ${clip(active.next_action.replace(/\s+/g, ' ').trim(), 600)} Do not continue it on your own; once the cause is dealt with, the user can resume it with /autoloop:run.`;
    case 'terminated': {
      const next = active.chain_allowed
        ? 'Next: /autoloop:chain writes the report, then starts the follow-up the budget allows or closes the experiment.'
        : 'Next: /autoloop:chain writes the report and closes the experiment (finalize, clear); no more runs.';
      return `autoloop: ${name} terminated (${active.terminated_by ?? 'done'}) after ${runs}; the best result is kept. ${next}`;
    }
    case 'active': {
      const head = `autoloop: ${name} is running in this repository (${runs}).`;
      const fixed = head.length + RULES.length + '\n\nNext: \n\n'.length + 2;
      const next = clip(nextStep(active, lastPhase), Math.min(600, MAX_TEXT - fixed));
      const summary = clip(active.summary, MAX_TEXT - fixed - next.length);
      const text = [head, summary, `Next: ${next}`, RULES].filter((s) => s !== '').join('\n\n');
      return clip(text, MAX_TEXT);
    }
  }
}

/**
 * Another session in the same repository (the loop has an owner, and this session is neither it nor
 * handed the loop): one line that a loop is live here, none of its rules or next steps, which would
 * turn the session into a second driver of someone else's loop. A fork (`--fork-session`) is such a
 * session with a copy of a conversation that may be the owner's, loop instructions included, beside
 * an owner that may still be running: it is told that those instructions are not its own.
 */
export function otherSessionLine(active: ActiveFile, fork = false): string | null {
  const name = `experiment "${active.experiment}"`;
  const runs = `${active.runs} run${active.runs === 1 ? '' : 's'} logged`;
  const forked = fork
    ? ' This conversation is a fork: any loop instructions earlier in it were given to the session that drives the loop and do not apply here; do not run the engine or change the code in scope from this session.'
    : '';
  switch (active.loop) {
    case 'active':
      return `autoloop: ${name} is running in this repository (${runs}), driven by another session; this session is not part of it unless the user hands it the loop (/autoloop:run).${forked}`;
    case 'terminated':
      return `autoloop: ${name} in this repository terminated (${active.terminated_by ?? 'done'}) after ${runs} and is not closed yet; this session is not part of it unless the user hands it the loop (/autoloop:chain).${forked}`;
    case 'paused':
      return `autoloop: ${name} in this repository is paused (${runs}); this session is not part of it unless the user hands it the loop (/autoloop:run).${forked}`;
    case 'stopped':
      return null;
  }
}

export interface SessionStartWho extends Caller {
  source?: string | undefined;
  /** The Claude Code process this hook runs under (cli-process.ts), or null when unknown. */
  process?: string | null | undefined;
}

export interface SessionStartResult {
  text: string | null;
  /** New hook state to persist (a cleared owner's new id, a resumed owner's fresh Stop budget, its process), or null. */
  session: SessionFile | null;
}

/**
 * The owner's process moved to a new conversation: /clear (source "clear") or /branch (source
 * "fork": the branch replaces the owner's conversation in that process, seen with the pinned CLI).
 * The owner's recorded process is what ties the two: the new id owns the loop, with a fresh Stop
 * budget (a person did it, as a resume is a person bringing it back). A fork in another process
 * (`--fork-session`, `/fork`'s background copy) and a /clear there are other sessions.
 */
function clearedOwner(session: SessionFile, who: SessionStartWho): SessionFile | null {
  if ((who.source !== 'clear' && who.source !== 'fork') || !who.process || session.owner_session === null || session.owner_session === who.session_id) return null;
  if (session.owner_process !== who.process) return null;
  return { ...session, owner_session: who.session_id, owner_agent: who.agent_type ?? session.owner_agent, blocks: 0, idle_blocks: 0, past_end: null };
}

/**
 * The same for a session handed the loop (/autoloop:run typed in another terminal, say) that has not
 * driven it yet: its conversation replaced in its process by /clear or /branch, the handover goes to
 * the new id. Without it the new conversation would be another session's, told the loop is not its own.
 */
function clearedCandidate(session: SessionFile, who: SessionStartWho): SessionFile | null {
  if ((who.source !== 'clear' && who.source !== 'fork') || !who.process || session.candidate === null || session.candidate === who.session_id) return null;
  if (session.candidate_process !== who.process || session.owner_session === who.session_id) return null;
  return { ...session, candidate: who.session_id };
}

/**
 * SessionEnd with reason "clear" or "resume" (hooks.json matches no other): the owner's or the
 * candidate's conversation leaves its process (/clear; /branch and /resume end it with "resume"),
 * and a SessionStart of the next one follows there. When that process is not recorded yet (a loop
 * claimed or handed over by an earlier version, which saved no process, or a missed record), it is
 * recorded now, so clearedOwner or clearedCandidate ties the two. Null: nothing to write.
 */
export function sessionEndDecision(session: SessionFile, who: SessionStartWho & { reason?: string | undefined }): SessionFile | null {
  if ((who.reason !== 'clear' && who.reason !== 'resume') || !who.process) return null;
  if (session.owner_session === who.session_id) return session.owner_process === who.process ? null : { ...session, owner_process: who.process };
  if (session.candidate === who.session_id) return session.candidate_process === who.process ? null : { ...session, candidate_process: who.process };
  return null;
}

/**
 * Who is told what. The loop's state and rules go to the session that drives it (the owner, across
 * compaction, --resume and --continue: the id stays; across /clear and /branch: clearedOwner), to a session
 * handed it (/autoloop:run, a new `claude --agent autoloop` after a crash, which then takes it over;
 * across /clear and /branch in its process: clearedCandidate)
 * and, while nobody owns the loop, to every session (any may be the one that starts it). Anyone
 * else gets one line; a fork, the line and that its copied instructions are not its own.
 * A resume of the owner is a person bringing the loop back: a fresh Stop budget (blocks, idle
 * blocks, calls past termination); a compaction keeps the counts. The owner seen in another process
 * than the one recorded (a resume, or a loop claimed before the process was recorded) has its
 * process recorded. lastPhase is read only for the loop's sessions (no directory read for anyone else).
 */
export function sessionStartDecision(active: ActiveFile, session0: SessionFile, who: SessionStartWho, lastPhase: () => string | null): SessionStartResult {
  const cleared = clearedOwner(session0, who) ?? clearedCandidate(session0, who);
  const session = cleared ?? session0;
  const role = roleOf(session, who);
  if (session.owner_session !== null && role === 'other') return { text: otherSessionLine(active, who.source === 'fork'), session: null };
  const text = sessionStartContext(active, active.loop === 'active' ? lastPhase() : null);
  let next: SessionFile | null = cleared;
  if (role === 'owner' && who.source === 'resume' && (session.blocks !== 0 || session.idle_blocks !== 0 || session.past_end !== null)) {
    next = { ...session, blocks: 0, idle_blocks: 0, past_end: null };
  }
  if (role === 'owner' && who.process && session.owner_process !== who.process) next = { ...(next ?? session), owner_process: who.process };
  // The candidate resumed in another process: that one is where a later /clear comes from.
  if (role === 'candidate' && session.candidate === who.session_id && who.process && session.candidate_process !== who.process) {
    next = { ...(next ?? session), candidate_process: who.process };
  }
  return { text, session: next };
}
