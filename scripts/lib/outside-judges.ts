// A judge that is a symbolic link out of the repository (bench.py ->
// ../shared/bench.py, a benchmark kept beside several projects). Its
// fingerprint followed the link, yet what it loads from beside its target
// (Python's sys.path[0] and Node's __dirname are the target's folder) was no
// judge at all: an edit of ../shared/helper.py made a 10x "gain" that was kept.
// And the engine never writes outside the repository: putting the judge's saved
// bytes back replaced the user's link with a file. So the fingerprint of such a
// judge covers its target and the files beside the target (bounded), a change
// there makes the run invalid until the user puts it back, and the hooks deny
// an Edit or Write of those files by their own paths. Leaf module: the hooks
// import it too.
import fs from 'node:fs';
import path from 'node:path';
import { reachedCode } from './judge-reach.ts';

/**
 * At most this many files beside an outside target are covered (the first by name): a link into a
 * folder of thousands (a home directory) must not cost a hash of each after every sample. A
 * benchmark's own folder holds a few modules; past the bound the rest are left unguarded.
 */
export const OUTSIDE_SIBLINGS_MAX = 100;

function real(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

/** Where the judge at `abs` leads when it is a link (or lies under one) resolving outside `root`: its real path; else null. */
export function outsideTarget(root: string, abs: string): string | null {
  const target = real(abs);
  if (target === null || target === path.resolve(abs)) return null; // no link on the way: the root's realpath spared
  const top = real(root);
  if (top === null) return null;
  const rel = path.relative(top, target);
  return rel.startsWith('..') || path.isAbsolute(rel) ? target : null;
}

/** The regular files beside `target` in its folder (real paths, sorted, at most OUTSIDE_SIBLINGS_MAX), the target left out. */
export function outsideSiblings(target: string): string[] {
  const dir = path.dirname(target);
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    if (out.length >= OUTSIDE_SIBLINGS_MAX) break;
    const p = path.join(dir, n);
    if (p === target) continue;
    try {
      if (fs.lstatSync(p).isFile()) out.push(p);
    } catch {
      // gone since the listing
    }
  }
  return out;
}

/** Is `abs` (a real path) an outside judge's target or a file beside it, for one of `targets`? */
export function besideOutsideTarget(abs: string, targets: readonly string[]): string | null {
  return targets.find((t) => abs === t || (path.dirname(abs) === path.dirname(t) && outsideSiblings(t).includes(abs))) ?? null;
}

/** Folders below a linked folder that a --protect glob is followed into (bench/lib -> ../../shared, then shared/a/b). */
export const OUTSIDE_FOLDER_DEPTH = 4;

/** Is the repository path `rel` a link to a folder outside the repository? */
export function linksOutsideFolder(root: string, rel: string): boolean {
  const abs = path.join(root, rel);
  try {
    return fs.lstatSync(abs).isSymbolicLink() && fs.statSync(abs).isDirectory() && outsideTarget(root, abs) !== null;
  } catch {
    return false;
  }
}

/**
 * The files a --protect glob takes through links to folders outside the repository (`bench/**` with
 * bench/lib -> ../../shared): their repository names (bench/lib/x.py), which `accept` is asked about.
 * The repository walk never follows a link, so these were no judge at all. Bounded: at most
 * OUTSIDE_SIBLINGS_MAX in all, OUTSIDE_FOLDER_DEPTH folders deep, and no link there is followed.
 */
export function outsideFolderFiles(root: string, links: readonly string[], accept: (rel: string) => boolean): string[] {
  const out: string[] = [];
  const queue = links.map((rel) => ({ rel, depth: 0 }));
  while (queue.length > 0 && out.length < OUTSIDE_SIBLINGS_MAX) {
    const { rel, depth } = queue.shift()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const sub = `${rel}/${e.name}`;
      if (e.isDirectory() && depth + 1 < OUTSIDE_FOLDER_DEPTH) queue.push({ rel: sub, depth: depth + 1 });
      else if (e.isFile() && accept(sub) && out.length < OUTSIDE_SIBLINGS_MAX) out.push(sub);
    }
  }
  return out;
}

/**
 * The files in folders below an outside target's that it imports (`from lib import util`,
 * `require('./lib/util.js')`), and theirs in turn: judge-reach.ts's rules for a judge in the
 * repository, applied in the target's folder (real paths, at most OUTSIDE_SIBLINGS_MAX). The files
 * beside the target are outsideSiblings's.
 */
export function outsideReached(target: string): string[] {
  const dir = path.dirname(target);
  const reached = reachedCode(dir, [path.basename(target)], () => true);
  return reached.filter((rel) => rel.includes('/')).slice(0, OUTSIDE_SIBLINGS_MAX).map((rel) => path.join(dir, rel));
}
