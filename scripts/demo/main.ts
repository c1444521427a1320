// The demo command (npm run demo [-- NAME]): its flags, and one bundled example
// run (run.ts) or the list of them. A development tool, not bundled into dist/.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../lib/errors.ts';
import { listExamples, loadExample } from './spec.ts';
import { runDemo } from './run.ts';

/** The repository: examples/ and dist/ are read from it. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const HELP = `usage: npm run demo [-- NAME]   run one bundled example (default: primes)
       npm run demo -- --list     the examples`;

/** The exit code: 0 when every step got the verdict the example's demo.yaml tells. */
export function demoCommand(argv: readonly string[]): number {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, options: { list: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
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
}
