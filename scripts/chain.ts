// chain: start a follow-up experiment from a terminated one. The follow-up
// needs a written rationale, kept read-only beside the hash of the parent's
// report it was grounded in; it inherits the parent's benchmark and rules
// unless a flag overrides them, starts from the parent's best, and spends one
// unit of the chain budget (.autoloop/chain.json).
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { reached } from './lib/goal.ts';
import { CommonFlags, emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import { currentTermination, event, findRoot, listExperiments, openExperiment, resolveSlug, withLock } from './lib/experiment.ts';
import { openWorkspace } from './lib/workspace.ts';
import { initExperiment } from './lib/init.ts';
import { configFieldsFromFlags, parseConfig } from './lib/config.ts';
import { experimentPaths, rel } from './lib/paths.ts';
import { Slug, type Config } from './lib/schema.ts';
import { UsageError } from './lib/errors.ts';
import { writeFileAtomic } from './lib/fsx.ts';
import { nowIso } from './lib/ledger.ts';
import { compileScope } from './lib/scope.ts';
import { buildReport, renderMarkdown, reportHash } from './lib/report.ts';
import {
  ChainDecision,
  DEFAULT_CHAIN_BUDGET,
  chainBudgetLine,
  chainStatusIn,
  loadChainFile,
  saveChainFile,
  withLink,
} from './lib/chain.ts';
import { currentBranch, revParse, trackedChanges } from './lib/gitcmd.ts';
import { fmt } from './lib/summary.ts';

const OPTIONS = {
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
} as const;

const num = z.coerce.number().refine(Number.isFinite, 'must be a number');
// "none" switches a limit off, as in init-experiment.
const none = z.literal('none').transform(() => null);
const Flags = z.object({
  ...CommonFlags,
  from: z.string().optional(),
  name: Slug.optional(),
  rationale: z.string().optional(),
  goal: z.string().optional(),
  metric: z.string().optional(),
  direction: z.enum(['lower', 'higher']).optional(),
  unit: z.string().optional(),
  scope: z.array(z.string().min(1, 'must not be empty')).optional(),
  command: z.string().optional(),
  checks: z.union([none, z.string()]).optional(),
  timeout: num.optional(),
  'max-runs': z.union([none, z.coerce.number().int().min(1)]).optional(),
  plateau: z.union([none, z.coerce.number().int().min(1)]).optional(),
  target: z.union([none, num]).optional(),
  'max-wall-clock': z.union([none, num]).optional(),
  budget: z.coerce.number().int().min(1).max(100).optional(),
});
type Flags = z.infer<typeof Flags>;

const HELP = `usage: chain --from SLUG --name NEW --rationale TEXT [--goal TEXT] [--metric NAME]
  [--direction lower|higher] [--unit U] [--scope GLOB]... [--command CMD] [--checks CMD|none]
  [--timeout SEC] [--max-runs N|none] [--plateau N|none] [--target X|none]
  [--max-wall-clock SEC|none] [--budget N] [--cwd DIR] [--json]
Starts a follow-up of a terminated experiment from its best; everything not given is inherited.
--budget (follow-ups allowed in the chain, default ${DEFAULT_CHAIN_BUDGET}) is set by the first follow-up only.`;

/** The child's config: the parent's, with the flags that were given. */
function childConfig(parent: Config, f: Flags, name: string): { config: Config; overrides: string[] } {
  const out: Record<string, unknown> = { ...structuredClone(parent), name };
  // Everything given on the command line overrides the parent; the rest is inherited.
  const given = configFieldsFromFlags({ ...f, name: undefined });
  Object.assign(out, given);
  const overrides = Object.keys(given);
  if (f.metric !== undefined && f.metric !== parent.metric) {
    // A new primary metric: its direction cannot be guessed, and the parent's
    // target and unit belong to the old metric.
    if (f.direction === undefined) throw new UsageError(`--direction is required when --metric changes (${parent.metric} → ${f.metric})`);
    if (f.target === undefined) out.target = null;
    if (f.unit === undefined) out.unit = '';
    // A guardrail on the new primary itself would judge it twice.
    out.guardrails = parent.guardrails.filter((g) => g.metric !== f.metric);
  }
  const config = parseConfig(out, 'follow-up config');
  if (config.checks !== null && config.checks.trim() === '') throw new UsageError('--checks must not be empty (use --checks none to drop the checks)');
  if (config.command.trim() === '') throw new UsageError('--command must not be empty');
  return { config, overrides };
}

main('chain', async (argv) => {
  const { values: f } = parseFlags(argv, OPTIONS, Flags);
  if (f.help) return void process.stdout.write(HELP + '\n');
  if (!f.from) throw new UsageError('--from is required (the terminated experiment to follow up)');
  if (!f.name) throw new UsageError('--name is required (the follow-up experiment)');
  const rationale = (f.rationale ?? '').trim();
  if (!rationale) throw new UsageError('--rationale must not be empty: write why this follow-up, grounded in the parent\'s report');

  const root = findRoot(resolveCwd(f.cwd));
  const parentSlug = resolveSlug(root, f.from);
  const childSlug = f.name;
  if (childSlug === parentSlug || listExperiments(root).includes(childSlug) || fs.existsSync(experimentPaths(root, childSlug).dir)) {
    throw new UsageError(`experiment "${childSlug}" already exists: choose another --name`);
  }

  const parent = openExperiment(root, parentSlug);
  const t = currentTermination(parent);
  if (!t.terminate) throw new UsageError(`"${parentSlug}" has not terminated (${t.message}): finish it before chaining a follow-up`);

  const chains = loadChainFile(root);
  const status = chainStatusIn(chains, parentSlug);
  if (status.child) throw new UsageError(`"${parentSlug}" already has a follow-up ("${status.child}"): chain from the end of the trail (${status.chain?.trail.at(-1) ?? status.child})`);
  if (status.remaining <= 0) {
    throw new UsageError(`chain budget exhausted (${status.used}/${status.budget} follow-ups: ${status.chain?.trail.join(' → ') ?? parentSlug}): stop cleanly (report, finalize)`);
  }
  if (status.chain && f.budget !== undefined && f.budget !== status.budget) {
    throw new UsageError(`--budget is set by the first follow-up of a chain (this chain's is ${status.budget}); leave it out`);
  }
  const budget = status.chain ? status.budget : (f.budget ?? DEFAULT_CHAIN_BUDGET);

  const { config, overrides } = childConfig(parent.config, f, childSlug);
  const s = parent.state;
  if (config.target !== null && config.metric === parent.config.metric && config.direction === parent.config.direction && s.best !== null && reached(config.direction, s.best, config.target)) {
    throw new UsageError(`the target ${fmt(config.target)} is already met by "${parentSlug}"'s best ${fmt(s.best)}: pass a new --target (or --target none)`);
  }

  let out!: Awaited<ReturnType<typeof initExperiment>>;
  let decisionFile = '';
  let reportFile = '';
  let sha = '';
  let position = 0;
  let trail: string[] = [];
  await withLock(parent, 'chain', async () => {
    // The follow-up must start from the parent's best, with nothing half-done in the tree.
    const ws = await openWorkspace(root, parent.paths, parent.config);
    if (ws.mode === 'git') {
      const head = await revParse(root, 'HEAD');
      const best = s.best_commit;
      if (!best || head !== best) {
        const branch = (await currentBranch(root)) ?? 'a detached HEAD';
        throw new UsageError(
          `HEAD (${branch} at ${head?.slice(0, 12) ?? 'no commit'}) is not the best commit of "${parentSlug}" (${best?.slice(0, 12) ?? 'unknown'}): git checkout autoloop/${parentSlug} first`,
        );
      }
      const scopes = [compileScope(parent.config.scope, parent.config.protect), compileScope(config.scope, config.protect)];
      const dirty = (await trackedChanges(root)).filter((p) => scopes.some((sc) => sc.inScope(p)));
      if ((await currentBranch(root)) === `autoloop/${parentSlug}`) dirty.push(...(await ws.changedInScope()));
      const names = [...new Set(dirty)].sort();
      if (names.length) throw new UsageError(`in-scope changes in the tree: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ` (+${names.length - 5} more)` : ''}; revert or commit them first`);
      if ((await revParse(root, `refs/heads/autoloop/${childSlug}`)) !== null) {
        throw new UsageError(`branch autoloop/${childSlug} already exists: choose another --name`);
      }
    } else {
      const dirty = await ws.changedInScope();
      if (dirty.length) throw new UsageError(`in-scope files differ from the best of "${parentSlug}": ${dirty.slice(0, 5).join(', ')}; restore them first`);
    }

    // The report the rationale answers to, frozen by its hash.
    const markdown = renderMarkdown(buildReport(parent));
    sha = reportHash(markdown);
    reportFile = path.join(parent.paths.dir, 'report.md');
    writeFileAtomic(reportFile, markdown);

    const next = withLink(chains, { parent: parentSlug, child: childSlug, created_at: nowIso(), parent_report_sha256: sha }, budget);
    position = next.link.position;
    trail = next.chain.trail;

    const childPaths = experimentPaths(root, childSlug);
    try {
      out = await initExperiment(root, config, { reason: `chain: follow-up of ${parentSlug}` });
    } catch (e) {
      // Nothing was opened: leave no half-made experiment whose name would then be taken.
      if (!fs.existsSync(childPaths.ledger)) fs.rmSync(childPaths.dir, { recursive: true, force: true });
      throw e;
    }
    decisionFile = childPaths.decision;
    const decision: ChainDecision = ChainDecision.parse({
      version: 1,
      parent: parentSlug,
      child: childSlug,
      position,
      chain_budget: budget,
      chain_remaining: Math.max(0, budget - next.chain.links.length),
      trail,
      rationale,
      parent_report_sha256: sha,
      parent_report: rel(root, reportFile),
      parent_primary: {
        name: parent.config.metric,
        direction: parent.config.direction,
        unit: parent.config.unit,
        baseline: s.baseline,
        best: s.best,
        best_commit: s.best_commit,
        terminated_by: t.by,
      },
      child_primary: { name: config.metric, direction: config.direction, unit: config.unit },
      child_goal: config.goal,
      child_scope: config.scope,
      overrides,
      created_at: next.link.created_at,
    });
    writeFileAtomic(decisionFile, JSON.stringify(decision, null, 2) + '\n');
    // Read-only: the reason for a follow-up is a record, not a draft.
    fs.chmodSync(decisionFile, 0o444);

    saveChainFile(root, next.file);
    event(parent, 'chain', { child: childSlug, position, report_sha256: sha, decision: rel(root, decisionFile) });
  });

  const after = chainStatusIn(loadChainFile(root), childSlug);
  const inherited = ['command', 'checks', 'timeout', 'scope', 'goal', 'metric', 'max_runs', 'plateau', 'target', 'max_wall_clock'].filter((k) => !overrides.includes(k));
  const data = {
    parent: parentSlug,
    child: childSlug,
    position,
    trail,
    budget,
    remaining: after.remaining,
    mode: out.mode,
    branch: out.branch,
    base: out.base,
    parent_best: s.best,
    overrides,
    decision: rel(root, decisionFile),
    parent_report: rel(root, reportFile),
    parent_report_sha256: sha,
    next_action: 'run-experiment for the baseline, then log-experiment --description baseline',
  };
  emit(
    f.json,
    data,
    [
      `follow-up ${childSlug} started from ${parentSlug} (chain position ${position}: ${trail.join(' → ')})`,
      `${out.mode === 'git' ? `branch ${out.branch} from ${out.base.slice(0, 12)}` : `snapshot ${out.base}`} (the parent's best: ${config.metric === parent.config.metric ? fmt(s.best) : `${parent.config.metric} ${fmt(s.best)}`})`,
      `overridden: ${overrides.length ? overrides.join(', ') : 'nothing'}; inherited: ${inherited.join(', ') || 'the rest'}`,
      `decision: ${data.decision} (read-only; parent report ${data.parent_report} sha256 ${sha.slice(0, 12)})`,
      chainBudgetLine(after),
      `next: ${data.next_action}`,
    ].join('\n'),
  );
});
