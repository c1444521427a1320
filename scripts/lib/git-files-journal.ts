// The git files a phase of the code under test found (git-files-guard.ts), on
// disk for the length of the phase. Held only in memory, they died with an
// engine killed mid-phase (kill -9, the OOM killer, a closed machine): a
// benchmark that left `.git/config` unparsable then failed every later call,
// `control repair` included. Each phase's copy lives in
// `.autoloop/git-kept/<pid>.<start>.<n>/` (the copies, then `kept.json` last:
// a folder without it is being written, or was cut off before its phase began;
// its name says whose it is), and goes when the phase's
// checks are done. The next call that takes the repository's lock (run, log,
// init, chain, a candidate's, control) finds the copies whose engine is gone
// and does for them what that engine would have: puts back what git can no
// longer read, sets aside forged objects; then removes the copy. Under the
// `readonly` containment `.autoloop/` is read-only to the code under test;
// elsewhere it can write a copy itself: what a copy says is checked first
// (git-kept-trust.ts).
import fs from 'node:fs';
import path from 'node:path';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import { repoPaths } from './paths.ts';
import { writeFileAtomic } from './fsx.ts';
import { pidAlive, procStart } from './procs.ts';
import { crashPoint } from './faults.ts';
import { notePacked, packLoose, packNext, packWanted } from './loose-pack.ts';
import { dropForgedObjects, dropMainCommondir, keepGitFiles, restoreDamagedGitFiles, type GitFiles } from './git-files-guard.ts';
import { foreignCopy, settleStoresFromCopy } from './git-kept-trust.ts';
import { findDotGit, holdDotGit, restoreDotGit, type DotGit } from './dot-git.ts';
import type { ForgedLoose } from './loose-forged.ts';
import { recoverLentModes } from './owner-write-journal.ts';
import { mergeLoopPacks, noteLoopPack } from './pack-merge.ts';

// Built on first use: only a journal left by a killed call is read.
const Kept = lazySchema(() => z.object({
  pid: z.number(),
  start: z.nullable(z.string()),
  tree: z.string(),
  files: z.array(z.object({ file: z.string(), kind: z.enum(['index', 'head', 'config', 'packed-refs', 'ref']), copy: z.nullable(z.string()), mtime: z.optional(z.number()) })),
  // The tree's `.git` directory as the phase found it (dot-git.ts), absent from a copy of an earlier engine.
  dotGit: z.optional(z.object({ dev: z.number(), ino: z.number() })),
  objects: z.object({
    dir: z.string(),
    packs: z.array(z.tuple([z.string(), z.string()])),
    alternates: z.nullable(z.string()),
    caches: z.array(z.tuple([z.string(), z.string()])),
    history: z.array(z.object({ file: z.string(), copy: z.nullable(z.string()) })),
    // Absent from a copy written before they were kept: every sidecar then counts as new (checked, or set aside).
    sidecars: z.optional(z.array(z.tuple([z.string(), z.string()]))),
    // Absent from a copy written before it was kept: loose objects are not hashed again.
    since: z.optional(z.number()),
  }),
}));

const keptRoot = (root: string) => path.join(repoPaths(root).dir, 'git-kept');

/** This process's copies whose phase is still open: never recovered by itself. */
const open = new Set<string>();
let serial = 0;

/** Write `kept` to disk before its phase; returns the copy's folder. */
export function persistGitFiles(root: string, kept: GitFiles, dotGit: DotGit | null = null): string {
  // The name says whose it is before kept.json does: a candidate's phase is written while another call recovers.
  const dir = path.join(keptRoot(root), `${process.pid}.${procStart(process.pid) ?? 'x'}.${Date.now().toString(36)}${serial++}`);
  fs.mkdirSync(dir, { recursive: true });
  open.add(dir);
  const copy = (name: string, bytes: Buffer | null): string | null => {
    if (bytes === null) return null;
    fs.writeFileSync(path.join(dir, name), bytes);
    return name;
  };
  const record: z.infer<typeof Kept> = {
    pid: process.pid,
    start: procStart(process.pid),
    tree: kept.tree,
    ...(dotGit && dotGit.bytes === null ? { dotGit: { dev: dotGit.dev, ino: dotGit.ino } } : {}),
    files: kept.files.map((f, i) => ({ file: f.file, kind: f.kind, copy: copy(String(i), f.bytes), ...(f.mtime ? { mtime: f.mtime.getTime() } : {}) })),
    objects: {
      dir: kept.objects.dir,
      packs: [...kept.objects.packs],
      alternates: copy('alternates', kept.objects.alternates),
      caches: [...kept.objects.caches],
      history: kept.objects.history.map((h, i) => ({ file: h.file, copy: copy(`history-${i}`, h.bytes) })),
      sidecars: [...kept.objects.sidecars],
      ...(kept.objects.since !== undefined ? { since: kept.objects.since } : {}),
    },
  };
  crashPoint('git-kept:copied');
  writeFileAtomic(path.join(dir, 'kept.json'), JSON.stringify(record), { durable: false });
  return dir;
}

/** The phase's checks are done: its copy goes. */
export function forgetGitFiles(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  open.delete(dir);
}

/** The engine named by a copy's folder (`<pid>.<start>.<n>`; `<pid>.<n>` from before the start was named): still alive? */
function ownerAlive(name: string): boolean {
  const [pid, start, ...rest] = name.split('.');
  const n = Number(pid);
  if (!Number.isInteger(n) || n === process.pid) return false;
  return pidAlive(n, rest.length && start !== 'x' ? (start ?? null) : null);
}

/** A copy read back, or null when it is not whole (no kept.json, one that does not parse, a copy gone: cut off, being written, or being removed). */
function readKept(dir: string): { record: z.infer<typeof Kept>; kept: GitFiles } | null {
  try {
    return readKeptWhole(dir);
  } catch {
    return null;
  }
}

function readKeptWhole(dir: string): { record: z.infer<typeof Kept>; kept: GitFiles } | null {
  const r = Kept.safeParse(JSON.parse(fs.readFileSync(path.join(dir, 'kept.json'), 'utf8')));
  if (!r.success) return null;
  const record = r.data;
  const bytes = (name: string | null) => (name === null ? null : fs.readFileSync(path.join(dir, path.basename(name))));
  return {
    record,
    kept: {
      tree: record.tree,
      files: record.files.map((f) => ({ file: f.file, kind: f.kind, bytes: bytes(f.copy), ...(f.mtime !== undefined ? { mtime: new Date(f.mtime) } : {}) })),
      objects: {
        dir: record.objects.dir,
        packs: new Map(record.objects.packs),
        alternates: bytes(record.objects.alternates),
        caches: new Map(record.objects.caches),
        history: record.objects.history.map((h) => ({ file: h.file, bytes: bytes(h.copy) })),
        sidecars: new Map(record.objects.sidecars ?? []),
        ...(record.objects.since !== undefined ? { since: record.objects.since } : {}),
      },
    },
  };
}

/**
 * The copies of phases whose engine is gone (killed mid-phase): what git can
 * no longer read put back, forged objects set aside, the copy removed. Call
 * holding the repository's lock, before the call's first git command. Returns
 * one line per repair made (none when nothing was damaged).
 */
export async function recoverGitFiles(root: string): Promise<string[]> {
  // First: a folder a killed engine left owner-writable gets its mode back before anything is written in it.
  const out: string[] = recoverLentModes(root);
  // Before any copy is judged against the repository's layout: with it, git's dirs are another repository's.
  const redirect = dropMainCommondir(root);
  if (redirect) out.push(`set aside ${path.relative(root, redirect)}, which sent git to another repository`);
  let names: string[];
  try {
    names = fs.readdirSync(keptRoot(root));
  } catch {
    return out;
  }
  for (const name of names) {
    const dir = path.join(keptRoot(root), name);
    if (open.has(dir)) continue;
    // Its engine is still in that phase (or writing its copy, kept.json not yet there): never touched.
    if (ownerAlive(name)) continue;
    const read = readKept(dir);
    if (read && read.record.pid !== process.pid && pidAlive(read.record.pid, read.record.start)) continue;
    // Before its layout is judged: a `.git` the phase swapped for another repository's leads every path there.
    const moved = read?.record.dotGit && fs.existsSync(read.kept.tree) ? findDotGit(read.kept.tree, read.record.dotGit) : null;
    if (moved) out.push(`put back ${path.relative(root, path.join(read!.kept.tree, '.git')) || '.git'} from ${moved}, where a phase whose engine was killed had moved it`);
    const foreign = read && fs.existsSync(read.kept.tree) ? foreignCopy(root, read.kept) : null;
    if (read && foreign) out.push(`refused the copy .autoloop/git-kept/${name}: ${foreign} (not one the engine wrote; nothing done with it)`);
    else if (read && fs.existsSync(read.kept.tree)) {
      // A candidate's worktree removed since (its git dir with it): nothing of it is made again.
      read.kept.files = read.kept.files.filter((f) => !f.file.includes(`${path.sep}worktrees${path.sep}`) || fs.existsSync(path.dirname(f.file)));
      const back = await restoreDamagedGitFiles(read.kept);
      crashPoint('git-kept:restored');
      // A copy on disk may be the code under test's (git-kept-trust.ts): its stores and history only as far as they check out.
      const forged = [...(await settleStoresFromCopy(read.kept)), ...(await dropForgedObjects(read.kept, { stores: false }))];
      // Named from the repository's top (a candidate's copy names them from its worktree).
      const names = (xs: string[]) => xs.map((x) => path.relative(root, path.resolve(read.kept.tree, x))).join(', ');
      if (back.length) out.push(`put back git's ${names(back)}, left unreadable by a phase whose engine was killed`);
      if (forged.length) out.push(`set aside or put back ${names(forged)}, planted in git's store by a phase whose engine was killed`);
    }
    forgetGitFiles(dir);
  }
  return out;
}

/** One phase of the code under test, as git's files go: kept (and on disk) when it starts, settled when it ends. */
export interface GitPhase {
  /** When the phase began (ms; loose objects written since are checked). */
  readonly since: number | undefined;
  /**
   * What git could no longer read, put back; and what was forged, set aside or put back (relative
   * names). Forged loose objects are told to `onLoose` before they are set aside (loose-blame.ts).
   */
  settle(onLoose?: (found: ForgedLoose[]) => void, mayPack?: () => boolean): Promise<{ unreadable: string[]; forged: string[] }>;
}

/**
 * Keep the git files of the work tree `tree` (its branch ref too, when named) before a phase, on disk
 * under `root`'s `.autoloop/`; null when `tree` is no git work tree. Every phase of the code under test
 * goes through here (a run's, a candidate's, diagnose's). `measured`: the blobs the run captured, left
 * loose if the settle packs (loose-pack.ts).
 */
export function openGitPhase(root: string, tree: string, branch: string | null, measured: readonly string[] = []): GitPhase | null {
  const kept = keepGitFiles(tree, branch);
  if (!kept) return null;
  const dotGit = holdDotGit(tree);
  const dir = persistGitFiles(root, kept, dotGit);
  crashPoint('phase:git-kept');
  return {
    since: kept.objects.since,
    async settle(onLoose, mayPack = () => true) {
      // First: every path kept below leads through it.
      const swapped = dotGit ? restoreDotGit(dotGit) : null;
      const unreadable = [...(swapped ? ['.git'] : []), ...(await restoreDamagedGitFiles(kept))];
      crashPoint('phase:git-restored');
      const loose: string[] = [];
      const forged = await dropForgedObjects(kept, { loose, onLoose });
      crashPoint('phase:git-checked');
      forgetGitFiles(dir);
      // Each loose object the phase changed has just been hashed (a forged one set aside), the rest it
      // left as they were: many of them go into a pack, so that the next check stats few (loose-pack.ts).
      // Not while another call's phase may still hold an object this scan did not vouch for (mayPack).
      if (packWanted(loose.length, packNext(root)) && mayPack()) {
        const packed = await packLoose(kept.tree, kept.objects.dir, loose, measured);
        notePacked(root, loose.length, packed);
        // The loop's packs merged once there are many (pack-merge.ts), under the same rule as the packing.
        if (packed.pack) {
          noteLoopPack(root, packed.pack);
          await mergeLoopPacks(root, kept.tree, kept.objects.dir);
        }
      }
      return { unreadable, forged };
    },
  };
}
