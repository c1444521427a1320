// diagnose: run the experiment's own benchmark (or checks) outside the ledger,
// optionally under a profiler (commands/diagnose.ts).
import { emit, main, parseFlags } from './lib/cli.ts';
import { DIAGNOSE_HELP, DIAGNOSE_OPTIONS, DiagnoseFlags, diagnoseCommand } from './lib/commands/diagnose.ts';

main('diagnose', async (argv) => {
  const { values: f } = parseFlags(argv, DIAGNOSE_OPTIONS, DiagnoseFlags);
  if (f.help) return void process.stdout.write(DIAGNOSE_HELP + '\n');
  const { data, text } = await diagnoseCommand(f);
  emit(f.json, data, text);
});
