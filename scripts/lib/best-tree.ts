// The best's own tree, where the benchmark re-measures the best interleaved
// with the candidate (sampling.ts): git mode, a detached worktree of the best
// commit; snapshot mode, a copy of the tree with the best snapshot's in-scope
// files. Engine-managed under .autoloop/experiments/<slug>/best/ and rebuilt
// when the best moves (after a keep). Untracked things the benchmark needs
// but git does not hold (node_modules, data) are linked from the user's tree.
import fs from 'node:fs';
import path from 'node:path';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import type { Experiment } from './experiment-data.ts';
import type { Workspace } from './workspace-base.ts';
import { SnapshotWorkspace } from './snapshot-workspace.ts';
import { compileScope, type Scope } from './scope.ts';
import { gitTry, firstLine } from './gitcmd.ts';
import { readJsonOrNull, writeJsonAtomic } from './fsx.ts';
import { RefusalError } from './errors.ts';

const Marker = lazySchema(() => z.object({ head: z.string() }));

export function bestTreeDir(exp: Experiment): string {
  return path.join(exp.paths.dir, 'best');
}

const markerFile = (exp: Experiment) => path.join(exp.paths.dir, 'best.json');

/** The best's tree is no longer as its commit has it (a candidate wrote it): the next use builds it again. */
export function forgetBestTree(exp: Experiment): void {
  fs.rmSync(markerFile(exp), { force: true });
}

/** The directory holding the best's tree, built (or rebuilt for a new best) on demand. */
export async function prepareBestTree(exp: Experiment, ws: Workspace): Promise<string> {
  const dir = bestTreeDir(exp);
  const head = await ws.head();
  const marker = Marker.safeParse(readJsonOrNull(markerFile(exp)));
  if (marker.success && marker.data.head === head && fs.existsSync(dir)) return dir;
  fs.rmSync(markerFile(exp), { force: true });
  const scope = compileScope(exp.config.scope, exp.config.protect);
  if (ws instanceof SnapshotWorkspace) {
    copyOutOfScope(exp.root, dir, scope);
    await ws.exportBest(dir);
  } else {
    await gitWorktree(exp.root, dir, head);
    await linkUntracked(exp.root, dir, scope);
  }
  writeJsonAtomic(markerFile(exp), { head });
  return dir;
}

/**
 * Remove the best's tree (its worktree registration too): `control clear` closes the loop, and no
 * checkout of the engine's stays in the user's `git worktree list`. Rebuilt on demand if the loop wakes.
 */
export async function removeBestTree(root: string, expDir: string): Promise<boolean> {
  const dir = path.join(expDir, 'best');
  fs.rmSync(path.join(expDir, 'best.json'), { force: true });
  if (!fs.existsSync(dir)) return false;
  await gitTry(root, ['worktree', 'remove', '--force', dir]);
  fs.rmSync(dir, { recursive: true, force: true });
  await gitTry(root, ['worktree', 'prune']);
  return true;
}

async function git(root: string, args: string[]): Promise<string> {
  const r = await gitTry(root, args);
  if (r.code !== 0) throw new RefusalError(`could not prepare the best's worktree: git ${args[0]}: ${firstLine(r.stderr) || `exit ${r.code}`}`);
  return r.stdout;
}

async function gitWorktree(root: string, dir: string, head: string): Promise<void> {
  if (fs.existsSync(dir)) {
    await gitTry(root, ['worktree', 'remove', '--force', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await gitTry(root, ['worktree', 'prune']);
  await git(root, ['worktree', 'add', '--detach', '--force', dir, head]);
}

const skipped = (rel: string) => rel === '.autoloop' || rel.startsWith('.autoloop/') || rel === '.git' || rel.startsWith('.git/');

/** Untracked (and ignored) paths outside the scope, linked into the worktree at the same place. */
async function linkUntracked(root: string, dir: string, scope: Scope): Promise<void> {
  const out = await git(root, ['ls-files', '--others', '--directory', '-z']);
  for (const entry of out.split('\0')) {
    const rel = entry.replace(/\/$/, '');
    if (!rel || skipped(rel) || scope.inScope(rel)) continue;
    const dst = path.join(dir, rel);
    if (fs.existsSync(dst)) continue;
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.symlinkSync(path.join(root, rel), dst);
  }
}

/** Snapshot mode: everything outside the scope copied (node_modules linked), the in-scope files left to exportBest. */
function copyOutOfScope(root: string, dir: string, scope: Scope): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const walk = (relDir: string): void => {
    for (const d of fs.readdirSync(path.join(root, relDir), { withFileTypes: true })) {
      const rel = relDir ? `${relDir}/${d.name}` : d.name;
      if (skipped(rel)) continue;
      const src = path.join(root, rel);
      const dst = path.join(dir, rel);
      if (d.isDirectory() && d.name === 'node_modules') fs.symlinkSync(src, dst);
      else if (d.isDirectory()) {
        fs.mkdirSync(dst, { recursive: true });
        walk(rel);
      } else if (!scope.inScope(rel) && (d.isFile() || d.isSymbolicLink())) fs.cpSync(src, dst, { verbatimSymlinks: true });
    }
  };
  walk('');
}
