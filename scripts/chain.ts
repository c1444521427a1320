// chain: start a follow-up experiment from a terminated one (commands/chain.ts).
import { emit, main, parseFlags } from './lib/cli.ts';
import { CHAIN_HELP, CHAIN_OPTIONS, ChainFlags, chainCommand } from './lib/commands/chain.ts';

main('chain', async (argv) => {
  const { values: f } = parseFlags(argv, CHAIN_OPTIONS, ChainFlags);
  if (f.help) return void process.stdout.write(CHAIN_HELP + '\n');
  const { data, text } = await chainCommand(f);
  emit(f.json, data, text);
});
