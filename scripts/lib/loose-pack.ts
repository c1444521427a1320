// The loose objects moved into a pack once there are many, so that the check
// after each phase (loose-forged.ts: a stat per loose object) stays as cheap
// on the thousandth keep as on the first. Nothing else packs them: the
// engine writes each kept file's blob and the trees above it loose, and
// never runs a git command that starts `gc --auto`.
//
// Why packing keeps every guarantee of the scan (docs/design.md, One git runner, "Objects:"):
// - it runs at the end of a phase's settle, after every loose object the
//   phase changed was hashed again and the forged ones set aside: what goes
//   into the pack is what the scan has just vouched for (or, as before,
//   objects nobody touched during a phase; a process outliving its phase
//   could rewrite one after the check, loose or packed alike: the next check
//   looks only at what changed since its own phase began, as before);
// - a packed object the next phase rewrites is a rewrite of the `.pack` or
//   `.idx`: their stat signature changes, and git verifies that pack
//   (git-files-guard.ts); no settle packs while a candidate's call is in
//   flight (run-guard.ts): a phase begun before this check could hold a
//   forged object the check took as untouched, and a pack holding it would
//   be set aside whole, the sound objects in it with it;
// - a loose object planted later under a packed object's id is never read:
//   git looks in packs before loose objects;
// - git's own tools write the pack (a temporary file renamed into place,
//   fsynced by default) before `prune-packed` removes any loose copy, so a
//   kill between the two leaves both, never neither.
// The alternatives rejected: the read-only containment leaves `.git` writable
// (a benchmark may commit or stash), and the check is needed without it too;
// a scan keyed by each fan-out directory's stat sees new and renamed-over
// objects but not one rewritten in place (chmod, then new bytes: only the
// file's own ctime changes), which only a stat per object finds.
// What the engine reads in-process stays loose (headLoose, the measured
// blobs): bounded by one tree's files, not by the loop's length.
import fs from 'node:fs';
import path from 'node:path';
import { gitDirsOf, headFile, readOrEmpty } from './git-dirs.ts';
import { gitTry, gitWithInput } from './gitcmd.ts';
import { parseTree, readLoose } from './loose-tree.ts';
import { repoPaths } from './paths.ts';

/** What a packing did: wrote a pack (its hash: `pack`) or found nothing to pack, or failed (everything left loose); how many stay loose. */
export type Packed = { ok: boolean; left: number; pack?: string };

/** Loose objects at which a phase's settle packs them (each costs a stat per phase until then). */
export const PACK_AT = 1000;

/**
 * Whether the loose objects a settle saw are worth a pack (two git processes): PACK_AT of them, and
 * at least `next`, the count the last packing set (nextPackAt). Pure.
 */
export const packWanted = (loose: number, next = 0): boolean => loose >= Math.max(PACK_AT, next);

/**
 * The count at which to pack again after a packing of `loose` objects. What stays loose (HEAD's, the
 * measured blobs) is left out of the next count, or a repository whose HEAD alone has PACK_AT loose
 * objects would walk its tree after every phase; after a failure (a loose object git cannot read),
 * twice as many, so that it does not pay a failing pack-objects every phase. Pure.
 */
export const nextPackAt = (loose: number, r: Packed): number => (r.ok ? r.left + PACK_AT : 2 * loose);

/** Where that count is kept (the engine's state directory; absent: PACK_AT). */
const nextFile = (root: string): string => path.join(repoPaths(root).dir, 'loose-pack-next');

/** The count at which the next settle packs (0 when none was set). */
export function packNext(root: string): number {
  const n = Number(readOrEmpty(nextFile(root)).trim());
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** Records how a packing of `loose` objects went. */
export function notePacked(root: string, loose: number, r: Packed): void {
  try {
    fs.writeFileSync(nextFile(root), `${nextPackAt(loose, r)}\n`);
  } catch {
    // no state directory (a repository without a loop): PACK_AT again next time
  }
}

const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** The commit HEAD names, as the files say (a loose ref, or packed-refs); null when they do not say plainly. */
function headCommit(tree: string): string | null {
  const head = headFile(tree);
  const dirs = gitDirsOf(tree);
  if (!head || !dirs) return null;
  if ('detached' in head) return head.detached;
  const loose = readOrEmpty(path.join(dirs.commonDir, head.ref)).trim();
  if (OID.test(loose)) return loose;
  for (const l of readOrEmpty(path.join(dirs.commonDir, 'packed-refs')).split('\n')) {
    const [id, name] = l.split(' ');
    if (name === head.ref && id && OID.test(id)) return id;
  }
  return null;
}

const isLoose = (objects: string, id: string): boolean => fs.existsSync(path.join(objects, id.slice(0, 2), id.slice(2)));

/**
 * The loose objects of HEAD (the best, on the experiment's branch): its commit, the loose trees down
 * from its tree, and their loose blobs. The engine reads these in-process (the next keep's tree,
 * loose-tree.ts; the net lines of a change, from HEAD's blobs) and asks git where one is packed, so they
 * stay loose: bounded by the files of one tree, not by the length of the loop. A packed tree is not
 * descended into (nothing below it is read in-process either).
 */
export function headLoose(tree: string, objects: string): Set<string> {
  const out = new Set<string>();
  const commit = headCommit(tree);
  const c = commit ? readLoose(objects, commit) : null;
  if (!commit || c?.type !== 'commit') return out;
  out.add(commit);
  const root = /^tree ([0-9a-f]+)\n/.exec(c.body.toString('latin1', 0, 100))?.[1];
  const todo = root && root.length === commit.length ? [root] : [];
  for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
    const t = readLoose(objects, id);
    const entries = t?.type === 'tree' ? parseTree(t.body, id.length) : null;
    if (!entries) continue;
    out.add(id);
    for (const e of entries) {
      if (e.mode === '40000') todo.push(e.id);
      else if (e.mode !== '160000' && isLoose(objects, e.id)) out.add(e.id);
    }
  }
  return out;
}

/**
 * Packs the loose objects `ids` of the repository whose work tree is `tree`,
 * except HEAD's (headLoose) and `spare` (the run's measured blobs, which its
 * keep reads), and except those in a pack already; then removes every loose
 * copy of a packed object. A failure (a corrupt loose object git cannot read)
 * leaves everything loose, as it was.
 */
export async function packLoose(tree: string, objects: string, ids: readonly string[], spare: readonly string[] = []): Promise<Packed> {
  const keep = headLoose(tree, objects);
  for (const id of spare) keep.add(id);
  const packed = ids.filter((id) => !keep.has(id));
  const left = ids.length - packed.length;
  if (!packed.length) return { ok: true, left };
  // --incremental: only objects in no pack yet; --local: none borrowed; the ids on stdin, one a line.
  const made = await gitWithInput(tree, ['pack-objects', '-q', '--incremental', '--local', '--non-empty', `${objects}/pack/pack`], `${packed.join('\n')}\n`);
  if (made.code !== 0) return { ok: false, left: ids.length };
  const pack = made.stdout.trim();
  return { ok: (await gitTry(tree, ['prune-packed', '-q'])).code === 0, left, ...(pack ? { pack } : {}) };
}
