// Snapshot mode (no git). The best's in-scope files live in an immutable,
// content-addressed directory <exp.snapshot>/<id>/ (files/ + manifest.json);
// workspace.json names the current one. A keep builds the next snapshot in a
// temp directory, renames it into place, then switches workspace.json (one
// atomic rename): a SIGKILL at any point leaves the old or the new best whole.
// Unchanged files are hard-linked from the previous snapshot (never from the
// work tree: the agent may rewrite a file in place).
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import type { Config } from './schema.ts';
import type { ExperimentPaths } from './paths.ts';
import { RefusalError, UsageError } from './errors.ts';
import { readJsonOrNull, writeJsonAtomic } from './fsx.ts';
import { compileScope, listFiles, type Scope } from './scope.ts';
import { benchmarkOutputs } from './outputs.ts';
import { canonicalJson, resolveProtected, sha256, sha256File } from './integrity.ts';
import { pidAlive } from './procs.ts';
import { crashPoint } from './faults.ts';
import { inOwnFolders } from './owner-write.ts';
import { stagedPaths } from './init-journal.ts';
import {
  boundText,
  COPY_SUFFIX,
  fileDiff,
  keepProblem,
  lineCount,
  readForDiff,
  moveAside,
  workspaceFile,
  keepDamagedCopy,
  type RecordSource,
  type Capture,
  type CaptureResult,
  type OutsideChange,
  type Reverted,
  type HeadRestored,
  type Workspace,
} from './workspace-base.ts';

const Entry = lazySchema(() => z.object({
  sha256: z.string(),
  size: z.number(),
  exec: z.boolean(),
  /** Permission bits, restored as they were; only the exec bits count as a change. */
  mode: z.int(),
  /** Set for a symlink: its target (never followed). */
  link: z.optional(z.string()),
}));
type Entry = z.infer<typeof Entry>;

const Manifest = lazySchema(() => z.object({ version: z.literal(1), files: z.record(z.string(), Entry) }));
type Manifest = z.infer<typeof Manifest>;

const SnapState = lazySchema(() => z.object({
  version: z.literal(1),
  mode: z.literal('snapshot'),
  current: z.string(),
  base: z.string(),
  keeps: z.array(z.object({ run: z.string(), id: z.string(), ts: z.string() })),
  /**
   * Files outside the scope as they were at begin (or the last settle): their
   * stat, whose ctime no process can set back. Without git this is how a
   * change to a script the benchmark sources is noticed.
   */
  outside: z._default(z.record(z.string(), z.tuple([z.number(), z.number(), z.number()])), {}),
  /**
   * A snapshot kept besides the current one: a walk of ties' anchor (the last improvement), which the
   * best's arm measures a further simplification against (run-plan.ts tieAnchor). Set by pin().
   */
  pinned: z._default(z.nullable(z.string()), null),
}));
type SnapState = z.infer<typeof SnapState>;

const TMP_PREFIX = '.tmp-';
const ID = /^s-[0-9a-f]{16}$/;

/** What a work-tree file is, for comparison with a manifest entry (hash computed only when needed). */
interface Live {
  abs: string;
  size: number;
  exec: boolean;
  link?: string;
}

export class SnapshotWorkspace implements Workspace {
  readonly mode = 'snapshot' as const;
  private readonly dir: string;

  private constructor(
    private readonly root: string,
    private readonly exp: ExperimentPaths,
    private readonly scope: Scope,
  ) {
    this.dir = exp.snapshot;
  }

  static async open(root: string, exp: ExperimentPaths, config: Config): Promise<SnapshotWorkspace> {
    const scope = compileScope(config.scope, [...config.protect, ...resolveProtected(root, config), ...benchmarkOutputs(config)]);
    return new SnapshotWorkspace(root, exp, scope);
  }

  // ---- state and snapshots -------------------------------------------------

  private load(): SnapState | null {
    const parsed = SnapState.safeParse(readJsonOrNull(workspaceFile(this.exp)));
    return parsed.success ? parsed.data : null;
  }

  private state(): SnapState {
    const s = this.load();
    if (!s) throw new RefusalError(`the workspace of ${this.exp.slug} was never started, or its workspace.json is damaged: run control repair to rebuild it`);
    return s;
  }

  /**
   * workspace.json lost or damaged (control repair): rebuilt from the ledger
   * (the best's snapshot, every keep) once the best's snapshot checks out whole;
   * files outside the scope are taken as they stand. The damaged bytes are kept beside it.
   */
  async rebuildRecord(from: RecordSource): Promise<string | null> {
    if (this.load()) return null;
    const file = workspaceFile(this.exp);
    const best = from.best;
    if (best === null) throw new RefusalError(`${path.basename(file)} of ${this.exp.slug} is damaged and the ledger names no best snapshot: run init-experiment to open a new segment`);
    this.manifest(best); // refuses, naming it, when the best's snapshot is not whole
    const kept = keepDamagedCopy(file);
    const state: SnapState = { version: 1, mode: 'snapshot', current: best, base: from.base, keeps: from.keeps, outside: this.outsideNow(), pinned: null };
    writeJsonAtomic(file, state);
    return `rebuilt ${path.basename(file)} (best snapshot ${best}, ${from.keeps.length} keep(s), from the ledger${kept ? `; the damaged copy is ${kept}` : ''})`;
  }

  private manifest(id: string): Manifest {
    const parsed = Manifest.safeParse(readJsonOrNull(path.join(this.dir, id, 'manifest.json')));
    // The id is the hash of the manifest: a manifest rewritten to fit other bytes no longer matches it.
    if (!ID.test(id) || !parsed.success || snapshotId(parsed.data) !== id) throw new RefusalError(damaged(id, this.dir));
    return parsed.data;
  }

  /**
   * Copy a snapshot file to `dst` and check the copy against the manifest: a
   * snapshot rewritten in place (by code under test, where the read-only
   * containment is not in force) never reaches the tree or the best's arm.
   */
  private copyChecked(id: string, rel: string, e: Entry, dst: string, flags = 0): void {
    fs.copyFileSync(this.snapFile(id, rel), dst, flags);
    if (sha256File(dst) !== e.sha256) {
      fs.rmSync(dst, { force: true });
      throw new RefusalError(damaged(id, this.dir, rel));
    }
  }

  /** A file of a snapshot: stored with COPY_SUFFIX (snapshots written before the suffix have plain names). */
  private snapFile(id: string, rel: string): string {
    const stored = path.join(this.dir, id, 'files', rel + COPY_SUFFIX);
    return fs.lstatSync(stored, { throwIfNoEntry: false }) ? stored : path.join(this.dir, id, 'files', rel);
  }

  /**
   * Remove what a killed keep left: temp directories of dead processes and
   * snapshots that are not the current one. Only under the engine's lock.
   */
  private gc(keep: readonly (string | null)[]): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (keep.includes(n)) continue;
      if (n.startsWith(TMP_PREFIX)) {
        const pid = Number(n.slice(TMP_PREFIX.length).split('-')[0]);
        if (pid !== process.pid && pidAlive(pid)) continue;
      }
      fs.rmSync(path.join(this.dir, n), { recursive: true, force: true });
    }
  }

  /** In-scope files of the work tree now. */
  private scan(): Map<string, Live> {
    const out = new Map<string, Live>();
    for (const rel of listFiles(this.root, this.scope.bases, (r) => this.scope.inScope(r))) {
      const abs = path.join(this.root, rel);
      try {
        const st = fs.lstatSync(abs);
        if (st.isSymbolicLink()) out.set(rel, { abs, size: 0, exec: false, link: fs.readlinkSync(abs) });
        else if (st.isFile()) out.set(rel, { abs, size: st.size, exec: (st.mode & 0o111) !== 0 });
      } catch {
        // vanished while we looked: absent
      }
    }
    return out;
  }

  private same(live: Live, e: Entry): boolean {
    if (live.link !== undefined || e.link !== undefined) return live.link === e.link;
    if (live.exec !== e.exec || live.size !== e.size) return false;
    return sha256File(live.abs) === e.sha256;
  }

  private diff(m: Manifest, live: Map<string, Live>): string[] {
    const changed: string[] = [];
    for (const rel of new Set([...Object.keys(m.files), ...live.keys()])) {
      const e = m.files[rel];
      const l = live.get(rel);
      // A manifest entry the scope no longer covers is not ours to judge.
      if (!this.scope.inScope(rel)) continue;
      if (!e || !l || !this.same(l, e)) changed.push(rel);
    }
    return changed.sort();
  }

  /**
   * Build a snapshot holding `entries`: each file is taken from the work tree
   * (fresh) or hard-linked from snapshot `from`. Returns its id.
   */
  private build(fromWork: ReadonlySet<string>, keepOld: Record<string, Entry>, from: string | null): string {
    fs.mkdirSync(this.dir, { recursive: true });
    const tmp = path.join(this.dir, `${TMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`);
    const files: Record<string, Entry> = {};
    const dst = (rel: string) => path.join(tmp, 'files', rel + COPY_SUFFIX);
    let first = true;
    for (const [rel, e] of Object.entries(keepOld)) {
      if (from === null) continue;
      fs.mkdirSync(path.dirname(dst(rel)), { recursive: true });
      if (e.link !== undefined) fs.symlinkSync(e.link, dst(rel));
      else linkOrCopy(this.snapFile(from, rel), dst(rel));
      files[rel] = e;
    }
    for (const rel of [...fromWork].sort()) {
      const abs = path.join(this.root, rel);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(abs);
      } catch {
        continue; // deleted: absent from the new best
      }
      fs.mkdirSync(path.dirname(dst(rel)), { recursive: true });
      if (st.isSymbolicLink()) {
        const target = fs.readlinkSync(abs);
        fs.symlinkSync(target, dst(rel));
        files[rel] = { sha256: sha256('link:' + target), size: 0, exec: false, mode: 0o777, link: target };
      } else if (st.isFile()) {
        // COPYFILE_FICLONE: a reflink where the filesystem can, a copy otherwise.
        fs.copyFileSync(abs, dst(rel), fs.constants.COPYFILE_FICLONE);
        const copied = fs.statSync(dst(rel));
        // Hash the copy, not the original: the manifest must describe what was saved.
        const mode = copied.mode & 0o7777;
        files[rel] = { sha256: sha256File(dst(rel)) as string, size: copied.size, exec: (mode & 0o111) !== 0, mode };
      }
      if (first) {
        first = false;
        crashPoint('snapshot:copying');
      }
    }
    const manifest: Manifest = { version: 1, files };
    writeJsonAtomic(path.join(tmp, 'manifest.json'), manifest);
    const id = snapshotId(manifest);
    const final = path.join(this.dir, id);
    if (fs.existsSync(path.join(final, 'manifest.json'))) {
      // Same content as a snapshot we already have (ids are content hashes).
      fs.rmSync(tmp, { recursive: true, force: true });
    } else {
      fs.rmSync(final, { recursive: true, force: true });
      fs.renameSync(tmp, final);
    }
    crashPoint('snapshot:renamed');
    return id;
  }

  // ---- Workspace -----------------------------------------------------------

  async begin(): Promise<{ base: string }> {
    const prev = this.load();
    this.gc([prev?.current ?? null, prev?.pinned ?? null]);
    const live = this.scan();
    let id: string;
    let prevManifest: Manifest | null = null;
    try {
      prevManifest = prev ? this.manifest(prev.current) : null;
    } catch {
      prevManifest = null; // damaged: start over from the work tree
    }
    if (prev && prevManifest && this.diff(prevManifest, live).length === 0) {
      id = prev.current;
    } else {
      // A new segment starts from the tree as it is (there is no commit to ask for).
      id = this.build(new Set(live.keys()), {}, null);
    }
    const state: SnapState = { version: 1, mode: 'snapshot', current: id, base: id, keeps: prev?.keeps ?? [], outside: this.outsideNow(), pinned: null };
    if (!prev) {
      writeJsonAtomic(workspaceFile(this.exp), state);
      this.gc([id]);
      return { base: id };
    }
    // A segment is open: the new best takes effect with the new segment's config
    // line (init-journal.ts); a killed init keeps the old best, still on disk.
    writeJsonAtomic(stagedPaths(this.exp).workspace, state);
    this.gc([id, prev.current, prev.pinned]);
    return { base: id };
  }

  async observe(): Promise<void> {
    /* every query reads the few in-scope files afresh; nothing to share */
  }

  stale(): void {
    // every query reads the snapshot store afresh
  }

  async head(): Promise<string> {
    return this.state().current;
  }

  async changedInScope(): Promise<string[]> {
    const s = this.state();
    return this.diff(this.manifest(s.current), this.scan());
  }

  async created(paths: readonly string[]): Promise<string[]> {
    const best = this.manifest(this.state().current).files;
    return paths.filter((p) => !(p in best) && fs.existsSync(path.join(this.root, p)));
  }

  /** Files outside the scope now: path → [size, mtime, ctime]. */
  private outsideNow(): Record<string, [number, number, number]> {
    const out: Record<string, [number, number, number]> = {};
    for (const rel of listFiles(this.root, [''], (r) => !this.scope.inScope(r))) {
      try {
        const st = fs.lstatSync(path.join(this.root, rel));
        out[rel] = [st.size, st.mtimeMs, st.ctimeMs];
      } catch {
        // vanished while we looked
      }
    }
    return out;
  }

  async outOfScopeChanges(): Promise<OutsideChange[]> {
    const was = this.state().outside;
    const now = this.outsideNow();
    const changed: OutsideChange[] = [];
    for (const p of new Set([...Object.keys(was), ...Object.keys(now)])) {
      const a = was[p];
      const b = now[p];
      if (a && b && a[0] === b[0] && a[1] === b[1] && a[2] === b[2]) continue;
      changed.push({ path: p, kind: a ? 'modified' : 'created' });
    }
    return changed.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  }

  async settleOutOfScope(): Promise<OutsideChange[]> {
    const changed = await this.outOfScopeChanges();
    if (changed.length) writeJsonAtomic(workspaceFile(this.exp), { ...this.state(), outside: this.outsideNow() });
    return changed;
  }

  async capture(paths: string[]): Promise<CaptureResult> {
    const files: Capture = {};
    const problems: string[] = [];
    for (const rel of [...new Set(paths)].sort()) {
      const problem = keepProblem(this.root, rel);
      if (problem) {
        problems.push(problem);
        continue;
      }
      const abs = path.join(this.root, rel);
      try {
        const st = fs.lstatSync(abs);
        if (st.isSymbolicLink()) files[rel] = { id: sha256('link:' + fs.readlinkSync(abs)), mode: 0o120000 };
        else files[rel] = { id: sha256File(abs) ?? '', mode: st.mode & 0o111 ? 0o100755 : 0o100644 };
      } catch {
        files[rel] = null;
      }
    }
    return { files, problems };
  }

  async restoreHead(expected: string, rescueDir?: string): Promise<HeadRestored> {
    void rescueDir; // the work tree is left as it is: its in-scope files show up as the next change
    const s = this.state();
    if (s.current === expected) return { saved: '', changed: [], rescued: [] };
    this.manifest(expected); // refuses when the kept snapshot is gone
    writeJsonAtomic(workspaceFile(this.exp), { ...s, current: expected });
    return { saved: s.current, changed: [], rescued: [] };
  }

  async keep(files: string[], message: string, trailers: Record<string, string>, capture?: Capture, durable?: Promise<void>): Promise<string> {
    await durable;
    void message; // snapshots carry no message; the ledger has the description
    const s = this.state();
    this.gc([s.current, s.pinned]);
    const paths = [...new Set(files)].sort();
    for (const f of paths) {
      if (!this.scope.inScope(f)) throw new UsageError(`keep: ${f} is outside the scope (or protected); it cannot be kept`);
    }
    if (capture) {
      // Without an object store the measured bytes are the work tree's: they must still be there.
      const now = (await this.capture(paths)).files;
      const drift = paths.filter((p) => JSON.stringify(now[p] ?? null) !== JSON.stringify(capture[p] ?? null));
      if (drift.length) throw new RefusalError(`${drift[0]} is no longer what was measured`);
    }
    const m = this.manifest(s.current);
    const taken = new Set(paths);
    const keepOld: Record<string, Entry> = {};
    for (const [rel, e] of Object.entries(m.files)) if (!taken.has(rel)) keepOld[rel] = e;
    const id = this.build(taken, keepOld, s.current);
    const run = trailers['Autoloop-Run'] ?? '';
    const next: SnapState = { ...s, current: id, keeps: [...s.keeps, { run, id, ts: new Date().toISOString() }] };
    writeJsonAtomic(workspaceFile(this.exp), next);
    crashPoint('snapshot:saved');
    this.gc([id, s.pinned]);
    return id;
  }

  async revert(rescueDir: string): Promise<Reverted> {
    const s = this.state();
    this.gc([s.current, s.pinned]);
    const m = this.manifest(s.current);
    const changed = this.diff(m, this.scan());
    const created = changed.filter((p) => !m.files[p]);
    const restore = changed.filter((p) => m.files[p]);
    // The best checked before anything moves: a damaged one refuses with the tree as it is.
    for (const p of restore) {
      const e = m.files[p] as Entry;
      if (e.link === undefined && sha256File(this.snapFile(s.current, p)) !== e.sha256) throw new RefusalError(damaged(s.current, this.dir, p));
    }
    // Moved aside first, never deleted (it may be the user's); created first: a
    // created file may stand where a restored directory must go.
    const moved = moveAside(this.root, changed, new Set(created), rescueDir);
    // Their folders may be ones the user's code made read-only (owner-write.ts).
    await inOwnFolders(this.root, restore, async () => {
      for (const p of restore) this.restoreOne(s.current, p, m.files[p] as Entry);
    });
    return { files: changed, created: moved };
  }

  /** Put one file back: write a temp copy beside our state, then rename it over whatever is there. */
  private restoreOne(id: string, rel: string, e: Entry): void {
    const abs = path.join(this.root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    const tmp = path.join(this.dir, `${TMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}.restore`);
    fs.mkdirSync(this.dir, { recursive: true });
    if (e.link !== undefined) fs.symlinkSync(e.link, tmp);
    else {
      this.copyChecked(id, rel, e, tmp, fs.constants.COPYFILE_FICLONE);
      fs.chmodSync(tmp, e.mode);
    }
    try {
      // rename replaces a symlink itself, never the file it points to.
      fs.renameSync(tmp, abs);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      // .autoloop/ on another filesystem: unlink, then copy in place.
      fs.rmSync(abs, { force: true });
      if (e.link !== undefined) fs.symlinkSync(e.link, abs);
      else {
        this.copyChecked(id, rel, e, abs);
        fs.chmodSync(abs, e.mode);
      }
    }
  }

  async netLinesRemoved(files: readonly string[]): Promise<number> {
    const s = this.state();
    const m = this.manifest(s.current);
    let net = 0;
    for (const f of files) {
      const before = m.files[f] ? readForDiff(this.snapFile(s.current, f)) : null;
      net += lineCount(before) - lineCount(readForDiff(path.join(this.root, f)));
    }
    return net;
  }

  /** Write the best's in-scope files into `dir` (a copy of the tree the best arm runs in). */
  /** The in-scope files of the best's snapshot (or of snapshot `id`: a tie walk's anchor) written into `dir`. */
  async exportBest(dir: string, id?: string): Promise<void> {
    const snap = id ?? this.state().current;
    const m = this.manifest(snap);
    for (const [rel, e] of Object.entries(m.files)) {
      const abs = path.join(dir, rel);
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      fs.rmSync(abs, { force: true });
      if (e.link !== undefined) fs.symlinkSync(e.link, abs);
      else {
        this.copyChecked(snap, rel, e, abs);
        fs.chmodSync(abs, e.mode);
      }
    }
  }

  /**
   * Keep snapshot `id` (a tie walk's anchor) besides the current one until another pin; null: none.
   * Written before the keep that would otherwise remove it (its gc).
   */
  async pin(id: string | null): Promise<void> {
    const s = this.state();
    if (s.pinned === id) return;
    writeJsonAtomic(workspaceFile(this.exp), { ...s, pinned: id });
  }

  /** Whether snapshot `id` is here and whole (a tie walk's anchor the best's arm can measure). */
  holds(id: string): boolean {
    try {
      this.manifest(id);
      return true;
    } catch {
      return false;
    }
  }

  async findKeep(runId: string): Promise<string | null> {
    const s = this.state();
    for (let i = s.keeps.length - 1; i >= 0; i--) if (s.keeps[i]?.run === runId) return s.keeps[i]?.id ?? null;
    return null;
  }

  async diffSummary(): Promise<string> {
    const s = this.state();
    const m = this.manifest(s.current);
    const changed = this.diff(m, this.scan());
    if (!changed.length) return '';
    const live = (p: string) => readForDiff(path.join(this.root, p));
    const tag = (p: string) => (!m.files[p] ? 'A' : live(p) === null ? 'D' : 'M');
    let text = `${changed.length} file(s) changed in scope: ${changed.map((p) => `${tag(p)} ${p}`).join(', ')}\n`;
    for (const p of changed) {
      if (Buffer.byteLength(text) > 4096) break;
      const before = m.files[p] ? readForDiff(this.snapFile(s.current, p)) : null;
      text += fileDiff(p, before, live(p));
    }
    return boundText(text);
  }
}

const snapshotId = (m: Manifest): string => 's-' + sha256(canonicalJson(m.files)).slice(0, 16);

const damaged = (id: string, dir: string, rel?: string): string =>
  `snapshot ${id} (the best) is missing or damaged in ${dir}${rel ? ` (${rel} is not the content it recorded)` : ''}: init-experiment starts a new segment from the tree as it is`;

/** Snapshot files are never modified in place by the engine, so sharing them by hard link is safe (a change by anyone else is caught on use: copyChecked). */
function linkOrCopy(src: string, dst: string): void {
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}
