// The copies of git's files in `.autoloop/git-kept/` (git-files-journal.ts)
// are read back by a later call, and where `.autoloop/` is writable to the
// code under test (the `pidns` and `group` containments, or a `readonly`
// setup that failed) it can write one itself, under a dead engine's name, with
// no need to kill its own: the next call under the lock acted on it before
// anything else. A planted copy that named the ledger as a HEAD to put back
// had the engine write a forged ledger (a worse baseline, so a worse change
// was kept); one that named an alternates store whose pack maps a kept blob's
// id to other bytes had the engine install it, and every later checkout of
// that keep wrote bytes never measured. So a copy is trusted only as far as
// it can be checked:
// - it must name exactly git's own files for a work tree of this repository
//   (foreignCopy), else it is refused whole;
// - its index, HEAD, refs and config bytes are written only where git can no
//   longer read the file (as before): they give git nothing it could not be
//   given by the code under test directly, and an unreadable file fails every
//   git command;
// - an alternates, `shallow` or `info/grafts` file that differs from the
//   copy is set aside (`.autoloop-forged`), never deleted; the copy's own bytes
//   are written only where they check out: an alternates file whose every
//   store exists and whose packs pass `git verify-pack`, a `shallow` file
//   whose every line is a commit here whose parents are all absent (what
//   shallow means); a graft file or a `commondir` never (a candidate's
//   worktree whose git dir is no longer as built is built again).
// What cannot be checked: a copy removed, or rewritten to list a forged pack
// as there before the phase, is a phase whose engine died leaving nothing to
// recover; code that can write `.autoloop/` and kill its engine can do as much
// by hand. Only the `readonly` containment keeps `.autoloop/` out of its reach.
import fs from 'node:fs';
import path from 'node:path';
import { gitDirsOf } from './git-dirs.ts';
import { gitTry } from './gitcmd.ts';
import { writeFileAtomic } from './fsx.ts';
import { readOrNull } from './stat-sig.ts';
import { layout, type GitFiles } from './git-files-guard.ts';

/**
 * Why a copy is not one the engine wrote for `root`, or null: its tree must be a work tree of this
 * repository, its branch an experiment's (`autoloop/…`), and every file it names exactly where
 * keepGitFiles puts that kind for that tree.
 */
export function foreignCopy(root: string, kept: GitFiles): string | null {
  const mine = gitDirsOf(root);
  const dirs = gitDirsOf(kept.tree);
  if (!mine || !dirs || path.resolve(dirs.commonDir) !== path.resolve(mine.commonDir)) return `its tree ${kept.tree} is no work tree of this repository`;
  const ref = kept.files.find((f) => f.kind === 'ref')?.file;
  const branch = ref === undefined ? null : path.relative(path.join(dirs.commonDir, 'refs', 'heads'), ref).split(path.sep).join('/');
  if (branch !== null && !/^autoloop\/[^/]+$/.test(branch)) return `it names ${ref} as the experiment's branch`;
  const want = layout(dirs, branch);
  const key = (xs: readonly (readonly [string, string])[]) => xs.map(([f, k]) => `${k}:${path.resolve(f)}`).join('\n');
  if (key(kept.files.map((f) => [f.file, f.kind] as const)) !== key(want.files)) return "it names files that are not git's own for its tree";
  if (path.resolve(kept.objects.dir) !== path.resolve(want.objects)) return `it names ${kept.objects.dir} as the object store`;
  // A subset: a copy of an earlier engine names fewer.
  const history = new Set(want.history.map((h) => path.resolve(h)));
  if (!kept.objects.history.every((h) => history.has(path.resolve(h.file)))) return "it names history files that are not git's own";
  return null;
}

/** Whether every store an alternates file names exists and each of its packs passes git's own check. */
async function storesSound(tree: string, objects: string, bytes: Buffer): Promise<boolean> {
  const stores = bytes.toString('utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  for (const line of stores) {
    // A relative path is relative to the objects dir; a quoted one is not taken (none of git's own writing).
    if (line.startsWith('"')) return false;
    const store = path.resolve(objects, line);
    if (!fs.statSync(store, { throwIfNoEntry: false })?.isDirectory()) return false;
    let packs: string[] = [];
    try {
      packs = fs.readdirSync(path.join(store, 'pack')).filter((n) => n.endsWith('.idx'));
    } catch {
      // no packs: loose objects only
    }
    for (const idx of packs) if ((await gitTry(tree, ['-c', 'core.multiPackIndex=false', 'verify-pack', path.join(store, 'pack', idx)])).code !== 0) return false;
  }
  return true;
}

/** Whether each line of a `shallow` file is a commit here whose parents are all absent. */
async function shallowSound(tree: string, bytes: Buffer): Promise<boolean> {
  const ids = bytes.toString('latin1').split('\n').filter(Boolean);
  for (const id of ids) {
    if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(id)) return false;
    const c = await gitTry(tree, ['cat-file', 'commit', id]);
    if (c.code !== 0) return false;
    const parents = [...c.stdout.split('\n\n')[0]!.matchAll(/^parent ([0-9a-f]+)$/gm)].map((m) => m[1] as string);
    if (!parents.length) return false;
    for (const p of parents) if ((await gitTry(tree, ['cat-file', '-e', p])).code === 0) return false;
  }
  return true;
}

/** A name beside `file` that nothing holds yet. */
function asideName(file: string): string {
  for (let i = 0; ; i++) {
    const name = `${file}.autoloop-forged${i ? `-${i}` : ''}`;
    if (!fs.existsSync(name)) return name;
  }
}

/** The alternates and history files as a copy read back from disk has them, as far as they check out (above). Returns what was set aside or put back. */
export async function settleStoresFromCopy(kept: GitFiles): Promise<string[]> {
  const { dir, alternates, history } = kept.objects;
  const out: string[] = [];
  const files = [{ file: path.join(dir, 'info', 'alternates'), bytes: alternates, kind: 'alternates' }, ...history.map((h) => ({ ...h, kind: path.basename(h.file) }))];
  for (const { file, bytes, kind } of files) {
    const now = readOrNull(file);
    if (bytes === null ? now === null && !fs.existsSync(file) : now !== null && now.equals(bytes)) continue;
    const there = fs.lstatSync(file, { throwIfNoEntry: false }) !== undefined;
    if (there) fs.renameSync(file, asideName(file));
    const sound = bytes !== null && (kind === 'alternates' ? await storesSound(kept.tree, dir, bytes) : kind === 'shallow' ? await shallowSound(kept.tree, bytes) : false);
    if (bytes && sound) writeFileAtomic(file, bytes);
    if (there || sound) out.push(path.relative(kept.tree, file));
  }
  return out;
}
