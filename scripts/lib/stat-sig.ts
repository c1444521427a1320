// One file's stat signature: what tells, without reading it, that a file is
// no longer the one seen before. Any write, a rename over it, utime or chmod
// changes it (ctime moves with each, and user space cannot set ctime back).
// Used by the seal around the code under test (tamper.ts, at nanoseconds) and
// by the stamps that tell which result files a sample or run wrote
// (sources/common.ts, artifacts.ts).
import fs from 'node:fs';

/** device, inode, size, mtime, ctime: nanoseconds from bigint stats, milliseconds otherwise. */
export function statSig(st: fs.Stats | fs.BigIntStats): string {
  return 'mtimeNs' in st
    ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`
    : `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** The signature of the file at `file` now (symbolic links followed), or 'absent'. */
export function statSigOf(file: string): string {
  try {
    return statSig(fs.statSync(file, { bigint: true }));
  } catch {
    return 'absent';
  }
}

/** A file's bytes, or null when it cannot be read (absent, a directory). */
export function readOrNull(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch {
    return null;
  }
}
