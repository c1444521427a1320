// Build directories: an untracked or ignored folder where a build system keeps
// its state (a cmake or meson build tree, ninja's files, autotools' config.status)
// or its object files. The best's tree (best-tree.ts) must not share one with the
// user's tree: cmake refuses a cache made for another source folder, and make,
// which trusts mtimes, found the best's freshly built objects newer than the
// candidate's sources and ran the best's binary as the candidate (a real 2x gain
// discarded as noise). Such a folder is made empty in the best's tree instead,
// so the benchmark builds the best there on its own.
import fs from 'node:fs';
import path from 'node:path';

const STATE = new Set(['CMakeCache.txt', 'build.ninja', '.ninja_log', 'meson-private', 'config.status']);
const OBJECT = /\.(o|obj)$/;

/** Whether the folder at abs holds, at its top, a build system's state or an object file. */
export function isBuildDir(abs: string): boolean {
  let names: string[];
  try {
    names = fs.readdirSync(abs);
  } catch {
    return false;
  }
  return names.some((n) => STATE.has(n) || OBJECT.test(n));
}

/**
 * Whether the untracked path `rel` (a folder when it ends in '/') is or lies in a build directory of
 * `root`: a build folder holding a tracked file (a `.gitkeep`) is listed by git entry by entry, and
 * linking its cache alone had the best's build read the user's. `memo` caches each folder's answer.
 */
export function inBuildDir(root: string, rel: string, memo: Map<string, boolean>): boolean {
  const parts = rel.replace(/\/$/, '').split('/');
  const upTo = rel.endsWith('/') ? parts.length : parts.length - 1;
  for (let i = 1; i <= upTo; i++) {
    const folder = parts.slice(0, i).join('/');
    let yes = memo.get(folder);
    if (yes === undefined) memo.set(folder, (yes = isBuildDir(path.join(root, folder))));
    if (yes) return true;
  }
  return false;
}
