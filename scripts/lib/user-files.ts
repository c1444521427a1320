// New in-scope files the user made while the loop runs. With the owner's
// attribution journal (journal.ts), a new untracked in-scope file the model
// did not make is the user's: before a measurement it is moved aside into
// rescued/<run>/ (never measured, never committed, never lost); one that
// appears during the run or before its log is no drift of the measured change
// and is left where it is (a keep commits only what was measured). Without a
// journal this module does nothing and costs nothing.
import path from 'node:path';
import { byModel, readJournal, timesOf, type Journal } from './journal.ts';
import { rescueFile, type Workspace } from './workspace-base.ts';
import type { MeasuredContent } from './schema.ts';
import { pinRescued } from './rescue-retention.ts';

export interface Attribution {
  root: string;
  journal: Journal;
}

/** Attribution for this engine call, or null (nobody owns the loop, or no journal). */
export function attribution(root: string, now = Date.now()): Attribution | null {
  const journal = readJournal(root, now);
  return journal ? { root, journal } : null;
}

/** Of these new files, the user's (one lstat each; a file gone meanwhile is nobody's). */
export function usersAmong(a: Attribution, created: readonly string[]): string[] {
  return created.filter((rel) => {
    const t = timesOf(path.join(a.root, rel));
    return t !== null && !byModel(a.journal, rel, t);
  });
}

/** Move the user's new in-scope files into `dir` before a measurement; returns them (the caller observes the tree again). */
export async function setAsideUsers(ws: Workspace, a: Attribution, dir: string): Promise<string[]> {
  const users = usersAmong(a, await ws.created(await ws.changedInScope()));
  const moved = users.filter((rel) => rescueFile(a.root, rel, dir));
  // Surely the user's: the retention rule of rescued/ never prunes this folder.
  if (moved.length) pinRescued(dir);
  return moved;
}

/** A drift without the user's new files (never measured, left in place): those are no change of what was measured. */
export async function driftWithoutUsers(ws: Workspace, a: Attribution | null, drift: string[], measured: MeasuredContent): Promise<string[]> {
  if (!a || !drift.length) return drift;
  const fresh = drift.filter((p) => !(p in measured.files));
  if (!fresh.length) return drift;
  const users = new Set(usersAmong(a, await ws.created(fresh)));
  return drift.filter((p) => !users.has(p));
}

/** The one-line note of what was moved aside, and where. */
export function setAsideNote(files: readonly string[], dir: string, root: string): string {
  const names = files.slice(0, 3).join(', ') + (files.length > 3 ? ` (+${files.length - 3} more)` : '');
  return `new in-scope file(s) not made by the model, moved aside unmeasured to ${path.relative(root, dir)}/: ${names}`;
}
