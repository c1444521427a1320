// Whose run a forged loose object voids (loose-forged.ts). The object store is
// the repository's: in parallel mode every candidate's code can write it, and
// the first engine whose phase ends finds what any of them forged. The finder
// is not the forger for that reason: an object's ctime (which no process can
// set back) is when it was last written, and a command could write it only
// while it ran (`pidns`, `readonly`: every process of a command dies with its
// namespace); in `group` mode a process that leaves its group and wipes its
// environment outlives the command, so such a run could write at any time from
// its first command on. A run is a suspect when its windows hold the ctime
// (give or take the timestamps' grain). When no run's windows hold it (an
// engine wrote the same object again later: git freshens an object it would
// have written), every run whose first command began before it is a suspect.
//
// Each run records its windows (runs/<id>/windows.json, for the finders); a
// finder appends what it found, with the suspects, to .autoloop/forged-loose.jsonl
// before it sets the objects aside (so a phase that no longer sees an object
// sees its finding), and each run judges itself when its phase ends: void when
// a finding made since its phase began names it, or when the ctime lies in one
// of its own windows (kept in the engine's memory: what code under test wrote
// into the shared files cannot take its own run out of the blame).
import fs from 'node:fs';
import path from 'node:path';
import { readJsonOrNull, writeJsonAtomic } from './fsx.ts';

/** When a command of a run could write (end null: until the phase ends, or still running). */
export interface Window {
  start: number;
  end: number | null;
}

/** A run's windows, as its engine records them. */
export interface RunWindows {
  run: string;
  windows: Window[];
}

export interface Finding {
  /** The object's id, and its ctime (ms) when found. */
  id: string;
  ctime: number;
  /** The run whose phase found it. */
  found_by: string;
  /** The runs that could have written it. */
  suspects: string[];
  /** No run's windows held the ctime: the suspects are every run that had begun. */
  unattributed: boolean;
}

/** Timestamps are coarse (a kernel tick; the engine's clock read around a spawn): a write this near a window counts in it. */
export const SLACK_MS = 50;

export function holds(windows: readonly Window[], t: number): boolean {
  return windows.some((w) => t >= w.start - SLACK_MS && (w.end === null || t <= w.end + SLACK_MS));
}

/** Who could have written an object last written at `t`, of these runs. Pure. */
export function suspectsOf(t: number, runs: readonly RunWindows[]): { suspects: string[]; unattributed: boolean } {
  const held = runs.filter((r) => holds(r.windows, t)).map((r) => r.run);
  if (held.length) return { suspects: held, unattributed: false };
  const begun = runs.filter((r) => r.windows.some((w) => w.start - SLACK_MS <= t)).map((r) => r.run);
  return { suspects: begun, unattributed: true };
}

/** Whether a finding voids `run`, whose own windows (from memory) are `own`. Pure. */
export function blames(f: Finding, run: string, own: readonly Window[]): boolean {
  return f.suspects.includes(run) || holds(own, f.ctime);
}

const findingsFile = (root: string): string => path.join(root, '.autoloop', 'forged-loose.jsonl');
export const windowsFile = (runFolder: string): string => path.join(runFolder, 'windows.json');

export function saveWindows(runFolder: string, windows: readonly Window[]): void {
  writeJsonAtomic(windowsFile(runFolder), windows, { durable: false });
}

export function readWindows(runFolder: string): Window[] {
  const raw = readJsonOrNull(windowsFile(runFolder));
  if (!Array.isArray(raw)) return [];
  return raw.filter((w): w is Window => typeof w?.start === 'number' && (w.end === null || typeof w.end === 'number'));
}

/** Appended whole (one write of a line, O_APPEND): findings of engines beside each other never interleave. */
export function recordFindings(root: string, found: readonly Finding[]): void {
  if (!found.length) return;
  fs.mkdirSync(path.dirname(findingsFile(root)), { recursive: true });
  fs.appendFileSync(findingsFile(root), found.map((f) => `${JSON.stringify({ ...f, at: Date.now() })}\n`).join(''));
}

/** The findings made at or after `sinceMs`. */
export function findingsSince(root: string, sinceMs: number): Finding[] {
  let text = '';
  try {
    text = fs.readFileSync(findingsFile(root), 'utf8');
  } catch {
    return [];
  }
  const out: Finding[] = [];
  for (const l of text.split('\n')) {
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch {
      continue;
    }
    const f = v as Partial<Finding> & { at?: unknown };
    if (typeof f.id !== 'string' || typeof f.ctime !== 'number' || typeof f.found_by !== 'string' || !Array.isArray(f.suspects) || typeof f.at !== 'number') continue;
    if (f.at < sinceMs - SLACK_MS) continue;
    out.push({ id: f.id, ctime: f.ctime, found_by: f.found_by, suspects: f.suspects.filter((s): s is string => typeof s === 'string'), unattributed: f.unattributed === true });
  }
  return out;
}
