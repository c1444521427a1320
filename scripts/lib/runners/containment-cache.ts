// The containment probe's answer, kept per machine in ~/.autoloop/containment.json
// so that an engine call does not start an extra process to learn it again.
// The answer is tied to everything that can change it: the boot (a reboot may
// bring other sysctls or another kernel), the kernel, the user, the user and
// PID namespaces the engine runs in (another container), the sysctls that
// allow or forbid unprivileged user namespaces, and the unshare binary that
// PATH finds. Anything unreadable or different: no answer, and the caller
// probes (failing safe). Writing is best effort: a read-only home only costs
// the probe.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { readJsonOrNull, writeJsonCache } from '../fsx.ts';

const SYSCTLS = [
  '/proc/sys/kernel/random/boot_id',
  '/proc/sys/user/max_user_namespaces',
  '/proc/sys/kernel/unprivileged_userns_clone',
  '/proc/sys/kernel/apparmor_restrict_unprivileged_userns',
];

const Cached = lazySchema(() => z.object({ key: z.string(), mode: z.enum(['pidns', 'group']) }));

function cacheFile(): string {
  return path.join(os.homedir(), '.autoloop', 'containment.json');
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

function linkOr(file: string): string {
  try {
    return fs.readlinkSync(file);
  } catch {
    return '-';
  }
}

/** The unshare PATH finds, by its path and its inode's identity; '-' when there is none. */
function unshareId(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, 'unshare');
    try {
      const st = fs.statSync(file);
      if (st.isFile()) return `${file}:${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      // not in this directory
    }
  }
  return '-';
}

/** What the probe's answer depends on, as one string. */
export function containmentKey(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  return [process.platform, os.release(), uid, ...SYSCTLS.map((f) => readOr(f, '-')), linkOr('/proc/self/ns/user'), linkOr('/proc/self/ns/pid'), unshareId()].join('|');
}

/** The remembered answer for this machine as it is now, or null (then probe). */
export function cachedContainment(): 'pidns' | 'group' | null {
  const parsed = Cached.safeParse(readJsonOrNull(cacheFile()));
  return parsed.success && parsed.data.key === containmentKey() ? parsed.data.mode : null;
}

export function rememberContainment(mode: 'pidns' | 'group'): void {
  try {
    writeJsonCache(cacheFile(), { key: containmentKey(), mode });
  } catch {
    // best effort: the next call probes again
  }
}

export function forgetContainment(): void {
  try {
    fs.rmSync(cacheFile(), { force: true });
  } catch {
    // unreadable home: nothing was remembered there either
  }
}
