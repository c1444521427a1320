// Runs in every test file: fast-check's properties draw from a fixed seed, so
// CI replays the same cases on every run. A property that holds only for most
// seeds (the stats ones sit near their quantiles) must not fail one CI run in
// twenty. FC_SEED=<n> replays another seed; FC_SEED=random explores.
import fc from 'fast-check';

const raw = process.env.FC_SEED;
if (raw !== 'random') {
  const seed = raw === undefined || raw === '' ? 20261202 : Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED is not an integer or "random": ${raw}`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}
