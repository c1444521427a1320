// Noise shapes that act across decisions (a step in the noise level, a whole
// count that repeats itself), measured on whole segments: a baseline, three
// no-effect changes, then a real gain. The Session class is a parameter so
// bench/noise.ts can run the same shapes through an older build beside this one.
import type { Session as SessionClass, SessionOpts } from './session-sim.ts';
import { gaussian, mulberry32 } from './prng.ts';

export type SegmentShape = {
  name: string;
  opts(seed: number): SessionOpts;
  /** The real gain's true value from the current level (a 5% gain, or one unit of a count). */
  gain(level: number): number;
};

/** Relative Gaussian noise of `from` up to a random invocation in 15–45 (the baseline ends at 12), `to` from there. */
export function levelStep(from: number, to: number): SegmentShape {
  return {
    name: `noise level steps ${100 * from}% → ${100 * to}% at invocation 15–45`,
    opts(seed) {
      const u = mulberry32(seed);
      const g = gaussian(u);
      const at = 15 + Math.floor(u() * 31);
      let n = 0;
      return { direction: 'lower', level: 100, noise: (l) => [l * (1 + (n++ >= at ? to : from) * g())] };
    },
    gain: (l) => l * 0.95,
  };
}

/** A whole count around 20 with a spread of 0.4 (higher is better, like tests passed): three equal baselines half the time. */
export const WHOLE_COUNT: SegmentShape = {
  name: 'whole count 20 ± 0.4, higher (tests_passed)',
  opts(seed) {
    const g = gaussian(mulberry32(seed));
    return { direction: 'higher', metric: 'tests_passed', level: 20, noise: (l) => [Math.round(l + 0.4 * g())] };
  },
  gain: (l) => l + 1,
};

export const SEGMENT_SHAPES: SegmentShape[] = [levelStep(0.01, 0.05), levelStep(0.01, 0.03), levelStep(0.02, 0.05), WHOLE_COUNT];

export type SegmentRates = { nullKept: number; nullDecisions: number; realKept: number; segments: number; invocations: number };

/** `segments` seeded segments of `shape` through `Session` (confirm: identical values a changed deterministic value needs). */
export function segmentRates(Session: typeof SessionClass, shape: SegmentShape, segments: number, seed: number, confirm: number): SegmentRates {
  const r: SegmentRates = { nullKept: 0, nullDecisions: 0, realKept: 0, segments, invocations: 0 };
  for (let t = 0; t < segments; t++) {
    const s = new Session({ ...shape.opts(seed + t), confirm });
    for (let k = 0; k < 3; k++, r.nullDecisions++) {
      const o = s.decide(s.level);
      if (o.kept) r.nullKept++;
      r.invocations += o.decision.invocations;
    }
    if (s.decide(shape.gain(s.level)).kept) r.realKept++;
  }
  return r;
}
