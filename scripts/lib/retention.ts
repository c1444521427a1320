// How much of the runs' output is kept. The rule (README, "Run output"):
// - a run's log is whole while it runs;
// - the best's log and the last KEEP_LAST runs' logs are kept whole, up to
//   WHOLE_MAX bytes each (beyond that, their last WHOLE_MAX bytes);
// - every other run's log is trimmed to its last TAIL_KEEP bytes.
// Applied when a run is logged, to the runs that just left the protected set
// (the run KEEP_LAST before, the previous best), so its cost does not grow
// with the number of runs. Trimming is a cache-grade write: atomic, not fsynced.
import fs from 'node:fs';
import type { ExperimentPaths } from './paths.ts';
import { runDir, runId } from './paths.ts';
import { writeFileAtomic } from './fsx.ts';

export const KEEP_LAST = 5;
export const TAIL_KEEP = 64 * 1024;
export const WHOLE_MAX = 64 * 1024 * 1024;

/**
 * Cut a file to (about) its last `keep` bytes, from a line start, with a one-line note; true when it was cut.
 * A log this user may not read or replace (another user's run, on a repository two users share) is left
 * whole: trimming only saves space, and failing here would leave a logged run's termination unchecked.
 */
export function trimToTail(file: string, keep: number): boolean {
  try {
    return cutToTail(file, keep);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return false;
    throw e;
  }
}

function cutToTail(file: string, keep: number): boolean {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    return false;
  }
  if (size <= keep) return false;
  const buf = Buffer.alloc(keep);
  const fd = fs.openSync(file, 'r');
  let got = 0;
  try {
    while (got < keep) {
      const n = fs.readSync(fd, buf, got, keep - got, size - keep + got);
      if (n === 0) break;
      got += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  let tail = buf.subarray(0, got);
  const nl = tail.indexOf(0x0a);
  if (nl >= 0 && nl < tail.length - 1) tail = tail.subarray(nl + 1);
  const note = Buffer.from(`[autoloop: ${size - tail.length} earlier bytes of this log were dropped by the retention rule]\n`);
  writeFileAtomic(file, Buffer.concat([note, tail]), { durable: false });
  return true;
}

/** Which runs' logs stay whole: the best's and the last KEEP_LAST up to `latest`. */
export function keptWhole(latest: number, bestRun: string | null): (id: string) => boolean {
  return (id) => id === bestRun || Number(id.slice(1)) > latest - KEEP_LAST;
}

/**
 * After run `latest` was logged: trim the logs that just lost their
 * protection (`latest - KEEP_LAST`, and the best before this run when it is
 * no longer the best), and bound the logs kept whole.
 */
export function applyRetention(paths: ExperimentPaths, latest: number, bestRun: string | null, previousBest: string | null): string[] {
  const whole = keptWhole(latest, bestRun);
  const trimmed: string[] = [];
  const candidates = new Set<string>();
  if (latest - KEEP_LAST >= 1) candidates.add(runId(latest - KEEP_LAST));
  if (previousBest) candidates.add(previousBest);
  for (const id of candidates) {
    if (!whole(id) && trimToTail(runDir(paths, id).log, TAIL_KEEP)) trimmed.push(id);
  }
  if (trimToTail(runDir(paths, runId(latest)).log, WHOLE_MAX)) trimmed.push(runId(latest));
  return trimmed;
}
