// The one-call iteration (run-experiment --description): measure the working
// tree, then log the run in the same process and under the same lock, by the
// same rules and verdict as log-experiment. What the run already holds is
// passed on instead of being asked of git again: the open workspace, and the
// record the run checked against the tree after its last command (run-guard's
// afterPhase), with no model turn in between for the tree to change in.
import { assertBranchAtKeep, currentTermination, measuredNotLogged, publishActive, withLock, type Experiment } from '../experiment.ts';
import { crashPoint } from '../faults.ts';
import type { RunRecord } from '../schema.ts';
import { logCommand, logMeasured, type LogInput, type LogResult } from './log.ts';
import { measureNext } from './run.ts';

export type IterateResult =
  | { kind: 'interrupted'; record: RunRecord }
  /** recovered: the run was measured by an earlier call that died before logging it; this call logged it and measured nothing. */
  | { kind: 'logged'; record: RunRecord; log: LogResult; recovered: boolean };

export async function iterateCommand(exp: Experiment, signal: AbortSignal, input: LogInput): Promise<IterateResult> {
  // A call killed between measuring and logging: its run is logged first, as log-experiment would
  // (re-checked against the tree, which may have changed since).
  const pending = measuredNotLogged(exp);
  if (pending) return { kind: 'logged', record: pending, log: await logCommand(exp, input), recovered: true };
  let result!: IterateResult;
  await withLock(exp, 'run-experiment', async () => {
    const { record, interrupted, ws } = await measureNext(exp, signal, { loggedNext: true });
    if (interrupted) {
      publishActive(exp, currentTermination(exp));
      result = { kind: 'interrupted', record };
      return;
    }
    crashPoint('after-measure');
    // The run may have taken hours: the branch must still be where the engine last kept.
    await assertBranchAtKeep(exp, ws);
    result = { kind: 'logged', record, log: await logMeasured(exp, ws, record, input), recovered: false };
  });
  return result;
}
