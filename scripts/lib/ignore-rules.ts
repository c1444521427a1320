// Ignore rules a keep cannot show. A file git ignores is invisible to the
// engine: never captured, never committed. An ignore rule added where no
// in-scope change records it (git's info/exclude, the user's global excludes
// file, a .gitignore above the scope, or one in scope that ignores itself) would let a
// run measure a hidden file while the keep commits the change without it
// ("measured 1, kept what scores 10"), or poison the best on a rebaseline. So
// the segment records these files' hashes when it opens, and a run whose
// rules differ is refused before it measures (and invalid when the code
// under test changed them while it ran). An in-scope .gitignore that git
// shows is refused by the run guard already; one in scope that git ignores
// (hiddenIgnoreFiles) is refused before measuring unless the segment began
// with it or an earlier run's benchmark wrote it (a test tool's cache dir).
import path from 'node:path';
import { commonGitPaths, configPath, gitTry, userConfig } from './gitcmd.ts';
import { sanitizeLine } from './sanitize.ts';
import { MISSING, sha256File } from './integrity.ts';

/** Ignore-rule file (repo-relative when inside the repository, else absolute) → sha256 of its bytes, or "missing". */
export type IgnoreRules = Record<string, string>;

/** The .gitignore files from the root down to each scope base, the bases' own included (repo-relative). */
export function gitignoresAbove(bases: readonly string[]): string[] {
  const out = new Set<string>(['.gitignore']);
  for (const base of bases) {
    const parts = base.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) out.add(`${parts.slice(0, i).join('/')}/.gitignore`);
  }
  return [...out].sort();
}

/**
 * Where git reads its non-tracked ignore rules for this repository: info/exclude and core.excludesFile (or its default);
 * and info/attributes, recorded the same way: an `eol`, `ident` or `working-tree-encoding` rule written there by the code
 * under test changes the bytes every later checkout of the engine's writes (a revert, the best's tree) from what was measured.
 * `own`: the excludes file excludesFileOf gave in this call (a segment opening asks once).
 */
export function excludeFiles(root: string, own: string): string[] {
  return [...(commonGitPaths(root, ['info/exclude', 'info/attributes']) ?? []), ...(own ? [own] : [])];
}

/**
 * The file git reads as core.excludesFile here (or its default under XDG), absolute; '' when none.
 * The user's setting as it is now (userConfig: never the engine's pin).
 */
export function excludesFileOf(root: string, env: NodeJS.ProcessEnv = process.env): string {
  const set = userConfig(root, ['core.excludesFile']).get('core.excludesfile');
  const configured = set ? configPath(root, 'core.excludesFile', set) : null;
  if (configured) return configured;
  const xdg = env.XDG_CONFIG_HOME || (env.HOME ? path.join(env.HOME, '.config') : '');
  return xdg ? path.join(xdg, 'git', 'ignore') : '';
}

/** The hashes of these ignore-rule files now (keys as recorded: repo-relative or absolute). */
export function ignoreRulesOf(root: string, files: readonly string[]): IgnoreRules {
  const out: IgnoreRules = {};
  for (const f of files) {
    const rel = path.isAbsolute(f) ? path.relative(root, f) : f;
    const key = rel.startsWith('..') || path.isAbsolute(rel) ? f : rel;
    out[key] = sha256File(path.resolve(root, key)) ?? MISSING;
  }
  return out;
}

/** The recorded ignore-rule files whose bytes differ now. Pure. */
export function changedIgnoreRules(recorded: IgnoreRules, now: IgnoreRules): string[] {
  return Object.keys(recorded)
    .filter((k) => recorded[k] !== now[k])
    .sort();
}

/** Why the rules changed, in one line with its repair path; null when they did not. */
export function ignoreRulesProblem(root: string, recorded: IgnoreRules | undefined, when: string): string | null {
  if (!recorded) return null;
  const changed = changedIgnoreRules(recorded, ignoreRulesOf(root, Object.keys(recorded)));
  if (!changed.length) return null;
  // A file the segment did not have is taken away by repair, which the loop may run unattended (rm is not approved).
  const made = changed.filter((k) => !path.isAbsolute(k) && recorded[k] === MISSING);
  return ignoreRulesReason(changed, when) + (made.length ? `; control.mjs repair moves ${made.length > 1 ? 'the new ones' : 'a new one'} to rescued/` : '');
}

/**
 * The recorded ignore-rule files in the repository that the segment did not
 * have and that exist now (written by a run's code under test, or by hand):
 * what `control repair` moves to rescued/ so that runs measure again.
 */
export function createdIgnoreFiles(root: string, recorded: IgnoreRules | undefined): string[] {
  return Object.keys(recorded ?? {})
    .filter((k) => !path.isAbsolute(k) && recorded![k] === MISSING && sha256File(path.resolve(root, k)) !== null)
    .sort();
}

const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&');

/**
 * The .gitignore files inside the scope that git itself ignores (one that
 * hides itself, e.g. `*`, hides the files beside it from every keep), with
 * their hashes. One `git ls-files` over the scope's bases: ignored
 * directories are named, never walked (--directory), and the user's
 * untracked directories (a venv) are pruned by pathspec, so the cost stays
 * that of a status of the scope without them.
 */
export async function hiddenIgnoreFiles(root: string, bases: readonly string[], skipDirs: readonly string[]): Promise<IgnoreRules> {
  const specs = bases.map((b) => `:(glob)${b ? `${globEscape(b)}/` : ''}**/.gitignore`);
  const skip = ['.autoloop/', ...skipDirs].map((d) => `:(exclude,literal)${d}`);
  const r = await gitTry(root, ['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory', '--', ...specs, ...skip]);
  if (r.code !== 0) throw new Error(`git ls-files: ${r.stderr.trim().split('\n')[0] ?? r.code}`);
  const files = r.stdout.split('\0').filter((f) => f === '.gitignore' || f.endsWith('/.gitignore'));
  return ignoreRulesOf(root, files);
}

/** Hidden ignore files that are new or changed against what was accepted. Pure. */
export function newHiddenIgnores(accepted: IgnoreRules, now: IgnoreRules): string[] {
  return Object.keys(now)
    .filter((k) => accepted[k] !== now[k])
    .sort();
}

/** The one-line reason for ignore files that changed, with its repair path. */
export function ignoreRulesReason(changed: readonly string[], when: string): string {
  const names = changed.slice(0, 3).join(', ') + (changed.length > 3 ? ` (+${changed.length - 3} more)` : '');
  if (changed.some((f) => f.endsWith('attributes'))) return `git's attributes changed ${when} (${names}): they change the bytes git checks out (line ends, encoding), so the best would no longer be what was measured; undo the change, or run init-experiment to adopt it`;
  return `the ignore rules changed ${when} (${names}): a file they hide would be measured but never kept; undo the change, or run init-experiment to adopt it`;
}

/** Why a run refuses (or is invalid) with a git repository of its own inside the scope: git sees none of its files. */
export function nestedReposReason(dirs: readonly string[]): string {
  const names = dirs.slice(0, 3).map((d) => sanitizeLine(d)).join(', ') + (dirs.length > 3 ? ', …' : '');
  return `${names} ${dirs.length > 1 ? 'are git repositories' : 'is a git repository'} inside the scope: git shows none of its files, so a run would measure what no keep or revert can hold; move it out of the scope or delete it`;
}
