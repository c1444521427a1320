// A file's git blob id, computed in this process: what `git hash-object
// --no-filters` prints (the engine switches content filters off anyway), the
// hash of "blob <size>\0" and the bytes. The recheck of a stored capture
// (measured.ts) compares with it, and loose-object.ts names the objects it
// writes with objectIdOf, so neither costs a git process.
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';

const CHUNK = 1 << 20;

/** sha1 for 40 hex digits, sha256 for 64; null for anything else (then git is asked). */
function hasher(hexLen: number): Hash | null {
  return hexLen === 40 ? createHash('sha1') : hexLen === 64 ? createHash('sha256') : null;
}

/** An object's id: the hash of "<type> <size>\0" and its body; null for an unknown format. */
export function objectIdOf(type: string, body: Buffer, hexLen: number): string | null {
  const h = hasher(hexLen);
  return h ? h.update(`${type} ${body.length}\0`).update(body).digest('hex') : null;
}

export const blobIdOf = (bytes: Buffer, hexLen: number): string | null => objectIdOf('blob', bytes, hexLen);

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
