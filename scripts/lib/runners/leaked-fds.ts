// Descriptors the engine's caller left open without close-on-exec (a shell's
// `200>&1`, a tool's pipe) reach every process the engine spawns: Node marks
// only its own descriptors close-on-exec, and a spawn passes the rest on. A
// benchmark given the engine's stdout that way wrote lines of its own into the
// engine's report to its caller ("keep", a number never measured). So before
// the first command of the code under test, every descriptor above stderr
// that is not close-on-exec is closed: the engine never uses one (its own
// files, pipes and sockets are all opened close-on-exec), except Node's IPC
// channel, which is kept. Linux only (/proc); elsewhere nothing is done.
import fs from 'node:fs';

/** O_CLOEXEC as /proc/<pid>/fdinfo's `flags:` shows a descriptor's close-on-exec (octal). */
const CLOEXEC = 0o2000000;

let done = false;

/** The descriptors above stderr that an exec would pass on (close-on-exec clear), from /proc/self. */
export function leakedDescriptors(): number[] {
  let names: string[];
  try {
    names = fs.readdirSync('/proc/self/fd');
  } catch {
    return [];
  }
  const channel = Number(process.env.NODE_CHANNEL_FD ?? -1);
  const out: number[] = [];
  for (const n of names) {
    const fd = Number(n);
    if (!Number.isInteger(fd) || fd <= 2 || fd === channel) continue;
    try {
      const m = /^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (m && (parseInt(m[1] as string, 8) & CLOEXEC) === 0) out.push(fd);
    } catch {
      // closed meanwhile (the listing's own descriptor among them)
    }
  }
  return out;
}

/** Close them, once per engine process. */
export function closeLeakedDescriptors(): void {
  if (done) return;
  done = true;
  for (const fd of leakedDescriptors()) {
    try {
      fs.closeSync(fd);
    } catch {
      // gone already
    }
  }
}
