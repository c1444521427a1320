// An adversarial sweep of the keep decision and termination: whole segments
// (baseline, then decisions) through the pure decision code on noise shapes
// the engine's families do not cover, and properties of the pure rules.
// Bounds: the promise is "a change with no effect is kept at most 5% of the
// time"; each rate below is measured on ≥ 300 seeded segments, and the bound
// is the promise itself, not the measured value (stated per test).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { noiseGrew } from '../scripts/lib/noise-model.ts';
import { checkGuardrail } from '../scripts/lib/guardrails.ts';
import type { Guardrail } from '../scripts/lib/schema.ts';
import { evaluateTermination, type TerminationInput } from '../scripts/lib/termination.ts';
import { chiSquareQuantile, winsorizedSd } from '../scripts/lib/stats.ts';
import { Session, type Noise } from './helpers/session-sim.ts';
import { gaussian, mulberry32, type Uniform } from './helpers/prng.ts';

type Shape = { name: string; level: number; dir?: 'lower' | 'higher'; metric?: string; width: number; abs?: boolean; make(u: Uniform): Noise };
const mul = (sd: number) => (u: Uniform): Noise => { const g = gaussian(u); return (l) => [l * (1 + sd * g())]; };
const add = (sd: number) => (u: Uniform): Noise => { const g = gaussian(u); return (l) => [l + sd * g()]; };

/** width: one noise SD of an invocation, relative (or in units when abs). */
const SHAPES: Shape[] = [
  { name: 'gaussian 0.5%', level: 100, width: 0.005, make: mul(0.005) },
  { name: 'gaussian 10%, higher is better', level: 100, dir: 'higher', width: 0.1, make: mul(0.1) },
  { name: '5% outliers 3-10x', level: 100, width: 0.03, make: (u) => { const g = gaussian(u); return (l) => [l * (1 + 0.03 * g()) * (u() < 0.05 ? 3 + 7 * u() : 1)]; } },
  { name: 'bimodal 80/20 +30%', level: 100, width: 0.12, make: (u) => { const g = gaussian(u); return (l) => [l * (u() < 0.2 ? 1.3 : 1) * (1 + 0.005 * g())]; } },
  { name: 'warming (+30% decaying)', level: 100, width: 0.02, make: (u) => { const g = gaussian(u); let t = 0; return (l) => [l * (1 + 0.3 * Math.exp(-t++ / 10)) * (1 + 0.02 * g())]; } },
  { name: 'machine 25% slower from invocation 15', level: 100, width: 0.02, make: (u) => { const g = gaussian(u); let t = 0; return (l) => [l * (t++ >= 15 ? 1.25 : 1) * (1 + 0.02 * g())]; } },
  { name: 'whole ms around 5', level: 5, width: 0.06, make: (u) => { const g = gaussian(u); return (l) => [Math.round(l + 0.3 * g())]; } },
  { name: 'accuracy rounded to 0.01, higher', level: 0.9, dir: 'higher', metric: 'accuracy', width: 0.01, make: (u) => { const g = gaussian(u); return (l) => [Math.round(100 * l * (1 + 0.01 * g())) / 100]; } },
  { name: 'tiny 1e-9', level: 1e-9, width: 0.03, make: mul(0.03) },
  { name: 'huge 1e12', level: 1e12, width: 0.03, make: mul(0.03) },
  { name: 'negative -100 ± 3, higher', level: -100, dir: 'higher', width: 3, abs: true, make: add(3) },
  { name: 'crossing zero: 0 ± 1', level: 0, width: 1, abs: true, make: add(1) },
  { name: 'a loss 0.02 ± 0.02 that a gain takes below 0', level: 0.02, width: 0.02, abs: true, make: add(0.02) },
  { name: 'a score -0.5 ± 0.02, higher', level: -0.5, dir: 'higher', metric: 'score', width: 0.02, abs: true, make: add(0.02) },
  { name: 'bytes around 1000, whole, ± 3', level: 1000, metric: 'bytes', width: 0.003, make: (u) => { const g = gaussian(u); return (l) => [Math.round(l + 3 * g())]; } },
  { name: 'instructions around 1e15, whole, ± 30', level: 1e15, metric: 'instructions', width: 30, abs: true, make: (u) => { const g = gaussian(u); return (l) => [Math.round(l + 30 * g())]; } },
  { name: 'machine drifting 0.1% slower per invocation (1%)', level: 100, width: 0.01, make: (u) => { const g = gaussian(u); let t = 0; return (l) => [l * (1 + 0.001 * t++) * (1 + 0.01 * g())]; } },
  { name: '2% outliers 100× (1%)', level: 100, width: 0.01, make: (u) => { const g = gaussian(u); return (l) => [l * (1 + 0.01 * g()) * (u() < 0.02 ? 100 : 1)]; } },
];

const N = 300;

describe('noise shapes: a run of no-effect changes, then a real effect of 3 noise widths', () => {
  SHAPES.forEach((s, i) => {
    it(`${s.name}: ≤ 5% of no-effect changes kept; the real effect kept ≥ 90% (≥ 20% with outliers)`, () => {
      let nullKept = 0;
      let realKept = 0;
      for (let t = 0; t < N; t++) {
        const sess = new Session({ direction: s.dir ?? 'lower', metric: s.metric, noise: s.make(mulberry32(1e6 * (i + 1) + t)), level: s.level });
        for (let k = 0; k < 3; k++) if (sess.decide(sess.level).kept) nullKept++;
        if (sess.decide(sess.better(3 * s.width, s.abs)).kept) realKept++;
      }
      expect(nullKept / (3 * N)).toBeLessThanOrEqual(0.05);
      // 3 widths on one invocation is ~0.75 widths of a 16-pair mean: clear for a
      // paired test (power ≈ 1), except where outliers eat the budget.
      expect(realKept / N).toBeGreaterThanOrEqual(s.name.includes('outliers') ? 0.2 : 0.9);
    });
  });
});

describe('noise that grows after the pool was filled (fails without noiseGrew: 11-17% kept)', () => {
  it('a noisy neighbour: 1% noise turns 8% mid-experiment; no-effect changes stay ≤ 5% kept', () => {
    let kept = 0;
    for (let t = 0; t < N; t++) {
      const u = mulberry32(31e6 + t);
      const g = gaussian(u);
      let n = 0;
      const sess = new Session({ direction: 'lower', noise: (l) => [l * (1 + (n++ >= 20 ? 0.08 : 0.01) * g())], level: 100 });
      for (let k = 0; k < 4; k++) if (sess.decide(sess.level).kept) kept++;
    }
    expect(kept / (4 * N)).toBeLessThanOrEqual(0.05);
  });
  it('additive 1 ms noise and a 10× win: later no-effect changes stay ≤ 5% kept, a later real 15% gain ≥ 90%', () => {
    let kept = 0;
    let decisions = 0;
    let real = 0;
    let sessions = 0;
    for (let t = 0; t < N; t++) {
      const sess = new Session({ direction: 'lower', noise: add(1)(mulberry32(37e6 + t)), level: 100 });
      if (!sess.decide(10).kept) continue;
      sessions++;
      for (let k = 0; k < 3; k++, decisions++) if (sess.decide(sess.level).kept) kept++;
      if (sess.decide(sess.better(0.15)).kept) real++;
    }
    expect(sessions).toBe(N);
    expect(kept / decisions).toBeLessThanOrEqual(0.05);
    expect(real / sessions).toBeGreaterThanOrEqual(0.9);
  });
});

describe('ties: a simplification (the change removes lines) under Gaussian 3% noise, cheap benchmark', () => {
  // The last look calls a true tie "equal within noise" with P(Z ≥ −TIE_Z) = 69%; the
  // plan must not cut that short by stopping for futility against a win (it did: 54%).
  // A real 3% regression (one noise SD) must stay rarely kept as a "tie" (≤ 5%).
  const keptRate = (worse: number, seed: number) => {
    let kept = 0;
    for (let t = 0; t < N; t++) {
      const sess = new Session({ direction: 'lower', noise: mul(0.03)(mulberry32(seed + t)), level: 100 });
      if (sess.decide(100 * (1 + worse), true).kept) kept++;
    }
    return kept / N;
  };
  it('an equal simplification is kept ≥ 65% (measured 71%; 54% when futility ignored the tie)', () => {
    expect(keptRate(0, 41e6)).toBeGreaterThanOrEqual(0.65);
  });
  it('a simplification 3% worse is kept ≤ 5% (measured 1.7%)', () => {
    expect(keptRate(0.03, 43e6)).toBeLessThanOrEqual(0.05);
  });
});

describe('noiseGrew (pure)', () => {
  const pool = (u: Uniform, n: number, sd: number) => { const g = gaussian(u); return Array.from({ length: n }, () => sd * g()); };
  it('property: never fires on residuals no larger than the pool\'s σ; fires on residuals 20× the pool σ from 3 pairs', () => {
    fc.assert(fc.property(fc.integer(), fc.integer({ min: 8, max: 64 }), fc.integer({ min: 2, max: 16 }), fc.double({ min: 1e-9, max: 1e3, noNaN: true }), (seed, np, nc, sd) => {
      const u = mulberry32(seed);
      const p = pool(u, np, sd);
      const small = Array.from({ length: nc }, (_, i) => (i % 2 ? 1 : -1) * winsorizedSd(p));
      expect(noiseGrew(p, small, 0)).toBe(false);
      // 20× residuals of alternating sign, none under 8 pool σ: a floor of 2σ let
      // [2.3, −2.2, 7.1]σ beside an 8-residual pool whose σ read 1.9σ pass as
      // quiet (rightly: that is not 20×), and the property failed one seed in ~50.
      if (nc >= 3) {
        const big = pool(u, nc, 20 * sd).map((x, i) => (i % 2 ? -1 : 1) * Math.max(Math.abs(x), 8 * sd));
        expect(noiseGrew(p, big, 0)).toBe(true);
      }
    }));
  });
  it('one outlier among pairs at the usual scale is not growth', () => {
    const p = pool(mulberry32(5), 40, 0.03);
    expect(noiseGrew(p, [0.01, -0.02, 0.015, 1.2, -0.01], 0)).toBe(false);
  });
  // The χ² level is 0.1%, but the pool's σ is itself estimated (an F, not a χ²): about
  // 1% measured with a 30-residual pool. A false alarm costs power only (the
  // decision uses its own residuals), so 2% bounds that cost, not the false keeps.
  it('false alarms on Gaussian data stay ≤ 2% (they cost power, not false keeps)', () => {
    let fired = 0;
    const u = mulberry32(77);
    for (let t = 0; t < 2000; t++) if (noiseGrew(pool(u, 30, 1), pool(u, 2 + (t % 15), 1), 0)) fired++;
    expect(fired / 2000).toBeLessThan(0.02);
  });
  it('chi-square quantiles match tables', () => {
    expect(chiSquareQuantile(0.999, 1)).toBeGreaterThan(10.8);
    expect(chiSquareQuantile(0.999, 1)).toBeLessThan(11.5);
    expect(chiSquareQuantile(0.999, 10)).toBeCloseTo(29.59, 0);
    expect(chiSquareQuantile(0.95, 5)).toBeCloseTo(11.07, 1);
  });
});

describe('guardrails on a noisy secondary (3%), 12 baseline samples, 5% tolerance', () => {
  // The noise margin is two-sided 95%: a candidate exactly at the tolerance is
  // blocked about 2.5-5% of the time (medians scatter more than means); one 10%
  // past it (3+ noise SDs) must be blocked nearly always with 16 samples.
  const g: Guardrail = { metric: 'm', direction: 'lower', max_regression_pct: 5 } as Guardrail;
  const blocked = (over: number, n: number, seed: number) => {
    const z = gaussian(mulberry32(seed));
    let k = 0;
    for (let t = 0; t < 2000; t++) {
      const base = Array.from({ length: 12 }, () => 100 * (1 + 0.03 * z()));
      const cand = Array.from({ length: n }, () => 100 * (1 + over) * (1 + 0.03 * z()));
      if (checkGuardrail(g, base, cand).status === 'broken') k++;
    }
    return k / 2000;
  };
  it('unchanged: blocked ≤ 1%; exactly at the tolerance: ≤ 7.5%; 10% past it: ≥ 90% at 16 samples', () => {
    for (const n of [3, 8, 16]) {
      expect(blocked(0, n, 51 + n)).toBeLessThanOrEqual(0.01);
      expect(blocked(0.05, n, 53 + n)).toBeLessThanOrEqual(0.075);
    }
    expect(blocked(0.15, 16, 57)).toBeGreaterThanOrEqual(0.9);
  });
});

describe('termination stops exactly when it should (property)', () => {
  const base = (o: Partial<TerminationInput>): TerminationInput => ({
    direction: 'lower', target: null, best: null, plateau: null, runsSinceImprovement: 0, maxRuns: null, runs: 0, maxWallClock: null, elapsedS: 0, ...o,
  });
  it('target: met exactly or crossed stops; one ulp short does not; either direction, any sign', () => {
    fc.assert(fc.property(fc.double({ min: -1e12, max: 1e12, noNaN: true }), fc.constantFrom('lower' as const, 'higher' as const), (target, direction) => {
      const ulpShort = direction === 'lower' ? target + Math.max(Math.abs(target) * 2 ** -52, Number.MIN_VALUE) : target - Math.max(Math.abs(target) * 2 ** -52, Number.MIN_VALUE);
      expect(evaluateTermination(base({ direction, target, best: target })).by).toBe('target');
      expect(evaluateTermination(base({ direction, target, best: ulpShort })).terminate).toBe(ulpShort === target);
      expect(evaluateTermination(base({ direction, target, best: null })).terminate).toBe(false);
    }));
  });
  it('plateau, max runs and wall clock fire at exactly their count, not one before', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1e6 }), (plateau, maxRuns, wall) => {
      expect(evaluateTermination(base({ plateau, runsSinceImprovement: plateau - 1 })).terminate).toBe(false);
      expect(evaluateTermination(base({ plateau, runsSinceImprovement: plateau })).by).toBe('plateau');
      expect(evaluateTermination(base({ maxRuns, runs: maxRuns - 1 })).terminate).toBe(false);
      expect(evaluateTermination(base({ maxRuns, runs: maxRuns })).by).toBe('max_runs');
      expect(evaluateTermination(base({ maxWallClock: wall, elapsedS: wall - 1e-6 })).terminate).toBe(false);
      expect(evaluateTermination(base({ maxWallClock: wall, elapsedS: wall })).by).toBe('wall_clock');
    }));
  });
});
