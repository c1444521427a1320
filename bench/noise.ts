// Fresh measurement of the noise policy (Math.random, so each run differs):
// the engine's flow on a Gaussian benchmark with a 3% coefficient of variation.
//   npx tsx bench/noise.ts
import { keepRate, runTrial } from '../test/helpers/prng.ts';

const TRIALS = 10_000;
const CV = 0.03;
const u = Math.random;

const f = (x: number, d = 3) => x.toFixed(d);

for (const direction of ['lower', 'higher'] as const) {
  const nul = keepRate({ u, trials: TRIALS, direction, cv: CV, effect: 0 });
  const real = keepRate({ u, trials: TRIALS, direction, cv: CV, effect: 0.05 });
  console.log(`noise.${direction}.false_keep_rate ${f(nul.rate)} (target <= 0.05, ${TRIALS} trials, null effect)`);
  console.log(`noise.${direction}.true_keep_rate ${f(real.rate)} (target >= 0.90, ${TRIALS} trials, real 5% gain)`);
  console.log(`noise.${direction}.samples_per_candidate.null ${f(nul.meanCandidateSamples, 2)}`);
  console.log(`noise.${direction}.samples_per_candidate.real ${f(real.meanCandidateSamples, 2)}`);
  console.log(`noise.${direction}.samples_per_baseline ${f(nul.meanBaselineSamples, 2)}`);
}

// Deterministic benchmark: the same value every time; half the candidates improve it.
let samples = 0;
let keepsOk = 0;
for (let t = 0; t < TRIALS; t++) {
  const level = 1000 + Math.floor(u() * 1000);
  const better = u() < 0.5;
  const r = runTrial({ direction: 'lower', baseline: () => level, candidate: () => (better ? level - 1 : level) });
  samples += r.candidateSamples;
  if (r.kept === better) keepsOk++;
}
console.log(`noise.deterministic.samples_per_candidate ${f(samples / TRIALS, 2)} (target 1)`);
console.log(`noise.deterministic.correct_verdict_rate ${f(keepsOk / TRIALS)} (target 1)`);
