// What status says about parallel mode and the cluster: the candidates in
// flight, and a queue wait over the configured limit.
import type { Experiment } from '../experiment-data.ts';
import { latestRunNumber, readRunRecord } from '../experiment.ts';
import { runId as formatRunId } from '../paths.ts';
import { openCandidates, type Candidate } from './store.ts';

export interface ParallelStatus {
  candidates: { id: string; run_id: string | null; phase: string | null }[];
  /** The latest run's wait before running, when over slurm.max_queue_wait_s (default: 10 minutes). */
  long_queue: { run_id: string; queued_s: number; limit_s: number } | null;
}

const DEFAULT_QUEUE_LIMIT_S = 600;

/** `open`: the open candidates when the caller found them another way (dashboard/activity.ts). */
export function parallelStatus(exp: Experiment, open: readonly Candidate[] = openCandidates(exp.paths)): ParallelStatus {
  const candidates = open.map((c) => ({ id: c.id, run_id: c.run_id, phase: c.run_id ? (readRunRecord(exp, c.run_id)?.phase ?? null) : null }));
  const limit = exp.config.slurm?.max_queue_wait_s ?? DEFAULT_QUEUE_LIMIT_S;
  const ids = [...candidates.flatMap((c) => (c.run_id ? [c.run_id] : []))];
  const last = latestRunNumber(exp);
  if (last) ids.push(formatRunId(last));
  let long: ParallelStatus['long_queue'] = null;
  for (const id of ids) {
    const q = readRunRecord(exp, id)?.queued_s ?? 0;
    if (q > limit && (!long || q > long.queued_s)) long = { run_id: id, queued_s: Math.round(q), limit_s: limit };
  }
  return { candidates, long_queue: long };
}

/** At most two lines for the status text; none when there is nothing to say. */
export function parallelLines(p: ParallelStatus, parallel: number): string[] {
  const out: string[] = [];
  if (p.candidates.length) {
    out.push(`candidates ${p.candidates.length}/${parallel}: ${p.candidates.map((c) => `${c.id} ${c.run_id ? `${c.run_id} ${c.phase ?? '?'}` : 'editing'}`).join(', ')}`);
  }
  if (p.long_queue) out.push(`queue: ${p.long_queue.run_id} waited ${p.long_queue.queued_s}s before running (over ${p.long_queue.limit_s}s): the cluster is busy`);
  return out;
}
