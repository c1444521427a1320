// Keeps whose `committed` event the ledger lacks while their commit is on the
// experiment's branch: a line torn or unreadable in the middle of the ledger,
// or a keep killed between its commit and that line and then closed by a new
// segment (whose config line ends the pending keep for good). Left so, the
// state's best commit is the keep before it: every call then took the branch
// as moved by hand, `repair` put it back there (the keep's commit saved as
// "moved", off the branch), and finalize had to search the branch by trailer.
// `control repair` writes each lost event back: found by the commit's
// Autoloop-Run trailer, appended once (one durable line each, marked `late`,
// so a second repair finds it and writes nothing), never a commit made.
import { nowIso, readLedger } from './ledger.ts';
import { append, type Experiment } from './experiment.ts';
import type { LedgerLine } from './schema.ts';
import type { Workspace } from './workspace-base.ts';

/** At most this many are looked for per repair (each is one `git log` of the branch); a next repair finds the rest. */
export const LOST_MAX = 50;

/** A keep whose committed event is lost, and what the branch held before it (its segment's base, or the keep before it). */
export interface LostKeep {
  run: string;
  segment: number | undefined;
  /** Whether the keep changed files (else it made no commit of its own: its commit is the one before it). */
  changed: boolean;
  /** The commit before it, when known from the ledger; else the run of the keep before it (lost too). */
  before: { commit: string } | { run: string } | null;
}

/**
 * The keeps that have no committed event, in ledger order: a keep whose commit failed
 * (`keep_failed`) is none, and the keep still pending (completed by reconcile) is left out. Pure.
 */
export function keepsWithoutCommit(lines: readonly LedgerLine[], pending: string | null): LostKeep[] {
  const keeps: LostKeep[] = [];
  const done = new Map<string, string | null>();
  for (const l of lines) if (l.type === 'event' && l.run_id && (l.event === 'committed' || l.event === 'keep_failed')) done.set(l.run_id, l.event === 'committed' && typeof l.data.commit === 'string' ? l.data.commit : null);
  let before: LostKeep['before'] = null;
  for (const l of lines) {
    if (l.type === 'config') before = l.base ? { commit: l.base } : null;
    if (l.type !== 'result' || l.verdict !== 'keep') continue;
    const commit = done.get(l.run_id);
    if (!done.has(l.run_id) && l.run_id !== pending) keeps.push({ run: l.run_id, segment: l.segment, changed: l.files.length > 0, before });
    if (commit) before = { commit };
    else if (!done.has(l.run_id)) before = { run: l.run_id };
  }
  return keeps;
}

/** Write back the committed events the ledger lost (see above); returns one line for repair's output, or null. */
export async function restoreLostCommits(exp: Experiment, ws: Workspace): Promise<string | null> {
  if (ws.mode !== 'git') return null;
  const lost = keepsWithoutCommit(readLedger(exp.paths.ledger).lines, exp.state.pending?.run_id ?? null);
  const written: string[] = [];
  const found = new Map<string, string>();
  for (const { run, segment, changed, before } of lost.slice(0, LOST_MAX)) {
    // A keep of no file change (a baseline) made no commit: the branch stayed where it was.
    const prior = before && ('commit' in before ? before.commit : found.get(before.run));
    const commit = changed ? await ws.findKeep(run) : (prior ?? null);
    // Not on the branch: nothing to record.
    if (!commit) continue;
    found.set(run, commit);
    append(exp, { type: 'event', ts: nowIso(), ...(segment !== undefined ? { segment } : {}), event: 'committed', run_id: run, data: { commit, reconciled: true, late: true } }, { durable: true });
    written.push(`${run} (${commit.slice(0, 12)})`);
  }
  if (!written.length) return null;
  const more = lost.length > LOST_MAX ? ` (${lost.length - LOST_MAX} more keep(s) not looked for: run repair again)` : '';
  return `wrote back the committed event(s) the ledger lost: ${written.join(', ')}${more}`;
}
