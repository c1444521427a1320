// Candidates whose run or log is in flight anywhere in the repository (their
// own lock held by a live engine process). A candidate's command is guarded
// on the assumption that only candidate calls write the engine's state
// meanwhile: its guard puts back the config, the environment, the judges'
// manifest, the workspace record and chain.json as it sealed them, and cuts
// ledger lines it cannot account for. A new segment (init-experiment) or a
// chain opened beside it was undone that way (its config line cut, the old
// manifest naming judges' copies already swept), so those refuse instead,
// holding the repository's lock: no candidate can start a command meanwhile,
// since each first takes that lock to allocate its run.
import { listExperiments } from '../experiment.ts';
import { experimentPaths } from '../paths.ts';
import { lockHolder } from '../lock.ts';
import { RefusalError } from '../errors.ts';
import { candidatePaths, openCandidates } from './store.ts';

/** "<slug> <id> (<owner>, pid N)" for each candidate with a call in flight. */
export function candidatesInFlight(root: string): string[] {
  const out: string[] = [];
  for (const slug of listExperiments(root)) {
    const paths = experimentPaths(root, slug);
    for (const c of openCandidates(paths)) {
      const h = lockHolder(candidatePaths(paths, c.id).lock);
      if (h) out.push(`${slug} ${c.id} (${h.owner}, pid ${h.pid})`);
    }
  }
  return out;
}

/** Refuse `what` while a candidate's call is in flight (call holding the repository's lock). */
export function assertNoCandidateInFlight(root: string, what: string): void {
  const busy = candidatesInFlight(root);
  if (busy.length) {
    throw new RefusalError(`${what} must wait: candidate ${busy.slice(0, 3).join(', ')}${busy.length > 3 ? ` (+${busy.length - 3} more)` : ''} is measuring or logging now, and its guard would undo it; run it again once that call ends`);
  }
}
