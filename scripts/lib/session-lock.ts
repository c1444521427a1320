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
// STALE_MS, is taken over: moved aside under a name of the taker's own first,
// and taken only if what moved is the very file judged stale (two takers at
// once: the second moves nothing, or the first's fresh lock, which it puts
// back), as lock.ts does. The shell never takes a lock over (sl_take defers to Node).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { stopPoint } from './faults.ts';
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
  /** The lock file's inode: only it is ever renamed or removed by its holder. */
  ino: number;
}

export const sessionLockPath = (session: string): string => `${session}.lock`;

const nap = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** A lock file as judged: its inode, mtime and bytes (an inode is reused as soon as it is freed). */
interface Judged {
  ino: number;
  mtimeMs: number;
  raw: string;
}

/** The lock file judged stale, or null: left by a dead holder, its pid gone, or too old for what it holds. */
function stale(lock: string): Judged | null {
  try {
    const st = fs.statSync(lock);
    const raw = fs.readFileSync(lock, 'utf8');
    const age = Date.now() - st.mtimeMs;
    const m = /^(\d+)\n$/.exec(raw);
    const dead = age > STALE_MS || (m ? !pidAlive(Number(m[1])) : age > STALE_WRITING_MS);
    return dead ? { ino: st.ino, mtimeMs: st.mtimeMs, raw } : null;
  } catch {
    return null; // gone meanwhile (try again), or not a file (waited for, then given up)
  }
}

/**
 * Remove the lock judged stale, and only it: moved aside first, then checked to be the file judged
 * (a taker that judged the same stale lock may have removed it and created its own meanwhile).
 * Someone else's fresh lock moved by mistake is linked back (never over a newer one).
 */
function takeOver(lock: string, seen: Judged): boolean {
  stopPoint('session-lock:stale-seen');
  const aside = `${lock}.stale.${process.pid}.${randomUUID()}`;
  try {
    fs.renameSync(lock, aside);
  } catch {
    return false; // moved by another taker first, or not movable: waited for as a live one
  }
  let moved: Judged | null = null;
  try {
    const st = fs.statSync(aside);
    moved = { ino: st.ino, mtimeMs: st.mtimeMs, raw: fs.readFileSync(aside, 'utf8') };
  } catch {
    // unreadable: treated as not the one judged
  }
  if (!moved || moved.ino !== seen.ino || moved.mtimeMs !== seen.mtimeMs || moved.raw !== seen.raw) {
    try {
      fs.linkSync(aside, lock);
    } catch {
      // a newer lock is there already: it holds
    }
  }
  fs.rmSync(aside, { force: true });
  return true;
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
      const seen = stale(lock);
      if (seen && takeOver(lock, seen)) continue;
      nap(STEP_MS);
      continue;
    }
    const l = { fd, lock, target: session, ino: fs.fstatSync(fd).ino };
    try {
      fs.writeSync(fd, `${process.pid}\n`);
    } catch {
      releaseSessionLock(l);
      return null;
    }
    return l;
  }
}

/** Publish the new text as session.json and free the lock (one rename). Throws when it cannot; the lock is then freed. */
export function commitSessionLock(l: SessionLock, text: string): void {
  try {
    fs.ftruncateSync(l.fd, 0);
    fs.writeSync(l.fd, text, 0);
    // Taken over meanwhile (this holder frozen past STALE_MS): the name is another's lock now.
    if (fs.statSync(l.lock).ino !== l.ino) throw new Error('session lock taken over by another writer');
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
    // Never another writer's lock (this one taken over while its holder was frozen, or released twice).
    if (fs.statSync(l.lock).ino === l.ino) fs.unlinkSync(l.lock);
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
