// The attribution journal's writer (.autoloop/journal; the format and the
// reader are the engine's, scripts/lib/journal.ts): while the loop is active,
// PreToolUse records what the model is about to write, so the engine can tell
// a new in-scope file of the model's from one the user made. The loop's
// sessions' writes count (pre-tool-use.ts): the owner's, a session handed the
// loop (a restart edits before its first engine call makes it the owner), and
// anyone's while nobody owns it; another session's file is the user's.
// hooks/pre-tool-use.sh appends the same `W <path>` line for the edits it
// answers. One append per call; a failure is only a warning.
import fs from 'node:fs';
import path from 'node:path';
import type { BashVerdict } from './bash-guard.ts';
import { warn, type Files } from './state.ts';

/** A path the journal can hold on one line (the engine's own files are never the change). */
const journalable = (rel: string): boolean => rel !== '' && !/[\u0000-\u001f\u007f]/.test(rel) && rel !== '.autoloop' && !rel.startsWith('.autoloop/');

/** Lines for an edit tool's file (project-relative). */
export function editLines(rel: string, now: number): string[] {
  return [`E ${now}`, ...(journalable(rel) ? [`W ${rel}`] : [])];
}

/** The Bash tool's own limits on a call (Claude Code's defaults: 2 minutes, at most 10). */
export function bashTimeoutMs(requested: unknown, env: Record<string, string | undefined>): number {
  const num = (v: unknown): number | null => (typeof v === 'number' || typeof v === 'string') && Number(v) > 0 ? Number(v) : null;
  const max = num(env.BASH_MAX_TIMEOUT_MS) ?? 600_000;
  return Math.min(num(requested) ?? num(env.BASH_DEFAULT_TIMEOUT_MS) ?? 120_000, max);
}

/**
 * Lines for a Bash call: the files and directories it names, and a window
 * from now to its timeout (B) when it may write what the guard cannot see,
 * else the end of any open window (E). A call in the background keeps
 * writing after the next call starts: its window (A) stays open until the
 * engine runs.
 */
export function bashLines(v: Pick<BashVerdict, 'writes' | 'dirs' | 'opaque'>, background: boolean, now: number, timeoutMs: number): string[] {
  const time = background ? `A ${now}` : v.opaque ? `B ${now} ${now + timeoutMs}` : `E ${now}`;
  return [time, ...v.writes.filter(journalable).map((w) => `W ${w}`), ...v.dirs.filter(journalable).map((d) => `D ${d}`)];
}

export function appendJournal(f: Files, lines: readonly string[]): void {
  if (!lines.length) return;
  try {
    fs.appendFileSync(path.join(path.dirname(f.active), 'journal'), `${lines.join('\n')}\n`);
  } catch {
    warn('cannot append to .autoloop/journal');
  }
}
