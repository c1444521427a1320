// The engine's one git runner. Every git command the engine runs (workspace,
// chain, finalize, finding the repository root) goes through gitArgs/gitEnv
// here, so what git may do on our behalf is decided in one place:
// - argument arrays only (spawn/execFileSync, no shell);
// - the ambient GIT_* variables dropped (a GIT_DIR or GIT_INDEX_FILE inherited
//   from a hook would point git somewhere else), no editor, pager or prompt;
// - the user's hooks off for the engine's own commands (core.hooksPath), paths
//   printed raw (core.quotepath), every stat field compared (core.checkStat);
// - errors as one line.
// Why not simple-git: the engine only ever needed `.raw()` (plumbing with a
// private index and exact pathspecs), so the library added a dependency and a
// second environment filter without doing anything for us.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { gitDirsOf, headBranch } from './git-dirs.ts';
import { configFiles, mayMention } from './git-config-files.ts';
import { gitFile } from './git-binary.ts';
import { countIo } from './iocount.ts';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Options every engine git command runs with: paths raw, and nothing of the
 * user's that runs a program or waits on one (hooks, fsmonitor, submodule
 * recursion). Content filters are switched off per driver (filterConfig).
 */
const CONFIG = [
  '-c', 'core.quotepath=false',
  '-c', 'core.hooksPath=/dev/null',
  '-c', 'core.fsmonitor=false',
  '-c', 'submodule.recurse=false',
  '-c', 'diff.external=',
  // Every stat field compared: with checkStat=minimal and trustctime off (a
  // line in .git/config, which the code under test can write), an edit that
  // keeps the size and puts the mtime back is invisible to status.
  '-c', 'core.checkStat=default',
  '-c', 'core.trustctime=true',
  '-c', 'core.ignoreStat=false',
  // The bytes as they are: the engine's blobs are the work tree's bytes as measured (hash-object
  // --no-filters), so its checkouts write and its status compares those bytes. With core.autocrlf
  // (a line in .git/config the code under test can write) a revert would write CRLF for what was
  // measured LF, and status would not see an edit that changes only line ends.
  '-c', 'core.autocrlf=false',
  // git looks into a submodule's work tree by running `git status` there, with that submodule's
  // config (`.git/modules/<name>/config`, writable to the code under test): a clean filter planted
  // there ran as the engine, outside any containment. No engine command lets git recurse so
  // (submodule-dirt.ts looks into each one with its own drivers off); the option each diff and status
  // is given (withoutRecursion) also beats a `submodule.<name>.ignore=none` in the repository's config.
  '-c', 'diff.ignoreSubmodules=dirty',
];
/** The commands that compare a work tree, where git would recurse into a submodule's. */
const WORKTREE_DIFFS = new Set(['status', 'diff', 'diff-files', 'diff-index']);
const NO_RECURSION = '--ignore-submodules=dirty';

/** `args` with a status or diff told not to look inside submodules (whatever the caller or the config asked). Pure. */
export function withoutRecursion(args: readonly string[]): readonly string[] {
  const sub = args[0];
  if (sub === undefined || !WORKTREE_DIFFS.has(sub)) return args;
  const end = args.indexOf('--');
  const options = (end < 0 ? args : args.slice(0, end)).slice(1).filter((a) => !a.startsWith('--ignore-submodules'));
  return [sub, NO_RECURSION, ...options, ...(end < 0 ? [] : args.slice(end))];
}
/** Plain variables git would use to start an editor, a pager or a password prompt. */
const INTERACTIVE = new Set(['EDITOR', 'VISUAL', 'PAGER', 'SSH_ASKPASS', 'PREFIX']);
const MAX_BUFFER = 256 * 1024 * 1024;

/** What the config of a repository says that the engine must know, per cwd (at most one `git config` per engine call). */
interface RepoConfig {
  /** Filter drivers (LFS, git-crypt, …). */
  drivers: string[];
  /** Merge drivers (a program git's merge-tree would run for a path whose attributes name it). */
  mergeDrivers: string[];
  /** Settings that change how git counts a diff's lines (an attributes file of the user's, a big-file threshold). */
  diffSettings: boolean;
}
/**
 * Per cwd, with the stat of the config files it was read from: code under
 * test can write .git/config (a filter driver whose program the engine's next
 * git command would run, outside any containment), so a changed file is read
 * again; forgetRepoConfig() drops it all before each such command (an included
 * file is not in the stat).
 */
const configCache = new Map<string, { key: string; config: RepoConfig }>();
/** The names asked about below; config files that never mention them (git-config-files.ts) spare the git process. */
export const ASKED = /filter|attributesfile|bigfilethreshold|driver/i;

/** Which config files git reads, per cwd: found again after each command of the code under test (it may change `.git`). */
const filesCache = new Map<string, string[] | null>();

/** A command of the code under test is about to run: any config read before it may be stale after it. */
export function forgetRepoConfig(): void {
  configCache.clear();
  filesCache.clear();
}

function statKey(files: readonly string[] | null): string {
  if (!files) return '';
  return files
    .map((f) => {
      try {
        const st = fs.statSync(f, { bigint: true });
        return `${st.ino}:${st.size}:${st.mtimeNs}`;
      } catch {
        return '-';
      }
    })
    .join(',');
}

function repoConfig(cwd: string): RepoConfig {
  let files = filesCache.get(cwd);
  if (files === undefined) filesCache.set(cwd, (files = configFiles(cwd)));
  const key = statKey(files);
  const hit = configCache.get(cwd);
  if (hit && hit.key === key) return hit.config;
  const c: RepoConfig = { drivers: [], mergeDrivers: [], diffSettings: false };
  configCache.set(cwd, { key, config: c });
  if (files && !mayMention(files, ASKED)) return c;
  countIo('git');
  try {
    const out = execFileSync(gitFile(), [...CONFIG, 'config', '--name-only', '-z', '--get-regexp', '^(filter\\.|merge\\..+\\.driver$|core\\.attributesfile$|core\\.bigfilethreshold$)'], {
      cwd,
      env: gitEnv(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const raw of out.split('\0')) {
      const name = raw.trim();
      if (name === 'core.attributesfile' || name === 'core.bigfilethreshold') c.diffSettings = true;
      const m = /^filter\.(.+)\.[^.]+$/s.exec(name);
      if (m?.[1] && !c.drivers.includes(m[1])) c.drivers.push(m[1]);
      const md = /^merge\.(.+)\.driver$/s.exec(name);
      if (md?.[1] && !c.mergeDrivers.includes(md[1])) c.mergeDrivers.push(md[1]);
    }
  } catch {
    // exit 1: nothing of this configured (or not a repository yet)
  }
  return c;
}

/**
 * Every configured filter driver switched off: the engine hashes, commits and
 * restores the bytes as they are in the work tree, so a filter whose program
 * is missing (LFS without git-lfs) or fails can never block or change a keep.
 */
export function filterConfig(cwd: string): string[] {
  const c = repoConfig(cwd);
  return [
    ...c.drivers.flatMap((d) => ['-c', `filter.${d}.clean=`, '-c', `filter.${d}.smudge=`, '-c', `filter.${d}.process=`, '-c', `filter.${d}.required=false`]),
    // An empty merge driver makes git fail that merge (a conflict to the engine), running nothing.
    ...c.mergeDrivers.flatMap((d) => ['-c', `merge.${d}.driver=`]),
  ];
}

/** Whether the config names an attributes file or a big-file threshold (then only git counts a diff). Asked with the filters. */
export function diffSettingsConfigured(cwd: string): boolean {
  return repoConfig(cwd).diffSettings;
}

/** The excludes file the segment recorded (ignore-rules.ts), or null: git's own choice. */
let pinnedExcludes: string | null = null;

/**
 * Every engine git command reads the excludes file the segment opened with: a core.excludesFile the
 * code under test sets later (in .git/config, or in ~/.gitconfig, both writable to it) would hide a
 * file the benchmark reads from every keep ("measured 1, kept what scores 50"). '' pins none at all.
 * Returns the pin before.
 */
export function pinExcludesFile(file: string | null): string | null {
  const was = pinnedExcludes;
  pinnedExcludes = file;
  return was;
}

export function gitArgs(args: readonly string[], cwd?: string): string[] {
  const pin = pinnedExcludes === null ? [] : ['-c', `core.excludesFile=${pinnedExcludes || '/dev/null'}`];
  return [...CONFIG, ...pin, ...(cwd ? [...workTreeArgs(cwd), ...ignoreCaseArgs(cwd), ...filterConfig(cwd)] : []), ...withoutRecursion(args)];
}

/** Per work tree: whether its filesystem folds case, as found (one lstat pair per engine process). */
const foldsCase = new Map<string, boolean | null>();

/**
 * core.ignoreCase as the filesystem really is: a line in .git/config (which the code under test can
 * write) saying true on a filesystem that keeps case made status treat a new `src/V` as the tracked
 * `src/v`: a file the benchmark read (it scored 1) was neither seen nor kept ("measured 1, kept what
 * scores 45"). Probed on the repository's git directory (a directory: no hard link can fake the
 * answer): `.GIT` is `.git` only where case folds.
 */
function ignoreCaseArgs(cwd: string): string[] {
  let folds = foldsCase.get(cwd);
  if (folds === undefined) {
    const common = gitDirsOf(cwd)?.commonDir;
    const name = common ? path.basename(common) : '';
    const swapped = [...name].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
    const dir = common && swapped !== name ? fs.lstatSync(common, { throwIfNoEntry: false }) : undefined;
    const other = dir?.isDirectory() && common ? fs.lstatSync(path.join(path.dirname(common), swapped), { throwIfNoEntry: false }) : undefined;
    folds = dir?.isDirectory() ? other !== undefined && other.ino === dir.ino && other.dev === dir.dev : null;
    foldsCase.set(cwd, folds);
  }
  return folds === null ? [] : ['-c', `core.ignoreCase=${folds}`];
}

/**
 * At the top of a work tree (its `.git` is there), git is told so: a
 * core.worktree in .git/config (which code under test can write; `-c` does not
 * override it) would otherwise point every engine command at another
 * directory, whose clean tree hides what the run changed here.
 */
function workTreeArgs(cwd: string): string[] {
  return fs.existsSync(`${cwd}/.git`) ? [`--work-tree=${cwd}`] : [];
}

/** The environment of an engine git command: the user's, sanitised, plus `extra` (ours, e.g. GIT_INDEX_FILE). */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    const u = k.toUpperCase();
    if (v !== undefined && !u.startsWith('GIT_') && !INTERACTIVE.has(u)) out[k] = v;
  }
  // Replacement refs off: code under test can write .git/refs/replace/<id>, and
  // git would then read another object for an id the engine recorded (the
  // best's tree, a revert, finalize would show bytes never measured).
  return { ...out, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', GIT_NO_REPLACE_OBJECTS: '1', ...extra };
}

/** Run git; never throws for a non-zero exit (the caller decides). */
export function gitTry(cwd: string, args: readonly string[], extra: Record<string, string> = {}): Promise<GitResult> {
  return runGit(cwd, args, extra, null);
}

/** Run git with `input` on its stdin; never throws for a non-zero exit. */
export function gitWithInput(cwd: string, args: readonly string[], input: string, extra: Record<string, string> = {}): Promise<GitResult> {
  return runGit(cwd, args, extra, input);
}

/**
 * One git process. Its stdin is a pipe only when there is input (else
 * /dev/null): each pipe is a socket object and a descriptor pair more to
 * make and tear down, and an iteration starts 5 to 8 git processes. Output
 * past MAX_BUFFER kills it, as execFile would.
 */
function runGit(cwd: string, args: readonly string[], extra: Record<string, string>, input: string | null): Promise<GitResult> {
  countIo('git');
  return new Promise((resolve) => {
    const child = spawn(gitFile(), gitArgs(args, cwd), { cwd, env: gitEnv(extra), stdio: [input === null ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let failure: string | null = null;
    const take = (into: Buffer[]) => (d: Buffer) => {
      size += d.length;
      if (size > MAX_BUFFER && failure === null) {
        failure = `git ${args[0] ?? ''}: output over ${MAX_BUFFER} bytes`;
        child.kill();
      }
      if (failure === null) into.push(d);
    };
    child.stdout?.on('data', take(out));
    child.stderr?.on('data', take(err));
    child.once('error', (e) => {
      failure ??= e.message;
    });
    child.once('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString('utf8');
      const ok = failure === null && typeof code === 'number';
      resolve({ code: ok ? code : 127, stdout: Buffer.concat(out).toString('utf8'), stderr: stderr || (ok ? '' : (failure ?? `git ${args[0] ?? ''} killed by ${signal ?? 'a signal'}`)) });
    });
    if (input !== null) {
      child.stdin?.on('error', () => undefined); // git may exit before reading everything
      child.stdin?.end(input);
    }
  });
}

/** The synchronous form, for the few callers that run before anything async (finding the root). Null on failure. */
export function gitSyncOrNull(cwd: string, args: readonly string[]): string | null {
  countIo('git');
  try {
    return execFileSync(gitFile(), gitArgs(args, cwd), { cwd, env: gitEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: MAX_BUFFER });
  } catch {
    return null;
  }
}

/** As gitSyncOrNull, the output's bytes (a blob read whole). */
export function gitSyncBytesOrNull(cwd: string, args: readonly string[]): Buffer | null {
  countIo('git');
  try {
    return execFileSync(gitFile(), gitArgs(args, cwd), { cwd, env: gitEnv(), stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: MAX_BUFFER });
  } catch {
    return null;
  }
}

/** A blob's bytes straight into an open file (no size limit, nothing converted); why not, else null. */
export function gitBlobInto(cwd: string, oid: string, fd: number): string | null {
  countIo('git');
  const r = spawnSync(gitFile(), gitArgs(['cat-file', 'blob', oid], cwd), { cwd, env: gitEnv(), stdio: ['ignore', fd, 'pipe'] });
  return r.status === 0 ? null : firstLine(r.stderr?.toString() ?? '') || `cannot read ${oid}`;
}

/** git's first meaningful stderr line, without its "fatal: " prefix. */
export function firstLine(s: string): string {
  const line = (s.split('\n').find((l) => l.trim() !== '') ?? s).replace(/^(fatal|error): /, '').trim();
  return notOwned(line) ?? line;
}

/**
 * git (2.35.2 and later) refuses a repository another user owns, as in one
 * shared by a group, and puts its remedy on a later line that one line of
 * ours would drop: said whole, so the user knows it is a git setting and what it is.
 */
function notOwned(line: string): string | null {
  const m = /^detected dubious ownership in repository at '(.*)'$/.exec(line);
  if (!m) return null;
  const dir = m[1] as string;
  return `git refuses the repository at ${dir}: another user owns it, and git trusts only your own repositories; if you trust it, run once: git config --global --add safe.directory ${dir}`;
}

/** Run git and return stdout; a failure becomes an Error with git's first line. */
export async function git(cwd: string, args: readonly string[], extra: Record<string, string> = {}): Promise<string> {
  const r = await gitTry(cwd, args, extra);
  if (r.code !== 0) throw new Error(`git ${args[0] ?? ''}: ${firstLine(r.stderr) || `exit code ${r.code}`}`);
  return r.stdout;
}

/** The commit a revision names, or null. */
export async function revParse(cwd: string, rev: string): Promise<string | null> {
  const r = await gitTry(cwd, ['rev-parse', '-q', '--verify', `${rev}^{commit}`]);
  return r.code === 0 ? r.stdout.trim() : null;
}

/**
 * Which of these revisions name a commit present here, in one git process
 * (a long history replays thousands): as revParse would answer each.
 */
export async function commitsPresent(cwd: string, revs: readonly string[]): Promise<boolean[]> {
  // A name with a line break cannot go through the batch (nor name a commit).
  const asked = revs.filter((r) => !/[\r\n]/.test(r));
  if (!asked.length) return revs.map(() => false);
  const r = await gitWithInput(cwd, ['cat-file', '--batch-check=%(objecttype)'], asked.map((x) => `${x}^{commit}\n`).join(''));
  const out = r.stdout.split('\n');
  if (r.code !== 0 || out.length < asked.length) throw new Error(`git cat-file: ${firstLine(r.stderr) || `exit code ${r.code}`}`);
  let k = 0;
  return revs.map((x) => (/[\r\n]/.test(x) ? false : out[k++] === 'commit'));
}

const statusArgs = (untracked: 'all' | 'no') => ['status', '--porcelain=v1', '-z', '--no-renames', `--untracked-files=${untracked}`];

/** `git status --porcelain=v1 -z --no-renames` output: each path with its two status letters. Pure. */
export function parseStatusV1(out: string): { xy: string; path: string }[] {
  return out.split('\0').filter((e) => e.length >= 4).map((e) => ({ xy: e.slice(0, 2), path: e.slice(3) }));
}

/** What `git status` lists (porcelain v1, no renames); null when git fails. */
export async function statusEntries(cwd: string, untracked: 'all' | 'no', extra: Record<string, string> = {}): Promise<{ xy: string; path: string }[] | null> {
  const r = await gitTry(cwd, statusArgs(untracked), extra);
  return r.code === 0 ? parseStatusV1(r.stdout) : null;
}

/** Tracked files with uncommitted changes (staged or not), sorted. */
export async function trackedChanges(cwd: string): Promise<string[]> {
  return [...new Set(parseStatusV1(await git(cwd, statusArgs('no'))).map((e) => e.path))].sort();
}

/** The checked-out branch (short name), or null on a detached HEAD: from HEAD's file where it settles it (git-dirs.ts), else git. */
export async function currentBranch(cwd: string): Promise<string | null> {
  const known = headBranch(cwd);
  if (known !== undefined) return known;
  const r = await gitTry(cwd, ['symbolic-ref', '-q', '--short', 'HEAD']);
  return r.code === 0 ? r.stdout.trim() : null;
}

/** The checked-out branch as a full ref (refs/heads/…), or null on a detached HEAD (or HEAD naming no branch): HEAD's file where it settles it, else git. */
export async function headRef(cwd: string): Promise<string | null> {
  const known = headBranch(cwd);
  if (known !== undefined) return known === null ? null : `refs/heads/${known}`;
  const r = await gitTry(cwd, ['symbolic-ref', '-q', 'HEAD']);
  return r.code === 0 ? r.stdout.trim() : null;
}

/** Who commits: the user's identity, or autoloop's when none is configured (never fail halfway). */
export async function identityEnv(cwd: string): Promise<Record<string, string>> {
  const a = await gitTry(cwd, ['var', 'GIT_AUTHOR_IDENT']);
  const c = await gitTry(cwd, ['var', 'GIT_COMMITTER_IDENT']);
  if (a.code === 0 && c.code === 0) return {};
  return { GIT_AUTHOR_NAME: 'autoloop', GIT_AUTHOR_EMAIL: 'autoloop@localhost', GIT_COMMITTER_NAME: 'autoloop', GIT_COMMITTER_EMAIL: 'autoloop@localhost' };
}

/** The work tree's top level holding dir, or null (not a work tree, or no git). */
export async function workTreeTop(dir: string): Promise<string | null> {
  const r = await gitTry(dir, ['rev-parse', '--is-inside-work-tree', '--show-toplevel']);
  if (r.code !== 0) return null;
  const [inside, top] = r.stdout.split('\n');
  return inside?.trim() === 'true' && top ? top.trim() : null;
}

/**
 * Where git keeps these files of the shared git dir (`info/exclude`,
 * `info/attributes`: what `rev-parse --git-path` prints for them), absolute.
 * Found from the work tree's `.git` without a process (git-dirs.ts: the path
 * git takes, a linked worktree's `commondir` followed); git is asked only where
 * that layout cannot be read. Null when git cannot tell either.
 */
export function commonGitPaths(root: string, names: readonly ('info/exclude' | 'info/attributes')[]): string[] | null {
  const dirs = gitDirsOf(root);
  if (dirs) return names.map((n) => path.join(dirs.commonDir, n));
  const out = gitSyncOrNull(root, ['rev-parse', ...names.flatMap((n) => ['--git-path', n])]);
  const lines = out?.split('\n').map((l) => l.trim()).filter(Boolean) ?? [];
  return lines.length === names.length ? lines.map((l) => path.resolve(root, l)) : null;
}

/**
 * The user's own settings of these keys (lower-case `section.name` → the value git
 * takes, the last one read; null for a bare `key` line, git's true), in one process for
 * all of them, or none where no config file git reads mentions their names
 * (git-config-files.ts). The engine's own `-c` settings are left out: every engine git
 * command carries `core.autocrlf=false` (and the pinned excludes file), so a plain
 * `git config --get` answers with the engine's value, never the user's.
 */
export function userConfig(root: string, keys: readonly string[]): Map<string, string | null> {
  const found = new Map<string, string | null>();
  const names = keys.map((k) => k.toLowerCase());
  const files = configFiles(root);
  if (files && !mayMention(files, new RegExp(names.map((k) => k.slice(k.lastIndexOf('.') + 1)).join('|'), 'i'))) return found;
  const esc = (k: string) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const out = gitSyncOrNull(root, ['config', '-z', '--show-origin', '--get-regexp', `^(${names.map(esc).join('|')})$`]);
  const parts = (out ?? '').split('\0');
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const origin = parts[i]!;
    const entry = parts[i + 1]!;
    if (origin.startsWith('command line:')) continue;
    const nl = entry.indexOf('\n');
    found.set((nl < 0 ? entry : entry.slice(0, nl)).toLowerCase(), nl < 0 ? null : entry.slice(nl + 1));
  }
  return found;
}

/**
 * A config path as git expands it (`--type=path`): a leading `~/` is $HOME; `~user/` and
 * `%(prefix)/` are left to git (one process, rare). Relative paths are taken from the root.
 */
export function configPath(root: string, key: string, value: string): string | null {
  if (value === '') return null;
  if (value === '~' || value.startsWith('~/')) return process.env.HOME ? path.join(process.env.HOME, value.slice(1)) : null;
  if (value.startsWith('~') || value.startsWith('%(prefix)')) {
    const was = pinExcludesFile(null); // the user's value, not the engine's pin
    try {
      const asked = gitSyncOrNull(root, ['config', '--path', '--get', key])?.trim();
      return asked ? path.resolve(root, asked) : null;
    } finally {
      pinExcludesFile(was);
    }
  }
  return path.resolve(root, value);
}
