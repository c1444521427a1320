// Scope globs are read from the repository top, wherever a command runs:
// init-experiment and chain check that each names something there, and that
// the commands name files there (they run there too).
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './errors.ts';
import { anyFile, compileScope, globLeavesRepo, isInternal } from './scope.ts';
import type { Config } from './schema.ts';
import { CATCH_ALL, candidatePaths, cdTargets, shellTokens } from './integrity.ts';
import { delegation, makeFindsGoals, runnerCalls, type RunnerCall } from './task-runners.ts';
import { commonGitPaths, configPath, gitSyncOrNull, userConfig } from './gitcmd.ts';
import type { TrackedFiles } from './tracked-files.ts';
import { isFileGlob } from './sources/common.ts';

/** Does a scope glob name any file of the tree at `root`? */
function globMatches(root: string, glob: string): boolean {
  const s = compileScope([glob], []);
  return anyFile(root, s.bases, s.inScope);
}

/**
 * Scope globs are relative to the repository top, wherever init runs: a glob
 * that matches nothing there but does below the directory it ran in was meant
 * from that directory, and is refused with the glob that says so; any other
 * glob that matches nothing yet is a warning (it may name files to come). In
 * git mode, files git does not track are the user's: the loop never commits
 * them nor sees its changes to them, so a scope of such files alone is refused.
 */
export function scopeWarnings(root: string, cwd: string, scope: readonly string[], tracked: TrackedFiles | null = null): string[] {
  const sub = path.relative(root, cwd).split(path.sep).join('/');
  const inside = sub !== '' && !sub.startsWith('..') && !path.isAbsolute(sub);
  const out: string[] = [];
  let named = 0;
  const untracked: string[] = [];
  const submodules = tracked ? submodulePaths(root, tracked) : [];
  const inSubmodule: string[] = [];
  for (const glob of scope) {
    if (glob.startsWith('!')) continue;
    if (submodules.length && onlyInSubmodules(root, glob, submodules)) {
      inSubmodule.push(glob);
    } else if (!globMatches(root, glob)) {
      const meant = `${sub}/${glob.replace(/^(\.\/)+/, '')}`;
      if (inside && globMatches(root, meant)) {
        throw new UsageError(`--scope "${glob}" matches no file: scope globs are relative to the repository top (${root}), not to ${sub}; did you mean --scope "${meant}"?`);
      }
      out.push(`--scope "${glob}" matches no file yet (scope globs are relative to the repository top, ${root})`);
    } else if (tracked && !tracksAny(tracked, glob)) {
      untracked.push(glob);
    } else {
      named++;
    }
  }
  if (inSubmodule.length) {
    const what = `--scope ${inSubmodule.map((g) => `"${g}"`).join(' ')} names only files of a submodule (${submodules.join(', ')}): they belong to its own repository, so the loop can keep no change to them`;
    if (!named && !untracked.length) throw new UsageError(`${what}; run the experiment inside the submodule (its own git repository), or scope files of this one`);
    out.push(`${what} (run an experiment inside the submodule to work on them)`);
  }
  if (!untracked.length) return out;
  const what = `--scope ${untracked.map((g) => `"${g}"`).join(' ')} matches only files git does not track: they are yours, so the loop never commits them nor sees its changes to them`;
  if (!named) throw new UsageError(`${what}; commit them first (git add, git commit), then init-experiment`);
  return [...out, `${what} (commit them to let the loop work on them)`];
}

/** The submodules .gitmodules declares that the index holds (as one path each). */
function submodulePaths(root: string, tracked: TrackedFiles): string[] {
  let text: string;
  try {
    text = fs.readFileSync(path.join(root, '.gitmodules'), 'utf8');
  } catch {
    return []; // the usual case: no submodule
  }
  const paths = [...text.matchAll(/^\s*path\s*=\s*(.+?)\s*$/gm)].map((m) => (m[1] as string).replace(/^"(.*)"$/, '$1').replace(/\/+$/, ''));
  return paths.filter((p) => tracked.has(p) === true);
}

/** Does a glob match files, all of them inside the submodules? */
function onlyInSubmodules(root: string, glob: string, submodules: readonly string[]): boolean {
  const s = compileScope([glob], []);
  const inside = (rel: string) => submodules.some((m) => rel.startsWith(`${m}/`));
  return anyFile(root, s.bases, (rel) => s.inScope(rel) && inside(rel)) && !anyFile(root, s.bases, (rel) => s.inScope(rel) && !inside(rel));
}

// Names that say a file grades the work (evaluate.py, scorer.js, evals/…). Tests and benchmarks
// are left out: a coverage loop's scope is its tests.
const GRADER_NAME = /(^|[/_.-])(evals?|evaluate|evaluator|evaluation|score|scorer|scoring|grade|grader|grading|judge)([/_.-]|$)/i;

/**
 * Tracked files a narrow scope (not the whole repository) takes in whose name
 * says they grade the work: an evaluation the benchmark imports is mutable
 * without the commands naming it.
 */
export function gradersInScope(config: Pick<Config, 'scope' | 'protect'>, tracked: TrackedFiles): string[] {
  const narrow = config.scope.filter((p) => !CATCH_ALL.has(p));
  if (!narrow.some((p) => !p.startsWith('!'))) return [];
  const s = compileScope(narrow, config.protect);
  return (tracked.list() ?? []).filter((f) => s.inScope(f) && GRADER_NAME.test(f));
}

/** Does git track any file a scope glob names? (Every in-scope file lies below the glob's bases.) */
function tracksAny(tracked: TrackedFiles, glob: string): boolean {
  const s = compileScope([glob], []);
  const listed = tracked.list();
  if (listed === null) return true; // cannot tell: no warning
  return listed.some((f) => s.inScope(f));
}

/**
 * The commands run at the repository top too: one run from a package
 * directory that names a file only found there (`sh bench.sh` in
 * packages/foo) would fail at its first run, and its benchmark would judge
 * nothing. Refused with the command meant.
 */
export function checkCommandsFrom(root: string, cwd: string, commands: readonly (string | null | undefined)[]): void {
  const sub = path.relative(root, cwd).split(path.sep).join('/');
  if (sub === '' || sub.startsWith('..') || path.isAbsolute(sub)) return;
  for (const cmd of commands) {
    if (!cmd || cdTargets(cmd).length) continue;
    for (const word of candidatePaths(cmd)) {
      if (word === '' || word.startsWith('-') || path.isAbsolute(word)) continue;
      if (fs.existsSync(path.resolve(root, word)) || !isFile(path.resolve(cwd, word))) continue;
      throw new UsageError(`"${cmd}" names ${word}, which is in ${sub}, not at the repository top (${root}) where commands run; did you mean "cd ${shellWord(sub)} && ${cmd}"?`);
    }
    // `npm run bench` in a package of a monorepo: the top's package.json has no such script (npm -s then exits 1 silently).
    for (const call of runnerCalls(shellTokens(cmd))) {
      if (defines(root, call) || !defines(cwd, call)) continue;
      const meant = `did you mean "cd ${shellWord(sub)} && ${cmd}"?`;
      if (call.tool === 'make') throw new UsageError(`"${cmd}" runs ${makeWhat(root, cwd, call)}, which make finds from ${sub}, not from the repository top (${root}) where commands run; ${meant}`);
      throw new UsageError(`"${cmd}" runs the script${call.targets.length > 1 ? 's' : ''} ${call.targets.join(', ')} that ${sub} defines, not the repository top (${root}) where commands run; ${meant}`);
    }
  }
}

/** The Makefile a make call made in `cwd` reads (repository-relative), and the goals it names from it. */
function makeWhat(root: string, cwd: string, call: RunnerCall): string {
  const file = delegation(cwd, call)?.manifests[0];
  const rel = file ? path.relative(root, file).split(path.sep).join('/') : 'a Makefile';
  return call.targets.length ? `the target${call.targets.length > 1 ? 's' : ''} ${call.targets.join(', ')} of ${rel}` : rel;
}

/** Does the runner find what the call asks for, run in `dir` (its Makefile; each script it names)? */
function defines(dir: string, call: RunnerCall): boolean {
  if (call.tool === 'make') return makeFindsGoals(dir, call);
  if (!call.targets.length) return true;
  return call.targets.every((t) => (delegation(dir, { ...call, targets: [t] })?.commands.length ?? 0) > 0);
}

/** A path as one shell word, so a command the user is told to run works as shown (`packages/my app`). */
function shellWord(p: string): string {
  return /^[\w./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * In-scope files that git stores with LF but checks out with CRLF (core.autocrlf,
 * a .gitattributes eol rule): a keep commits the work tree's bytes as they are,
 * so such a file's every line changes in the commit. Said once at init.
 */
export function eolConverted(root: string, scope: readonly string[], tracked: TrackedFiles): string[] {
  if (!mayConvertEol(root, tracked)) return []; // the usual case: no file of the tree is read
  const s = compileScope([...scope], []);
  const listed = gitSyncOrNull(root, ['ls-files', '--eol', '-z', '--', ...s.bases.map((b) => (b === '' ? '.' : `:(literal)${b}`))]);
  if (listed === null) return [];
  const converted: string[] = [];
  for (const rec of listed.split('\0')) {
    const tab = rec.indexOf('\t');
    if (tab < 0) continue;
    const [index, work] = rec.slice(0, tab).trim().split(/\s+/);
    const file = rec.slice(tab + 1);
    if (index === 'i/lf' && work === 'w/crlf' && s.inScope(file)) converted.push(file);
  }
  return converted;
}

const eolNames = (files: readonly string[]) => files.slice(0, 3).join(', ') + (files.length > 3 ? ` (+${files.length - 3} more)` : '');

/** eolConverted's files, said once at init. */
export function eolWarnings(converted: readonly string[]): string[] {
  if (!converted.length) return [];
  return [`${eolNames(converted)}: git stores LF but checks out CRLF here (core.autocrlf or a .gitattributes eol rule); a keep commits the work tree's bytes, so every line of a kept file changes (line ends) in its commit`];
}

/**
 * An init refused for in-scope changes that are only those line ends: the engine's git compares the
 * bytes as they are (core.autocrlf off), so a file the user's `git status` shows clean differs from
 * HEAD once git looks at its content, and "commit or stash them" leads nowhere. The refusal says why
 * and how to write them as git stores them.
 */
export function eolRefusal(e: unknown, converted: readonly string[]): unknown {
  if (!(e instanceof UsageError) || !converted.length) return e;
  const named = converted.filter((f) => e.message.includes(f));
  if (!named.length) return e;
  const args = named.slice(0, 3).map(shellWord).join(' ');
  return new UsageError(`${e.message}; ${eolNames(named)}: only line ends differ (git stores LF, the work tree holds CRLF, and the engine compares bytes with core.autocrlf off), which your git status does not show: git -c core.autocrlf=false checkout -- ${args} writes them as git stores them`);
}

/**
 * Could git convert line ends here? The user's core.autocrlf (as the user's git reads it: the engine's
 * own commands carry core.autocrlf=false, which a plain `git config --get` would answer), or an
 * attributes file that mentions text or eol.
 */
function mayConvertEol(root: string, tracked: TrackedFiles): boolean {
  const config = userConfig(root, ['core.autocrlf', 'core.attributesFile']);
  const autocrlf = config.has('core.autocrlf') ? (config.get('core.autocrlf') ?? 'true').trim().toLowerCase() : '';
  if (['true', 'input', 'yes', 'on', '1'].includes(autocrlf)) return true;
  const files = (tracked.list() ?? []).filter((f) => f === '.gitattributes' || f.endsWith('/.gitattributes')).map((f) => path.join(root, f));
  files.push(...(commonGitPaths(root, ['info/attributes']) ?? []));
  // The user's own attributes file (git's default when core.attributesFile is unset).
  const set = config.get('core.attributesfile');
  const own = set ? configPath(root, 'core.attributesFile', set) : null;
  const xdg = process.env.XDG_CONFIG_HOME || path.join(process.env.HOME ?? '', '.config');
  files.push(own ?? path.join(xdg, 'git', 'attributes'));
  return files.some((f) => {
    try {
      return /\b(text|eol|crlf)\b/.test(fs.readFileSync(f, 'utf8'));
    } catch {
      return false;
    }
  });
}

/**
 * Scope, protect and artifact globs are repository paths: one outside it
 * would match nothing the loop may touch, and git refuses it later, once the
 * branch is switched. Refused before anything changes.
 */
export function assertGlobsInRepo(config: Pick<Config, 'scope' | 'protect' | 'artifacts'>): void {
  const lists = [['--scope', config.scope], ['--protect', config.protect], ['--artifacts', config.artifacts]] as const;
  for (const [flag, globs] of lists) {
    const bad = globs.find(globLeavesRepo);
    if (bad !== undefined) throw new UsageError(`${flag} "${bad}" is outside the repository: globs are relative to its top, without "/" in front or ".."`);
    // The engine's state and git's internals are never in scope (scope.ts); git refuses some such globs later, after the branch switch.
    const own = flag === '--scope' ? globs.find((g) => !g.startsWith('!') && isInternal(g.replace(/^(\.\/)+/, ''))) : undefined;
    if (own !== undefined) throw new UsageError(`${flag} "${own}" names git's or autoloop's own files, which the loop never changes: scope the project's files`);
  }
}

/** The result files sources read after each sample (a TensorBoard directory only gains new files: not one). */
function sourcePaths(config: Pick<Config, 'sources'>): string[] {
  return (config.sources ?? []).flatMap((s) => ('file' in s ? [s.file] : []));
}

/**
 * git mode: a result file is the benchmark's output, never in scope
 * (outputs.ts); one git tracks is a change outside the scope each time the
 * benchmark rewrites it, so every run would be invalid. Refused with the fix
 * (stop tracking it, and ignore it).
 */
export function assertSourcesUntracked(root: string, config: Pick<Config, 'sources'>): void {
  for (const p of sourcePaths(config)) {
    const rel = path.relative(root, path.resolve(root, p)).split(path.sep).join('/');
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) continue;
    const listed = gitSyncOrNull(root, ['ls-files', '-z', '--', `${isFileGlob(p) ? ':(glob)' : ':(literal)'}${rel}`]);
    const tracked = (listed ?? '').split('\0').filter((f) => f !== '');
    if (tracked.length) {
      throw new UsageError(`--source reads ${rel}, which git tracks (${tracked[0]}): the benchmark rewriting it would make every run invalid; stop tracking it (git rm -r --cached ${rel}, add it to .gitignore, commit), then init-experiment`);
    }
  }
}

/**
 * --protect always wins over --scope: when it covers every file the scope
 * names, the loop may change nothing and each edit is an `invalid` run.
 * Refused with the globs (a scope matching nothing yet is only a warning).
 */
export function assertScopeLeftMutable(root: string, config: Pick<Config, 'scope' | 'protect'>): void {
  assertNegationsLeaveSome(root, config.scope);
  if (!config.protect.length) return;
  const wide = compileScope(config.scope, []);
  const narrowed = compileScope(config.scope, config.protect);
  if (anyFile(root, narrowed.bases, narrowed.inScope) || !anyFile(root, wide.bases, wide.inScope)) return;
  throw new UsageError(`--protect ${config.protect.map((g) => `"${g}"`).join(' ')} covers every file --scope ${config.scope.map((g) => `"${g}"`).join(' ')} names: nothing is left for the loop to change; narrow --protect or widen --scope`);
}

/**
 * `--scope v.txt --scope '!v.txt'`: the exclusions take every file the globs name, so nothing is
 * mutable; the loop's edits would all be set aside as outside the scope, yet measured with.
 */
function assertNegationsLeaveSome(root: string, scope: readonly string[]): void {
  const excluded = scope.filter((g) => g.startsWith('!'));
  if (!excluded.length) return;
  const named = compileScope(scope.filter((g) => !g.startsWith('!')), []);
  const left = compileScope([...scope], []);
  if (anyFile(root, left.bases, left.inScope) || !anyFile(root, named.bases, named.inScope)) return;
  throw new UsageError(`--scope ${excluded.map((g) => `"${g}"`).join(' ')} excludes every file the scope would take in: nothing is left for the loop to change; drop the exclusion or widen --scope`);
}

/** A --protect glob that matches nothing guards nothing: a typo (`dta/**`) would leave the evaluation data open. */
export function protectWarnings(root: string, protect: readonly string[]): string[] {
  return protect
    .filter((g) => !g.startsWith('!') && !globMatches(root, g))
    .map((g) => `--protect "${g}" matches no file, so it guards nothing (protect globs are relative to the repository top, ${root})`);
}
