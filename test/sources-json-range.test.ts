// A number in a JSON result file that a double cannot hold: JSON.parse reads
// 1e-400 as 0 and 1e400 as Infinity, without a word. Each source that reads
// JSON refuses such a value with its literal, as the METRIC-line parser does
// (no JSON.parse source-text access: Node 20 has none).
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseJsonLenient } from '../scripts/lib/sources/common.ts';
import { CoverageSourceSpec, coverageSource } from '../scripts/lib/sources/coverage.ts';
import { GoogleBenchmarkSourceSpec, googleBenchmarkSource } from '../scripts/lib/sources/google-benchmark.ts';
import { HyperfineSourceSpec, hyperfineSource } from '../scripts/lib/sources/hyperfine.ts';
import { JsonSourceSpec, jsonSource } from '../scripts/lib/sources/json.ts';
import { PytestBenchmarkSourceSpec, pytestBenchmarkSource } from '../scripts/lib/sources/pytest-benchmark.ts';
import type { SampleOutput, SourceReading } from '../scripts/lib/sources/types.ts';
import { engine, makeRepo } from './helpers/engine.ts';
import { cleanupTmp, tmpDir } from './helpers/repo.ts';

afterAll(cleanupTmp);

function wrote(file: string, text: string): SampleOutput {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, file), text);
  const log = path.join(dir, 'output.log');
  fs.writeFileSync(log, '');
  return { cwd: dir, log: { file: log, start: 0, end: 0 }, startedAtMs: Date.now() - 1000 };
}

const reason = (r: SourceReading): string => (r.ok ? `read ${JSON.stringify(r.metrics)}` : r.reason);
const json = (metrics: Record<string, string>) => jsonSource(JsonSourceSpec.parse({ kind: 'json', file: 'm.json', metrics }));

describe('json: a number out of the range of a double is refused, not read as 0 or Infinity', () => {
  it('a single value: 1e-400, -1e-400, 1e400, -1e400 and the long forms fail the sample, naming the literal', async () => {
    const cases: [string, string][] = [
      ['1e-400', '1e-400 (too small to tell from 0)'],
      ['-1e-400', '-1e-400 (too small to tell from 0)'],
      ['2.5E-330', '2.5E-330 (too small to tell from 0)'],
      ['1e400', '1e400 (too large: it reads as Infinity)'],
      ['-1e400', '-1e400 (too large: it reads as -Infinity)'],
      [`0.${'0'.repeat(400)}1`, `0.${'0'.repeat(400)}1 (too small to tell from 0)`],
      ['9'.repeat(400), `${'9'.repeat(400)} (too large: it reads as Infinity)`],
    ];
    for (const [lit, why] of cases) {
      expect(reason(await json({ loss: 'r.loss' }).read(wrote('m.json', `{"r": {"loss": ${lit}}, "n": 3}`))), lit).toBe(`json m.json: r.loss is out of range: ${why}`);
    }
  });

  it('in a file Python wrote with NaN elsewhere (JSON.parse refuses it) the same holds', async () => {
    expect(reason(await json({ loss: 'loss' }).read(wrote('m.json', '{"sd": NaN, "loss": 1e-400}')))).toBe('json m.json: loss is out of range: 1e-400 (too small to tell from 0)');
  });

  it('in an array of samples it is dropped with a warning naming it; only such values fail', async () => {
    expect(await json({ t: 't' }).read(wrote('m.json', '{"t": [0.5, 1e-400, 0.7]}'))).toEqual({
      ok: true,
      metrics: { t: [0.5, 0.7] },
      warnings: ['json m.json: ignored 1 out-of-range value(s) at t, e.g. 1e-400 (too small to tell from 0)'],
    });
    expect(reason(await json({ t: 't' }).read(wrote('m.json', '{"t": [1e400]}')))).toBe('json m.json: t holds no number in range (e.g. 1e400 (too large: it reads as Infinity))');
  });

  it('the edges of the range read as they are; the literal in a string, or outside the path, changes nothing', async () => {
    const edges = '{"a": 5e-324, "b": 1.7976931348623157e308, "c": 0e-999, "d": -0.0E+400, "e": 1E-300, "s": "1e-400", "x": 1e-400}';
    const r = await json({ a: 'a', b: 'b', c: 'c', d: 'd', e: 'e' }).read(wrote('m.json', edges));
    expect(r).toEqual({ ok: true, metrics: { a: [5e-324], b: [1.7976931348623157e308], c: [0], d: [-0], e: [1e-300] }, warnings: [] });
    expect(reason(await json({ s: 's' }).read(wrote('m.json', edges)))).toBe('json m.json: s is string "1e-400", not a number');
  });

  it('property: any document a serialiser writes parses as JSON.parse reads it', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.double({ noNaN: true, noDefaultInfinity: true }), (doc, x) => {
        const text = JSON.stringify({ doc, x, k: `${x}e-400` });
        expect(parseJsonLenient(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('property: a non-zero mantissa with an exponent past the range never reads as a number', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 330, max: 5000 }), fc.boolean(), fc.boolean(), async (d, e, neg, small) => {
        const lit = `${neg ? '-' : ''}${d}e${small ? '-' : '+'}${e}`;
        const r = await json({ v: 'v' }).read(wrote('m.json', `{"v": ${lit}}`));
        expect(reason(r)).toMatch(/ is out of range: /);
      }),
      { numRuns: 40 },
    );
  });
});

describe('the tools\' JSON exports and coverage summaries refuse it too', () => {
  it('hyperfine: a time out of range is dropped with its literal named', async () => {
    const h = hyperfineSource(HyperfineSourceSpec.parse({ kind: 'hyperfine', file: 'h.json', metric: 't' }));
    expect(await h.read(wrote('h.json', '{"results": [{"command": "x", "mean": 0.2, "times": [0.1, 1e-400, 0.3]}]}'))).toEqual({
      ok: true,
      metrics: { t: [0.1, 0.3] },
      warnings: ['hyperfine h.json: ignored 1 time(s) that are not finite numbers, e.g. 1e-400 (too small to tell from 0)'],
    });
    expect(reason(await h.read(wrote('h.json', '{"results": [{"command": "x", "mean": 1e-400}]}')))).toBe('hyperfine h.json: command "x" has no usable time, e.g. 1e-400 (too small to tell from 0)');
  });

  it('google-benchmark and pytest-benchmark: an aggregate out of range is no value', async () => {
    const gb = googleBenchmarkSource(GoogleBenchmarkSourceSpec.parse({ kind: 'google-benchmark', file: 'gb.json', metric: 't' }));
    const agg = '{"benchmarks": [{"name": "BM_x_mean", "run_name": "BM_x", "run_type": "aggregate", "aggregate_name": "mean", "real_time": 1e-400, "time_unit": "ns"}]}';
    expect(reason(await gb.read(wrote('gb.json', agg)))).toBe('google-benchmark gb.json: benchmark "BM_x" has no finite real_time, e.g. 1e-400 (too small to tell from 0)');
    const pb = pytestBenchmarkSource(PytestBenchmarkSourceSpec.parse({ kind: 'pytest-benchmark', file: 'pb.json', metric: 't' }));
    expect(reason(await pb.read(wrote('pb.json', '{"benchmarks": [{"name": "test_a", "stats": {"mean": -1e400}}]}')))).toBe('pytest-benchmark pb.json: benchmark "test_a" has no finite timing, e.g. -1e400 (too large: it reads as -Infinity)');
  });

  it('coverage: a count out of range fails the summary instead of leaving that kind out or reading 0%', async () => {
    const cov = (file: string) => coverageSource(CoverageSourceSpec.parse({ kind: 'coverage', file }));
    const ist = '{"total": {"lines": {"total": 1e400, "covered": 8}, "branches": {"total": 4, "covered": 2}}}';
    expect(reason(await cov('coverage-summary.json').read(wrote('coverage-summary.json', ist)))).toBe('coverage coverage-summary.json: has a count out of range: 1e400 (too large: it reads as Infinity)');
    const py = '{"meta": {}, "totals": {"covered_lines": 5, "num_statements": 10, "covered_branches": 1e-400, "num_branches": 4}}';
    expect(reason(await cov('coverage.json').read(wrote('coverage.json', py)))).toBe('coverage coverage.json: has a count out of range: 1e-400 (too small to tell from 0)');
    const lcov = `SF:a.ts\nDA:1,1\nLF:1${'0'.repeat(400)}\nLH:5\nend_of_record\n`;
    expect(reason(await cov('lcov.info').read(wrote('lcov.info', lcov)))).toMatch(/^coverage lcov\.info: has an unreadable LF line "LF:1000/);
  });
});

describe('through the engine', () => {
  it('a training script that writes val_loss 1e-400 to its metrics JSON makes the run invalid, not a perfect score', { timeout: 900_000 }, () => {
    const train = "require('fs').writeFileSync('metrics.json', '{\"val_loss\": ' + require('fs').readFileSync('lit.txt', 'utf8').trim() + '}');";
    const dir = makeRepo({ 'train.js': train, 'lit.txt': '0.5\n', '.gitignore': 'metrics.json\n' });
    expect(engine('init-experiment', ['--name', 'r', '--metric', 'val_loss', '--direction', 'lower', '--command', 'node train.js', '--scope', 'lit.txt', '--source', 'json:metrics.json:val_loss=val_loss', '--repeats', '1'], dir).code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], dir).json).toMatchObject({ verdict: 'keep', primary: 0.5 });
    fs.writeFileSync(path.join(dir, 'lit.txt'), '1e-400\n');
    const run = engine('run-experiment', ['--description', 'underflow', '--json'], dir);
    expect(run.json).toMatchObject({ verdict: 'invalid' });
    const result = JSON.parse(fs.readFileSync(path.join(dir, '.autoloop/experiments/r/runs/r0002/result.json'), 'utf8')) as { reason: string };
    expect(result.reason).toContain('val_loss is out of range: 1e-400 (too small to tell from 0)');
  });
});
