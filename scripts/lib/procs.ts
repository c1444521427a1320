// Facts about processes, read from /proc where there is one.
import fs from 'node:fs';

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
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return null;
  }
  const alive: number[] = [];
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const fields = statFields(Number(name)); // null: exited between readdir and read
    if (!fields) continue;
    const state = fields[0];
    if (state === 'Z' || state === 'X' || state === 'x') continue;
    if (Number(fields[2]) === pgid) alive.push(Number(name));
  }
  return alive;
}
