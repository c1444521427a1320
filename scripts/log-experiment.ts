// log-experiment: record the last measured run and act on it
// (commands/log-experiment.ts). The verdict is decided in code.
import { emitForModel, main, parseFlags } from './lib/cli.ts';
import { LOG_OPTIONS, LOG_USAGE, LogFlags, logExperimentCommand } from './lib/commands/log-experiment.ts';

main('log-experiment', async (argv) => {
  const { values: f } = parseFlags(argv, LOG_OPTIONS, LogFlags);
  if (f.help) return void process.stdout.write(LOG_USAGE);
  const { data, text } = await logExperimentCommand(f);
  emitForModel(f.json, data, text);
});
