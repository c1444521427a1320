// Which Claude Code process a hook runs under. Claude Code starts each hook
// (exec form) as a child of its own process, and run.sh passes its parent's
// pid on as AUTOLOOP_CLI_PID. With the kernel's start time (Linux), a pid
// reused by a later process is not taken for the one recorded. One process is
// one conversation at a time: /clear starts a new conversation (a new session
// id, SessionStart source "clear") in the same process, so the pair is what
// ties a cleared owner to its new id (hooks/session.sh computes the same text).
import { procStart } from '../../scripts/lib/procs.ts';

/** `<pid>@<start>` (start empty where there is no /proc), or null when the hook was not started by run.sh. */
export function cliProcess(env: Record<string, string | undefined>): string | null {
  const raw = env.AUTOLOOP_CLI_PID;
  if (!raw || !/^[1-9][0-9]{0,8}$/.test(raw)) return null;
  return `${raw}@${procStart(Number(raw)) ?? ''}`;
}
