// What log-experiment does with its flags: record the last measured run and act
// on it (commands/log.ts), or, in parallel mode, a candidate's (commands/candidate-log.ts).
// The verdict is decided in code; the caller can only describe the change or
// throw it away (--discard).
import * as z from '../zod.ts';
import { CommonFlags, resolveCwd } from '../cli.ts';
import { findRoot, openExperiment, requireSegment, resolveSlug } from '../experiment.ts';
import { UsageError } from '../errors.ts';
import { logCommand, logOutput } from './log.ts';
import { parseEvidence } from '../analysis.ts';
import { logCandidateCommand } from './candidate-log.ts';
import { candidateAt } from '../candidates/store.ts';
import { DESCRIBE_OPTIONS, DescribeFlags } from '../log-flags.ts';

export const LOG_OPTIONS = {
  experiment: { type: 'string' },
  candidate: { type: 'string' },
  ...DESCRIBE_OPTIONS,
  discard: { type: 'boolean', default: false },
} as const;
export const LogFlags = z.object({
  ...CommonFlags,
  experiment: z.optional(z.string()),
  candidate: z.optional(z.string()),
  ...DescribeFlags,
  discard: z.boolean(),
});
export const LOG_USAGE = 'usage: log-experiment --description TEXT [--hypothesis TEXT] [--evidence FILE[:WHAT]]... [--discard] [--candidate ID] [--experiment SLUG] [--cwd DIR] [--json]\n';

/** Log the run (the main tree's, or a candidate's) with the caller's description; the answer for the model. */
export async function logExperimentCommand(f: z.infer<typeof LogFlags>): Promise<{ data: unknown; text: string }> {
  if (!f.description) throw new UsageError('--description is required');
  const cwd = resolveCwd(f.cwd);
  const root = findRoot(cwd);
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  requireSegment(exp);
  const evidence = (f.evidence ?? []).map((e) => parseEvidence(root, e));
  const input = { description: f.description, hypothesis: f.hypothesis, evidence, discard: f.discard };
  const candidate = f.candidate ?? candidateAt(exp.paths, cwd)?.id;
  if (!candidate) return logOutput(exp, await logCommand(exp, input));
  const r = await logCandidateCommand(exp, candidate, input);
  if (r.kind === 'rebased') {
    const text = `${r.candidate} ${r.run_id} not logged: the best moved to ${r.best_run} while it was measured; the change was rebased onto it. Measure it again: run-experiment --candidate ${r.candidate}`;
    return { data: { ...r, verdict: null, next_action: `run-experiment --candidate ${r.candidate}` }, text };
  }
  const { data, text } = logOutput(exp, r);
  const left = r.leftInMainTree.length ? `main tree: left your uncommitted ${r.leftInMainTree.join(' ')} as they were (they now differ from the best)` : '';
  return {
    data: { ...data, candidate: r.candidate, stale: r.stale, closed: true, ...(left ? { main_tree_left: r.leftInMainTree } : {}) },
    text: [`candidate ${r.candidate} closed`, text, left].filter(Boolean).join('\n'),
  };
}
