// finalize: put an experiment's kept changes on a new branch for review
// (autoloop/<slug>-final, or --branch), one commit per kept change with its
// measured effect, or one squashed commit (--squash); and write the report
// beside the experiment. --chain replays the whole chain up to this experiment.
// Git mode only: a snapshot-mode experiment is refused.
import * as z from './lib/zod.ts';
import { CommonFlags, emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import { findRoot, openExperiment, resolveSlug } from './lib/experiment.ts';
import { finalizeExperiment } from './lib/finalize.ts';
import { rel } from './lib/paths.ts';
import { bestArtifactsLine } from './lib/artifacts.ts';

const OPTIONS = {
  experiment: { type: 'string' },
  branch: { type: 'string' },
  squash: { type: 'boolean', default: false },
  chain: { type: 'boolean', default: false },
} as const;
const Flags = z.object({
  ...CommonFlags,
  experiment: z.optional(z.string()),
  branch: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
  squash: z.boolean(),
  chain: z.boolean(),
});

main('finalize', async (argv) => {
  const { values: f } = parseFlags(argv, OPTIONS, Flags);
  if (f.help) return void process.stdout.write('usage: finalize [--experiment SLUG] [--branch NAME] [--squash] [--chain] [--cwd DIR] [--json]\n--chain replays the kept changes of the whole chain up to this experiment, from the root\'s starting point.\n');
  const root = findRoot(resolveCwd(f.cwd));
  // Read, not folded further (finalize logs nothing): the primaries' count and spread, as report reads them, not 100,000 values.
  const exp = openExperiment(root, resolveSlug(root, f.experiment), { shown: true });
  const r = await finalizeExperiment(exp, { branch: f.branch, squash: f.squash, chain: f.chain });
  const report = rel(root, r.report);
  // A long history can skip thousands (baselines, keeps with no commit of their own): the first few are listed, all counted.
  const { skipped } = r;
  const more = r.skipped_total - skipped.length;
  const artifacts = bestArtifactsLine(exp);
  const artifactsLine = artifacts ? [`best artifacts: ${artifacts.dir}/ (${artifacts.run_id}: ${artifacts.files.slice(0, 5).join(' ')}${artifacts.files.length > 5 ? ' …' : ''})`] : [];
  const text = r.branch
    ? [
        `branch ${r.branch} created from ${r.base.slice(0, 12)}${r.experiments.length > 1 ? ` (chain ${r.experiments.join(' → ')})` : ''} with ${r.commits.length} commit${r.commits.length === 1 ? '' : 's'}${r.squash ? ' (squashed)' : ''}; your branch (${r.user_branch ?? 'detached HEAD'}) is untouched`,
        ...r.commits.map((c) => `  ${c.sha.slice(0, 12)} ${c.subject}`),
        ...(skipped.length ? [`skipped: ${skipped.map((s) => `${r.experiments.length > 1 ? `${s.experiment} ` : ''}${s.run_id} (${s.reason})`).join(', ')}${more ? ` (+${more} more)` : ''}`] : []),
        `report: ${report}`,
        ...artifactsLine,
        `review: git log --stat ${r.base.slice(0, 12)}..${r.branch}`,
      ]
    : [`no kept change to put on a branch (nothing created)`, `report: ${report}`, ...artifactsLine];
  // skipped_total after user_branch, as the output always had it.
  const { skipped_total, ...rest } = r;
  emit(f.json, { ...rest, report, skipped_total, best_artifacts: artifacts }, text.join('\n'));
});
