// status: at most 10 lines on where the experiment stands (or --json), or
// every experiment of the repository (--list; commands/status.ts).
import { emit, main, parseFlags } from './lib/cli.ts';
import { STATUS_HELP, STATUS_OPTIONS, StatusFlags, statusCommand } from './lib/commands/status.ts';

main('status', async (argv) => {
  const { values: f } = parseFlags(argv, STATUS_OPTIONS, StatusFlags);
  if (f.help) return void process.stdout.write(STATUS_HELP);
  const { data, text } = await statusCommand(f);
  emit(f.json, data, text);
});
