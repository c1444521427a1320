// Benchmark integrity: what judges the metric (the judged config fields and
// the protected files) is fingerprinted when a segment opens, re-checked on
// every run, and restored from judges/ after a run that changed it.
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import { JUDGED_FIELDS, type Config, type Fingerprints } from './schema.ts';
import { readJsonOrNull, writeFileAtomic, writeJsonAtomic } from './fsx.ts';
import { compileScope, isInternal, listFiles, normalizeRel } from './scope.ts';
import { lex, type Word } from './shell-lexer.ts';
import { delegation, execCalls, runnerCalls, runnerConfigs } from './task-runners.ts';
import { pythonShadows } from './py-shadows.ts';
import { nodeShadows } from './node-shadows.ts';
import { reachedCode } from './judge-reach.ts';
import { gitSyncBytesOrNull } from './gitcmd.ts';
import { linksOutsideFolder, outsideFolderFiles, outsideReached, outsideSiblings, outsideTarget } from './outside-judges.ts';

export const MISSING = 'missing';

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a regular file's bytes (symlinks followed), or null when there is no regular file. */
export function sha256File(abs: string): string | null {
  let size: number;
  try {
    // stat first: opening a FIFO for reading would block forever.
    const st = fs.statSync(abs);
    if (!st.isFile()) return null;
    size = st.size;
  } catch {
    return null;
  }
  let fd: number;
  try {
    fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const h = createHash('sha256');
    // Sized to the file, between 64 KB (a file that says 0 bytes, as /proc's do, still reads in
    // big steps) and 1 MB: a run hashes a few small ignore and judge files, and a fresh 1 MB
    // buffer each is a mapping to make and drop.
    const buf = Buffer.allocUnsafe(Math.min(Math.max(size + 1, 64 * 1024), 1 << 20));
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
    return h.digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}

/** JSON with object keys sorted at every level, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

export function judgedConfigHash(config: Config): string {
  const picked: Record<string, unknown> = {};
  // An optional field left out is left out of the hash too, so configs written
  // before it existed keep their fingerprint.
  for (const k of JUDGED_FIELDS) if (config[k] !== undefined) picked[k] = config[k] ?? null;
  return sha256(canonicalJson(picked));
}

type Token = { kind: 'word'; value: string } | { kind: 'op'; value: string };

/** A word as text: expansions stay visible ($NAME, ~, $() for what only the shell knows). */
function wordText(w: Word): string {
  return w.parts.map((p) => (p.k === 'lit' ? p.s : p.k === 'var' ? `$${p.name}` : p.k === 'home' ? '~' : '$()')).join('');
}

/**
 * The command as words and operators (a redirection is its operator followed
 * by its target word), from the shell lexer the hooks use. Enough to find the
 * file names a command mentions, not a shell.
 */
export function shellTokens(cmd: string): Token[] {
  const out: Token[] = [];
  for (const t of lex(cmd).tokens) {
    if (t.kind === 'word') out.push({ kind: 'word', value: wordText(t) });
    else if (t.kind === 'op') out.push({ kind: 'op', value: t.op === '\n' ? ';' : t.op });
    else {
      out.push({ kind: 'op', value: t.op });
      if (t.target) out.push({ kind: 'word', value: wordText(t.target) });
    }
  }
  return out;
}

/** Redirections whose target is written, a descriptor or a heredoc word: it does not judge anything. */
const WRITE_REDIRECTS = new Set(['>', '>>', '>|', '&>', '&>>', '>&', '<&', '<>', '<<', '<<-', '<<<']);

/** Redirections that write their target file. */
const FILE_WRITES = new Set(['>', '>>', '>|', '&>', '&>>', '>&', '<>']);

/**
 * The files a command writes: redirection targets and `tee`'s arguments. They
 * are its output (`train.py > run.log; grep val run.log`, `| tee train.log`),
 * never a judge, even where the command reads them back.
 */
function writtenFiles(toks: readonly Token[]): Set<string> {
  const out = new Set<string>();
  const norm = (w: string) => path.posix.normalize(w);
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i] as Token;
    const prev = toks[i - 1];
    if (t.kind !== 'word') continue;
    if (prev?.kind === 'op' && FILE_WRITES.has(prev.value)) out.add(norm(t.value));
    else if (t.value === 'tee' && (!prev || prev.kind === 'op')) {
      for (let j = i + 1; j < toks.length; j++) {
        const a = toks[j] as Token;
        if (a.kind !== 'word') break;
        if (!a.value.startsWith('-')) out.add(norm(a.value));
      }
    }
  }
  return out;
}

/** The words of a command that could name a file the command reads (not one it writes). */
export function candidatePaths(cmd: string): string[] {
  const toks = shellTokens(cmd);
  const written = writtenFiles(toks);
  const out: string[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i] as Token;
    if (t.kind !== 'word') continue;
    const prev = toks[i - 1];
    if (prev && prev.kind === 'op' && WRITE_REDIRECTS.has(prev.value)) continue;
    if (t.value !== '' && written.has(path.posix.normalize(t.value))) continue;
    out.push(t.value);
    // --config=bench/x.json and VAR=path name a file after the '='.
    const eq = t.value.indexOf('=');
    if (eq > 0 && eq < t.value.length - 1) out.push(t.value.slice(eq + 1));
  }
  return out;
}

function insideRoot(root: string, abs: string): string | null {
  const r = path.relative(root, abs);
  if (r === '' || r.startsWith('..') || path.isAbsolute(r)) return null;
  return normalizeRel(r.split(path.sep).join('/'));
}

function isEngineState(rel: string): boolean {
  if (!isInternal(rel)) return false;
  return !/^\.autoloop\/[^/]+$/.test(rel) || /^\.autoloop\/(active|session)\.json$/.test(rel);
}

/**
 * The directories a command changes into (`cd DIR && …`, `pushd DIR; …`): a
 * monorepo's benchmark is often run from its package, so a file the command
 * names after that is found there, not at the top.
 */
export function cdTargets(cmd: string): string[] {
  const toks = shellTokens(cmd);
  const out: string[] = [];
  for (let i = 0; i + 1 < toks.length; i++) {
    const t = toks[i] as Token;
    const prev = toks[i - 1];
    const next = toks[i + 1] as Token;
    if (t.kind !== 'word' || (t.value !== 'cd' && t.value !== 'pushd')) continue;
    if (prev && prev.kind !== 'op') continue; // `echo cd x` names no directory
    if (next.kind === 'word' && next.value !== '' && !next.value.startsWith('-')) out.push(next.value);
  }
  return out;
}

/**
 * What the config itself says the benchmark writes: the sources' result files,
 * files under a TensorBoard directory, the artifacts. A trial run before init
 * leaves them; named on the command line (`--export-json hf.json`, `--ckpt
 * ckpt/m.pt`) they are its output, and as judges every run would fail to write them.
 */
function configOutputs(config: Pick<Config, 'sources' | 'artifacts'>, untracked: (rel: string) => boolean): (rel: string) => boolean {
  const files = new Set<string>();
  const dirs: string[] = [];
  for (const s of config.sources ?? []) {
    const rel = normalizeRel('file' in s ? s.file : 'dir' in s ? s.dir : '');
    if (rel === null || rel === '') continue;
    if ('file' in s) files.add(rel);
    else dirs.push(`${rel}/`);
  }
  const artifacts = config.artifacts.length ? compileScope(config.artifacts, []) : null;
  // A result file git tracks is refused at init; a tracked file is never an output whatever a glob
  // or a directory takes in (`--artifacts '*.js'` must not free bench.js).
  return (rel) => files.has(rel) || ((dirs.some((d) => rel.startsWith(d)) || (artifacts?.inScope(rel) ?? false)) && untracked(rel));
}

/** How deep a task runner's script may call another (`npm run bench` running `make data`): enough, and never a loop. */
const MAX_RUNNER_DEPTH = 4;

/** Repo files (not the engine's state or its output) the benchmark and the checks name on their command lines. */
export function commandFiles(root: string, config: Config, untracked: (rel: string) => boolean = () => false): string[] {
  const found = new Set<string>();
  const isOutput = configOutputs(config, untracked);
  const addFile = (abs: string): void => {
    const rel = insideRoot(root, abs);
    // A benchmark script kept under .autoloop/ (as setup suggests) is a judge
    // too; only the engine's own state is not.
    if (rel === null || isEngineState(rel) || isOutput(rel)) return;
    try {
      if (fs.statSync(path.join(root, rel)).isFile()) found.add(rel);
    } catch {
      // not a file: an interpreter, a flag value, a glob...
    }
  };
  /** A file the runner would read if it appeared: a judge while absent (its fingerprint says missing). */
  const addAbsent = (abs: string): void => {
    const rel = insideRoot(root, abs);
    if (rel === null || isEngineState(rel) || isOutput(rel) || fs.existsSync(abs)) return;
    found.add(rel);
  };
  /** `built`: what the Makefile's rules write (a trial `make` left it): its output, not a judge. */
  const scan = (cmd: string, cwd: string, depth: number, built: ReadonlySet<string> = new Set()): void => {
    // A word may name a file where the command runs or in a directory it cd's
    // into: both are taken, since a judge left out is worse than one too many.
    const dirs = [cwd, ...cdTargets(cmd).map((d) => path.resolve(cwd, d))];
    for (const word of candidatePaths(cmd)) {
      if (word === '' || word.startsWith('-')) continue;
      for (const dir of dirs) if (!built.has(path.resolve(dir, word))) addFile(path.resolve(dir, word));
    }
    // `npx scorer`: no script, but the runner's config (an .npmrc's node-options) reaches the program.
    for (const call of execCalls(shellTokens(cmd))) {
      for (const dir of dirs) {
        const { present, absent } = runnerConfigs(path.resolve(dir, call.dir), call.runner);
        present.forEach(addFile);
        absent.forEach(addAbsent);
      }
    }
    if (depth >= MAX_RUNNER_DEPTH) return;
    // `make bench`, `npm run bench`: the Makefile or package.json, and what the target or script runs.
    for (const call of runnerCalls(shellTokens(cmd))) {
      for (const dir of dirs) {
        const d = delegation(dir, call);
        if (!d) continue;
        d.manifests.forEach(addFile);
        d.shadows.forEach(addAbsent);
        for (const abs of d.prereqs) {
          const rel = insideRoot(root, abs);
          if (rel !== null && !untracked(rel)) addFile(abs);
        }
        const outputs = new Set([...built, ...d.outputs]);
        for (const c of d.commands) scan(c, d.dir, depth + 1, outputs);
      }
    }
  };
  for (const cmd of [config.command, config.checks]) if (cmd) scan(cmd, root, 0);
  return [...found].sort();
}

// Patterns that take the whole repository: the default scope. A scope that
// wide names no file in particular, so the benchmark it runs stays a judge.
export const CATCH_ALL: ReadonlySet<string> = new Set(['**', '**/*', './**', '.', './']);

/** Does the scope name this file (through a pattern narrower than the whole repository)? */
function scopeNames(config: Config, rel: string): boolean {
  const narrow = config.scope.filter((p) => !CATCH_ALL.has(p));
  if (!narrow.some((p) => !p.startsWith('!'))) return false;
  return compileScope(narrow, config.protect).inScope(rel);
}

export interface Judges {
  /** Files that judge the metric: named by the commands outside the scope, plus --protect. */
  protect: string[];
  /** Files the commands name that are in the scope: the code being optimised (train.py, prompt.txt). */
  mutable: string[];
}

/**
 * Which files judge the metric and which of the files the commands run may
 * change. A file the scope names is mutable even when the benchmark runs it;
 * --protect always wins.
 */
export function resolveJudges(root: string, config: Config, untracked?: (rel: string) => boolean): Judges {
  const protect = new Set<string>();
  const mutable: string[] = [];
  // scopeNames leaves out what --protect names: a protected file is never mutable.
  for (const rel of commandFiles(root, config, untracked)) {
    if (scopeNames(config, rel)) mutable.push(rel);
    else protect.add(rel);
  }
  const judge = (s: string) => !scopeNames(config, s) && !isEngineState(s);
  // What a judge reaches is a judge: the file a linked judge is (Python and Node import beside it), the modules it
  // imports from its own directory, and theirs in turn (judge-reach.ts).
  for (const s of reachedCode(root, [...protect], judge)) protect.add(s);
  // A module file that appeared beside a Python judge would be imported in place of the one it names.
  for (const rel of [...protect]) for (const s of pythonShadows(root, rel)) if (judge(s)) protect.add(s);
  // Likewise a name Node would try ahead of what a Node judge imports, and the package a bare import found.
  for (const rel of [...protect]) {
    const { absent, present } = nodeShadows(root, rel);
    for (const s of [...absent, ...present]) if (judge(s)) protect.add(s);
  }
  if (config.protect.length) {
    const s = compileScope(config.protect, []);
    const isFile = (rel: string) => {
      try {
        return fs.statSync(path.join(root, rel)).isFile();
      } catch {
        return false;
      }
    };
    for (const rel of listFiles(root, s.bases, (r) => s.inScope(r) && isFile(r))) protect.add(rel);
    // Through a link to a folder outside the repository (bench/lib -> ../../shared), which the walk does not follow: bounded.
    const linked = listFiles(root, s.bases, (r) => linksOutsideFolder(root, r));
    for (const rel of outsideFolderFiles(root, linked, (r) => s.inScope(r))) protect.add(rel);
  }
  return { protect: [...protect].sort(), mutable };
}

export function resolveProtected(root: string, config: Config): string[] {
  return resolveJudges(root, config).protect;
}

// Names that say "this is the evaluation" (eval.py, test_x.py, bench.js, score.sh...).
const JUDGE_NAME = /(^|[/_.-])(eval|evaluate|evaluation|test|tests|spec|bench|benchmark|score|scorer|grade|grader|judge|metric|metrics)([/_.-]|$)/i;

/** Mutable files whose name says they are the evaluation itself: the loop could grade its own work. */
export function evaluationInScope(mutable: readonly string[]): string[] {
  return mutable.filter((rel) => JUDGE_NAME.test(rel));
}

/**
 * The judged config's hash and each file's (`hash`: sha256File, or judge-hashes.ts's, which hashes a
 * file again only when it changed). `older`: the digests of a segment an older engine opened (below).
 */
export function fingerprint(
  root: string,
  config: Config,
  files: string[],
  hash: (abs: string) => string | null = sha256File,
  older: Readonly<Record<string, string>> = {},
): Fingerprints {
  const out: Record<string, string> = {};
  for (const f of [...new Set(files)].sort()) out[f] = judgeDigest(root, path.join(root, f), hash, older[f]) ?? MISSING;
  return { config: judgedConfigHash(config), files: out, digests: 2 };
}

/**
 * The segment's judges fingerprinted again in `root`. An engine before this one hashed a judge linked
 * out of the repository as its target's bytes alone: a segment it opened (no `digests`) keeps that
 * form for such a judge while the bytes are the same (the protection it was opened with), where every
 * run after an update was invalid, the judge "changed" though nobody touched it. A segment opened now
 * never accepts it: a judge swapped for a link to the same bytes beside other helpers still changes.
 */
export function fingerprintAgainst(root: string, config: Config, opened: Fingerprints, hash: (abs: string) => string | null = sha256File): Fingerprints {
  return fingerprint(root, config, Object.keys(opened.files), hash, opened.digests === undefined ? opened.files : {});
}

/**
 * A judge's hash: its bytes', or for a link out of the repository (outside-judges.ts) one hash of
 * its target's bytes, of the files beside the target and of those it imports from folders below
 * (lib/util.py), each by name, so that an edit of any changes the judge's fingerprint; `older`
 * (fingerprintAgainst): the target's bytes alone, when that is what the segment holds.
 */
function judgeDigest(root: string, abs: string, hash: (abs: string) => string | null, older?: string): string | null {
  const own = hash(abs);
  const target = own === null ? null : outsideTarget(root, abs);
  if (target === null || older === own) return own;
  const dir = path.dirname(target);
  const beside = [...outsideSiblings(target), ...outsideReached(target)].map((p) => `${path.relative(dir, p)}\0${hash(p) ?? MISSING}`);
  return sha256(['outside', own, ...beside].join('\n'));
}

export function changedFingerprints(a: Fingerprints, b: Fingerprints): string[] {
  const changed: string[] = [];
  if (a.config !== b.config) changed.push('config');
  const names = [...new Set([...Object.keys(a.files), ...Object.keys(b.files)])].sort();
  for (const n of names) if (a.files[n] !== b.files[n]) changed.push(n);
  return changed;
}

// judges/manifest.json names the copy directory, so that a save killed half-way
// leaves the previous manifest and its copies intact.
const JudgesManifest = lazySchema(() => z.object({
  version: z.literal(1),
  dir: z.string().check(z.regex(/^files-[a-z0-9-]+$/)),
  /** `link`: the judge was a link out of the repository (its text), which restoreJudges never writes through. */
  files: z.record(z.string(), z.object({ sha256: z.string(), mode: z.int(), link: z.optional(z.string()) })),
}));
type JudgesManifest = z.infer<typeof JudgesManifest>;

function manifestPath(judgesDir: string): string {
  return path.join(judgesDir, 'manifest.json');
}

function readManifest(judgesDir: string): JudgesManifest | null {
  const parsed = JudgesManifest.safeParse(readJsonOrNull(manifestPath(judgesDir)));
  return parsed.success ? parsed.data : null;
}

function safeJoin(base: string, rel: string): string | null {
  const n = normalizeRel(rel);
  return n === null ? null : path.join(base, n);
}

/** Where a staged (not yet committed) judges manifest waits for its segment's config line. */
export function stagedManifestPath(judgesDir: string): string {
  return path.join(judgesDir, 'manifest.next.json');
}

/**
 * Copy the protected files. `staged`: write manifest.next.json and keep the
 * current manifest and its copies, so that a killed init leaves the previous
 * segment's judges whole (commitJudges / dropStagedJudges finish the job).
 */
export function saveJudges(root: string, judgesDir: string, files: string[], opts: { staged?: boolean } = {}): void {
  const dir = `files-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const manifest: JudgesManifest = { version: 1, dir, files: {} };
  for (const f of [...new Set(files)].sort()) {
    const src = safeJoin(root, f);
    const dst = safeJoin(path.join(judgesDir, dir), f);
    if (!src || !dst) continue;
    let data: Buffer;
    let mode: number;
    try {
      if (!fs.statSync(src).isFile()) throw new Error('not a file');
      data = fs.readFileSync(src);
      mode = fs.statSync(src).mode & 0o7777;
    } catch {
      manifest.files[f] = { sha256: MISSING, mode: 0 };
      continue;
    }
    writeFileAtomic(dst, data);
    const link = outsideTarget(root, src) !== null && fs.lstatSync(src).isSymbolicLink() ? fs.readlinkSync(src) : null;
    manifest.files[f] = { sha256: sha256(data), mode, ...(link !== null ? { link } : {}) };
  }
  if (opts.staged) {
    writeJsonAtomic(stagedManifestPath(judgesDir), manifest);
    return;
  }
  const old = readManifest(judgesDir);
  writeJsonAtomic(manifestPath(judgesDir), manifest);
  if (old && old.dir !== dir) fs.rmSync(path.join(judgesDir, old.dir), { recursive: true, force: true });
}

/** The file naming the judges' copies in force (init-journal.ts keeps its bytes to undo a failed init). */
export function judgesManifestFile(judgesDir: string): string {
  return manifestPath(judgesDir);
}

/**
 * The staged manifest becomes the judges' (its segment's config line is in the ledger).
 * `keepOld`: the previous copies stay until sweepJudgeCopies, so a failure later in the
 * same init can still put the previous manifest back.
 */
export function commitJudges(judgesDir: string, opts: { keepOld?: boolean } = {}): void {
  const staged = JudgesManifest.safeParse(readJsonOrNull(stagedManifestPath(judgesDir)));
  if (!staged.success) return;
  const old = readManifest(judgesDir);
  fs.renameSync(stagedManifestPath(judgesDir), manifestPath(judgesDir));
  if (!opts.keepOld && old && old.dir !== staged.data.dir) fs.rmSync(path.join(judgesDir, old.dir), { recursive: true, force: true });
}

/** Remove every set of copies but the manifest's (and a staged one's, waiting for its config line). */
export function sweepJudgeCopies(judgesDir: string): void {
  const keep = new Set([readManifest(judgesDir)?.dir]);
  const staged = JudgesManifest.safeParse(readJsonOrNull(stagedManifestPath(judgesDir)));
  if (staged.success) keep.add(staged.data.dir);
  let names: string[] = [];
  try {
    names = fs.readdirSync(judgesDir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith('files-') && !keep.has(n)) fs.rmSync(path.join(judgesDir, n), { recursive: true, force: true });
}

/** A staged manifest whose segment never opened goes, with its copies. */
export function dropStagedJudges(judgesDir: string): void {
  const staged = JudgesManifest.safeParse(readJsonOrNull(stagedManifestPath(judgesDir)));
  const current = readManifest(judgesDir);
  if (staged.success && staged.data.dir !== current?.dir) fs.rmSync(path.join(judgesDir, staged.data.dir), { recursive: true, force: true });
  fs.rmSync(stagedManifestPath(judgesDir), { force: true });
  // Copies of a save killed before its manifest was written.
  let names: string[] = [];
  try {
    names = fs.readdirSync(judgesDir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith('files-') && n !== current?.dir) fs.rmSync(path.join(judgesDir, n), { recursive: true, force: true });
}

/**
 * The judge's bytes as fingerprinted: the saved copy, or, when that was
 * damaged (code under test can write it where .autoloop/ is not read-only),
 * the blob git holds at HEAD (a tracked judge is the same in every keep),
 * which then heals the copy. Without either there is nothing to trust:
 * refused (a new segment would adopt the judge as it is now).
 */
function judgeBytes(root: string, copy: string, rel: string, want: string): Buffer {
  let data: Buffer | null = null;
  try {
    data = fs.readFileSync(copy);
  } catch {
    data = null;
  }
  if (data && sha256(data) === want) return data;
  const blob = gitSyncBytesOrNull(root, ['cat-file', 'blob', `HEAD:${rel}`]);
  if (!blob || sha256(blob) !== want) throw new Error(`judges: the saved copy of ${rel} is damaged and git holds no copy with its fingerprint; put ${rel} back as it was when the segment opened (init-experiment would adopt it as it is now)`);
  writeFileAtomic(copy, blob);
  return blob;
}

function linkText(abs: string): string | null {
  try {
    return fs.readlinkSync(abs);
  } catch {
    return null;
  }
}

export function restoreJudges(root: string, judgesDir: string, files: string[]): string[] {
  const manifest = readManifest(judgesDir);
  if (!manifest) return [];
  const restored: string[] = [];
  for (const f of [...new Set(files)].sort()) {
    const entry = manifest.files[f];
    const abs = safeJoin(root, f);
    if (!entry || !abs) continue;
    if (entry.link !== undefined) {
      // The user's link out of the repository, as it was: the engine writes nothing there (nor replaces the link with a
      // file); the run stays invalid until the user puts the file back. A link changed since is put back as a link.
      if (linkText(abs) === entry.link) continue;
      fs.rmSync(abs, { force: true });
      fs.symlinkSync(entry.link, abs);
      restored.push(f);
      continue;
    }
    // A judge below a folder linked out of the repository (a --protect glob through bench/lib -> ../../vendor): the
    // engine writes nothing there either. One swapped for a link is itself a link: put back as a file below.
    if (outsideTarget(root, abs) !== null && linkText(abs) === null) continue;
    const now = sha256File(abs);
    if (entry.sha256 === MISSING) {
      // It did not exist when the segment opened; a file there now was planted.
      if (now !== null) {
        fs.rmSync(abs, { force: true });
        restored.push(f);
      }
      continue;
    }
    if (now === entry.sha256) {
      let mode: number | null = null;
      try {
        mode = fs.statSync(abs).mode & 0o7777;
      } catch {
        mode = null;
      }
      if (mode !== null && mode !== entry.mode) {
        fs.chmodSync(abs, entry.mode);
        restored.push(f);
      }
      continue;
    }
    const copy = safeJoin(path.join(judgesDir, manifest.dir), f);
    if (!copy) continue;
    const data = judgeBytes(root, copy, f, entry.sha256);
    writeFileAtomic(abs, data);
    fs.chmodSync(abs, entry.mode);
    restored.push(f);
  }
  return restored;
}

/**
 * Directories the commands name (`node --test test/`, `pytest tests`) while
 * the scope is the whole repository: only files the commands name become
 * judges, so the files in such a directory stay mutable and a loop could
 * grade itself by editing them. A warning names the --protect that closes it
 * (a directory a command cd's into is where it runs, not what judges it).
 */
export function unguardedCommandDirs(root: string, config: Config): string[] {
  if (config.scope.some((p) => !p.startsWith('!') && !CATCH_ALL.has(p))) return [];
  const guarded = compileScope(config.protect, []);
  const found = new Set<string>();
  for (const cmd of [config.command, config.checks]) {
    if (!cmd) continue;
    const cds = new Set(cdTargets(cmd).map((d) => insideRoot(root, path.resolve(root, d))));
    for (const word of candidatePaths(cmd)) {
      if (word === '' || word.startsWith('-')) continue;
      const rel = insideRoot(root, path.resolve(root, word));
      if (rel === null || cds.has(rel) || isInternal(rel) || (config.protect.length && guarded.inScope(`${rel}/x`))) continue;
      try {
        if (fs.statSync(path.join(root, rel)).isDirectory()) found.add(rel);
      } catch {
        // not there: nothing to guard
      }
    }
  }
  return [...found].sort();
}
