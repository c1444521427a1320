// Executable bits git does not see. With core.fileMode=false, git status shows
// no change for a `chmod +x` of a tracked file, yet the benchmark runs the file
// with its bit as it is on disk: a run would measure a tree no keep records
// (a pure mode change was taken for the unchanged best, and its figure became
// the best's). Where the file system keeps exec bits (git turns fileMode off on
// its own where it does not, and then every bit on disk is noise), the in-scope
// tracked files whose bit differs from the index's are named before measuring.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { gitTry, userConfig } from './gitcmd.ts';
import { configFiles, mayMention } from './git-config-files.ts';
import type { Scope } from './scope.ts';

const FALSE = new Set(['false', 'no', 'off', '0', '']);
/** A config line that may set fileMode false: where none says so, no git process asks (every repository's config says `filemode = true`). */
const MAY_BE_FALSE = /filemode\s*=\s*(?:"?(?:false|no|off|0)"?)?\s*(?:[#;\r]|$)/im;

/** Whether a file made in `dir` keeps an executable bit set by chmod (as git's own probe at init). */
function keepsExecBits(dir: string): boolean {
  const probe = path.join(dir, `.mode-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    fs.writeFileSync(probe, '', { mode: 0o644 });
    fs.chmodSync(probe, 0o755);
    const x = (fs.statSync(probe).mode & 0o111) !== 0;
    fs.chmodSync(probe, 0o644);
    return x && (fs.statSync(probe).mode & 0o111) === 0;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe, { force: true });
  }
}

/**
 * In-scope tracked files of the work tree `root` whose executable bit on disk differs from the index's while
 * core.fileMode=false hides it, sorted; `probeDir`: a folder of the engine's on the same filesystem.
 */
export async function hiddenModeChanges(root: string, scope: Scope, probeDir: string): Promise<string[]> {
  const files = configFiles(root);
  if (files && !mayMention(files, MAY_BE_FALSE)) return [];
  const setting = userConfig(root, ['core.fileMode']).get('core.filemode');
  if (setting === undefined || setting === null || !FALSE.has(setting.trim().toLowerCase())) return [];
  if (!keepsExecBits(probeDir)) return [];
  // The bases are folder names, not patterns (a folder named `[a]` is that folder).
  const r = await gitTry(root, ['ls-files', '-s', '-z', '--', ...(scope.bases.includes('') ? ['.'] : scope.bases)], { GIT_LITERAL_PATHSPECS: '1' });
  if (r.code !== 0) return [];
  const out: string[] = [];
  for (const entry of r.stdout.split('\0')) {
    const tab = entry.indexOf('\t');
    const mode = entry.slice(0, 6);
    const rel = entry.slice(tab + 1);
    if (tab < 0 || (mode !== '100644' && mode !== '100755') || !scope.inScope(rel)) continue;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join(root, rel));
    } catch {
      continue; // deleted: git sees that
    }
    if (st.isFile() && (st.mode & 0o111 ? '100755' : '100644') !== mode) out.push(rel);
  }
  return [...new Set(out)].sort();
}

/** Why a run is refused when hiddenModeChanges found files: one line with both ways on (`candidate`: the tree is a candidate's worktree, named in the command). */
export function hiddenModesReason(root: string, files: readonly string[], candidate = false): string {
  const names = `${files.slice(0, 3).join(', ')}${files.length > 3 ? ' …' : ''}`;
  const first = files[0] ?? '';
  let flag = '+x';
  try {
    flag = fs.statSync(path.join(root, first)).mode & 0o111 ? '+x' : '-x';
  } catch {
    // gone since: the flag as most often meant
  }
  return `the executable bit of ${names} differs from the committed one, and git does not see it (core.fileMode=false), so the run would measure what no keep records: chmod it back, or stage the mode (git ${candidate ? `-C ${root} ` : ''}update-index --chmod=${flag} ${first}) so the loop judges it`;
}
