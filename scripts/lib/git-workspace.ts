// Git mode. The experiment lives on branch autoloop/<slug>. A keep is built
// as git's plumbing builds it in a private index (read-tree, update-index of
// exactly the kept paths, write-tree, commit-tree, update-ref with the old sha
// as a guard), most of it written by the engine itself where that is certain
// (loose-tree.ts, loose-commit.ts, loose-ref.ts): no hooks, no signing prompt,
// and whatever the user staged stays staged and uncommitted. A revert names
// every path it restores or deletes.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import type { Config } from './schema.ts';
import type { ExperimentPaths } from './paths.ts';
import { InScopeChangesError, RefusalError, UsageError } from './errors.ts';
import { readJsonOrNull, writeFileAtomic, writeJsonAtomic } from './fsx.ts';
import { stagedPaths } from './init-journal.ts';
import { compileScope, isInternal, type Scope } from './scope.ts';
import { benchmarkOutputs } from './outputs.ts';
import { hiddenIgnoreFiles, type IgnoreRules } from './ignore-rules.ts';
import { hiddenModeChanges } from './hidden-modes.ts';
import { anyFlagged, indexEntries, unhideInScope, type IndexEntry } from './index-flags.ts';
import { touchedSince } from './outside-touch.ts';
import { clearStaleLocks, mutationLocks } from './git-locks.ts';
import { gitDirsOf, headFile, readOrEmpty } from './git-dirs.ts';
import { resolveProtected, sha256, sha256File, MISSING } from './integrity.ts';
import { pidAlive } from './procs.ts';
import { commonGitPaths, currentBranch, diffSettingsConfigured, firstLine, forgetRepoConfig, gitTry, gitWithInput, identityEnv } from './gitcmd.ts';
import { missingBranchText } from './branch-missing.ts';
import { sanitize, sanitizeLine } from './sanitize.ts';
import { crashPoint } from './faults.ts';
import { blobIdOf, blobIdOfFile, objectIdOf } from './blob-id.ts';
import { objectsDirOf, writePathBlob } from './loose-object.ts';
import { checkoutExact } from './raw-checkout.ts';
import { keepTree, readLoose } from './loose-tree.ts';
import { writeCommit } from './loose-commit.ts';
import { updateBranchRef } from './loose-ref.ts';
import { attributesMayApply, numstatNet, workBytes } from './numstat.ts';
import { dirtySubmodules } from './submodule-dirt.ts';
import {
  batches,
  keepProblem,
  rescueFile,
  boundText,
  fileDiff,
  lineCount,
  readForDiff,
  removeCreated,
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

/** What a dirty path looked like: status code, content hash, and the stat that let us skip re-hashing. */
const Sig = lazySchema(() => z.object({
  xy: z.string(),
  hash: z.string(),
  size: z.number(),
  mtime: z.number(),
  ctime: z.number(),
  ino: z.number(),
}));
type Sig = z.infer<typeof Sig>;

const GitState = lazySchema(() => z.object({
  version: z.literal(1),
  mode: z.literal('git'),
  branch: z.string(),
  /** Where the branch started; findKeep searches started_from..branch only. */
  started_from: z.string(),
  /** The starting point of the latest segment. */
  base: z.string(),
  /** Untracked when the experiment began: never committed, never deleted. */
  user_files: z.array(z.string()),
  /**
   * Untracked directories (git lists them folded, e.g. `venv/`) when the
   * experiment began or since set aside: everything below is the user's, en
   * bloc, and never listed file by file (a 30,000-file venv costs nothing).
   */
  user_dirs: z._default(z.array(z.string()), []),
  /** Out-of-scope (and user-file) paths that were dirty at begin, and how. */
  dirty: z.record(z.string(), Sig),
}));
type GitState = z.infer<typeof GitState>;

/** Every workspace command: paths are literal (a file named `*.ts` or `:x` is just a file). */
const LITERAL = { GIT_LITERAL_PATHSPECS: '1' };

/** The repository's git, through the engine's one runner; errors carry git's first line. */
class Git {
  constructor(private readonly root: string) {}

  async run(args: string[], extra: Record<string, string> = {}): Promise<string> {
    const r = await gitTry(this.root, args, { ...LITERAL, ...extra });
    if (r.code !== 0) throw new Error(firstLine(r.stderr) || `git exited with ${r.code}`);
    return r.stdout;
  }

  async input(args: string[], input: string, extra: Record<string, string> = {}): Promise<string> {
    const r = await gitWithInput(this.root, args, input, { ...LITERAL, ...extra });
    if (r.code !== 0) throw new Error(firstLine(r.stderr) || `git exited with ${r.code}`);
    return r.stdout;
  }

  async tryRun(args: string[], extra: Record<string, string> = {}): Promise<string | null> {
    const r = await gitTry(this.root, args, { ...LITERAL, ...extra });
    return r.code === 0 ? r.stdout : null;
  }
}

/** path → status codes ('XY', as porcelain v1 spells them); a path may carry two (`D ` and `??` after `git rm --cached`). */
type Status = Map<string, string[]>;

/**
 * One `git status --porcelain=v2 --branch` read: the entries, the checked-out
 * branch and which changed paths HEAD holds. One process answers what took
 * three (symbolic-ref, status, ls-tree).
 */
interface Snapshot {
  status: Status;
  /** refs/heads/<name>, or null on a detached HEAD. */
  ref: string | null;
  /** The commit HEAD is at, or null before the first commit. */
  oid: string | null;
  /** Changed paths that exist in HEAD's tree; paths in `unknownHead` (unmerged) need ls-tree. */
  inHead: Set<string>;
  unknownHead: Set<string>;
  /** The HEAD blob of a changed tracked path (`hH` of an ordinary entry; not for submodules). */
  headBlob: Map<string, string>;
  /** The entries as git listed them, untracked directories folded (`status` is unfolded by snapshot()). */
  raw?: Status;
}

const STATUS_ARGS = ['status', '--porcelain=v2', '-z', '--branch', '--no-ahead-behind', '--no-renames', '--untracked-files=normal'];

/**
 * The tree's status: git's (which never looks inside a submodule, gitcmd.ts), with each
 * submodule whose own files changed listed as modified, as git's recursion listed it.
 */
async function readStatus(git: Git, root: string): Promise<Snapshot> {
  const snap = parseStatusV2(await git.run(STATUS_ARGS));
  for (const p of await dirtySubmodules(root)) if (!snap.status.has(p)) snap.status.set(p, [' M']);
  return snap;
}

/** Fields before the path in a v2 entry: ordinary `1` has 8, unmerged `u` has 10. */
const V2_FIELDS: Record<string, number> = { '1': 8, u: 10 };

export function parseStatusV2(out: string): Snapshot {
  const snap: Snapshot = { status: new Map(), ref: null, oid: null, inHead: new Set(), unknownHead: new Set(), headBlob: new Map() };
  const add = (p: string, xy: string) => {
    const codes = snap.status.get(p);
    if (codes) codes.push(xy);
    else snap.status.set(p, [xy]);
  };
  for (const entry of out.split('\0')) {
    if (entry.startsWith('# branch.oid ')) {
      const oid = entry.slice('# branch.oid '.length);
      snap.oid = /^[0-9a-f]{40,64}$/.test(oid) ? oid : null;
      continue;
    }
    if (entry.startsWith('# branch.head ')) {
      const name = entry.slice('# branch.head '.length);
      snap.ref = name === '(detached)' ? null : `refs/heads/${name}`;
      continue;
    }
    if (entry.startsWith('? ')) {
      add(entry.slice(2), '??');
      continue;
    }
    const n = V2_FIELDS[entry[0] ?? ''];
    if (n === undefined) continue;
    // The path is everything after the n-th space (it may contain spaces itself).
    let at = 0;
    for (let i = 0; i < n && at >= 0; i++) at = entry.indexOf(' ', at + 1);
    if (at < 0) continue;
    const fields = entry.slice(0, at).split(' ');
    const p = entry.slice(at + 1);
    add(p, (fields[1] ?? '..').replace(/\./g, ' '));
    if (fields[0] === 'u') snap.unknownHead.add(p);
    else if (fields[3] !== '000000') {
      snap.inHead.add(p);
      if (fields[3] !== '160000' && fields[6]) snap.headBlob.set(p, fields[6]);
    }
  }
  return snap;
}

const untrackedOnly = (codes: readonly string[]) => codes.every((c) => c === '??');
const ZERO = '0'.repeat(40);
const underDir = (p: string, dirs: readonly string[]) => dirs.some((d) => p === d || p.startsWith(d));

/** Above this many index entries, git finds the files written since the index was (diff-files), not one lstat each here. */
const TOUCH_SCAN_MAX = 4000;

/** The blob id of a work-tree path's bytes now (a symlink's target), or null (absent, a directory). */
/** Remove the loose object `id` when its bytes are not the object it names (absent: nothing to do). */
function dropForged(objects: string, id: string): void {
  const file = path.join(objects, id.slice(0, 2), id.slice(2));
  if (!fs.existsSync(file)) return;
  const o = readLoose(objects, id);
  if (o && objectIdOf(o.type, o.body, id.length) === id) return;
  fs.rmSync(file, { force: true });
}

function workBlobId(root: string, rel: string, hexLen: number): string | null {
  const abs = path.join(root, rel);
  try {
    const st = fs.lstatSync(abs);
    return st.isSymbolicLink() ? blobIdOf(Buffer.from(fs.readlinkSync(abs)), hexLen) : st.isFile() ? blobIdOfFile(abs, st.size, hexLen) : null;
  } catch {
    return null;
  }
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * The user's paths a damaged workspace.json still names: its lists when the
 * JSON parses, else every string in what is left of them (a file cut short).
 */
function salvageUsers(text: string | null): { files: string[]; dirs: string[] } {
  if (text === null) return { files: [], dirs: [] };
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  try {
    const raw = JSON.parse(text) as { user_files?: unknown; user_dirs?: unknown } | null;
    return { files: strings(raw?.user_files), dirs: strings(raw?.user_dirs) };
  } catch {
    const list = (key: string) => {
      const m = new RegExp(`"${key}"\\s*:\\s*\\[([^\\]]*)`).exec(text);
      return m ? [...(m[1] as string).matchAll(/"((?:[^"\\]|\\.)*)"/g)].flatMap((x) => { try { return [JSON.parse(`"${x[1]}"`) as string]; } catch { return []; } }) : [];
    };
    return { files: list('user_files'), dirs: list('user_dirs') };
  }
}

export class GitWorkspace implements Workspace {
  readonly mode = 'git' as const;
  private readonly git: Git;
  private readonly branch: string;

  private constructor(
    private readonly root: string,
    private readonly exp: ExperimentPaths,
    private readonly scope: Scope,
    /** A candidate's worktree (candidates/): a detached HEAD at the best it started from, its own state file. */
    private readonly candidate: { stateFile: string } | null = null,
  ) {
    this.git = new Git(root);
    this.branch = `autoloop/${exp.slug}`;
  }

  static async open(root: string, exp: ExperimentPaths, config: Config): Promise<GitWorkspace> {
    // The judges and the artifacts are out of scope even if the scope glob covers them.
    const scope = compileScope(config.scope, [...config.protect, ...resolveProtected(root, config), ...benchmarkOutputs(config)]);
    return new GitWorkspace(root, exp, scope);
  }

  /**
   * The workspace of a candidate's worktree: the same rules (scope, judges, user
   * files, out-of-scope changes), on a detached HEAD; a keep still lands on
   * autoloop/<slug>, with the branch's old value as the guard.
   */
  static async openCandidate(tree: string, exp: ExperimentPaths, config: Config, stateFile: string): Promise<GitWorkspace> {
    const scope = compileScope(config.scope, [...config.protect, ...resolveProtected(tree, config), ...benchmarkOutputs(config)]);
    return new GitWorkspace(tree, exp, scope, { stateFile });
  }

  // ---- state ---------------------------------------------------------------

  private stateFile(): string {
    return this.candidate?.stateFile ?? workspaceFile(this.exp);
  }

  private load(): GitState | null {
    if (this.staged) return this.staged;
    const parsed = GitState.safeParse(readJsonOrNull(this.stateFile()));
    return parsed.success ? parsed.data : null;
  }

  private state(): GitState {
    const s = this.load();
    if (!s) throw new RefusalError(`the workspace of ${this.exp.slug} was never started, or its workspace.json is damaged: run control repair to rebuild it`);
    return s;
  }

  private save(s: GitState): void {
    writeJsonAtomic(this.stateFile(), s);
  }

  /** Private indexes left by keeps that were killed (their process is gone). */
  private sweepStale(): void {
    // Before the index or the branch is written: a stale lock goes; one a live git holds stops the mutation before the branch moves.
    const dirs = gitDirsOf(this.root);
    const index = (dirs ? clearStaleLocks(mutationLocks(dirs, this.branch)) : []).find((f) => path.basename(f) === 'index.lock');
    if (index) throw new RefusalError(`git's index is locked by a running git process (${index}); nothing was committed; run the command again once it is done`);
    let names: string[];
    try {
      names = fs.readdirSync(this.exp.dir);
    } catch {
      return;
    }
    for (const n of names) {
      const m = /^\.keep-index-(\d+)-/.exec(n);
      if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) fs.rmSync(path.join(this.exp.dir, n), { force: true });
    }
  }

  // ---- git queries ---------------------------------------------------------

  /**
   * The last status read. Each public method starts from a fresh read (see
   * fresh()) and reuses it for its own later questions; after observe(), the
   * queries share one read until a keep or a revert.
   */
  private snap: Snapshot | null = null;
  private observed = false;
  /** observe()'s read is still the latest look at the tree: the next settle may answer from it (once). */
  private pinned = false;
  /**
   * The last read is still the latest word on where the branch is: no keep or
   * revert since, and no command of the code under test (stale()). head() and
   * keep() answer from it (its branch.oid and branch.head) instead of asking git.
   */
  private current = false;

  private async snapshot(fresh = false): Promise<Snapshot> {
    if (!this.snap || fresh) {
      let snap = await readStatus(this.git, this.root);
      if (await this.unhide(snap)) snap = await readStatus(this.git, this.root);
      snap.raw = snap.status;
      snap.status = await this.unfold(snap.status, this.load());
      this.snap = snap;
      this.current = true;
    }
    return this.snap;
  }

  /**
   * In-scope index entries flagged assume-unchanged or skip-worktree hide their
   * edits from git status: the flags are cleared (index-flags.ts), so the read
   * after sees them. Returns the paths cleared (usually none, without a git process).
   */
  private async unhide(snap: Snapshot): Promise<boolean> {
    const hashLen = snap.oid && snap.oid.length === 64 ? 32 : 20;
    let found: { flags: string[]; stale: string[] };
    try {
      found = await unhideInScope(this.root, hashLen, (p) => this.scope.inScope(p), new Set(snap.status.keys()), this.git);
    } catch (e) {
      throw new RefusalError(`in-scope files are hidden from git status (assume-unchanged, skip-worktree or stale stat data in git's index), and refreshing the index failed: ${firstLine((e as Error).message)}; run git update-index --really-refresh`);
    }
    const names = (ps: string[]) => sanitizeLine(ps.slice(0, 3).join(', ')) + (ps.length > 3 ? ', …' : '');
    if (found.flags.length) process.stderr.write(`note: cleared git's assume-unchanged/skip-worktree flag on ${names(found.flags)} (it hid their edits from the engine)\n`);
    if (found.stale.length) process.stderr.write(`note: ${names(found.stale)} changed without git's stat data showing it; the engine compared the bytes\n`);
    return found.flags.length + found.stale.length > 0;
  }

  /** The branch's commit as the last read saw it, while that read is current; null: ask git. */
  private readBranch(): string | null {
    const snap = this.snap;
    if (!this.current || this.candidate || !snap?.oid || snap.ref !== `refs/heads/${this.branch}`) return null;
    return snap.oid;
  }

  stale(): void {
    this.current = false;
    // The command may write the git config (a filter driver): the next git command reads it again.
    forgetRepoConfig();
  }

  /**
   * Untracked directories come folded (`venv/`, as a bare `git status` shows
   * them): a user directory is skipped whole, a new directory the scope may
   * reach into is listed file by file, any other one stays a single entry.
   * This keeps a call with a huge untracked tree close to one `git status`.
   */
  private async unfold(raw: Status, s: GitState | null): Promise<Status> {
    const userDirs = s?.user_dirs ?? [];
    const st: Status = new Map();
    const expand: string[] = [];
    for (const [p, codes] of raw) {
      if (p.endsWith('/') && untrackedOnly(codes)) {
        if (isInternal(p.slice(0, -1)) || underDir(p, userDirs)) continue;
        if (this.reaches(p)) expand.push(p);
        else st.set(p, codes);
        continue;
      }
      st.set(p, codes);
    }
    for (const chunk of batches(expand)) {
      for (const f of (await this.git.run(['ls-files', '-z', '--others', '--exclude-standard', '--', ...chunk])).split('\0')) {
        if (f && !isInternal(f)) st.set(f, ['??']);
      }
    }
    return st;
  }

  /** May an in-scope file live below this directory (`dir/`)? */
  private reaches(dir: string): boolean {
    const d = dir.slice(0, -1);
    return this.scope.bases.some((b) => b === '' || b === d || b.startsWith(dir) || d.startsWith(b + '/'));
  }

  /** A public query begins: forget the last read unless observe() pinned it. */
  private fresh(): void {
    if (!this.observed) this.snap = null;
  }

  /** A mutation begins: no read survives it. */
  private mutating(): void {
    this.observed = false;
    this.pinned = false;
    this.current = false;
    this.snap = null;
  }

  async observe(): Promise<void> {
    await this.snapshot(true);
    this.observed = true;
    this.pinned = true;
  }

  private async status(fresh = false): Promise<Status> {
    return (await this.snapshot(fresh)).status;
  }

  async reattach(): Promise<string | null> {
    if (this.candidate) return null;
    const want = `refs/heads/${this.branch}`;
    // HEAD read as a file (no git process on the usual path, where it has not moved).
    const dirs = gitDirsOf(this.root);
    const head = dirs ? readOrEmpty(path.join(dirs.gitDir, 'HEAD')) : '';
    if (head === `ref: ${want}\n`) return null;
    const ref = await this.currentBranchRef();
    if (ref === want) return null;
    await this.git.run(['symbolic-ref', '-m', 'autoloop: back on the experiment branch', 'HEAD', want]);
    this.mutating();
    return ref ? ref.replace(/^refs\/heads\//, '') : 'a detached HEAD';
  }

  /**
   * The branch HEAD is on (refs/heads/…), or null when detached. With a status
   * read just made, HEAD's file answers when it agrees with that read's
   * branch.head and branch.oid (a branch named `(detached)`, a HEAD naming a
   * ref outside refs/heads or a reftable placeholder never agree): no process.
   */
  private async currentBranchRef(snap?: Snapshot): Promise<string | null> {
    const file = snap ? headFile(this.root) : null;
    if (file && 'ref' in file && file.ref === snap?.ref) return file.ref;
    if (file && 'detached' in file && snap?.ref === null && file.detached === snap.oid) return null;
    const out = await this.git.tryRun(['symbolic-ref', '-q', 'HEAD']);
    return out ? out.trim() : null;
  }

  private async assertOnBranch(): Promise<void> {
    this.checkBranch((await this.snapshot()).ref);
  }

  private checkBranch(ref: string | null): void {
    if (this.candidate) return; // detached by design; the candidate code checks its base
    if (ref !== `refs/heads/${this.branch}`) {
      const where = ref ? ref.replace(/^refs\/heads\//, '') : 'a detached HEAD';
      throw new RefusalError(`the work tree is on ${where}, not ${this.branch}; check out ${this.branch} to continue the experiment`);
    }
  }

  private async revParse(rev: string): Promise<string | null> {
    const out = await this.git.tryRun(['rev-parse', '-q', '--verify', `${rev}^{commit}`]);
    return out ? out.trim() : null;
  }

  /** Which of these changed paths exist in HEAD's tree: the status says, except for unmerged paths. */
  private async inHead(paths: readonly string[]): Promise<Set<string>> {
    const snap = await this.snapshot();
    const found = new Set(paths.filter((p) => snap.inHead.has(p)));
    const ask = paths.filter((p) => snap.unknownHead.has(p));
    const want = new Set(ask);
    for (const chunk of batches(ask)) {
      const out = await this.git.run(['ls-tree', '-r', '-z', '--name-only', 'HEAD', '--', ...chunk]);
      for (const p of out.split('\0')) if (want.has(p)) found.add(p);
    }
    return found;
  }

  private isUserFile(s: GitState, rel: string): boolean {
    return s.user_files.includes(rel) || underDir(rel, s.user_dirs);
  }

  /** The user's paths: untracked files and directories recorded at begin (or set aside since). */
  private users(s: GitState): Users {
    const files = new Set(s.user_files);
    return { has: (p: string) => files.has(p) || underDir(p, s.user_dirs) };
  }

  /**
   * A submodule (or a nested repository): a directory git lists as one path.
   * Its content is not ours to commit or restore, so it is never part of a
   * change: a change to it is set aside like any change outside the scope.
   */
  private isGitlink(p: string): boolean {
    if (p.endsWith('/')) return false;
    try {
      return fs.lstatSync(path.join(this.root, p)).isDirectory();
    } catch {
      return false;
    }
  }

  /** In-scope paths in the status that the agent may have changed (user files and submodules never count). */
  private inScopeChanged(st: Status, userFiles: Users): string[] {
    return [...st.keys()].filter((p) => !p.endsWith('/') && this.scope.inScope(p) && !userFiles.has(p) && !this.isGitlink(p)).sort();
  }

  /** Paths whose changes the agent must not make: outside the scope, user files, submodules. */
  private guarded(p: string, userFiles: Users): boolean {
    return !isInternal(p) && (!this.scope.inScope(p) || userFiles.has(p) || this.isGitlink(p));
  }

  private sig(rel: string, xy: string, prev: Sig | undefined): Sig {
    const abs = path.join(this.root, rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      return { xy, hash: MISSING, size: -1, mtime: 0, ctime: 0, ino: 0 };
    }
    const stat = { size: st.size, mtime: st.mtimeMs, ctime: st.ctimeMs, ino: st.ino };
    // ctime cannot be set from user space, so an equal stat means equal content.
    if (prev && prev.size === stat.size && prev.mtime === stat.mtime && prev.ctime === stat.ctime && prev.ino === stat.ino) {
      return { xy, hash: prev.hash, ...stat };
    }
    let hash: string;
    if (st.isSymbolicLink()) hash = sha256('link:' + fs.readlinkSync(abs));
    else if (st.isDirectory()) hash = 'directory';
    else hash = sha256File(abs) ?? MISSING;
    return { xy, hash, ...stat };
  }

  private dirtySigs(st: Status, userFiles: Users, prev: Record<string, Sig>): Record<string, Sig> {
    const out: Record<string, Sig> = {};
    for (const [p, codes] of st) {
      if (!this.guarded(p, userFiles)) continue;
      out[p] = this.sig(p, codes.join(','), prev[p]);
    }
    return out;
  }

  // ---- Workspace -----------------------------------------------------------

  async begin(): Promise<{ base: string; moved?: true }> {
    await this.ensureExcluded();
    const prev = this.load();
    const userFiles = new Set(prev?.user_files ?? []);
    const userDirs = new Set(prev?.user_dirs ?? []);

    // One status read answers what took four processes: whether HEAD has a commit and which
    // (branch.oid), the branch it is on (branch.head, checked against HEAD's file), and the tree.
    const snap = await this.snapshot(true);
    if (snap.oid === null) {
      throw new UsageError('the repository has no commit yet; commit once before starting an experiment');
    }
    const st = snap.status;
    const blocked = [...st]
      .filter(([p, codes]) => this.scope.inScope(p) && !untrackedOnly(codes) && !userFiles.has(p))
      .map(([p]) => p)
      .sort();
    if (blocked.length) {
      const names = blocked.slice(0, 5).join(', ') + (blocked.length > 5 ? ` (+${blocked.length - 5} more)` : '');
      throw new InScopeChangesError(names);
    }

    // The tree as read above still stands unless the checkout below moves to another commit.
    let read: { raw: Status; oid: string } | null = { raw: snap.raw ?? snap.status, oid: snap.oid };
    const from = this.candidate ? null : await this.currentBranchRef(snap);
    if (!this.candidate && from !== `refs/heads/${this.branch}`) {
      const exists = (await this.revParse(`refs/heads/${this.branch}`)) !== null;
      const args = exists ? ['checkout', '-q', this.branch, '--'] : ['checkout', '-q', '-b', this.branch];
      try {
        await this.git.run(args);
      } catch (e) {
        throw new UsageError(`cannot check out ${this.branch}: ${firstLine((e as Error).message)}`);
      }
      this.switched = { from, oid: snap.oid, created: exists ? null : snap.oid };
      // A new branch from HEAD (`checkout -b`) leaves the index and the files as they were; an existing one may not.
      if (exists) read = null;
    }

    // Untracked files present now are the user's. On a later begin (a new
    // segment) files the user added since are adopted too: losing one would
    // be worse than never committing one. A folded untracked directory is
    // the user's as a whole.
    const { state, base } = await this.recordTree({ started_from: prev?.started_from ?? null, base: null }, userFiles, userDirs, prev?.dirty ?? {}, read);
    if (prev && !this.candidate) {
      // A segment is open: the new state takes effect with the new segment's
      // config line (init-journal.ts); a failed or killed init keeps the old one.
      writeJsonAtomic(stagedPaths(this.exp).workspace, state);
      this.staged = state;
    } else this.save(state);
    return read === null ? { base, moved: true } : { base };
  }

  /**
   * The record of the tree as it stands: every untracked path adopted as the
   * user's (added to `userFiles`/`userDirs`), and the dirty paths outside the
   * scope signed as they are. From `read` (a status read with nothing changed
   * since, and the commit HEAD was at) or from a new status read; a null
   * `from.base` (and `started_from`) is the commit that read found HEAD at.
   */
  private async recordTree(
    from: { started_from: string | null; base: string | null },
    userFiles: Set<string>,
    userDirs: Set<string>,
    prevDirty: Record<string, Sig>,
    read: { raw: Status; oid: string } | null = null,
  ): Promise<{ state: GitState; base: string }> {
    this.mutating();
    let raw = read?.raw;
    let head = read?.oid ?? null;
    if (!raw) {
      const snap = await readStatus(this.git, this.root);
      raw = snap.status;
      head = snap.oid;
    }
    const base = from.base ?? head ?? (await this.revParse('HEAD'));
    if (base === null) throw new UsageError('the repository has no commit yet; commit once before starting an experiment');
    for (const [p, codes] of raw) {
      if (!codes.includes('??') || isInternal(p.replace(/\/$/, ''))) continue;
      if (p.endsWith('/')) userDirs.add(p);
      else userFiles.add(p);
    }
    const state: GitState = {
      version: 1,
      mode: 'git',
      branch: this.branch,
      started_from: from.started_from ?? base,
      base,
      user_files: [...userFiles].sort(),
      user_dirs: [...userDirs].sort(),
      dirty: {},
    };
    state.dirty = this.dirtySigs(await this.unfold(raw, state), this.users(state), prevDirty);
    return { state, base };
  }

  /**
   * workspace.json lost or damaged (control repair): rebuilt from what outlives
   * it, or null when it reads fine. The starting points come from the ledger;
   * every untracked path now is the user's, as at begin (never committed, never
   * deleted: a new file of the model's not measured yet is kept out of the loop
   * rather than risked), with whatever the damaged file still names; changes
   * outside the scope are taken as they stand. The damaged bytes are kept beside it.
   */
  async rebuildRecord(from: RecordSource): Promise<string | null> {
    if (this.candidate || this.load()) return null;
    const file = this.stateFile();
    const want = `refs/heads/${this.branch}`;
    if ((await this.currentBranchRef()) !== want) {
      throw new RefusalError(`${path.basename(file)} of ${this.exp.slug} is damaged or missing and ${this.branch} is not checked out: check it out, then run control repair again`);
    }
    const salvaged = salvageUsers(readOrNull(file));
    const kept = keepDamagedCopy(file);
    const { state } = await this.recordTree(from, new Set(salvaged.files), new Set(salvaged.dirs), {});
    this.save(state);
    const users = state.user_files.length + state.user_dirs.length;
    return `rebuilt ${path.basename(file)} (${users} untracked path(s) recorded as yours, never committed or deleted${kept ? `; the damaged copy is ${kept}` : ''})`;
  }

  /** The state begin() staged for a new segment (read in its place until the init ends). */
  private staged: GitState | null = null;

  /** Where begin() switched from (a branch ref, or null: a detached HEAD at oid), and the commit of the branch it created. */
  private switched: { from: string | null; oid: string; created: string | null } | null = null;

  /**
   * An init that failed after begin(): back on the branch (or detached HEAD)
   * begin found, the user's uncommitted and untracked files kept (git
   * carries them over both ways, as it did one way), and the branch begin
   * created deleted while it has no commit of its own.
   */
  async undoBegin(): Promise<void> {
    const sw = this.switched;
    if (!sw) return;
    this.switched = null;
    this.mutating();
    const now = await this.revParse('HEAD');
    if (now === sw.oid) {
      // The same commit (a branch just made from HEAD): only HEAD moves; no file, not even the index, is touched.
      if (sw.from) await this.git.run(['symbolic-ref', '-m', 'autoloop: init-experiment failed, back where it began', 'HEAD', sw.from]);
      else await this.git.run(['update-ref', '--no-deref', '-m', 'autoloop: init-experiment failed, back where it began', 'HEAD', sw.oid]);
    } else {
      await this.git.run(sw.from ? ['checkout', '-q', sw.from.replace(/^refs\/heads\//, ''), '--'] : ['checkout', '-q', '--detach', sw.oid]);
    }
    // Guarded by its value: a branch that got a commit meanwhile stays.
    if (sw.created) await this.git.tryRun(['update-ref', '-d', `refs/heads/${this.branch}`, sw.created]);
  }

  /** .autoloop/ must never show up as untracked; the user's .gitignore is theirs, info/exclude is local. */
  private async ensureExcluded(): Promise<void> {
    const file = commonGitPaths(this.root, ['info/exclude'])?.[0];
    if (!file) throw new Error(`git cannot tell where ${this.root}'s info/exclude is`);
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      text = '';
    }
    const listed = text.split('\n').some((l) => ['.autoloop', '.autoloop/', '/.autoloop', '/.autoloop/'].includes(l.trim()));
    if (listed) return;
    const sep = text === '' || text.endsWith('\n') ? '' : '\n';
    writeFileAtomic(file, `${text}${sep}# autoloop's state (never committed)\n.autoloop/\n`);
  }

  async head(): Promise<string> {
    // A read with nothing run or written since (observe()'s before the run, the
    // last settle's after it) already says where the branch is.
    const read = this.readBranch();
    if (read) return read;
    const sha = await this.revParse(`refs/heads/${this.branch}`);
    if (!sha) throw new RefusalError(missingBranchText(this.root, this.branch, await currentBranch(this.root)));
    return sha;
  }

  /** The .gitignore files in scope that git ignores (ignore-rules.ts); the user's directories are not looked into. */
  async hiddenIgnores(): Promise<IgnoreRules> {
    return hiddenIgnoreFiles(this.root, this.scope.bases, this.load()?.user_dirs ?? []);
  }

  /**
   * An untracked directory in the scope's reach that git lists as one entry
   * even when asked file by file: a repository of its own. Its files are in
   * no status, no change and no keep, yet the benchmark reads them.
   */
  async nestedRepos(): Promise<string[]> {
    const st = await this.status();
    const userDirs = this.load()?.user_dirs ?? [];
    return [...st.keys()].filter((p) => p.endsWith('/') && untrackedOnly(st.get(p) ?? []) && this.reaches(p) && !underDir(p, userDirs)).sort();
  }

  async hiddenModes(): Promise<string[]> {
    return hiddenModeChanges(this.root, this.scope, this.exp.dir);
  }

  async changedInScope(): Promise<string[]> {
    this.fresh();
    const s = this.state();
    await this.assertOnBranch();
    return this.inScopeChanged(await this.status(), this.users(s));
  }

  async created(paths: readonly string[]): Promise<string[]> {
    const snap = await this.snapshot();
    return paths.filter((p) => untrackedOnly(snap.status.get(p) ?? ['  ']) && !snap.inHead.has(p));
  }

  async outOfScopeChanges(): Promise<OutsideChange[]> {
    this.fresh();
    return this.outOfScope();
  }

  async touchedOutside(mark: bigint): Promise<{ restored: string[]; hidden: string[] }> {
    const hashLen = this.snap?.oid?.length === 64 ? 32 : 20;
    const dirs = gitDirsOf(this.root);
    let buf: Buffer | null = null;
    try {
      buf = dirs ? fs.readFileSync(path.join(dirs.gitDir, 'index')) : null;
    } catch {
      buf = null;
    }
    // A big index: git lstat's the files in C and names only those whose stat no longer matches their entry
    // (every one written since the index was, these among them; flagged entries it skips are added below).
    // Not when the index itself was written meanwhile (an `update-index --refresh` takes the new stat in).
    const big = buf !== null && buf.length >= 12 && buf.readUInt32BE(8) > TOUCH_SCAN_MAX && dirs !== null && touchedSince(dirs.gitDir, ['index'], mark).length === 0;
    // Every tracked path (a small index), and the flagged entries with their blob ids: from the index file
    // itself, no object per entry; git is asked where that cannot be read (a split index).
    const names: string[] = [];
    let flagged: IndexEntry[] | null = null;
    try {
      // A big index with no flagged entry (the usual case) is not read name by name at all.
      flagged = buf && big && anyFlagged(buf, hashLen) === false ? [] : buf ? indexEntries(buf, hashLen, (p, f) => (f || big || names.push(p), f)) : null;
    } catch {
      flagged = null;
    }
    if (!flagged) names.push(...(await this.git.run(['ls-files', '-z'])).split('\0').filter((p) => p !== ''));
    if (big && flagged) names.push(...(await this.git.run(['diff-files', '--name-only', '-z'])).split('\0').filter((p) => p !== ''));
    const flags = new Map((flagged ?? []).map((e) => [e.path, e.id]));
    const hidden: string[] = [];
    const restored: string[] = [];
    // The scope's globs only for what was written (matching 30,000 paths costs more than their lstat).
    for (const p of touchedSince(this.root, new Set([...names, ...flags.keys()]), mark)) {
      if (this.scope.inScope(p) || isInternal(p)) continue;
      // An edit that an assume-unchanged or skip-worktree flag hides from status: bytes other than the entry's.
      const id = flags.get(p);
      (id !== undefined && workBlobId(this.root, p, hashLen * 2) !== id ? hidden : restored).push(p);
    }
    return { restored, hidden };
  }

  private async outOfScope(): Promise<OutsideChange[]> {
    const s = this.state();
    await this.assertOnBranch();
    const now = this.dirtySigs(await this.status(), this.users(s), s.dirty);
    // Recorded paths that are clean now were changed too (the user's work undone);
    // not those below a user directory: status no longer lists them (unfold skips them), which is no change.
    for (const p of Object.keys(s.dirty)) if (!(p in now) && !underDir(p, s.user_dirs)) now[p] = this.sig(p, 'clean', s.dirty[p]);
    const changed: OutsideChange[] = [];
    const untracked = (sig: Sig | undefined) => !sig || sig.xy.split(',').every((c) => c === '??');
    for (const [p, cur] of Object.entries(now)) {
      const was = s.dirty[p];
      if (was && was.xy === cur.xy && was.hash === cur.hash) continue;
      changed.push({ path: p, kind: untracked(was) && untracked(cur) ? 'created' : 'modified' });
    }
    return changed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async netLinesRemoved(files: readonly string[]): Promise<number> {
    if (!files.length) return 0;
    const tracked = [...(await this.inHead(files))];
    let net = this.netFromLooseBlobs(tracked);
    if (net === null) {
      net = 0;
      for (const batch of batches(tracked)) {
        // numstat: "added<TAB>removed<TAB>path"; binary files print "-".
        const out = await this.git.run(['diff', '--numstat', '-z', 'HEAD', '--', ...batch]);
        for (const rec of out.split('\0')) {
          const m = /^(\d+)\t(\d+)\t/.exec(rec);
          if (m) net += Number(m[2]) - Number(m[1]);
        }
      }
    }
    const inHead = new Set(tracked);
    for (const f of files) if (!inHead.has(f)) net -= lineCount(readForDiff(path.join(this.root, f)));
    return net;
  }

  /**
   * What `diff --numstat HEAD` sums to, without git, when every HEAD blob is a
   * loose object (numstat.ts); null: ask git (a packed blob, an attributes file
   * that could mark a path binary or convert it, a config setting that changes
   * the count).
   */
  private netFromLooseBlobs(paths: readonly string[]): number | null {
    if (!paths.length) return 0;
    const snap = this.snap;
    const objects = (this.objects ??= objectsDirOf(this.root));
    if (!snap || !objects || diffSettingsConfigured(this.root) || attributesMayApply(this.root, objects, paths)) return null;
    let net = 0;
    for (const p of paths) {
      const head = snap.headBlob.get(p);
      const before = head ? readLoose(objects, head) : null;
      if (before?.type !== 'blob') return null;
      const now = workBytes(path.join(this.root, p));
      if (now === undefined) return null;
      net += numstatNet(before.body, now);
    }
    return net;
  }

  async settleOutOfScope(): Promise<OutsideChange[]> {
    // The tree may have changed since the last read: look again (once), and
    // answer this and the in-scope question that follows from that look. A read
    // observe() just made, with nothing run or written since (run-experiment:
    // observe, then settle before the first sample), is that look: one git
    // process fewer per run. Any later settle (after the benchmark, the checks)
    // reads the tree again, and so does one after the engine wrote the tree
    // itself (judges put back: stale()).
    if (!this.pinned || !this.current) await this.snapshot(true);
    this.pinned = false;
    this.observed = true;
    const changed = await this.outOfScope();
    if (!changed.length) return [];
    const s = this.state();
    // New untracked paths outside the scope are the user's from now on (never committed, never deleted).
    for (const c of changed) {
      if (c.kind !== 'created') continue;
      if (c.path.endsWith('/')) s.user_dirs = [...new Set([...s.user_dirs, c.path])].sort();
      else if (!this.scope.inScope(c.path)) s.user_files = [...new Set([...s.user_files, c.path])].sort();
    }
    s.dirty = this.dirtySigs(await this.status(), this.users(s), s.dirty);
    this.save(s);
    return changed;
  }

  /** Where captures write their blobs in this process (loose-object.ts); null: git writes them. Found once. */
  private objects: string | null | undefined;

  async capture(paths: string[], opts: { compareOnly?: boolean } = {}): Promise<CaptureResult> {
    // The object format (sha1 or sha256) is known from a commit id the last read saw.
    const format = this.snap?.oid?.length;
    const hexLen = opts.compareOnly ? format : undefined;
    // A capture a keep may commit writes each blob here, without a git process; git only where that declines.
    const objects = !opts.compareOnly && format ? (this.objects ??= objectsDirOf(this.root)) : null;
    const files: Capture = {};
    const problems: string[] = [];
    const regular: string[] = [];
    for (const rel of [...new Set(paths)].sort()) {
      const problem = keepProblem(this.root, rel);
      if (problem) {
        problems.push(problem);
        continue;
      }
      const abs = path.join(this.root, rel);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(abs);
      } catch {
        files[rel] = null;
        continue;
      }
      if (hexLen && (st.isSymbolicLink() || st.isFile())) {
        const id = st.isSymbolicLink() ? blobIdOf(Buffer.from(fs.readlinkSync(abs)), hexLen) : blobIdOfFile(abs, st.size, hexLen);
        if (id) {
          files[rel] = { id, mode: st.isSymbolicLink() ? 0o120000 : st.mode & 0o111 ? 0o100755 : 0o100644 };
          continue;
        }
      }
      const written = objects && format ? writePathBlob(objects, abs, st, format) : null;
      if (written) {
        files[rel] = { id: written, mode: st.isSymbolicLink() ? 0o120000 : st.mode & 0o111 ? 0o100755 : 0o100644 };
        continue;
      }
      if (st.isSymbolicLink()) {
        const id = (await this.git.input(['hash-object', '-w', '--no-filters', '--stdin'], fs.readlinkSync(abs))).trim();
        files[rel] = { id, mode: 0o120000 };
      } else {
        regular.push(rel);
        files[rel] = { id: '', mode: st.mode & 0o111 ? 0o100755 : 0o100644 };
      }
    }
    for (const chunk of batches(regular)) {
      const ids = (await this.git.run(['hash-object', '-w', '--no-filters', '--', ...chunk])).split('\n').filter(Boolean);
      if (ids.length !== chunk.length) throw new Error('git hash-object returned fewer ids than paths');
      chunk.forEach((rel, i) => ((files[rel] as { id: string }).id = ids[i] as string));
    }
    return { files, problems };
  }

  /** The checked-out ref and the branch's commit: from the current read, else in one git process. */
  private async headAndRef(): Promise<{ ref: string | null; sha: string }> {
    const read = this.readBranch();
    // update-ref below is a compare-and-swap on this value: a branch moved since the read is refused there.
    if (read) return { ref: `refs/heads/${this.branch}`, sha: read };
    const out = (await this.git.tryRun(['rev-parse', `refs/heads/${this.branch}`, '--symbolic-full-name', 'HEAD'])) ?? '';
    const [sha, ref] = out.trim().split('\n');
    if (!sha || !/^[0-9a-f]{40,64}$/.test(sha)) throw new RefusalError(missingBranchText(this.root, this.branch, await currentBranch(this.root)));
    return { sha, ref: ref && ref !== 'HEAD' ? ref : null };
  }

  /** commit-tree with the user's identity; autoloop's only when git has none (then git is asked why it failed). */
  private async commitTree(args: string[]): Promise<string> {
    const r = await gitTry(this.root, ['commit-tree', ...args], LITERAL);
    if (r.code === 0) return r.stdout.trim();
    const ident = await identityEnv(this.root);
    if (!Object.keys(ident).length) throw new Error(firstLine(r.stderr) || `git exited with ${r.code}`);
    return (await this.git.run(['commit-tree', ...args], ident)).trim();
  }

  async keep(files: string[], message: string, trailers: Record<string, string>, capture?: Capture, durable?: Promise<void>): Promise<string> {
    const { ref, sha: old } = await this.headAndRef();
    this.mutating();
    const s = this.state();
    this.checkBranch(ref);
    this.sweepStale();
    const paths = [...new Set(files)].sort();
    for (const f of paths) {
      if (!this.scope.inScope(f)) throw new UsageError(`keep: ${f} is outside the scope (or protected); it cannot be committed`);
      if (this.isUserFile(s, f)) throw new UsageError(`keep: ${f} is a user file (untracked when the experiment began); it is never committed`);
      if (capture && !(f in capture)) throw new UsageError(`keep: ${f} was not measured`);
    }
    if (capture) await this.ensureBlobs(capture);
    // The index entries of the keep: the measured blobs, else the work tree's bytes now.
    const entries = capture ? paths.map((p) => indexLine(p, capture[p] ?? null)).join('') : null;
    const body = commitMessage(message, { ...trailers, 'Autoloop-Experiment': trailers['Autoloop-Experiment'] ?? this.exp.slug });
    const index = path.join(this.exp.dir, `.keep-index-${process.pid}-${randomBytes(4).toString('hex')}`);
    const priv = { GIT_INDEX_FILE: index };
    let commit: string;
    try {
      // The best's tree with exactly the kept paths (deletions included), nothing
      // else the user staged: built here from loose objects (loose-tree.ts), else
      // by git in a private index that starts at the best.
      const tree = (capture && this.inProcessTree(old, paths, capture)) || (await this.gitTree(old, paths, entries, priv));
      commit = this.inProcessCommit(tree, old, body) ?? (await this.commitTree(['--no-gpg-sign', tree, '-p', old, '-m', body]));
      crashPoint('git:committed');
      // The keep's ledger line on disk before the branch moves (its fsync ran beside the tree and commit object).
      await durable;
      // Compare-and-swap: if the branch moved under us, refuse rather than lose a commit.
      // Done here where every step is the files backend's plain one (loose-ref.ts), else by git.
      const reflog = `autoloop: keep ${trailers['Autoloop-Run'] ?? ''}`.trim();
      if (!(ref && updateBranchRef(this.root, this.branch, commit, old, reflog, Math.floor(Date.now() / 1000)))) {
        await this.git.run(['update-ref', '-m', reflog, `refs/heads/${this.branch}`, commit, old]);
      }
      crashPoint('git:ref-updated');
    } finally {
      fs.rmSync(index, { force: true });
      fs.rmSync(index + '.lock', { force: true });
    }
    // Bring the real index in line with the new commit for these paths only.
    await this.stage(paths, entries, {});
    return commit;
  }

  /**
   * The measured blobs a keep commits must still be in git's object store: a
   * `git prune` or `gc` that the code under test ran deletes unreferenced ones,
   * and a tree naming a missing blob is a broken commit that every later call
   * fails on. A loose one whose bytes no longer hash to its name was forged
   * (`.git` is writable to the code under test, and git never checks a hash
   * when it reads): every later checkout of the keep (a revert, the best's
   * tree, finalize) would give bytes never measured, so it is removed and
   * counts as gone. One that is gone is written again from the work tree when
   * the file there still has its id; else the keep is refused (a revert with the reason).
   */
  private async ensureBlobs(capture: Capture): Promise<void> {
    const objects = (this.objects ??= objectsDirOf(this.root));
    const kept = Object.entries(capture).flatMap(([rel, f]) => (f && f.mode !== 0o160000 ? [{ rel, id: f.id }] : []));
    if (objects) for (const f of kept) dropForged(objects, f.id);
    const unsure = objects ? kept.filter((f) => !fs.existsSync(path.join(objects, f.id.slice(0, 2), f.id.slice(2)))) : kept;
    if (!unsure.length) return;
    const out = await this.git.input(['cat-file', '--batch-check'], unsure.map((f) => `${f.id}\n`).join(''));
    const missing = new Set(out.split('\n').filter((l) => l.endsWith(' missing')).map((l) => l.split(' ')[0]));
    for (const f of unsure) {
      if (!missing.has(f.id)) continue;
      const again = (await this.capture([f.rel])).files[f.rel];
      if (again?.id !== f.id) throw new RefusalError(`the measured content of ${sanitizeLine(f.rel)} is gone from git's object store (a git gc or prune while the code under test ran?) and the file has changed since; not kept`);
    }
  }

  private inProcessTree(old: string, paths: string[], capture: Capture): string | null {
    const objects = (this.objects ??= objectsDirOf(this.root));
    return objects ? keepTree(objects, old, Object.fromEntries(paths.map((p) => [p, capture[p] ?? null]))) : null;
  }

  /** The keep's commit written here (loose-commit.ts) where its every input is certain; null: commit-tree. */
  private inProcessCommit(tree: string, parent: string, body: string): string | null {
    const objects = (this.objects ??= objectsDirOf(this.root));
    return objects ? writeCommit(this.root, objects, tree, parent, body, Math.floor(Date.now() / 1000)) : null;
  }

  private async gitTree(old: string, paths: string[], entries: string | null, priv: Record<string, string>): Promise<string> {
    await this.git.run(['read-tree', old], priv);
    await this.stage(paths, entries, priv);
    return (await this.git.run(['write-tree'], priv)).trim();
  }

  private async stage(paths: string[], entries: string | null, env: Record<string, string>): Promise<void> {
    if (entries !== null) {
      if (entries) await this.git.input(['update-index', '-z', '--index-info'], entries, env);
      return;
    }
    for (const chunk of batches(paths)) await this.git.run(['update-index', '--add', '--remove', '--', ...chunk], env);
  }

  async revert(rescueDir: string): Promise<Reverted> {
    const s = this.state();
    // The engine's own look at the tree (observe, or the settle after a run's
    // last command), with no command of the code under test, keep or revert
    // since, is the tree as it is: the revert acts on it, one git process fewer
    // per discard (one-call form). Any other caller gets a fresh read.
    const read = this.observed && this.current ? this.snap : null;
    this.mutating();
    this.snap = read;
    await this.snapshot();
    await this.assertOnBranch();
    this.sweepStale();
    const st = await this.status();
    const changed = this.inScopeChanged(st, this.users(s));
    if (!changed.length) return { files: [], created: [] };
    const tracked = await this.inHead(changed);
    const created = changed.filter((p) => !tracked.has(p));
    const restore = changed.filter((p) => tracked.has(p));
    // Whatever is overwritten or taken away is moved aside first, never deleted: it may be the user's.
    // Created first: a created file may stand where a restored directory must go.
    const moved = moveAside(this.root, changed, new Set(created), rescueDir);
    const staged = created.filter((p) => !untrackedOnly(st.get(p) ?? []));
    for (const chunk of batches(staged)) await this.git.run(['update-index', '--force-remove', '--', ...chunk]);
    // Byte for byte as kept: no attribute the code under test planted converts them (raw-checkout.ts).
    await checkoutExact(this.root, (this.objects ??= objectsDirOf(this.root)), 'HEAD', restore);
    this.snap = null;
    return { files: changed, created: moved };
  }

  async restoreHead(expected: string, rescueDir?: string): Promise<HeadRestored> {
    this.mutating();
    await this.assertOnBranch();
    const moved = await this.head();
    if (moved === expected) return { saved: '', changed: [], rescued: [] };
    if ((await this.revParse(expected)) === null) throw new RefusalError(`the last kept commit ${expected.slice(0, 12)} no longer exists; open a new segment with init-experiment`);
    const changed = (await this.git.run(['diff', '--name-only', '-z', '--no-renames', expected, moved])).split('\0').filter(Boolean);
    const dirty = [...(await this.status(true)).keys()].filter((p) => changed.includes(p));
    this.mutating();
    if (dirty.length && !rescueDir) throw new RefusalError(`uncommitted changes to ${dirty.slice(0, 3).join(', ')}, which the outside commit touched: commit or stash them, then repair again`);
    // Uncommitted edits on those paths are moved aside, not lost.
    for (const p of dirty) if (rescueDir) rescueFile(this.root, p, rescueDir);
    const saved = `refs/autoloop/moved/${this.exp.slug}/${Date.now().toString(36)}`;
    await this.git.run(['update-ref', saved, moved]);
    await this.git.run(['update-ref', '-m', 'autoloop: repair (back to the last keep)', `refs/heads/${this.branch}`, expected, moved]);
    // Index and work tree back at the kept commit for exactly the paths the outside commit changed.
    const inExpected = await this.treeHas(expected, changed);
    const gone = changed.filter((p) => !inExpected.has(p));
    for (const chunk of batches(gone)) await this.git.run(['rm', '-q', '--cached', '--ignore-unmatch', '--', ...chunk]);
    for (const p of gone) removeCreated(this.root, p);
    const back = changed.filter((p) => inExpected.has(p));
    await checkoutExact(this.root, (this.objects ??= objectsDirOf(this.root)), expected, back);
    return { saved, changed, rescued: rescueDir ? dirty : [] };
  }

  async restoreOutside(paths: readonly string[], rescueDir: string): Promise<string[]> {
    this.mutating();
    await this.assertOnBranch();
    const outside = paths.filter((p) => !this.scope.inScope(p));
    const inHead = await this.treeHas('HEAD', outside);
    for (const p of outside) rescueFile(this.root, p, rescueDir);
    const back = outside.filter((p) => inHead.has(p));
    await checkoutExact(this.root, (this.objects ??= objectsDirOf(this.root)), 'HEAD', back);
    this.mutating();
    return outside;
  }

  private async treeHas(rev: string, paths: readonly string[]): Promise<Set<string>> {
    const want = new Set(paths);
    const found = new Set<string>();
    for (const chunk of batches(paths)) {
      const out = await this.git.run(['ls-tree', '-r', '-z', '--name-only', rev, '--', ...chunk]);
      for (const p of out.split('\0')) if (want.has(p)) found.add(p);
    }
    return found;
  }

  async findKeep(runId: string): Promise<string | null> {
    const s = this.state();
    const out = await this.git.tryRun(['log', '-n', '5000', '--format=%H%x1f%B%x1e', `${s.started_from}..refs/heads/${this.branch}`]);
    if (!out) return null;
    for (const rec of out.split('\x1e')) {
      const [sha, msg] = rec.split('\x1f');
      if (!sha || msg === undefined) continue;
      const t = parseTrailers(msg);
      if (t.get('Autoloop-Run') !== runId) continue;
      const expName = t.get('Autoloop-Experiment');
      if (expName !== undefined && expName !== this.exp.slug) continue;
      return sha.trim();
    }
    return null;
  }

  async diffSummary(): Promise<string> {
    this.fresh();
    const s = this.state();
    await this.assertOnBranch();
    const st = await this.status();
    const changed = this.inScopeChanged(st, this.users(s));
    if (!changed.length) return '';
    const tracked = await this.inHead(changed);
    const tag = (p: string) => (!fs.existsSync(path.join(this.root, p)) && tracked.has(p) ? 'D' : tracked.has(p) ? 'M' : 'A');
    let text = `${changed.length} file(s) changed in scope: ${changed.map((p) => `${tag(p)} ${p}`).join(', ')}\n`;
    const known = changed.filter((p) => tracked.has(p) || !untrackedOnly(st.get(p) ?? []));
    for (const chunk of batches(known)) {
      if (Buffer.byteLength(text) > 4096) break;
      // --no-textconv: a diff driver's textconv is a user program, and no user program runs on the engine's git commands.
      text += await this.git.run(['diff', '--no-color', '--no-ext-diff', '--no-textconv', 'HEAD', '--', ...chunk]);
    }
    for (const p of changed.filter((x) => !known.includes(x))) {
      if (Buffer.byteLength(text) > 4096) break;
      text += fileDiff(p, null, readForDiff(path.join(this.root, p)));
    }
    return boundText(text);
  }
}

interface Users {
  has(p: string): boolean;
}

/** One `update-index -z --index-info` record: the measured blob, or a removal. */
function indexLine(p: string, f: { id: string; mode: number } | null): string {
  return f ? `${f.mode.toString(8)} ${f.id}\t${p}\0` : `0 ${ZERO}\t${p}\0`;
}

/** Trailer keys are tokens; values one line. */
function commitMessage(message: string, trailers: Record<string, string>): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(trailers)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(k)) throw new UsageError(`keep: bad trailer name ${JSON.stringify(k)}`);
    lines.push(`${k}: ${sanitizeLine(v).replace(/\s+/g, ' ').trim()}`);
  }
  // A description is the model's text: no escape sequence goes into the history (git log prints it raw).
  const text = sanitize(message).trim() || 'autoloop: keep';
  return lines.length ? `${text}\n\n${lines.join('\n')}\n` : `${text}\n`;
}

/** The trailers of a commit message: `Key: value` lines of its last paragraph. */
export function parseTrailers(message: string): Map<string, string> {
  const paras = message.trim().split(/\n\s*\n/);
  const last = paras[paras.length - 1] ?? '';
  const out = new Map<string, string>();
  for (const line of last.split('\n')) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*): (.*)$/.exec(line.trim());
    if (m) out.set(m[1] as string, (m[2] as string).trim());
  }
  return out;
}
