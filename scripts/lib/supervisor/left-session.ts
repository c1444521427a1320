// The claude session an `up` is running, on disk. A supervisor killed outright
// (SIGKILL, the OOM killer) cannot end its session, which runs on in a process
// group of its own; a later `up` takes over the stale lock, and must not start
// a second claude on the same loop beside the one still running.
import fs from 'node:fs';
import path from 'node:path';
import * as z from '../zod.ts';
import { pidAlive, procStart } from '../procs.ts';
import { repoPaths } from '../paths.ts';

const Left = z.object({ pid: z.number(), start: z.nullable(z.string()) });

export function sessionFile(root: string): string {
  return path.join(repoPaths(root).dir, 'up.session.json');
}

/** Remember the running session (its start time too, so a recycled pid is never taken for it). */
export function noteSession(root: string, pid: number): void {
  if (pid <= 0) return;
  fs.writeFileSync(sessionFile(root), `${JSON.stringify({ pid, start: procStart(pid) })}\n`);
}

export function forgetSession(root: string): void {
  fs.rmSync(sessionFile(root), { force: true });
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
