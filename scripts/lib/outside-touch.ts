// A tracked file outside the scope that the code under test rewrote while it
// was judged, then put back (a scorer the benchmark runs, made to print a
// forged METRIC line and to restore its own bytes): git status compares bytes,
// so it sees nothing. Its ctime, which no process can set back, does. Each
// phase of a run takes a mark (the ctime of a file made on the repository's
// filesystem, by the same clock as the files' own); a tracked file outside the
// scope whose ctime is not before the mark was written during the phase.
import fs from 'node:fs';
import path from 'node:path';

/** The filesystem's time now, as a ctime (a file made in `dir`, on the repository's filesystem, and removed). */
export function phaseMark(dir: string): bigint {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `.mark-${process.pid}`);
  const fd = fs.openSync(file, 'w');
  try {
    return fs.fstatSync(fd, { bigint: true }).ctimeNs;
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

/** Those of `rels` (relative to root) whose inode changed at or after `mark` (written, renamed over, chmod-ed). */
export function touchedSince(root: string, rels: Iterable<string>, mark: bigint): string[] {
  // Milliseconds (a double holds them to well under a microsecond): a bigint stat per file is twice the garbage.
  const ms = Number(mark) / 1e6 - 0.001;
  const out: string[] = [];
  for (const rel of rels) {
    const st = fs.lstatSync(path.join(root, rel), { throwIfNoEntry: false });
    if (st && st.ctimeMs >= ms) out.push(rel);
  }
  return out;
}

/**
 * Paths under `dir` (relative, at most `max`) whose inode changed at or after
 * `mark`: written, created, renamed, or a directory whose entries changed.
 * Symlinks are not followed (the best's tree links the user's untracked folders).
 */
export function touchedUnder(dir: string, mark: bigint, max = 3): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(dir, rel));
    } catch {
      return;
    }
    for (const name of names) {
      if (out.length >= max) return;
      const r = rel ? `${rel}/${name}` : name;
      let st: fs.BigIntStats;
      try {
        st = fs.lstatSync(path.join(dir, r), { bigint: true });
      } catch {
        continue;
      }
      if (st.ctimeNs >= mark) out.push(r);
      else if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}
