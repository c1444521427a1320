// One claude session as a child process: its own process group (so a Ctrl+C
// of the terminal reaches the supervisor, which then ends the whole session),
// stdout read line by line, and a stop that leaves nothing behind: the group
// and every descendant that moved to a group of its own.
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { groupSurvivors, killGroup } from '../runners/local.ts';
import { parentMap, procStart } from '../procs.ts';
import type { Exit } from './outcome.ts';
import { sessionSpawn } from './session-leader.ts';

export interface Session {
  pid: number;
  /** Resolves once the process has exited and its stdout is drained. */
  done: Promise<Exit>;
  /** End the session: SIGTERM, grace, then SIGKILL for the group and its descendants. */
  stop(graceS: number): Promise<void>;
}

export interface LaunchOptions {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  onLine(line: string): void;
  onStderr(chunk: string): void;
}

/** Every live descendant of pid, with its start time (so a recycled pid is never signalled). */
export function descendants(pid: number): { pid: number; start: string | null }[] {
  const parents = parentMap();
  const out: { pid: number; start: string | null }[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [child, parent] of parents) {
      if (parent === p && !out.some((o) => o.pid === child)) {
        out.push({ pid: child, start: procStart(child) });
        queue.push(child);
      }
    }
  }
  return out;
}

function killKnown(procs: readonly { pid: number; start: string | null }[]): void {
  for (const p of procs) {
    if (p.start !== null && procStart(p.pid) !== p.start) continue; // gone, or someone else now
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export function launch(o: LaunchOptions): Session {
  const run = sessionSpawn(o.command, o.args, o.env.PATH);
  const child = spawn(run.file, run.args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pid = child.pid ?? -1;
  // Descendants seen while the session ran: those that left the group (a tool
  // that calls setsid) would be orphaned if the CLI died first.
  const seen: { pid: number; start: string | null }[] = [];
  const watch = setInterval(() => {
    for (const d of descendants(pid)) if (!seen.some((s) => s.pid === d.pid && s.start === d.start)) seen.push(d);
  }, 1000);
  watch.unref();

  const lines = readline.createInterface({ input: child.stdout });
  lines.on('line', o.onLine);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', o.onStderr);
  const drained = new Promise<void>((resolve) => lines.on('close', resolve));
  const exited = new Promise<Exit>((resolve) => {
    child.on('error', (err) => {
      lines.close(); // no process, so no stdout to wait for
      resolve({ code: null, signal: null, error: err.message });
    });
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const done = Promise.all([exited, drained]).then(async ([exit]) => {
    clearInterval(watch);
    // Whatever the session left in its group, or that it started and lost track of.
    if (pid > 0) await killGroup(pid, 0);
    killKnown(seen);
    return exit;
  });

  return {
    pid,
    done,
    async stop(graceS: number) {
      if (pid <= 0) return;
      for (const d of descendants(pid)) if (!seen.some((s) => s.pid === d.pid)) seen.push(d);
      if (groupSurvivors(pid).length) await killGroup(pid, graceS);
      killKnown([...seen, ...descendants(pid)]);
      await done;
    },
  };
}
