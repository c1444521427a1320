// A file's git blob id, computed in this process: what `git hash-object
// --no-filters` prints (the engine switches content filters off anyway), the
// hash of "blob <size>\0" and the bytes. Used only to compare the tree with a
// capture already stored (measured.ts recheck), so a recheck costs no git
// process; a capture a keep will commit is still written by git.
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';

const CHUNK = 1 << 20;

/** sha1 for 40 hex digits, sha256 for 64; null for anything else (then git is asked). */
function hasher(hexLen: number): Hash | null {
  return hexLen === 40 ? createHash('sha1') : hexLen === 64 ? createHash('sha256') : null;
}

export function blobIdOf(bytes: Buffer, hexLen: number): string | null {
  const h = hasher(hexLen);
  return h ? h.update(`blob ${bytes.length}\0`).update(bytes).digest('hex') : null;
}

/** The blob id of a regular file of `size` bytes; null when it cannot be read or its size changed meanwhile. */
export function blobIdOfFile(file: string, size: number, hexLen: number): string | null {
  const h = hasher(hexLen);
  if (!h) return null;
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    h.update(`blob ${size}\0`);
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1)));
    let total = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > size) return null;
      h.update(buf.subarray(0, n));
    }
    return total === size ? h.digest('hex') : null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
