// The judge. Prints the work done (deterministic) and the time (noisy).
import { countPrimes, opsUsed } from '../src/primes.js';

const started = performance.now();
const found = countPrimes(20000);
const ms = performance.now() - started;
if (found !== 2262) {
  console.error(`wrong answer: ${found} primes below 20000, expected 2262`);
  process.exit(1);
}
console.log(`METRIC ops=${opsUsed()}`);
console.log(`METRIC time_ms=${ms.toFixed(2)}`);
