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
import fs from 'node:fs';
import path from 'node:path';
import { event, eventLine, openExperiment, publishActive, currentTermination, readRunRecord, rescueDir } from '../experiment.ts';
import type { Experiment } from '../experiment-data.ts';
import { RunGuard, type Phase } from '../run-guard.ts';
import { breakSeal, seal, statefulFiles, type Seal } from '../tamper.ts';
import { writeFileAtomic } from '../fsx.ts';
import { repoPaths } from '../paths.ts';
import { checkpointFile } from '../state-cache.ts';
import type { LedgerLine, RunRecord } from '../schema.ts';
import { ledgerLineText } from '../ledger.ts';
import { crashPoint } from '../faults.ts';
import type { Workspace } from '../workspace-base.ts';
import { checkTail, lineId, REMOVED_NAMED, type TailCheck } from './ledger-tail.ts';
import { withLedger } from './ledger.ts';
import { readCandidate } from './store.ts';
import { MainTreeWatch } from './main-watch.ts';

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The ledger's text when each seal was taken. */
const ledgerAt = new WeakMap<Seal, string>();

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
    const s = seal(this.exp.paths, this.exp.root, this.judgeFiles(), this.sealedFiles());
    ledgerAt.set(s, readText(this.exp.paths.ledger));
    return s;
  }

  override async afterCommand(sealed: Seal, what: Phase): Promise<string | null> {
    const ledgerBefore = ledgerAt.get(sealed) ?? readText(this.exp.paths.ledger);
    const tampered = breakSeal(sealed, this.exp.root);
    return withLedger(this.exp, 'run-experiment', async () => {
      const t = this.checkLedger(ledgerBefore);
      if (!t) return this.verdict(tampered, what);
      const ledger = path.relative(this.exp.root, this.exp.paths.ledger);
      crashPoint('guard:ledger-checked');
      // The lines taken out, named: a candidate whose seal was taken while they stood must not put them back
      // (ledger-tail.ts). Named in the very write that takes them out: a kill never leaves one without the other.
      const note = eventLine(this.exp, 'tamper', { during: what, files: [ledger], ledger_removed: t.removed.slice(0, REMOVED_NAMED).map(lineId) }, this.record.run_id);
      // Its run's segment: the state folded the forged lines (one may open a segment).
      this.rewriteLedger(t.text, { ...note, segment: this.record.segment });
      crashPoint('guard:ledger-rewritten');
      // Judged on the state rebuilt without the forged lines (a forged config line must not name the judges).
      return this.verdict([...tampered, ledger], what, new Set([ledger]));
    });
  }

  /** The ledger as it must be when lines no engine process accounts for were appended; null: it is as it must be. */
  private checkLedger(before: string): TailCheck | null {
    const { exp } = this;
    const now = readText(exp.paths.ledger);
    const record = (id: string) => readRunRecord(exp, id);
    const t = checkTail(before, now, this.record.run_id, record, { record, candidate: (id) => readCandidate(exp.paths, id), own: this.record.candidate?.id ?? null });
    return t.forged ? t : null;
  }

  /** The ledger rewritten as it must be, with the note of what was taken out, in one atomic write; the state rebuilt. */
  private rewriteLedger(text: string, note: LedgerLine): void {
    const { exp } = this;
    // The caches folded the forged lines: gone first (a kill after the write must not leave them), rebuilt from the ledger.
    fs.rmSync(exp.paths.state, { force: true });
    fs.rmSync(checkpointFile(exp.paths), { force: true });
    const body = text === '' || text.endsWith('\n') ? text : `${text}\n`;
    writeFileAtomic(exp.paths.ledger, `${body}${ledgerLineText(note)}\n`, { durable: true });
    Object.assign(exp, openExperiment(exp.root, exp.paths.slug));
    publishActive(exp, currentTermination(exp));
  }
}
