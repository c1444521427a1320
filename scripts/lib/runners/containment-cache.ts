// The containment probe's answer, kept per machine in ~/.autoloop/containment.json
// so that an engine call does not start an extra process to learn it again;
// beside it, the answer of status's read-only probe (readonly.ts readOnlyWorks:
// five programs), under a key that adds the `mount` the setup starts.
// The answer is tied to everything that can change it: the boot (a reboot may
// bring other sysctls or another kernel), the kernel, the user, the user and
// PID namespaces the engine runs in (another container), the sysctls that
// allow or forbid unprivileged user namespaces, and the unshare and setpriv
// binaries that PATH finds. Anything unreadable or different: no answer, and the caller
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

const Cached = lazySchema(() =>
  z.object({
    key: z.string(),
    mode: z.enum(['pidns', 'group']),
    /** Runs start under setpriv --pdeathsig (absent in older files: probed again). */
    pdeath: z.optional(z.boolean()),
    /** unshare maps a chosen uid and gid (--map-user/--map-group, util-linux >= 2.38): a non-root user's read-only setup needs it; absent: probed again. */
    mapIds: z.optional(z.boolean()),
    readonly: z.optional(z.object({ key: z.string(), works: z.boolean() })),
  }),
);

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

/** The program `name` PATH finds, by its path and its inode's identity; '-' when there is none. */
function programId(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      const st = fs.statSync(file);
      if (st.isFile()) return `${file}:${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      // not in this directory
    }
  }
  return '-';
}

/** What the probe asks, by generation: `nested` since a run's command gets a user namespace of its own inside the run's (an answer from before did not try two). */
const PROBE = 'nested';

/** What the probe's answer depends on, as one string. */
export function containmentKey(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  return [PROBE, process.platform, os.release(), uid, ...SYSCTLS.map((f) => readOr(f, '-')), linkOr('/proc/self/ns/user'), linkOr('/proc/self/ns/pid'), programId('unshare'), programId('setpriv')].join('|');
}

/** What the containment probe found: the mode, setpriv around it, and whether unshare can map chosen ids. */
export interface MachineAnswer {
  mode: 'pidns' | 'group';
  pdeath: boolean;
  mapIds: boolean;
}

/** The remembered answer for this machine as it is now, or null (then probe). */
export function cachedContainment(): MachineAnswer | null {
  const parsed = Cached.safeParse(readJsonOrNull(cacheFile()));
  if (!parsed.success || parsed.data.key !== containmentKey() || parsed.data.pdeath === undefined || parsed.data.mapIds === undefined) return null;
  return { mode: parsed.data.mode, pdeath: parsed.data.pdeath, mapIds: parsed.data.mapIds };
}

/** What the read-only probe depends on beyond the containment's key: the mount(8) and the shell the setup runs, and the mount namespace. */
function readOnlyKey(): string {
  return [containmentKey(), linkOr('/proc/self/ns/mnt'), programId('mount'), programId('sh'), fileId('/bin/sh')].join('|');
}

function fileId(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${file}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return '-';
  }
}

/** The remembered answer of the read-only probe for this machine as it is now, or null (then probe). */
export function cachedReadOnly(): boolean | null {
  const parsed = Cached.safeParse(readJsonOrNull(cacheFile()));
  if (!parsed.success || parsed.data.key !== containmentKey() || !parsed.data.readonly) return null;
  return parsed.data.readonly.key === readOnlyKey() ? parsed.data.readonly.works : null;
}

/** Kept only beside a remembered containment answer of this machine state (a pidns one: else there is no read-only setup to ask about). */
export function rememberReadOnly(works: boolean): void {
  try {
    const parsed = Cached.safeParse(readJsonOrNull(cacheFile()));
    if (!parsed.success || parsed.data.key !== containmentKey()) return;
    writeJsonCache(cacheFile(), { ...parsed.data, readonly: { key: readOnlyKey(), works } });
  } catch {
    // best effort: the next status probes again
  }
}

/** A run's read-only setup failed: the next status probes again. */
export function forgetReadOnly(): void {
  try {
    const parsed = Cached.safeParse(readJsonOrNull(cacheFile()));
    if (parsed.success && parsed.data.readonly) writeJsonCache(cacheFile(), { key: parsed.data.key, mode: parsed.data.mode, pdeath: parsed.data.pdeath, mapIds: parsed.data.mapIds });
  } catch {
    // unreadable home: nothing was remembered there either
  }
}

export function rememberContainment(found: MachineAnswer): void {
  try {
    writeJsonCache(cacheFile(), { key: containmentKey(), mode: found.mode, pdeath: found.pdeath, mapIds: found.mapIds });
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

/**
 * A probe its timeout ended (a machine loaded far past its cores) found
 * nothing out: its "no" is used for this engine call only, never remembered,
 * or one slow minute would weaken every later run on the machine.
 */
export function probeTimedOut(r: { error?: Error }): boolean {
  return (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
}
