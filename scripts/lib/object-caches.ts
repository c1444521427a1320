// The object caches git trusts as they are, which the code under test can
// write (`.git` stays writable to it): the commit-graph (each commit's tree,
// parents, generation and date, read instead of the commit object by
// `git log --format=%T/%P`, `status`, `merge-base`, checkouts of a commit:
// finalize would replay a tree never measured) and the multi-pack-index (for
// each id, the pack and offset of its bytes: a forged one maps a kept blob's
// id to another object's bytes in a sound pack, so every checkout of the keep
// writes bytes never measured, and no pack changed). Like new packs
// (git-files-guard.ts), they are checked only when they appeared or changed
// during a phase (git's own verify: each commit against its object, each
// offset against its pack's index), and one that fails is renamed out of git's
// sight (`.autoloop-forged`, never deleted). Both are caches: git reads the
// objects themselves without them. The multi-pack-index's own `.rev` and
// bitmap go with the packs' (pack-sidecars.ts).
import fs from 'node:fs';
import path from 'node:path';
import { gitTry } from './gitcmd.ts';
import { statSigOf } from './stat-sig.ts';

type Group = 'graph' | 'midx';

/** The files of each cache under an objects dir (relative to it): what git reads, and what it names. */
function cacheFiles(objects: string): { group: Group; rel: string }[] {
  const out: { group: Group; rel: string }[] = [];
  const add = (group: Group, rel: string) => out.push({ group, rel });
  const list = (rel: string): string[] => {
    try {
      return fs.readdirSync(path.join(objects, rel));
    } catch {
      return [];
    }
  };
  add('graph', 'info/commit-graph');
  add('graph', 'info/commit-graphs');
  for (const n of list('info/commit-graphs')) add('graph', `info/commit-graphs/${n}`);
  add('midx', 'pack/multi-pack-index');
  add('midx', 'pack/multi-pack-index.d');
  for (const n of list('pack/multi-pack-index.d')) add('midx', `pack/multi-pack-index.d/${n}`);
  return out;
}

/** Each cache file present, by stat signature (keyed `group:rel`). Costs a few stats and two readdirs. */
export function cacheSigs(objects: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const { group, rel } of cacheFiles(objects)) {
    const sig = statSigOf(path.join(objects, rel));
    if (sig !== 'absent') out.set(`${group}:${rel}`, sig);
  }
  return out;
}

/** The groups whose files differ between two signature maps (a file new, gone or rewritten). Pure. */
export function changedGroups(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): Set<Group> {
  const out = new Set<Group>();
  for (const k of new Set([...before.keys(), ...after.keys()])) if (before.get(k) !== after.get(k)) out.add(k.split(':')[0] as Group);
  return out;
}

/** A name beside `file` that nothing holds yet (a directory cannot be renamed over one). */
function asideName(file: string): string {
  for (let i = 0; ; i++) {
    const name = `${file}.autoloop-forged${i ? `-${i}` : ''}`;
    if (!fs.existsSync(name)) return name;
  }
}

/**
 * Verify the caches that appeared or changed since `before` (and the
 * multi-pack-index too when a pack was just set aside: it may name it), and
 * rename out of git's sight each group that fails. Returns the paths set aside.
 */
export async function dropForgedCaches(tree: string, objects: string, before: ReadonlyMap<string, string>, packsSetAside: boolean): Promise<string[]> {
  const now = cacheSigs(objects);
  const changed = changedGroups(before, now);
  const present = (g: Group) => [...now.keys()].some((k) => k.startsWith(`${g}:`));
  if (packsSetAside && present('midx')) changed.add('midx');
  const out: string[] = [];
  // The midx first: the commit-graph's verify reads commits through it.
  for (const [group, verify] of [
    ['midx', ['multi-pack-index', 'verify']],
    ['graph', ['commit-graph', 'verify']],
  ] as const) {
    if (!changed.has(group) || !present(group)) continue;
    if ((await gitTry(tree, verify)).code === 0) continue;
    // The top-level names only (a directory goes whole).
    for (const { rel } of cacheFiles(objects).filter((f) => f.group === group && !f.rel.slice(f.rel.indexOf('/') + 1).includes('/'))) {
      const file = path.join(objects, rel);
      if (!fs.existsSync(file)) continue;
      fs.renameSync(file, asideName(file));
      out.push(file);
    }
  }
  return out;
}
