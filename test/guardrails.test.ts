import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { allowedValue, blockingGuardrail, checkGuardrail, checkGuardrails, guardrailStatusLine } from '../scripts/lib/guardrails.ts';
import { judgeGate, planGates } from '../scripts/lib/gates.ts';
import { Config, Gate, Guardrail } from '../scripts/lib/schema.ts';
import { SIGN_LEGEND, formatChange, signedPct } from '../scripts/lib/signs.ts';

const G = (x: unknown) => Guardrail.parse(x);

describe('guardrail schema', () => {
  it('the old shape parses unchanged, with the old 5% default', () => {
    expect(G({ metric: 'size_kb' })).toEqual({ metric: 'size_kb', direction: 'lower', max_regression_pct: 5 });
    expect(G({ metric: 'size_kb', direction: 'higher', max_regression_pct: 2 })).toEqual({ metric: 'size_kb', direction: 'higher', max_regression_pct: 2 });
  });
  it('an absolute limit alone adds no relative tolerance', () => {
    expect(G({ metric: 'lint_issues', limit: 12 })).toEqual({ metric: 'lint_issues', direction: 'lower', limit: 12 });
  });
  it('config accepts the new fields with defaults', () => {
    const c = Config.parse({ name: 'x', metric: 'm', direction: 'lower', command: 'true' });
    expect(c.sample_budget_s).toBeNull();
    expect(c.deterministic).toBe('auto');
    expect(c.gates).toEqual([]);
    expect(() => Gate.parse({ name: 'lint', command: 'x', threshold: { metric: 'n' } })).toThrow();
  });
});

describe('guardrails are judged against the baseline', () => {
  it('no ratchet: 100 → 104 → 108 is broken at 108 under 5%, whatever the best was', () => {
    const g = G({ metric: 'size_kb', max_regression_pct: 5 });
    expect(checkGuardrail(g, [100], [104]).status).toBe('near');
    expect(checkGuardrail(g, [100], [108]).status).toBe('broken');
  });
  it('from 0: a relative tolerance gives a finite, explained verdict; an absolute one allows the rise', () => {
    const rel = checkGuardrail(G({ metric: 'errors', max_regression_pct: 5 }), [0], [3]);
    expect(rel.status).toBe('broken');
    expect(rel.reason).toMatch(/from 0 .*max_regression_abs/);
    expect(rel.reason).not.toMatch(/Infinity/);
    expect(checkGuardrail(G({ metric: 'errors', max_regression_abs: 5 }), [0], [3]).status).toBe('ok');
  });
  it('an absolute limit: lint_issues ≤ 12', () => {
    const g = G({ metric: 'lint_issues', limit: 12 });
    expect(checkGuardrail(g, [3], [12]).status).toBe('near');
    expect(checkGuardrail(g, [3], [13]).status).toBe('broken');
    expect(checkGuardrail(g, [], [13]).status).toBe('broken');
  });
  it('noise-aware: a rise inside the noise of several samples is not a break, the limit always is', () => {
    const g = G({ metric: 'rss_mb', max_regression_pct: 1 });
    expect(checkGuardrail(g, [100, 96, 104, 99, 101], [103, 99, 105, 100, 102]).status).not.toBe('broken');
    expect(checkGuardrail(g, [100], [102]).status).toBe('broken');
  });
  it('a value exactly at the tolerance is allowed, whatever floating point makes of the bound', () => {
    const g = G({ metric: 'mem', max_regression_pct: 10 });
    expect(checkGuardrail(g, [0.3], [0.33]).status).toBe('near');
    expect(checkGuardrail(g, [0.3], [0.331]).status).toBe('broken');
    expect(checkGuardrail(G({ metric: 'acc', direction: 'higher', max_regression_pct: 10 }), [0.7], [0.63]).status).toBe('near');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 99_999 }), fc.integer({ min: 1, max: 50 }), fc.constantFrom('lower', 'higher' as const), (n, pct, direction) => {
        const ref = n / 1000;
        const edge = Number((ref * (1 + ((direction === 'lower' ? 1 : -1) * pct) / 100)).toPrecision(12));
        expect(checkGuardrail(G({ metric: 'm', direction, max_regression_pct: pct }), [ref], [edge]).status).not.toBe('broken');
      }),
      { seed: 7 },
    );
  });
  it('the tightest bound wins (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 1, max: 1e4, noNaN: true }), fc.double({ min: 0, max: 50, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), (ref, pct, abs) => {
        const a = allowedValue(G({ metric: 'm', max_regression_pct: pct, max_regression_abs: abs }), ref);
        expect(a).toBeCloseTo(Math.min(ref * (1 + pct / 100), ref + abs), 6);
      }),
      { seed: 1 },
    );
  });
  it('status: one line naming what is near or over; null when all clear; missing blocks', () => {
    const checks = checkGuardrails([G({ metric: 'a', max_regression_pct: 5 }), G({ metric: 'b', limit: 10 }), G({ metric: 'c' })], { a: [100], b: [1], c: [1] }, { a: [104.5], b: [11], c: [1] });
    const line = guardrailStatusLine(checks)!;
    expect(line).toMatch(/^guardrails: a 104.5\/105 near, b 11\/10 OVER$/);
    expect(guardrailStatusLine(checkGuardrails([G({ metric: 'a' })], { a: [1] }, { a: [1] }))).toBeNull();
    expect(blockingGuardrail(checkGuardrails([G({ metric: 'a' })], { a: [1] }, {}))).toMatch(/missing/);
  });
});

describe('gates', () => {
  const hard = (name: string) => Gate.parse({ name, command: name });
  it('hard gates fastest first (measured), soft after; checks stay a hard gate after the benchmark', () => {
    const soft = Gate.parse({ name: 'lint', command: 'lint', kind: 'soft', threshold: { metric: 'issues', max: 12 } });
    const p = planGates([hard('tests'), soft, hard('types')], { tests: 30, types: 2 }, true);
    expect(p.before.map((g) => g.name)).toEqual(['types', 'tests']);
    expect(p.soft.map((g) => g.name)).toEqual(['lint']);
    expect(p.legacyChecksAfter).toBe(true);
  });
  it('a failed hard gate rejects before any sample; a soft one blocks the keep; a threshold is judged', () => {
    expect(judgeGate(hard('t'), { name: 't', exitCode: 1, timedOut: false, metrics: {} })).toEqual({ effect: 'reject', status: 'checks_failed', reason: 'gate t failed (exit 1)' });
    const soft = Gate.parse({ name: 'lint', command: 'lint', kind: 'soft', threshold: { metric: 'issues', max: 12 } });
    expect(judgeGate(soft, { name: 'lint', exitCode: 0, timedOut: false, metrics: { issues: 12 } })).toEqual({ effect: 'pass' });
    expect(judgeGate(soft, { name: 'lint', exitCode: 0, timedOut: false, metrics: { issues: 13 } })).toEqual({ effect: 'block_keep', reason: 'gate lint: issues 13 > 12' });
  });
});

describe('one sign convention: + = better', () => {
  it('a faster run and a higher score both read +', () => {
    expect(formatChange('lower', 95, 100)).toBe('+5%');
    expect(formatChange('higher', 105, 100)).toBe('+5%');
    expect(formatChange('lower', 105, 100)).toBe('-5%');
    expect(formatChange('lower', 3, 0)).toBe('-3');
    expect(signedPct('lower', 1, 0)).toBeNull();
    expect(SIGN_LEGEND).toMatch(/\+ = better/);
  });
});
