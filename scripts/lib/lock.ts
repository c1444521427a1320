// One engine mutation at a time per repository (.autoloop/lock): a second
// experiment's init must not switch the branch under a running benchmark. The
// lock is a file created whole (linked into place, never seen empty) that
// names its owner; a lock whose process is gone is taken over.
// Taking over moves the stale file aside first and checks that what moved is
// the very file judged stale, so two racing takers cannot both win.
import fs from 'node:fs';
import path from 'node:path';
import { pidAlive, procStart } from './procs.ts';
import { uniqueId } from './unique-id.ts';
import { RefusalError, UsageError } from './errors.ts';
import { stopPoint } from './faults.ts';
import { followSharedFolder, stateNotWritable } from './state-access.ts';

export interface Lock {
  release(): void;
  /** Set when the lock was left by a dead process (pid 0: the file was unreadable). */
  tookOver: { pid: number } | null;
}

interface LockInfo {
  pid: number;
  owner: string;
  started_at: string;
  /** Unique per acquisition: release() removes the file only while it still holds this. */
  token: string;
  /** Kernel start time of pid (Linux), so that a recycled pid does not look alive. */
  proc_start: string | null;
}

/** A lock file younger than this that does not parse may be one being written right now. */
const TORN_GRACE_MS = 2000;
const MAX_ATTEMPTS = 200;

/**
 * The owner a reader (status, the status line, the dashboard) names while it writes the state cache
 * outside any call: it holds the lock for one small write. A call that finds it waits instead of
 * refusing (a status line refreshing at the wrong moment failed the loop's run-experiment).
 */
export const BRIEF_OWNER = 'state-cache';
const BRIEF_WAIT_MS = 10_000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function parseInfo(raw: string): LockInfo | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (typeof o.pid !== 'number') return null;
  return {
    pid: o.pid,
    owner: typeof o.owner === 'string' ? o.owner : '?',
    started_at: typeof o.started_at === 'string' ? o.started_at : '',
    token: typeof o.token === 'string' ? o.token : '',
    proc_start: typeof o.proc_start === 'string' ? o.proc_start : null,
  };
}

/**
 * Creates the lock file with its content whole: written under a name only we
 * use, then linked into place (link fails with EEXIST like O_EXCL). A file
 * opened with O_EXCL and written after would be empty for as long as its
 * creator is held off the CPU, and past TORN_GRACE_MS another process takes
 * such a file for a torn one and takes it over while its owner lives. Where
 * the file system has no hard links, the O_EXCL way stays.
 */
function tryCreate(lockFile: string, data: string): boolean {
  const mine = `${lockFile}.new.${process.pid}.${uniqueId()}`;
  try {
    fs.writeFileSync(mine, data, { flag: 'wx' });
    try {
      fs.linkSync(mine, lockFile);
      stopPoint('lock:created');
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw e;
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
  return tryCreateInPlace(lockFile, data);
}

/** The names tryCreate writes under, left by a process killed before it removed its own. */
function sweepUnlinked(lockFile: string): void {
  const prefix = `${path.basename(lockFile)}.new.`;
  let names: string[];
  try {
    names = fs.readdirSync(path.dirname(lockFile));
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length).split('.')[0]);
    if (pid !== process.pid && !pidAlive(pid)) fs.rmSync(path.join(path.dirname(lockFile), n), { force: true });
  }
}

function tryCreateInPlace(lockFile: string, data: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(lockFile, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    // No fsync: after a power loss the owner is dead anyway and the lock is taken over.
    fs.writeSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

interface Seen {
  ino: number;
  raw: string;
  mtimeMs: number;
}

function look(file: string): Seen | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    // Never taken over (that would move someone's directory aside) nor read as a lock (EISDIR, naming no
    // file); not a RefusalError either, which waiting callers take for a live owner and wait out.
    if (st.isDirectory()) throw new UsageError(`${file} is a directory, not autoloop's lock file: move it away`);
    const raw = fs.readFileSync(fd, 'utf8');
    return { ino: st.ino, raw, mtimeMs: st.mtimeMs };
  } finally {
    fs.closeSync(fd);
  }
}

export function acquireLock(lockFile: string, owner: string): Lock {
  // Every change to the state takes a lock first: from here on, it is made as the folder is shared.
  followSharedFolder(path.dirname(lockFile));
  try {
    return takeLock(lockFile, owner);
  } catch (e) {
    // Another user's .autoloop/ on a shared repository: said as such, not as EACCES on a temporary name.
    const line = stateNotWritable(path.dirname(lockFile), e);
    if (line !== null) throw new Error(line);
    throw e;
  }
}

function takeLock(lockFile: string, owner: string): Lock {
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  const me: LockInfo = {
    pid: process.pid,
    owner,
    started_at: new Date().toISOString(),
    token: uniqueId(),
    proc_start: procStart(process.pid),
  };
  const data = JSON.stringify(me) + '\n';
  let tookOver: { pid: number } | null = null;
  const briefUntil = Date.now() + BRIEF_WAIT_MS;

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (tryCreate(lockFile, data)) {
      sweepUnlinked(lockFile);
      return makeLock(lockFile, me.token, tookOver);
    }
    const seen = look(lockFile);
    if (!seen) continue; // released meanwhile: try again
    const info = parseInfo(seen.raw);
    if (info) {
      if (pidAlive(info.pid, info.proc_start)) {
        if (info.owner === BRIEF_OWNER && owner !== BRIEF_OWNER && Date.now() < briefUntil) {
          sleepSync(10);
          attempt--; // a wait, not contention
          continue;
        }
        throw new RefusalError(`another autoloop command (${info.owner}, pid ${info.pid}) is running in this repository: wait for it to end (status.mjs shows it busy until then), then call again`);
      }
    } else if (Date.now() - seen.mtimeMs < TORN_GRACE_MS) {
      sleepSync(20); // probably created a moment ago and not yet written
      continue;
    }
    // Stale. Move it aside under a name only we use, then make sure we moved the
    // file we judged and not a fresh lock another taker created in between.
    const aside = `${lockFile}.stale.${process.pid}.${uniqueId()}`;
    try {
      fs.renameSync(lockFile, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    const moved = look(aside);
    if (!moved || moved.ino !== seen.ino || moved.raw !== seen.raw) {
      // Someone else's fresh lock: put it back without overwriting anything.
      try {
        fs.linkSync(aside, lockFile);
      } catch {
        // a third process created a lock meanwhile; the next attempt will see it
      }
      fs.rmSync(aside, { force: true });
      continue;
    }
    fs.rmSync(aside, { force: true });
    tookOver = { pid: info?.pid ?? 0 };
  }
  throw new RefusalError(`could not take the lock ${lockFile}: too much contention`);
}

/** Who holds the lock now (a live process), or null: what status shows while a run measures. */
export function lockHolder(lockFile: string): { owner: string; pid: number; started_at: string } | null {
  const seen = look(lockFile);
  const info = seen ? parseInfo(seen.raw) : null;
  if (!info || !pidAlive(info.pid, info.proc_start)) return null;
  return { owner: info.owner, pid: info.pid, started_at: info.started_at };
}

function makeLock(lockFile: string, token: string, tookOver: { pid: number } | null): Lock {
  let released = false;
  return {
    tookOver,
    release() {
      if (released) return;
      released = true;
      const seen = look(lockFile);
      // Only our own lock: after a takeover the file may belong to someone else.
      if (seen && parseInfo(seen.raw)?.token === token) fs.rmSync(lockFile, { force: true });
    },
  };
}

/** Held by this process: nested acquisitions (chain → init) share it. */
const held = new Map<string, { lock: Lock; depth: number }>();

/**
 * The repository's lock, re-entrant within one process: chain holds it and
 * calls init, which takes it again without waiting on itself.
 */
export function acquireRepoLock(lockFile: string, owner: string): Lock {
  const mine = held.get(lockFile);
  if (mine) {
    mine.depth++;
    let released = false;
    return {
      tookOver: null,
      release() {
        if (released) return;
        released = true;
        if (--mine.depth === 0) {
          held.delete(lockFile);
          mine.lock.release();
        }
      },
    };
  }
  const lock = acquireLock(lockFile, owner);
  const entry = { lock, depth: 1 };
  held.set(lockFile, entry);
  let released = false;
  return {
    tookOver: lock.tookOver,
    release() {
      if (released) return;
      released = true;
      if (--entry.depth === 0) {
        held.delete(lockFile);
        lock.release();
      }
    },
  };
}
