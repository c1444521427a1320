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

/** The soft file size limit this process passes to its children (ulimit -f), in bytes; null when none or unknown. */
export function fileSizeLimit(limitsText: string): number | null {
  const m = /^Max file size\s+(\d+)\s/m.exec(limitsText);
  return m ? Number(m[1]) : null;
}

/** The clause a failed run's reason gets when its output log reached the file size limit; null when it did not. */
export function fileLimitNote(logBytes: number, limit: number | null): string | null {
  if (limit === null || logBytes < limit) return null;
  return `the output reached the file size limit (${Math.floor(limit / 1024)} KB, ulimit -f), so the benchmark's writes failed there: raise the limit where the session starts, or print less`;
}

/** Why a failed run's output was cut (a full disk, the file size limit), or null; reads the disk and /proc. */
export function outputCutNote(dir: string, log: string, where: string): string | null {
  const disk = diskFullNote(freeBytes(dir), where);
  if (disk) return disk;
  let limits = '';
  try {
    limits = fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
  const size = fs.statSync(log, { throwIfNoEntry: false })?.size ?? 0;
  return fileLimitNote(size, fileSizeLimit(limits));
}

/** An error of a full disk or an exhausted quota. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
