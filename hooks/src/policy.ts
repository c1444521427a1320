// Which paths inside the project the model may write while a loop runs.
// Shared by the Edit/Write guard and the Bash guard.
import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { compileScope } from '../../scripts/lib/scope.ts';
import { outsideReached, outsideTarget } from '../../scripts/lib/outside-judges.ts';

export interface Policy {
  /** Canonical (symlinks resolved) project directory. */
  projectDir: string;
  protect: string[];
  writable: string[];
  scope: string[];
  /** The experiment's scratch area (repo-relative): diagnostics go there, never judged, never committed. */
  scratch: string;
  /** Canonical paths of candidate worktrees (parallel mode): each is guarded as the project itself. */
  worktrees?: string[];
}

/** Where the model may put profiles, analysis scripts and their output. */
export const scratchDir = (experiment: string): string => `.autoloop/experiments/${experiment}/scratch`;

export type Denial = string;

const GLOB_CHARS = /[*?[\]{}!()]/;
const STATE = '.autoloop';

/** realpath of the longest existing prefix, so links and /tmp aliases compare equal. */
export function canonical(p: string): string {
  return realPrefix(path.resolve(p), false);
}

/**
 * An absolute path as the kernel takes it, not normalised first: a `..` after a link steps out of
 * where the link leads (src/link/../x, with src/link -> ../bench, is x at the top, not src/x).
 * realpath of the longest existing prefix, the rest as written.
 */
export function physical(p: string): string {
  // The native realpath: Node's own normalises the text first, as path.resolve does.
  return realPrefix(p, true);
}

/** Links followed through a name that does not exist yet before the guard takes the name as written. */
const MAX_DANGLING_HOPS = 40;
const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;

/**
 * What each name resolved to, kept only while one decision runs (withPathMemo): a command names the
 * same folders again and again (every write outside the project is compared with git's configuration
 * files, each under HOME), and nothing on disk changes while the guard reads it. Never kept across
 * calls: a link made between two commands must be seen by the second.
 */
let memo: Map<string, string | boolean> | null = null;

/** Runs f with the names it resolves remembered until it returns (nested calls share the outer memo). */
export function withPathMemo<T>(f: () => T): T {
  if (memo) return f();
  memo = new Map();
  try {
    return f();
  } finally {
    memo = null;
  }
}

function realPrefix(p: string, native: boolean, hops = 0): string {
  const tail: string[] = [];
  let cur = p;
  for (;;) {
    const r = resolved(cur, native);
    if (typeof r === 'string') return path.join(r, ...tail.reverse());
    // A dangling link (src/h -> ../.git/hooks/pre-commit): a write through it creates where it points.
    const to = r && hops < MAX_DANGLING_HOPS ? linkText(cur) : null;
    if (to !== null) {
      const next = path.isAbsolute(to) ? to : `${path.dirname(cur)}/${to}`;
      return realPrefix([next, ...tail.reverse()].join('/'), native, hops + 1);
    }
    const parent = path.dirname(cur);
    if (parent === cur) return path.resolve(p);
    tail.push(path.basename(cur));
    cur = parent;
  }
}

/** The realpath of name, or whether it is a link that does not resolve (true) or no link at all (false). */
function resolved(name: string, native: boolean): string | boolean {
  const key = memo && `${native ? 'k' : 'n'}\0${name}`;
  const known = key ? memo!.get(key) : undefined;
  if (known !== undefined) return known;
  // One lstat first: a name that is not there (most write targets) then costs no realpath, which
  // would walk every component and throw. Not with a . or .. in it: Node's realpath takes those by
  // the text (canonical), the kernel's lstat after any link, so only realpath may say it is missing.
  const st = lstatOf(name);
  let r: string | boolean = false;
  if (st !== undefined || DOT_SEGMENT.test(name)) {
    try {
      r = native ? fs.realpathSync.native(name) : fs.realpathSync(name);
    } catch {
      r = st?.isSymbolicLink() === true;
    }
  }
  if (key) memo!.set(key, r);
  return r;
}

/** lstat of p: undefined when no such name; null when lstat fails otherwise (ENOTDIR, EACCES: realpath decides). */
function lstatOf(p: string): fs.Stats | null | undefined {
  try {
    return fs.lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return null;
  }
}

/** The text of the link at p, or null (gone since, or unreadable): no link to follow. */
function linkText(p: string): string | null {
  try {
    return fs.readlinkSync(p);
  } catch {
    return null;
  }
}

/**
 * A path inside a candidate's worktree, relative to that worktree, or null.
 * The worktree holds the same files as the project, so its src/a.ts is judged
 * as the project's src/a.ts (scope, judges, .git), not as engine state.
 */
export function relInWorktree(policy: Policy, abs: string): string | null {
  for (const tree of policy.worktrees ?? []) {
    const rel = path.relative(tree, abs);
    if (rel === '') return '';
    if (!rel.startsWith('..') && !path.isAbsolute(rel)) return rel.split(path.sep).join('/');
  }
  return null;
}

/** Repo-relative POSIX path, '' for the project itself, or null when outside it. */
export function relToProject(policy: Policy, abs: string): string | null {
  const inTree = relInWorktree(policy, abs);
  if (inTree !== null) return inTree;
  const rel = path.relative(policy.projectDir, abs);
  if (rel === '') return '';
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/');
}

function matcher(pattern: string): (p: string) => boolean {
  const clean = pattern.replace(/^\.\//, '').replace(/\/+$/, '');
  if (!GLOB_CHARS.test(clean)) return (p) => p === clean || p.startsWith(`${clean}/`);
  const m = picomatch(clean, { dot: true });
  return (p) => m(p);
}

function matchesAny(patterns: string[], rel: string): boolean {
  return patterns.some((pat) => matcher(pat)(rel));
}

/** `writable` entries are repo-relative (".autoloop/…"); entries relative to .autoloop/ are accepted too. */
export function isWritableState(policy: Policy, rel: string): boolean {
  if (inDir(rel, policy.scratch)) return true;
  return policy.writable.some((w) => {
    const full = w.startsWith(`${STATE}/`) ? w : `${STATE}/${w.replace(/^\.\//, '')}`;
    return matcher(full)(rel);
  });
}

/** A literal entry also covers what is under it, should the engine ever list a directory. */
function isProtected(policy: Policy, rel: string): boolean {
  return matchesAny(policy.protect, rel);
}

export const inDir = (rel: string, dir: string): boolean => rel === dir || rel.startsWith(`${dir}/`);

export const REASONS = {
  protected: (rel: string): Denial =>
    `autoloop: ${rel} is protected: it judges the metric (benchmark or checks) and must stay unchanged. Improve the code in scope instead; only the user can change the benchmark, by opening a new segment with init-experiment.`,
  absentJudge: (rel: string): Denial =>
    `autoloop: ${rel} is protected though absent: the benchmark or checks would run or import a file there (in place of what a judge names), so it must not be created. Name your file otherwise, in scope.`,
  state: (rel: string, writable: string[]): Denial =>
    `autoloop: ${rel} belongs to the engine (config, ledger, state). ${
      writable.length ? `You may edit only ${writable.join(', ')} under .autoloop/, and write diagnostics under the experiment's scratch/;` : 'Nothing under .autoloop/ is yours to edit;'
    } use the engine scripts for everything else.`,
  git: (rel: string): Denial =>
    `autoloop: ${rel} is git's own data and the engine owns git while the loop runs. Leave it alone; log-experiment commits or reverts.`,
  gitConfig: (file: string): Denial =>
    `autoloop: ${file} is git's configuration, and the engine owns git while the loop runs: a setting there changes what its git commands run. Leave it alone; ask the user if git needs configuring.`,
  link: (rel: string, other: string): Denial =>
    `autoloop: ${rel} is another name (a hard link) of ${other}: writing it writes ${other}. Remove this name first (rm ${rel}), then write the file anew.`,
  outsideJudge: (file: string, rel: string): Denial =>
    `autoloop: ${file} is where the judge ${rel} links to, outside the project, or beside it (a file it can load): it judges the metric and must stay unchanged. Improve the code in scope instead; only the user can change the benchmark, by opening a new segment with init-experiment.`,
  scope: (rel: string, scope: string[]): Denial =>
    `autoloop: ${rel} is outside the experiment's scope (${scope.join(', ')}). Only in-scope changes are measured and kept: edit files in scope, or ask the user to widen the scope with a new segment.`,
};

/**
 * The configuration files git reads besides the repository's own (which lies under .git): the
 * global one (GIT_CONFIG_GLOBAL, ~/.gitconfig, the XDG one) and the system one. A setting there
 * changes what every git the engine runs does (a pager, an fsmonitor, a filter, an alias), as
 * `git config --global` would, which the Bash guard refuses: canonical paths.
 */
export function gitConfigFiles(env: Record<string, string | undefined>): string[] {
  const home = env.HOME && path.isAbsolute(env.HOME) ? env.HOME : null;
  const xdg = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : home && path.join(home, '.config');
  const files = [env.GIT_CONFIG_GLOBAL, env.GIT_CONFIG_SYSTEM, home && path.join(home, '.gitconfig'), xdg && path.join(xdg, 'git', 'config'), '/etc/gitconfig'];
  return [...new Set(files.filter((f): f is string => !!f && path.isAbsolute(f)).map(canonical))];
}

/** Writing `abs` (canonical; tree: or replacing a directory that holds it) writes one of git's configuration files (gitConfigFiles). */
export function gitConfigDenial(abs: string, files: string[], tree: boolean): Denial | null {
  const hit = files.find((f) => f === abs || (tree && f.startsWith(abs === path.sep ? abs : abs + path.sep)));
  return hit ? REASONS.gitConfig(hit) : null;
}

/** A judge the engine listed by name that is not there: a name that would shadow what a judge imports (py-shadows, node-shadows). */
function absentJudge(policy: Policy, rel: string): boolean {
  if (!policy.protect.some((p) => p.replace(/^\.\//, '') === rel)) return false;
  try {
    fs.lstatSync(path.join(policy.projectDir, rel));
    return false;
  } catch {
    return true;
  }
}

/** Would writing this repo-relative path hurt the judges, the engine's state or git? */
export function writeDenial(policy: Policy, rel: string): Denial | null {
  if (isProtected(policy, rel)) return absentJudge(policy, rel) ? REASONS.absentJudge(rel) : REASONS.protected(rel);
  if (inDir(rel, '.git')) return REASONS.git(rel);
  if (inDir(rel, STATE) && !isWritableState(policy, rel)) return REASONS.state(rel, policy.writable);
  return null;
}

/**
 * For operations that act on a whole tree (rm -r, mv): a directory that holds
 * a protected file, the engine's state or .git is as bad as the file itself.
 */
export function treeDenial(policy: Policy, rel: string): Denial | null {
  const direct = writeDenial(policy, rel);
  if (direct) return direct;
  const under = (target: string): boolean => rel === '' || target.startsWith(`${rel}/`);
  const judge = policy.protect.find((p) => !GLOB_CHARS.test(p) && under(p.replace(/^\.\//, '')));
  if (judge) return REASONS.protected(judge);
  if (under(STATE)) return REASONS.state(STATE, policy.writable);
  if (under('.git')) return REASONS.git('.git');
  return null;
}

/** A glob target (rm bench/*): test it against the files we know must not be written. */
export function globDenial(policy: Policy, absPattern: string, tree: boolean): Denial | null {
  // Resolve links in the literal head of the pattern; keep the pattern tail.
  const segs = absPattern.split('/');
  const k = segs.findIndex((s) => GLOB_CHARS.test(s));
  const head = canonical(segs.slice(0, k).join('/') || '/');
  const relHead = relToProject(policy, head);
  if (relHead !== null && inDir(relHead, STATE)) return REASONS.state(relHead, policy.writable);
  if (relHead !== null && inDir(relHead, '.git')) return REASONS.git(relHead);
  const pattern = [head, ...segs.slice(k)].join('/');
  const m = picomatch(pattern, { dot: true });
  const abs = (rel: string): string => (rel ? path.join(policy.projectDir, rel) : policy.projectDir);
  for (const p of policy.protect) {
    const clean = p.replace(/^\.\//, '');
    if (GLOB_CHARS.test(clean)) continue;
    if (m(abs(clean))) return REASONS.protected(clean);
    if (tree && ancestors(clean).some((a) => m(abs(a)))) return REASONS.protected(clean);
  }
  const outside = outsideGlobDenial(policy, m, picomatch(path.posix.dirname(pattern), { dot: true }), tree);
  if (outside) return outside;
  // active.json is never writable, so it stands for all of the engine's files.
  if (m(abs(`${STATE}/active.json`)) || (tree && m(abs(STATE)))) return REASONS.state(STATE, policy.writable);
  if (m(abs('.git/HEAD')) || (tree && m(abs('.git')))) return REASONS.git('.git');
  // rm -rf /wo*: a pattern that takes the project directory itself.
  if (tree && ancestors(policy.projectDir.slice(1)).concat(policy.projectDir.slice(1)).some((a) => m(`/${a}`))) return treeDenial(policy, '');
  return null;
}

function ancestors(rel: string): string[] {
  const parts = rel.split('/');
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/**
 * A file written in place through another of its names (a hard link in the scope or in scratch/)
 * writes a judge or an engine file the name does not show: the judges named literally, and the
 * files at the top of .autoloop/ and of the experiment's folder (the ledger, config, state).
 * Only a file with more than one name is compared, so this costs one stat otherwise.
 */
export function linkDenial(policy: Policy, abs: string): Denial | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    return null;
  }
  if (!st.isFile() || st.nlink < 2) return null;
  const top = (dir: string): string[] => {
    try {
      return fs.readdirSync(path.join(policy.projectDir, dir)).map((n) => `${dir}/${n}`);
    } catch {
      return [];
    }
  };
  const judges = policy.protect.filter((p) => !GLOB_CHARS.test(p)).map((p) => p.replace(/^\.\//, '').replace(/\/+$/, ''));
  for (const other of [...judges, ...top(STATE), ...top(path.posix.dirname(policy.scratch))]) {
    if (path.join(policy.projectDir, other) === abs) continue; // the file itself (a note with a second name)
    try {
      const o = fs.statSync(path.join(policy.projectDir, other));
      if (o.isFile() && o.ino === st.ino && o.dev === st.dev) return REASONS.link(relToProject(policy, abs) ?? abs, other);
    } catch {
      /* gone: not this file */
    }
  }
  return null;
}

/** Edit/Write/NotebookEdit: everything writeDenial says, plus the scope. */
export function editDenial(policy: Policy, rel: string): Denial | null {
  const w = writeDenial(policy, rel);
  if (w) return w;
  if (inDir(rel, STATE)) return null; // a writable note or idea file: outside the scope by design
  // The engine's own scope rules (plain names cover their subtree, `!` excludes), so
  // the hook never refuses what a keep would commit, nor allows what it would not.
  if (!compileScope(policy.scope, []).inScope(rel)) return REASONS.scope(rel, policy.scope);
  return null;
}

/** Edit/Write the hook may approve: in scope while the loop runs, the notes and the scratch area always. */
export function editAllowed(policy: Policy, rel: string, loopRuns: boolean): boolean {
  if (editDenial(policy, rel)) return false;
  if (inDir(rel, STATE)) return isWritableState(policy, rel);
  return loopRuns;
}

/**
 * The repo-relative names a path has before its links are resolved: as written, and with only its
 * directory resolved. A judge that is itself a link out of the project (bench.sh → ../shared/bench.sh)
 * resolves outside it, yet writing it by its own name writes the judge.
 */
export function namedRels(policy: Policy, abs: string): string[] {
  const out = new Set<string>();
  for (const p of [path.resolve(abs), path.join(canonical(path.dirname(path.resolve(abs))), path.basename(abs))]) {
    const rel = relToProject(policy, p);
    if (rel) out.add(rel);
  }
  return [...out];
}

/** Absolute path → repo-relative, resolving links; null when outside the project. */
export function relOf(policy: Policy, abs: string): string | null {
  return relToProject(policy, canonical(abs));
}

export { GLOB_CHARS };

/** The judges named in protect (without a glob) that are links out of the project, with where each leads (memoised per decision). */
function outsideJudges(policy: Policy): Array<{ rel: string; target: string }> {
  const out: Array<{ rel: string; target: string }> = [];
  for (const p of policy.protect) {
    if (GLOB_CHARS.test(p)) continue;
    const rel = p.replace(/^\.\//, '');
    const abs = path.join(policy.projectDir, rel);
    const key = memo && `o\0${abs}`;
    const known = key ? memo!.get(key) : undefined;
    const target = known !== undefined ? (known || null) as string | null : outsideTarget(policy.projectDir, abs);
    if (key && known === undefined) memo!.set(key, target ?? false);
    if (target !== null) out.push({ rel, target });
  }
  return out;
}

/**
 * A path outside the project that a judge links to, a file in that target's folder (what the
 * judge can load from beside it; outside-judges.ts), or one it imports from a folder below
 * (outsideReached): denied as the judge itself. `abs`: the path
 * as written (absolute); it is judged with its links resolved, and with only its folder's (a
 * link there, replaced, changes what the judge loads). `tree`: the write may remove or replace a
 * whole directory (rm -r, mv): the target's folder or one holding it is as bad, as treeDenial has
 * it for a folder holding an in-project judge. Only judges named without a glob are followed.
 */
export function outsideJudgeDenial(policy: Policy, abs: string, tree = false): Denial | null {
  const judges = outsideJudges(policy);
  if (judges.length === 0) return null;
  const names = [...new Set([canonical(abs), path.join(canonical(path.dirname(path.resolve(abs))), path.basename(abs))])];
  for (const { rel, target } of judges) {
    const dir = path.dirname(target);
    const reached = reachedOf(target);
    for (const name of names) {
      if (path.dirname(name) === dir || reached.includes(name)) return REASONS.outsideJudge(name, rel);
      const holds = (f: string): boolean => f.startsWith(name === path.sep ? name : name + path.sep);
      if (tree && (name === dir || holds(dir))) return REASONS.outsideJudge(target, rel);
      const inner = tree ? reached.find(holds) : undefined;
      if (inner !== undefined) return REASONS.outsideJudge(inner, rel);
    }
  }
  return null;
}

/** What an outside target imports from folders below its own (outside-judges.ts outsideReached), memoised per decision. */
function reachedOf(target: string): string[] {
  const key = memo && `r\0${target}`;
  const known = key ? memo!.get(key) : undefined;
  if (typeof known === 'string') return known === '' ? [] : known.split('\0');
  const reached = outsideReached(target);
  if (key) memo!.set(key, reached.join('\0'));
  return reached;
}

/** A glob target (rm ../shared/*.py) that may take an outside judge's target, a file beside it, or (tree) its folder or one holding it. */
function outsideGlobDenial(policy: Policy, m: (p: string) => boolean, parent: (p: string) => boolean, tree: boolean): Denial | null {
  for (const { rel, target } of outsideJudges(policy)) {
    const dir = path.dirname(target);
    if (m(target) || parent(dir)) return REASONS.outsideJudge(target, rel);
    if (tree && [dir, ...ancestorsOfAbs(dir)].some((a) => m(a))) return REASONS.outsideJudge(target, rel);
  }
  return null;
}

function ancestorsOfAbs(abs: string): string[] {
  const out: string[] = [];
  for (let d = path.dirname(abs); d !== path.dirname(d); d = path.dirname(d)) out.push(d);
  return out;
}
