// control: the user's levers on a loop (stop, resume, explain, repair, clear;
// commands/control.ts).
import * as z from './lib/zod.ts';
import { CommonFlags, emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import { findRoot } from './lib/experiment.ts';
import { UsageError } from './lib/errors.ts';
import { CONTROL_COMMANDS, controlCommand, type ControlCommand } from './lib/commands/control.ts';

const OPTIONS = { experiment: { type: 'string' }, reason: { type: 'string' } } as const;
const Flags = z.object({
  ...CommonFlags,
  experiment: z.optional(z.string()),
  reason: z.optional(z.string()),
});

main('control', async (argv) => {
  const { values: f, positionals } = parseFlags(argv, OPTIONS, Flags, { positionals: true });
  const cmd = positionals[0] as ControlCommand | undefined;
  if (f.help || !cmd) {
    process.stdout.write(`usage: control ${CONTROL_COMMANDS.join('|')} [--experiment SLUG] [--reason TEXT] [--cwd DIR] [--json]\n`);
    return f.help ? 0 : 2;
  }
  if (!CONTROL_COMMANDS.includes(cmd)) throw new UsageError(`unknown command "${cmd}" (expected ${CONTROL_COMMANDS.join(', ')})`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  const root = findRoot(resolveCwd(f.cwd));
  const { data, text } = await controlCommand(root, cmd, f);
  emit(f.json, data, text);
});
