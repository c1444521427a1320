// A benchmark with seeded, reproducible noise for engine tests whose subject
// is the engine's decisions, not the benchmark. Its n-th invocation (a
// counter outside the repository, so both arms share one stream) prints a
// metric computed from src/value.txt and the n-th Gaussian of the seed.
// The Gaussians are computed here, once, into a file beside the counter; the
// benchmark is sh and one awk (~2 ms of CPU a sample, where a node start cost
// ~50 ms). They are the stream of the node benchmarks this replaced, and awk
// does the same double arithmetic and prints 17 digits: the engine reads the
// very same values, so the tests decide exactly as before.
import fs from 'node:fs';
import path from 'node:path';
import { gaussian, mulberry32 } from './prng.ts';
import { tmpDir } from './tmp.ts';

/** The n-th standard Gaussian of `seed` (mulberry32 from a hash of seed and n, Box-Muller). */
export function seededGaussian(seed: number, n: number): number {
  return gaussian(mulberry32(seed * 100003 + n * 2654435761))();
}

/**
 * bench.sh: prints `METRIC <metric>=<expr>`, expr an awk expression of v (the
 * number in src/value.txt) and g (this invocation's Gaussian). More than
 * `invocations` invocations fail loudly (exit 2), never reuse the stream.
 */
export function seededBench(seed: number, metric: string, expr: string, invocations = 2000): string {
  const dir = tmpDir('autoloop-seeded-bench-');
  const counter = path.join(dir, 'n');
  const noise = path.join(dir, 'g');
  fs.writeFileSync(noise, Array.from({ length: invocations }, (_, n) => String(seededGaussian(seed, n))).join('\n') + '\n');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `n=0
if [ -f ${q(counter)} ]; then read -r n < ${q(counter)}; fi
echo $((n + 1)) > ${q(counter)}
exec awk -v n="$n" 'BEGIN { getline v < "src/value.txt"; v += 0 }
NR == n + 1 { g = $1 + 0; printf "METRIC ${metric}=%.17g\\n", ${expr}; found = 1; exit }
END { if (!found) { print "bench.sh: no Gaussian for invocation " n > "/dev/stderr"; exit 2 } }' ${q(noise)}
`;
}
