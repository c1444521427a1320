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

/**
 * The keeps (run id and segment) that have no committed event, in ledger order: a keep
 * whose commit failed (`keep_failed`) is none, and the keep still pending (the last line's
 * business, completed by reconcile) is left out. Pure.
 */
export function keepsWithoutCommit(lines: readonly LedgerLine[], pending: string | null): { run: string; segment: number | undefined }[] {
  const keeps = new Map<string, number | undefined>();
  const done = new Set<string>();
  for (const l of lines) {
    if (l.type === 'result' && l.verdict === 'keep') keeps.set(l.run_id, l.segment);
    else if (l.type === 'event' && l.run_id && (l.event === 'committed' || l.event === 'keep_failed')) done.add(l.run_id);
  }
  return [...keeps].filter(([run]) => !done.has(run) && run !== pending).map(([run, segment]) => ({ run, segment }));
}

/** Write back the committed events the ledger lost (see above); returns one line for repair's output, or null. */
export async function restoreLostCommits(exp: Experiment, ws: Workspace): Promise<string | null> {
  if (ws.mode !== 'git') return null;
  const lost = keepsWithoutCommit(readLedger(exp.paths.ledger).lines, exp.state.pending?.run_id ?? null);
  const written: string[] = [];
  for (const { run, segment } of lost.slice(0, LOST_MAX)) {
    const commit = await ws.findKeep(run);
    // No commit of its own (a keep of no file change), or not on the branch: nothing to record.
    if (!commit) continue;
    append(exp, { type: 'event', ts: nowIso(), ...(segment !== undefined ? { segment } : {}), event: 'committed', run_id: run, data: { commit, reconciled: true, late: true } }, { durable: true });
    written.push(`${run} (${commit.slice(0, 12)})`);
  }
  if (!written.length) return null;
  const more = lost.length > LOST_MAX ? ` (${lost.length - LOST_MAX} more keep(s) not looked for: run repair again)` : '';
  return `wrote back the committed event(s) the ledger lost: ${written.join(', ')}${more}`;
}
