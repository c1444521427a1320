// Node resolves what a judge imports by trying names in a fixed order, and a
// new file outside the scope is allowed: a benchmark that wrote `bench/lib.js`
// (tried before `bench/lib/index.js`), a `package.json` in `bench/lib/` whose
// `main` names its own file, a `node_modules/<pkg>` closer to the judge than
// the installed one, or a `package.json` beside the judge (its `imports` map
// `#x`, its `name` and `exports` answer a bare import) had every later run judged by it,
// a change measured 60 against 50 kept at 1, the judge unchanged. So each name
// Node would try ahead of what it found is a judge while absent, and what a
// bare import found (the package's package.json and its entry, outside git
// where node_modules is ignored) is a judge. Node 20's `require` tries no
// `.mjs`/`.cjs`, and an ES module's relative import names its file whole (a
// directory import is refused): neither has a name to plant ahead of it.
import fs from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';

/** At most this many import specifiers per judge: a generated bundle with thousands is not scanned whole. */
const MAX_SPECIFIERS = 100;
/** At most this many names per judge (a bare import is tried in a node_modules at every level up to the root). */
const MAX_NAMES = 400;
/** What `require` tries for a path, in its order: the file, with each extension, then as a directory. */
const FORMS = ['', '.js', '.json', '.node', '/package.json', '/index.js', '/index.json', '/index.node'];

/** The module specifiers a JavaScript file names (`require('x')`, `import … from 'x'`, `import('x')`, `export … from 'x'`). Pure. */
export function importSpecifiers(text: string): string[] {
  const out = new Set<string>();
  const patterns = [/\brequire\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g, /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g, /(?:\bfrom|^\s*import)\s*(['"])([^'"\n]+)\1/gm];
  for (const re of patterns) for (const m of text.matchAll(re)) out.add(m[2] as string);
  return [...out].slice(0, MAX_SPECIFIERS);
}

/** Is this judge a Node script (by its name or its first line)? */
function isNode(rel: string, text: string): boolean {
  return /\.[cm]?js$/.test(rel) || /^#!.*\bnode\b/.test(text.slice(0, 200));
}

/** The package a bare specifier names (`@s/p/x` → `@s/p`, `p/x` → `p`), or null for a builtin or a path. */
export function packageName(spec: string): string | null {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('#') || spec.startsWith('node:') || /^[a-z]+:/i.test(spec)) return null;
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
  // `require('fs')` takes the builtin whatever node_modules holds.
  return isBuiltin(name) || isBuiltin(spec) ? null : name;
}

const isFile = (abs: string): boolean => {
  try {
    return fs.statSync(abs).isFile();
  } catch {
    return false;
  }
};
const exists = (abs: string): boolean => fs.existsSync(abs);

interface Found {
  absent: string[];
  present: string[];
  /** What a relative import loads (`./lib.js`): code the judge runs, its own imports to follow. */
  local: string[];
}

/** `require`'s tries for `base`: those absent ahead of the first there, and that one (null: none is there). */
function tries(base: string): { absent: string[]; hit: string | null } {
  const absent: string[] = [];
  for (const f of FORMS) {
    const abs = base + f;
    if (isFile(abs)) return { absent, hit: abs };
    // A directory where a file form would be cannot take a file without removing what is tracked there.
    if (!exists(abs)) absent.push(abs);
  }
  return { absent, hit: null };
}

/** The entry a package's package.json names (`main`, else index.js), when it is a file. */
function packageEntry(pkgJson: string): string | null {
  let main = 'index.js';
  try {
    const m = (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { main?: unknown }).main;
    if (typeof m === 'string' && m) main = m;
  } catch {
    // unreadable: the package.json itself is still a judge
  }
  const dir = path.dirname(pkgJson);
  for (const f of ['', '.js', '/index.js']) if (isFile(path.join(dir, main) + f)) return path.join(dir, main) + f;
  return null;
}

/** The directories from `dir` up to `root`, closest first. */
function upTo(root: string, dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    out.push(d);
    if (d === root || path.dirname(d) === d || !d.startsWith(root + path.sep)) return out;
  }
}

/** A bare import: each node_modules level short of the one holding the package, absent; the package found, present. */
function barePackage(root: string, dir: string, name: string, out: Found): void {
  for (const d of upTo(root, dir)) {
    const { absent, hit } = tries(path.join(d, 'node_modules', name));
    out.absent.push(...absent);
    if (hit === null) continue;
    out.present.push(hit);
    const entry = hit.endsWith('/package.json') ? packageEntry(hit) : null;
    if (entry) out.present.push(entry);
    return;
  }
}

/** The files (absolute) that would change what the Node judge `abs` loads: absent ones, and the packages and package.json it uses. */
function nodeFound(root: string, abs: string, text: string): Found {
  const out: Found = { absent: [], present: [], local: [] };
  const dir = path.dirname(abs);
  const specs = importSpecifiers(text);
  // The nearest package.json maps `#x`, and answers a bare import of its own `name` through its `exports`
  // ahead of node_modules: one written closer takes its place (the nearest itself, when tracked, is the
  // outside-change check's, as a sibling module is). Its `type` only breaks a judge it flips, so a judge
  // with neither kind of import does not make it a judge.
  if (specs.some((s) => s.startsWith('#') || packageName(s) !== null)) {
    for (const d of upTo(root, dir)) {
      const pkg = path.join(d, 'package.json');
      if (isFile(pkg)) break;
      out.absent.push(pkg);
    }
  }
  for (const spec of specs) {
    if (spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..') {
      const t = tries(path.resolve(dir, spec));
      out.absent.push(...t.absent);
      if (t.hit !== null) out.local.push(t.hit);
      continue;
    }
    const name = packageName(spec);
    if (name) barePackage(root, dir, name, out);
  }
  return out;
}

/** For the judge `rel` (repository-relative): the names Node would take ahead of what it loads, absent now, and the package a bare import loads (its package.json and entry); nothing for a judge not in JavaScript. */
export function nodeShadows(root: string, rel: string): { absent: string[]; present: string[]; local: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(path.join(root, rel), 'utf8');
  } catch {
    return { absent: [], present: [], local: [] };
  }
  if (!isNode(rel, text)) return { absent: [], present: [], local: [] };
  const found = nodeFound(root, path.join(root, rel), text);
  const inside = (xs: string[]) => [...new Set(xs.map((a) => path.relative(root, a)).filter((r) => r !== '' && !r.startsWith('..') && !path.isAbsolute(r)))];
  return { absent: inside(found.absent).slice(0, MAX_NAMES), present: inside(found.present), local: inside(found.local) };
}
