// Loose objects a phase of the code under test rewrote. git never checks an
// object's hash when it reads one: a kept commit's blob rewritten in place
// under .git/objects/xx/yyyy (chmod, then new bytes) is read back forged by
// every later revert, the best's tree and finalize. A rewrite changes the
// file's ctime, so only the loose objects whose ctime (or mtime) is not older
// than the phase are read again: inflated and hashed, and compared with their
// name (a few stats per loose object, nothing read when none changed). One
// that is not what its name says is set aside (`.autoloop-forged`, never
// deleted), and made again where a file of the tree (tracked, or untracked and
// not ignored: the measured change) still holds its bytes (git ls-files, only
// then); otherwise git reports it missing (loudly) instead of reading it forged.
// The stat per loose object is why a settle packs them once there are many
// (loose-pack.ts): their count stays bounded however long the loop runs.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { blobIdOfFile } from './blob-id.ts';
import { gitTry } from './gitcmd.ts';
import { MAX_IN_PROCESS, writeBlob, zlib } from './loose-object.ts';

/** Timestamps are coarse (a kernel tick): a write at the phase's start may read as a little before it. */
const SLACK_MS = 50;
const FAN = /^[0-9a-f]{2}$/;
const NAME = /^(?:[0-9a-f]{38}|[0-9a-f]{62})$/;

/** The loose objects (their ids): all of them, and those changed since `sinceMs`. */
export function looseScan(objects: string, sinceMs: number): { all: string[]; changed: string[] } {
  const all: string[] = [];
  const out: string[] = [];
  let fans: string[] = [];
  try {
    fans = fs.readdirSync(objects).filter((n) => FAN.test(n));
  } catch {
    return { all, changed: out };
  }
  for (const fan of fans) {
    // Joined by hand: a long loop holds up to PACK_AT loose objects, stated after every phase (path.join normalises each).
    const dir = `${objects}${path.sep}${fan}${path.sep}`;
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      if (!NAME.test(n)) continue;
      all.push(fan + n);
      const st = fs.lstatSync(dir + n, { throwIfNoEntry: false });
      if (st && Math.max(st.ctimeMs, st.mtimeMs) >= sinceMs - SLACK_MS) out.push(fan + n);
    }
  }
  return { all, changed: out };
}

/** The loose objects (their ids) changed since `sinceMs`. */
export const looseChangedSince = (objects: string, sinceMs: number): string[] => looseScan(objects, sinceMs).changed;

/** Objects up to this size, compressed and inflated, are read at once: the stream machinery costs more than they do. */
const READ_WHOLE = 1024 * 1024;

/** A loose object's bytes hash to its name (false: not, or not readable as one). A large one is streamed: an object may be gigabytes. */
export async function looseSound(objects: string, id: string): Promise<boolean> {
  const file = path.join(objects, id.slice(0, 2), id.slice(2));
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st?.isFile()) return false;
  const whole = st.size <= READ_WHOLE ? inflatedWhole(file) : null;
  if (whole === false) return false;
  const hash = createHash(id.length === 64 ? 'sha256' : 'sha1');
  if (whole) hash.update(whole);
  else {
    try {
      await pipeline(fs.createReadStream(file), zlib().createInflate(), async function* (chunks: AsyncIterable<Buffer>) {
        for await (const c of chunks) hash.update(c);
      });
    } catch {
      return false;
    }
  }
  return hash.digest('hex') === id;
}

/** A small object's inflated bytes; null when they pass READ_WHOLE (a well-compressed large blob: streamed); false when unreadable. */
function inflatedWhole(file: string): Buffer | null | false {
  try {
    return zlib().inflateSync(fs.readFileSync(file), { maxOutputLength: READ_WHOLE });
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? null : false;
  }
}

/** A forged loose object: its id, its ctime when found (ms), its path relative to the tree. */
export interface ForgedLoose {
  id: string;
  ctime: number;
  path: string;
}

/** How much of the tree is hashed looking for a forged blob's bytes (only once one is found). */
const SOURCE_FILES = 20_000;

/** Files of the tree (tracked, or untracked and not ignored) holding the bytes of these blobs, by id. */
async function sourcesOf(tree: string, ids: Set<string>): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const r = await gitTry(tree, ['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
  if (r.code !== 0) return found;
  const hexLen = [...ids][0]!.length;
  for (const rel of [...new Set(r.stdout.split('\0'))].slice(0, SOURCE_FILES)) {
    if (!rel || found.size === ids.size) break;
    const file = path.join(tree, rel);
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (!st?.isFile() || st.size > MAX_IN_PROCESS) continue;
    const id = blobIdOfFile(file, st.size, hexLen);
    if (id && ids.has(id)) found.set(id, file);
  }
  return found;
}

/**
 * The loose objects changed since `sinceMs` that are not what their names say: set aside, and made
 * again where a file of `tree` holds their bytes. Returns their paths (relative to `tree`); `seen`
 * gets the ids of the loose objects left sound (what loose-pack.ts may pack).
 */
export async function dropForgedLoose(tree: string, objects: string, sinceMs: number, seen?: string[], onForged?: (found: ForgedLoose[]) => void): Promise<string[]> {
  const forged: string[] = [];
  const { all, changed } = looseScan(objects, sinceMs);
  for (const id of changed) if (!(await looseSound(objects, id))) forged.push(id);
  if (seen) {
    const bad = new Set(forged);
    for (const id of all) if (!bad.has(id)) seen.push(id);
  }
  if (!forged.length) return [];
  // Told before they are set aside: a phase beside this one that no longer sees them sees what was found (loose-blame.ts).
  onForged?.(forged.map((id) => ({ id, ctime: fs.lstatSync(path.join(objects, id.slice(0, 2), id.slice(2)), { throwIfNoEntry: false })?.ctimeMs ?? Date.now(), path: path.relative(tree, path.join(objects, id.slice(0, 2), id.slice(2))) })));
  for (const id of forged) {
    const file = path.join(objects, id.slice(0, 2), id.slice(2));
    let aside = `${file}.autoloop-forged`;
    for (let i = 1; fs.existsSync(aside); i++) aside = `${file}.autoloop-forged-${i}`;
    fs.renameSync(file, aside);
  }
  const sources = await sourcesOf(tree, new Set(forged));
  for (const [id, file] of sources) writeBlob(objects, fs.readFileSync(file), id.length);
  return forged.map((id) => path.relative(tree, path.join(objects, id.slice(0, 2), id.slice(2))));
}
