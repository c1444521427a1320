// The state a ledger-locked call judges with, in parallel mode. A line that a
// candidate's benchmark forged stands in the shared ledger until that
// candidate's guard cuts it when the command ends (ledger-cut.ts): a run
// allocated or logged meanwhile must not stand on it (a forged keep at 0 made
// the best every other candidate was compared with). Each live command's seal
// is kept on disk, so the lines its guard will cut are known now (the same
// check, ledger-tail.ts): the state is folded without them. Nothing is
// written: the cut and its note stay the guard's. Each check reads the ledger
// from its seal's offset (ledger-cut.ts sealedTail): a call costs what was
// appended during the command, not the history before it.
import { readLedger } from '../ledger.ts';
import { emptyState, foldLines } from '../reduce.ts';
import { readRunRecord, type Experiment } from '../experiment.ts';
import { sealedTail, sealIsMine, sealKept, witnessesOf } from './ledger-cut.ts';
import { removedFromTail } from './ledger-tail.ts';
import { openCandidates } from './store.ts';

/** The lines appended since a live candidate command's seal that its guard will cut. */
export function unverifiedLines(exp: Experiment): Set<string> {
  const out = new Set<string>();
  for (const c of openCandidates(exp.paths)) {
    // This process's own command: its guard cuts in this very call.
    if (!c.run_id || sealIsMine(c.run_id) || !sealKept(exp, c.run_id)) continue;
    if (readRunRecord(exp, c.run_id)?.phase !== 'running') continue;
    // From its seal's offset: the ledger before it is read only if a line appended since is not the engine's.
    const at = sealedTail(exp, c.run_id);
    if (!at) continue;
    const w = witnessesOf(exp, c.id);
    const has = () => {
      const lines = new Set(at.sealed().split('\n'));
      return (l: string) => lines.has(l);
    };
    for (const l of removedFromTail(at.tail, c.run_id, w.record, w, has)) out.add(l);
  }
  return out;
}

/** Fold exp.state again without the lines a live guard will cut; false when there are none. */
export function foldVerified(exp: Experiment): boolean {
  const forged = unverifiedLines(exp);
  if (!forged.size) return false;
  const read = readLedger(exp.paths.ledger, 0, { skip: (buf, start, end) => forged.has(buf.toString('utf8', start, end)) });
  // Its offset is the file's end: lines this call appends are folded on top, as always.
  exp.state = { ...foldLines(emptyState(), read.lines, exp.config), ledger_offset: read.end };
  return true;
}
