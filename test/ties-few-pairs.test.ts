// Ties with few pairs: a simplification is kept as "equal to the best within
// noise" only when the loss is confidently small (sampling.ts tieHolds), so a
// slow benchmark (2-5 pairs per decision) does not pass a real regression as a
// tie. Whole segments through the pure decision code (test/helpers/session-sim.ts),
// Gaussian 3% noise, the automatic budget of a benchmark whose invocation takes
// 450 s / 300 s / 180 s / 90 s / 1 s (2 / 3 / 5 / 10 / 16 pairs).
// Before (tie when effect ≥ −0.5 s.e.): a 5% regression was kept as a tie
// 16.0% / 8.8% / 2.3% / 0.2% of the time at 2 / 3 / 5 / 10 pairs (2,000 trials).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Session, type Noise } from './helpers/session-sim.ts';
import { gaussian, mulberry32, type Uniform } from './helpers/prng.ts';
import { addTieDrift, tieHolds, TIE_DELTA, TIE_Z } from '../scripts/lib/sampling.ts';
import { Config, ResultLine, type InvocationLine } from '../scripts/lib/schema.ts';
import { emptyState, foldLines } from '../scripts/lib/reduce.ts';
import { nextInvocation } from '../scripts/lib/run-plan.ts';

const mul = (sd: number) => (u: Uniform): Noise => { const g = gaussian(u); return (l) => [l * (1 + sd * g())]; };
const N = 1000;
const PAIRS = [
  { pairs: 2, cost: 450, genuine: 0.25 },
  { pairs: 3, cost: 300, genuine: 0.25 },
  { pairs: 5, cost: 180, genuine: 0.35 },
  { pairs: 10, cost: 90, genuine: 0.5 },
  { pairs: 16, cost: 1, genuine: 0.6 },
];

function keptAsTie(worse: number, cost: number, seed: number): { kept: number; pairs: number } {
  let kept = 0;
  let pairs = 0;
  for (let t = 0; t < N; t++) {
    const s = new Session({ direction: 'lower', noise: mul(0.03)(mulberry32(seed + t)), level: 100, cost_s: cost });
    const o = s.decide(100 * (1 + worse), true);
    if (o.kept) kept++;
    pairs += o.decision.pairs;
  }
  return { kept: kept / N, pairs: pairs / N };
}

describe('ties with few pairs (a simplification, Gaussian 3%)', () => {
  PAIRS.forEach(({ pairs, cost, genuine }, i) => {
    it(`${pairs} pairs: a 5% regression is kept as a tie ≤ 5%; an equal simplification ≥ ${genuine * 100}%`, () => {
      const bad = keptAsTie(0.05, cost, 1e6 * (i + 1));
      expect(bad.kept).toBeLessThanOrEqual(0.05);
      const same = keptAsTie(0, cost, 2e6 * (i + 1));
      expect(same.pairs).toBeLessThanOrEqual(pairs);
      expect(same.kept).toBeGreaterThanOrEqual(genuine);
    });
  });
});

describe('ties with few pairs under 5% of 40% pauses (a slow benchmark\'s small pool)', () => {
  // One pause in the best's run of 2-4 pairs inflated σ, so the band: a 5%
  // regression was kept as a tie 9.2% / 7.6% of the time at 2 / 3 pairs; now
  // 5.6% / 4.1% (measured, 1,000 trials); at 2 pairs such noise cannot do better.
  const pauses = (u: Uniform): Noise => { const g = gaussian(u); return (l) => [l * (1 + 0.03 * g()) * (u() < 0.05 ? 1.4 : 1)]; };
  it('3 pairs: a 5% regression is kept as a tie ≤ 6%, an equal simplification ≥ 20%', () => {
    let bad = 0;
    let same = 0;
    for (let t = 0; t < N; t++) {
      if (new Session({ direction: 'lower', noise: pauses(mulberry32(1e6 + t)), level: 100, cost_s: 300 }).decide(105, true).kept) bad++;
      if (new Session({ direction: 'lower', noise: pauses(mulberry32(2e6 + t)), level: 100, cost_s: 300 }).decide(100, true).kept) same++;
    }
    expect(bad / N).toBeLessThanOrEqual(0.06);
    expect(same / N).toBeGreaterThanOrEqual(0.2);
  });
});

describe('tieHolds (pure)', () => {
  it('property: a tie needs ≥ 2 pairs; it is monotone in the effect; a larger s.e. never widens it below 0', () => {
    fc.assert(fc.property(
      fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: 1e-6, max: 1, noNaN: true }), fc.double({ min: 1e-6, max: 1, noNaN: true }), fc.integer({ min: 0, max: 64 }),
      (effect, se, sigma, pairs) => {
        const t = tieHolds({ effect, se, sigma, pairs });
        if (pairs < 2) expect(t).toBe(false);
        if (t) expect(tieHolds({ effect: effect + Math.abs(effect) + 1e-3, se, sigma, pairs })).toBe(true);
        // The band: the loss allowed is at most TIE_DELTA·σ less TIE_Z·se.
        if (t) expect(effect).toBeGreaterThanOrEqual(TIE_Z * se - TIE_DELTA * sigma - 1e-12);
      },
    ));
  });
  it('a walk of ties is held to one band: each within its own band, the sum past it is refused', () => {
    const one = { effect: -0.005, se: 0.002, sigma: 0.04, pairs: 16 };
    expect(tieHolds(one)).toBe(true);
    let drift = null as ReturnType<typeof addTieDrift> | null;
    let kept = 0;
    while (tieHolds({ ...one, drift }) && kept < 100) {
      drift = addTieDrift(drift, one);
      kept++;
    }
    expect(kept).toBeGreaterThanOrEqual(1);
    expect(-(drift?.effect ?? 0)).toBeLessThanOrEqual(TIE_DELTA * one.sigma);
  });
});

describe('a ratchet of small losses: successive ties are held together (Gaussian 3%, cheap benchmark)', () => {
  // Ten simplifications in a row, each really 1% slower than the code before it.
  // Each alone is often within its band; without the walk's guard 20% of the
  // segments walked more than 5% from the best kept (measured, 300 segments).
  const walk = (eps: number, tieDrift: boolean, seed: number) => {
    let over = 0;
    let kept = 0;
    for (let t = 0; t < 300; t++) {
      const s = new Session({ direction: 'lower', noise: mul(0.03)(mulberry32(seed + t)), level: 100, cost_s: 1, tieDrift });
      for (let a = 0; a < 10; a++) if (s.decide(s.level * (1 + eps), true).kept) kept++;
      if (s.level > 105) over++;
    }
    return { over: over / 300, kept: kept / 300 };
  };
  it('1% losses: walks past 5% ≤ 10% of segments (20% without the guard); equal simplifications still ≥ 5 of 10 kept', () => {
    expect(walk(0.01, false, 7e6).over).toBeGreaterThan(0.15);
    expect(walk(0.01, true, 7e6).over).toBeLessThanOrEqual(0.1);
    expect(walk(0, true, 8e6).kept).toBeGreaterThanOrEqual(5);
  });
});

describe('the walk in the reduced state', () => {
  const c = Config.parse({ name: 'x', metric: 'time_ms', direction: 'lower', command: 'c' });
  const inv = (arm: 'best' | 'candidate', v: number): InvocationLine => ({ arm, samples: [v], duration_s: 1, metrics: { time_ms: v } });
  const line = (o: Record<string, unknown>) =>
    ResultLine.parse({ type: 'result', ts: 't', segment: 1, run_id: 'r0001', status: 'ok', verdict: 'keep', primary: 100, samples: [100], metrics: { time_ms: 100 }, description: 'd', reason: 'r', duration_s: 1, ...o });
  const decision = (effect: number, se: number, keep = false) => ({ keep, tie: !keep, effect, pct: 0, threshold_pct: 2, se, pairs: 8, invocations: 16, stop: 'budget', reason: 'x', diffs: [effect, effect] });
  const config = { type: 'config' as const, ts: 't', segment: 1, config: c, fingerprints: { config: 'x', files: {} }, base: null, reason: 'init' };
  const base = line({ invocations: [100, 103, 98, 101].map((v) => inv('candidate', v)) });
  const tie = (id: string, effect: number) => line({ run_id: id, files: ['a'], kind: 'simplification', decision: decision(effect, 0.01), invocations: [inv('best', 100), inv('candidate', 100)] });

  it('simplifications add up; an improvement, a new segment start it over; a failed keep puts it back; the plan gets it', () => {
    const s1 = foldLines(emptyState(), [config, base, tie('r0002', -0.01), tie('r0003', -0.005)], c);
    expect(s1.tie_drift?.effect).toBeCloseTo(-0.015, 12);
    expect(s1.tie_drift?.variance).toBeCloseTo(0.0002, 12);
    expect(s1.tie_drift?.scale).toBe('log');
    const failed = { type: 'event' as const, ts: 't', segment: 1, run_id: 'r0004', event: 'keep_failed' as const, data: { reason: 'x' } };
    expect(foldLines(s1, [tie('r0004', -0.02), failed], c).tie_drift?.effect).toBeCloseTo(-0.015, 12);
    const win = line({ run_id: 'r0005', files: ['a'], kind: 'improved', decision: decision(0.1, 0.01, true), invocations: [inv('best', 100), inv('candidate', 90)] });
    expect(foldLines(s1, [win], c).tie_drift).toBeNull();
    expect(foldLines(s1, [{ ...config, segment: 2 }], c).tie_drift).toBeNull();
    // The plan refuses a further tie that its own band allows but the walk does not.
    const model = s1.model;
    const invs: InvocationLine[] = [];
    const cfg16 = Config.parse({ name: 'x', metric: 'time_ms', direction: 'lower', command: 'c', repeats: 2 });
    for (const v of [100, 99.8, 99.8, 100]) invs.push(inv(invs.length % 4 === 0 || invs.length % 4 === 3 ? 'best' : 'candidate', v));
    const alone = nextInvocation({ kind: 'candidate', config: cfg16, state: { model, best: 100 }, invocations: invs, netLinesRemoved: 3 });
    const walked = nextInvocation({ kind: 'candidate', config: cfg16, state: { model, best: 100, tie_drift: { scale: 'log', effect: -0.3, variance: 0 } }, invocations: invs, netLinesRemoved: 3 });
    expect(alone).toMatchObject({ done: true, decision: { tie: true } });
    expect(walked).toMatchObject({ done: true, decision: { tie: false } });
  });
});
