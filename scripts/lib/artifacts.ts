// Artifacts: files the benchmark writes whose best copy matters (checkpoints,
// exported models, reports), named by config `artifacts` globs. Each ok run's
// fresh artifacts are copied under runs/<id>/artifacts/ (within a size cap);
// after a discard or crash the best run's copies go back into the tree; old
// runs' copies are pruned, never the best's. Artifacts are outside the scope:
// never committed, and never an out-of-scope change. A file in the tree that
// putting the best's copies back would overwrite or take away (it may be the
// user's) is moved into a rescue folder first, never deleted.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './schema.ts';
import type { Experiment } from './experiment-data.ts';
import { artifactsDir, rel as relTo, runDir, type ExperimentPaths } from './paths.ts';
import { compileScope, listFiles, normalizeRel } from './scope.ts';
import { readJsonOrNull, writeJsonAtomic } from './fsx.ts';
import { RunRecord } from './schema.ts';
import { rescueFile } from './workspace-base.ts';
import { copyIntoOwnFolder } from './owner-write.ts';
import { statSig } from './stat-sig.ts';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';

// Kernel timestamps come from a coarse clock: a file written just after the
// run started can look a tick older (only for runs without a stamp file).
const SLACK_MS = 20;

/** Which artifacts a run wrote: new or changed since its stamp, or (older runs without one) with an mtime since its start. */
export type WrittenSince = { stamps: ReadonlyMap<string, string> } | { sinceMs: number };

const STAMP_FILE = 'artifacts-before.json';
// Built on first use: most engine calls that import this module never read a stamp file.
const Stamps = lazySchema(() => z.record(z.string(), z.string()));

/**
 * Stamp the artifact files (repo-relative name -> inode, size, mtime, ctime)
 * just before a run's commands, into its run folder: which files the run wrote
 * is then told by what changed, not by mtimes against our clock (a checkpoint
 * left with a future mtime, or written with an old one by cp -p or tar x, was
 * misjudged). lstat only, no hashing: cheap for big checkpoint folders.
 */
export function stampArtifacts(root: string, config: Pick<Config, 'artifacts'>, paths: ExperimentPaths, runId: string): void {
  if (!config.artifacts.length) return;
  const s = compileScope(config.artifacts, []);
  const out: Record<string, string> = {};
  for (const rel of listFiles(root, s.bases, (r) => s.inScope(r))) {
    try {
      const st = fs.lstatSync(path.join(root, rel));
      if (st.isFile()) out[rel] = statSig(st);
    } catch {
      // Gone since the listing: not there before the run.
    }
  }
  writeJsonAtomic(path.join(runDir(paths, runId).dir, STAMP_FILE), out);
}

/** How to tell the files a run wrote: its stamps when it has them, else mtimes since its start. */
/** Remove a logged run's stamp: one entry per artifact file, so not kept for every run. */
export function dropArtifactStamp(paths: ExperimentPaths, runId: string): void {
  fs.rmSync(path.join(runDir(paths, runId).dir, STAMP_FILE), { force: true });
}

export function writtenSince(paths: ExperimentPaths, runId: string, startedMs: number): WrittenSince {
  const r = Stamps.safeParse(readJsonOrNull(path.join(runDir(paths, runId).dir, STAMP_FILE)));
  return r.success ? { stamps: new Map(Object.entries(r.data)) } : { sinceMs: startedMs };
}

function wrote(since: WrittenSince, rel: string, st: fs.Stats): boolean {
  if ('sinceMs' in since) return st.mtimeMs >= since.sinceMs - SLACK_MS;
  const was = since.stamps.get(rel);
  return was === undefined || was !== statSig(st);
}

/** Does this repo-relative path name an artifact? Always false without `artifacts` globs. */
export function artifactMatcher(config: Pick<Config, 'artifacts'>): (rel: string) => boolean {
  if (!config.artifacts.length) return () => false;
  const s = compileScope(config.artifacts, []);
  return (rel) => s.inScope(rel);
}

/** Artifact files in the tree (regular files only), optionally only those a run wrote. */
export function treeArtifacts(root: string, config: Pick<Config, 'artifacts'>, since?: WrittenSince): { rel: string; bytes: number }[] {
  if (!config.artifacts.length) return [];
  const s = compileScope(config.artifacts, []);
  const out: { rel: string; bytes: number }[] = [];
  for (const rel of listFiles(root, s.bases, (r) => s.inScope(r))) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join(root, rel));
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    if (since !== undefined && !wrote(since, rel, st)) continue;
    out.push({ rel, bytes: st.size });
  }
  return out;
}

function copyFile(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

export interface Collected {
  artifacts: { files: string[]; bytes: number } | null;
  warning: string | null;
}

/** Copy the artifacts this run wrote (by its stamps, or since startedMs) under its run folder, unless they exceed the cap. */
export function collectArtifacts(root: string, paths: ExperimentPaths, config: Config, runId: string, startedMs: number): Collected {
  if (!config.artifacts.length) return { artifacts: null, warning: null };
  const fresh = treeArtifacts(root, config, writtenSince(paths, runId, startedMs));
  if (!fresh.length) return { artifacts: null, warning: `artifacts: the run wrote no file matching ${config.artifacts.join(' ')}` };
  const bytes = fresh.reduce((a, f) => a + f.bytes, 0);
  const cap = config.artifacts_max_mb * 1024 * 1024;
  if (bytes > cap) {
    return { artifacts: null, warning: `artifacts: ${(bytes / 1048576).toFixed(1)} MiB is over artifacts_max_mb (${config.artifacts_max_mb}); none kept for this run` };
  }
  const dir = artifactsDir(paths, runId);
  fs.rmSync(dir, { recursive: true, force: true });
  // Marked first: a run with copies is never missing from the marks pruning reads (one too many is harmless).
  markCopies(paths, runId);
  for (const f of fresh) copyFile(path.join(root, f.rel), path.join(dir, f.rel));
  return { artifacts: { files: fresh.map((f) => f.rel), bytes }, warning: null };
}

function record(paths: ExperimentPaths, runId: string): RunRecord | null {
  const r = RunRecord.safeParse(readJsonOrNull(runDir(paths, runId).result));
  return r.success ? r.data : null;
}

export interface KeptArtifacts {
  run_id: string;
  /** Absolute folder holding the copies (the files keep their repo-relative names below it). */
  dir: string;
  files: string[];
}

/** A run's kept artifacts, when its copies are all still there. */
export function runArtifacts(paths: ExperimentPaths, runId: string): KeptArtifacts | null {
  const a = record(paths, runId)?.artifacts;
  if (!a?.files.length) return null;
  const dir = artifactsDir(paths, runId);
  if (!a.files.every((f) => fs.existsSync(path.join(dir, f)))) return null;
  return { run_id: runId, dir, files: a.files };
}

/**
 * The best run's kept artifacts, or null. Only names the artifact globs match: the record lies in
 * `.autoloop/`, which a command can write without the read-only containment (artifacts-seal.ts puts
 * it back), and a restore writes each name it lists into the tree, a source file in the scope included.
 */
export function bestArtifacts(exp: Experiment): KeptArtifacts | null {
  const kept = exp.state.best_run ? runArtifacts(exp.paths, exp.state.best_run) : null;
  if (!kept) return null;
  const isArtifact = artifactMatcher(exp.config);
  const files = kept.files.filter((f) => {
    const rel = normalizeRel(f);
    return rel !== null && isArtifact(rel);
  });
  return files.length ? { ...kept, files } : null;
}

/** Do two regular files hold the same bytes? (sizes first; then chunk by chunk, never a whole checkpoint in memory). */
export function sameBytes(a: string, b: string): boolean {
  let sa: fs.Stats, sb: fs.Stats;
  try {
    sa = fs.lstatSync(a);
    sb = fs.lstatSync(b);
  } catch {
    return false;
  }
  if (!sa.isFile() || !sb.isFile() || sa.size !== sb.size) return false;
  const fa = fs.openSync(a, 'r');
  const fb = fs.openSync(b, 'r');
  try {
    const ba = Buffer.alloc(1 << 20);
    const bb = Buffer.alloc(1 << 20);
    for (let pos = 0; pos < sa.size; ) {
      const n = fs.readSync(fa, ba, 0, ba.length, pos);
      if (n === 0 || fs.readSync(fb, bb, 0, n, pos) !== n || !ba.subarray(0, n).equals(bb.subarray(0, n))) return false;
      pos += n;
    }
    return true;
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

/** What putting artifacts back did: the names written, and the files in the way moved into the rescue folder. */
export interface PutResult {
  written: string[];
  rescued: string[];
}

/**
 * Copy kept artifacts into the tree. A different file already at a name is
 * moved into `rescueTo` first (never overwritten: it may be the user's); one
 * holding the same bytes is left as it is (so a repeat after a kill moves nothing).
 */
export function putArtifacts(root: string, kept: KeptArtifacts, rescueTo: string, runCopies?: string): PutResult {
  const out: PutResult = { written: [], rescued: [] };
  for (const f of kept.files) {
    const rel = normalizeRel(f);
    if (rel === null) continue;
    const from = path.join(kept.dir, rel);
    const to = path.join(root, rel);
    out.written.push(rel);
    if (sameBytes(from, to)) continue;
    const moved = rescueFile(root, rel, rescueTo);
    if (moved) {
      out.rescued.push(rel);
      // A discarded run's own checkpoint at the best's name: one file for its rescued copy and its run copy.
      if (runCopies) shareCopy(moved, path.join(runCopies, rel));
    }
    // The best's folder in the tree may be one the user's code made read-only.
    copyIntoOwnFolder(from, to);
  }
  return out;
}

/**
 * A discarded run's artifact is moved to rescued/ and was copied under its run
 * folder when it was measured: the same bytes twice (a checkpoint of gigabytes).
 * The run's copy becomes a second name of the rescued file (a hard link, put in
 * place by a rename, so a kill leaves one or the other, never neither): one
 * copy on disk, both places read as before, and each retention rule
 * (artifacts_keep, rescued/'s bound) removes only its own name. Where a link
 * cannot be made (another filesystem, no links), both copies stay.
 */
function shareCopy(rescued: string, runCopy: string): void {
  try {
    const a = fs.lstatSync(rescued);
    const b = fs.lstatSync(runCopy);
    if (!a.isFile() || !b.isFile() || (a.ino === b.ino && a.dev === b.dev) || !sameBytes(rescued, runCopy)) return;
  } catch {
    return; // no copy of the run's: nothing twice
  }
  const tmp = `${runCopy}.link-${process.pid}`;
  try {
    fs.rmSync(tmp, { force: true });
    fs.linkSync(rescued, tmp);
    fs.renameSync(tmp, runCopy);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}

/** What restoring the best's artifacts did; `rescued`: the files moved into the rescue folder (taken away or in the way). */
export interface RestoredArtifacts {
  from: string | null;
  /** The best run when it kept no copies (over the cap, or it wrote none): the tree then holds none of this run's either. */
  bestKeptNone?: string;
  written: string[];
  removed: string[];
  rescued: string[];
}

/** Nothing restored (a keep, or no artifacts). */
export const noArtifacts = (): RestoredArtifacts => ({ from: null, written: [], removed: [], rescued: [] });

/**
 * After a discard or crash: the artifacts the run wrote that the best has not
 * are taken away (all of them when the best kept no copies), and the best's copies are put back; every file taken away or
 * in the way is moved into `rescueTo` (the revert's rescue folder), never
 * deleted. Files the run did not write (the user's, or the best's untouched) are
 * left alone. Idempotent.
 */
export function restoreBestArtifacts(exp: Experiment, runId: string, runStartedMs: number, rescueTo: string): RestoredArtifacts {
  if (!exp.config.artifacts.length) return noArtifacts();
  const best = bestArtifacts(exp);
  const keep = new Set(best?.files ?? []);
  const removed: string[] = [];
  for (const f of treeArtifacts(exp.root, exp.config, writtenSince(exp.paths, runId, runStartedMs))) {
    if (keep.has(f.rel)) continue;
    const moved = rescueFile(exp.root, f.rel, rescueTo);
    if (!moved) continue;
    removed.push(f.rel);
    shareCopy(moved, path.join(artifactsDir(exp.paths, runId), f.rel));
  }
  // No copies of the best to put back: this run's are gone all the same, so no discarded checkpoint passes for the best's.
  if (!best) return { ...noArtifacts(), removed, rescued: removed, ...(exp.state.best_run && removed.length ? { bestKeptNone: exp.state.best_run } : {}) };
  const put = putArtifacts(exp.root, best, rescueTo, artifactsDir(exp.paths, runId));
  return { from: best.run_id, written: put.written, removed, rescued: [...removed, ...put.rescued] };
}

/**
 * runs/.artifacts/<run>: an empty file for each run that may hold copies, so
 * that pruning after each log reads those few, not every run folder (100,000
 * stats a log at 100,000 runs). Made before the copies, removed after them;
 * `.complete` says the marks cover every run (without it, older runs' folders
 * are scanned once and marked).
 */
const MARKS = '.artifacts';
const COMPLETE = '.complete';

function marksDir(paths: ExperimentPaths): string {
  return path.join(paths.runs, MARKS);
}

function markCopies(paths: ExperimentPaths, runId: string): void {
  try {
    fs.mkdirSync(marksDir(paths), { recursive: true });
    fs.writeFileSync(path.join(marksDir(paths), runId), '', { flag: 'a' });
  } catch {
    /* a cache: without it the next prune scans every run */
    fs.rmSync(path.join(marksDir(paths), COMPLETE), { force: true });
  }
}

/** The runs that may hold copies: from their marks, or every run folder once (then marked). */
function runsWithCopies(paths: ExperimentPaths): string[] {
  try {
    const names = fs.readdirSync(marksDir(paths));
    if (names.includes(COMPLETE)) return names.filter((n) => /^r\d+$/.test(n));
  } catch {
    /* no marks yet */
  }
  let runs: string[];
  try {
    runs = fs.readdirSync(paths.runs).filter((n) => /^r\d+$/.test(n) && fs.existsSync(artifactsDir(paths, n)));
  } catch {
    return [];
  }
  try {
    for (const r of runs) markCopies(paths, r);
    fs.mkdirSync(marksDir(paths), { recursive: true });
    fs.writeFileSync(path.join(marksDir(paths), COMPLETE), '');
  } catch {
    /* scanned again next time */
  }
  return runs;
}

/** Drop the copies of all runs but the best and the `artifacts_keep` most recent. Returns the runs pruned. */
export function pruneArtifacts(exp: Experiment): string[] {
  const marked = runsWithCopies(exp.paths);
  const runs: string[] = [];
  for (const r of marked) {
    if (fs.existsSync(artifactsDir(exp.paths, r))) runs.push(r);
    else fs.rmSync(path.join(marksDir(exp.paths), r), { force: true }); // a folder deleted by hand
  }
  // Run ids sort by number (r0001 … r9999, then r10000): by length, then text.
  runs.sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
  const recent = new Set(exp.config.artifacts_keep > 0 ? runs.slice(-exp.config.artifacts_keep) : []);
  const pruned: string[] = [];
  for (const r of runs) {
    if (r === exp.state.best_run || recent.has(r)) continue;
    fs.rmSync(artifactsDir(exp.paths, r), { recursive: true, force: true });
    fs.rmSync(path.join(marksDir(exp.paths), r), { force: true });
    pruned.push(r);
  }
  return pruned;
}

/** Where the best's artifacts are, repo-relative, for report, finalize and status; null when none. */
export function bestArtifactsLine(exp: Experiment): { run_id: string; dir: string; files: string[] } | null {
  const b = bestArtifacts(exp);
  return b ? { run_id: b.run_id, dir: relTo(exp.root, b.dir), files: b.files } : null;
}
