// Opening a segment is all-or-nothing. init-experiment writes the new
// config.yaml, env.json and judges' manifest beside the current ones
// (*.next), then a marker naming the segment, then appends the segment's
// config line (the commit point), then moves the new files into place. A
// call that was killed is finished by the next engine call under the lock:
// completed when its config line reached the ledger, rolled back otherwise,
// so the previous config and segment stay exactly as they were.
import fs from 'node:fs';
import path from 'node:path';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import type { ExperimentPaths } from './paths.ts';
import { readJsonOrNull, writeJsonAtomic } from './fsx.ts';
import { readLedger } from './ledger.ts';
import { envFile } from './bench-env.ts';
import { commitJudges, dropStagedJudges } from './integrity.ts';
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

/** Move the staged files into place (the config line is in the ledger). */
export function finishInit(exp: ExperimentPaths): void {
  const st = stagedPaths(exp);
  if (fs.existsSync(st.config)) fs.renameSync(st.config, exp.config);
  if (fs.existsSync(st.env)) fs.renameSync(st.env, envFile(exp));
  if (fs.existsSync(st.workspace)) fs.renameSync(st.workspace, workspaceFile(exp));
  commitJudges(exp.judges);
  fs.rmSync(st.marker, { force: true });
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
