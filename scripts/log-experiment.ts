// log-experiment: record the last measured run and act on it (commands/log.ts).
// The verdict is decided in code; the caller can only describe the change or
// throw it away (--discard).
import * as z from './lib/zod.ts';
import { CommonFlags, emitForModel as emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import { findRoot, openExperiment, resolveSlug } from './lib/experiment.ts';
import { UsageError } from './lib/errors.ts';
import { logCommand, logOutput } from './lib/commands/log.ts';
import { parseEvidence } from './lib/analysis.ts';
import { logCandidateCommand } from './lib/commands/candidate-log.ts';
import { candidateAt } from './lib/candidates/store.ts';
import { DESCRIBE_OPTIONS, DescribeFlags } from './lib/log-flags.ts';

const OPTIONS = {
  experiment: { type: 'string' },
  candidate: { type: 'string' },
  ...DESCRIBE_OPTIONS,
  discard: { type: 'boolean', default: false },
} as const;
const Flags = z.object({
  ...CommonFlags,
  experiment: z.optional(z.string()),
  candidate: z.optional(z.string()),
  ...DescribeFlags,
  discard: z.boolean(),
});

main('log-experiment', async (argv) => {
  const { values: f } = parseFlags(argv, OPTIONS, Flags);
  if (f.help) return void process.stdout.write('usage: log-experiment --description TEXT [--hypothesis TEXT] [--evidence FILE[:WHAT]]... [--discard] [--candidate ID] [--experiment SLUG] [--cwd DIR] [--json]\n');
  if (!f.description) throw new UsageError('--description is required');
  const cwd = resolveCwd(f.cwd);
  const root = findRoot(cwd);
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  const evidence = (f.evidence ?? []).map((e) => parseEvidence(root, e));
  const input = { description: f.description, hypothesis: f.hypothesis, evidence, discard: f.discard };
  const candidate = f.candidate ?? candidateAt(exp.paths, cwd)?.id;
  if (!candidate) {
    const { data, text } = logOutput(exp, await logCommand(exp, input));
    return emit(f.json, data, text);
  }
  const r = await logCandidateCommand(exp, candidate, input);
  if (r.kind === 'rebased') {
    const text = `${r.candidate} ${r.run_id} not logged: the best moved to ${r.best_run} while it was measured; the change was rebased onto it. Measure it again: run-experiment --candidate ${r.candidate}`;
    return emit(f.json, { ...r, verdict: null, next_action: `run-experiment --candidate ${r.candidate}` }, text);
  }
  const { data, text } = logOutput(exp, r);
  const left = r.leftInMainTree.length ? `main tree: left your uncommitted ${r.leftInMainTree.join(' ')} as they were (they now differ from the best)` : '';
  emit(f.json, { ...data, candidate: r.candidate, stale: r.stale, closed: true, ...(left ? { main_tree_left: r.leftInMainTree } : {}) }, [`candidate ${r.candidate} closed`, text, left].filter(Boolean).join('\n'));
});
