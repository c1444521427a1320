// The claude session an `up` is running, on disk. A supervisor killed outright
// (SIGKILL, the OOM killer) runs no handler: its session's group dies with it
// only where setpriv works (session-leader.ts), else runs on in a process
// group of its own; a later `up` takes over the stale lock, and must not start
// a second claude on the same loop beside the one still running.
// The file stays until up stops cleanly: found with its claude gone, it says
// the earlier up died (mid-session or in a wait), so the next launch is a
// relaunch (capped, recorded) that resumes the loop's conversation by its id.
import fs from 'node:fs';
import path from 'node:path';
import * as z from '../zod.ts';
import { pidAlive, procStart } from '../procs.ts';
import { repoPaths } from '../paths.ts';

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const Left = z.object({ pid: z.number(), start: z.nullable(z.string()), session_id: z.optional(z.nullable(z.string())) });

/** A conversation id as claude prints it (a UUID): anything else is never passed to --resume. */
export function usableSessionId(id: string | null | undefined): string | null {
  return id && SESSION_ID.test(id) ? id : null;
}

export function sessionFile(root: string): string {
  return path.join(repoPaths(root).dir, 'up.session.json');
}

/** Remember the running session (its start time too, so a recycled pid is never taken for it) and the loop's conversation. */
export function noteSession(root: string, pid: number, sessionId: string | null = null, start: string | null = pid > 0 ? procStart(pid) : null): void {
  fs.writeFileSync(sessionFile(root), `${JSON.stringify({ pid, start, session_id: sessionId })}\n`);
}

export function forgetSession(root: string): void {
  fs.rmSync(sessionFile(root), { force: true });
}

/** What an earlier `up` that did not stop cleanly left: null when none (or unreadable). */
export function leftBehind(root: string): { sessionId: string | null } | null {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(sessionFile(root), 'utf8'));
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? null : { sessionId: null };
  }
  const left = Left.safeParse(raw);
  return { sessionId: left.success ? usableSessionId(left.data.session_id) : null };
}

/** The pid of a session an earlier `up` left running, or null (none, gone, or unreadable). */
export function leftoverSession(root: string): number | null {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(sessionFile(root), 'utf8'));
  } catch {
    return null;
  }
  const left = Left.safeParse(raw);
  // Without a start time a live pid may be someone else's now: not enough to refuse on.
  if (!left.success || left.data.start === null) return null;
  return pidAlive(left.data.pid, left.data.start) ? left.data.pid : null;
}
