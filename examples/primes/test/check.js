// Correctness checks: a faster countPrimes must still be right.
import { countPrimes } from '../src/primes.js';

const cases = [[2, 0], [3, 1], [10, 4], [100, 25], [1000, 168], [7919, 999]];
for (const [n, want] of cases) {
  const got = countPrimes(n);
  if (got !== want) {
    console.error(`countPrimes(${n}) = ${got}, expected ${want}`);
    process.exit(1);
  }
}
console.log(`checks passed (${cases.length} cases)`);
