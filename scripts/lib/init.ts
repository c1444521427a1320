// Opening a segment: the shared core of init-experiment and chain.
import fs from 'node:fs';
import path from 'node:path';
import { yaml } from './yaml.ts';
import type { Config } from './schema.ts';
import { saveConfig } from './config.ts';
import { experimentPaths, rel, repoPaths, runId, type ExperimentPaths } from './paths.ts';
import { append, currentTermination, event, loggingFirst, measuredNotLogged, openExperiment, publishActive, refresh, type Experiment } from './experiment.ts';
import { emptyState } from './reduce.ts';
import { acquireRepoLock } from './lock.ts';
import { assertNoCandidateInFlight } from './candidates/busy.ts';
import { cutForKilledGuards } from './candidates/ledger.ts';
import { recoverGitFiles } from './git-files-journal.ts';
import { finishInit, keepForUndo, markInit, recoverInit, stagedPaths } from './init-journal.ts';
import { recordEnv } from './bench-env.ts';
import { crashPoint } from './faults.ts';
import { openWorkspace, type Workspace } from './workspace.ts';
import { evaluationInScope, fingerprint, resolveJudges, saveJudges, sweepJudgeCopies } from './integrity.ts';
import { sourceMetrics } from './sources/index.ts';
import { ensureScratch } from './analysis.ts';
import { InScopeChangesError, RefusalError, UsageError } from './errors.ts';
import { firstLine, pinExcludesFile } from './gitcmd.ts';
import { trackedFiles, type TrackedFiles } from './tracked-files.ts';
import { nowIso } from './ledger.ts';
import { writeFileAtomic } from './fsx.ts';
import { compileScope } from './scope.ts';
import { gradersInScope } from './scope-check.ts';
import { excludeFiles, excludesFileOf, gitignoresAbove, ignoreRulesOf, type IgnoreRules } from './ignore-rules.ts';

export interface InitOptions {
  reason?: string;
  notes?: string;
  /** The work tree's top as the caller just found it with git (root itself), or undefined: openWorkspace asks. */
  top?: string;
  /** The tracked paths the caller already listed (before anything here changes the index). */
  tracked?: TrackedFiles;
  /** The benchmark's environment to record (a chain's parent's), instead of the caller's. */
  env?: Record<string, string>;
}

export interface InitResult {
  experiment: string;
  segment: number;
  mode: 'git' | 'snapshot';
  base: string;
  branch: string | null;
  protect: string[];
  /** Files the commands name that are in the scope: mutable entry points. */
  mutable: string[];
  scope: string[];
  config: string;
  /** Things the user should know before the first run (evaluation code in the scope). */
  warnings: string[];
}

/** Every metric the decision reads must come from a configured source. */
export function assertMetricsSourced(config: Config): void {
  // A later source replaces an earlier one's values (sources/index.ts): a metric the decision reads
  // that two named sources give would read only the last (junit and coverage take a prefix: field).
  const decided = new Set([config.metric, ...config.guardrails.map((g) => g.metric)]);
  const seen = new Set<string>();
  for (const spec of config.sources ?? []) {
    const names = sourceMetrics([spec]);
    if (names === 'any') continue;
    for (const m of names.filter((n) => decided.has(n))) {
      if (seen.has(m)) throw new UsageError(`metric ${m} comes from two sources: only the last would count; keep one --source for it (or give one a prefix)`);
      seen.add(m);
    }
  }
  const have = sourceMetrics(config.sources);
  if (have === 'any') return;
  for (const m of [config.metric, ...config.guardrails.map((g) => g.metric)]) {
    if (!have.includes(m)) {
      throw new UsageError(`metric ${m} comes from no configured source (they give: ${have.join(', ')}); add --source for it (metric-lines reads METRIC lines)`);
    }
  }
}

export const NOTES_BODY = `
## Goal
{goal}

## Rules
- The engine decides keep or revert; log every run.
- Never edit the benchmark, the checks or anything under .autoloop/ except this file and ideas.md.
- One change per iteration, stated as a hypothesis before the run.

## What was tried

## Dead ends

## Key wins
`;

/** The ignore rules a keep cannot show, as the segment opens (ignore-rules.ts). */
function segmentIgnoreRules(root: string, config: Config, excludes: string): IgnoreRules {
  const bases = compileScope(config.scope, config.protect).bases;
  return ignoreRulesOf(root, [...gitignoresAbove(bases), ...excludeFiles(root, excludes)]);
}

/**
 * Before anything changes: no candidate's call in flight (its guard would put the old config and
 * judges back under this init, candidates/busy.ts); then what killed calls left: a phase's git
 * files (git-files-journal.ts; before any git command), then an init half-done.
 */
async function beforeChanges(root: string, paths: ExperimentPaths): Promise<void> {
  assertNoCandidateInFlight(root, 'init-experiment');
  // Before its config line: a later late cut would take it for forged.
  for (const l of cutForKilledGuards(root)) process.stderr.write(`reconciled: ${l}\n`);
  fs.mkdirSync(paths.dir, { recursive: true });
  for (const l of await recoverGitFiles(root)) process.stderr.write(`reconciled: ${l}\n`);
  recoverInit(paths);
}

/**
 * A keep killed after its commit landed and before its `committed` event: the event is written now,
 * before the config line, which ends the keep as pending for good (no later call would record it, and
 * its commit would read as the branch moved by hand). One not landed is left to the loop (begin refuses
 * its change in the tree). Returns the workspace it was given.
 */
async function recordLandedKeep(exp: Experiment, ws: Workspace): Promise<Workspace> {
  const p = exp.state.pending;
  const commit = p?.action === 'commit' ? await ws.findKeep(p.run_id) : null;
  if (p && commit) event(exp, 'committed', { commit, reconciled: true }, p.run_id);
  return ws;
}

/**
 * Write the config, open a new segment (fingerprinting the judges), create the
 * notes and backlog if missing, and make this the active experiment.
 */
export async function initExperiment(root: string, config: Config, opts: InitOptions = {}): Promise<InitResult> {
  assertMetricsSourced(config);
  const tracked = opts.tracked ?? trackedFiles(root);
  const slug = config.name;
  const paths = experimentPaths(root, slug);
  // Hold the repository's lock before anything changes: a run in flight (of any experiment) must not see a new
  // config or a branch switched under it. A refused first init leaves no .autoloop/ behind (the hooks take a project with one for an autoloop project).
  const hadState = fs.existsSync(repoPaths(root).dir);
  const lock = acquireRepoLock(paths.lock, 'init-experiment');
  const fresh = !fs.existsSync(paths.ledger);
  let opened = false;
  let ws: Workspace | null = null;
  // `committed`: the config line reached the ledger. `undo`, set just before a re-init's config line, takes it back.
  let committed = false;
  let undo: (() => void) | null = null;
  /** What this init created in an existing experiment's folder (a failure removes it). */
  const made: string[] = [];
  try {
    await beforeChanges(root, paths);
    const exp = fs.existsSync(paths.config) ? openExperiment(root, slug) : freshExperiment(root, paths, config);
    if (lock.tookOver) event(exp, 'lock_takeover', { pid: lock.tookOver.pid });
    ws = await recordLandedKeep(exp, await openWorkspace(root, paths, config, opts.top));
    const base = await begin(ws, exp, fresh, tracked);
    const { protect, mutable } = resolveJudges(root, config, untrackedIn(ws.mode, config.artifacts.length > 0 || (config.sources ?? []).some((x) => 'dir' in x), tracked));
    const segment = exp.state.segment + 1;
    // Everything new is staged beside the current files; the config line is the commit point.
    saveJudges(root, paths.judges, protect, { staged: true });
    crashPoint('init:after-judges');
    saveConfig(stagedPaths(paths).config, config);
    recordEnv(paths, segment, opts.env ?? process.env, stagedPaths(paths).env);
    createAids(paths, config, opts.notes, runId(Math.max(1, exp.state.next_run)), made);
    markInit(paths, segment);
    crashPoint('init:before-ledger');
    if (!fresh) undo = keepForUndo(paths, [repoPaths(root).active]);
    // The user's excludes file as it is now, for this segment's git commands from here on (gitcmd.ts).
    const excludes = ws.mode === 'git' ? excludesFileOf(root) : null;
    if (excludes !== null) pinExcludesFile(excludes);
    append(exp, {
      type: 'config',
      ts: nowIso(),
      segment,
      config,
      fingerprints: { ...fingerprint(root, config, protect), ...(excludes !== null ? { ignore: segmentIgnoreRules(root, config, excludes), excludes } : {}), ...(ws.hiddenIgnores ? { hidden: await ws.hiddenIgnores() } : {}) },
      base,
      reason: opts.reason ?? (segment === 1 ? 'init' : 'new segment'),
    });
    committed = true;
    crashPoint('init:after-ledger');
    finishInit(paths, { keepOldJudges: true }); // the previous judges' copies stay for `undo` until the sweep
    exp.config = config;
    publishActive(exp, currentTermination(exp), { protect });
    opened = true;
    sweepJudgeCopies(paths.judges);
    return {
      experiment: slug,
      segment,
      mode: ws.mode,
      base,
      branch: ws.mode === 'git' ? `autoloop/${slug}` : null,
      protect,
      mutable,
      scope: config.scope,
      config: rel(root, paths.config),
      warnings: [...evaluationWarnings(config, mutable, tracked), ...untrackedJudgeWarnings(config, protect.filter((f) => fs.existsSync(path.join(root, f))), ws.mode, tracked)],
    };
  } catch (e) {
    // A new segment whose config line is in the ledger and could not be taken back is open (like a kill -9 there).
    if (segmentOpened(paths, committed, undo) && !fresh) throw e;
    // A new experiment that did not open leaves nothing whose name would then be taken.
    if (fresh) fs.rmSync(paths.dir, { recursive: true, force: true });
    else for (const p of made.reverse()) rmQuiet(p);
    await undoSwitch(ws, e);
    throw e;
  } finally {
    lock.release();
    if (!opened && !hadState) removeEmptyDirs([repoPaths(root).experiments, repoPaths(root).dir]);
  }
}

/**
 * After a failed init: whether its segment is open all the same. A re-init's config line is cut off and
 * every file put back (`undo`), so the previous segment stands; only when that fails, or after a kill -9,
 * does the line open the segment. Whatever is still staged is rolled back, or completed past the config
 * line (which a failure inside append may have written too).
 */
function segmentOpened(paths: ExperimentPaths, committed: boolean, undo: (() => void) | null): boolean {
  let open = committed;
  if (undo) {
    try {
      undo();
      open = false;
    } catch {
      // Left as a kill would leave it: completed just below.
    }
  }
  if (fs.existsSync(paths.dir) && recoverInit(paths)?.startsWith('completed')) open = true;
  return open;
}

/** The workspace begun (its base); the tracked paths listed again when it checked out another commit. */
async function begin(ws: Workspace, exp: Experiment, fresh: boolean, tracked: TrackedFiles): Promise<string> {
  const { base, moved } = await ws.begin().catch((e: unknown) => {
    throw e instanceof InScopeChangesError && !fresh ? loopsChange(exp, e) : e;
  });
  if (moved) tracked.forget(); // another commit's index lists other files
  return base;
}

/** In-scope changes in the way of a new segment are likely the loop's own: logged (or measured and logged), not stashed. */
function loopsChange(exp: Experiment, e: InScopeChangesError): UsageError {
  const rec = measuredNotLogged(exp);
  if (rec) return new UsageError(`uncommitted changes to tracked files in scope: ${e.names}; ${loggingFirst(rec)}, then init-experiment again`);
  return new UsageError(`${e.message} (the loop's own change: measure and log it first, run-experiment --description "<the change>")`);
}

/** The checkout back where the init found it; a failure to get there is named with the one that caused it. */
async function undoSwitch(ws: Workspace | null, cause: unknown): Promise<void> {
  try {
    await ws?.undoBegin?.();
  } catch (u) {
    throw new RefusalError(`${firstLine((cause as Error).message)}; putting the checkout back where init-experiment found it failed too: ${firstLine((u as Error).message)}`);
  }
}

/**
 * notes.md, ideas.md and the scratch area, where missing; made before the
 * commit point so that a failure making them is rolled back with the rest.
 * Adds to `made` what it is about to create, parents before children.
 */
function createAids(paths: ExperimentPaths, config: Config, notes: string | undefined, run: string, made: string[]): void {
  const create = (file: string, write: () => void) => {
    if (fs.existsSync(file)) return;
    made.push(file);
    write();
  };
  create(paths.notes, () => {
    const body = (notes ?? NOTES_BODY).replace('{goal}', config.goal || '(state the goal here)');
    writeFileAtomic(paths.notes, withFrontmatter(body, { experiment: config.name, metric: config.metric, direction: config.direction, created: nowIso() }));
  });
  create(paths.ideas, () => writeFileAtomic(paths.ideas, '# Ideas backlog\n\nOne idea per line, best first. Strike through what was tried.\n\n'));
  const runDir = path.join(paths.scratch, run);
  for (const p of [paths.scratch, runDir, path.join(paths.scratch, 'PLAN-TEMPLATE.md')]) if (!fs.existsSync(p)) made.push(p);
  ensureScratch(paths, run);
}

function rmQuiet(p: string): void {
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch {
    // never made (something else stood in its way): nothing of ours to remove
  }
}

/** Each directory in turn, if empty (one that is not stays, as does everything in it). */
function removeEmptyDirs(dirs: readonly string[]): void {
  for (const d of dirs) {
    try {
      fs.rmdirSync(d);
    } catch {
      return; // not empty, or gone: leave the rest
    }
  }
}

/** A new experiment, before its config.yaml exists (it is written at the commit point). */
function freshExperiment(root: string, paths: ReturnType<typeof experimentPaths>, config: Config): Experiment {
  const exp: Experiment = { root, paths, config, state: emptyState(), warnings: [] };
  refresh(exp);
  return exp;
}

/** notes.md opens with a YAML header naming its experiment (for people and grep; the engine never reads it back). */
function withFrontmatter(body: string, data: Record<string, string>): string {
  // YAML 1.1 quotes what an older reader would take for a boolean or a date.
  const head = yaml().stringify(data, { schema: 'yaml-1.1' });
  return `---\n${head}---\n${body.endsWith('\n') ? body : body + '\n'}`;
}

/** Is a file one git does not track? (An artifact or a file under a TensorBoard directory the commands name is their output only then.) Snapshot mode: all are. */
function untrackedIn(mode: string, needed: boolean, tracked: TrackedFiles): (rel: string) => boolean {
  if (!needed) return () => false;
  if (mode !== 'git') return () => true;
  // Cannot tell (null): a judge left out is worse than one too many.
  return (rel) => tracked.has(rel) === false;
}

/** The commands' own files in the scope, and the grading code they import that the scope takes in: one warning naming them. */
function evaluationWarnings(config: Config, mutable: readonly string[], tracked: TrackedFiles): string[] {
  const found = evaluationInScope([...new Set([...mutable, ...gradersInScope(config, tracked)])]);
  if (!found.length) return [];
  const one = found.length === 1;
  return [`${found.join(', ')} look${one ? 's' : ''} like evaluation code and ${one ? 'is' : 'are'} in the scope: the loop could change how it is graded; narrow --scope or --protect ${one ? 'it' : 'them'}`];
}

/**
 * Judges the commands name that git does not track: data a benchmark reads, or
 * an output a trial run left (`--out out/answers.txt`), which the benchmark
 * would fail to write (read-only) or change (invalid) at every run. The engine
 * cannot tell which: one warning, with the way out for an output. A judge that is
 * absent (a GNUmakefile make would read first, an .npmrc) is judged by its absence: no warning.
 */
function untrackedJudgeWarnings(config: Config, protect: readonly string[], mode: string, tracked: TrackedFiles): string[] {
  const byProtect = config.protect.length ? compileScope(config.protect, []) : null;
  const untracked = untrackedIn(mode, mode === 'git', tracked);
  // A benchmark under .autoloop/ (where setup writes it) is never tracked, and is surely input.
  const found = protect.filter((f) => !f.startsWith('.autoloop/') && !byProtect?.inScope(f) && untracked(f));
  if (!found.length) return [];
  const names = found.slice(0, 5).join(', ') + (found.length > 5 ? ` (+${found.length - 5} more)` : '');
  const one = found.length === 1;
  return [`${names}: named by the commands and not tracked by git, so judged as their input (read-only while they run): if the benchmark writes ${one ? 'it' : 'one'}, remove it and run init-experiment again (or read it with --source, or declare it with --artifacts)`];
}
