// candidate: parallel mode's candidates (start, list, close; commands/candidate.ts).
import * as z from './lib/zod.ts';
import { CommonFlags, emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import { findRoot, openExperiment, resolveSlug } from './lib/experiment.ts';
import { UsageError } from './lib/errors.ts';
import { CANDIDATE_COMMANDS, candidateCommand, type CandidateCommand } from './lib/commands/candidate.ts';

const OPTIONS = { experiment: { type: 'string' }, reason: { type: 'string' } } as const;
const Flags = z.object({ ...CommonFlags, experiment: z.optional(z.string()), reason: z.optional(z.string().check(z.maxLength(500))) });
const USAGE = `usage: candidate start|list|close [ID] [--reason TEXT] [--experiment SLUG] [--cwd DIR] [--json]\n`;

main('candidate', async (argv) => {
  const { values: f, positionals } = parseFlags(argv, OPTIONS, Flags, { positionals: true });
  const cmd = positionals[0] as CandidateCommand | undefined;
  if (f.help || !cmd) {
    process.stdout.write(USAGE);
    return f.help ? 0 : 2;
  }
  if (!CANDIDATE_COMMANDS.includes(cmd)) throw new UsageError(`unknown command "${cmd}" (expected ${CANDIDATE_COMMANDS.join(', ')})`);
  const max = cmd === 'close' ? 2 : 1;
  if (positionals.length > max) throw new UsageError(`unexpected argument "${positionals[max]}"`);
  const root = findRoot(resolveCwd(f.cwd));
  const exp = openExperiment(root, resolveSlug(root, f.experiment));
  const { data, text } = await candidateCommand(exp, cmd, { id: positionals[1], reason: f.reason });
  emit(f.json, data, text);
});
