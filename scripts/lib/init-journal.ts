// Opening a segment is all-or-nothing. init-experiment writes the new
// config.yaml, env.json and judges' manifest beside the current ones
// (*.next), then a marker naming the segment, then appends the segment's
// config line (the commit point), then moves the new files into place. A
// call that was killed is finished by the next engine call under the lock:
// completed when its config line reached the ledger, rolled back otherwise,
// so the previous config and segment stay exactly as they were. An init that
// fails by an error after its config line (it is still running, under the
// lock) undoes even that: keepForUndo holds what the opening replaces.
import fs from 'node:fs';
import path from 'node:path';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import type { ExperimentPaths } from './paths.ts';
import { readJsonOrNull, writeJsonAtomic } from './fsx.ts';
import { readLedger } from './ledger.ts';
import { envFile } from './bench-env.ts';
import { commitJudges, dropStagedJudges, judgesManifestFile } from './integrity.ts';
import { writeFileAtomic } from './fsx.ts';
import { checkpointFile } from './state-cache.ts';
import { workspaceFile } from './workspace-base.ts';

const Marker = lazySchema(() => z.object({ segment: z.int().check(z.minimum(1)), ledger_size: z.int().check(z.minimum(0)) }));

export interface Staged {
  config: string;
  env: string;
  marker: string;
  /** The workspace's state for the new segment (snapshot mode: its best), when a segment was open before. */
  workspace: string;
}

export function stagedPaths(exp: ExperimentPaths): Staged {
  return { config: `${exp.config}.next`, env: `${envFile(exp)}.next`, marker: path.join(exp.dir, 'init.next.json'), workspace: `${workspaceFile(exp)}.next` };
}

/** The point of no return is near: name the segment being opened and where the ledger ended. */
export function markInit(exp: ExperimentPaths, segment: number): void {
  let size = 0;
  try {
    size = fs.statSync(exp.ledger).size;
  } catch {
    size = 0;
  }
  writeJsonAtomic(stagedPaths(exp).marker, { segment, ledger_size: size });
}

/**
 * Move the staged files into place (the config line is in the ledger).
 * `keepOldJudges`: the previous judges' copies stay (see keepForUndo).
 */
export function finishInit(exp: ExperimentPaths, opts: { keepOldJudges?: boolean } = {}): void {
  const st = stagedPaths(exp);
  if (fs.existsSync(st.config)) fs.renameSync(st.config, exp.config);
  if (fs.existsSync(st.env)) fs.renameSync(st.env, envFile(exp));
  if (fs.existsSync(st.workspace)) fs.renameSync(st.workspace, workspaceFile(exp));
  commitJudges(exp.judges, { keepOld: opts.keepOldJudges });
  fs.rmSync(st.marker, { force: true });
}

const SIDECAR = /^primaries-\d+\.f64$/;

/**
 * Before the config line of a new segment: the ledger's length and the bytes
 * of every file its opening replaces or creates in the experiment's folder
 * (config, env, workspace, judges' manifest, the state caches) and of
 * `others` (active.json). The returned function, called after a failure,
 * cuts the ledger back, puts each file back as it was and drops the staged
 * files and the new judges' copies: the segment never opened.
 */
export function keepForUndo(exp: ExperimentPaths, others: string[]): () => void {
  const ledgerSize = fs.existsSync(exp.ledger) ? fs.statSync(exp.ledger).size : 0;
  const files = [exp.config, envFile(exp), workspaceFile(exp), judgesManifestFile(exp.judges), exp.state, checkpointFile(exp), ...others];
  const saved = files.flatMap((file): { file: string; bytes: Buffer | null; mode: number }[] => {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (!st) return [{ file, bytes: null, mode: 0 }];
    // Something other than a file (a directory in the way) is not the opening's: left alone.
    return st.isFile() ? [{ file, bytes: fs.readFileSync(file), mode: st.mode & 0o7777 }] : [];
  });
  const sidecars = new Set(fs.readdirSync(exp.dir).filter((n) => SIDECAR.test(n)));
  return () => {
    fs.truncateSync(exp.ledger, ledgerSize);
    for (const s of saved) {
      if (s.bytes === null) fs.rmSync(s.file, { force: true });
      else writeFileAtomic(s.file, s.bytes, { mode: s.mode });
    }
    for (const n of fs.readdirSync(exp.dir)) if (SIDECAR.test(n) && !sidecars.has(n)) fs.rmSync(path.join(exp.dir, n), { force: true });
    // The staged files, if the move did not happen, and every judges' copy but the manifest's (now the previous one again).
    dropInit(exp);
  };
}

function dropInit(exp: ExperimentPaths): void {
  const st = stagedPaths(exp);
  fs.rmSync(st.config, { force: true });
  fs.rmSync(st.env, { force: true });
  fs.rmSync(st.workspace, { force: true });
  dropStagedJudges(exp.judges);
  fs.rmSync(st.marker, { force: true });
}

/** Finish what a killed init left; returns what was done, or null when nothing was pending. */
export function recoverInit(exp: ExperimentPaths): string | null {
  const st = stagedPaths(exp);
  const marker = Marker.safeParse(readJsonOrNull(st.marker));
  const pending = marker.success || fs.existsSync(st.config) || fs.existsSync(st.env) || fs.existsSync(st.workspace) || fs.existsSync(path.join(exp.judges, 'manifest.next.json'));
  if (!pending) return null;
  if (marker.success) {
    const { lines } = readLedger(exp.ledger, marker.data.ledger_size);
    if (lines.some((l) => l.type === 'config' && l.segment === marker.data.segment)) {
      finishInit(exp);
      return `completed the opening of segment ${marker.data.segment}`;
    }
  }
  dropInit(exp);
  return 'rolled back an interrupted init-experiment (the previous config and segment stand)';
}
