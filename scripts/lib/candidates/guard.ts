// The integrity guard of issue 11 for a candidate's run (parallel mode): as
// guarded as a run in the main tree, adapted to a tree of its own and to a
// ledger shared with the candidates measuring beside it.
//   before: the in-scope change of the candidate's worktree is captured (its
//     changes outside the scope are its own: measure() makes them invalid);
//   around each command: the files only init writes (config, environment,
//     judges' manifest, chain) and the candidate's workspace record are sealed
//     by their bytes and put back; the ledger is checked under the ledger lock
//     (ledger-tail.ts), its forged lines removed; the judges are checked in
//     the candidate's worktree;
//   after each phase: as RunGuard (drift of the captured content, tracked
//     files outside the scope modified), and the main tree's in-scope files
//     as they were before it (main-watch.ts: else put back, the run void).
import path from 'node:path';
import { event, rescueDir } from '../experiment.ts';
import type { Experiment } from '../experiment-data.ts';
import { RunGuard, type Phase } from '../run-guard.ts';
import { breakSeal, seal, statefulFiles, type Seal } from '../tamper.ts';
import { repoPaths } from '../paths.ts';
import type { RunRecord } from '../schema.ts';
import { crashPoint } from '../faults.ts';
import type { Workspace } from '../workspace-base.ts';
import { checkLedgerWindow, cutLedger, dropSeal, keepSeal, SEAL_WINDOW_BYTES, sealWindow, type SealedWindow } from './ledger-cut.ts';
import { withLedger } from './ledger.ts';
import { MainTreeWatch } from './main-watch.ts';

/** The ledger's end when each seal was taken (its last MB: the history before it is not read per command). */
const ledgerAt = new WeakMap<Seal, SealedWindow>();

export class CandidateGuard extends RunGuard {
  private readonly main: MainTreeWatch;

  constructor(exp: Experiment, ws: Workspace, record: RunRecord, isArtifact: (rel: string) => boolean, tree: string, private readonly stateFile: string) {
    super(exp, ws, record, isArtifact, tree);
    this.main = new MainTreeWatch(exp.root, `autoloop/${exp.paths.slug}`, exp.config);
  }

  /** Nothing set aside: nobody but the candidate edits its worktree. */
  override async before(): Promise<string | null> {
    await this.main.mark();
    return this.capture();
  }

  /** As RunGuard, then the main tree: what the phase wrote there is put back (as written, in rescued/) and voids the run. */
  override async afterPhase(what: Phase): Promise<string | null> {
    const own = await super.afterPhase(what);
    const { exp, record } = this;
    const folder = `${record.run_id}-main-tree`;
    const hit = await withLedger(exp, 'run-experiment', async () => {
      const files = await this.main.restore(rescueDir(exp, folder));
      if (files.length) event(exp, 'outside_change', { files: files.slice(0, 50), count: files.length, main_tree: true, restored: true, rescued_to: path.relative(exp.root, rescueDir(exp, folder)) }, record.run_id);
      return files;
    });
    await this.main.mark();
    if (!hit.length) return own;
    const names = hit.slice(0, 3).join(', ') + (hit.length > 3 ? ` (+${hit.length - 3} more)` : '');
    return own ?? `the ${what} changed files of the main working tree: ${names} (put back as they were; as written, in rescued/${folder}/)`;
  }

  /** Not appended beside another guard's rewrite of the ledger (restoreLedger), which would drop it. */
  protected override async note(name: 'tamper', data: Record<string, unknown>): Promise<void> {
    await withLedger(this.exp, 'run-experiment', async () => event(this.exp, name, data, this.record.run_id));
  }

  /** Files other candidates write meanwhile (ledger, state cache, active.json) are left out of the byte seal. */
  private sealedFiles(): string[] {
    const shared = new Set([this.exp.paths.ledger, this.exp.paths.state, repoPaths(this.exp.root).active]);
    return [...statefulFiles(this.exp.paths, this.exp.root).filter((f) => !shared.has(f)), this.stateFile];
  }

  override seal(): Seal {
    this.ws.stale();
    this.markPhase();
    const s = this.sealArtifacts(seal(this.exp.paths, this.exp.root, this.judgeFiles(), this.sealedFiles()));
    const w = sealWindow(this.exp.paths.ledger);
    ledgerAt.set(s, w);
    // On disk too: a guard killed before its cut leaves the cut to the next ledger-locked call (ledger.ts).
    keepSeal(this.exp, this.record.run_id, w.mark);
    return s;
  }

  override async afterCommand(sealed: Seal, what: Phase): Promise<string | null> {
    const w = ledgerAt.get(sealed) ?? sealWindow(this.exp.paths.ledger);
    const tampered = [...breakSeal(sealed, this.exp.root), ...this.breakArtifacts(sealed)];
    const ledger = path.relative(this.exp.root, this.exp.paths.ledger);
    return withLedger(this.exp, 'run-experiment', async () => {
      const t = checkLedgerWindow(this.exp, w, this.record.run_id, this.record.candidate?.id ?? null);
      if (!t) {
        dropSeal(this.exp, this.record.run_id);
        return this.verdict(tampered, what);
      }
      if (t === 'rewritten') {
        // Rewritten before the window kept: nothing to put it back from; the run is void (as tamper.ts for the serial loop).
        dropSeal(this.exp, this.record.run_id);
        return this.verdict([...tampered, `${ledger} (rewritten before its last ${SEAL_WINDOW_BYTES >> 20} MB: not put back)`], what);
      }
      crashPoint('guard:ledger-checked');
      // The lines cut are named in the same write (ledger-cut.ts): a candidate whose seal was taken
      // while they stood must not put them back (ledger-tail.ts).
      cutLedger(this.exp, t, this.record.run_id, this.record.segment, what);
      crashPoint('guard:ledger-rewritten');
      dropSeal(this.exp, this.record.run_id);
      // Judged on the state rebuilt without the forged lines (a forged config line must not name the judges).
      return this.verdict([...tampered, ledger], what, new Set([ledger]));
    });
  }
}
