// Every event (Bash calls, PostToolUse, UserPromptExpansion, and anything the loader cannot sort).
import { analyzeBash } from '../bash-guard.ts';
import { runHook } from '../main.ts';
import { handleRecord } from '../on-record.ts';
import { handleSession } from '../on-session.ts';
import { preToolUseHandler } from '../on-pre.ts';

const pre = preToolUseHandler(analyzeBash);
export const run = (raw: unknown): void => runHook((e, r, f) => pre(e, r, f) || handleRecord(e, r, f) || handleSession(e, r, f), raw);
