// run-experiment: measure the working tree, or with --description make the whole
// iteration in one call (commands/run-experiment.ts).
import { main, parseFlags } from './lib/cli.ts';
import { RUN_OPTIONS, RUN_USAGE, RunFlags, runExperimentCommand } from './lib/commands/run-experiment.ts';

main('run-experiment', async (argv) => {
  const { values: f } = parseFlags(argv, RUN_OPTIONS, RunFlags);
  if (f.help) return void process.stdout.write(RUN_USAGE);
  return runExperimentCommand(f);
});
