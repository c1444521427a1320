// The supervisor's window on the engine: the loop's state, read through the
// engine's own readers (as `status` does), and relaunch events appended to the
// ledger under the experiment's lock.
import fs from 'node:fs';
import path from 'node:path';
import { currentTermination, event, findRoot, listExperiments, openExperiment, readActive, resolveSlug, withLock } from '../experiment.ts';
import { acquireLock, type Lock } from '../lock.ts';
import { experimentPaths, repoPaths } from '../paths.ts';
import { loopState } from '../reduce.ts';
import { readLedger } from '../ledger.ts';
import { RefusalError } from '../errors.ts';
import type { LoopView } from './policy.ts';

/** Where the loop stands now. `pinned` follows one experiment; otherwise the active one (a chain moves it). */
export function readLoop(root: string, pinned?: string): LoopView {
  const active = readActive(root);
  if (!active) {
    return { live: false, slug: pinned ?? null, why: 'cleared', message: 'autoloop is not active in this repository (cleared, or never set up)' };
  }
  const slug = resolveSlug(root, pinned);
  const exp = openExperiment(root, slug);
  const t = currentTermination(exp);
  const loop = loopState(exp.state, t);
  if (loop === 'active') return { live: true, slug, runs: exp.state.runs_total };
  const message =
    loop === 'terminated' ? `experiment ${slug} terminated: ${t.message}`
    : loop === 'stopped' ? `experiment ${slug} was stopped by the user (control.mjs resume, then up again)`
    : `experiment ${slug} is paused by its health check: ${exp.state.health.reason}`;
  return { live: false, slug, why: loop, message };
}

export function repoRoot(cwd: string): string {
  return findRoot(cwd);
}

/**
 * Append a relaunch event; an engine call holding the lock (the run a killed
 * session left measuring) is waited for up to two minutes: the hourly cap of
 * a later supervisor counts these lines. The session runs meanwhile.
 */
export async function recordRelaunch(root: string, slug: string, data: Record<string, unknown>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const exp = openExperiment(root, slug);
    try {
      await withLock(exp, 'up (relaunch)', async () => event(exp, 'relaunch', data));
      return;
    } catch (e) {
      if (!(e instanceof RefusalError) || attempt >= 240) throw e;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

const HOUR_MS = 3_600_000;
const RELAUNCH = Buffer.from('"relaunch"');

/**
 * When the relaunches of the last hour started, from the ledgers: the hourly
 * cap holds across supervisors (a crash, a reboot, \`up\` run again), not only
 * within one. Every experiment's ledger is read, since one \`up\` supervises
 * the repository and a chain moves its relaunches from one experiment to the
 * next. Only relaunch lines are parsed.
 */
export function recentRelaunches(root: string, nowMs: number): number[] {
  const out: number[] = [];
  for (const slug of listExperiments(root)) {
    const ledger = experimentPaths(root, slug).ledger;
    if (!fs.existsSync(ledger)) continue;
    const read = readLedger(ledger, 0, { skip: (buf, start, end) => buf.subarray(start, end).indexOf(RELAUNCH) < 0 });
    for (const l of read.lines) {
      if (l.type !== 'event' || l.event !== 'relaunch') continue;
      const t = Date.parse(l.ts);
      if (t > nowMs - HOUR_MS && t <= nowMs) out.push(t);
    }
  }
  return out.sort((a, b) => a - b);
}

/** One supervisor per repository: a second `up` would run a second claude on the same loop. */
export function holdSupervisorLock(root: string): Lock {
  const file = path.join(repoPaths(root).dir, 'up.lock');
  try {
    return acquireLock(file, 'up');
  } catch (e) {
    if (e instanceof RefusalError) throw new RefusalError(`a supervisor is already running in this repository (${path.relative(root, file)})`);
    throw e;
  }
}
