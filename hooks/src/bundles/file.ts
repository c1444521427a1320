// PreToolUse of a tool other than Bash (Edit, Write, Skill, Read, …): no Bash guard.
import { runHook } from '../main.ts';
import { preToolUseHandler } from '../on-pre.ts';

export const run = (raw: unknown): void => runHook(preToolUseHandler(null), raw);
