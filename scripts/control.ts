// control: the user's levers on a loop (stop, resume, explain, repair, clear;
// commands/control.ts).
import { emit, main, parseFlags, usage } from './lib/cli.ts';
import { CONTROL_OPTIONS, CONTROL_USAGE, ControlFlags, controlFromArgs } from './lib/commands/control.ts';

main('control', async (argv) => {
  const { values: f, positionals } = parseFlags(argv, CONTROL_OPTIONS, ControlFlags, { positionals: true });
  if (f.help || !positionals[0]) return usage(CONTROL_USAGE, f.help);
  const { data, text } = await controlFromArgs(f, positionals);
  emit(f.json, data, text);
});
