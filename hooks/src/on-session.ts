// SessionStart, SessionEnd and Stop: they need neither the Bash guard nor the path policy,
// so their bundle (dist/hooks.cjs picks it) leaves both out.
import fs from 'node:fs';
import { badInput, emit, type Handler } from './main.ts';
import { SessionEndInput, SessionStartInput, StopInput, type SessionFile } from './schema.ts';
import { cliProcess } from './cli-process.ts';
import { sessionEndDecision, sessionStartDecision } from './session-start.ts';
import { latestRunPhase, readActive, updateSession } from './state.ts';
import { stopDecision } from './stop.ts';

/**
 * active.json there but unreadable: every hook stands down (state.ts) and the warning goes to
 * stderr, which the terminal does not show for a hook that exits 0. Once per session, the user
 * and the model are told, with the call that rebuilds it from the ledger.
 */
function damaged(): object {
  const root = process.env.CLAUDE_PLUGIN_ROOT;
  const repair = root ? `node "${root}/dist/control.mjs" repair` : 'control.mjs repair';
  const text = `autoloop: .autoloop/active.json cannot be read, so the autoloop hooks (state, guard, Stop) are off in this repository. ${repair} rebuilds it from the ledger.`;
  return { systemMessage: text, hookSpecificOutput: { hookEventName: 'SessionStart', additionalContext: text } };
}

export const handleSession: Handler = (event, raw, f) => {
  if (event === 'session-start') {
    const input = SessionStartInput.safeParse(raw);
    if (!input.success) return (badInput(event), true);
    const active = readActive(f);
    if (!active && fs.existsSync(f.active)) return (emit(damaged()), true);
    if (!active) return true;
    const who = { ...input.data, process: cliProcess(process.env) };
    const { text } = updateSession(f, (s) => sessionStartDecision(active, s, who, () => latestRunPhase(f, active.experiment, active.next_run)), (d) => d.session);
    if (text) emit({ hookSpecificOutput: { hookEventName: 'SessionStart', additionalContext: text } });
    return true;
  }
  if (event === 'session-end') {
    const input = SessionEndInput.safeParse(raw);
    if (!input.success) return (badInput(event), true);
    if (!readActive(f)) return true;
    const who = { ...input.data, process: cliProcess(process.env) };
    updateSession(f, (s) => sessionEndDecision(s, who), (next) => next);
    return true;
  }
  if (event === 'stop') {
    const input = StopInput.safeParse(raw);
    if (!input.success) return (badInput(event), true);
    const active = readActive(f);
    if (!active) return true;
    const enabled = process.env.AUTOLOOP_STOP_HOOK !== 'off';
    const decide = (s: SessionFile) => {
      // The latest run's phase matters only to a block of the owner: no directory read for anyone else.
      const phase = enabled && s.owner_session === input.data.session_id && active.loop === 'active' ? latestRunPhase(f, active.experiment, active.next_run) : null;
      return stopDecision(active, s, input.data.session_id, enabled, phase);
    };
    const { output } = updateSession(f, decide, (d) => d.session);
    if (output) emit(output);
    return true;
  }
  return false;
};
