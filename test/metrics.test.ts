import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseMetricLine, parseMetrics } from '../scripts/lib/metrics.ts';

describe('parseMetricLine', () => {
  it('reads name=value, with surrounding whitespace', () => {
    expect(parseMetricLine('METRIC time_ms=12.5')).toEqual({ name: 'time_ms', value: 12.5 });
    expect(parseMetricLine('   METRIC  µs.total-p50=3e-2 \t')).toEqual({ name: 'µs.total-p50', value: 0.03 });
    expect(parseMetricLine('METRIC score=-4')).toEqual({ name: 'score', value: -4 });
    expect(parseMetricLine('METRIC zero=0')).toEqual({ name: 'zero', value: 0 });
    expect(parseMetricLine('METRIC x=.5')).toEqual({ name: 'x', value: 0.5 });
    expect(parseMetricLine('METRIC x=+7.')).toEqual({ name: 'x', value: 7 });
  });

  it('returns null for lines that are not METRIC lines', () => {
    for (const line of ['', 'time_ms=12', 'metric x=1', 'METRICS x=1', 'METRIC_x=1', '# METRIC x=1', 'xMETRIC x=1']) {
      expect(parseMetricLine(line)).toBeNull();
    }
  });

  it('warns, naming the line, on malformed METRIC lines', () => {
    const bad = ['METRIC', 'METRIC x', 'METRIC x=', 'METRIC =3', 'METRIC x=3 ms', 'METRIC x=0x10', 'METRIC x=1_000', 'METRIC x=abc', 'METRIC 9x=1', 'METRIC a/b=1'];
    for (const line of bad) {
      const r = parseMetricLine(line);
      expect(r, line).not.toBeNull();
      expect(r && 'warning' in r ? r.warning : '').toContain(JSON.stringify(line));
    }
  });

  it('says what a metric name may be when it is refused (too long, a digit first)', () => {
    for (const name of ['a'.repeat(65), '1abc']) {
      const r = parseMetricLine(`METRIC ${name}=1`);
      expect(r && 'warning' in r ? r.warning : null).toContain(`: invalid name ${JSON.stringify(name)} (a letter or _, then letters, digits, _ . - or µ (64 at most))`);
    }
    expect(parseMetricLine(`METRIC ${'a'.repeat(64)}=1`)).toEqual({ name: 'a'.repeat(64), value: 1 });
  });

  it('says what is wrong with text after the value (a unit, a comment)', () => {
    for (const line of ['METRIC x=3 ms', 'METRIC x=3 # warm run']) {
      const r = parseMetricLine(line);
      expect(r && 'warning' in r ? r.warning : null).toBe(`ignored METRIC line ${JSON.stringify(line)}: the value must be a plain number ending the line (no unit, no comment)`);
    }
    const r = parseMetricLine('METRIC x');
    expect(r && 'warning' in r ? r.warning : null).toMatch(/expected METRIC name=value$/);
  });

  it('says where the unit goes when it is glued to the value (12.5ms, 98%)', () => {
    for (const [v, unit] of [['12.5ms', 'ms'], ['98%', '%'], ['1.2e3us', 'us'], ['40MB/s', 'MB/s']]) {
      const r = parseMetricLine(`METRIC x=${v}`);
      expect(r && 'warning' in r ? r.warning : null, v).toBe(`ignored METRIC line "METRIC x=${v}": not a number: "${v}" (print the number alone: the unit "${unit}" goes in --unit at init)`);
    }
    const r = parseMetricLine('METRIC x=fast');
    expect(r && 'warning' in r ? r.warning : null).toBe('ignored METRIC line "METRIC x=fast": not a number: "fast"');
  });

  it('warns on non-finite values', () => {
    for (const v of ['NaN', 'nan', 'Infinity', '-Infinity', 'inf', '1e999', '-1e400']) {
      const r = parseMetricLine(`METRIC x=${v}`);
      expect(r && 'warning' in r ? r.warning : null, v).toMatch(/non-finite/);
    }
  });

  it('refuses prototype names', () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      const r = parseMetricLine(`METRIC ${name}=1`);
      expect(r && 'warning' in r ? r.warning : null).toMatch(/reserved name/);
    }
  });

  it('refuses names longer than METRIC_NAME allows (64)', () => {
    expect(parseMetricLine(`METRIC ${'a'.repeat(64)}=1`)).toEqual({ name: 'a'.repeat(64), value: 1 });
    expect(parseMetricLine(`METRIC ${'a'.repeat(65)}=1`)).toHaveProperty('warning');
  });

  it('property: any finite number printed by JS round-trips', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
        // String(-0) is "0": what is printed is what must come back.
        const printed = Object.is(v, -0) ? 0 : v;
        expect(parseMetricLine(`METRIC v=${String(v)}`)).toEqual({ name: 'v', value: printed });
      }),
    );
  });
});

describe('parseMetrics', () => {
  it('last value of a name wins; warnings collected; other lines ignored', () => {
    const r = parseMetrics(['building...', 'METRIC t=3', 'METRIC mem=10', 'METRIC t=2', 'METRIC bad=NaN', 'done']);
    expect(r.metrics).toEqual({ t: 2, mem: 10 });
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain('METRIC bad=NaN');
  });

  it('an unreadable last line of a name leaves it without a value: an earlier one is not the result (a training ending in NaN)', () => {
    const r = parseMetrics(['METRIC loss=0.8', 'METRIC mem=10', 'METRIC loss=nan']);
    expect(r.metrics).toEqual({ mem: 10 });
    expect(r.warnings).toEqual(['ignored METRIC line "METRIC loss=nan": non-finite value nan']);
    expect(parseMetrics(['METRIC loss=0.8', 'METRIC loss=0.7 ms']).metrics).toEqual({});
    expect(parseMetrics(['METRIC loss=nan', 'METRIC loss=0.7']).metrics).toEqual({ loss: 0.7 });
    // A line whose name is not valid names no metric and takes nothing away.
    expect(parseMetrics(['METRIC a=1', 'METRIC a/b=nan']).metrics).toEqual({ a: 1 });
  });

  it('accepts any iterable (a generator)', () => {
    function* lines() {
      yield 'METRIC a=1';
      yield 'METRIC b=2';
    }
    expect(parseMetrics(lines()).metrics).toEqual({ a: 1, b: 2 });
  });

  it('cannot pollute prototypes and serialises as JSON', () => {
    const r = parseMetrics(['METRIC __proto__=1', 'METRIC constructor=2', 'METRIC toString=3', 'METRIC hasOwnProperty=4']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(r.metrics)).not.toHaveProperty('__proto__', 1);
    expect(Object.keys(r.metrics)).toEqual(['toString', 'hasOwnProperty']);
    expect(r.warnings).toHaveLength(2);
    expect(JSON.parse(JSON.stringify(r.metrics))).toEqual({ toString: 3, hasOwnProperty: 4 });
    expect(typeof ({} as { toString: unknown }).toString).toBe('function');
  });
});
