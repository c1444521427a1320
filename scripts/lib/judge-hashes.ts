// A judge's hash, taken again only when the file may have changed. A run checks
// its judges after every sample; a protected data set of 100 MB cost 130 ms of
// CPU per sample to hash again, for bytes nothing had touched.
//
// A file whose stat signature (device, inode, size, mtime and ctime in
// nanoseconds) is the one it had when it was hashed holds the same bytes: a
// write, a rename over it, chmod or utime all move its ctime, which user space
// cannot set back. Except within one tick of the file system's clock
// (timestamps are coarse: a jiffy, or a second or two on some file systems): a
// file changed less than RACY_MS before it was looked at is hashed again every
// time, as git treats a "racily clean" index entry.
//
// Only for files this machine writes (the local runner): over NFS a stat may
// answer from the attribute cache while a job on another node writes the file,
// so a cluster's judges are hashed every time, as before.
import fs from 'node:fs';
import { sha256File } from './integrity.ts';
import { statSig } from './stat-sig.ts';

/** Changes older than this (before the stat) cannot share a timestamp with a later write. */
export const RACY_MS = 3000;

const known = new Map<string, { sig: string; hash: string | null }>();

/** sha256File, from the hash taken earlier in this process when the file's signature says it is unchanged. */
export function judgeHash(abs: string, nowMs: number = Date.now()): string | null {
  // Before the stat: a change made after this moment cannot carry a timestamp older than RACY_MS before it.
  const lookedNs = BigInt(Math.floor(nowMs) - RACY_MS) * 1_000_000n;
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(abs, { bigint: true });
  } catch {
    known.delete(abs);
    return sha256File(abs);
  }
  const sig = statSig(st);
  const seen = known.get(abs);
  if (seen?.sig === sig) return seen.hash;
  // Hashed after the stat: a write meanwhile moves the signature, so this hash is never reused for it.
  const hash = sha256File(abs);
  const racy = st.ctimeNs >= lookedNs || st.mtimeNs >= lookedNs;
  if (racy) known.delete(abs);
  else known.set(abs, { sig, hash });
  return hash;
}
