// candidate: parallel mode's candidates (start, list, close; commands/candidate.ts).
import { emit, main, parseFlags, usage } from './lib/cli.ts';
import { CANDIDATE_OPTIONS, CANDIDATE_USAGE, CandidateFlags, candidateFromArgs } from './lib/commands/candidate.ts';

main('candidate', async (argv) => {
  const { values: f, positionals } = parseFlags(argv, CANDIDATE_OPTIONS, CandidateFlags, { positionals: true });
  if (f.help || !positionals[0]) return usage(CANDIDATE_USAGE, f.help);
  const { data, text } = await candidateFromArgs(f, positionals);
  emit(f.json, data, text);
});
