// log-experiment: record the last measured run and act on it (commands/log.ts).
// The verdict is decided in code; the caller can only describe the change or
// throw it away (--discard).
import { z } from 'zod';
import { CommonFlags, emitForModel as emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import { findRoot, openExperiment, resolveSlug } from './lib/experiment.ts';
import { UsageError } from './lib/errors.ts';
import { logCommand, logOutput } from './lib/commands/log.ts';
import { parseEvidence } from './lib/analysis.ts';

const OPTIONS = {
  experiment: { type: 'string' },
  description: { type: 'string', short: 'd' },
  hypothesis: { type: 'string' },
  discard: { type: 'boolean', default: false },
  evidence: { type: 'string', multiple: true },
} as const;
const Flags = z.object({
  ...CommonFlags,
  experiment: z.string().optional(),
  description: z.string().trim().min(1, 'must describe the change').max(500).optional(),
  hypothesis: z.string().max(1000).optional(),
  discard: z.boolean(),
  evidence: z.array(z.string().min(1, 'must be FILE or FILE:WHAT')).max(20).optional(),
});

main('log-experiment', async (argv) => {
  const { values: f } = parseFlags(argv, OPTIONS, Flags);
  if (f.help) return void process.stdout.write('usage: log-experiment --description TEXT [--hypothesis TEXT] [--evidence FILE[:WHAT]]... [--discard] [--experiment SLUG] [--cwd DIR] [--json]\n');
  if (!f.description) throw new UsageError('--description is required');
  const root = findRoot(resolveCwd(f.cwd));
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  const evidence = (f.evidence ?? []).map((e) => parseEvidence(root, e));
  const result = await logCommand(exp, { description: f.description, hypothesis: f.hypothesis, evidence, discard: f.discard });
  const { data, text } = logOutput(exp, result);
  emit(f.json, data, text);
});
