// Build directories: an untracked or ignored folder where a build system keeps
// its state (a cmake or meson build tree, ninja's files, autotools' config.status)
// or its object files. The best's tree (best-tree.ts) must not share one with the
// user's tree: cmake refuses a cache made for another source folder, and make,
// which trusts mtimes, found the best's freshly built objects newer than the
// candidate's sources and ran the best's binary as the candidate (a real 2x gain
// discarded as noise). A folder holding a build system's state is made empty in
// the best's tree, so the benchmark builds the best there on its own. A folder
// holding object files only is copied there instead (copyObjectsDir): a build
// that links prebuilt objects it has no rule for (vendor objects compiled once)
// crashed at every re-measure of the best when they were gone.
import fs from 'node:fs';
import path from 'node:path';

const STATE = new Set(['CMakeCache.txt', 'build.ninja', '.ninja_log', 'meson-private', 'config.status']);
const OBJECT = /\.(o|obj)$/;

/**
 * The largest folder of objects copied into a tree the engine builds: a copy per
 * new best and per candidate, so a multi-gigabyte build tree would fill the disk
 * and slow every keep. Object folders of real projects' vendor code are tens of
 * megabytes; above the bound the folder is left empty (as a state folder) with a note.
 */
export const OBJECTS_COPY_MAX_BYTES = 256 * 1024 * 1024;

/** What the folder at abs holds at its top: a build system's state, object files only, or neither (null). */
export function buildDirKind(abs: string): 'state' | 'objects' | null {
  let names: string[];
  try {
    names = fs.readdirSync(abs);
  } catch {
    return null;
  }
  if (names.some((n) => STATE.has(n))) return 'state';
  return names.some((n) => OBJECT.test(n)) ? 'objects' : null;
}

/** Whether the folder at abs holds, at its top, a build system's state or an object file. */
export function isBuildDir(abs: string): boolean {
  return buildDirKind(abs) !== null;
}

/**
 * The build directory of `root` that the untracked path `rel` (a folder when it ends in '/') is or
 * lies in, as its path relative to root, or null: a build folder holding a tracked file (a
 * `.gitkeep`) is listed by git entry by entry, and linking its cache alone had the best's build read
 * the user's. `memo` caches each folder's answer.
 */
export function buildDirOf(root: string, rel: string, memo: Map<string, boolean>): string | null {
  const parts = rel.replace(/\/$/, '').split('/');
  const upTo = rel.endsWith('/') ? parts.length : parts.length - 1;
  for (let i = 1; i <= upTo; i++) {
    const folder = parts.slice(0, i).join('/');
    let yes = memo.get(folder);
    if (yes === undefined) memo.set(folder, (yes = isBuildDir(path.join(root, folder))));
    if (yes) return folder;
  }
  return null;
}

/** Whether the untracked path `rel` is or lies in a build directory of `root` (buildDirOf). */
export function inBuildDir(root: string, rel: string, memo: Map<string, boolean>): boolean {
  return buildDirOf(root, rel, memo) !== null;
}

/**
 * Whether the folder at abs may be copied: no build system's state anywhere in it (a cache deeper
 * down is refused as at the top) and at most OBJECTS_COPY_MAX_BYTES of files (apparent sizes, the
 * walk stopping past the bound). 'state' or 'size' says why not.
 */
export function objectsCopyable(abs: string): true | 'state' | 'size' {
  let bytes = 0;
  const walk = (dir: string): true | 'state' | 'size' => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      if (STATE.has(d.name)) return 'state';
      const p = path.join(dir, d.name);
      if (d.isDirectory()) {
        const r = walk(p);
        if (r !== true) return r;
      } else if (d.isFile() && (bytes += fs.lstatSync(p).size) > OBJECTS_COPY_MAX_BYTES) return 'size';
    }
    return true;
  };
  try {
    return walk(abs);
  } catch {
    return 'state'; // unreadable: left empty, as before
  }
}

/**
 * Copy the object folder `src` to `dst`, mtimes kept but none later than `before` (ms) minus 2 s.
 * Why make(1) cannot then take these objects as up to date for sources they were not built from:
 * the tree's tracked sources were all written (checked out, or exported from the snapshot) after
 * `before`, so every copied object, dated at most `before - 2s`, is strictly older than each of
 * them and make rebuilds every object it has a rule for from the tree's own sources (the best's
 * code in the best's tree, the candidate's in the candidate's), even when the user's object was
 * built from other code, even on a filesystem of whole seconds, even when its mtime lay in the
 * future (clock skew, an archive's). Kept mtimes keep the order among things git does not hold: a
 * prebuilt vendor object stays newer than the vendor source it was built from (linked from the
 * user's tree), so make leaves it as it is and links it, which is why it is copied at all.
 */
export function copyObjectsDir(src: string, dst: string, before: number): void {
  fs.cpSync(src, dst, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  const latest = (before - 2000) / 1000;
  const clamp = (p: string): void => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) clamp(path.join(p, n));
    if (st.mtimeMs / 1000 > latest) fs.utimesSync(p, Math.min(st.atimeMs / 1000, latest), latest);
  };
  clamp(dst);
}

/** The one line the engine prints when an object folder over the bound is left empty in a tree it builds. */
export function objectsTooLargeNote(rel: string, what: string): string {
  return `note: build folder ${rel}/ is over ${OBJECTS_COPY_MAX_BYTES / 1048576} MB of files: left empty in ${what}, whose build makes its own\n`;
}
