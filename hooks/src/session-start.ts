// SessionStart: put the loop's state and rules back into the model's context
// on startup, resume, /clear and after compaction, so a fresh or compacted
// session carries on with the protocol instead of re-deriving it.
import type { ActiveFile } from './schema.ts';
import { clip, MAX_TEXT } from './text.ts';

const RULES = [
  'Rules while the loop runs:',
  '- The engine decides keep or revert: after each change run run-experiment, then log-experiment. Never judge a result yourself.',
  '- Never edit the benchmark, the checks, or anything under .autoloop/ except your notes and ideas.',
  '- Never run git commit/reset/checkout/clean/stash by hand: log-experiment commits a keep and reverts the rest.',
  '- Never ask the user whether to continue: keep iterating until the engine reports a stop.',
  '- To pick the loop up again (after a restart or a pause), use /autoloop:run.',
].join('\n');

export function sessionStartContext(active: ActiveFile): string | null {
  const name = `experiment "${active.experiment}"`;
  const runs = `${active.runs} run${active.runs === 1 ? '' : 's'} logged`;
  switch (active.loop) {
    case 'stopped':
      return null; // the user stopped it: stay silent
    case 'paused':
      return `autoloop: ${name} is paused (${runs}); do not continue it on your own. The user can resume it with /autoloop:run.`;
    case 'terminated': {
      const next = active.chain_allowed
        ? 'The user can start a follow-up experiment with /autoloop:chain or a new one with /autoloop:setup.'
        : 'The user can start a new experiment with /autoloop:setup.';
      return `autoloop: ${name} terminated (${active.terminated_by ?? 'done'}) after ${runs}; the best result is kept. ${next}`;
    }
    case 'active': {
      const head = `autoloop: ${name} is running in this repository (${runs}).`;
      const fixed = head.length + RULES.length + '\n\nNext: \n\n'.length + 2;
      const next = clip(active.next_action, Math.min(600, MAX_TEXT - fixed));
      const summary = clip(active.summary, MAX_TEXT - fixed - next.length);
      const text = [head, summary, `Next: ${next}`, RULES].filter((s) => s !== '').join('\n\n');
      return clip(text, MAX_TEXT);
    }
  }
}
