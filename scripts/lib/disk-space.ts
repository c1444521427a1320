// A full disk, said in words. When the disk holding the run's folder fills,
// the benchmark's own output write fails (ENOSPC, exit 1), and its last line
// saying so is the one that could not be written: the reason must say it, or
// the model "fixes" a change that did nothing wrong, and the next call fails
// on the same disk.
import fs from 'node:fs';

/** Below this much free space the disk counts as full (a run log, a ledger line and a commit need more). */
export const FULL_BELOW_BYTES = 1 << 20;

/** Free bytes for an unprivileged writer on the disk holding dir; null when it cannot be read. */
export function freeBytes(dir: string): number | null {
  try {
    const s = fs.statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

/** The clause a failed run's reason gets when the disk was full; null when it was not (or is unknown). */
export function diskFullNote(free: number | null, where: string): string | null {
  if (free === null || free >= FULL_BELOW_BYTES) return null;
  return `the disk holding ${where} is full (${Math.floor(free / 1024)} KB free), so the output was cut there: free space (old run logs under .autoloop/experiments/*/runs/) before the next run`;
}

/** An error of a full disk or an exhausted quota. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
