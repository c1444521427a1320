// init-experiment: create an experiment, or open a new segment of an existing
// one (commands/init-experiment.ts).
import { emit, main, parseFlags } from './lib/cli.ts';
import { INIT_HELP, INIT_OPTIONS, InitFlags, initCommand } from './lib/commands/init-experiment.ts';

main('init-experiment', async (argv) => {
  const { values: f } = parseFlags(argv, INIT_OPTIONS, InitFlags);
  if (f.help) return void process.stdout.write(INIT_HELP + '\n');
  const { data, text } = await initCommand(f);
  emit(f.json, data, text);
});
