// npm run demo [-- NAME]: the loop, working, with no model. Copies
// examples/NAME (default: primes) into a temporary git repository and drives
// the real engine through the example's scripted candidate changes
// (examples/NAME/steps/*.patch); exits non-zero unless every step got the
// verdict its demo.yaml tells and the loop terminated as told.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { main } from './lib/cli.ts';
import { UsageError } from './lib/errors.ts';
import { listExamples, loadExample } from './demo/spec.ts';
import { runDemo } from './demo/run.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const HELP = `usage: npm run demo [-- NAME]   run one bundled example (default: primes)
       npm run demo -- --list     the examples`;

main('demo', (argv) => {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { list: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    throw new UsageError(`${e instanceof Error ? e.message : String(e)} (see npm run demo -- --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.list) {
    for (const name of listExamples(ROOT)) console.log(`${name}\tnpm run demo -- ${name}`);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`one example at a time (got ${positionals.join(', ')})`);
  return runDemo(ROOT, loadExample(ROOT, positionals[0] ?? 'primes'));
});
