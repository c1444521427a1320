// The integrity checks around one run, in the order they matter:
//   before the benchmark: outside changes made between runs are set aside
//     (reported, never a failure); the in-scope change is captured; what
//     cannot be kept as measured (a submodule, a symlink leaving the
//     repository, an edited .gitignore) makes the run invalid;
//   around every command the code under test runs: the engine's state is
//     sealed (tamper.ts), and afterwards the judges, the engine's state, the
//     in-scope content and the tracked files outside the scope must be as
//     they were; otherwise the run is invalid, with the reason.
import fs from 'node:fs';
import path from 'node:path';
import { event, rescueDir, type Experiment } from './experiment.ts';
import { breakArtifactSeal, sealBestArtifacts, type ArtifactSeal } from './artifacts-seal.ts';
import { changedFingerprints, fingerprintAgainst, MISSING, restoreJudges, sha256File } from './integrity.ts';
import { judgeHash } from './judge-hashes.ts';
import { contentOf, describeDrift, recheck } from './measured.ts';
import { driftWithoutUsers, type Attribution } from './user-files.ts';
import { breakSeal, cutHardLinks, engineDir, seal, type Seal } from './tamper.ts';
import { repoPaths, runDir } from './paths.ts';
import { ignoreRulesProblem, nestedReposReason } from './ignore-rules.ts';
import { recordTaint } from './outside-taint.ts';
import { phaseMark } from './outside-touch.ts';
import { openGitPhase, type GitPhase } from './git-files-journal.ts';
import type { ForgedLoose } from './loose-forged.ts';
import { LooseWindows } from './loose-windows.ts';
import { candidatesInFlight } from './candidates/busy.ts';
import type { RunRecord } from './schema.ts';
import type { OutsideChange, Workspace } from './workspace-base.ts';

export type Phase = 'benchmark' | 'checks';

/** How many judge files are made read-only (each costs a mount); the rest are checked afterwards only. */
export const MAX_BOUND_JUDGES = 32;

const inNodeModules = (p: string) => p.startsWith('node_modules/') || p.includes('/node_modules/');
const isIgnoreFile = (p: string) => p === '.gitignore' || p.endsWith('/.gitignore');
const list = (xs: string[]) => xs.slice(0, 3).join(', ') + (xs.length > 3 ? ` (+${xs.length - 3} more)` : '');

/**
 * What a command of the code under test (a run's, or diagnose's) must not write while it runs in `cwd`
 * (enforced where the machine allows, runners/readonly.ts): the engine's state, the judges (in the
 * guarded tree and in cwd) and the engine's own program; the scratch area and cwd stay writable.
 */
export function protectedPaths(exp: Experiment, tree: string, cwd: string): { readOnly: string[]; writable: string[] } {
  // A bind (a mount process) per file: a --protect glob of thousands is left to the checks afterwards.
  // Only judges that exist take a bind: one judged by its absence (a GNUmakefile, a module a Python judge would
  // import) cannot be bound, and must not push a real one out of the first MAX_BOUND_JUDGES.
  // An installed package a Node judge loads (node-shadows.ts) comes last: a judge with many imports must not push
  // the judges the commands name out either.
  const judges = Object.entries(exp.state.fingerprints?.files ?? {})
    .filter(([, hash]) => hash !== MISSING)
    .map(([f]) => f)
    .sort((a, b) => Number(inNodeModules(a)) - Number(inNodeModules(b)))
    .slice(0, MAX_BOUND_JUDGES);
  // The main tree's judges as well, for a candidate's command.
  const trees = [...new Set([exp.root, tree, cwd])];
  const engine = engineDir();
  // The ignore rules too (git's info/exclude, a .gitignore above the scope; the repository's, recorded when the segment opened).
  const rules = Object.keys(exp.state.fingerprints?.ignore ?? {}).map((f) => path.resolve(exp.root, f));
  fs.mkdirSync(exp.paths.scratch, { recursive: true });
  return {
    readOnly: [repoPaths(exp.root).dir, ...trees.flatMap((t) => judges.map((f) => path.resolve(t, f))), ...rules, ...(engine ? [engine] : [])],
    writable: [exp.paths.scratch, cwd],
  };
}

/** The best's artifacts (artifacts-seal.ts) as each seal found them. */
const artifactSeals = new WeakMap<Seal, ArtifactSeal>();

export class RunGuard {
  /** The owner's attribution journal, when there is one: a new file of the user's is no drift. */
  users: Attribution | null = null;

  constructor(
    protected readonly exp: Experiment,
    protected readonly ws: Workspace,
    protected readonly record: RunRecord,
    /** Artifacts (checkpoints the config names) are the benchmark's output: never an outside change. */
    protected readonly isArtifact: (rel: string) => boolean = () => false,
    /** The tree the judges live in: the repository, or a candidate's worktree. */
    readonly tree: string = exp.root,
  ) {}

  /** Before the first sample; returns why the run is invalid, or null. */
  async before(): Promise<string | null> {
    const { exp, ws, record } = this;
    this.cutJudgeLinks();
    const aside = (await ws.settleOutOfScope()).filter((c) => !this.isArtifact(c.path));
    if (aside.length) {
      const files = aside.map((c) => c.path);
      event(exp, 'outside_change', { files: files.slice(0, 50), count: files.length }, record.run_id);
      record.warnings.push(`set aside (changed outside the scope, not by a run; never committed): ${list(files)}`);
    }
    return this.capture();
  }

  /**
   * A judge with a second name (a hard link made by an earlier command that ran without the read-only
   * setup, or one the user had) gets an inode of its own, same bytes and mode, before the run: the
   * read-only bind covers one name, and a write by the other reached the judge under `readonly` too
   * (test/readonly-judges.test.ts). Before the phase's mark, so the new inode is no outside change.
   */
  private cutJudgeLinks(): void {
    const judges = Object.keys(this.exp.state.fingerprints?.files ?? {});
    const cut = [...new Set([this.exp.root, this.tree])].flatMap((t) => judges.filter((f) => cutHardLinks(path.resolve(t, f))));
    if (cut.length) this.record.warnings.push(`a judge had a second name (a hard link): given an inode of its own: ${list(cut)}`);
  }

  /** The in-scope change captured, and the judges; returns why the change cannot be kept as measured, or null. */
  protected async capture(): Promise<string | null> {
    const { exp, ws, record } = this;
    record.files = await ws.changedInScope();
    record.judges = exp.state.fingerprints ? fingerprintAgainst(this.tree, exp.config, exp.state.fingerprints, this.judgeHash()) : null;
    const cap = await ws.capture(record.files);
    record.content = contentOf(cap.files);
    if (cap.problems.length) return cap.problems[0] as string;
    const ignores = record.files.filter(isIgnoreFile);
    if (ignores.length) return `the change edits ${list(ignores)}: an ignore rule could hide a file the benchmark reads from the keep (edit it outside the loop, then init-experiment)`;
    return null;
  }

  /** Seal the engine's state (and the judges' stat) before a command of the code under test. */
  seal(): Seal {
    this.ws.stale();
    this.markPhase();
    return this.sealArtifacts(seal(this.exp.paths, this.exp.root, this.judgeFiles()));
  }

  /** The best's artifact copies and their record, sealed beside `s` (only where the config names artifacts). */
  protected sealArtifacts(s: Seal): Seal {
    const a = this.exp.config.artifacts.length ? sealBestArtifacts(this.exp.paths, this.exp.state.best_run) : null;
    if (a) artifactSeals.set(s, a);
    return s;
  }

  /** What the command changed of the best's artifacts: the record put back, a forged copy moved aside. */
  protected breakArtifacts(s: Seal): string[] {
    return breakArtifactSeal(artifactSeals.get(s) ?? null, this.exp.root, rescueDir(this.exp, `${this.record.run_id}-best-artifacts`));
  }

  /** The filesystem's time before the phase's first command (outside-touch.ts), until afterPhase. */
  private mark: bigint | null = null;

  /** Git's index and config as the phase found them (git-files-guard.ts; on disk, git-files-journal.ts), until afterPhase. */
  private gitFiles: GitPhase | null | undefined;

  protected markPhase(): void {
    this.mark ??= phaseMark(runDir(this.exp.paths, this.record.run_id).dir);
    if (this.gitFiles === undefined) {
      // The measured blobs stay loose if the phase packs (loose-pack.ts): the keep reads them in-process.
      const measured = Object.values(this.record.content?.files ?? {}).flatMap((f) => (f ? [f.id] : []));
      this.gitFiles = openGitPhase(this.exp.root, this.tree, this.tree === this.exp.root ? `autoloop/${this.exp.paths.slug}` : null, measured);
    }
    this.loose.commandStarts();
  }

  /** When this run's commands could write git's store (loose-blame.ts): who a forged loose object voids. */
  private looseOf: LooseWindows | null = null;
  protected get loose(): LooseWindows {
    return (this.looseOf ??= new LooseWindows(this.exp, this.record.run_id, this.record.candidate !== null));
  }

  /** After a command: under which containment it ran (in `group` a process may outlive it). */
  commandEnded(containment: string | undefined): void {
    this.loose.commandEnds(containment);
  }

  /**
   * What the code under test must not write while a command runs in `cwd`
   * (enforced where the machine allows, runners/readonly.ts): the engine's
   * state, the judges (in the guarded tree and in cwd) and the engine's own
   * program; the scratch area and the tree the command runs in stay writable.
   */
  protect(cwd: string): { readOnly: string[]; writable: string[] } {
    return protectedPaths(this.exp, this.tree, cwd);
  }

  /**
   * How the judges are hashed after each command: again only when a file changed, for the local
   * runner; every time for a cluster's (judge-hashes.ts: a stat over NFS may be stale).
   */
  protected judgeHash(): (abs: string) => string | null {
    return (this.exp.config.runner ?? 'local') === 'local' ? judgeHash : sha256File;
  }

  protected judgeFiles(): string[] {
    return Object.keys(this.exp.state.fingerprints?.files ?? {}).map((f) => path.join(this.tree, f));
  }

  /** After each command of the code under test (cheap: files read, no git); returns why the run is invalid, or null. */
  async afterCommand(sealed: Seal, what: Phase): Promise<string | null> {
    return this.verdict([...breakSeal(sealed, this.exp.root), ...this.breakArtifacts(sealed)], what);
  }

  /** The judges checked in the tree; the tamper recorded; returns why the run is invalid, or null. */
  protected verdict(tampered: string[], what: Phase, noted: ReadonlySet<string> = new Set()): string | null {
    const { exp, record } = this;
    const prints = exp.state.fingerprints;
    const judges = prints ? changedFingerprints(prints, fingerprintAgainst(this.tree, exp.config, prints, this.judgeHash())) : [];
    // A candidate's command can reach the main tree's judges too (no run of the main tree is in flight meanwhile): put back at once.
    if (prints && this.tree !== exp.root) judges.push(...restoreJudges(exp.root, exp.paths.judges, Object.keys(prints.files)));
    if (!tampered.length && !judges.length) return null;
    const files = [...new Set([...tampered, ...judges])];
    // `noted`: files whose tamper the caller recorded already (a candidate's guard, with the ledger's rewrite).
    if (files.some((f) => !noted.has(f))) event(exp, 'tamper', { during: what, files }, record.run_id);
    // A judge whose bytes are the same may have changed its mode (chmod): its stat is sealed too.
    const touched = [...new Set([...judges, ...tampered.filter((f) => prints && f in prints.files)])];
    if (touched.length) return `the judge changed while the ${what} ran: ${list(touched)} (logging restores it)`;
    // A name with its own note (what was done with it) needs no "put back".
    return `the engine's state changed while the ${what} ran: ${list(tampered)}${tampered.every((t) => t.endsWith(')')) ? '' : ' (put back)'}`;
  }

  /** An event of this run appended to the ledger (a candidate's guard: under the ledger lock, which every other append to the shared ledger holds). */
  protected async note(name: 'tamper', data: Record<string, unknown>): Promise<void> {
    event(this.exp, name, data, this.record.run_id);
  }

  /**
   * Git's files as the phase left them, settled (git-files-journal.ts). A forged loose object is this
   * run's only when its windows held its ctime, whoever found it (loose-blame.ts): `forged` leaves out
   * the ones this run's check found for another run, `blamed` adds other runs' findings that name it.
   */
  private async settleGit(): Promise<{ unreadable: string[]; forged: string[]; blamed: ReturnType<LooseWindows['blamed']> }> {
    const kept = this.gitFiles;
    this.gitFiles = undefined;
    const found: ForgedLoose[] = [];
    // No packing while a candidate's call is in flight (this run's own included): its phase may have
    // written a loose object this scan took as untouched, and a pack holding a forged object would be
    // set aside whole by that candidate's check, the sound objects in it with it (loose-pack.ts).
    const mayPack = (): boolean => candidatesInFlight(this.exp.root).length === 0;
    const git = kept ? await kept.settle((f) => found.push(...this.loose.found(f)), mayPack) : { unreadable: [], forged: [] };
    const theirs = new Set(found.filter((f) => !this.loose.mine(f.id)).map((f) => f.path));
    if (theirs.size) this.record.warnings.push(`set aside loose objects of git's store that another run's command rewrote: ${list([...theirs])} (none of this run's commands ran when they were written)`);
    return { unreadable: git.unreadable, forged: git.forged.filter((p) => !theirs.has(p)), blamed: this.loose.blamed() };
  }

  /** After all the samples, and after the checks: the in-scope content and the tracked files outside the scope. */
  async afterPhase(what: Phase): Promise<string | null> {
    const { ws, record } = this;
    // Before any git command: one that git could no longer read would fail every call after this one.
    const { unreadable, forged, blamed } = await this.settleGit();
    const damaged = forged.length
      ? `the ${what} planted objects in git's store that are not what their ids say, or a store or history of its own: ${list(forged)} (set aside)`
      : blamed.length ? `git's store holds loose objects rewritten while a command of this run ran, which another run's check found and set aside: ${list(blamed.map((f) => `${f.path} (${f.suspects.length > 1 ? `it cannot be told which of ${f.suspects.join(', ')}` : `found by ${f.found_by}`})`))}`
      : unreadable.length ? `the ${what} left git's ${list(unreadable)} unreadable or redirected (put back as it was before)` : null;
    if (damaged) await this.note('tamper', { during: what, files: [...unreadable, ...forged, ...blamed.map((f) => f.path)] });
    // First: every later read of the tree asserts the branch (a throw would leave the run unrecorded, the change in place).
    const moved = ws.reattach ? await ws.reattach() : null;
    if (moved) return `the ${what} moved HEAD off the experiment branch (to ${moved}); put back`;
    // A .gitignore the phase wrote that git ignores (a test tool's cache) is the benchmark's output: the next run accepts it.
    // Listed beside the status that follows (both only read the tree the phase left).
    const hidden = record.hidden_ignores && ws.hiddenIgnores ? ws.hiddenIgnores() : undefined;
    hidden?.catch(() => undefined);
    const settled = (await ws.settleOutOfScope()).filter((c: OutsideChange) => c.kind === 'modified' && !this.isArtifact(c.path)).map((c) => c.path);
    const judged = this.exp.state.fingerprints?.files ?? {};
    // Written during the phase though status shows nothing (outside-touch.ts): put back (a forged scorer
    // that restores itself), or an edit an index flag hides, which counts as any other change.
    const mark = this.mark;
    this.mark = null;
    const touched = mark !== null && ws.touchedOutside ? await ws.touchedOutside(mark) : { restored: [], hidden: [] };
    const unseen = (p: string) => !settled.includes(p) && !(p in judged) && !this.isArtifact(p);
    const during = [...settled, ...touched.hidden.filter(unseen)];
    const putBack = touched.restored.filter(unseen);
    // Left as they are, they would judge every later run: none is measured until they are put back (outside-taint.ts).
    // The judges among them are checked at every run and put back by the log: not tainted.
    const tainted = during.filter((p) => !(p in judged));
    if (tainted.length && this.tree === this.exp.root) recordTaint(this.exp.paths, this.exp.root, this.exp.state.segment, record.run_id, tainted);
    if (hidden && record.hidden_ignores) record.hidden_ignores = { ...record.hidden_ignores, ...(await hidden) };
    const drift = record.content ? await driftWithoutUsers(ws, this.users, (await recheck(ws, record.content)).drift, record.content) : [];
    if (drift.length) return describeDrift(drift, `while the ${what} ran`);
    const rules = ignoreRulesProblem(this.exp.root, this.exp.state.fingerprints?.ignore, `while the ${what} ran`);
    if (rules) return rules;
    const nested = (await ws.nestedRepos?.()) ?? [];
    if (nested.length) return `${nestedReposReason(nested)} (it appeared while the ${what} ran)`;
    if (during.length) return `the ${what} changed files outside the scope: ${list(during)} (it may only create new or ignored files there)`;
    if (putBack.length) return `the ${what} rewrote files outside the scope, then put their bytes back: ${list(putBack)} (it may only create new or ignored files there; a file it regenerates as it was: name it in --artifacts, or stop tracking it)`;
    return damaged;
  }
}
