// PreToolUse. The handler takes the Bash guard as an argument: the bundle for
// file tools (bundles/file.ts) leaves it out.
import { badInput, emit, type Handler } from './main.ts';
import { preToolUseDecision, type BashAnalyzer, type PreToolUseResult } from './pre-tool-use.ts';
import { PreToolUseInput } from './schema.ts';
import { readActive, updateSession } from './state.ts';
import { appendJournal } from './journal.ts';

export function preToolUseHandler(analyzeBash: BashAnalyzer | null): Handler {
  return (event, raw, f) => {
    if (event !== 'pre-tool-use') return false;
    const input = PreToolUseInput.safeParse(raw);
    if (!input.success) return (badInput(event), true);
    const active = readActive(f);
    if (!active) return true;
    const r = updateSession(f, (s) => preToolUseDecision(input.data, active, s, f.projectDir, process.env, analyzeBash), (d) => d.session);
    appendJournal(f, r.journal);
    const out = preToolUseOutput(r);
    if (out) emit(out);
    return true;
  };
}

/** What the hook prints for a decision, or null when it prints nothing (hooks/pre-tool-use.sh must print the same). */
export function preToolUseOutput(r: PreToolUseResult): Record<string, unknown> | null {
  if (!r.decision && !r.halt) return null;
  const out: Record<string, unknown> = {};
  if (r.decision) out.hookSpecificOutput = { hookEventName: 'PreToolUse', permissionDecision: r.decision, permissionDecisionReason: r.reason };
  if (r.halt) Object.assign(out, { continue: false, stopReason: r.halt });
  return out;
}
