import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { confidence } from '../scripts/lib/confidence.ts';

describe('confidence', () => {
  it('is |bestKept − baseline| / MAD of the primaries', () => {
    // primaries 10, 11, 12, 9, 8 → median 10, |dev| 0,1,2,1,2 → MAD 1
    const c = confidence({ primaries: [10, 11, 12, 9, 8], baseline: 10, bestKept: 7.5 });
    expect(c.value).toBe(2.5);
    expect(c.label).toBe('high');
  });

  it('labels: >= 2 high, >= 1 marginal, else within noise (boundaries included)', () => {
    const p = [10, 11, 12, 9, 8]; // MAD 1
    expect(confidence({ primaries: p, baseline: 10, bestKept: 12 }).label).toBe('high');
    expect(confidence({ primaries: p, baseline: 10, bestKept: 11.99 }).label).toBe('marginal');
    expect(confidence({ primaries: p, baseline: 10, bestKept: 11 }).label).toBe('marginal');
    expect(confidence({ primaries: p, baseline: 10, bestKept: 10.99 }).label).toBe('within noise');
    expect(confidence({ primaries: p, baseline: 10, bestKept: 10 })).toEqual({ value: 0, label: 'within noise' });
  });

  it('zero and negative metrics are legal', () => {
    // primaries −2, 0, 2 → median 0, |dev| 2, 0, 2 → MAD 2; |−4 − 0| / 2 = 2
    expect(confidence({ primaries: [-2, 0, 2], baseline: 0, bestKept: -4 })).toEqual({ value: 2, label: 'high' });
  });

  it('null below 3 primaries, without baseline or best, or with MAD 0', () => {
    expect(confidence({ primaries: [1, 2], baseline: 1, bestKept: 2 })).toEqual({ value: null, label: null });
    expect(confidence({ primaries: [1, 2, 3], baseline: null, bestKept: 2 })).toEqual({ value: null, label: null });
    expect(confidence({ primaries: [1, 2, 3], baseline: 1, bestKept: null })).toEqual({ value: null, label: null });
    expect(confidence({ primaries: [5, 5, 5, 4], baseline: 5, bestKept: 4 })).toEqual({ value: null, label: null });
  });

  it('property: never Infinity or NaN; label null exactly when value null', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e12, max: 1e12, noNaN: true }), { maxLength: 20 }),
        fc.option(fc.double({ min: -1e12, max: 1e12, noNaN: true })),
        fc.option(fc.double({ min: -1e12, max: 1e12, noNaN: true })),
        (primaries, baseline, bestKept) => {
          const c = confidence({ primaries, baseline, bestKept });
          if (c.value !== null) expect(Number.isFinite(c.value) && c.value >= 0).toBe(true);
          expect(c.label === null).toBe(c.value === null);
        },
      ),
    );
  });
});
