// PreToolUse. The handler takes the Bash guard as an argument: the bundle for
// file tools (bundles/file.ts) leaves it out.
import { badInput, emit, type Handler } from './main.ts';
import { preToolUseDecision, type BashAnalyzer } from './pre-tool-use.ts';
import { PreToolUseInput } from './schema.ts';
import { readActive, readSession, writeSession } from './state.ts';

export function preToolUseHandler(analyzeBash: BashAnalyzer | null): Handler {
  return (event, raw, f) => {
    if (event !== 'pre-tool-use') return false;
    const input = PreToolUseInput.safeParse(raw);
    if (!input.success) return (badInput(event), true);
    const active = readActive(f);
    if (!active) return true;
    const r = preToolUseDecision(input.data, active, readSession(f), f.projectDir, process.env, analyzeBash);
    if (r.session) writeSession(f, r.session);
    const out: Record<string, unknown> = {};
    if (r.decision) out.hookSpecificOutput = { hookEventName: 'PreToolUse', permissionDecision: r.decision, permissionDecisionReason: r.reason };
    if (r.halt) Object.assign(out, { continue: false, stopReason: r.halt });
    if (r.decision || r.halt) emit(out);
    return true;
  };
}
