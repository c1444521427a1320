// What every hooks bundle shares: `node hooks.cjs session-start|stop|pre-tool-use|post-tool-use|prompt-expansion`,
// started by hooks/run.sh only when the project has .autoloop/active.json.
// Whatever happens, exit 0: a broken hook must not break the user's session.
import fs from 'node:fs';
import { files, warn, type Files } from './state.ts';

export const EVENTS = ['session-start', 'session-end', 'stop', 'pre-tool-use', 'post-tool-use', 'prompt-expansion'] as const;
export type Event = (typeof EVENTS)[number];

/** Handles one event (the payload still unchecked); false when this bundle does not handle it. */
export type Handler = (event: Event, raw: unknown, f: Files) => boolean;

/** The hook payload on stdin, or undefined when it is not JSON. */
export function readInput(): unknown {
  try {
    return JSON.parse(fs.readFileSync(0, 'utf8'));
  } catch {
    return undefined;
  }
}

export function emit(value: object): void {
  // fs.writeSync skips building the process.stdout stream: a measurable share of a hook call.
  fs.writeSync(1, `${JSON.stringify(value)}\n`);
}

export const badInput = (event: Event): void => warn(`ignoring ${event} input that is not a hook payload`);

/**
 * Node older than 20: say so once per project (never on every tool call) and stand down. As a
 * systemMessage, which Claude Code shows the user; a hook's stderr on exit 0 is not shown.
 */
function nodeTooOld(projectDir: string): boolean {
  const major = Number(process.versions.node.split('.')[0]);
  const marker = `${projectDir}/.autoloop/node-too-old`;
  if (major >= 20) {
    // Node was upgraded since: the marker would keep the shell's answers off (every call a Node
    // start) and a later old Node unannounced. One stat per call that reaches Node.
    if (fs.existsSync(marker)) fs.rmSync(marker, { force: true });
    return false;
  }
  if (!fs.existsSync(marker)) {
    emit({ systemMessage: `autoloop: Node.js ${process.versions.node} is too old, so the autoloop hooks are off (install Node.js 20 or later).` });
    try {
      fs.writeFileSync(marker, '');
    } catch {
      /* read-only project: saying it again is the lesser harm */
    }
  }
  return true;
}

function main(handle: Handler, raw: unknown): void {
  // run.sh found .autoloop/ (possibly above the session's directory) and says where.
  const projectDir = process.env.AUTOLOOP_PROJECT_DIR || process.env.CLAUDE_PROJECT_DIR || process.cwd();
  if (nodeTooOld(projectDir)) return;
  const event = process.argv[2] as Event;
  if (!EVENTS.includes(event)) {
    warn(`unknown hook event "${event ?? ''}"`);
    return;
  }
  if (!handle(event, raw, files(projectDir))) warn(`internal error, hook skipped: this bundle does not handle ${event}`);
}

/** Runs one hook call on its payload; never throws (a broken hook must not break the user's session). */
export function runHook(handle: Handler, raw: unknown): void {
  try {
    main(handle, raw);
  } catch (err) {
    warn(`internal error, hook skipped: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.exitCode = 0;
}
