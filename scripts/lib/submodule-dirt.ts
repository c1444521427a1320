// Which submodules hold changes of their own (a file edited or added in one),
// found by the engine's git in each submodule, never by git's own recursion.
// git looks into a submodule by running `git status` there with that
// submodule's config, and the engine's `-c` switches off only the filter
// drivers it read in the superproject: a clean filter that code under test
// wrote into `.git/modules/<name>/config` ran as the engine. Here each
// submodule's status is an engine command of its own (gitcmd.ts: its drivers
// read and switched off, no recursion), and nested ones are walked the same way.
//
// Only a work tree with a `.gitmodules` file is asked (one `ls-files` more per
// status read there, none elsewhere): a gitlink without one is a nested
// repository committed by mistake, not a submodule the benchmark relies on.
import fs from 'node:fs';
import path from 'node:path';
import { gitTry } from './gitcmd.ts';

/** Submodules nested deeper than this are not looked into: counted as changed. */
const MAX_DEPTH = 8;

/** The gitlinks (mode 160000) in `git ls-files --stage -z` output. Pure. */
export function gitlinksOf(out: string): string[] {
  return out
    .split('\0')
    .filter((e) => e.startsWith('160000 ') && e.includes('\t'))
    .map((e) => e.slice(e.indexOf('\t') + 1));
}

/** The checked-out submodules of the work tree at `top` whose own tree differs from their index or HEAD (paths relative to `top`). */
export async function dirtySubmodules(top: string, depth = 0): Promise<string[]> {
  if (!fs.existsSync(path.join(top, '.gitmodules'))) return [];
  const ls = await gitTry(top, ['ls-files', '--stage', '-z'], { GIT_LITERAL_PATHSPECS: '1' });
  if (ls.code !== 0) return [];
  const out: string[] = [];
  for (const rel of gitlinksOf(ls.stdout)) {
    const dir = path.join(top, rel);
    // Not checked out (no `.git` there): git does not look into it either.
    if (fs.existsSync(path.join(dir, '.git')) && (await changedInside(dir, depth + 1))) out.push(rel);
  }
  return out;
}

async function changedInside(dir: string, depth: number): Promise<boolean> {
  if (depth > MAX_DEPTH) return true;
  // gitcmd.ts adds --ignore-submodules=dirty: a nested submodule's own files are the walk's below.
  const st = await gitTry(dir, ['status', '--porcelain=v1', '-z', '--untracked-files=normal']);
  // A submodule git cannot read is not known to be unchanged.
  if (st.code !== 0 || st.stdout !== '') return true;
  return (await dirtySubmodules(dir, depth)).length > 0;
}
