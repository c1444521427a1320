// Artifacts: files the benchmark writes whose best copy matters (checkpoints,
// exported models, reports), named by config `artifacts` globs. Each ok run's
// fresh artifacts are copied under runs/<id>/artifacts/ (within a size cap);
// after a discard or crash the best run's copies go back into the tree; old
// runs' copies are pruned, never the best's. Artifacts are outside the scope:
// never committed, and never an out-of-scope change.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './schema.ts';
import type { Experiment } from './experiment-data.ts';
import { artifactsDir, rel as relTo, runDir, type ExperimentPaths } from './paths.ts';
import { compileScope, listFiles, normalizeRel } from './scope.ts';
import { readJsonOrNull } from './fsx.ts';
import { RunRecord } from './schema.ts';

// Kernel timestamps come from a coarse clock: a file written just after the
// run started can look a tick older.
const SLACK_MS = 20;

/** Does this repo-relative path name an artifact? Always false without `artifacts` globs. */
export function artifactMatcher(config: Pick<Config, 'artifacts'>): (rel: string) => boolean {
  if (!config.artifacts.length) return () => false;
  const s = compileScope(config.artifacts, []);
  return (rel) => s.inScope(rel);
}

/** Artifact files in the tree (regular files only), optionally only those written since a time. */
export function treeArtifacts(root: string, config: Pick<Config, 'artifacts'>, sinceMs?: number): { rel: string; bytes: number }[] {
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
    if (sinceMs !== undefined && st.mtimeMs < sinceMs - SLACK_MS) continue;
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

/** Copy the artifacts this run wrote (since sinceMs) under its run folder, unless they exceed the cap. */
export function collectArtifacts(root: string, paths: ExperimentPaths, config: Config, runId: string, sinceMs: number): Collected {
  if (!config.artifacts.length) return { artifacts: null, warning: null };
  const fresh = treeArtifacts(root, config, sinceMs);
  if (!fresh.length) return { artifacts: null, warning: `artifacts: the run wrote no file matching ${config.artifacts.join(' ')}` };
  const bytes = fresh.reduce((a, f) => a + f.bytes, 0);
  const cap = config.artifacts_max_mb * 1024 * 1024;
  if (bytes > cap) {
    return { artifacts: null, warning: `artifacts: ${(bytes / 1048576).toFixed(1)} MiB is over artifacts_max_mb (${config.artifacts_max_mb}); none kept for this run` };
  }
  const dir = artifactsDir(paths, runId);
  fs.rmSync(dir, { recursive: true, force: true });
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

/** The best run's kept artifacts, or null. */
export function bestArtifacts(exp: Experiment): KeptArtifacts | null {
  return exp.state.best_run ? runArtifacts(exp.paths, exp.state.best_run) : null;
}

/** Copy kept artifacts into the tree (over what is there). Returns the names written. */
export function putArtifacts(root: string, kept: KeptArtifacts): string[] {
  const out: string[] = [];
  for (const f of kept.files) {
    const rel = normalizeRel(f);
    if (rel === null) continue;
    copyFile(path.join(kept.dir, rel), path.join(root, rel));
    out.push(rel);
  }
  return out;
}

/**
 * After a discard or crash: the artifacts the run wrote that the best has not
 * are removed, and the best's copies are put back. Files older than the run
 * (the user's, or the best's untouched) are left alone. Idempotent.
 */
export function restoreBestArtifacts(exp: Experiment, runStartedMs: number): { from: string | null; written: string[]; removed: string[] } {
  if (!exp.config.artifacts.length) return { from: null, written: [], removed: [] };
  const best = bestArtifacts(exp);
  if (!best) return { from: null, written: [], removed: [] };
  const keep = new Set(best.files);
  const removed: string[] = [];
  for (const f of treeArtifacts(exp.root, exp.config, runStartedMs)) {
    if (keep.has(f.rel)) continue;
    fs.rmSync(path.join(exp.root, f.rel), { force: true });
    removed.push(f.rel);
  }
  return { from: best.run_id, written: putArtifacts(exp.root, best), removed };
}

/** Drop the copies of all runs but the best and the `artifacts_keep` most recent. Returns the runs pruned. */
export function pruneArtifacts(exp: Experiment): string[] {
  let runs: string[];
  try {
    runs = fs.readdirSync(exp.paths.runs).filter((n) => /^r\d+$/.test(n) && fs.existsSync(artifactsDir(exp.paths, n)));
  } catch {
    return [];
  }
  runs.sort();
  const recent = new Set(exp.config.artifacts_keep > 0 ? runs.slice(-exp.config.artifacts_keep) : []);
  const pruned: string[] = [];
  for (const r of runs) {
    if (r === exp.state.best_run || recent.has(r)) continue;
    fs.rmSync(artifactsDir(exp.paths, r), { recursive: true, force: true });
    pruned.push(r);
  }
  return pruned;
}

/** Where the best's artifacts are, repo-relative, for report, finalize and status; null when none. */
export function bestArtifactsLine(exp: Experiment): { run_id: string; dir: string; files: string[] } | null {
  const b = bestArtifacts(exp);
  return b ? { run_id: b.run_id, dir: relTo(exp.root, b.dir), files: b.files } : null;
}
