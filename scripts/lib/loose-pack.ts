// The loose objects moved into a pack once there are many, so that the check
// after each phase (loose-forged.ts: a stat per loose object) stays as cheap
// on the thousandth keep as on the first. Nothing else packs them: the
// engine writes each kept file's blob and the trees above it loose, and
// never runs a git command that starts `gc --auto`.
//
// Why packing keeps every guarantee of the scan (docs/design.md, "Objects"):
// - it runs at the end of a phase's settle, after every loose object the
//   phase changed was hashed again and the forged ones set aside: what goes
//   into the pack is what the scan has just vouched for (or, as before,
//   objects nobody touched during a phase);
// - a packed object the next phase rewrites is a rewrite of the `.pack` or
//   `.idx`: their stat signature changes, and git verifies that pack
//   (git-files-guard.ts; a parallel candidate's phase that saw the pack
//   appear verifies it once too);
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
import { gitTry, gitWithInput } from './gitcmd.ts';

/** Loose objects at which a phase's settle packs them (each costs a stat per phase until then). */
export const PACK_AT = 1000;

/** Whether the loose objects a settle saw are worth a pack (two git processes). Pure. */
export const packWanted = (loose: number): boolean => loose >= PACK_AT;

/**
 * Packs the loose objects `ids` of the repository whose work tree is `tree`
 * (those already in a pack are left out), then removes every loose copy of
 * a packed object. Returns whether a pack was written; a failure (a corrupt
 * loose object git cannot read) leaves everything loose, as it was.
 */
export async function packLoose(tree: string, objects: string, ids: readonly string[]): Promise<boolean> {
  // --incremental: only objects in no pack yet; --local: none borrowed; the ids on stdin, one a line.
  const made = await gitWithInput(tree, ['pack-objects', '-q', '--incremental', '--local', '--non-empty', `${objects}/pack/pack`], `${ids.join('\n')}\n`);
  if (made.code !== 0) return false;
  return (await gitTry(tree, ['prune-packed', '-q'])).code === 0;
}
