// The claude session's first process, made to die with `up`. A supervisor
// killed outright (SIGKILL, the OOM killer) runs no handler, so its session
// and every tool the session started ran on in their own process group. Where
// util-linux `setpriv --pdeathsig` works, the session starts under a small
// shell that the kernel signals (SIGUSR2) when `up` exits; that shell then
// SIGKILLs its group. It passes claude's ending on as its own (a signal is
// re-raised on itself), so the supervisor reads the same exit as before.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { faultAt } from '../faults.ts';

/** Run "$@" as a child (under "$0", setpriv); on SIGUSR2 kill the group; end as the child ended (status, or the same signal). */
// claude itself runs under --pdeathsig KILL of the leader: a kill of the pid `up` announces (the
// leader's) ends claude too, as it did when that pid was claude's.
const LEADER = 'trap "kill -KILL 0" USR2; "$0" --pdeathsig KILL -- "$@" & wait $! 2>/dev/null; s=$?; trap - USR2; [ "$s" -gt 128 ] && kill -s "$(kill -l "$s")" $$; exit "$s"';

/** The fallback tests: setpriv as if it were not installed (a name no PATH holds). */
const setpriv = (): string => (faultAt('setpriv') ? 'autoloop-no-setpriv' : 'setpriv');

let works: boolean | null = null;

/** Whether setpriv --pdeathsig can start a process here (asked once per process). */
function pdeathWorks(): boolean {
  if (works === null) {
    const r = spawnSync(setpriv(), ['--pdeathsig', 'USR2', '--', 'true'], { stdio: 'ignore', timeout: 10_000 });
    works = r.status === 0;
  }
  return works;
}

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Whether command names a program that can run (through PATH when it has no slash). */
function runnable(command: string, pathVar: string | undefined): boolean {
  if (command.includes('/')) return executable(command);
  return (pathVar ?? '').split(':').some((d) => d !== '' && executable(path.join(d, command)));
}

/**
 * The spawn of a session: under the dying-with-up leader where setpriv works, else as given.
 * A command that cannot run is spawned as given, so its failure reads as before (could not run claude).
 */
export function sessionSpawn(command: string, args: readonly string[], pathVar: string | undefined): { file: string; args: string[] } {
  if (!runnable(command, pathVar) || !pdeathWorks()) return { file: command, args: [...args] };
  return { file: setpriv(), args: ['--pdeathsig', 'USR2', '--', 'sh', '-c', LEADER, setpriv(), command, ...args] };
}
