// The status command's reads: every experiment in the repository at a glance
// (--list), and how the tree compares with an experiment's best. Nothing here
// needs the experiment's branch checked out: state comes from its ledger. And
// the status command itself: at most 10 lines on where one experiment stands
// (or --json).
import path from 'node:path';
import * as z from '../zod.ts';
import { CommonFlags, resolveCwd } from '../cli.ts';
import { branchMovedShown, currentTermination, findRoot, listExperiments, cutOffRun, loggingFirst, measuredNotLogged, rerunFirst, openExperiment, readActive, REPAIR_MOVED, requireSegment, resolveSlug, type Experiment } from '../experiment.ts';
import { openWorkspace } from '../workspace.ts';
import { workspaceFile } from '../workspace-base.ts';
import { readJsonOrNull } from '../fsx.ts';
import { sanitizeLine } from '../sanitize.ts';
import { currentBranch, revParse } from '../gitcmd.ts';
import { missingBranchText } from '../branch-missing.ts';

/** The experiment's branch is no longer there (renamed or deleted by hand). */
export async function branchGone(root: string, branch: string): Promise<boolean> {
  return (await revParse(root, `refs/heads/${branch}`)) === null;
}
import { CLEARED_NEXT, confidenceOf, gainPct, shownLoop } from '../reduce.ts';
import { bestLine, countsLine, fmt, healthLine, progressLine, recentLines } from '../summary.ts';
import { bestArtifactsLine } from '../artifacts.ts';
import { rel, runId } from '../paths.ts';
import { followUpNext, nextAction } from '../next-action.ts';
import { safeChainStatus } from '../chain.ts';
import { bestGuardrailChecks } from '../judge-run.ts';
import { guardrailStatusLine } from '../guardrails.ts';
import { containment, describeContainment, whyWeaker, type RunContainment } from '../runners/containment.ts';
import { readOnlyWorks } from '../runners/readonly.ts';
import { relaunchText } from '../supervisor/view.ts';
import { parallelLines, parallelStatus } from '../candidates/status.ts';
import { lockHolder } from '../lock.ts';

export const STATUS_OPTIONS = { experiment: { type: 'string' }, last: { type: 'string' }, list: { type: 'boolean', default: false }, 'exit-zero': { type: 'boolean', default: false } } as const;
export const StatusFlags = z.object({
  ...CommonFlags,
  experiment: z.optional(z.string()),
  list: z.boolean(),
  /** The skills' `!` injection: a non-zero exit aborts the slash command before the model reads anything. */
  'exit-zero': z.boolean(),
  last: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(20)), 3),
});
export const STATUS_HELP =
  'usage: status [--experiment SLUG] [--last N] [--list] [--exit-zero] [--cwd DIR] [--json]\n--list: every experiment in the repository with its state, best and branch (* = active).\n--exit-zero: a problem (no experiment, several and none active) is the one line on stdout, exit 0 (the skills read it).\n';

export interface ExperimentRow {
  experiment: string;
  active: boolean;
  loop: string;
  metric: string;
  direction: string;
  best: number | null;
  runs: number;
  /** autoloop/<slug> in git mode, null in snapshot mode. */
  branch: string | null;
}

/** The branch an experiment lives on, from its workspace record (null: snapshot mode or never started). */
export function experimentBranch(exp: Experiment): string | null {
  const raw = readJsonOrNull(workspaceFile(exp.paths)) as { mode?: unknown; branch?: unknown } | null;
  return raw?.mode === 'git' && typeof raw.branch === 'string' ? raw.branch : null;
}

export function experimentRows(root: string): ExperimentRow[] {
  const published = readActive(root);
  const active = published?.experiment ?? null;
  return listExperiments(root).map((slug) => {
    const exp = openExperiment(root, slug);
    const s = exp.state;
    return {
      experiment: slug,
      active: slug === active,
      loop: shownLoop(s, currentTermination(exp), published !== null),
      metric: exp.config.metric,
      direction: exp.config.direction,
      best: s.best,
      runs: s.runs_total,
      branch: experimentBranch(exp),
    };
  });
}

export function rowsText(rows: readonly ExperimentRow[]): string {
  if (!rows.length) return 'no experiment in this repository: run init-experiment';
  return rows
    .map((r) => `${r.active ? '*' : ' '} ${r.experiment}: ${r.loop}, ${r.metric} best ${fmt(r.best)} (${r.direction} is better), ${r.runs} run${r.runs === 1 ? '' : 's'}, ${r.branch ?? 'snapshot mode'}`)
    .join('\n');
}

/**
 * In-scope files that differ from the experiment's best, and why the engine
 * would refuse a branch moved outside the loop (null when it did not); or,
 * when its branch is not checked out, the branch the tree is on.
 */
export async function treeVsBest(exp: Experiment): Promise<{ changed: string[]; moved: string | null } | { on: string; gone: boolean }> {
  const branch = experimentBranch(exp);
  const current = branch === null ? null : await currentBranch(exp.root);
  if (branch !== null && current !== branch) return { on: current ?? 'a detached HEAD', gone: await branchGone(exp.root, branch) };
  const ws = await openWorkspace(exp.root, exp.paths, exp.config);
  return { changed: await ws.changedInScope(), moved: await branchMovedShown(exp, ws) };
}

/** Where the experiment stands: the data with --json (text ''), else at most 10 lines (data null). */
export async function statusCommand(f: z.infer<typeof StatusFlags>): Promise<{ data: unknown; text: string }> {
  if (!f['exit-zero']) return statusOf(f);
  try {
    return await statusOf(f);
  } catch (e) {
    // /autoloop:run and /autoloop:chain inject this output with `!`: a non-zero exit would abort the
    // command ("Shell command failed"), so the model would never read the state its first step acts
    // on (no experiment: /autoloop:setup; several and none active; an init cut off).
    const problem = sanitizeLine((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '');
    return { data: { problem }, text: `status: ${problem}` };
  }
}

async function statusOf(f: z.infer<typeof StatusFlags>): Promise<{ data: unknown; text: string }> {
  const root = findRoot(resolveCwd(f.cwd));
  if (f.list) {
    const rows = experimentRows(root);
    return { data: { experiments: rows }, text: rowsText(rows) };
  }
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  requireSegment(exp);
  const facts = await statusFacts(exp);
  return f.json ? { data: statusData(exp, facts, f.last), text: '' } : { data: null, text: statusText(exp, facts, f.last) };
}

type StatusFacts = Awaited<ReturnType<typeof statusFacts>>;

/**
 * The active experiment's branch is not checked out, and the tree is on a
 * branch of the user's (not another experiment's): every run refuses until
 * it is. What to do, or null.
 */
export function checkoutFirst(exp: Experiment, on: string, gone = false): string | null {
  const branch = experimentBranch(exp);
  if (gone && branch !== null) return missingBranchText(exp.root, branch, on === 'a detached HEAD' ? null : on);
  if (readActive(exp.root)?.experiment !== exp.paths.slug || on.startsWith('autoloop/')) return null;
  // The hooks deny git checkout to the loop's session: only the user can do it.
  return `ask the user to run git checkout autoloop/${exp.paths.slug} (the tree is on ${on}, where run-experiment refuses)`;
}

function busyText(b: { owner: string; pid: number; started_at: string }): string {
  return `${b.owner} (pid ${b.pid}) is running since ${b.started_at.slice(11, 19)} UTC; what it measures shows when it ends`;
}

/** A terminated experiment: /autoloop:chain, or the follow-up that already started from it. */
function terminatedNext(exp: Experiment): string {
  const child = safeChainStatus(exp.root, exp.paths.slug).child;
  return child ? followUpNext(child) : '/autoloop:chain';
}

/** What both forms show, read once. */
async function statusFacts(exp: Experiment) {
  const t = currentTermination(exp);
  // null: another experiment's branch is checked out; the ledger still says where this one stands.
  const tree = await treeVsBest(exp);
  const dirty = 'changed' in tree ? tree.changed : null;
  const moved = 'changed' in tree ? tree.moved : null;
  const on = 'on' in tree ? tree.on : null;
  const gone = 'gone' in tree && tree.gone;
  const away = on === null ? null : checkoutFirst(exp, on, gone);
  const branch = experimentBranch(exp);
  const artifacts = bestArtifactsLine(exp);
  const scratch = rel(exp.root, path.join(exp.paths.scratch, runId(Math.max(1, exp.state.next_run))));
  const par = parallelStatus(exp);
  // The local runner's containment on this machine (probed; another runner contains its own work).
  const local = (exp.config.runner ?? 'local') === 'local' ? containment() : null;
  const held = local === 'pidns' && readOnlyWorks() ? ('readonly' as const) : local;
  // A call cut off between measuring and logging: that run is logged before anything else.
  const pending = measuredNotLogged(exp);
  // Another engine call at work (a run measuring): what it decides is not in the state yet.
  const busy = lockHolder(exp.paths.lock);
  // Terminated: the JSON says what the text says (it said "next idea" for a finished loop), naming a follow-up once one
  // started; a run measured but not logged is logged first (log-experiment records it after termination too).
  const over = t.terminate ? terminatedNext(exp) : null;
  // A call cut off while measuring (no engine holds the lock): its change is still in the tree, to be measured again.
  const cut = busy || pending ? null : cutOffRun(exp);
  // Cleared (no active.json): the hooks are quiet; the state shown is theirs, and what wakes the loop.
  const loop = shownLoop(exp.state, t, readActive(exp.root) !== null);
  const asleep = loop === 'cleared' && !t.terminate ? CLEARED_NEXT : null;
  const next = busy ? `wait: ${busyText(busy)}` : away ? away : moved ? REPAIR_MOVED : pending ? loggingFirst(pending) : over ? over : asleep ? asleep : cut ? rerunFirst(cut) : nextAction(exp.state);
  return { t, loop, dirty, moved, busy, away, on, gone, branch, artifacts, scratch, par, held, next };
}

function statusData(exp: Experiment, { t, loop, dirty, moved, busy, branch, artifacts, scratch, par, held, next }: StatusFacts, last: number) {
  const s = exp.state;
  const conf = confidenceOf(s);
  return {
    experiment: exp.paths.slug,
    segment: s.segment,
    loop,
    metric: exp.config.metric,
    direction: exp.config.direction,
    best: s.best,
    baseline: s.baseline,
    gain_pct: gainPct(s, exp.config),
    best_commit: s.best_commit,
    confidence: conf.value,
    confidence_label: conf.label,
    counts: s.counts,
    runs: s.runs_total,
    health: s.health.health,
    health_reason: s.health.reason,
    next_action: next,
    guardrails: bestGuardrailChecks(exp.config, s),
    termination: t,
    branch,
    branch_checked_out: dirty !== null,
    tree_differs_from_best: dirty ?? [],
    branch_moved: moved,
    busy,
    best_artifacts: artifacts,
    scratch,
    recent: last > 0 ? s.recent.slice(-last) : [],
    relaunches: s.relaunches ?? null,
    candidates: par.candidates,
    long_queue: par.long_queue,
    warnings: exp.warnings,
    containment: held,
  };
}

/** The containment in force, and why it is weaker than the default where nobody chose that. */
function containmentLine(held: RunContainment): string {
  const why = whyWeaker(held);
  return `containment: ${describeContainment(held)}${why ? `; not the read-only judges: ${why}` : ''}`;
}

function statusText(exp: Experiment, { t, loop, dirty, moved, away, on, gone, branch, artifacts, par, held, next }: StatusFacts, last: number): string {
  const s = exp.state;
  const relaunch = relaunchText(s.relaunches);
  const lines = [
    `experiment ${exp.paths.slug} (segment ${s.segment}, ${loop})${exp.config.goal ? `: ${exp.config.goal.slice(0, 80)}` : ''}`,
    bestLine(exp),
    countsLine(exp),
    healthLine(exp) + `; next: ${next}`,
    progressLine(t),
    ...parallelLines(par, exp.config.parallel),
    guardrailStatusLine(bestGuardrailChecks(exp.config, s)) ?? '',
    ...(relaunch ? [relaunch] : []),
    ...(held ? [containmentLine(held)] : []),
    dirty === null && gone
      ? `${branch} does not exist (the tree is on ${on})`
      : dirty === null
      ? `${branch} is not checked out (${away ? `the tree is on ${on}, where run-experiment refuses` : 'the tree belongs to another experiment'})`
      : moved
        ? `refused: ${moved}`
      : dirty.length
        ? `tree differs from best: ${dirty.slice(0, 4).join(' ')}${dirty.length > 4 ? ' …' : ''}`
        : 'tree is at the best',
  ];
  if (artifacts) lines.splice(2, 0, `best artifacts: ${artifacts.dir}/`);
  if (exp.warnings.length) lines.push(`warning: ${exp.warnings[0]}`);
  // At most 10 lines; the runs listed are the newest that fit (the cap cut the newest run off the end).
  const head = lines.filter(Boolean).slice(0, 10);
  return [...head, ...recentLines(exp, Math.min(last, relaunch ? 3 : 4, 10 - head.length))].join('\n');
}
