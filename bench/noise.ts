// Measured rates of the decision model (scripts/lib/sampling.ts) on every noise
// family, through the same code the engine calls, beside the strict "better
// than the best" rule other tools use (one sample each, keep if better).
//   npx tsx bench/noise.ts            (TRIALS=1000 SEED=1 by default)
// Columns: false keeps of a change with no effect, true keeps of a real 5%
// improvement (lower is better), each with its Wilson 95% interval, and the
// mean benchmark invocations per decision (best + candidate re-measured).
import { DETERMINISTIC, FAMILIES, rate, strictTrial, trial, wilson, type Family } from '../test/helpers/families.ts';
import { mulberry32 } from '../test/helpers/prng.ts';

const TRIALS = Number(process.env.TRIALS ?? 1000);
const SEED = Number(process.env.SEED ?? 1);

const p = (x: number) => (100 * x).toFixed(1).padStart(5);
const ci = (k: number, n: number) => {
  const [a, b] = wilson(k, n);
  return `${p(k / n)}% [${p(a)},${p(b)}]`;
};

function row(f: Family, i: number, cost_s: number): { line: string; inv: number } {
  const u1 = mulberry32(SEED * 1000 + 2 * i);
  const u2 = mulberry32(SEED * 1000 + 2 * i + 1);
  const n0 = rate(() => trial(f, u1, 0, { cost_s }), TRIALS);
  const n5 = rate(() => trial(f, u2, 0.05, { cost_s }), TRIALS);
  const s0 = rate(() => strictTrial(f, u1, 0), TRIALS);
  const s5 = rate(() => strictTrial(f, u2, 0.05), TRIALS);
  const inv = (n0.invocations + n5.invocations) / 2;
  const line =
    `${f.name.padEnd(36)} ${ci(n0.kept, TRIALS)} ${ci(n5.kept, TRIALS)} ${n0.invocations.toFixed(1).padStart(5)} ${n5.invocations.toFixed(1).padStart(5)}` +
    ` | ${ci(s0.kept, TRIALS)} ${ci(s5.kept, TRIALS)}`;
  return { line, inv };
}

const header = `${'family'.padEnd(36)} ${'false keep (null)'.padEnd(21)} ${'true keep (5%)'.padEnd(21)} inv/0 inv/5 | strict: false keep       true keep`;
for (const [title, cost] of [
  ['cheap benchmark (1 s per invocation, automatic budget: up to 16 pairs)', 1],
  ['5-minute benchmark (300 s per invocation, automatic budget 30 min: up to 3 pairs)', 300],
] as const) {
  console.log(`\n${title}; ${TRIALS} trials per cell, seed ${SEED}`);
  console.log(header);
  let invSum = 0;
  const fams = cost === 1 ? [...FAMILIES, DETERMINISTIC] : FAMILIES.slice(0, 3);
  fams.forEach((f, i) => {
    const r = row(f, i + (cost === 1 ? 0 : 50), cost);
    invSum += r.inv;
    console.log(r.line);
  });
  if (cost === 300) {
    const mean = invSum / fams.length;
    console.log(`decisions per hour at 300 s per invocation: ${(3600 / (mean * cost)).toFixed(2)} (mean ${mean.toFixed(1)} invocations per decision)`);
  }
}
