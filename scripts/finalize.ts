// finalize: put an experiment's kept changes on a new branch for review, and
// write its report (commands/finalize.ts).
import { emit, main, parseFlags } from './lib/cli.ts';
import { FINALIZE_OPTIONS, FINALIZE_USAGE, FinalizeFlags, finalizeCommand } from './lib/commands/finalize.ts';

main('finalize', async (argv) => {
  const { values: f } = parseFlags(argv, FINALIZE_OPTIONS, FinalizeFlags);
  if (f.help) return void process.stdout.write(FINALIZE_USAGE);
  const { data, text } = await finalizeCommand(f);
  emit(f.json, data, text);
});
