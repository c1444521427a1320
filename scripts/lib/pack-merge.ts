// The packs the loop made of its loose objects (loose-pack.ts: one every
// ~1,000 objects) merged into one once there are MERGE_AT of them: an
// overnight loop otherwise leaves hundreds of small packs, and every git
// process opens each pack's index. Only the loop's own packs are merged:
// each packing names its pack in `.autoloop/loose-packs`, and nothing else
// there is listed (a pack of the user's, or of their `git gc`, is never read
// or removed; a listed pack gc has removed since just leaves the list). The
// same safety as the packing: it runs where the packing does, at the end of a
// phase's settle and never while a candidate's call is in flight; git writes
// the new pack (renamed into place, fsynced); every object of the old packs
// is checked to be in the new one before any old pack goes; and the order
// leaves a valid repository at each step. A kill:
//   - before the new pack is listed: it stays, unlisted (its objects are in
//     the old packs too; nothing lost), and the next merge of the same packs
//     as a rule writes that very pack again, listed this time;
//   - after it is listed, before every old pack is gone: the old ones stay
//     listed and are merged again next time (their objects twice, meanwhile);
//   - between an old pack's index and its pack: the index goes first, so git
//     no longer looks in it; the next merge removes what is left of it.
import fs from 'node:fs';
import path from 'node:path';
import { crashPoint } from './faults.ts';
import { writeFileAtomic } from './fsx.ts';
import { gitWithInput } from './gitcmd.ts';
import { repoPaths } from './paths.ts';

/** The loop's own packs at which they are merged into one. */
export const MERGE_AT = 20;

const HEX = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
/** A pack's files besides its index, removed after it (.keep never: a kept pack is not merged). */
const REST = ['.pack', '.rev', '.bitmap', '.mtimes', '.promisor'];

const listFile = (root: string): string => path.join(repoPaths(root).dir, 'loose-packs');
const packFile = (objects: string, hex: string, ext: string): string => path.join(objects, 'pack', `pack-${hex}${ext}`);

function readList(root: string): string[] {
  try {
    return [...new Set(fs.readFileSync(listFile(root), 'utf8').split('\n').filter((l) => HEX.test(l)))];
  } catch {
    return [];
  }
}

const writeList = (root: string, hexes: readonly string[]): void => writeFileAtomic(listFile(root), hexes.map((h) => `${h}\n`).join(''));

/** Name a pack the loop made (pack-objects' answer: its hash) as the loop's own. */
export function noteLoopPack(root: string, hex: string): void {
  if (!HEX.test(hex)) return;
  try {
    fs.appendFileSync(listFile(root), `${hex}\n`);
  } catch {
    // no state directory (a repository without a loop): the pack is never merged
  }
}

/** The object ids a version 2 pack index names (sorted), or null when it is not one. */
export function idsOfIndex(file: string): string[] | null {
  let b: Buffer;
  try {
    b = fs.readFileSync(file);
  } catch {
    return null;
  }
  if (b.length < 1032 || b.readUInt32BE(0) !== 0xff744f63 || b.readUInt32BE(4) !== 2) return null;
  const n = b.readUInt32BE(8 + 255 * 4);
  // header, fan-out, n ids, n CRCs, n offsets (large offsets: none in packs this small), two checksums.
  const h = [20, 32].find((len) => b.length === 1032 + n * (len + 8) + 2 * len);
  if (h === undefined) return null;
  return Array.from({ length: n }, (_, i) => b.toString('hex', 1032 + i * h, 1032 + (i + 1) * h));
}

/** The loop's packs still there (an index of each), and the list cleaned of the rest (what a killed merge left is removed). */
function livePacks(root: string, objects: string): string[] {
  const listed = readList(root);
  const live: string[] = [];
  for (const hex of listed) {
    if (fs.existsSync(packFile(objects, hex, '.keep'))) continue;
    if (fs.existsSync(packFile(objects, hex, '.idx'))) live.push(hex);
    else for (const ext of REST) fs.rmSync(packFile(objects, hex, ext), { force: true });
  }
  if (live.length !== listed.length) writeList(root, live);
  return live;
}

/** Is every id of `old` (sorted) in `all` (sorted)? */
function within(old: readonly string[], all: readonly string[]): boolean {
  let j = 0;
  for (const id of old) {
    while (j < all.length && all[j]! < id) j++;
    if (all[j] !== id) return false;
  }
  return true;
}

/**
 * Merge the loop's packs into one when there are MERGE_AT of them. Returns how many were merged
 * (0: too few, or the merge failed and every pack stays as it was).
 */
export async function mergeLoopPacks(root: string, tree: string, objects: string, at = MERGE_AT): Promise<number> {
  const live = livePacks(root, objects);
  if (live.length < at) return 0;
  // A multi-pack index (the user's, or their git's) may name these packs: only git rewrites it, so none go.
  if (fs.existsSync(path.join(objects, 'pack', 'multi-pack-index'))) return 0;
  const old = live.map((hex) => idsOfIndex(packFile(objects, hex, '.idx')));
  if (old.some((ids) => ids === null)) return 0;
  // --stdin-packs (git 2.32): every object of the packs named; an older git refuses, and nothing is merged.
  const made = await gitWithInput(tree, ['pack-objects', '-q', '--local', '--stdin-packs', path.join(objects, 'pack', 'pack')], live.map((hex) => `pack-${hex}.pack\n`).join(''));
  const hex = made.stdout.trim();
  if (made.code !== 0 || !HEX.test(hex)) return 0;
  crashPoint('pack-merge:written');
  const all = idsOfIndex(packFile(objects, hex, '.idx'));
  if (!all || !old.every((ids) => within(ids!, all))) return 0;
  const gone = live.filter((h) => h !== hex);
  writeList(root, [...live, hex]);
  crashPoint('pack-merge:listed');
  for (const h of gone) {
    // The index first: git finds a pack by it, so a pack without one is never looked in.
    fs.rmSync(packFile(objects, h, '.idx'), { force: true });
    crashPoint('pack-merge:index-removed');
    for (const ext of REST) fs.rmSync(packFile(objects, h, ext), { force: true });
  }
  writeList(root, readList(root).filter((h) => !gone.includes(h)));
  return gone.length;
}
