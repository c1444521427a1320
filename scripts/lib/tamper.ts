// The judge cannot change while it judges. Around every command the code
// under test runs (a benchmark sample, the checks), the engine seals what
// decides the verdict and what it has already recorded: the judged config
// (and its parsed copy), the ledger, the state cache, the workspace record, the segment's
// environment, the judges' manifest, active.json, and the engine's own files;
// the caches derived from the ledger by their stat (removed when touched, not reported).
// Anything that differs afterwards was written by the code under test (the
// engine holds the repository lock and writes nothing while it waits): the
// run is invalid, and the engine's files are put back from the sealed bytes.
// The engine's own program files can only be detected, not restored.
// The ledger grows without bound (56 MB at 100,000 runs), so it is sealed by
// its stat signature and its last bytes rather than read whole twice a
// command: any write changes its ctime, which user space cannot set back; an
// append (the forgery that matters: a result line) is cut off again; a
// rewrite of the whole file is put back when the file is within the tail
// kept, else reported as not restorable (the run is invalid either way).
import fs from 'node:fs';
import path from 'node:path';
import { repoPaths, type ExperimentPaths } from './paths.ts';
import { workspaceFile } from './workspace-base.ts';
import { envFile } from './bench-env.ts';
import { writeFileAtomic } from './fsx.ts';
import { configOfText, parsedConfigFile } from './config.ts';
import { judgedConfigHash } from './integrity.ts';
import { CACHE_DIR } from './boot/loader.ts';
import { readOrNull as read, statSigOf as statSig } from './stat-sig.ts';

/** An append-only file: its stat signature, size and last bytes. */
interface TailSeal {
  sig: string;
  size: number;
  tail: Buffer;
}

/** A file's bytes (null = absent) for the engine's state; a stat signature for program files. */
export interface Seal {
  data: Map<string, Buffer | null>;
  tails: Map<string, TailSeal>;
  stats: Map<string, string>;
  /** The engine's V8 code caches (boot/loader.ts) by stat signature. */
  caches: Map<string, string>;
  /** The experiment's caches of the ledger (run index, commit index, checkpoint, primaries) by stat signature ('absent' too). */
  derived: Map<string, string>;
  exp: ExperimentPaths;
}

/**
 * Caches the engine derives from the ledger and trusts when they check out: the run index and its
 * commit sidecar (finalize replays the commits it names), the state checkpoint, the primaries. A
 * record forged with its own checksum would pass, so one touched by the code under test is removed:
 * the next call rebuilds it from the ledger (dashboard/run-index.ts, commit-index.ts, state-cache.ts).
 */
const DERIVED = /^(runs\.idx|commits\.idx|state-checkpoint\.json|primaries-\d+\.f64)$/;

function derivedCaches(exp: ExperimentPaths): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(exp.dir).filter((n) => DERIVED.test(n));
  } catch {
    /* no folder: nothing cached */
  }
  return [...new Set(['runs.idx', 'commits.idx', 'state-checkpoint.json', ...names])].map((n) => path.join(exp.dir, n));
}

/** How much of an append-only file's end a seal keeps (a whole ledger of about 1,800 runs). */
export const SEAL_TAIL_BYTES = 1 << 20;

export function statefulFiles(exp: ExperimentPaths, root: string): string[] {
  const repo = repoPaths(root);
  return [
    exp.ledger,
    exp.config,
    parsedConfigFile(exp.config),
    exp.state,
    workspaceFile(exp),
    envFile(exp),
    path.join(exp.judges, 'manifest.json'),
    repo.active,
    repo.chain,
  ];
}

/** realpath(3), else (past PATH_MAX, where it gives up) the JS walk. */
function realpath(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return fs.realpathSync(p);
  }
}

/** engineDir's answer for the entry point it was found for: every seal and every sample's protected paths ask. */
let engineDirOf: { entry: string; dir: string } | null = null;

/**
 * The directory of the running entry point, or null. Resolved once per
 * process (the program already loaded lives there, whatever the link says
 * later), by one realpath(3) rather than an lstat of every path component.
 */
export function engineDir(): string | null {
  const entry = process.argv[1];
  if (!entry) return null;
  if (engineDirOf?.entry === entry) return engineDirOf.dir;
  try {
    engineDirOf = { entry, dir: path.dirname(realpath(entry)) };
    return engineDirOf.dir;
  } catch {
    return null;
  }
}

/**
 * The engine's V8 code caches: compiled code the next call runs as its own. A
 * cache only spares a compile, so one that changed under a seal is deleted,
 * not reported (another repository's engine call may write one meanwhile).
 */
export function engineCaches(): string[] {
  const dir = engineDir();
  if (!dir) return [];
  try {
    return fs.readdirSync(path.join(dir, CACHE_DIR)).map((n) => path.join(dir, CACHE_DIR, n));
  } catch {
    return [];
  }
}

/** The engine's own program: the bundles (or sources) next to the running entry point. */
export function engineFiles(): string[] {
  const dir = engineDir();
  if (!dir) return [];
  try {
    return fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.mjs') || n.endsWith('.cjs') || n.endsWith('.ts'))
      .map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}

/** The last `n` bytes of a file of `size` bytes. */
function readTail(file: string, size: number, n: number): Buffer {
  const len = Math.min(size, n);
  const buf = Buffer.alloc(len);
  const fd = fs.openSync(file, 'r');
  try {
    let got = 0;
    while (got < len) {
      const k = fs.readSync(fd, buf, got, len - got, size - len + got);
      if (k === 0) break;
      got += k;
    }
    return got === len ? buf : buf.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/** The last tail read of each append-only file: a seal before every sample reads the ledger's 1 MB again only when it moved. */
const lastTails = new Map<string, TailSeal>();

function sealTail(file: string): TailSeal | null {
  const sig = statSig(file);
  if (sig === 'absent') return null;
  // The same signature is the same bytes: what the seal itself trusts to tell that the ledger was touched.
  const last = lastTails.get(file);
  if (last?.sig === sig) return last;
  const size = fs.statSync(file).size;
  const t = { sig, size, tail: readTail(file, size, SEAL_TAIL_BYTES) };
  lastTails.set(file, t);
  return t;
}

/** Seal `files` by their bytes (default: all of the engine's state; the ledger by its tail) and `extra` by their stat. */
export function seal(exp: ExperimentPaths, root: string, extra: readonly string[] = [], files: readonly string[] = statefulFiles(exp, root)): Seal {
  const data = new Map<string, Buffer | null>();
  const tails = new Map<string, TailSeal>();
  for (const f of files) {
    const t = f === exp.ledger ? sealTail(f) : null;
    if (t) tails.set(f, t);
    else data.set(f, read(f));
  }
  const stats = new Map<string, string>();
  for (const f of [...engineFiles(), ...extra]) stats.set(f, statSig(f));
  const caches = new Map<string, string>();
  for (const f of engineCaches()) caches.set(f, statSig(f));
  // Sealed with the ledger they derive from: where it is left out (a parallel candidate's command, while
  // the others log and bring these up to date), so are they.
  const derived = new Map<string, string>();
  if (files.includes(exp.ledger)) for (const f of derivedCaches(exp)) derived.set(f, statSig(f));
  return { data, tails, stats, caches, derived, exp };
}

/**
 * Put an append-only file back as sealed: cut what was appended, or rewrite
 * it whole when the seal holds all of it. False when that cannot be done.
 */
function restoreTail(file: string, t: TailSeal): boolean {
  const whole = t.tail.length === t.size;
  let size = -1;
  try {
    size = fs.statSync(file).size;
  } catch {
    /* removed */
  }
  // Grown with the sealed tail in place: an append, cut off. (Bytes before the
  // tail are not compared: reading them is what the tail seal saves.)
  if (size > t.size && readTail(file, t.size, t.tail.length).equals(t.tail)) {
    fs.truncateSync(file, t.size);
    return true;
  }
  if (!whole) return false;
  writeFileAtomic(file, t.tail);
  return true;
}

/**
 * A second name for an engine file (a hard link the code under test made in scratch/ or in the
 * scope) would let anything write that file later by the other name, unsealed: a line appended
 * there between two calls is folded as the engine's own. The file gets a new inode with the same
 * bytes (and mode); the other name keeps the old one. True when there was such a name.
 */
export function cutHardLinks(file: string): boolean {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return false;
  }
  if (!st.isFile() || st.nlink < 2) return false;
  writeFileAtomic(file, fs.readFileSync(file), { mode: st.mode & 0o7777 });
  return true;
}

/**
 * config.yaml edited with its judged fields as they were: an edit of a live field (a budget, a
 * threshold, a Stop-hook cap), which the README invites while the loop runs. It stands, and the
 * run with it; any other change (a judged field, a file that is no config) is the judge changing.
 */
function liveEdit(before: Buffer, now: Buffer): boolean {
  const a = configOfText(before.toString('utf8'));
  const b = configOfText(now.toString('utf8'));
  return a !== null && b !== null && judgedConfigHash(a) === judgedConfigHash(b);
}

/** Names (relative to root) of sealed files that changed; the engine's state files are put back. */
export function breakSeal(s: Seal, root: string): string[] {
  const changed: string[] = [];
  const parsed = parsedConfigFile(s.exp.config);
  const configBefore = s.data.get(s.exp.config) ?? null;
  const configNow = configBefore === null ? null : read(s.exp.config);
  const configEdited = configBefore !== null && configNow !== null && !configBefore.equals(configNow);
  for (const [file, before] of s.data) {
    const now = read(file);
    if (before === null ? now === null : now !== null && before.equals(now)) continue;
    if (file === s.exp.config && before !== null && now !== null && liveEdit(before, now)) continue;
    // config.yaml's parsed copy, a cache: rewritten by any call that read a live edit. Gone, never trusted: the next call parses the YAML.
    if (file === parsed && configEdited) {
      fs.rmSync(file, { force: true, recursive: true });
      continue;
    }
    changed.push(path.relative(root, file));
    if (before === null) fs.rmSync(file, { force: true, recursive: true });
    else writeFileAtomic(file, before);
  }
  for (const [file, t] of s.tails) {
    if (statSig(file) === t.sig) continue;
    // Touched but whole and the same (the seal holds every byte): nothing to report.
    if (t.tail.length === t.size && read(file)?.equals(t.tail)) continue;
    const rel = path.relative(root, file);
    changed.push(restoreTail(file, t) ? rel : `${rel} (rewritten before its last ${SEAL_TAIL_BYTES >> 20} MB: not put back)`);
  }
  // After the comparisons above, which must see the files as the code under test left them.
  for (const file of [...s.data.keys(), ...s.tails.keys()]) {
    if (cutHardLinks(file)) changed.push(`${path.relative(root, file)} (given a second name by a hard link: cut off)`);
  }
  for (const [file, before] of s.stats) if (statSig(file) !== before) changed.push(path.relative(root, file) || file);
  // A touched cache of the ledger is removed, not reported: status, report or the dashboard that a
  // person runs while the benchmark measures write these too, and that must not void the run. Gone
  // before anything reads it, a forged one is never trusted: the next call rebuilds it from the ledger.
  for (const file of s.derived.size ? new Set([...s.derived.keys(), ...derivedCaches(s.exp)]) : []) {
    if ((s.derived.get(file) ?? 'absent') !== statSig(file)) fs.rmSync(file, { force: true, recursive: true });
  }
  // A cache written or replaced while the code under test ran could hold any code: the next call compiles afresh.
  for (const file of engineCaches()) if (s.caches.get(file) !== statSig(file)) fs.rmSync(file, { force: true, recursive: true });
  return changed.sort();
}
