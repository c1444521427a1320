// npm run demo [-- NAME]: the loop, working, with no model. Copies
// examples/NAME (default: primes) into a temporary git repository and drives
// the real engine through the example's scripted candidate changes
// (examples/NAME/steps/*.patch); exits non-zero unless every step got the
// verdict its demo.yaml tells and the loop terminated as told (demo/main.ts).
import { main } from './lib/cli.ts';
import { demoCommand } from './demo/main.ts';

main('demo', (argv) => demoCommand(argv));
