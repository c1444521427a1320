// Git's index and config as a phase of the code under test found them. `.git`
// stays writable to it, and a benchmark that leaves garbage in `.git/index` or
// a config line git cannot parse makes every later git command fail, the
// engine's first one included: a loop stuck for good, `repair` too. Their
// bytes are kept when the phase starts and put back when git could no longer
// read what the phase left; a change git can read is left as it is (a tool
// the benchmark runs may set a config value, as husky sets core.hooksPath).
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gitDirsOf } from './git-dirs.ts';
import { gitTry } from './gitcmd.ts';
import { writeFileAtomic } from './fsx.ts';

export interface GitFiles {
  tree: string;
  files: { file: string; bytes: Buffer | null }[];
}

const readOrNull = (file: string): Buffer | null => {
  try {
    return fs.readFileSync(file);
  } catch {
    return null;
  }
};

/** The index and the config of the repository whose work tree is `tree` (null: not a git work tree). */
export function keepGitFiles(tree: string): GitFiles | null {
  const dirs = gitDirsOf(tree);
  if (!dirs) return null;
  const files = [path.join(dirs.gitDir, 'index'), path.join(dirs.commonDir, 'config')];
  return { tree, files: files.map((file) => ({ file, bytes: readOrNull(file) })) };
}

/**
 * Whether git would read this index: its trailer is the hash of what precedes
 * it (sha1 or sha256, as the repository's), or zeros (index.skipHash).
 */
export function indexReadable(bytes: Buffer): boolean {
  if (bytes.length < 12 + 20 || bytes.toString('latin1', 0, 4) !== 'DIRC') return false;
  for (const [algo, len] of [['sha1', 20], ['sha256', 32]] as const) {
    if (bytes.length < 12 + len) continue;
    const trailer = bytes.subarray(bytes.length - len);
    if (trailer.every((b) => b === 0)) return true;
    if (createHash(algo).update(bytes.subarray(0, bytes.length - len)).digest().equals(trailer)) return true;
  }
  return false;
}

/** Put back what git can no longer read; returns the names put back (relative to the tree). */
export async function restoreDamagedGitFiles(kept: GitFiles): Promise<string[]> {
  const out: string[] = [];
  for (const { file, bytes } of kept.files) {
    const now = readOrNull(file);
    if (bytes === null || now === null || now.equals(bytes)) continue;
    const damaged = file.endsWith('index') ? !indexReadable(now) : (await gitTry(kept.tree, ['config', '--list'])).code !== 0;
    if (!damaged) continue;
    writeFileAtomic(file, bytes);
    out.push(path.relative(kept.tree, file) || file);
  }
  return out;
}
