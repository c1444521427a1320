// The guardian: what ends a run's work when the engine itself is SIGKILLed
// (nothing in the engine runs then). A small process the engine starts
// detached (a session of its own) the first time a run's work would outlive
// the engine: a Slurm job, or a local run whose processes are not all bound to
// the engine's life (the `group` containment, where a setsid daemon leaves the
// group; or no setpriv --pdeathsig). The engine hands it each such run's
// handle (the same one the run record keeps, RunHandle) over a pipe, and says
// when the run has ended. The guardian only reads that pipe: end of file means
// the engine is gone, however it went. If a run is still open then, it starts
// Node on the guardian's bundle (commands/guardian.ts) with what it read,
// which cancels each open handle through the runner that started it, exactly
// as `control repair` does (local: the group and every process carrying the
// run's token; Slurm: the job by id, or by the token in its name). A clean
// exit of the engine leaves no run open: the guardian just exits. While the
// engine lives the guardian is a shell reading a pipe: a Node process beside
// every engine call cost the iteration a tenth in `group` mode (docs/measurements.md).
//
// What it misses (it was killed too; a token cleared by `env -i`) is still
// found the old way: the next call finds the run's work alive, refuses to
// measure, and `control repair` ends it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { faultAt, withoutCrashPoints } from '../faults.ts';
import { containment, diesWithEngine } from './containment.ts';
import type { RunHandle, Runner } from './types.ts';

/** The guardian's bundle, beside the running entry point's (dist/). */
export const GUARDIAN_BUNDLE = 'guardian.mjs';

/** One line to the guardian: a run's handle to watch (again, as it grows) with the run's grace, or a run that ended (its token). */
export type GuardianLine = { watch: RunHandle; grace: number } | { done: string };

/** Whether a run's work can outlive a SIGKILL of the engine without a guardian. Pure but for the containment in force. */
export function outlivesEngine(handle: RunHandle, mode: () => string | null, dies: () => boolean): boolean {
  if (handle.runner !== 'local') return true;
  // pidns and readonly: the namespace dies with its first process, which dies with the engine (setpriv).
  return mode() === 'group' || !dies();
}

function modeInForce(): string | null {
  try {
    return containment();
  } catch {
    return null;
  }
}

/**
 * The guardian while the engine lives: a shell that keeps every line (`<token> <json>`) and the
 * tokens still open; at end of file, Node on the bundle ($2, run by $1) reads the lines, but only
 * when a run is open. The tokens are the runners' own hex: no pattern characters in them.
 */
const GUARD_SH = `node=$1 bundle=$2 open=' ' all=''
while IFS=' ' read -r tok line; do
  all="$all$line
"
  pat=" $tok "
  case $line in
    '{"done"'*) case $open in *"$pat"*) open="\${open%%$pat*} \${open#*$pat}" ;; esac ;;
    *) case $open in *"$pat"*) ;; *) open="$open$tok " ;; esac ;;
  esac
done
[ "$open" = ' ' ] && exit 0
printf '%s' "$all" | exec "$node" "$bundle"`;

let child: ChildProcess | null | undefined;

/** The guardian's path, or null where there is none (the engine not run from its bundles: a unit test). */
function bundlePath(): string | null {
  const entry = process.argv[1];
  if (!entry) return null;
  try {
    const file = path.join(path.dirname(fs.realpathSync(entry)), GUARDIAN_BUNDLE);
    return fs.existsSync(file) ? file : null;
  } catch {
    return null;
  }
}

/** This engine call's guardian, started on first use; null where it cannot be had (the run goes on without it). */
function guardian(): ChildProcess | null {
  if (child !== undefined) return child;
  // The fallback tests: a guardian killed with the engine (AUTOLOOP_FAULT_AT=guardian) is one never started.
  const file = faultAt('guardian') ? null : bundlePath();
  child = null;
  if (!file) return null;
  try {
    // Detached: no signal to the engine's group or terminal reaches it. Output nowhere: a caller
    // waiting for the engine's stdout to close must not wait for the guardian too. In /: it holds
    // no folder of the user's (a worktree being removed, a look for processes left in the repository).
    const c = spawn('/bin/sh', ['-c', GUARD_SH, 'autoloop-guardian', process.execPath, file], { cwd: '/', detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: withoutCrashPoints(process.env) });
    c.on('error', () => undefined);
    c.stdin?.on('error', () => undefined); // EPIPE: the guardian died first; the next call's check remains
    c.unref();
    (c.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    child = c;
  } catch {
    child = null;
  }
  return child;
}

function tell(token: string, line: GuardianLine): void {
  try {
    guardian()?.stdin?.write(`${token} ${JSON.stringify(line)}\n`);
  } catch {
    // the guardian is a second line of defence: a run never fails for want of it
  }
}

/**
 * The runner with each run's work told to the guardian while it is in flight,
 * where that work could outlive the engine. Every runner goes through here
 * (runnerFor): one seam, whatever runner is added.
 */
export function guarded(runner: Runner): Runner {
  return {
    ...runner,
    async run(req) {
      let token: string | undefined;
      const onStart = (handle: RunHandle): void => {
        if (handle.token && (token !== undefined || outlivesEngine(handle, modeInForce, diesWithEngine))) {
          token = handle.token;
          tell(handle.token, { watch: handle, grace: req.graceS });
        }
        req.onStart?.(handle);
      };
      try {
        return await runner.run({ ...req, onStart });
      } finally {
        if (token !== undefined) tell(token, { done: token });
      }
    },
  };
}
