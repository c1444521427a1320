// status: at most 10 lines on where the experiment stands (or --json), or
// every experiment of the repository (--list).
import path from 'node:path';
import * as z from './lib/zod.ts';
import { CommonFlags, emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import { currentTermination, findRoot, loggingFirst, measuredNotLogged, openExperiment, resolveSlug } from './lib/experiment.ts';
import { experimentBranch, experimentRows, rowsText, treeVsBest } from './lib/commands/status.ts';
import { bestArtifactsLine } from './lib/artifacts.ts';
import { rel, runId } from './lib/paths.ts';
import { nextAction } from './lib/next-action.ts';
import { bestGuardrailChecks } from './lib/judge-run.ts';
import { guardrailStatusLine } from './lib/guardrails.ts';
import { containment, describeContainment } from './lib/runners/containment.ts';
import { readOnlyWorks } from './lib/runners/readonly.ts';
import { confidenceOf, gainPct, loopState } from './lib/reduce.ts';
import { bestLine, countsLine, healthLine, progressLine, recentLines } from './lib/summary.ts';
import { relaunchText } from './lib/supervisor/view.ts';
import { parallelLines, parallelStatus } from './lib/candidates/status.ts';

const OPTIONS = { experiment: { type: 'string' }, last: { type: 'string' }, list: { type: 'boolean', default: false } } as const;
const Flags = z.object({
  ...CommonFlags,
  experiment: z.optional(z.string()),
  list: z.boolean(),
  last: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(20)), 3),
});

main('status', async (argv) => {
  const { values: f } = parseFlags(argv, OPTIONS, Flags);
  if (f.help) return void process.stdout.write('usage: status [--experiment SLUG] [--last N] [--list] [--cwd DIR] [--json]\n--list: every experiment in the repository with its state, best and branch (* = active).\n');
  const root = findRoot(resolveCwd(f.cwd));
  if (f.list) {
    const rows = experimentRows(root);
    return emit(f.json, { experiments: rows }, rowsText(rows));
  }
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  const t = currentTermination(exp);
  // null: another experiment's branch is checked out; the ledger still says where this one stands.
  const dirty = await treeVsBest(exp);
  const branch = experimentBranch(exp);
  const artifacts = bestArtifactsLine(exp);
  const scratch = rel(root, path.join(exp.paths.scratch, runId(Math.max(1, exp.state.next_run))));
  const s = exp.state;
  const conf = confidenceOf(s);
  const par = parallelStatus(exp);
  // The local runner's containment on this machine (probed; another runner contains its own work).
  const local = (exp.config.runner ?? 'local') === 'local' ? containment() : null;
  const held = local === 'pidns' && readOnlyWorks() ? 'readonly' : local;
  // A call cut off between measuring and logging: that run is logged before anything else.
  const pending = measuredNotLogged(exp);
  const next = pending ? loggingFirst(pending) : nextAction(s);
  if (f.json) {
    return emit(true, {
      experiment: exp.paths.slug,
      segment: s.segment,
      loop: loopState(s, t),
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
      best_artifacts: artifacts,
      scratch,
      recent: s.recent.slice(-f.last),
      relaunches: s.relaunches ?? null,
      candidates: par.candidates,
      long_queue: par.long_queue,
      warnings: exp.warnings,
      containment: held,
    }, '');
  }
  const relaunch = relaunchText(s.relaunches);
  const lines = [
    `experiment ${exp.paths.slug} (segment ${s.segment}, ${loopState(s, t)})${exp.config.goal ? `: ${exp.config.goal.slice(0, 80)}` : ''}`,
    bestLine(exp),
    countsLine(exp),
    healthLine(exp) + `; next: ${t.terminate ? '/autoloop:chain' : next}`,
    progressLine(t),
    ...parallelLines(par, exp.config.parallel),
    guardrailStatusLine(bestGuardrailChecks(exp.config, s)) ?? '',
    ...(relaunch ? [relaunch] : []),
    ...(held ? [`containment: ${describeContainment(held)}`] : []),
    dirty === null
      ? `${branch} is not checked out (the tree belongs to another experiment)`
      : dirty.length
        ? `tree differs from best: ${dirty.slice(0, 4).join(' ')}${dirty.length > 4 ? ' …' : ''}`
        : 'tree is at the best',
    ...recentLines(exp, Math.min(f.last, relaunch ? 3 : 4)),
  ];
  if (artifacts) lines.splice(2, 0, `best artifacts: ${artifacts.dir}/`);
  if (exp.warnings.length) lines.push(`warning: ${exp.warnings[0]}`);
  emit(false, null, lines.filter(Boolean).slice(0, 10).join('\n'));
});
