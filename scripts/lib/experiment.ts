// Opening an experiment for one engine call: find the repository root and the
// active experiment, load the live config and the derived state (incrementally
// from the state cache), take the lock, reconcile what a killed call left
// half-done, and publish active.json for the hooks.
import fs from 'node:fs';
import path from 'node:path';
import { ActiveFile, RunRecord, type EventName, type LedgerLine } from './schema.ts';
import { experimentPaths, repoPaths, runDir, runId } from './paths.ts';
import { loadConfig } from './config.ts';
import { appendLedger, appendLedgerLater, nowIso, readLedger } from './ledger.ts';
import { readJsonOrNull, writeJsonAtomic, writeJsonCache } from './fsx.ts';
import { RefusalError, UsageError } from './errors.ts';
import { emptyState, foldLines, loopState, termination, type Termination } from './reduce.ts';
import { loadStateCache, saveStateCache } from './state-cache.ts';
import { acquireRepoLock, BRIEF_OWNER } from './lock.ts';
import { recoverInit } from './init-journal.ts';
import { recoverChain } from './chain-journal.ts';
import { sweepTemps } from './fsx.ts';
import type { Reverted, Workspace } from './workspace-base.ts';
import { pruneRescued } from './rescue-retention.ts';
import type { Experiment } from './experiment-data.ts';
import { activeSummary, segmentMissing } from './summary.ts';
import { chainUsedUp, followUpAllowed } from './chain.ts';
import { gitSyncOrNull, pinExcludesFile } from './gitcmd.ts';
import { restoreBestArtifacts } from './artifacts.ts';
import { openCandidates } from './candidates/store.ts';
import { nextActionOrChain } from './next-action.ts';
import { sanitize } from './sanitize.ts';
import { slurmJobs } from './runners/slurm-name.ts';
import { readUnclean, uncleanRuns } from './unclean.ts';
import { recoverGitFiles } from './git-files-journal.ts';

/** The nearest ancestor holding .autoloop/, else the git top level, else the directory itself. */
export function findRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, '.autoloop', 'experiments'))) return d;
    if (path.dirname(d) === d) break;
  }
  return gitTopLevel(dir) ?? dir;
}

export function gitTopLevel(dir: string): string | null {
  const out = gitSyncOrNull(dir, ['rev-parse', '--show-toplevel']);
  return out === null ? null : path.resolve(out.trim());
}

export function readActive(root: string): ActiveFile | null {
  const raw = readJsonOrNull(repoPaths(root).active);
  const r = ActiveFile.safeParse(raw);
  return r.success ? r.data : null;
}

export function listExperiments(root: string): string[] {
  try {
    return fs
      .readdirSync(repoPaths(root).experiments, { withFileTypes: true })
      .filter((d) => d.isDirectory() && fs.existsSync(path.join(repoPaths(root).experiments, d.name, 'config.yaml')))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

/** --experiment, else the active one, else the only one. */
export function resolveSlug(root: string, flag?: string, name = '--experiment'): string {
  // An empty value (`--experiment "$EXP"` with EXP unset) names no experiment: never the active one in its stead.
  if (flag === '') throw new UsageError(`${name} is empty: name an experiment, or leave ${name} out for the active one`);
  if (flag) {
    if (!listExperiments(root).includes(flag)) throw new UsageError(`no experiment named "${flag}" in ${root}`);
    return flag;
  }
  const active = readActive(root);
  if (active && listExperiments(root).includes(active.experiment)) return active.experiment;
  const all = listExperiments(root);
  if (all.length === 1 && all[0]) return all[0];
  if (all.length === 0) {
    // A first init killed before its config moved into place: only init-experiment finishes it.
    const cut = halfInitialised(root);
    if (cut) throw new UsageError(`init-experiment of "${cut}" was cut off before it finished: run it again (it completes or rolls back what was left)`);
    throw new UsageError(`no autoloop experiment in ${root}: run init-experiment first`);
  }
  throw new UsageError(`several experiments and none active: pass --experiment (${all.join(', ')})`);
}

/** An experiment folder whose first init-experiment was cut off (staged config, none in place), or null. */
function halfInitialised(root: string): string | null {
  try {
    const dir = repoPaths(root).experiments;
    const staged = ['config.yaml.next', 'init.next.json', path.join('judges', 'manifest.next.json')];
    return fs.readdirSync(dir).find((d) => !fs.existsSync(path.join(dir, d, 'config.yaml')) && staged.some((f) => fs.existsSync(path.join(dir, d, f)))) ?? null;
  } catch {
    return null;
  }
}

export type { Experiment } from './experiment-data.ts';


/**
 * `shown`: the state is shown and never folded further (report): a cache
 * that covers the whole ledger is read without its primaries' values (see
 * loadStateCache), else the state is read and brought up to date as usual.
 */
export function openExperiment(root: string, slug: string, opts: { shown?: boolean } = {}): Experiment {
  const paths = experimentPaths(root, slug);
  if (!fs.existsSync(paths.config)) throw new UsageError(`experiment "${slug}" has no config.yaml`);
  const config = loadConfig(paths.config);
  const exp: Experiment = { root, paths, config, state: emptyState(), warnings: [] };
  let size = 0;
  try {
    const st = fs.lstatSync(paths.ledger);
    // Refused before anything starts: the first append would refuse anyway (appendLineDurable), half-way through a call.
    if (st.isSymbolicLink()) throw new RefusalError(`${path.relative(root, paths.ledger)} is a symbolic link: the engine appends only to the file itself (put the file in the link's place)`);
    size = st.size;
  } catch (e) {
    if (e instanceof RefusalError) throw e;
    size = 0;
  }
  const shown = opts.shown ? loadStateCache(paths, { values: false }) : null;
  const cached = shown && shown.ledger_offset === size ? shown : loadStateCache(paths);
  if (cached && cached.ledger_offset <= size) exp.state = cached;
  refresh(exp);
  // The segment's excludes file for every git command from here on (gitcmd.ts); an older segment: git's own choice.
  pinExcludesFile(exp.state.fingerprints?.excludes ?? null);
  return exp;
}

/**
 * Run and log measure against a segment; a ledger without a readable config
 * line (emptied, or its first line damaged) opens none, and a run there would
 * fail on its own record instead of saying why. status, report and the
 * dashboard say so too, rather than describe a "segment 0" that never was.
 */
export function requireSegment(exp: Pick<Experiment, 'root' | 'paths' | 'state'>): void {
  const missing = segmentMissing(exp);
  if (missing) throw new UsageError(missing);
}

/** Experiments whose state cache is written once, when their lock is released, rather than on every append. */
const deferred = new WeakMap<Experiment, { dirty: boolean }>();

/** Fold whatever was appended to the ledger since the state was cached. */
/** The ledger file (device:inode) each experiment's state was folded from. */
const foldedFrom = new WeakMap<Experiment, string | null>();

function ledgerFileId(file: string): string | null {
  try {
    const st = fs.statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

export function refresh(exp: Experiment): void {
  // A ledger replaced since this state was folded (a candidate's guard took forged lines out of it): the
  // state folded them, and its offset points into the old file; folded again, from a cache of the new one.
  const id = ledgerFileId(exp.paths.ledger);
  const was = foldedFrom.get(exp);
  foldedFrom.set(exp, id);
  if (was !== undefined && was !== id) {
    const cached = loadStateCache(exp.paths);
    const size = fs.statSync(exp.paths.ledger, { throwIfNoEntry: false })?.size ?? 0;
    exp.state = cached && cached.ledger_offset <= size ? cached : emptyState();
  }
  const read = readLedger(exp.paths.ledger, exp.state.ledger_offset);
  const known = exp.state.skipped_lines ?? null;
  // Lines skipped by an earlier call are said again (the cache holds the runs without them), before this read's own.
  const said = known && `ledger: ${known.count} unreadable line(s) skipped (the first at byte ${known.first_at}): the runs they held are not counted`;
  if (said && !exp.warnings.includes(said)) exp.warnings.push(said);
  exp.warnings.push(...read.warnings);
  if (read.lines.length || read.end !== exp.state.ledger_offset) {
    exp.state = foldLines(exp.state, read.lines, exp.config);
    exp.state.ledger_offset = read.end;
    if (read.skipped) exp.state.skipped_lines = { count: (known?.count ?? 0) + read.skipped, first_at: known?.first_at ?? (read.firstSkipped as number) };
    const d = deferred.get(exp);
    if (d) d.dirty = true;
    else saveCacheIfFree(exp);
  }
}

/**
 * Outside the lock (status, report, finalize, the status line) the cache is
 * written only while no other engine call holds the lock: a run in progress
 * fingerprints state.json, and a write under it would invalidate the run. The
 * cache is only a shortcut: the next call under the lock writes it.
 */
function saveCacheIfFree(exp: Experiment): void {
  let lock: ReturnType<typeof acquireRepoLock>;
  try {
    lock = acquireRepoLock(exp.paths.lock, BRIEF_OWNER);
  } catch {
    return; // held by a live call, or .autoloop/ not writable here
  }
  try {
    saveStateCache(exp.paths, exp.state);
  } finally {
    lock.release();
  }
}

export function append(exp: Experiment, line: LedgerLine, opts: { durable?: boolean } = {}): void {
  appendLedger(exp.paths.ledger, line, opts);
  refresh(exp);
}

/**
 * append, its fsync left running: the promise settles once the line is on disk.
 * Await it before the step that must follow the line's durability (never
 * dropped: it rejects when the fsync fails).
 */
export function appendLater(exp: Experiment, line: LedgerLine): Promise<void> {
  const durable = appendLedgerLater(exp.paths.ledger, line);
  durable.catch(() => undefined); // awaited by the caller; a failure is seen there
  refresh(exp);
  return durable;
}

/**
 * Events reconcile() re-derives from the tree when they are missing: they are
 * appended without their own fsync (the next durable append, or the OS within
 * seconds, flushes them); every other ledger line is fsynced.
 */
const REDERIVABLE: ReadonlySet<EventName> = new Set<EventName>(['committed', 'reverted']);

export function event(exp: Experiment, name: EventName, data: Record<string, unknown> = {}, runId?: string): void {
  append(exp, eventLine(exp, name, data, runId), { durable: !REDERIVABLE.has(name) });
}

/** An event's ledger line, as event() appends it. */
export function eventLine(exp: Experiment, name: EventName, data: Record<string, unknown> = {}, runId?: string): LedgerLine {
  return { type: 'event', ts: nowIso(), segment: exp.state.segment || undefined, event: name, run_id: runId, data };
}

/**
 * Run fn holding the repository's lock; a lock left by a dead process is taken
 * over (and recorded). What a killed call left (an init half-done, temp files)
 * is finished first, and the experiment re-read if that changed it.
 */
export async function withLock<T>(exp: Experiment, owner: string, fn: () => Promise<T>): Promise<T> {
  const lock = acquireRepoLock(exp.paths.lock, owner);
  const d = { dirty: false };
  deferred.set(exp, d);
  try {
    sweepTemps(exp.paths.dir);
    sweepTemps(repoPaths(exp.root).dir);
    // Before any git command: a phase killed with git's files unreadable would fail them all.
    for (const l of await recoverGitFiles(exp.root)) process.stderr.write(`reconciled: ${l}\n`);
    const recovered = recoverInit(exp.paths);
    if (recovered) {
      Object.assign(exp, openExperiment(exp.root, exp.paths.slug));
      process.stderr.write(`reconciled: ${recovered}\n`);
    }
    // Before the chain's recovery too: it may publish active.json.
    assertActiveWritable(exp.root);
    // A chain killed mid-way: finished (or undone) here, not left for the next chain call,
    // so a child the loop goes on in has its decision, its trail and its budget.
    const chained = await recoverChain(exp.root, publishExperiment);
    if (chained) {
      if (fs.existsSync(exp.paths.config)) Object.assign(exp, openExperiment(exp.root, exp.paths.slug));
      process.stderr.write(`reconciled: ${chained}\n`);
    }
    if (lock.tookOver) event(exp, 'lock_takeover', { pid: lock.tookOver.pid });
    return await fn();
  } finally {
    deferred.delete(exp);
    // The cache is written while the lock is still held: one write per call.
    if (d.dirty) saveStateCache(exp.paths, exp.state);
    lock.release();
  }
}

/**
 * Complete what a killed log-experiment left half-done: a result line whose
 * keep was not committed, or whose revert was not confirmed. Idempotent. The
 * keep commits the content the run measured (recorded in the result line),
 * never what the work tree holds now; a keep that cannot be made becomes a
 * revert with its reason. Then the branch must be where the engine left it.
 */
export async function reconcile(exp: Experiment, ws: Workspace, opts: { branchMoved?: 'refuse' | 'ignore' } = {}): Promise<string[]> {
  const done: string[] = [];
  settleLoggedRecord(exp, done);
  const p = exp.state.pending;
  if (p?.action === 'commit') {
    const commit = await completeKeep(exp, ws, p);
    done.push(commit ? `completed the keep of ${p.run_id} (${commit.slice(0, 12)})` : `the keep of ${p.run_id} could not be committed`);
  }
  const q = exp.state.pending;
  if (q?.action === 'revert') {
    const reverted = await ws.revert(rescueDir(exp, q.run_id));
    const started = readRunRecord(exp, q.run_id)?.started_at;
    const artifacts = started ? restoreBestArtifacts(exp, q.run_id, Date.parse(started), rescueDir(exp, q.run_id)) : null;
    const aside = afterRevert(exp, q.run_id, reverted);
    event(exp, 'reverted', { files: reverted.files, reconciled: true, ...(artifacts?.rescued.length ? { artifacts_rescued: artifacts.rescued.slice(0, 50) } : {}), ...aside }, q.run_id);
    done.push(`completed the revert of ${q.run_id}${reverted.created.length ? ` (${movedNote(exp, q.run_id, reverted.created)})` : ''}`);
  }
  if (opts.branchMoved !== 'ignore') await assertBranchAtKeep(exp, ws);
  return done;
}

/** Where a revert moves what it overwrites or deletes (the user's files among them). */
export function rescueDir(exp: Experiment, runId: string): string {
  return path.join(rescuedRoot(exp), runId);
}

const rescuedRoot = (exp: Experiment): string => path.join(exp.paths.dir, 'rescued');

/**
 * After a revert moved files into rescueDir(exp, runId): bound rescued/ (the
 * rule in rescue-retention.ts). Returns what the ledger event says of it: where
 * the files went, the new files among them, the folders pruned.
 */
export function afterRevert(exp: Experiment, runId: string, r: Reverted): Record<string, unknown> {
  if (!fs.existsSync(rescueDir(exp, runId))) return {};
  const pruned = pruneRescued(rescuedRoot(exp), runId);
  return {
    rescued_to: path.relative(exp.root, rescueDir(exp, runId)),
    ...(r.created.length ? { moved_new: r.created.slice(0, 50), moved_new_count: r.created.length } : {}),
    ...(pruned.length ? { rescued_pruned: pruned } : {}),
  };
}

/** One short line: the new files a revert moved aside, and where (only said when there are some). */
export function movedNote(exp: Experiment, runId: string, created: readonly string[]): string {
  const names = created.slice(0, 3).map((n) => JSON.stringify(n)).join(', ') + (created.length > 3 ? ` (+${created.length - 3} more)` : '');
  return `new file(s) moved to ${path.relative(exp.root, rescueDir(exp, runId))}/ (drop .autoloop-copy to restore): ${names}`;
}

/** One short line: the best's artifacts are back, and where the files in their way went (when there were some). */
export function artifactsNote(exp: Experiment, runId: string, a: { from: string | null; rescued: readonly string[]; bestKeptNone?: string }): string {
  const names = a.rescued.slice(0, 3).map((n) => JSON.stringify(n)).join(', ') + (a.rescued.length > 3 ? ` (+${a.rescued.length - 3} more)` : '');
  if (a.bestKeptNone) return `artifacts: the best (${a.bestKeptNone}) kept none, so the tree holds none; this run's moved to ${path.relative(exp.root, rescueDir(exp, runId))}/: ${names}`;
  if (!a.from) return '';
  const aside = a.rescued.length ? `; the file(s) in their way moved to ${path.relative(exp.root, rescueDir(exp, runId))}/: ${names}` : '';
  return `artifacts: the best's (${a.from}) are back in the tree${aside}`;
}

/** The output's fields for artifacts put back: from which run, and the files in their way that were moved aside. */
export function artifactsFields(exp: Experiment, runId: string, a: { from: string | null; rescued: readonly string[]; bestKeptNone?: string }): Record<string, unknown> {
  const to = path.relative(exp.root, rescueDir(exp, runId));
  if (a.bestKeptNone) return { artifacts_from: null, artifacts_rescued: { to, count: a.rescued.length, files: a.rescued.slice(0, 3) } };
  if (!a.from) return {};
  return { artifacts_from: a.from, ...(a.rescued.length ? { artifacts_rescued: { to, count: a.rescued.length, files: a.rescued.slice(0, 3) } } : {}) };
}

/** Commit a pending keep (or find it done); null when it cannot be made (then a keep_failed event). */
async function completeKeep(exp: Experiment, ws: Workspace, p: NonNullable<Experiment['state']['pending']>): Promise<string | null> {
  let commit = await ws.findKeep(p.run_id);
  if (!commit) {
    try {
      await ws.pin?.(exp.state.tie_drift?.anchor?.commit ?? null); // snapshot mode: the walk's anchor outlives the keep
      commit = p.files.length ? await ws.keep(p.files, `autoloop: ${p.run_id} (completed after an interruption)`, trailers(exp, p.run_id, p.primary), p.content?.files) : await ws.head();
    } catch (e) {
      event(exp, 'keep_failed', { reason: oneLine(e) }, p.run_id);
      return null;
    }
  }
  event(exp, 'committed', { commit, reconciled: true }, p.run_id);
  return commit;
}

const oneLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0] as string;

/**
 * The experiment branch (or the current snapshot) must be the last keep: a
 * commit or reset made outside the engine (by hand, an alias, another tool)
 * is refused with the way back.
 */
export async function assertBranchAtKeep(exp: Experiment, ws: Workspace): Promise<string | null> {
  const { moved, head } = await branchAt(exp, ws);
  if (moved) throw new RefusalError(moved);
  return head;
}

/** Why every engine call would refuse the branch (assertBranchAtKeep's line), or null when it is at the last keep. */
export async function branchMoved(exp: Experiment, ws: Workspace): Promise<string | null> {
  return (await branchAt(exp, ws)).moved;
}

/** Where the branch is (null: not asked, nothing kept yet), and why that refuses, if it does. */
async function branchAt(exp: Experiment, ws: Workspace): Promise<{ moved: string | null; head: string | null }> {
  const kept = exp.state.best_commit;
  if (!kept) return { moved: null, head: null };
  const head = await ws.head();
  return { moved: movedReason(exp, ws, kept, head), head };
}

function movedReason(exp: Experiment, ws: Workspace, kept: string, head: string): string | null {
  if (head === kept) return null;
  const what = ws.mode === 'git' ? `branch autoloop/${exp.paths.slug} is at ${head.slice(0, 12)}` : `the snapshot is ${head}`;
  return `${what}, but the engine last kept ${kept.slice(0, 12)} (a commit or reset made outside the loop); run control.mjs repair to put it back (the other commit is saved), or init-experiment to adopt it`;
}

/**
 * branchMoved for what status and explain show: a keep killed after its commit moved the branch
 * and before the ledger recorded it left the engine's own commit there, which the next call records
 * (reconcile); that is no move made outside the loop.
 */
export async function branchMovedShown(exp: Experiment, ws: Workspace): Promise<string | null> {
  const moved = await branchMoved(exp, ws);
  const p = exp.state.pending;
  if (!moved || p?.action !== 'commit') return moved;
  return (await ws.findKeep(p.run_id)) === (await ws.head()) ? null : moved;
}

/** The next action the engine would take now: putting the branch back first when it moved. */
export const REPAIR_MOVED = 'control.mjs repair (the branch moved outside the loop: it puts the last keep back and saves the other commit)';

/**
 * Highest run number that has a folder under runs/ (0 when there is none).
 * Folders are created in order, so the answer is found by probing upward from
 * the last logged run (a few stats) rather than by listing a folder that holds
 * one entry per run; the listing is the fallback when that run's folder is gone.
 */
export function latestRunNumber(exp: Experiment): number {
  const logged = exp.state.next_run - 1;
  if (logged >= 1 && fs.existsSync(path.join(exp.paths.runs, runId(logged)))) {
    let n = logged;
    while (fs.existsSync(path.join(exp.paths.runs, runId(n + 1)))) n++;
    return n;
  }
  let n = 0;
  try {
    for (const name of fs.readdirSync(exp.paths.runs)) {
      const m = /^r(\d+)$/.exec(name);
      if (m?.[1]) n = Math.max(n, Number(m[1]));
    }
  } catch {
    /* no runs yet */
  }
  return n;
}

/** The last record parsed, by file and text: a call reads the latest record up to four times (a parse is ~1 ms). */
let lastRecord: { file: string; text: string; record: RunRecord } | null = null;

/**
 * The record of a run (runs/<id>/result.json), or null when missing or invalid;
 * with `phase`, also null when the record is in another phase, told before the
 * schema is built or run (an iteration asks whether the latest run is still
 * `measured`, and it almost never is).
 */
export function readRunRecord(exp: Experiment, id: string, phase?: RunRecord['phase']): RunRecord | null {
  const file = runDir(exp.paths, id).result;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  // The same bytes parse to the same record: a copy of it (callers may change theirs).
  if (lastRecord?.file === file && lastRecord.text === text) return phase === undefined || lastRecord.record.phase === phase ? structuredClone(lastRecord.record) : null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (phase !== undefined && (json as { phase?: unknown } | null)?.phase !== phase) return null;
  const parsed = RunRecord.safeParse(json);
  if (!parsed.success) return null;
  lastRecord = { file, text, record: structuredClone(parsed.data) };
  return parsed.data;
}

/**
 * Whether the latest run's record says it was measured in this segment but not logged yet. A record
 * still saying 'measured' whose result line is in the ledger (a log killed before it updated the
 * record; the next call settles it) is logged: asking for its log again would be refused.
 */
export function isMeasuredNotLogged(exp: Experiment, rec: RunRecord | null | undefined): rec is RunRecord {
  return rec?.phase === 'measured' && rec.segment === exp.state.segment && Number(rec.run_id.slice(1)) >= exp.state.next_run;
}

/** The latest run when it was measured in this segment but not logged yet (a call killed in between). */
export function measuredNotLogged(exp: Experiment): RunRecord | null {
  const n = latestRunNumber(exp);
  const rec = n ? readRunRecord(exp, runId(n), 'measured') : null;
  return isMeasuredNotLogged(exp, rec) ? rec : null;
}

/**
 * The latest run when its call was cut off while measuring (record still 'running', this segment,
 * not in the ledger). Only for a caller that knows no engine call holds the lock: a live one is measuring it.
 * A candidate's run measures without the lock: never taken for cut off here.
 */
export function cutOffRun(exp: Experiment): string | null {
  const n = latestRunNumber(exp);
  const rec = n ? readRunRecord(exp, runId(n), 'running') : null;
  if (!rec || rec.candidate || rec.segment !== exp.state.segment || Number(rec.run_id.slice(1)) < exp.state.next_run) return null;
  return rec.run_id;
}

/** What to do about a run whose call was cut off while measuring: the SessionStart hook's step, in status's words. */
export function rerunFirst(runIdCut: string): string {
  return `${runIdCut} was cut off while measuring (its engine call is gone): run run-experiment again for the change in the tree (it settles the interrupted run; if it refuses, control.mjs repair)`;
}

/** What to do about a run measured but not logged (the resume step), for status and explain. */
export function loggingFirst(rec: { run_id: string; candidate: { id: string } | null }): string {
  // A candidate's run is logged as the candidate's: without --candidate the log was refused.
  const which = rec.candidate ? ` --candidate ${rec.candidate.id}` : '';
  return `${rec.run_id} was measured but not logged: log it first (log-experiment${which} --description "<the change it measured>")`;
}

/** A run whose result reached the ledger but whose record still says 'measured' (killed in between). */
function settleLoggedRecord(exp: Experiment, done: string[]): void {
  const n = latestRunNumber(exp);
  if (!n || n >= exp.state.next_run) return; // not in the ledger yet
  const rec = readRunRecord(exp, runId(n), 'measured');
  if (rec?.phase === 'measured') {
    writeJsonAtomic(runDir(exp.paths, rec.run_id).result, { ...rec, phase: 'logged' }, { durable: false });
    done.push(`marked ${rec.run_id} as logged`);
  }
}

export function trailers(exp: Experiment, runId: string, primary: number | null): Record<string, string> {
  return {
    'Autoloop-Run': runId,
    'Autoloop-Experiment': exp.paths.slug,
    'Autoloop-Metric': `${exp.config.metric}=${primary === null ? 'none' : String(primary)}${exp.config.unit ? ' ' + exp.config.unit : ''}`,
  };
}

export function currentTermination(exp: Experiment): Termination {
  return termination(exp.state, exp.config, Date.now(), () => chainUsedUp(exp.root, exp.paths.slug));
}

/** Make `slug` the loop's experiment in active.json (a follow-up a chain completed). */
export function publishExperiment(root: string, slug: string): void {
  const opened = openExperiment(root, slug);
  publishActive(opened, currentTermination(opened));
}

/** Rewrite .autoloop/active.json, the only file the hooks read. */
export function publishActive(exp: Experiment, t: Termination, extra: { chainAllowed?: boolean; protect?: string[] } = {}): void {
  const repo = repoPaths(exp.root);
  const rel = (p: string) => path.relative(exp.root, p).split(path.sep).join('/');
  const active: ActiveFile = {
    version: 1,
    experiment: exp.paths.slug,
    loop: loopState(exp.state, t),
    scope: exp.config.scope,
    protect: extra.protect ?? Object.keys(exp.state.fingerprints?.files ?? {}),
    writable: [rel(exp.paths.notes), rel(exp.paths.ideas), rel(exp.paths.scratch)],
    summary: sanitize(activeSummary(exp, t)),
    next_action: sanitize(nextActionOrChain(exp.state, t)),
    direction: exp.config.direction,
    terminated_by: t.terminate ? t.by : null,
    // The Stop hook nudges into /autoloop:chain only when a follow-up may really start.
    chain_allowed: extra.chainAllowed ?? (t.terminate && followUpAllowed(exp.root, exp.paths.slug)),
    runs: exp.state.runs_total,
    next_run: Math.max(1, exp.state.next_run),
    stop_hook: exp.config.stop_hook,
    worktrees: openCandidates(exp.paths).map((c) => ({ id: c.id, path: c.path })),
    updated_at: nowIso(),
  };
  writeJsonCache(repo.active, ActiveFile.parse(active));
}

/**
 * A mutation ends by publishing active.json; a directory in its place would fail that
 * last write after the work was done (a keep committed, reported as an error).
 * Refused before anything starts instead.
 */
export function assertActiveWritable(root: string): void {
  const file = repoPaths(root).active;
  let dir = false;
  try {
    dir = fs.lstatSync(file).isDirectory();
  } catch {
    return;
  }
  if (dir) throw new UsageError(`${path.relative(root, file)} is a directory, not the hooks' state file: move it away`);
}

export function assertNotUnclean(exp: Experiment): void {
  const runs = readUnclean(exp.paths.unclean);
  if (!runs) return;
  const slurm = runs.find((r) => r.handle?.runner === 'slurm');
  if (slurm?.handle?.runner === 'slurm') {
    throw new RefusalError(`slurm job ${slurmJobs(slurm.handle, slurm.pids)} of run ${slurm.run_id ?? '?'} outlived its engine; run control.mjs repair first (it cancels the job)`);
  }
  const pids = runs.flatMap((r) => r.pids).join(', ') || '?';
  throw new RefusalError(`processes of ${uncleanRuns(runs)} survived (pids ${pids}); run control.mjs repair first`);
}
