// The user's working tree, seen by the engine: what the agent changed in
// scope, keeping it (a commit on autoloop/<slug>, or a new snapshot) and
// reverting it. Two modes with the same guarantees: git (the root is a git
// work tree's top level) and snapshot (no git: copies under .autoloop/).
//
// The guarantees: files outside the scope are never touched; untracked files
// present when the experiment began are the user's (never committed, never
// deleted); .autoloop/ is never committed or cleaned; no repo-wide `add -A`,
// no `clean`, no branch other than autoloop/<slug> ever moves.
//
// This module only picks the mode; the interface and the shared helpers live
// in workspace-base.ts.
import fs from 'node:fs';
import path from 'node:path';
import { workTreeTop } from './gitcmd.ts';
import type { Config } from './schema.ts';
import type { ExperimentPaths } from './paths.ts';
import { UsageError } from './errors.ts';
import { readJsonOrNull } from './fsx.ts';
import { workspaceFile, type Workspace } from './workspace-base.ts';
import { GitWorkspace } from './git-workspace.ts';
import { SnapshotWorkspace } from './snapshot-workspace.ts';

export type { Workspace } from './workspace-base.ts';

/** `top`: the work tree's top level as the caller found it with git moments ago in this process (root itself): not asked again. */
export async function openWorkspace(root: string, exp: ExperimentPaths, config: Config, top?: string): Promise<Workspace> {
  const recorded = recordedMode(exp);
  if (recorded === 'snapshot') return SnapshotWorkspace.open(root, exp, config);
  // A git experiment whose root still holds .git is still at its work tree's
  // top level: no process needed to ask (the next git command fails clearly if
  // the repository broke meanwhile).
  if (recorded === 'git' && fs.existsSync(path.join(root, '.git'))) return GitWorkspace.open(root, exp, config);
  top ??= (await workTreeTop(root)) ?? undefined;
  if (top === undefined) {
    if (recorded === 'git') throw new UsageError(`this experiment was started in git mode but ${root} is no longer a git work tree`);
    if (fs.existsSync(path.join(root, '.git'))) throw new UsageError(`${root} has a .git but git does not run here; install git (or fix the repository) first`);
    return SnapshotWorkspace.open(root, exp, config);
  }
  if (realpath(top) !== realpath(root)) {
    throw new UsageError(`run autoloop from the top level of the git work tree (${top}), not from ${root}`);
  }
  return GitWorkspace.open(root, exp, config);
}


function recordedMode(exp: ExperimentPaths): 'git' | 'snapshot' | null {
  const raw = readJsonOrNull(workspaceFile(exp));
  if (raw && typeof raw === 'object' && 'mode' in raw) {
    const m = (raw as { mode: unknown }).mode;
    if (m === 'git' || m === 'snapshot') return m;
  }
  return null;
}

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}
