// The tree of a keep, built in this process: the best's tree with exactly the
// kept paths replaced by their measured blobs (or removed). It is what git's
// read-tree, update-index --index-info and write-tree (three processes) make
// in a private index, and it is built only when every tree it has to read is
// a loose object (the engine's own keeps write their trees loose, so after a
// first keep in a directory the path down to it is); anything else (a packed
// tree, a file becoming a directory or the reverse, a path git would refuse)
// returns null and the caller lets git build it. Untouched subtrees are
// reused by id, never rewritten.
import fs from 'node:fs';
import path from 'node:path';
import { writeObject, zlib } from './loose-object.ts';

/** A kept path's new content: mode and blob id, or null for a deletion. */
export type Change = { mode: number; id: string } | null;

export interface Entry {
  mode: string;
  /** The name's bytes as a latin1 string: one char per byte, so string order is git's byte order. */
  name: string;
  id: string;
}

const TREE = '40000';

/** A loose object's type and body, or null (absent, packed, unreadable). */
export function readLoose(objects: string, id: string): { type: string; body: Buffer } | null {
  try {
    const raw = zlib().inflateSync(fs.readFileSync(path.join(objects, id.slice(0, 2), id.slice(2))));
    const nul = raw.indexOf(0);
    const [type, size] = raw.subarray(0, nul).toString('latin1').split(' ');
    const body = raw.subarray(nul + 1);
    return type && Number(size) === body.length ? { type, body } : null;
  } catch {
    return null;
  }
}

export function parseTree(body: Buffer, hexLen: number): Entry[] | null {
  const out: Entry[] = [];
  const idLen = hexLen / 2;
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    const nul = body.indexOf(0, sp + 1);
    if (sp < 0 || nul < 0 || nul + 1 + idLen > body.length) return null;
    out.push({ mode: body.toString('latin1', i, sp), name: body.toString('latin1', sp + 1, nul), id: body.toString('hex', nul + 1, nul + 1 + idLen) });
    i = nul + 1 + idLen;
  }
  return out;
}

const sortKey = (e: Entry): string => (e.mode === TREE ? `${e.name}/` : e.name);

function serialize(entries: Entry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  return Buffer.concat(sorted.flatMap((e) => [Buffer.from(`${e.mode} ${e.name}\0`, 'latin1'), Buffer.from(e.id, 'hex')]));
}

/** The entries of a loose tree; [] for none (a new directory); null when it cannot be read here. */
function entriesOf(objects: string, id: string | null, hexLen: number): Entry[] | null {
  if (id === null) return [];
  const o = readLoose(objects, id);
  return o?.type === 'tree' ? parseTree(o.body, hexLen) : null;
}

/** The new tree's id (written), '' when it ends up empty, null when git must build it. */
function build(objects: string, treeId: string | null, changes: Map<string, Change>, hexLen: number, root: boolean): string | null {
  const entries = entriesOf(objects, treeId, hexLen);
  if (!entries) return null;
  const byName = new Map(entries.map((e) => [e.name, e]));
  const leaves = new Map<string, Change>();
  const below = new Map<string, Map<string, Change>>();
  for (const [p, c] of changes) {
    const slash = p.indexOf('/');
    if (slash < 0) leaves.set(p, c);
    else {
      const head = p.slice(0, slash);
      if (!below.has(head)) below.set(head, new Map());
      below.get(head)!.set(p.slice(slash + 1), c);
    }
  }
  for (const [name, c] of leaves) {
    if (!name || name === '.' || name === '..' || name === '.git' || below.has(name)) return null;
    const old = byName.get(name);
    if (old && (old.mode === TREE || old.mode === '160000')) return null; // a directory or a submodule where a file is kept
    if (c) byName.set(name, { mode: c.mode.toString(8), name, id: c.id });
    else byName.delete(name);
  }
  for (const [name, sub] of below) {
    if (!name || name === '.' || name === '..' || name === '.git') return null;
    const old = byName.get(name);
    if (old && old.mode !== TREE) return null; // a file (or submodule) where a directory is kept
    const id = build(objects, old?.id ?? null, sub, hexLen, false);
    if (id === null) return null;
    if (id === '') byName.delete(name);
    else byName.set(name, { mode: TREE, name, id });
  }
  if (byName.size === 0 && !root) return '';
  return writeObject(objects, 'tree', serialize([...byName.values()]), hexLen);
}

/**
 * The tree of `commit` (a loose commit object) with `changes` applied (paths
 * relative to the top, '/'-separated), written as loose objects; null when
 * git must build it.
 */
export function keepTree(objects: string, commit: string, changes: Record<string, Change>): string | null {
  const hexLen = commit.length;
  const c = readLoose(objects, commit);
  if (c?.type !== 'commit') return null;
  const m = /^tree ([0-9a-f]+)\n/.exec(c.body.toString('latin1', 0, 100));
  if (!m?.[1] || m[1].length !== hexLen) return null;
  const latin = new Map(Object.entries(changes).map(([p, ch]) => [Buffer.from(p, 'utf8').toString('latin1'), ch] as const));
  try {
    return build(objects, m[1], latin, hexLen, true);
  } catch {
    return null;
  }
}
