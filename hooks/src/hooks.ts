// Entry point of dist/hooks.cjs: `node hooks.cjs session-start|stop|pre-tool-use|post-tool-use|prompt-expansion`,
// started by hooks/run.sh only when the project has .autoloop/active.json.
// Whatever happens, exit 0: a broken hook must not break the user's session.
import fs from 'node:fs';
import { postToolUseDecision, promptExpansionDecision } from './post-tool-use.ts';
import { preToolUseDecision } from './pre-tool-use.ts';
import { PreToolUseInput, PromptExpansionInput, SessionStartInput, StopInput } from './schema.ts';
import { sessionStartContext } from './session-start.ts';
import { files, latestRunPhase, readActive, readSession, warn, writeSession, type Files } from './state.ts';
import { stopDecision } from './stop.ts';

function readInput(): unknown {
  try {
    return JSON.parse(fs.readFileSync(0, 'utf8'));
  } catch {
    return undefined;
  }
}

function emit(value: object): void {
  // fs.writeSync skips building the process.stdout stream: a measurable share of a hook call.
  fs.writeSync(1, `${JSON.stringify(value)}\n`);
}

/** Node older than 20: say so once per project (never on every tool call) and stand down. */
function nodeTooOld(projectDir: string): boolean {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 20) return false;
  const marker = `${projectDir}/.autoloop/node-too-old`;
  if (!fs.existsSync(marker)) {
    fs.writeSync(2, `autoloop: Node.js ${process.versions.node} is too old, so the autoloop hooks are off (install Node.js 20 or later).\n`);
    try {
      fs.writeFileSync(marker, '');
    } catch {
      /* read-only project: saying it again is the lesser harm */
    }
  }
  return true;
}

const EVENTS = ['session-start', 'stop', 'pre-tool-use', 'post-tool-use', 'prompt-expansion'] as const;
type Event = (typeof EVENTS)[number];

function handle(event: Event, raw: unknown, f: Files): void {
  const bad = (): void => warn(`ignoring ${event} input that is not a hook payload`);
  if (event === 'session-start') {
    if (!SessionStartInput.safeParse(raw).success) return bad();
    const active = readActive(f);
    const text = active && sessionStartContext(active, latestRunPhase(f, active.experiment));
    if (text) emit({ hookSpecificOutput: { hookEventName: 'SessionStart', additionalContext: text } });
    return;
  }
  if (event === 'prompt-expansion') {
    const input = PromptExpansionInput.safeParse(raw);
    if (!input.success) return bad();
    if (!readActive(f)) return;
    const next = promptExpansionDecision(input.data.command_name, readSession(f), input.data);
    if (next) writeSession(f, next);
    return;
  }
  if (event === 'stop') {
    const input = StopInput.safeParse(raw);
    if (!input.success) return bad();
    const active = readActive(f);
    if (!active) return;
    const enabled = process.env.AUTOLOOP_STOP_HOOK !== 'off';
    const { output, session } = stopDecision(active, readSession(f), input.data.session_id, enabled);
    if (session) writeSession(f, session);
    if (output) emit(output);
    return;
  }
  const input = PreToolUseInput.safeParse(raw);
  if (!input.success) return bad();
  const active = readActive(f);
  if (!active) return;
  if (event === 'post-tool-use') {
    const next = postToolUseDecision(input.data, active, readSession(f), f.projectDir, process.env);
    if (next) writeSession(f, next);
    return;
  }
  const r = preToolUseDecision(input.data, active, readSession(f), f.projectDir, process.env);
  if (r.session) writeSession(f, r.session);
  const out: Record<string, unknown> = {};
  if (r.decision) out.hookSpecificOutput = { hookEventName: 'PreToolUse', permissionDecision: r.decision, permissionDecisionReason: r.reason };
  if (r.halt) Object.assign(out, { continue: false, stopReason: r.halt });
  if (r.decision || r.halt) emit(out);
}

function main(): void {
  // run.sh found .autoloop/ (possibly above the session's directory) and says where.
  const projectDir = process.env.AUTOLOOP_PROJECT_DIR || process.env.CLAUDE_PROJECT_DIR || process.cwd();
  if (nodeTooOld(projectDir)) return;
  const event = process.argv[2] as Event;
  if (!EVENTS.includes(event)) {
    warn(`unknown hook event "${event ?? ''}"`);
    return;
  }
  handle(event, readInput(), files(projectDir));
}

try {
  main();
} catch (err) {
  warn(`internal error, hook skipped: ${err instanceof Error ? err.message : String(err)}`);
}
process.exitCode = 0;
