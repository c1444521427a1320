// Which files the agent may change (scope) and which judge the metric
// (protected). Paths are repo-relative POSIX paths. Patterns are picomatch
// globs with `dot: true`; a pattern without glob characters also matches
// everything below it when it names a directory (`src` == `src` + `src/**`),
// and a leading `!` excludes. autoloop's own state and git's internals are
// never in scope, and neither is a protected file, whatever the scope says.
import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { STATE_DIR } from './paths.ts';

export interface Scope {
  inScope(rel: string): boolean;
  isProtected(rel: string): boolean;
  /** Directories (repo-relative, '' = root) below which every in-scope file lives; lets walks skip the rest. */
  bases: string[];
}

/** Canonical form of a repo-relative path, or null when it is not one (absolute, `..`, empty). */
export function normalizeRel(rel: string): string | null {
  let p = rel.replace(/\/+/g, '/');
  while (p.startsWith('./')) p = p.slice(2);
  if (p.endsWith('/')) p = p.slice(0, -1);
  if (p === '' || p === '.' || p.startsWith('/')) return null;
  if (p.split('/').some((s) => s === '..' || s === '.')) return null;
  return p;
}

/** Does a glob (a leading `!` aside) name a path outside the repository: absolute, or climbing with `..`? */
export function globLeavesRepo(glob: string): boolean {
  const p = glob.startsWith('!') ? glob.slice(1) : glob;
  return p.startsWith('/') || p.split('/').includes('..');
}

/** Never in scope: autoloop's state at the root, and any .git directory or file. */
export function isInternal(rel: string): boolean {
  return rel === STATE_DIR || rel.startsWith(STATE_DIR + '/') || rel.split('/').includes('.git');
}

interface Compiled {
  match: (rel: string) => boolean;
  bases: string[];
}

/** Compiled once per process and pattern list: a call compiles the same scope for the workspace and the judges (picomatch builds a regex each time). */
const compiled = new Map<string, Compiled>();

function compile(patterns: readonly string[], emptyMeansAll: boolean): Compiled {
  const key = JSON.stringify([emptyMeansAll, patterns]);
  let c = compiled.get(key);
  if (!c) compiled.set(key, (c = compileNew(patterns, emptyMeansAll)));
  return { match: c.match, bases: [...c.bases] };
}

function compileNew(patterns: readonly string[], emptyMeansAll: boolean): Compiled {
  const positive: string[] = [];
  const negative: string[] = [];
  for (const raw of patterns) {
    const neg = raw.startsWith('!');
    let p = neg ? raw.slice(1) : raw;
    while (p.startsWith('./')) p = p.slice(2);
    if (p === '') continue;
    const list = neg ? negative : positive;
    if (p.endsWith('/')) {
      list.push(p + '**');
    } else if (!picomatch.scan(p).isGlob) {
      list.push(p, p + '/**');
    } else {
      list.push(p);
    }
  }
  const literal = new Set(patterns.filter((p) => !p.startsWith('!')).map((p) => normalizeRel(p)).filter((p): p is string => p !== null));
  const opts = { dot: true };
  const pos = positive.length ? picomatch(positive, opts) : null;
  const negm = negative.length ? picomatch(negative, opts) : null;
  const all = pos === null && emptyMeansAll;
  const match = (raw: string): boolean => {
    // Glob regexes use `.`, which stops at a line break: a file name holding one is matched as if it held another character.
    const rel = raw.replace(/[\n\r\u2028\u2029]/g, '\u0001');
    if (negm && negm(rel)) return false;
    if (all) return true;
    // Exact names first: a file called `a[1].ts` must match itself even though it reads as a glob.
    return literal.has(raw) || (pos !== null && pos(rel));
  };
  const bases = all ? [''] : baseDirs(positive);
  return { match, bases };
}

/** The static directory prefix of each glob, deduplicated so that no base lies inside another. */
function baseDirs(globs: readonly string[]): string[] {
  const raw = globs.map((g) => {
    const s = picomatch.scan(g);
    // A literal pattern is its own base: listFiles takes it as a file or walks it as a directory.
    const base = s.isGlob ? s.base : g;
    return base.replace(/\/+$/, '');
  });
  const sorted = [...new Set(raw)].sort((a, b) => a.length - b.length);
  const out: string[] = [];
  for (const b of sorted) {
    if (out.some((o) => o === '' || b === o || b.startsWith(o + '/'))) continue;
    out.push(b);
  }
  return out;
}

export function compileScope(scope: string[], protect: string[]): Scope {
  const s = compile(scope, true);
  const p = compile(protect, false);
  const isProtected = (rel: string): boolean => {
    const n = normalizeRel(rel);
    return n !== null && p.match(n);
  };
  const inScope = (rel: string): boolean => {
    const n = normalizeRel(rel);
    if (n === null || isInternal(n)) return false;
    if (p.match(n)) return false;
    return s.match(n);
  };
  return { inScope, isProtected, bases: s.bases };
}

/**
 * Regular files and symlinks (never followed) below `bases` for which `accept`
 * says yes. Skips .git directories and autoloop's state. Sorted.
 */
export function listFiles(root: string, bases: readonly string[], accept: (rel: string) => boolean): string[] {
  const out = new Set<string>();
  const seen = new Set<string>();
  const stack: string[] = [];
  for (const b of bases) {
    const n = b === '' ? '' : normalizeRel(b);
    if (n === null) continue;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(n === '' ? root : path.join(root, n));
    } catch {
      continue;
    }
    if (st.isDirectory()) stack.push(n);
    else if ((st.isFile() || st.isSymbolicLink()) && !isInternal(n) && accept(n)) out.add(n);
  }
  while (stack.length) {
    const dir = stack.pop() as string;
    if (seen.has(dir)) continue;
    seen.add(dir);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir === '' ? root : path.join(root, dir), { withFileTypes: true });
    } catch {
      continue; // unreadable or vanished: nothing we could copy or judge there
    }
    for (const e of entries) {
      const rel = dir === '' ? e.name : `${dir}/${e.name}`;
      if (isInternal(rel)) continue;
      if (e.isDirectory()) stack.push(rel);
      else if ((e.isFile() || e.isSymbolicLink()) && accept(rel)) out.add(rel);
    }
  }
  return [...out].sort();
}

/**
 * Does any file below `bases` pass `accept`? Stops at the first, and answers
 * yes once `budget` entries were read without one (a big tree is not walked
 * whole for a warning).
 */
export function anyFile(root: string, bases: readonly string[], accept: (rel: string) => boolean, budget = 20_000): boolean {
  let left = budget;
  const stack: string[] = [];
  for (const b of bases) {
    const n = b === '' ? '' : normalizeRel(b);
    if (n === null) continue;
    try {
      const st = fs.lstatSync(n === '' ? root : path.join(root, n));
      if (st.isDirectory()) stack.push(n);
      else if (!isInternal(n) && accept(n)) return true;
    } catch {
      // no such base: nothing there
    }
  }
  while (stack.length) {
    const dir = stack.pop() as string;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir === '' ? root : path.join(root, dir), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (--left < 0) return true;
      const rel = dir === '' ? e.name : `${dir}/${e.name}`;
      if (isInternal(rel)) continue;
      if (e.isDirectory()) stack.push(rel);
      else if (accept(rel)) return true;
    }
  }
  return false;
}
