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
//   call's runs; the guards after each command stay in every mode. A user who
//   is not root needs unshare's --map-user (util-linux >= 2.38: readOnlyIds),
//   probed with the rest and remembered; without it, `pidns` and a log line.
//
// Dying with the engine: where util-linux `setpriv --pdeathsig` works, a run's
// first process (the unshare, or the group's leader) is started under it, so
// the kernel signals it when the engine's main thread (which spawns every run)
// exits, SIGKILL included. unshare's --kill-child then takes the namespace
// down; in `group` mode the leader is a small shell that kills its group on
// that signal (SIGUSR2: the kill sequence sends it nothing of the kind, and it
// spares the leader during the grace). Without setpriv, a run outlives a
// killed engine until `control repair`, as before.
//
// AUTOLOOP_CONTAINMENT=group|pidns|readonly forces a mode; the default is the
// best one this machine allows. Probing costs a process (an unshare that exits
// at once, under setpriv where it is found), so the answer is kept per machine
// (containment-cache.ts) and probed again whenever anything that could change it changed.
import { spawnSync } from 'node:child_process';
import { environHolders } from '../procs.ts';
import { faultAt } from '../faults.ts';
import { cachedContainment, forgetContainment, probeTimedOut, rememberContainment, type MachineAnswer } from './containment-cache.ts';

export type IdMapping = 'current' | 'mapped';

export type Containment = 'pidns' | 'group';

export const TOKEN_VAR = 'AUTOLOOP_RUN_TOKEN';

const UNSHARE = ['--user', '--map-current-user', '--pid', '--fork', '--kill-child'];
/**
 * The namespace's first process: run the command as a child and pass on its status. The command
 * must not be that first process (the kernel drops every signal the first process has no handler
 * for: the engine's SIGTERM would not end it); `&` then `wait` forks it in every shell (bash and
 * busybox exec a script's last foreground command instead).
 * The command gets a user namespace nested in the run's: the outer `unshare` sits outside the PID
 * namespace in the run's user namespace, and this /proc is the machine's, so a command in that
 * same user namespace could write the unshare's memory (/proc/<pid>/mem needs no capability
 * there) and run code outside the PID namespace, able to signal the engine (SIGSTOP, SIGKILL)
 * and every process of the user. From a nested namespace that needs CAP_SYS_PTRACE over the
 * outer one, which the command never has.
 */
const INIT = 'unshare --user --map-current-user -- sh -c "$1" & wait $!';

/** setpriv's arguments before the program it runs: SIGKILL when the parent (the engine's main thread) exits. */
const PDEATH = ['--pdeathsig', 'KILL', '--'];
/** In `group` mode the leader's signal: it then SIGKILLs its group (a shell cannot catch SIGKILL). */
const GROUP_PDEATH = ['--pdeathsig', 'USR2', '--'];
/**
 * The group's leader: run the command as a child, pass on its status; the parent's death kills the
 * group (`wait` returns as the signal arrives, so the trap runs at once: a foreground child would
 * hold it back until the command ended). wait's stderr goes nowhere: the shell would report a child
 * ended by a signal ("Terminated") into the run's output.
 */
const GROUP_INIT = 'trap "kill -KILL 0" USR2; sh -c "$1" & wait $! 2>/dev/null';

/** The fallback tests: setpriv as if it were not installed (a name no PATH holds). */
const setpriv = (): string => (faultAt('setpriv') ? 'autoloop-no-setpriv' : 'setpriv');

let probed: Containment | null = null;
/** Whether runs start under setpriv --pdeathsig (null: not known yet). */
let pdeath: boolean | null = null;
/** Whether unshare can map chosen ids here (probed for a user who is not root only). */
let mapIds = false;
/** The answer came from the per-machine cache, not from a probe in this process. */
let fromCache = false;

function probe(file: string, args: string[]): boolean | null {
  const r = spawnSync(file, args, { stdio: 'ignore', timeout: 10_000 });
  return probeTimedOut(r) ? null : r.status === 0;
}

/** What this machine allows: the namespaces, and setpriv around them; sure: no probe ran out of time (an answer to keep). */
function probeMachine(): MachineAnswer & { sure: boolean } {
  if (process.platform !== 'linux') return { mode: 'group', pdeath: false, mapIds: false, sure: true };
  // The runs' own first process, nested user namespace included: a machine that allows one
  // user namespace but not two must fall back to `group`, not fail every run.
  const ns = ['/bin/sh', '-c', INIT, 'autoloop-probe', 'exit 0'];
  // One process chain in the usual case: both at once.
  const both = probe(setpriv(), [...PDEATH, 'unshare', ...UNSHARE, '--', ...ns]);
  const unshare = both ? true : probe('unshare', [...UNSHARE, '--', ...ns]);
  if (unshare) {
    const mapIds = probeMapIds();
    return { mode: 'pidns', pdeath: both === true, mapIds: mapIds === true, sure: both !== null && mapIds !== null };
  }
  const alone = probe(setpriv(), [...GROUP_PDEATH, '/bin/sh', '-c', 'exit 0']);
  return { mode: 'group', pdeath: alone === true, mapIds: false, sure: both !== null && unshare !== null && alone !== null };
}

/** The user's real ids, as the read-only setup gives them back to the command. */
export function realIds(): { uid: number; gid: number } {
  return { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 };
}

/**
 * For a user who is not root, whether the read-only setup's two namespaces
 * work here: root in the outer one (mount(8) refuses any other uid), the real
 * ids again in the nested one (unshare --map-user/--map-group, util-linux
 * >= 2.38). Root needs neither (its ids map onto themselves): not probed.
 */
function probeMapIds(): boolean | null {
  const { uid, gid } = realIds();
  if (uid === 0) return false;
  // The fallback tests: an unshare without the options (one that rejects them, as before 2.38 it did).
  const opt = faultAt('unshare-map-user') ? '--autoloop-no-map-user' : '--map-user';
  return probe('unshare', ['--user', '--map-root-user', '--', 'unshare', '--user', `${opt}=${uid}`, `--map-group=${gid}`, '--mount', '--', '/bin/sh', '-c', 'exit 0']);
}

/** The containment in force for this engine call. */
export function containment(): Containment {
  const forced = process.env.AUTOLOOP_CONTAINMENT;
  if (probed === null && forced !== 'group') {
    const faulty = faultAt('setpriv') || faultAt('unshare-map-user');
    const cached = faulty ? null : cachedContainment();
    fromCache = cached !== null;
    const found = cached ?? probeMachine();
    probed = found.mode;
    pdeath = found.pdeath;
    mapIds = found.mapIds;
    // The fault's answer is this process's only: never remembered for the machine.
    if (!cached && 'sure' in found && found.sure && !faulty) rememberContainment(found);
  }
  if (forced === 'group') {
    // Forced: the namespaces are not probed; setpriv alone is (one short process).
    pdeath ??= probe(setpriv(), [...GROUP_PDEATH, '/bin/sh', '-c', 'exit 0']) === true;
    return 'group';
  }
  if (forced === 'pidns' && probed !== 'pidns') throw new Error('AUTOLOOP_CONTAINMENT=pidns but unshare cannot create a user and PID namespace here');
  return probed as Containment;
}

/**
 * How the read-only setup's namespaces map ids, once containment() found a
 * PID namespace: `current` for root (its ids map onto themselves in both, as
 * they always did), `mapped` for another user (root in the outer namespace,
 * its real ids again in the nested one); null where a user who is not root
 * has an unshare without --map-user (util-linux < 2.38): no read-only setup.
 */
export function readOnlyIds(): IdMapping | null {
  if (realIds().uid === 0) return 'current';
  return mapIds ? 'mapped' : null;
}

/** Whether this call's runs die with the engine (setpriv --pdeathsig); false before containment() was asked. */
export function diesWithEngine(): boolean {
  return pdeath === true;
}

/** A spawn of the PID namespace (unshare …) made to die with the engine, where setpriv works here. */
export function withParentDeath(s: { file: string; args: string[] }): { file: string; args: string[] } {
  return pdeath ? { file: setpriv(), args: [...PDEATH, s.file, ...s.args] } : s;
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

/**
 * For status, where the containment in force is weaker than `readonly` and
 * nobody asked for that: why, in one clause; null otherwise.
 */
export function whyWeaker(held: RunContainment): string | null {
  const forced = process.env.AUTOLOOP_CONTAINMENT;
  if (held === 'readonly' || forced === 'group' || forced === 'pidns') return null;
  if (held === 'group') return 'this machine allows no unprivileged user namespace (see the sysctls user.max_user_namespaces, kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns)';
  if (readOnlyIds() === null) return 'for a user who is not root the read-only judges need util-linux 2.38 or later (unshare --map-user)';
  return 'the read-only setup (a mount namespace) fails here';
}

/**
 * What to spawn for a shell command line under a containment. `leader`: the
 * group's leader is not the command but a process that must outlive the grace
 * (unshare, or the shell that kills the group when the engine dies).
 */
export function wrap(mode: Containment, command: string): { file: string; args: string[]; leader: boolean } {
  if (mode === 'pidns') return { ...withParentDeath({ file: 'unshare', args: [...UNSHARE, '--', '/bin/sh', '-c', INIT, 'autoloop-run', command] }), leader: true };
  if (pdeath) return { file: setpriv(), args: [...GROUP_PDEATH, '/bin/sh', '-c', GROUP_INIT, 'autoloop-run', command], leader: true };
  return { file: '/bin/sh', args: ['-c', command], leader: false };
}

/** Live processes (zombies excluded) whose environment carries the run's token. Linux only; [] elsewhere. */
export function tokenHolders(token: string): number[] {
  if (!token) return [];
  return environHolders(Buffer.from(`${TOKEN_VAR}=${token}\0`));
}
