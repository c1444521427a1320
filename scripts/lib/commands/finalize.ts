// The finalize command: put an experiment's kept changes on a new branch for
// review (autoloop/<slug>-final, or --branch), one commit per kept change with
// its measured effect, or one squashed commit (--squash); and write the report
// beside the experiment. --chain replays the whole chain up to this experiment.
// Git mode only: a snapshot-mode experiment is refused (lib/finalize.ts does the work).
import * as z from '../zod.ts';
import { CommonFlags, resolveCwd } from '../cli.ts';
import { currentTermination, findRoot, openExperiment, resolveSlug } from '../experiment.ts';
import { loopState } from '../reduce.ts';
import { finalizeExperiment } from '../finalize.ts';
import { rel } from '../paths.ts';
import { bestArtifactsLine } from '../artifacts.ts';

export const FINALIZE_OPTIONS = {
  experiment: { type: 'string' },
  branch: { type: 'string' },
  squash: { type: 'boolean', default: false },
  chain: { type: 'boolean', default: false },
} as const;
export const FinalizeFlags = z.object({
  ...CommonFlags,
  experiment: z.optional(z.string()),
  branch: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
  squash: z.boolean(),
  chain: z.boolean(),
});

export const FINALIZE_USAGE = 'usage: finalize [--experiment SLUG] [--branch NAME] [--squash] [--chain] [--cwd DIR] [--json]\n--chain replays the kept changes of the whole chain up to this experiment, from the root\'s starting point.\n';

/** Build the review branch and the report; what was made and what was skipped. */
export async function finalizeCommand(f: z.infer<typeof FinalizeFlags>): Promise<{ data: unknown; text: string }> {
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
  // A loop that has not terminated is finalized as it stands (nothing of the user's moves), said in one line first.
  const t = currentTermination(exp);
  const loop = loopState(exp.state, t);
  const warning = t.terminate
    ? null
    : `"${exp.paths.slug}" is ${loop === 'active' ? 'still active' : loop} (not terminated: ${t.message.replace(/^continuing: /, '')}): ${
        r.branch ? `${r.branch} holds the changes kept so far; after more keeps, finalize again with --branch NAME` : 'finalize again once it has kept a change'
      }`;
  const text = r.branch
    ? [
        `branch ${r.branch} ${r.existed ? 'already held these kept changes (finalized before; nothing created), from' : 'created from'} ${r.base.slice(0, 12)}${r.experiments.length > 1 ? ` (chain ${r.experiments.join(' → ')})` : ''} with ${r.commits.length} commit${r.commits.length === 1 ? '' : 's'}${r.squash ? ' (squashed)' : ''}; your branch (${r.user_branch ?? 'detached HEAD'}) is untouched`,
        ...r.commits.map((c) => `  ${c.sha.slice(0, 12)} ${c.subject}`),
        ...(skipped.length ? [`skipped: ${skipped.map((s) => `${r.experiments.length > 1 ? `${s.experiment} ` : ''}${s.run_id} (${s.reason})`).join(', ')}${more ? ` (+${more} more)` : ''}`] : []),
        `report: ${report}`,
        ...artifactsLine,
        `review: git log --stat ${r.base.slice(0, 12)}..${r.branch}`,
      ]
    : [`no kept change to put on a branch (nothing created)`, `report: ${report}`, ...artifactsLine];
  // skipped_total after user_branch, as the output always had it.
  const { skipped_total, ...rest } = r;
  return { data: { loop, warning, ...rest, report, skipped_total, best_artifacts: artifacts }, text: [...(warning ? [`warning: ${warning}`] : []), ...text].join('\n') };
}
