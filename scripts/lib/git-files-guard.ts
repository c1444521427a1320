// The files git cannot work without, as a phase of the code under test found
// them. `.git` stays writable to it, and a benchmark that leaves garbage in
// `.git/index`, `HEAD`, `packed-refs`, the experiment's branch ref, or a
// config line git cannot parse, makes every later git command fail, the
// engine's first one included: a loop stuck for good, `repair` too. Their
// bytes are kept when the phase starts and put back when git could no longer
// read what the phase left (or it is gone; for the config: a repository git
// can no longer open with it, e.g. an unknown repositoryformatversion or
// extension); a change git can read is left as
// it is (a tool the benchmark runs may set a config value, as husky sets
// core.hooksPath; HEAD on another branch is reattach's, the branch moved is
// the engine's refusal with its repair path).
import fs from 'node:fs';
import { dropForgedLoose, type ForgedLoose } from './loose-forged.ts';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gitDirsOf, type GitDirs } from './git-dirs.ts';
import { gitTry } from './gitcmd.ts';
import { writeFileAtomic } from './fsx.ts';
import { readOrNull } from './stat-sig.ts';
import { cacheSigs, dropForgedCaches } from './object-caches.ts';
import { dropForgedSidecars, packDirSigs, sidecarSigs } from './pack-sidecars.ts';

type Kind = 'index' | 'head' | 'config' | 'packed-refs' | 'ref';

export interface GitFiles {
  tree: string;
  /** mtime: the index's, kept so that a restored index keeps git's racy-entry check (below). */
  files: { file: string; kind: Kind; bytes: Buffer | null; mtime?: Date }[];
  /**
   * The object store's packs (objects/pack/*.idx, *.pack) by stat signature, its alternates file's
   * bytes, the object caches git trusts as they are (object-caches.ts) by stat signature, and the
   * files that rewrite history (`shallow`, `info/grafts`) or point git at another repository (the tree's
   * git dir's `commondir`) with their bytes, and the packs' `.rev` and
   * `.bitmap` files by stat signature (pack-sidecars.ts).
   */
  objects: {
    dir: string;
    packs: Map<string, string>;
    alternates: Buffer | null;
    caches: Map<string, string>;
    history: { file: string; bytes: Buffer | null }[];
    sidecars: Map<string, string>;
    /** When the phase began (ms): loose objects changed since are hashed again (loose-forged.ts); absent from an older copy. */
    since?: number;
  };
}

/** The pack files of an objects dir, by stat signature. */
const packSigs = (objects: string): Map<string, string> => packDirSigs(objects, /\.(?:idx|pack)$/);

/**
 * Files that make git see other parents for a commit: `shallow` (these commits have none; a line git
 * cannot parse fails every command that walks history) and the deprecated `info/grafts` (any parents).
 * Either, planted, made finalize refuse the keeps ("does not apply on the changes before it").
 */
const HISTORY = ['shallow', path.join('info', 'grafts')];

/** Where those files are for a work tree's git dirs (`branch`: the experiment's, whose ref is kept too). */
export function layout(dirs: GitDirs, branch: string | null): { files: [string, Kind][]; objects: string; history: string[] } {
  // The refs before the config: the config's check resolves HEAD, so they are put back first.
  const files: [string, Kind][] = [
    [path.join(dirs.gitDir, 'index'), 'index'],
    [path.join(dirs.gitDir, 'HEAD'), 'head'],
    [path.join(dirs.commonDir, 'packed-refs'), 'packed-refs'],
    ...(branch ? [[path.join(dirs.commonDir, 'refs', 'heads', branch), 'ref'] as [string, Kind]] : []),
    // Read when extensions.worktreeConfig is on (the phase can turn it on): a bad line there fails every
    // command too. Before the config: the config that turned it on can stay.
    [path.join(dirs.gitDir, 'config.worktree'), 'config'],
    [path.join(dirs.commonDir, 'config'), 'config'],
  ];
  // The tree's own `commondir` too: one written into a main repository's `.git` (git writes it only in a linked
  // worktree's git dir) sent every later git command, the engine's included, to another repository: its objects
  // (a kept blob's id read as other bytes), its refs (keeps landed there, the branch here stopped) and its config.
  const commondir = path.join(dirs.gitDir, 'commondir');
  return { files, objects: path.join(dirs.commonDir, 'objects'), history: [...HISTORY.map((f) => path.join(dirs.commonDir, f)), commondir] };
}

/** The files of the repository whose work tree is `tree` that git needs to read (null: not a git work tree). */
export function keepGitFiles(tree: string, branch: string | null): GitFiles | null {
  const dirs = gitDirsOf(tree);
  if (!dirs) return null;
  const { files, objects, history } = layout(dirs, branch);
  return {
    tree,
    files: files.map(([file, kind]) => {
      const bytes = readOrNull(file);
      const mtime = kind === 'index' && bytes ? fs.statSync(file, { throwIfNoEntry: false })?.mtime : undefined;
      return { file, kind, bytes, ...(mtime ? { mtime } : {}) };
    }),
    objects: {
      dir: objects,
      packs: packSigs(objects),
      alternates: readOrNull(path.join(objects, 'info', 'alternates')),
      caches: cacheSigs(objects),
      history: history.map((file) => ({ file, bytes: readOrNull(file) })),
      sidecars: sidecarSigs(objects),
      since: Date.now(),
    },
  };
}

/**
 * A `commondir` in the `.git` directory of the work tree `tree` (a main repository, where git never
 * writes one; see layout): set aside, never deleted. Checked at each call under the repository's lock,
 * so one left by a phase whose engine was killed (and its copy of git's files removed) goes too.
 * Returns the path set aside, or null.
 */
export function dropMainCommondir(tree: string): string | null {
  const dotGit = path.join(tree, '.git');
  if (!fs.lstatSync(dotGit, { throwIfNoEntry: false })?.isDirectory()) return null;
  const file = path.join(dotGit, 'commondir');
  if (!fs.lstatSync(file, { throwIfNoEntry: false })) return null;
  let aside = `${file}.autoloop-forged`;
  for (let i = 1; fs.existsSync(aside); i++) aside = `${file}.autoloop-forged-${i}`;
  fs.renameSync(file, aside);
  return file;
}

/**
 * Whether git would read this index: its trailer is the hash of what precedes
 * it (sha1 or sha256, as the repository's), or zeros (index.skipHash).
 */
export function indexReadable(bytes: Buffer): boolean {
  if (bytes.length < 12 + 20 || bytes.toString('latin1', 0, 4) !== 'DIRC') return false;
  for (const [algo, len] of [['sha1', 20], ['sha256', 32]] as const) {
    if (bytes.length < 12 + len) continue;
    const trailer = bytes.subarray(bytes.length - len);
    if (trailer.every((b) => b === 0)) return true;
    if (createHash(algo).update(bytes.subarray(0, bytes.length - len)).digest().equals(trailer)) return true;
  }
  return false;
}

const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const PACKED_LINE = /^(?:#.*|\^[0-9a-f]{40,64}|[0-9a-f]{40,64} refs\/\S.*)$/;

/** The lines of a packed-refs file git can read (a peeled line only after a ref line it belongs to). */
function validPackedRefs(now: Buffer): string {
  const out: string[] = [];
  let peelable = false;
  for (const l of now.toString('latin1').split('\n')) {
    if (l === '' || !PACKED_LINE.test(l) || (l.startsWith('^') && !peelable)) continue;
    peelable = !l.startsWith('#') && !l.startsWith('^');
    out.push(l);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** Whether git can read this file as it is now (`now` null: gone, or not a file). */
async function readable(tree: string, kind: Kind, now: Buffer | null): Promise<boolean> {
  if (now === null) return false;
  const text = now.toString('latin1');
  switch (kind) {
    case 'index':
      return indexReadable(now);
    case 'head':
      return /^ref: refs\/\S+\n?$/.test(text) || OID.test(text.replace(/\n$/, ''));
    case 'ref':
      // An id only: the experiment's branch made a symbolic ref (to main) sent every later check and
      // update of it to that other branch (every call, repair too, refused "the work tree is on main").
      return OID.test(text.replace(/\n$/, ''));
    case 'packed-refs':
      return text.split('\n').every((l) => l === '' || PACKED_LINE.test(l));
    case 'config':
      // Not `git config --list`: with a repositoryformatversion or an extension git does not know
      // (objectformat sha256 over sha1 objects) it still answers, while every command that opens the
      // repository fails. Resolving HEAD opens it, parses every config file and reads with its format.
      return (await gitTry(tree, ['rev-parse', '--verify', '-q', 'HEAD^{commit}'])).code === 0;
  }
}

/** Put back what git can no longer read; returns the names put back (relative to the tree). */
export async function restoreDamagedGitFiles(kept: GitFiles): Promise<string[]> {
  const out: string[] = [];
  for (const { file, kind, bytes, mtime } of kept.files) {
    const now = readOrNull(file);
    const present = fs.lstatSync(file, { throwIfNoEntry: false }) !== undefined;
    if (present ? now !== null && bytes !== null && now.equals(bytes) : bytes === null) continue;
    if (await readable(kept.tree, kind, now)) continue;
    // A directory in its place (no git makes one) goes first.
    fs.rmSync(file, { force: true, recursive: true });
    // packed-refs: the lines git can read stay (a pack-refs in the phase moved refs there); a file that was not there goes.
    if (kind === 'packed-refs' && now) writeFileAtomic(file, validPackedRefs(now));
    else if (bytes) writeFileAtomic(file, bytes);
    // git trusts an index entry whose stat matches the file unless the entry is as new as the index
    // itself (racy git). Written now, the index would be newer than every entry: a file rewritten with
    // the same size within its entry's second (an edit just before the run) would pass for the blob the
    // index names. Its old time keeps those entries racy, so git compares their content.
    if (bytes && mtime) fs.utimesSync(file, mtime, mtime);
    out.push(path.relative(kept.tree, file) || file);
  }
  return out;
}

/** Whether git's own check passes: each object's hash against its id (not through a multi-pack-index, whose forgery would fail a sound pack). */
async function packSound(tree: string, idx: string): Promise<boolean> {
  return (await gitTry(tree, ['-c', 'core.multiPackIndex=false', 'verify-pack', idx])).code === 0;
}

/**
 * A pack that failed its check: its index (what maps an id to bytes, and what lies) renamed out of
 * git's sight and made again from the pack's bytes (`index-pack` hashes each object for its id).
 * A `git repack -ad` leaves every object of the repository in one pack: set aside whole for a lying
 * index, it took them all (`bad object HEAD` on every later call, repair too). Returns false when the
 * pack's bytes themselves are bad: then it goes aside whole, as before.
 */
async function reindexPack(tree: string, base: string): Promise<boolean> {
  const aside = (ext: string) => {
    const f = `${base}.${ext}`;
    if (fs.existsSync(f)) fs.renameSync(f, `${f}.autoloop-forged`);
  };
  for (const ext of ['idx', 'rev', 'bitmap', 'mtimes']) aside(ext);
  if (fs.existsSync(`${base}.pack`) && (await gitTry(tree, ['index-pack', `${base}.pack`])).code === 0 && (await packSound(tree, `${base}.idx`))) return true;
  fs.rmSync(`${base}.idx`, { force: true });
  for (const ext of ['pack', 'keep', 'promisor']) aside(ext);
  return false;
}

/**
 * Objects the phase planted that are not what their ids say. git never checks
 * an object's hash when it reads one, and reads packs before loose objects: a
 * pack whose index maps a kept blob's id to other bytes (or an alternates file
 * naming a store that holds such a pack) would make every later checkout of
 * the keep (a revert, the best's tree, finalize) give bytes never measured. A
 * pack that is new or changed since the phase began is verified (`git
 * verify-pack` hashes each object; a `git gc` in the phase costs that once);
 * one that fails is renamed out of git's sight (`.autoloop-forged`, never
 * deleted). The alternates file is put back as it was: the engine never needs
 * one the code under test made. Returns what was set aside or put back;
 * `opts.loose` gets the ids of the loose objects found sound (loose-pack.ts).
 */
export async function dropForgedObjects(kept: GitFiles, opts: { stores?: boolean; loose?: string[]; onLoose?: (found: ForgedLoose[]) => void } = {}): Promise<string[]> {
  const { dir, packs, alternates, caches, history, sidecars } = kept.objects;
  const out: string[] = [];
  // The alternates, the shallow and graft files: the engine never needs one the code under test made or changed.
  // (Not from a copy read back from disk, which code under test may have written: git-kept-trust.ts.)
  for (const { file, bytes } of opts.stores === false ? [] : [{ file: path.join(dir, 'info', 'alternates'), bytes: alternates }, ...history]) {
    const now = readOrNull(file);
    if (bytes === null ? now === null && !fs.existsSync(file) : now !== null && now.equals(bytes)) continue;
    fs.rmSync(file, { force: true, recursive: true });
    if (bytes) writeFileAtomic(file, bytes);
    out.push(path.relative(kept.tree, file));
  }
  const now = packSigs(dir);
  const same = (n: string) => packs.get(n) === now.get(n);
  const setAside: string[] = [];
  for (const name of now.keys()) {
    if (!name.endsWith('.idx')) continue;
    const base = name.slice(0, -'.idx'.length);
    if (same(name) && same(`${base}.pack`)) continue;
    if (await packSound(kept.tree, path.join(dir, 'pack', name))) continue;
    if (!(await reindexPack(kept.tree, path.join(dir, 'pack', base)))) setAside.push(base);
    out.push(path.relative(kept.tree, path.join(dir, 'pack', `${base}.pack`)));
  }
  out.push(...(await dropForgedCaches(kept.tree, dir, caches, setAside.length > 0)).map((f) => path.relative(kept.tree, f)));
  // After the packs: one made again has its .rev set aside already, and a .rev is checked against the .idx as it now is.
  out.push(...dropForgedSidecars(dir, sidecars).map((f) => path.relative(kept.tree, f)));
  if (kept.objects.since !== undefined) out.push(...(await dropForgedLoose(kept.tree, dir, kept.objects.since, opts.loose, opts.onLoose)));
  return out;
}
