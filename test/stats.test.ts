import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mad, mean, median, normalQuantile, studentTQuantile, sumSquares, variance } from '../scripts/lib/stats.ts';

describe('descriptive statistics', () => {
  it('median: odd, even, unsorted input, input left untouched', () => {
    const xs = [9, 1, 5];
    expect(median(xs)).toBe(5);
    expect(xs).toEqual([9, 1, 5]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([-3])).toBe(-3);
    // numeric sort, not lexicographic (10 < 9 as strings)
    expect(median([10, 9, 100])).toBe(10);
  });

  it('mad is the unscaled median absolute deviation', () => {
    // median 3, |x − 3| = 2,1,0,1,97 → median 1
    expect(mad([1, 2, 3, 4, 100])).toBe(1);
    expect(mad([7, 7, 7])).toBe(0);
  });

  it('mean and sample variance (n − 1)', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    // deviations −1.5, −0.5, 0.5, 1.5 → ss 5, / 3
    expect(variance([1, 2, 3, 4])).toBeCloseTo(5 / 3, 12);
    expect(sumSquares([1, 2, 3, 4])).toBeCloseTo(5, 12);
    expect(variance([42])).toBe(0);
  });

  it('identical values give exactly that mean and exactly zero scatter', () => {
    expect(mean([0.1, 0.1, 0.1])).toBe(0.1);
    expect(sumSquares([0.1, 0.1, 0.1])).toBe(0);
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }), fc.integer({ min: 1, max: 30 }), (x, n) => {
        const xs = Array<number>(n).fill(x);
        // === rather than Object.is: a mean of −0 may come back as +0.
        expect(mean(xs) === x).toBe(true);
        expect(variance(xs)).toBe(0);
      }),
    );
  });

  it('throws on empty input', () => {
    for (const f of [median, mad, mean, variance, sumSquares]) expect(() => f([])).toThrow(RangeError);
  });

  it('property: median lies between min and max; mad and variance are >= 0', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e9, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 50 }), (xs) => {
        const m = median(xs);
        expect(m).toBeGreaterThanOrEqual(Math.min(...xs));
        expect(m).toBeLessThanOrEqual(Math.max(...xs));
        expect(mad(xs)).toBeGreaterThanOrEqual(0);
        expect(variance(xs)).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('property: median and mad (found by selection) equal the middle of the sorted values, ties and all', () => {
    const middle = (ys: number[]) => {
      const s = [...ys].sort((a, b) => a - b);
      const k = s.length >> 1;
      return s.length % 2 === 1 ? (s[k] as number) : ((s[k - 1] as number) + (s[k] as number)) / 2;
    };
    // Few distinct values (quarters in -2..3) make many ties, where a selection goes wrong first.
    const value = fc.oneof(fc.integer({ min: -8, max: 12 }).map((q) => q / 4), fc.double({ min: -1e6, max: 1e6, noNaN: true }));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 80 }), (xs) => {
        // === and not toBe: -0 and 0 are the same median, whichever of them is picked.
        expect(median(xs) === middle(xs)).toBe(true);
        const m = middle(xs);
        expect(mad(xs) === middle(xs.map((x) => Math.abs(x - m)))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('quantiles', () => {
  it('normal quantile matches printed tables', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 12);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 6);
    expect(normalQuantile(0.95)).toBeCloseTo(1.644854, 6);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 6);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 6);
    expect(() => normalQuantile(0)).toThrow(RangeError);
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });

  it("Student's t quantile matches printed tables (two-sided 95% and 90%)", () => {
    const t975: Record<number, number> = { 1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 9: 2.2622, 19: 2.093, 30: 2.0423, 120: 1.9799 };
    for (const [df, t] of Object.entries(t975)) expect(studentTQuantile(0.975, Number(df))).toBeCloseTo(t, 3);
    const t95: Record<number, number> = { 1: 6.3138, 2: 2.92, 3: 2.3534, 4: 2.1318, 10: 1.8125 };
    for (const [df, t] of Object.entries(t95)) expect(studentTQuantile(0.95, Number(df))).toBeCloseTo(t, 3);
  });

  it('t quantile is symmetric and approaches the normal for large df', () => {
    for (const df of [1, 2, 3, 4, 7, 50]) {
      expect(studentTQuantile(0.025, df)).toBeCloseTo(-studentTQuantile(0.975, df), 8);
    }
    expect(studentTQuantile(0.975, 1e8)).toBeCloseTo(normalQuantile(0.975), 6);
    expect(() => studentTQuantile(0.5, 0)).toThrow(RangeError);
  });
});

describe('robust estimators', async () => {
  const { hodgesLehmann, huberLocation, huberVarianceFactor, resolution, winsorizedSd } = await import('../scripts/lib/stats.ts');
  const { gaussian, mulberry32 } = await import('./helpers/prng.ts');
  it('Hodges-Lehmann and Huber ignore one wild value', () => {
    expect(hodgesLehmann([1, 2, 3])).toBe(2);
    expect(huberLocation([1, 1.1, 0.9, 1, 50], 0.1)).toBeLessThan(1.1);
  });
  it('winsorised SD estimates σ on Gaussian data, ignores outliers and does not collapse on ties', () => {
    const g = gaussian(mulberry32(5));
    const xs = Array.from({ length: 4000 }, () => g());
    expect(winsorizedSd(xs)).toBeGreaterThan(0.95);
    expect(winsorizedSd(xs)).toBeLessThan(1.05);
    expect(winsorizedSd([...xs.slice(0, 3800), ...Array(200).fill(40)])).toBeLessThan(1.2);
    expect(winsorizedSd([0, 0, 0, 0, 0, 0, 1, -1, 1, -1])).toBeGreaterThan(0);
    expect(huberVarianceFactor(xs, 1)).toBeGreaterThan(1);
    expect(huberVarianceFactor(xs, 1)).toBeLessThan(1.1);
  });
  it('resolution is the smallest step between distinct values', () => {
    expect(resolution([20, 21, 20, 23])).toBe(1);
    expect(resolution([5, 5])).toBeNull();
  });
  it('property: a pool sorted once, merged with a decision\'s residuals, gives the winsorised SD of both, to the bit', async () => {
    const { mergeSorted, winsorizedSdSorted } = await import('../scripts/lib/stats.ts');
    // Coarse values too, so ties (and ±0) are common.
    const value = fc.oneof(fc.double({ min: -1e3, max: 1e3, noNaN: true }), fc.integer({ min: -3, max: 3 }).map((i) => i / 2));
    fc.assert(fc.property(fc.array(value), fc.array(value), (a, b) => {
      const both = mergeSorted(Float64Array.from(a).sort(), Float64Array.from(b).sort());
      const sorted = Float64Array.from([...a, ...b]).sort();
      // Equal values, compared with === (a merge may put 0 before -0, which a sort does not).
      expect(both.every((x, i) => x === sorted[i])).toBe(true);
      if (both.length) expect(winsorizedSdSorted(both)).toBe(winsorizedSd([...a, ...b]));
    }));
  });
});
