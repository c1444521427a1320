// status: at most 10 lines on where the experiment stands (or --json), or
// every experiment of the repository (--list; commands/status.ts).
import { emit, main, parseFlags } from './lib/cli.ts';
import { STATUS_HELP, STATUS_OPTIONS, StatusFlags, statusCommand } from './lib/commands/status.ts';
import { sanitizeLine } from './lib/sanitize.ts';

main('status', async (argv) => {
  const { values: f } = parseFlags(argv, STATUS_OPTIONS, StatusFlags);
  if (f.help) return void process.stdout.write(STATUS_HELP);
  try {
    const { data, text } = await statusCommand(f);
    emit(f.json, data, text);
  } catch (e) {
    // /autoloop:run and /autoloop:chain inject this output with `!`: a non-zero exit would abort the
    // command ("Shell command failed"), so the model never reads the state its first step acts on
    // (no experiment: /autoloop:setup; several and none active; an init cut off).
    if (!f['exit-zero']) throw e;
    process.stdout.write(`status: ${sanitizeLine((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '')}\n`);
  }
});
