// What finalize calls a dirty tree, and the one line that refuses it.
// Dirty: an unresolved conflict, an uncommitted change (staged or not) to any
// tracked file, or an untracked file in the scope of an experiment it
// replays. Not dirty: autoloop's own state (.autoloop/), files git ignores,
// the untracked files and folders that were the user's when the experiment
// began (every run measured beside them, so they are not part of any change),
// and the experiment's artifacts (its outputs, never committed). Finalize
// builds its branch from commits, never from the tree, and changes nothing
// when it refuses.
import fs from 'node:fs';
import { batches } from './workspace-base.ts';
import { gitTry } from './gitcmd.ts';
import { dirtySubmodules } from './submodule-dirt.ts';
import { isInternal, type Scope } from './scope.ts';

/** One `git status --porcelain=v1` entry: its two status letters and its path (a folded untracked folder ends in `/`). */
export interface StatusEntry {
  xy: string;
  path: string;
}

export interface TreeDirt {
  /** Unmerged paths (a merge, rebase, cherry-pick or stash pop that stopped on a conflict). */
  conflicts: string[];
  /** Tracked files in scope with uncommitted changes, staged or not. */
  inScope: string[];
  /** Untracked files in scope that are neither the user's from the start nor artifacts. */
  untracked: string[];
  /** Tracked files outside the scope with uncommitted changes, staged or not. */
  outside: string[];
}

/** What the classification needs to know of the experiments replayed. */
export interface DirtRules {
  inScope(p: string): boolean;
  /** Untracked but not dirt: the user's files from the start, artifacts. */
  spared(p: string): boolean;
}

const UNMERGED = new Set(['DD', 'AU', 'UD', 'UA', 'DU', 'AA', 'UU']);

/** Sort the entries into the kinds of dirt (pure); folded untracked folders must be listed file by file first. */
export function classifyDirt(entries: readonly StatusEntry[], rules: DirtRules): TreeDirt {
  const out: TreeDirt = { conflicts: [], inScope: [], untracked: [], outside: [] };
  const seen = new Set<string>();
  for (const { xy, path: p } of entries) {
    if (xy === '!!' || isInternal(p.replace(/\/$/, '')) || seen.has(`${xy === '??'}:${p}`)) continue;
    seen.add(`${xy === '??'}:${p}`);
    if (UNMERGED.has(xy)) out.conflicts.push(p);
    else if (xy === '??') {
      if (!p.endsWith('/') && rules.inScope(p) && !rules.spared(p)) out.untracked.push(p);
    } else (rules.inScope(p) ? out.inScope : out.outside).push(p);
  }
  for (const k of Object.keys(out) as (keyof TreeDirt)[]) out[k].sort();
  return out;
}

export function isClean(d: TreeDirt): boolean {
  return !d.conflicts.length && !d.inScope.length && !d.untracked.length && !d.outside.length;
}

/** The first few names, then how many more. */
function names(ps: readonly string[], shown = 5): string {
  return `${ps.slice(0, shown).join(', ')}${ps.length > shown ? ` (+${ps.length - shown} more)` : ''}`;
}

/** What is dirty, one clause per kind, as one line (without the advice). */
export function dirtText(d: TreeDirt): string {
  return [
    d.conflicts.length ? `unresolved conflicts: ${names(d.conflicts)}` : '',
    d.inScope.length ? `uncommitted changes to tracked files in scope: ${names(d.inScope)}` : '',
    d.untracked.length ? `untracked files in scope: ${names(d.untracked)}` : '',
    d.outside.length ? `uncommitted changes to tracked files outside the scope: ${names(d.outside)}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

/** May an in-scope file live below this untracked folder (`dir/`)? */
function reaches(dir: string, scopes: readonly Scope[]): boolean {
  const d = dir.slice(0, -1);
  return scopes.some((s) => s.bases.some((b) => b === '' || b === d || b.startsWith(dir) || d.startsWith(b + '/')));
}

/**
 * The tree's dirt as finalize sees it. Untracked folders come folded (one
 * entry for a whole `venv/`); only those the scope may reach and that are not
 * the user's from the start are listed file by file.
 */
export async function treeDirt(root: string, scopes: readonly Scope[], userDirs: readonly string[], spared: (p: string) => boolean): Promise<TreeDirt> {
  const r = await gitTry(root, ['status', '--porcelain=v1', '-z', '--no-renames', '--untracked-files=normal']);
  if (r.code !== 0) throw new Error(`git status: ${r.stderr.split('\n')[0] || `exit code ${r.code}`}`);
  const entries: StatusEntry[] = r.stdout
    .split('\0')
    .filter((e) => e.length >= 4)
    .map((e) => ({ xy: e.slice(0, 2), path: e.slice(3) }));
  // git no longer looks inside submodules for the engine (gitcmd.ts): their own changes, found without running their config.
  for (const p of await dirtySubmodules(root)) if (!entries.some((e) => e.path === p)) entries.push({ xy: ' M', path: p });
  const underUser = (p: string) => userDirs.some((d) => p === d || p.startsWith(d));
  const expand = entries.filter((e) => e.xy === '??' && e.path.endsWith('/') && !underUser(e.path) && !isInternal(e.path.slice(0, -1)) && reaches(e.path, scopes)).map((e) => e.path);
  for (const chunk of batches(expand)) {
    const ls = await gitTry(root, ['ls-files', '-z', '--others', '--exclude-standard', '--', ...chunk], { GIT_LITERAL_PATHSPECS: '1' });
    for (const f of ls.stdout.split('\0')) if (f) entries.push({ xy: '??', path: f });
  }
  return classifyDirt(entries, { inScope: (p) => scopes.some((s) => s.inScope(p)), spared: (p) => underUser(p) || spared(p) });
}

/** The user's untracked files and folders recorded when the experiment began (workspace.json), or none. */
export function userFilesOf(workspaceJson: string): { files: string[]; dirs: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(workspaceJson, 'utf8'));
  } catch {
    return { files: [], dirs: [] };
  }
  const r = raw as { user_files?: unknown; user_dirs?: unknown };
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  return { files: strings(r.user_files), dirs: strings(r.user_dirs) };
}
