// How the local runner makes sure nothing a run started outlives it.
//
// - `pidns`: the command runs in a PID namespace of its own (util-linux
//   `unshare --user --map-current-user --pid --fork --kill-child`). Its first
//   process is a small shell that only waits for the command; when the command
//   exits, that shell exits and the kernel kills every process left in the
//   namespace, including the ones that called setsid or double-forked into
//   daemons. Killing the unshare process (the group leader) kills the
//   namespace the same way. Same user id; the namespace needs no privilege.
// - `group`: where user namespaces are not available (no unshare, or the
//   kernel or container forbids them): the process group, plus a token in the
//   environment of every process the run started, so that one which left the
//   group is still found (by /proc/<pid>/environ) and killed. A process that
//   wipes its environment and leaves its group escapes this mode.
//
// - `readonly` (pidns plus a mount namespace, the default where it works):
//   before the command starts, the engine's state (.autoloop/) and every judge
//   file are bind-mounted read-only, the experiment's scratch area and the
//   tree the command runs in (a candidate's worktree lives under .autoloop/)
//   stay writable; then a nested user and mount namespace locks those mounts,
//   so the code under test (root of its namespace) cannot remount or unmount
//   them, and a /proc of the PID namespace hides the engine's processes (their
//   /proc/<pid>/root would lead back to the writable view). A write to a judge
//   or to the ledger fails with EROFS instead of being repaired afterwards.
//   Where the setup fails (mount namespaces forbidden, a path that cannot be
//   bound), that run falls back to `pidns`, and so do the rest of the engine
//   call's runs; the guards after each command stay in every mode.
//
// AUTOLOOP_CONTAINMENT=group|pidns|readonly forces a mode; the default is the
// best one this machine allows. Probing costs a process (an unshare that exits
// at once), so the answer is kept per machine (containment-cache.ts) and probed
// again whenever anything that could change it changed.
import { spawnSync } from 'node:child_process';
import { environHolders } from '../procs.ts';
import { cachedContainment, forgetContainment, probeTimedOut, rememberContainment } from './containment-cache.ts';

export type Containment = 'pidns' | 'group';

export const TOKEN_VAR = 'AUTOLOOP_RUN_TOKEN';

const UNSHARE = ['--user', '--map-current-user', '--pid', '--fork', '--kill-child'];
/** The namespace's first process: run the command as a child and pass on its status. */
const INIT = 'sh -c "$1" & wait $!';

let probed: Containment | null = null;
/** The answer came from the per-machine cache, not from a probe in this process. */
let fromCache = false;

/** Whether unshare makes the namespaces here; null when the probe ran out of time (no answer to keep). */
function unshareWorks(): boolean | null {
  if (process.platform !== 'linux') return false;
  const r = spawnSync('unshare', [...UNSHARE, '--', '/bin/sh', '-c', 'exit 0'], { stdio: 'ignore', timeout: 10_000 });
  return probeTimedOut(r) ? null : r.status === 0;
}

/** The containment in force for this engine call. */
export function containment(): Containment {
  const forced = process.env.AUTOLOOP_CONTAINMENT;
  if (forced === 'group') return 'group';
  if (probed === null) {
    probed = cachedContainment();
    fromCache = probed !== null;
    if (probed === null) {
      const works = unshareWorks();
      probed = works ? 'pidns' : 'group';
      if (works !== null) rememberContainment(probed);
    }
  }
  if (forced === 'pidns' && probed !== 'pidns') throw new Error('AUTOLOOP_CONTAINMENT=pidns but unshare cannot create a user and PID namespace here');
  return probed;
}

/**
 * A command under a remembered pidns answer failed: the failure may be
 * unshare's own (namespaces forbidden since, by something the cache key does
 * not see), so the next engine call probes again. Costs nothing on success.
 */
export function commandFailed(mode: Containment): void {
  if (mode === 'pidns' && fromCache) forgetContainment();
}

/** What a run was contained by: the process containment, or `readonly` (pidns plus the read-only judges). */
export type RunContainment = Containment | 'readonly';

/** For people (status, README): what keeps a run from leaving processes behind, and from writing the judges. */
export function describeContainment(mode: RunContainment): string {
  if (mode === 'readonly') return "PID namespace, with the engine's state and the judges read-only (a mount namespace the run cannot undo)";
  return mode === 'pidns'
    ? 'PID namespace (every process a run starts dies with it, setsid or not)'
    : 'process group + environment token (a process that leaves its group and clears its environment can escape)';
}

/** What to spawn for a shell command line under a containment. */
export function wrap(mode: Containment, command: string): { file: string; args: string[] } {
  if (mode === 'pidns') return { file: 'unshare', args: [...UNSHARE, '--', '/bin/sh', '-c', INIT, 'autoloop-run', command] };
  return { file: '/bin/sh', args: ['-c', command] };
}

/** Live processes (zombies excluded) whose environment carries the run's token. Linux only; [] elsewhere. */
export function tokenHolders(token: string): number[] {
  if (!token) return [];
  return environHolders(Buffer.from(`${TOKEN_VAR}=${token}\0`));
}
