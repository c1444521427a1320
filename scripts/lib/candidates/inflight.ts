// Work in flight on a cluster, found from the run records: what control stop
// and control repair cancel through the runner that started it. A run whose
// engine process is alive notices its job was cancelled by autoloop and ends
// as interrupted (never a crash of the candidate).
import type { Experiment } from '../experiment-data.ts';
import { readRunRecord, latestRunNumber } from '../experiment.ts';
import { runId as formatRunId } from '../paths.ts';
import { runnerOf } from '../runners/index.ts';
import { slurmJobs } from '../runners/slurm-name.ts';
import type { RunRecord } from '../schema.ts';
import { acquireLock } from '../lock.ts';
import { candidatePaths, openCandidates } from './store.ts';

/** No live process holds this lock (its holder died): the run it guarded is abandoned. */
function abandoned(lockFile: string): boolean {
  try {
    acquireLock(lockFile, 'control repair').release();
    return true;
  } catch {
    return false;
  }
}

/** Records in phase `running` whose handle names queued or running work elsewhere (not a local process group). */
export function remoteRunsInFlight(exp: Experiment, abandonedOnly: boolean): RunRecord[] {
  const ids = new Set<string>();
  for (const c of openCandidates(exp.paths)) {
    if (c.run_id && (!abandonedOnly || abandoned(candidatePaths(exp.paths, c.id).lock))) ids.add(c.run_id);
  }
  // The serial loop's latest run: abandoned whenever the caller holds the experiment's lock.
  const last = latestRunNumber(exp);
  if (last && !openCandidates(exp.paths).some((c) => c.run_id === formatRunId(last))) ids.add(formatRunId(last));
  return [...ids]
    .map((id) => readRunRecord(exp, id))
    .filter((r): r is RunRecord => r !== null && r.phase === 'running' && r.handle !== null && r.handle.runner !== 'local');
}

/** Cancel what those records name; returns a line for the report, or null when nothing was in flight. */
export async function cancelRemoteWork(exp: Experiment, abandonedOnly = false): Promise<string | null> {
  const runs = remoteRunsInFlight(exp, abandonedOnly);
  if (!runs.length) return null;
  const left: string[] = [];
  for (const r of runs) if (r.handle) left.push(...(await runnerOf(r.handle).cancel(r.handle, exp.config.grace)));
  const names = runs.map((r) => `${r.run_id} (${r.handle?.runner === 'slurm' ? `job ${slurmJobs(r.handle)}` : '?'})`).join(', ');
  return left.length ? `cancelled ${names}; still alive: ${left.join(', ')}` : `cancelled ${names}`;
}
