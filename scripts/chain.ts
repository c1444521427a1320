// chain: start a follow-up experiment from a terminated one (commands/chain.ts).
import { emit, main, parseFlags, resolveCwd } from './lib/cli.ts';
import { findRoot } from './lib/experiment.ts';
import { CHAIN_HELP, CHAIN_OPTIONS, ChainFlags, chainCommand } from './lib/commands/chain.ts';

main('chain', async (argv) => {
  const { values: f } = parseFlags(argv, CHAIN_OPTIONS, ChainFlags);
  if (f.help) return void process.stdout.write(CHAIN_HELP + '\n');
  const root = findRoot(resolveCwd(f.cwd));
  const { data, text } = await chainCommand(root, f);
  emit(f.json, data, text);
});
