// The `readonly` layer of the local runner's containment (containment.ts):
// the engine's state and the judges unwritable to the code under test while
// it runs, in a mount namespace of the run's own.
//
// The setup shell runs as the PID namespace's first process, root of a user
// namespace that owns a fresh mount namespace, under a /proc of the PID
// namespace (unshare --mount-proc: the host's /proc/<engine pid>/root would
// lead back to the writable view). One `mount -a` reads the plan from a small
// fstab the engine writes (one process, however many paths): for each path,
// outer before inner, a bind onto itself, read-only or read-write (a bind
// inherits its parent's read-only flag, so the scratch area inside a
// read-only .autoloop/ gets a remount to rw after its bind). It moves into the command's
// directory again (the inherited working directory still names the dentry
// under the new mounts), tells the engine on descriptor 3 that the setup is
// complete, and starts the command in a nested user and mount namespace
// (`unshare … -- sh -c "$cmd" &`): there every inherited mount is locked (no
// remount, no umount), whatever capabilities the code under test holds inside
// it. The setup shell then stays the PID namespace's first process, waiting
// for the command and passing on its status (128+n for a signal n), so that
// the command is never that first process (the kernel drops every signal the
// first process has no handler for, the engine's SIGTERM included). It keeps
// the outer user namespace's capabilities, out of the command's reach: from
// the nested namespace nothing can ptrace it, open its /proc/1/root, cwd or
// ns/*, or kill it. Paths are positional arguments, never part of the script.
// The ids (containment.ts readOnlyIds): mount(8) runs for uid 0 only, so a user
// who is not root is made root of the outer namespace and gets its real ids
// back in the nested one (--map-user/--map-group); root maps onto itself in both.
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { cachedReadOnly, forgetReadOnly, probeTimedOut, rememberReadOnly } from './containment-cache.ts';
import { faultAt } from '../faults.ts';
import { readOnlyIds, realIds, type IdMapping } from './containment.ts';

/** What the engine wants unwritable (and the exceptions inside it), as absolute paths. */
export interface Protect {
  readOnly: string[];
  writable: string[];
}

export type MountOp = { mode: 'ro' | 'rw'; path: string };

/** What the setup writes on descriptor 3 once every mount is in place. */
export const SETUP_DONE = 'ro\n';

// --mount-proc: unshare itself mounts the PID namespace's /proc (one process fewer than a mount in the script).
const OUTER = ['--user', '--pid', '--mount', '--mount-proc', '--fork', '--kill-child'];
/**
 * The outer namespace's ids, by IdMapping (containment.ts readOnlyIds): root
 * maps onto itself; another user is made root there, since util-linux mount(8)
 * refuses any other uid ("must be superuser"), whatever the namespace allows.
 */
const OUTER_IDS: Record<IdMapping, string> = { current: '--map-current-user', mapped: '--map-root-user' };
/** The nested namespace gives the command its real ids again ($4, $5: the engine's uid and gid). */
const NESTED_IDS: Record<IdMapping, string> = { current: '--map-current-user', mapped: '--map-user="$4" --map-group="$5"' };

/** The fallback tests: an unshare before 2.38 (it rejects the option), here as in containment.ts's probe. */
const nestedIds = (ids: IdMapping): string => (ids === 'mapped' && faultAt('unshare-map-user') ? NESTED_IDS[ids].replace('--map-user', '--autoloop-no-map-user') : NESTED_IDS[ids]);

const setupEnd = (ids: IdMapping): string[] => [
  'cd -- "$dir" || exit 125',
  'echo ro >&3 && exec 3>&-',
  // `&` then `wait`, not a foreground command: some shells (bash, busybox) exec a script's last
  // command instead of forking it, which would make the command the first process. `sh` from
  // PATH, as the other modes: the command's shell names itself `sh` in its messages.
  `unshare --user ${nestedIds(ids)} --mount -- sh -c "$cmd" & wait $!`,
];
// -n: no utab bookkeeping (nothing outside the namespace needs to know).
const setupTab = (ids: IdMapping): string => ['cmd=$1; dir=$2; tab=$3', 'mount -n -a -T "$tab" || exit 125', ...setupEnd(ids)].join('\n');
// mount -a skips an entry whose target is already mounted from the same place, so where a
// planned path is a mount point already, one mount per path instead (slower, never skipped).
const setupEach = (ids: IdMapping): string =>
  [
    'cmd=$1; dir=$2; shift 5',
    'while [ "$#" -gt 1 ]; do',
    '  case $1 in ro) mount -n --bind -o ro -- "$2" "$2" ;; *) mount -n --bind -- "$2" "$2" && mount -n -o remount,bind,rw -- "$2" ;; esac || exit 125',
    '  shift 2',
    'done',
    ...setupEnd(ids),
  ].join('\n');

const inside = (p: string, dir: string): boolean => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
const depth = (p: string): number => p.split('/').filter(Boolean).length;

/**
 * The mounts, outer before inner, so that the innermost rule wins: a writable
 * path only where a read-only one covers it; a path both read-only and
 * writable stays read-only (a judge inside the tree the command runs in).
 */
export function mountPlan(p: Protect): MountOp[] {
  const ro = [...new Set(p.readOnly)];
  const rw = [...new Set(p.writable)].filter((w) => !ro.includes(w) && ro.some((r) => inside(w, r)));
  const ops: MountOp[] = [...ro.map((x) => ({ mode: 'ro' as const, path: x })), ...rw.map((x) => ({ mode: 'rw' as const, path: x }))];
  return ops.sort((a, b) => depth(a.path) - depth(b.path) || (a.mode === b.mode ? 0 : a.mode === 'rw' ? -1 : 1));
}

/** The paths that exist, by their real names (a bind follows symlinks; a missing judge is left to the guards). */
export function existingPaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    try {
      // One realpath(3) per path (the JS realpath lstats every component): asked before every sample.
      out.push(fs.realpathSync.native(p));
    } catch {
      // absent: nothing to bind; past PATH_MAX realpath(3) gives up where the JS walk does not
      try {
        out.push(fs.realpathSync(p));
      } catch {
        // absent
      }
    }
  }
  return out;
}

// fstab fields are separated by blanks; libmount reads octal escapes back.
const mangle = (p: string): string => p.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);

/** The plan as fstab lines for `mount -a`, in order (libmount mounts them as listed). */
export function fstabOf(plan: readonly MountOp[]): string {
  return plan
    .flatMap(({ mode, path: p }) => {
      const f = mangle(p);
      return mode === 'ro' ? [`${f} ${f} none bind,ro 0 0`] : [`${f} ${f} none bind 0 0`, `${f} ${f} none remount,bind,rw 0 0`];
    })
    .map((l) => `${l}\n`)
    .join('');
}

/**
 * What to spawn: the command in the PID namespace, behind the read-only setup.
 * `tab` is a file holding fstabOf(plan) (libmount reads a regular file, not a pipe).
 */
export function wrapReadOnly(command: string, cwd: string, tab: string, plan: readonly MountOp[], ids: IdMapping): { file: string; args: string[] } {
  const each = plan.some((o) => mountPoints().has(o.path));
  const script = each ? setupEach(ids) : setupTab(ids);
  const ops = each ? plan.flatMap((o) => [o.mode, o.path]) : [];
  const { uid, gid } = realIds();
  return { file: 'unshare', args: [...OUTER, OUTER_IDS[ids], '--', '/bin/sh', '-c', script, 'autoloop-setup', command, cwd, tab, String(uid), String(gid), ...ops] };
}

let mounts: Set<string> | null = null;

/** Mount points as this process sees them (/proc/self/mountinfo's fifth field, unescaped); read once per engine call. */
export function mountPoints(): Set<string> {
  if (mounts) return mounts;
  mounts = new Set();
  try {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const target = line.split(' ')[4];
      if (target) mounts.add(target.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
    }
  } catch {
    // unreadable: every path counts as plain, and mount -a is used
  }
  return mounts;
}

/** Writes the plan's fstab beside `near` (a file name prefix the engine may write); returns its path. */
export function writeFstab(near: string, plan: readonly MountOp[]): string {
  const tab = `${near}.mounts-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  fs.writeFileSync(tab, fstabOf(plan), { mode: 0o600 });
  return tab;
}

/**
 * Resolves true as soon as the setup reports itself complete on descriptor 3
 * (not at end of file: the outer unshare holds the descriptor until the run
 * ends), false when the pipe closes without that (the setup failed).
 */
export function setupOutcome(child: ChildProcess): Promise<boolean> {
  const pipe = child.stdio[3] as Readable | null | undefined;
  if (!pipe) return Promise.resolve(false);
  return new Promise((resolve) => {
    let text = '';
    const settle = (ok: boolean) => {
      pipe.removeAllListeners('data');
      pipe.resume(); // nothing more is read; keep the pipe from filling
      resolve(ok);
    };
    pipe.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      if (text.startsWith(SETUP_DONE)) settle(true);
    });
    pipe.once('end', () => settle(false));
    pipe.once('close', () => settle(false));
    pipe.once('error', () => settle(false));
  });
}

let failed = false;
let probed: boolean | null = null;

/** Whether runs of this engine call still try the setup (the mode forced, or no failure yet). */
export function readOnlyWanted(): boolean {
  const forced = process.env.AUTOLOOP_CONTAINMENT;
  if (forced === 'group' || forced === 'pidns') return false;
  return !failed;
}

/** A setup failed: the rest of this engine call's runs go without it, and status's remembered answer goes. */
export function readOnlyFailed(): void {
  failed = true;
  forgetReadOnly();
}

export const readOnlyForced = (): boolean => process.env.AUTOLOOP_CONTAINMENT === 'readonly';

/**
 * For status: whether the setup works on this machine (a read-only bind
 * inside a scratch directory). Probed once per machine state, as the
 * containment is (containment-cache.ts): status is called between iterations.
 */
export function readOnlyWorks(): boolean {
  const ids = readOnlyIds();
  if (!readOnlyWanted() || !ids) return false;
  if (probed !== null) return probed;
  probed = cachedReadOnly();
  if (probed !== null) return probed;
  const works = probeReadOnly(ids);
  probed = works === true;
  if (works !== null) rememberReadOnly(probed);
  return probed;
}

/** Whether the read-only setup works here; null when the probe ran out of time (no answer to keep). */
function probeReadOnly(ids: IdMapping): boolean | null {
  let works: boolean | null = false;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-ro-'));
  try {
    fs.mkdirSync(path.join(dir, 'rw'));
    const plan = mountPlan({ readOnly: [dir], writable: [path.join(dir, 'rw')] });
    const { file, args } = wrapReadOnly('exit 0', dir, writeFstab(path.join(dir, 'plan'), plan), plan, ids);
    const r = spawnSync(file, args, { stdio: ['ignore', 'ignore', 'ignore', 'pipe'], timeout: 10_000 });
    works = probeTimedOut(r) ? null : r.status === 0 && String(r.output[3] ?? '') === SETUP_DONE;
  } catch {
    works = false;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return works;
}
