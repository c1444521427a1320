// The attribution journal (.autoloop/journal): which new in-scope files the
// model made, so that a file the user creates in the scope while the loop runs
// is never measured, committed or deleted as if it were the candidate's.
//
// PreToolUse hooks append to it while the loop is active (hooks/src/journal.ts, and
// one `printf >>` in hooks/pre-tool-use.sh), one short line per entry:
//   W <rel>   a file the model writes (Edit/Write/…, a redirect, cp/tee/… target)
//   D <rel>   a directory it makes (mkdir): everything below is the model's
//   B <ms> <end>  a Bash call whose writes the guard cannot see starts (epoch
//             ms); it cannot outlive its timeout, <end>
//   E <ms>    a later call of the owner: the open Bash windows end here
//   A <ms>    a Bash call in the background starts: its window ends only with the engine call
// Lines from the shell carry no time (dash has no clock), so they end no
// window; an open window ends at its call's timeout or when the engine call
// starts, whichever is first. The engine resets
// the journal when a run is logged. Without a journal, or with nobody owning
// the loop, nothing is attributed and every new file counts as the model's
// (the behaviour without hooks: the demo, scripted use).
import fs from 'node:fs';
import path from 'node:path';
import * as z from './zod.ts';
import { lazySchema } from './zod.ts';
import { readJsonOrNull } from './fsx.ts';
import { repoPaths } from './paths.ts';

export const JOURNAL_FILE = 'journal';

/** A file's birth or change this close before a window's start still counts as inside it (coarse file system clocks). */
const SLACK_MS = 1000;

export interface Journal {
  files: Set<string>;
  dirs: string[];
  windows: { from: number; to: number }[];
}

export const journalPath = (root: string): string => path.join(repoPaths(root).dir, JOURNAL_FILE);

/** The journal's text as attributions; `now` ends a window left open (the engine call's start). Pure. */
export function parseJournal(text: string, now: number): Journal {
  const j: Journal = { files: new Set(), dirs: [], windows: [] };
  // Windows stay open until an E (another session's B says nothing of when the owner's call ended).
  let open: { from: number; end: number }[] = [];
  const close = (at: number) => {
    for (const w of open) j.windows.push({ from: w.from, to: Math.max(w.from, Math.min(at, w.end)) });
    open = [];
  };
  for (const line of text.split('\n')) {
    const kind = line.slice(0, 2);
    const rest = line.slice(2);
    if (kind === 'W ' && rest) j.files.add(clean(rest));
    else if (kind === 'D ' && rest) j.dirs.push(clean(rest));
    else if (kind === 'B ' || kind === 'E ' || kind === 'A ') {
      const [t, end] = rest.split(' ').map(Number) as [number, number | undefined];
      if (!Number.isFinite(t) || t <= 0) continue;
      if (kind === 'A ') j.windows.push({ from: t, to: Math.max(t, now) });
      else if (kind === 'E ') close(t);
      else open.push({ from: t, end: end !== undefined && Number.isFinite(end) ? end : Infinity });
    }
  }
  close(now);
  return j;
}

const clean = (rel: string): string => rel.replace(/^\.\//, '').replace(/\/+$/, '');

/** Did the model make this new file? Named, under a named directory, or born or changed in one of its Bash windows. Pure. */
export function byModel(j: Journal, rel: string, times: { birthMs: number; ctimeMs: number }): boolean {
  if (j.files.has(rel)) return true;
  if (j.dirs.some((d) => d === '' || rel.startsWith(d + '/'))) return true;
  const inWindow = (t: number) => t > 0 && j.windows.some((w) => t >= w.from - SLACK_MS && t <= w.to);
  return inWindow(times.birthMs) || inWindow(times.ctimeMs);
}

const Owner = lazySchema(() => z.looseObject({ owner_session: z.nullable(z.string()) }));

/**
 * The journal of the loop's owner, or null when attribution is off: no
 * session owns the loop (session.json) or no journal was written.
 */
export function readJournal(root: string, now = Date.now()): Journal | null {
  const owner = Owner.safeParse(readJsonOrNull(repoPaths(root).session));
  if (!owner.success || !owner.data.owner_session) return null;
  let text: string;
  try {
    text = fs.readFileSync(journalPath(root), 'utf8');
  } catch {
    return null;
  }
  return parseJournal(text, now);
}

/** Stat of a new file for byModel; null when it is gone. One lstat. */
export function timesOf(abs: string): { birthMs: number; ctimeMs: number } | null {
  try {
    const st = fs.lstatSync(abs);
    return { birthMs: st.birthtimeMs, ctimeMs: st.ctimeMs };
  } catch {
    return null;
  }
}

/** A run was logged: what the journal said is settled (kept, reverted or moved aside). Kept existing, emptied. */
export function resetJournal(root: string): void {
  const file = journalPath(root);
  try {
    fs.truncateSync(file, 0);
  } catch {
    // no journal: nothing to reset
  }
}
