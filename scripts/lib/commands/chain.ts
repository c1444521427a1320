// The chain command: start a follow-up experiment from a terminated one. The
// follow-up needs a written rationale, kept read-only beside the hash of the
// parent's report it was grounded in; it inherits the parent's benchmark and
// rules unless a flag overrides them, starts from the parent's best, and
// spends one unit of the chain budget (.autoloop/chain.json).
import { recoverGitFiles } from '../git-files-journal.ts';
import fs from 'node:fs';
import path from 'node:path';
import * as z from '../zod.ts';
import { countOrNone, minImprovementFlag, noneFlag, numberFlag, numberOrNone, oneLine, repeatsFlag, unitFlag } from '../flag-values.ts';
import { reached } from '../goal.ts';
import { CommonFlags, resolveCwd } from '../cli.ts';
import { currentTermination, event, findRoot, gitTopLevel, listExperiments, openExperiment, publishExperiment, readActive, reconcile, refresh, resolveSlug, withLock, type Experiment } from '../experiment.ts';
import { completeChain, recoverChain, writePending } from '../chain-journal.ts';
import { acquireRepoLock } from '../lock.ts';
import { assertNoCandidateInFlight } from '../candidates/busy.ts';
import { cutForKilledGuards } from '../candidates/ledger.ts';
import { crashPoint, stopPoint } from '../faults.ts';
import { GuardrailFlag, guardrailFromFlag } from '../guardrail-flag.ts';
import { childGuardrails } from '../chain-guardrails.ts';
import { openCandidates } from '../candidates/store.ts';
import { openWorkspace } from '../workspace.ts';
import { initExperiment } from '../init.ts';
import { recordedEnv } from '../bench-env.ts';
import { trackedFiles } from '../tracked-files.ts';
import { configFieldsFromFlags, parseConfig } from '../config.ts';
import { experimentPaths, rel, repoPaths } from '../paths.ts';
import { Slug, type Config, type Guardrail } from '../schema.ts';
import { UsageError } from '../errors.ts';
import { nowIso } from '../ledger.ts';
import { compileScope } from '../scope.ts';
import { assertGlobsInRepo, assertScopeLeftMutable, checkCommandsFrom, scopeWarnings } from '../scope-check.ts';
import { buildReport, renderMarkdown, reportHash } from '../report.ts';
import { ChainDecision, DEFAULT_CHAIN_BUDGET, startedBudgetLine, chainStatusIn, loadChainFile, withLink, type ChainFile } from '../chain.ts';
import { currentBranch, revParse, trackedChanges } from '../gitcmd.ts';
import { fmt } from '../summary.ts';
import { unreachableMinimum } from '../sampling.ts';
import { bestArtifacts, type KeptArtifacts } from '../artifacts.ts';
import { taintProblem } from '../outside-taint.ts';

export const CHAIN_OPTIONS = {
  from: { type: 'string' },
  name: { type: 'string' },
  rationale: { type: 'string' },
  goal: { type: 'string' },
  metric: { type: 'string' },
  direction: { type: 'string' },
  unit: { type: 'string' },
  scope: { type: 'string', multiple: true },
  command: { type: 'string' },
  checks: { type: 'string' },
  timeout: { type: 'string' },
  'max-runs': { type: 'string' },
  plateau: { type: 'string' },
  target: { type: 'string' },
  'max-wall-clock': { type: 'string' },
  budget: { type: 'string' },
  'artifacts-from-parent': { type: 'boolean', default: false },
  guardrail: { type: 'string', multiple: true },
  'drop-guardrail': { type: 'string', multiple: true },
  repeats: { type: 'string' },
  'min-improvement': { type: 'string' },
} as const;

// "none" switches a limit off, as in init-experiment.
export const ChainFlags = z.object({
  ...CommonFlags,
  from: z.optional(z.string()),
  name: z.optional(Slug),
  rationale: z.optional(z.string()),
  goal: z.optional(z.string().check(oneLine())),
  metric: z.optional(z.string()),
  direction: z.optional(z.enum(['lower', 'higher'])),
  unit: z.optional(unitFlag),
  scope: z.optional(z.array(z.string().check(z.minLength(1, 'must not be empty')))),
  command: z.optional(z.string()),
  checks: z.optional(z.union([noneFlag, z.string()])),
  timeout: z.optional(numberFlag),
  'max-runs': z.optional(countOrNone),
  plateau: z.optional(countOrNone),
  target: z.optional(numberOrNone),
  'max-wall-clock': z.optional(numberOrNone),
  budget: z.optional(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100))),
  'artifacts-from-parent': z._default(z.boolean(), false),
  guardrail: z.optional(z.array(GuardrailFlag)),
  'drop-guardrail': z.optional(z.array(z.string().check(z.minLength(1)))),
  repeats: z.optional(repeatsFlag),
  'min-improvement': z.optional(minImprovementFlag),
});
export type ChainFlags = z.infer<typeof ChainFlags>;

export const CHAIN_HELP = `usage: chain [--from SLUG] --name NEW --rationale TEXT [--goal TEXT] [--metric NAME]
  [--direction lower|higher] [--unit U] [--scope GLOB]... [--command CMD] [--checks CMD|none]
  [--timeout SEC] [--max-runs N|none] [--plateau N|none] [--target X|none]
  [--max-wall-clock SEC|none] [--repeats N|auto] [--min-improvement X|X%]
  [--guardrail NAME:DIR:PCT|abs=X|limit=X]... [--drop-guardrail NAME]... [--budget N]
  [--artifacts-from-parent] [--cwd DIR] [--json]
Starts a follow-up of a terminated experiment (default: the active one) from its best; everything not
given is inherited, including the parent's guardrails, and the parent's primary is guarded at its best
unless --drop-guardrail names it (recorded in the chain decision).
--artifacts-from-parent puts the parent's best artifacts (e.g. its checkpoint) in the tree first.
--budget (follow-ups allowed in the chain, default ${DEFAULT_CHAIN_BUDGET}) is set by the first follow-up only.`;

/** The child's config: the parent's, with the flags that were given. */
function childConfig(parent: Config, f: ChainFlags, name: string): { config: Config; overrides: string[]; dropped: string[] } {
  const out: Record<string, unknown> = { ...structuredClone(parent), name };
  // Everything given on the command line overrides the parent; the rest is inherited.
  const given = configFieldsFromFlags({ ...f, name: undefined, guardrail: undefined, 'min-improvement': undefined });
  const m = f['min-improvement'];
  if (m !== undefined) given.min_improvement = m.endsWith('%') ? m : Number(m);
  Object.assign(out, given);
  if (f.metric !== undefined && f.metric !== parent.metric) {
    // A new primary metric: its direction cannot be guessed, and the parent's
    // target and unit belong to the old metric.
    if (f.direction === undefined) throw new UsageError(`--direction is required when --metric changes (${parent.metric} → ${f.metric})`);
    if (f.target === undefined) out.target = null;
    if (f.unit === undefined) out.unit = '';
  } else if (f.direction !== undefined && f.direction !== parent.direction && f.target === undefined) {
    // The same metric the other way: the parent's target was a bound from the other side.
    out.target = null;
  }
  const added = (f.guardrail ?? []).map((g) => parseConfig({ ...parent, guardrails: [guardrailFromFlag(g)] }, '--guardrail').guardrails[0] as Guardrail);
  const cg = childGuardrails({ parent, childMetric: f.metric ?? parent.metric, added, drop: f['drop-guardrail'] ?? [] });
  out.guardrails = cg.guardrails;
  if (f.guardrail || f['drop-guardrail'] || f.metric !== undefined) given.guardrails = cg.guardrails;
  const config = parseConfig(out, 'follow-up config');
  if (config.checks !== null && config.checks.trim() === '') throw new UsageError('--checks must not be empty (use --checks none to drop the checks)');
  if (config.command.trim() === '') throw new UsageError('--command must not be empty');
  return { config, overrides: Object.keys(given), dropped: cg.dropped };
}


/** Everything decided before the lock: who follows whom, with which config and budget. */
interface ChainPlan {
  root: string;
  parent: Experiment;
  parentSlug: string;
  childSlug: string;
  rationale: string;
  chains: ChainFile;
  budget: number;
  config: Config;
  overrides: string[];
  dropped: string[];
  terminatedBy: string | null;
  /** The parent's best artifacts, when the child starts from them. */
  artifacts: KeptArtifacts | null;
}

function plan(root: string, f: ChainFlags): ChainPlan {
  if (!f.name) throw new UsageError('--name is required (the follow-up experiment)');
  const rationale = (f.rationale ?? '').trim();
  if (!rationale) throw new UsageError('--rationale must not be empty: write why this follow-up, grounded in the parent\'s report');
  const parentSlug = parentOf(root, f.from);
  const childSlug = f.name;
  assertNewChild(root, parentSlug, childSlug);
  const parent = openExperiment(root, parentSlug);
  const t = currentTermination(parent);
  // A loop its user stopped by hand (control stop) has ended as surely as by a rule: the follow-up may start from it.
  const byHand = !t.terminate && parent.state.stopped;
  if (!t.terminate && !byHand) {
    const paused = parent.state.health.health === 'paused' ? `, paused: ${parent.state.health.reason}` : '';
    throw new UsageError(`"${parentSlug}" has not terminated (${t.message}${paused}): finish it before chaining a follow-up, or end it by hand first (control stop --reason TEXT)`);
  }

  const chains = loadChainFile(root);
  const budget = chainRoom(chains, parentSlug, f.budget);
  const { config, overrides, dropped } = childConfig(parent.config, f, childSlug);
  const s = parent.state;
  assertPrinted(parentSlug, s.best_metrics, f.command === undefined ? config : null);
  // The child's baseline is the parent's best: a target that best meets (the child's way) would end it at once.
  if (config.target !== null && config.metric === parent.config.metric && s.best !== null && reached(config.direction, s.best, config.target)) {
    throw new UsageError(`the target ${fmt(config.target)}${u(config.unit)} is already met by "${parentSlug}"'s best ${fmt(s.best)}${u(config.unit)}: pass a new --target (or --target none)`);
  }
  let artifacts: KeptArtifacts | null = null;
  if (f['artifacts-from-parent']) {
    artifacts = bestArtifacts(parent);
    if (!artifacts) throw new UsageError(`"${parentSlug}" kept no artifacts of its best run${s.best_run ? ` (${s.best_run})` : ''}: leave out --artifacts-from-parent`);
  }
  return { root, parent, parentSlug, childSlug, rationale, chains, budget, config, overrides, dropped, terminatedBy: t.by ?? (byHand ? 'manual' : null), artifacts };
}

const u = (unit: string) => (unit ? ` ${unit}` : '');

function assertNewChild(root: string, parentSlug: string, childSlug: string): void {
  if (childSlug === parentSlug || listExperiments(root).includes(childSlug) || fs.existsSync(experimentPaths(root, childSlug).dir)) {
    throw new UsageError(`experiment "${childSlug}" already exists: choose another --name`);
  }
}

/** The budget the follow-up of `parentSlug` spends from, or why there is none (a follow-up already, the budget used). */
function chainRoom(chains: ChainFile, parentSlug: string, asked: number | undefined): number {
  const status = chainStatusIn(chains, parentSlug);
  if (status.child) throw new UsageError(`"${parentSlug}" already has a follow-up ("${status.child}"): chain from the end of the trail (${status.chain?.trail.at(-1) ?? status.child})`);
  if (status.remaining <= 0) {
    throw new UsageError(`chain budget exhausted (${status.used}/${status.budget} follow-ups: ${status.chain?.trail.join(' → ') ?? parentSlug}): stop cleanly (report, finalize)`);
  }
  if (status.chain && asked !== undefined && asked !== status.budget) {
    throw new UsageError(`--budget is set by the first follow-up of a chain (this chain's is ${status.budget}); leave it out`);
  }
  return status.chain ? status.budget : (asked ?? DEFAULT_CHAIN_BUDGET);
}

/**
 * A follow-up measures with its parent's benchmark: a metric it never printed
 * (the primary or a guardrail) would make the child's baseline invalid after
 * the budget is spent. `config` null: a new --command, the user's call.
 */
function assertPrinted(parentSlug: string, printed: Record<string, number>, config: Config | null): void {
  const names = Object.keys(printed);
  if (!config || !names.length) return;
  const missing = [config.metric, ...config.guardrails.map((g) => g.metric)].find((m) => !Object.hasOwn(printed, m));
  if (missing !== undefined) {
    throw new UsageError(`metric ${missing} is not printed by the benchmark (the best run of "${parentSlug}" printed ${names.join(', ')}): a follow-up measures what the benchmark prints; a new metric needs a benchmark for it (/autoloop:setup, with the user)`);
  }
}

/** --from, else the active experiment (plan() then refuses one that has not terminated). */
function parentOf(root: string, from: string | undefined): string {
  if (from !== undefined) return resolveSlug(root, from, '--from');
  const active = readActive(root);
  if (!active || !listExperiments(root).includes(active.experiment)) throw new UsageError('--from is required (no active experiment to follow up)');
  return active.experiment;
}

/** Why HEAD is not the parent's best, and what brings it there: the parent's branch may have moved or gone. */
async function notAtBest(root: string, parentSlug: string, head: string | null, best: string | null): Promise<string> {
  const branch = `autoloop/${parentSlug}`;
  const at = await revParse(root, `refs/heads/${branch}`);
  const short = best?.slice(0, 12) ?? 'unknown';
  if (best && at !== null && at !== best) {
    return `branch ${branch} moved outside the loop (at ${at.slice(0, 12)}; the engine last kept ${short}): run control repair --experiment ${parentSlug} first (it puts the best back and saves the other commit)`;
  }
  if (best && at === null) {
    if ((await revParse(root, best)) === null) return `branch ${branch} is gone, and the best commit of "${parentSlug}" (${short}) with it: nothing to start a follow-up from`;
    return `branch ${branch} is gone: the user can git checkout --detach ${short} (the best of "${parentSlug}") first, and chain from there`;
  }
  const here = (await currentBranch(root)) ?? 'a detached HEAD';
  return `HEAD (${here} at ${head?.slice(0, 12) ?? 'no commit'}) is not the best commit of "${parentSlug}" (${short}): the user can git checkout ${branch} first (the hooks refuse it to the loop)`;
}

/** The follow-up must start from the parent's best, with nothing half-done in the tree. */
async function assertAtParentBest(p: ChainPlan): Promise<'git' | 'snapshot'> {
  const { root, parent, parentSlug, childSlug, config } = p;
  // A candidate of the parent, measured or not, would be left with its worktree and never logged.
  const open = openCandidates(parent.paths);
  if (open.length) {
    throw new UsageError(`"${parentSlug}" has ${open.length} candidate(s) open (${open.map((c) => c.id).join(', ')}): log them (log-experiment --candidate ID) or close them (candidate close ID) first`);
  }
  const ws = await openWorkspace(root, parent.paths, parent.config);
  // A file outside the scope that the parent's last runs rewrote (outside-taint.ts) would judge every run of the
  // follow-up: the loop may end on that run, and the chain is the loop's own call, not an adoption by the user.
  const tainted = taintProblem(parent.paths, root, parent.state.segment, ws.restoreOutside !== undefined);
  if (tainted) throw new UsageError(`"${parentSlug}": ${tainted}; a follow-up opened now would be judged with it`);
  if (ws.mode !== 'git') {
    const dirty = await ws.changedInScope();
    if (dirty.length) throw new UsageError(`in-scope files differ from the best of "${parentSlug}": ${dirty.slice(0, 5).join(', ')}; restore them first`);
    return ws.mode;
  }
  const head = await revParse(root, 'HEAD');
  const best = parent.state.best_commit;
  if (!best || head !== best) throw new UsageError(await notAtBest(root, parentSlug, head, best));
  const scopes = [compileScope(parent.config.scope, parent.config.protect), compileScope(config.scope, config.protect)];
  const dirty = (await trackedChanges(root)).filter((x) => scopes.some((sc) => sc.inScope(x)));
  if ((await currentBranch(root)) === `autoloop/${parentSlug}`) dirty.push(...(await ws.changedInScope()));
  const names = [...new Set(dirty)].sort();
  if (names.length) throw new UsageError(`in-scope changes in the tree: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ` (+${names.length - 5} more)` : ''}; revert or commit them first`);
  if ((await revParse(root, `refs/heads/autoloop/${childSlug}`)) !== null) {
    throw new UsageError(`branch autoloop/${childSlug} already exists: choose another --name`);
  }
  return ws.mode;
}

interface Started {
  out: Awaited<ReturnType<typeof initExperiment>>;
  decisionFile: string;
  reportFile: string;
  sha: string;
  position: number;
  trail: string[];
  /** The files moved aside because the parent's artifacts were put where they were. */
  artifactsRescued: { to: string; files: string[] } | null;
}

/** The read-only record of why the follow-up exists, as the text of its file. */
function decisionText(p: ChainPlan, d: { position: number; remaining: number; trail: string[]; sha: string; reportFile: string; createdAt: string }): string {
  const s = p.parent.state;
  const decision: ChainDecision = ChainDecision.parse({
    version: 1,
    parent: p.parentSlug,
    child: p.childSlug,
    position: d.position,
    chain_budget: p.budget,
    chain_remaining: d.remaining,
    trail: d.trail,
    rationale: p.rationale,
    parent_report_sha256: d.sha,
    parent_report: rel(p.root, d.reportFile),
    parent_primary: {
      name: p.parent.config.metric,
      direction: p.parent.config.direction,
      unit: p.parent.config.unit,
      baseline: s.baseline,
      best: s.best,
      best_commit: s.best_commit,
      terminated_by: p.terminatedBy,
    },
    child_primary: { name: p.config.metric, direction: p.config.direction, unit: p.config.unit },
    child_goal: p.config.goal,
    child_scope: p.config.scope,
    overrides: p.overrides,
    ...(p.artifacts ? { parent_artifacts: { run_id: p.artifacts.run_id, dir: rel(p.root, p.artifacts.dir), files: p.artifacts.files } } : {}),
    guardrails: p.config.guardrails,
    dropped_guardrails: p.dropped,
    created_at: d.createdAt,
  });
  // Written read-only (chain-journal.ts): the reason for a follow-up is a record, not a draft.
  return JSON.stringify(decision, null, 2) + '\n';
}

async function start(p: ChainPlan, asked: number | undefined): Promise<Started> {
  const { root, parent, parentSlug, childSlug } = p;
  // Planned before the lock: another chain from this parent may have started since. Checked again
  // holding it, on chain.json as it is now (a stale copy written back would drop that follow-up).
  assertNewChild(root, parentSlug, childSlug);
  // chain.json is sealed around every candidate's command (another experiment's too): it would be put back under it.
  assertNoCandidateInFlight(root, 'chain');
  // Before its events: a later late cut would take them for forged.
  const cut = cutForKilledGuards(root);
  for (const l of cut) process.stderr.write(`reconciled: ${l}\n`);
  if (cut.length) refresh(parent);
  p.chains = loadChainFile(root);
  p.budget = chainRoom(p.chains, parentSlug, asked);
  // A log killed before its keep was committed (often the very run that terminated the parent): completed first, as any engine call does.
  if (parent.state.pending) {
    const done = await reconcile(parent, await openWorkspace(root, parent.paths, parent.config));
    if (done.length) process.stderr.write(`reconciled: ${done.join('; ')}\n`);
  }
  // A parent in git mode runs at its work tree's top (openWorkspace): the follow-up's workspace need not ask git again.
  const mode = await assertAtParentBest(p);
  // A termination no log recorded (a wall clock that ran out between runs) is recorded now: the
  // report states a recorded one as it was, a live one with the clock's reading of each call.
  const t = currentTermination(parent);
  if (t.terminate && t.by !== null && !Object.hasOwn(parent.state.terminated_messages ?? {}, t.by)) event(parent, 'terminated', { by: t.by, message: t.message });
  // The report the rationale answers to, frozen by its hash: as it reads once this
  // follow-up exists (its chain section names it), so a later report hashes the same.
  const linked = withLink(p.chains, { parent: parentSlug, child: childSlug, created_at: nowIso(), parent_report_sha256: '0'.repeat(64) }, p.budget).file;
  const markdown = renderMarkdown(buildReport(parent, undefined, undefined, linked));
  const sha = reportHash(markdown);
  const reportFile = path.join(parent.paths.dir, 'report.md');

  const next = withLink(p.chains, { parent: parentSlug, child: childSlug, created_at: nowIso(), parent_report_sha256: sha }, p.budget);
  const position = next.link.position;
  const trail = next.chain.trail;
  const childPaths = experimentPaths(root, childSlug);
  const decisionFile = childPaths.decision;
  // Everything that completes the follow-up is on disk before it starts (chain-journal.ts).
  const pending = {
    parent: parentSlug,
    child: childSlug,
    decision: decisionText(p, { position, remaining: Math.max(0, p.budget - next.chain.links.length), trail, sha, reportFile, createdAt: next.link.created_at }),
    chain_file: next.file,
    event: { child: childSlug, position, report_sha256: sha, decision: rel(root, decisionFile), guardrails: p.config.guardrails.map((g) => g.metric), dropped_guardrails: p.dropped },
    report: markdown,
  };
  writePending(root, pending);
  let out: Started['out'];
  try {
    const env = recordedEnv(experimentPaths(root, parentSlug));
    out = await initExperiment(root, p.config, { reason: `chain: follow-up of ${parentSlug}`, ...(mode === 'git' ? { top: root } : {}), ...(env ? { env } : {}) });
  } catch (e) {
    // Nothing was opened: leave no half-made experiment whose name would then be taken.
    await recoverChain(root, publishExperiment);
    throw e;
  }
  crashPoint('chain:after-init');
  // The parent's best artifacts (--artifacts-from-parent) go in with the rest, so a killed chain's completion puts them too.
  const artifactsRescued = completeChain(root, pending, publishExperiment);
  refresh(parent);
  return { out, decisionFile, reportFile, sha, position, trail, artifactsRescued };
}

function output(p: ChainPlan, r: Started): { data: Record<string, unknown>; text: string } {
  const { root, parent, parentSlug, childSlug, config, overrides } = p;
  const s = parent.state;
  const after = chainStatusIn(loadChainFile(root), childSlug);
  const inherited = ['command', 'checks', 'timeout', 'scope', 'goal', 'metric', 'max_runs', 'plateau', 'target', 'max_wall_clock'].filter((k) => !overrides.includes(k));
  const data = {
    parent: parentSlug,
    child: childSlug,
    position: r.position,
    trail: r.trail,
    budget: p.budget,
    remaining: after.remaining,
    mode: r.out.mode,
    branch: r.out.branch,
    base: r.out.base,
    parent_best: s.best,
    overrides,
    guardrails: config.guardrails,
    dropped_guardrails: p.dropped,
    decision: rel(root, r.decisionFile),
    parent_report: rel(root, r.reportFile),
    parent_report_sha256: r.sha,
    ...(p.artifacts ? { artifacts_from: `${parentSlug}/${p.artifacts.run_id}`, artifacts: p.artifacts.files } : {}),
    ...(r.artifactsRescued ? { artifacts_rescued: r.artifactsRescued } : {}),
    next_action: 'run-experiment for the baseline, then log-experiment --description baseline',
  };
  const text = [
    `follow-up ${childSlug} started from ${parentSlug} (chain position ${r.position}: ${r.trail.join(' → ')})`,
    `${r.out.mode === 'git' ? `branch ${r.out.branch} from ${r.out.base.slice(0, 12)}` : `snapshot ${r.out.base}`} (the parent's best: ${config.metric === parent.config.metric ? '' : `${parent.config.metric} `}${fmt(s.best)}${parent.config.unit ? ` ${parent.config.unit}` : ''})`,
    `overridden: ${overrides.length ? overrides.join(', ') : 'nothing'}; inherited: ${inherited.join(', ') || 'the rest'}`,
    `guardrails: ${config.guardrails.map((g) => g.metric).join(', ') || 'none'}${p.dropped.length ? ` (dropped: ${p.dropped.join(', ')})` : ''}`,
    `decision: ${data.decision} (read-only; parent report ${data.parent_report} sha256 ${r.sha.slice(0, 12)})`,
    p.artifacts ? `artifacts: ${p.artifacts.files.length} file(s) of ${parentSlug}'s best (${p.artifacts.run_id}) put in the tree` : '',
    r.artifactsRescued ? `the file(s) they replaced moved to ${r.artifactsRescued.to}/: ${r.artifactsRescued.files.slice(0, 3).map((n) => JSON.stringify(n)).join(', ')}` : '',
    startedBudgetLine(after),
    `next: ${data.next_action}`,
  ]
    .filter(Boolean)
    .join('\n');
  return { data, text };
}

/**
 * The same chain asked again once it had started (its output lost, a retried
 * call): the follow-up named, of the same parent, for the same rationale, is
 * there. Said as done, with what comes next in it; nothing is started again.
 */
function startedBefore(root: string, f: ChainFlags): { data: Record<string, unknown>; text: string } | null {
  const rationale = (f.rationale ?? '').trim();
  if (!f.name || !rationale) return null;
  const link = loadChainFile(root).chains.flatMap((c) => c.links).find((l) => l.child === f.name);
  if (!link || (f.from !== undefined && resolveSlug(root, f.from, '--from') !== link.parent)) return null;
  let decision: ChainDecision;
  try {
    decision = ChainDecision.parse(JSON.parse(fs.readFileSync(experimentPaths(root, link.child).decision, 'utf8')));
  } catch {
    return null;
  }
  if (decision.rationale !== rationale) return null;
  const child = openExperiment(root, link.child);
  const next = child.state.runs_total === 0 ? 'run-experiment for the baseline, then log-experiment --description baseline' : `the loop goes on in ${link.child} (status for where it stands)`;
  return {
    data: { parent: link.parent, child: link.child, position: link.position, already_started: true, decision: rel(root, experimentPaths(root, link.child).decision), next_action: next },
    text: `follow-up ${link.child} of ${link.parent} was already started by an earlier chain call with this rationale (${link.created_at}); nothing done\nnext: ${next}`,
  };
}

/** chain's work: plan, then start the follow-up holding the parent's lock. */
export async function chainCommand(f: ChainFlags): Promise<{ data: Record<string, unknown>; text: string }> {
  const root = findRoot(resolveCwd(f.cwd));
  // A chain killed earlier is finished (or undone) before a new one is planned.
  const lock = acquireRepoLock(repoPaths(root).lock, 'chain');
  let done: string | null;
  try {
    for (const l of await recoverGitFiles(root)) process.stderr.write(`reconciled: ${l}\n`);
    done = await recoverChain(root, publishExperiment);
    if (done) process.stderr.write(`reconciled: ${done}\n`);
  } finally {
    lock.release();
  }
  // The same chain asked again after a kill: it is done now, not a name already taken.
  if (done?.startsWith(`completed the follow-up ${f.name ?? ''} `)) {
    return { data: { child: f.name, reconciled: done, next_action: 'run-experiment for the baseline, then log-experiment --description baseline' }, text: `${done}\nnext: run-experiment for the baseline, then log-experiment --description baseline` };
  }
  const again = startedBefore(root, f);
  if (again) return again;
  // A --scope written from a package directory is refused before anything starts (scope-check.ts).
  if (f.scope) assertGlobsInRepo({ scope: f.scope, protect: [], artifacts: [] });
  const notes = f.scope ? scopeWarnings(root, resolveCwd(f.cwd), f.scope, gitTopLevel(root) !== null ? trackedFiles(root) : null) : [];
  checkCommandsFrom(root, resolveCwd(f.cwd), [f.command, f.checks]);
  const p = plan(root, f);
  // A new --scope must leave something to change, past its exclusions and the protected files, as at init.
  if (f.scope) assertScopeLeftMutable(root, p.config);
  // Given or inherited (a follow-up that turns the metric lower-is-better keeps the parent's minimum): said as init says it.
  const unreachable = unreachableMinimum(p.config.direction, p.config.min_improvement);
  if (unreachable) notes.push(unreachable);
  stopPoint('chain:planned');
  let r!: Started;
  await withLock(p.parent, 'chain', async () => {
    r = await start(p, f.budget);
  });
  const out = output(p, r);
  if (!notes.length) return out;
  const lines = out.text.split('\n'); // the last says what to do next: the warnings go before it
  return { data: { ...out.data, warnings: notes }, text: [...lines.slice(0, -1), ...notes.map((w) => `warning: ${w}`), ...lines.slice(-1)].join('\n') };
}
