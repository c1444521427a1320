// Build directories: an untracked or ignored folder where a build system keeps
// its state (a cmake or meson build tree, ninja's files, autotools' config.status)
// or its object files. The best's tree (best-tree.ts) must not share one with the
// user's tree: cmake refuses a cache made for another source folder, and make,
// which trusts mtimes, found the best's freshly built objects newer than the
// candidate's sources and ran the best's binary as the candidate (a real 2x gain
// discarded as noise). Such a folder is made empty in the best's tree instead,
// so the benchmark builds the best there on its own.
import fs from 'node:fs';

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
