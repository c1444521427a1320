// Entry point of dist/hooks.mjs: `node hooks.mjs session-start|stop|pre-tool-use`,
// started by hooks/run.sh only when the project has .autoloop/active.json.
// Whatever happens, exit 0: a broken hook must not break the user's session.
import fs from 'node:fs';
import { preToolUseDecision } from './pre-tool-use.ts';
import { PreToolUseInput, SessionStartInput, StopInput } from './schema.ts';
import { sessionStartContext } from './session-start.ts';
import { files, readActive, readSession, warn, writeSession } from './state.ts';
import { stopDecision } from './stop.ts';

function readInput(): unknown {
  try {
    return JSON.parse(fs.readFileSync(0, 'utf8'));
  } catch {
    return undefined;
  }
}

function emit(value: object): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Node older than 20: say so once per project (never on every tool call) and stand down. */
function nodeTooOld(projectDir: string): boolean {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 20) return false;
  const marker = `${projectDir}/.autoloop/node-too-old`;
  if (!fs.existsSync(marker)) {
    process.stderr.write(`autoloop: Node.js ${process.versions.node} is too old, so the autoloop hooks are off (install Node.js 20 or later).\n`);
    try {
      fs.writeFileSync(marker, '');
    } catch {
      /* read-only project: saying it again is the lesser harm */
    }
  }
  return true;
}

function main(): void {
  if (nodeTooOld(process.env.AUTOLOOP_PROJECT_DIR || process.env.CLAUDE_PROJECT_DIR || process.cwd())) return;
  const event = process.argv[2];
  if (event !== 'session-start' && event !== 'stop' && event !== 'pre-tool-use') {
    warn(`unknown hook event "${event ?? ''}"`);
    return;
  }
  const raw = readInput();
  const bad = (): void => warn(`ignoring ${event} input that is not a hook payload`);
  // run.sh found .autoloop/ (possibly above the session's directory) and says where.
  const projectDir = process.env.AUTOLOOP_PROJECT_DIR || process.env.CLAUDE_PROJECT_DIR || process.cwd();
  const f = files(projectDir);

  if (event === 'session-start') {
    if (!SessionStartInput.safeParse(raw).success) return bad();
    const active = readActive(f);
    const text = active && sessionStartContext(active);
    if (text) emit({ hookSpecificOutput: { hookEventName: 'SessionStart', additionalContext: text } });
  } else if (event === 'stop') {
    const input = StopInput.safeParse(raw);
    if (!input.success) return bad();
    const active = readActive(f);
    if (!active) return;
    const enabled = process.env.AUTOLOOP_STOP_HOOK !== 'off';
    const { output, session } = stopDecision(active, readSession(f), input.data.session_id, enabled);
    if (session) writeSession(f, session);
    if (output) emit(output);
  } else {
    const input = PreToolUseInput.safeParse(raw);
    if (!input.success) return bad();
    const active = readActive(f);
    if (!active) return;
    const { deny, session } = preToolUseDecision(input.data, active, readSession(f), projectDir, process.env);
    if (session) writeSession(f, session);
    if (deny) emit({ hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny', permissionDecisionReason: deny } });
  }
}

try {
  main();
} catch (err) {
  warn(`internal error, hook skipped: ${err instanceof Error ? err.message : String(err)}`);
}
process.exitCode = 0;
