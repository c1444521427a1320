// SessionStart and Stop: no Bash guard, no path policy.
import { runHook } from '../main.ts';
import { handleSession } from '../on-session.ts';

export const run = (raw: unknown): void => runHook(handleSession, raw);
