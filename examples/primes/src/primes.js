// Counts the primes below n by trial division. Deliberately naive.
let ops = 0;

export function countPrimes(n) {
  let count = 0;
  for (let i = 2; i < n; i++) {
    let prime = true;
    for (let d = 2; d < i; d++) {
      ops++;
      if (i % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

// Number of divisions performed so far: a deterministic measure of work.
export function opsUsed() {
  return ops;
}
