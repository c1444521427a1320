// .autoloop/session.json (who owns the loop, the handover candidate, the Stop
// counters) is read, changed and written back by the hooks of several sessions
// at once: Node (hooks/src/state.ts), the shell's answers (hooks/claim.sh,
// hooks/session.sh) and up (supervisor/stop-stint.ts). Without a lock, a write
// made from a stale read silently undid another's (a handover lost to an
// owner's Stop a few milliseconds later). Every writer takes session.json.lock:
// created exclusively (O_EXCL; the shell's `set -C`) holding the taker's pid,
// then the writer re-reads session.json, decides, writes the new state into the
// lock and renames it over session.json: one rename publishes the state and
// frees the lock, so the shell pays no process for the lock. A lock taken by
// someone else is waited for a short bounded time, then the write is dropped
// (a hook never blocks a tool call); one whose pid is dead, or older than
// STALE_MS, is taken over.
import fs from 'node:fs';
import { pidAlive } from './procs.ts';

/** How long a writer waits for the lock before it drops its write. Holders keep it for milliseconds. */
export const LOCK_WAIT_MS = 500;
/** A lock holding a pid this old is a frozen holder's (or a reused pid's). */
const STALE_MS = 10_000;
/**
 * A lock holding no pid is a holder between writing the new state into it and renaming it (an
 * exec of mv at most): one this old was killed there.
 */
const STALE_WRITING_MS = 1_000;
const STEP_MS = 3;

export interface SessionLock {
  fd: number;
  lock: string;
  target: string;
}

export const sessionLockPath = (session: string): string => `${session}.lock`;

const nap = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** A lock left by a dead holder: its pid gone, or too old for what it holds. */
function stale(lock: string): boolean {
  try {
    const age = Date.now() - fs.statSync(lock).mtimeMs;
    if (age > STALE_MS) return true;
    const m = /^(\d+)\n$/.exec(fs.readFileSync(lock, 'utf8'));
    return m ? !pidAlive(Number(m[1])) : age > STALE_WRITING_MS;
  } catch {
    return false; // gone meanwhile (try again), or not a file (waited for, then given up)
  }
}

/** The lock for this session.json, or null when it cannot be taken within waitMs (or at all: a read-only .autoloop). */
export function takeSessionLock(session: string, waitMs = LOCK_WAIT_MS): SessionLock | null {
  const lock = sessionLockPath(session);
  const deadline = Date.now() + waitMs;
  for (;;) {
    let fd: number;
    try {
      fd = fs.openSync(lock, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return null;
      if (Date.now() >= deadline) return null;
      if (stale(lock)) {
        try {
          fs.unlinkSync(lock);
          continue;
        } catch {
          // taken over by another writer first, or not removable: wait as for a live one
        }
      }
      nap(STEP_MS);
      continue;
    }
    try {
      fs.writeSync(fd, `${process.pid}\n`);
    } catch {
      releaseSessionLock({ fd, lock, target: session });
      return null;
    }
    return { fd, lock, target: session };
  }
}

/** Publish the new text as session.json and free the lock (one rename). Throws when it cannot; the lock is then freed. */
export function commitSessionLock(l: SessionLock, text: string): void {
  try {
    fs.ftruncateSync(l.fd, 0);
    fs.writeSync(l.fd, text, 0);
    fs.closeSync(l.fd);
    fs.renameSync(l.lock, l.target);
  } catch (err) {
    releaseSessionLock(l);
    throw err;
  }
}

/** Free the lock without writing. */
export function releaseSessionLock(l: SessionLock): void {
  try {
    fs.closeSync(l.fd);
  } catch {
    // closed by a failed commit
  }
  try {
    fs.unlinkSync(l.lock);
  } catch {
    // already gone
  }
}

/** session.json's text, or null when there is none. Other errors are the caller's. */
export function readSessionText(session: string): string | null {
  try {
    return fs.readFileSync(session, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Remove session.json (a new experiment, or clear) under the lock, so a hook that read the old
 * owner cannot write it back a moment later. A lock not taken in time: removed all the same.
 */
export function clearSession(session: string): void {
  const l = takeSessionLock(session);
  try {
    fs.rmSync(session, { force: true });
  } finally {
    if (l) releaseSessionLock(l);
  }
}
