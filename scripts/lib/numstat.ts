// Net lines removed by a change, as `git diff --numstat HEAD` sums them, from
// the two contents: for a text file numstat's removed − added is the old line
// count minus the new one, whatever lines the diff pairs up (common lines
// count on both sides), so no diff is needed; a binary side ("-" in numstat)
// counts 0. A line is what ends with "\n", plus a last one without it; CRLF
// normalisation leaves the count as it is. Git's attributes can mark a text
// file binary or convert it first: wherever an attributes file could apply,
// the caller asks git instead.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAX_IN_PROCESS } from './loose-object.ts';

/** git's test (xdiff's buffer_is_binary): a NUL byte in the first 8000 bytes. */
const binary = (b: Buffer): boolean => b.subarray(0, 8000).includes(0);

function lines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return b.length > 0 && b[b.length - 1] !== 10 ? n + 1 : n;
}

/** removed − added of one path, HEAD's bytes against the work tree's (null: deleted). */
export function numstatNet(before: Buffer, now: Buffer | null): number {
  const after = now ?? Buffer.alloc(0);
  if (binary(before) || binary(after)) return 0;
  return lines(before) - lines(after);
}

/** The work tree's bytes as git diffs them: a file's, a symlink's target; null when deleted; undefined: ask git. */
export function workBytes(abs: string): Buffer | null | undefined {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch {
    return null;
  }
  try {
    if (st.isSymbolicLink()) return fs.readlinkSync(abs, { encoding: 'buffer' });
    if (!st.isFile() || st.size > MAX_IN_PROCESS) return undefined;
    return fs.readFileSync(abs);
  } catch {
    return undefined;
  }
}

/**
 * Whether an attributes file could apply to these paths: `.gitattributes` at
 * the top or in a directory on the way to one, the repository's
 * info/attributes, the user's and the system's. (core.attributesFile is asked
 * with the config: gitcmd.ts diffSettingsConfigured.)
 */
export function attributesMayApply(root: string, objects: string, paths: readonly string[]): boolean {
  const xdg = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  const files = new Set([path.join(objects, '..', 'info', 'attributes'), path.join(xdg, 'git', 'attributes'), '/etc/gitattributes', path.join(root, '.gitattributes')]);
  for (const p of paths) {
    const parts = p.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) files.add(path.join(root, ...parts.slice(0, i), '.gitattributes'));
  }
  for (const f of files) if (fs.existsSync(f)) return true;
  return false;
}
