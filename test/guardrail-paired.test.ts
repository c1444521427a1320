// Guardrails judged in the decision's conditions (guardrail-pairing.ts), pure,
// 1,000 seeded trials per figure: a 12-sample baseline of a timing guardrail
// under 3% noise, then a machine 30% slower for both arms, 8 pairs. Against the
// stale baseline, unchanged code was blocked 100% of the time; paired, 0.0%,
// while a real 20% regression (5% tolerance) is still blocked 100% (measured).
// Without a slowdown, pairing changes neither figure (0.0% / 100%).
import { describe, expect, it } from 'vitest';
import { gaussian, mulberry32 } from './helpers/prng.ts';
import { checkGuardrails } from '../scripts/lib/guardrails.ts';
import { guardrailPairs, withPairs } from '../scripts/lib/guardrail-pairing.ts';
import { Guardrail } from '../scripts/lib/schema.ts';

const g = Guardrail.parse({ metric: 'time_ms', direction: 'lower', max_regression_pct: 5 });
const N = 1000;

function blocked(o: { slow: number; cost: number; paired: boolean; seed: number }): number {
  let n = 0;
  for (let t = 0; t < N; t++) {
    const z = gaussian(mulberry32(o.seed + t));
    const noisy = (v: number) => v * (1 + 0.03 * z());
    const baseline = Array.from({ length: 12 }, () => noisy(100));
    const invocations = Array.from({ length: 16 }, (_, i) => {
      const arm = i % 4 === 0 || i % 4 === 3 ? 'best' as const : 'candidate' as const;
      return { arm, metrics: { time_ms: noisy(100 * o.slow * (arm === 'candidate' ? o.cost : 1)) } };
    });
    const cand = { time_ms: invocations.filter((i) => i.arm === 'candidate').map((i) => i.metrics.time_ms) };
    const pairs = o.paired ? guardrailPairs([g], { time_ms: baseline }, invocations) : {};
    const [c] = checkGuardrails([g], { time_ms: baseline }, withPairs(cand, pairs), pairs);
    if (c?.status === 'broken') n++;
  }
  return n / N;
}

describe('a guardrail paired with the best measured now', () => {
  it('a machine 30% slower: unchanged code is blocked ≤ 5% (100% against the stale baseline); a 20% regression ≥ 95%', () => {
    expect(blocked({ slow: 1.3, cost: 1, paired: false, seed: 1e6 })).toBe(1);
    expect(blocked({ slow: 1.3, cost: 1, paired: true, seed: 1e6 })).toBeLessThanOrEqual(0.05);
    expect(blocked({ slow: 1.3, cost: 1.2, paired: true, seed: 2e6 })).toBeGreaterThanOrEqual(0.95);
  });
  it('the same machine: unchanged code ≤ 5%, a 20% regression ≥ 95%, as unpaired', () => {
    expect(blocked({ slow: 1, cost: 1, paired: true, seed: 3e6 })).toBeLessThanOrEqual(0.05);
    expect(blocked({ slow: 1, cost: 1.2, paired: true, seed: 4e6 })).toBeGreaterThanOrEqual(0.95);
  });
  it('the best stored in the baseline\'s conditions: a keep on the slower machine is moved back by the best\'s shift', () => {
    const inv = [{ arm: 'best' as const, metrics: { m: 130 } }, { arm: 'candidate' as const, metrics: { m: 143 } }];
    expect(guardrailPairs([{ metric: 'm' }], { m: [100] }, inv).m?.candidate[0]).toBeCloseTo(110, 9);
    // Not positive: moved by the difference; a best arm that lacks the metric, or no best arm: no pair.
    expect(guardrailPairs([{ metric: 'm' }], { m: [-1] }, [{ arm: 'best', metrics: { m: 0 } }, { arm: 'candidate', metrics: { m: 2 } }]).m?.candidate).toEqual([1]);
    expect(guardrailPairs([{ metric: 'm' }], { m: [100] }, [{ arm: 'best', metrics: {} }, { arm: 'candidate', metrics: { m: 2 } }])).toEqual({});
    expect(guardrailPairs([{ metric: 'm' }], { m: [100] }, [{ arm: 'candidate', metrics: { m: 2 } }])).toEqual({});
  });
});
