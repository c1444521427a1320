// Python puts a script's own directory first on sys.path, so a module file
// that appears beside a Python judge takes the place of what the judge imports,
// the standard library's included: a benchmark wrote `json.py` beside
// `score.py` (a new file outside the scope is allowed) and every later run was
// scored by it, a change measured 60 against 50 kept at 1, the judge unchanged.
// The names such a file could take, for each module the judge imports that is
// not there, are judges while absent. A compiled extension with the
// interpreter's platform tag (`json.cpython-312-x86_64-linux-gnu.so`) is not
// named here: the tag is known only by asking the interpreter.
import fs from 'node:fs';
import path from 'node:path';

/** What an importable name may be in a directory on sys.path (a module, a package, sourceless or compiled). */
const FORMS = ['.py', '.pyc', '.so', '.abi3.so', '/__init__.py', '/__init__.pyc'];
/**
 * Modules compiled into every CPython, found by its built-in importer before
 * any directory on sys.path is looked at (the interpreter cannot start without
 * them): a file beside the judge cannot take their place, so naming their
 * forms would only fill the protect list (`import sys` is in almost every judge).
 */
const BUILT_IN = new Set(['sys', 'builtins', 'marshal', 'posix', '_imp', '_io', '_thread', '_warnings', '_weakref']);
/** At most this many modules per judge: a generated file with thousands of imports is not scanned whole. */
const MAX_MODULES = 200;

/** The top-level modules a Python file imports absolutely (`import a.b, c`, `from d.e import f`). Pure. */
export function importedModules(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/^[ \t]*import[ \t]+([^\n#;]+)/gm)) {
    for (const part of (m[1] as string).split(',')) {
      const name = /^\s*([A-Za-z_]\w*)/.exec(part)?.[1];
      if (name) out.add(name);
    }
  }
  for (const m of text.matchAll(/^[ \t]*from[ \t]+([A-Za-z_]\w*)[\w.]*[ \t]+import\b/gm)) out.add(m[1] as string);
  return [...out].slice(0, MAX_MODULES);
}

/** Is this judge a Python script (by its name or its first line)? */
function isPython(rel: string, text: string): boolean {
  return rel.endsWith('.py') || /^#!.*\bpython[\d.]*\b/.test(text.slice(0, 200));
}

/** The judge `rel`'s text and folder when it is a Python script that can be read; null otherwise. */
function pythonJudge(root: string, rel: string): { text: string; dir: string } | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(root, rel), 'utf8');
  } catch {
    return null;
  }
  return isPython(rel, text) ? { text, dir: path.posix.dirname(rel) } : null;
}

/** The files (repository-relative) that would shadow a module the judge `rel` imports, absent now; [] for a judge that is not Python. */
export function pythonShadows(root: string, rel: string): string[] {
  const judge = pythonJudge(root, rel);
  if (!judge) return [];
  const { text, dir } = judge;
  const out: string[] = [];
  for (const name of importedModules(text)) {
    if (BUILT_IN.has(name)) continue;
    const forms = FORMS.map((f) => (dir === '.' ? `${name}${f}` : `${dir}/${name}${f}`));
    // A module that is there (a sibling the judge relies on) is the outside-change check's.
    if (forms.some((f) => fs.existsSync(path.join(root, f)))) continue;
    out.push(...forms);
  }
  return out;
}

/**
 * The modules a Python judge `rel` imports from its own directory, present
 * now (repository-relative): `helpers.py`, a package's `__init__.py`, and for
 * `from pkg import mod` the file `pkg/mod.py`. What the judge runs as surely as
 * its own lines; the outside-change check only set an edit aside, and a
 * candidate measured with `helpers.py` scoring a tenth was kept at +90%.
 */
export function pythonSiblings(root: string, rel: string): string[] {
  const judge = pythonJudge(root, rel);
  if (!judge) return [];
  const { text, dir } = judge;
  const at = (name: string) => (dir === '.' ? name : `${dir}/${name}`);
  const names = importedModules(text).filter((n) => !BUILT_IN.has(n));
  const subs = [...text.matchAll(/^[ \t]*from[ \t]+([A-Za-z_]\w*)[ \t]+import[ \t]+([^\n#;()]+)/gm)].flatMap((m) =>
    (m[2] as string).split(',').map((p) => /^\s*([A-Za-z_]\w*)/.exec(p)?.[1]).filter((x): x is string => !!x).map((x) => `${m[1]}/${x}`),
  );
  const forms = [...names.flatMap((n) => [`${n}.py`, `${n}/__init__.py`]), ...subs.map((s) => `${s}.py`)].map(at);
  return forms.filter((f) => isFileAt(path.join(root, f))).slice(0, MAX_MODULES);
}

function isFileAt(abs: string): boolean {
  try {
    return fs.statSync(abs).isFile();
  } catch {
    return false;
  }
}
