// Facts about processes, read from /proc where there is one. The engine's only
// reader of the process table (test/architecture.test.ts): the runners, the
// supervisor and the lock all ask here.
import fs from 'node:fs';

/** Every pid in /proc; null off Linux (or when /proc cannot be listed). */
function allPids(): number[] | null {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return null;
  }
  const out: number[] = [];
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(name));
  }
  return out;
}

function statFields(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    // comm (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); null off Linux or when gone. */
export function procStart(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/**
 * Is this process alive? Zombies are not (they hold nothing and may wait for a
 * PID 1 that never reaps). With `start`, a pid recycled by a newer process is
 * not the one we knew, so it does not count either.
 */
export function pidAlive(pid: number, start: string | null = null): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const fields = fs.existsSync('/proc/self/stat') ? statFields(pid) : null;
  if (fields) {
    const state = fields[0];
    if (state === 'Z' || state === 'X' || state === 'x') return false;
    return start === null || fields[19] === start;
  }
  if (fs.existsSync('/proc/self/stat')) return false; // Linux and no entry: gone
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, someone else's
  }
}

/**
 * Live pids whose process group is pgid, zombies excluded; null without /proc
 * (the caller can then only probe the group as a whole).
 */
export function groupMembers(pgid: number): number[] | null {
  if (!fs.existsSync('/proc/self/stat')) return null;
  const pids = allPids();
  if (!pids) return null;
  const alive: number[] = [];
  for (const pid of pids) {
    const fields = statFields(pid); // null: exited between readdir and read
    if (!fields) continue;
    const state = fields[0];
    if (state === 'Z' || state === 'X' || state === 'x') continue;
    if (Number(fields[2]) === pgid) alive.push(pid);
  }
  return alive;
}

/** Pid → parent pid for every process, zombies included (empty off Linux). */
export function parentMap(): Map<number, number> {
  const map = new Map<number, number>();
  for (const pid of allPids() ?? []) {
    const fields = statFields(pid); // null: gone meanwhile
    if (fields) map.set(pid, Number(fields[1]));
  }
  return map;
}

/**
 * Live processes (zombies excluded) other than this one whose environment
 * holds `entry` (NAME=value, NUL-terminated as /proc/<pid>/environ stores it).
 * Linux only; [] elsewhere, and a process whose environment is not ours to read is skipped.
 */
export function environHolders(entry: Buffer): number[] {
  const out: number[] = [];
  for (const pid of allPids() ?? []) {
    if (pid === process.pid) continue;
    try {
      if (!fs.readFileSync(`/proc/${pid}/environ`).includes(entry)) continue;
    } catch {
      continue; // gone, or not ours to read
    }
    const state = statFields(pid)?.[0];
    if (state !== undefined && state !== 'Z' && state !== 'X') out.push(pid);
  }
  return out;
}

/**
 * Whether a process whose descriptors we may read has `file` (a real path)
 * open; null without /proc. Another user's processes are not readable (nor
 * can they write what this is asked about: the user's git index lock).
 */
export function heldOpen(file: string): boolean | null {
  const pids = allPids();
  if (!pids) return null;
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours
    }
    for (const fd of fds) {
      try {
        const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target === file || target === `${file} (deleted)`) return true;
      } catch {
        // closed meanwhile
      }
    }
  }
  return false;
}
