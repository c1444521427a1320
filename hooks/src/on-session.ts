// SessionStart and Stop: they need neither the Bash guard nor the path policy,
// so their bundle (dist/hooks.cjs picks it) leaves both out.
import { badInput, emit, type Handler } from './main.ts';
import { SessionStartInput, StopInput } from './schema.ts';
import { sessionStartContext } from './session-start.ts';
import { latestRunPhase, readActive, readSession, writeSession } from './state.ts';
import { stopDecision } from './stop.ts';

export const handleSession: Handler = (event, raw, f) => {
  if (event === 'session-start') {
    if (!SessionStartInput.safeParse(raw).success) return (badInput(event), true);
    const active = readActive(f);
    const text = active && sessionStartContext(active, latestRunPhase(f, active.experiment));
    if (text) emit({ hookSpecificOutput: { hookEventName: 'SessionStart', additionalContext: text } });
    return true;
  }
  if (event === 'stop') {
    const input = StopInput.safeParse(raw);
    if (!input.success) return (badInput(event), true);
    const active = readActive(f);
    if (!active) return true;
    const enabled = process.env.AUTOLOOP_STOP_HOOK !== 'off';
    const session0 = readSession(f);
    // The latest run's phase matters only to a block of the owner: no directory read for anyone else.
    const phase = enabled && session0.owner_session === input.data.session_id && active.loop === 'active' ? latestRunPhase(f, active.experiment) : null;
    const { output, session } = stopDecision(active, session0, input.data.session_id, enabled, phase);
    if (session) writeSession(f, session);
    if (output) emit(output);
    return true;
  }
  return false;
};
