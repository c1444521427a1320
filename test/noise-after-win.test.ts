// The first decisions after a big win, when the noise at the new level is not
// the old level's (issue: "decisions go wrong on common noise shapes and after
// a big win"). Whole segments through the pure decision code (session-sim.ts):
// baseline at 100, a kept 2× win, then no-effect changes. Before the fresh
// group (noise-model.ts `fresh`), the pool's 13 residuals of the old level
// outvoted the new ones: the first decision kept 5-8% of no-effect changes
// where the noise doubled. Bounds are stated per test with what was measured.
import { describe, expect, it } from 'vitest';
import { BIG_MOVE, pairNoise } from '../scripts/lib/noise-model.ts';
import { FRESH_EXTRA_PAIRS, MAX_PAIRS } from '../scripts/lib/sampling.ts';
import { Session, type Noise } from './helpers/session-sim.ts';
import { gaussian, mulberry32, type Uniform } from './helpers/prng.ts';

const N = 1000;
/** Relative noise: `sd(l)` at true level l. The win moves 100 → 50. */
const rel = (sd: (l: number) => number) => (u: Uniform): Noise => { const g = gaussian(u); return (l) => [l * (1 + sd(l) * g())]; };
const moved = (l: number) => l < 70;
const t3 = (g: () => number) => g() / Math.sqrt((g() ** 2 + g() ** 2 + g() ** 2) / 3);

type Shape = { name: string; make: (u: Uniform) => Noise };
const GROWS: Shape[] = [
  { name: 'relative 3% doubling to 6%', make: rel((l) => (moved(l) ? 0.06 : 0.03)) },
  { name: 'additive 3 units (3% at 100, 6% at 50)', make: (u) => { const g = gaussian(u); return (l) => [l + 3 * g()]; } },
  { name: 'bimodal ±2% turning ±4%', make: (u) => { const g = gaussian(u); return (l) => { const b = moved(l) ? 0.04 : 0.02; return [l * (u() < 0.5 ? 1 - b : 1 + b) * (1 + 0.005 * g())]; }; } },
];
const SAME: Shape[] = [
  { name: 'Gaussian 3%', make: rel(() => 0.03) },
  { name: 'lognormal 5%', make: (u) => { const g = gaussian(u); return (l) => [l * Math.exp(0.05 * g())]; } },
  { name: 'bimodal ±4%', make: (u) => { const g = gaussian(u); return (l) => [l * (u() < 0.5 ? 0.96 : 1.04) * (1 + 0.005 * g())]; } },
  { name: 'Student-t 3 dof, sd 3%', make: (u) => { const g = gaussian(u); return (l) => [l * (1 + (0.03 / Math.sqrt(3)) * t3(g))]; } },
];

/** The first decision after a 2× win: a no-effect change (gain 0) or a real gain. */
function afterWin(s: Shape, seed: number, gain: number): { kept: number; trials: number } {
  let kept = 0;
  let trials = 0;
  for (let t = 0; t < N; t++) {
    const sess = new Session({ direction: 'lower', noise: s.make(mulberry32(seed + t)), level: 100 });
    if (!sess.decide(50).kept) continue;
    trials++;
    if (sess.decide(gain ? sess.better(gain) : sess.level).kept) kept++;
  }
  return { kept, trials };
}

describe('the first decision after a 2× win', () => {
  it('noise that grows at the new level: ≤ 4.5% of no-effect changes kept (measured 3.0-3.4%; 5.6-6.6% before)', () => {
    let kept = 0;
    let trials = 0;
    GROWS.forEach((s, i) => {
      const r = afterWin(s, 11e6 * (i + 1), 0);
      expect(r.trials).toBeGreaterThan(0.95 * N);
      kept += r.kept;
      trials += r.trials;
    });
    expect(kept / trials).toBeLessThanOrEqual(0.045);
  });

  // Noise that does not change: the fresh group must cost nothing. Its σ is the
  // larger of two (never lower), and the 2 extra pairs give the power back.
  SAME.forEach((s, i) => {
    it(`${s.name}: no-effect changes kept ≤ 3.5%, and a real 5% gain at least as often as before`, () => {
      const n = afterWin(s, 21e6 * (i + 1), 0);
      expect(n.kept / n.trials).toBeLessThanOrEqual(0.035);
      const g = afterWin(s, 31e6 * (i + 1), 0.05);
      // Before (same seeds in bench): Gaussian 99.0%, lognormal 72.3%, bimodal 82.9%, t3 99.8%.
      const before: Record<string, number> = { 'Gaussian 3%': 0.98, 'lognormal 5%': 0.72, 'bimodal ±4%': 0.82, 'Student-t 3 dof, sd 3%': 0.98 };
      expect(g.kept / g.trials).toBeGreaterThanOrEqual(before[s.name] as number);
    });
  });
});

describe('the fresh group in the noise model', () => {
  const g = gaussian(mulberry32(3));
  it('starts at a kept win of BIG_MOVE or more (a smaller keep opens a gated one), and ends when the old residuals leave the pool', () => {
    const sess = new Session({ direction: 'lower', noise: (l) => [l * (1 + 0.01 * g())], level: 100 });
    const small = sess.decide(sess.better(BIG_MOVE / 2));
    expect(small.kept).toBe(true);
    expect(small.model.fresh?.small).toBe(true); // noise-after-small-win.test.ts
    const big = sess.decide(sess.level * 0.5);
    expect(big.kept).toBe(true);
    expect(big.model.fresh).not.toBeNull();
    expect(big.model.fresh?.small).toBeUndefined();
    let last = big;
    for (let k = 0; k < 8 && last.model.fresh; k++) last = sess.decide(sess.level);
    expect(last.model.fresh ?? null).toBeNull();
    expect(last.model.residuals.length).toBeGreaterThan(0);
  });
  it('the first decision after it may take FRESH_EXTRA_PAIRS more pairs under the automatic budget', () => {
    // A gain near the threshold often runs to the budget; only the first decision after the win gets more.
    const first: number[] = [];
    const second: number[] = [];
    for (let t = 0; t < 20; t++) {
      const sess = new Session({ direction: 'lower', noise: (l) => [l * (1 + 0.03 * g())], level: 100 });
      expect(sess.decide(50).kept).toBe(true);
      first.push(sess.decide(sess.better(0.02)).decision.pairs);
      second.push(sess.decide(sess.level).decision.pairs);
    }
    expect(Math.max(...first)).toBe(MAX_PAIRS + FRESH_EXTRA_PAIRS);
    expect(Math.max(...second)).toBeLessThanOrEqual(MAX_PAIRS);
  });
  it('pairNoise: σ is never below the whole pool\'s, and the new level\'s when it is larger', () => {
    const old = Array.from({ length: 13 }, () => 0.03 * g());
    const fresh = Array.from({ length: 3 }, () => 0.045 * g());
    const cur = Array.from({ length: 10 }, () => 0.045 * g());
    const model = { scale: 'log' as const, residuals: [...old, ...fresh], df: 8, step: null, level: null, deterministic: false, cost_s: 1 };
    const pooled = pairNoise(model, cur, 0);
    expect(pooled.df).toBe(8 + 9); // noiseGrew did not fire: the whole pool counts
    const split = pairNoise({ ...model, fresh: { n: 3, df: 1.5 } }, cur, 0);
    expect(split.sigma).toBeGreaterThan(pooled.sigma);
    expect(split.df).toBe(1.5 + 9);
  });
});
