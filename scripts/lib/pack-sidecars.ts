// The files git keeps beside a pack (or a multi-pack-index) that say where
// things are, never what they are: the reverse index (`.rev`: the objects in
// pack order) and the reachability bitmap (`.bitmap`). `.git` stays writable
// to the code under test, and git trusts both as they are: a forged `.rev`
// beside a sound pack made `git rev-list --use-bitmap-index` list another
// commit's blob and `git pack-objects --stdout` (push, or a clone or fetch
// from this repository) die "offset beyond end of packfile"; a forged bitmap
// gives bitmap walks other objects. Neither can change what an object's id
// reads as: git finds an object through the `.idx` (checked with its pack,
// git-files-guard.ts) and reads its bytes from the pack, and every command the
// engine runs (cat-file, show, ls-tree, checkout, read-tree, merge-tree,
// cherry-pick, commit-tree, rev-list without bitmaps) reads no `.rev` or
// bitmap; a receiving git hashes every object it is sent. Still, one the code
// under test left would break the user's push or clone after the loop, so
// those that appeared or changed during a phase are checked: a pack's `.rev`
// against its `.idx` (recomputed here: it is the idx's offsets in order), and
// a bitmap or a multi-pack-index's `.rev` (which the engine cannot check
// cheaply) set aside, as git does without either (it builds the reverse index
// in memory and walks without bitmaps; the next `git gc` writes new ones).
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { statSigOf } from './stat-sig.ts';

/** The files of an objects dir's `pack/` whose names match, by stat signature (none when it has no `pack/`). */
export function packDirSigs(objects: string, names: RegExp): Map<string, string> {
  const out = new Map<string, string>();
  let all: string[] = [];
  try {
    all = fs.readdirSync(path.join(objects, 'pack'));
  } catch {
    return out;
  }
  for (const n of all) if (names.test(n)) out.set(n, statSigOf(path.join(objects, 'pack', n)));
  return out;
}

/** The `.rev` and `.bitmap` files of an objects dir's packs and multi-pack-index, by stat signature. */
export const sidecarSigs = (objects: string): Map<string, string> => packDirSigs(objects, /\.(?:rev|bitmap)$/);

/** The pack offset of each object of a pack index (v1 or v2), in index order; null when it cannot be read. */
function idxOffsets(idx: Buffer, hashLen: number): { offsets: bigint[]; packSum: Buffer } | null {
  const v2 = idx.length >= 8 && idx.readUInt32BE(0) === 0xff744f63;
  if (v2 && idx.readUInt32BE(4) !== 2) return null;
  const fan = v2 ? 8 : 0;
  if (idx.length < fan + 1024 + 2 * hashLen) return null;
  const n = idx.readUInt32BE(fan + 255 * 4);
  const offsets: bigint[] = [];
  if (v2) {
    const off = fan + 1024 + n * (hashLen + 4);
    const large = off + 4 * n;
    if (idx.length < large + 2 * hashLen) return null;
    for (let i = 0; i < n; i++) {
      const o = idx.readUInt32BE(off + 4 * i);
      if (!(o & 0x80000000)) offsets.push(BigInt(o));
      else {
        const at = large + 8 * (o & 0x7fffffff);
        if (at + 8 > idx.length - 2 * hashLen) return null;
        offsets.push(idx.readBigUInt64BE(at));
      }
    }
  } else {
    if (idx.length < 1024 + n * (4 + hashLen) + 2 * hashLen) return null;
    for (let i = 0; i < n; i++) offsets.push(BigInt(idx.readUInt32BE(1024 + i * (4 + hashLen))));
  }
  const end = idx.length - 2 * hashLen;
  return { offsets, packSum: idx.subarray(end, end + hashLen) };
}

/**
 * Whether a `.rev` is the one git would write for this `.idx`: its header, the
 * index positions sorted by pack offset, the pack's checksum (as the idx has
 * it) and its own trailing checksum. Pure.
 */
export function revIndexSound(idx: Buffer, rev: Buffer): boolean {
  if (rev.length < 12 || rev.toString('latin1', 0, 4) !== 'RIDX' || rev.readUInt32BE(4) !== 1) return false;
  const algo = rev.readUInt32BE(8) === 1 ? 'sha1' : rev.readUInt32BE(8) === 2 ? 'sha256' : null;
  if (!algo) return false;
  const hashLen = algo === 'sha1' ? 20 : 32;
  const read = idxOffsets(idx, hashLen);
  if (!read) return false;
  const n = read.offsets.length;
  if (rev.length !== 12 + 4 * n + 2 * hashLen) return false;
  const order = [...read.offsets.keys()].sort((a, b) => (read.offsets[a]! < read.offsets[b]! ? -1 : read.offsets[a]! > read.offsets[b]! ? 1 : 0));
  for (let i = 0; i < n; i++) if (rev.readUInt32BE(12 + 4 * i) !== order[i]) return false;
  const sums = 12 + 4 * n;
  if (!rev.subarray(sums, sums + hashLen).equals(read.packSum)) return false;
  return createHash(algo).update(rev.subarray(0, sums + hashLen)).digest().equals(rev.subarray(sums + hashLen));
}

function readOrNull(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch {
    return null;
  }
}

/** A name beside `file` that nothing holds yet. */
function asideName(file: string, suffix: string): string {
  for (let i = 0; ; i++) {
    const name = `${file}.${suffix}${i ? `-${i}` : ''}`;
    if (!fs.existsSync(name)) return name;
  }
}

/**
 * The sidecars that appeared or changed since `before`: a pack's `.rev` that
 * does not match its `.idx` is renamed out of git's sight and returned (a
 * forgery); a bitmap, or a multi-pack-index's `.rev`, is renamed out of sight
 * and not returned (a cache the engine cannot check, which a sound git writes
 * too: `.autoloop-aside`). Renamed, never deleted.
 */
export function dropForgedSidecars(objects: string, before: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [name, sig] of sidecarSigs(objects)) {
    if (before.get(name) === sig) continue;
    const file = path.join(objects, 'pack', name);
    if (name.startsWith('pack-') && name.endsWith('.rev')) {
      const idx = readOrNull(file.replace(/\.rev$/, '.idx'));
      const rev = readOrNull(file);
      // A .rev without its .idx is read by nothing.
      if (!idx) continue;
      if (rev && revIndexSound(idx, rev)) continue;
      fs.renameSync(file, asideName(file, 'autoloop-forged'));
      out.push(file);
      continue;
    }
    if (fs.existsSync(file)) fs.renameSync(file, asideName(file, 'autoloop-aside'));
  }
  return out;
}
