// Result files and output a hidden mistake makes ambiguous: a CSV whose cells
// shift under their headers, a JSON file with a key twice, a last value that
// is not a number. Each fails the sample with its reason; none is read as
// some other number.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CoverageSourceSpec, coverageSource } from '../scripts/lib/sources/coverage.ts';
import { CsvSourceSpec, csvSource } from '../scripts/lib/sources/csv.ts';
import { duplicateKey, parseDecimal } from '../scripts/lib/sources/common.ts';
import { JsonSourceSpec, jsonSource } from '../scripts/lib/sources/json.ts';
import { HyperfineSourceSpec, hyperfineSource } from '../scripts/lib/sources/hyperfine.ts';
import { GoogleBenchmarkSourceSpec, googleBenchmarkSource } from '../scripts/lib/sources/google-benchmark.ts';
import { JunitSourceSpec, junitSource } from '../scripts/lib/sources/junit.ts';
import { RegexSourceSpec, regexSource } from '../scripts/lib/sources/regex.ts';
import type { SampleOutput, SourceReading } from '../scripts/lib/sources/types.ts';
import { cleanupTmp, tmpDir } from './helpers/repo.ts';

afterAll(cleanupTmp);

/** A sample that wrote `file` with `text` (and printed `out`). */
function wrote(file: string, text: string | Buffer, out = ''): SampleOutput {
  const dir = tmpDir();
  const startedAtMs = Date.now() - 1000;
  fs.writeFileSync(path.join(dir, file), text);
  const log = path.join(dir, 'output.log');
  fs.writeFileSync(log, out);
  return { cwd: dir, log: { file: log, start: 0, end: Buffer.byteLength(out) }, startedAtMs };
}

const reason = (r: SourceReading): string => (r.ok ? `read ${JSON.stringify(r.metrics)}` : r.reason);

describe('csv: cells that cannot be matched to their header fail the sample', () => {
  const csv = (extra: object = {}) => csvSource(CsvSourceSpec.parse({ kind: 'csv', file: 'm.csv', metrics: { loss: 'loss' }, ...extra }));

  it('a row with more or fewer cells than the header (an unquoted comma in a value) is refused, not read shifted', async () => {
    expect(reason(await csv().read(wrote('m.csv', 'step,loss,acc\n1,0,5,0.9\n2,0.4,0.95\n')))).toBe('csv m.csv: data row 1 has 4 cells, the header 3: its columns cannot be matched');
    expect(reason(await csv().read(wrote('m.csv', 'step,loss,acc\n1,0.5,0.9\n2,0.4\n')))).toBe('csv m.csv: data row 2 has 2 cells, the header 3: its columns cannot be matched');
  });

  it('two columns of the metric\'s header, or a quote never closed, are refused', async () => {
    expect(reason(await csv().read(wrote('m.csv', 'loss,step,loss\n0.5,1,0.9\n')))).toBe('csv m.csv: has two columns named "loss"');
    expect(reason(await csv().read(wrote('m.csv', 'loss,note\n0.5,"open\n0.4,x\n')))).toBe('csv m.csv: a quoted cell is never closed');
    // Another column named twice does not matter to this one.
    expect(await csv().read(wrote('m.csv', 'note,loss,note\na,0.5,b\n'))).toEqual({ ok: true, metrics: { loss: [0.5] }, warnings: [] });
  });

  it('pick last: a last cell that is not a number (a unit, a decimal comma, 1e-400) leaves no value', async () => {
    for (const cell of ['0.3s', '"0,3"', '1e-400']) {
      const r = await csv().read(wrote('m.csv', `step,loss\n1,0.9\n2,${cell}\n`));
      expect(reason(r), cell).toMatch(/^csv m\.csv: the last value of loss is not a number: .* \(earlier rows are not the result\)$/);
    }
    // min over the column still drops it with a warning.
    const r = await csv({ pick: 'min' }).read(wrote('m.csv', 'step,loss\n1,0.9\n2,0.3s\n'));
    expect(r).toEqual({ ok: true, metrics: { loss: [0.9] }, warnings: ['csv m.csv: ignored cells of loss that are not numbers, e.g. "0.3s"'] });
  });

  it('a header written again (a logger appending to an earlier run\'s file) is refused: its rows would count', async () => {
    const r = await csv({ pick: 'min' }).read(wrote('m.csv', 'step,loss\n1,0.1\nstep,loss\n1,0.9\n2,0.8\n'));
    expect(reason(r)).toBe('csv m.csv: the header comes again at data row 2 (rows of an earlier run appended?)');
  });

  it('reads a BOM, CRLF, quoted commas and an empty last line as the data they hold', async () => {
    const r = await csv({ metrics: { loss: 'loss', acc: 'acc, %' } }).read(wrote('m.csv', '\uFEFFstep,loss,"acc, %"\r\n1,0.9,"80"\r\n2,0.4,90\r\n\r\n'));
    expect(r).toEqual({ ok: true, metrics: { loss: [0.4], acc: [90] }, warnings: [] });
  });
});

describe('regex, pick last: a last match that is not a number leaves no value', () => {
  const regex = (pattern: string, pickHow = 'last') => regexSource(RegexSourceSpec.parse({ kind: 'regex', metric: 'loss', pattern, pick: pickHow }));

  it('refuses, where it read the match before it', async () => {
    const out = 'loss: 0.9\nloss: 1e-400\n';
    for (const [o, bad] of [['loss: 0.9\nloss: 1e-400\n', '1e-400 (too small to tell from 0)'], ['loss: 0.9\nloss: .\n', '.']] as const) {
      expect(reason(await regex('loss: ([0-9.eE+-]+)').read(wrote('x', '', o))), o).toBe(`regex /loss: ([0-9.eE+-]+)/: the last match is not a number: ${JSON.stringify(bad)} (earlier matches are not the result)`);
    }
    const min = await regex('loss: ([0-9.eE+-]+)', 'min').read(wrote('x', '', out));
    expect(min.ok && min.metrics).toEqual({ loss: [0.9] });
  });

  it('matches a line as a terminal shows it: a coloured last match is read, not the plain one before it', async () => {
    const r = await regex('^val_loss: ([0-9.eE+-]+)$').read(wrote('x', '', 'val_loss: 0.9\n\x1b[32mval_loss: \x1b[1m0.5\x1b[0m\n'));
    expect(r).toEqual({ ok: true, metrics: { loss: [0.5] }, warnings: [] });
  });

  it('parseDecimal never reads a non-zero mantissa as 0', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 330, max: 5000 }), (d, e) => {
        expect(parseDecimal(`${d}e-${e}`)).toHaveProperty('notANumber');
      }),
    );
    expect(parseDecimal('0e-999')).toEqual({ value: 0 });
  });
});

describe('json: a key held twice fails the sample', () => {
  const json = (metrics: Record<string, string>) => jsonSource(JsonSourceSpec.parse({ kind: 'json', file: 'm.json', metrics }));

  it('names the key and where it is, rather than read the last copy as JSON.parse does', async () => {
    expect(reason(await json({ loss: 'loss' }).read(wrote('m.json', '{"loss": 0.1, "n": 2, "loss": 0.9}')))).toBe('json m.json: key "loss" appears twice in $ (which one counts depends on the reader)');
    expect(reason(await json({ loss: 'r[0].loss' }).read(wrote('m.json', '{"r": [{"a b": {"x": 1, "\\u0078": NaN}}]}')))).toBe('json m.json: key "x" appears twice in $.r[0]["a b"] (which one counts depends on the reader)');
    // The same key in two objects is no duplicate.
    expect(await json({ a: 'r[1].loss' }).read(wrote('m.json', '{"r": [{"loss": 1}, {"loss": 2}], "s": "{\\"loss\\": 3, \\"loss\\": 4}"}'))).toEqual({ ok: true, metrics: { a: [2] }, warnings: [] });
  });

  it('the tools\' exports are checked as well', async () => {
    const h = hyperfineSource(HyperfineSourceSpec.parse({ kind: 'hyperfine', file: 'h.json', metric: 't' }));
    expect(reason(await h.read(wrote('h.json', '{"results": [{"command": "a", "times": [1], "times": [0.1]}]}')))).toMatch(/key "times" appears twice in \$\.results\[0\]/);
  });

  it('property: no duplicate in any JSON a serialiser writes; any key written twice is found', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string(), fc.jsonValue(), (doc, key, v) => {
        expect(duplicateKey(JSON.stringify(doc))).toBeNull();
        expect(duplicateKey(JSON.stringify(doc, null, 2))).toBeNull();
        const twice = `{"k": ${JSON.stringify(doc)}, ${JSON.stringify(key)}: 1, "z": [${JSON.stringify(v)}], ${JSON.stringify(key)}: 2}`;
        expect(duplicateKey(twice)).toMatch(/appears twice in \$$/);
      }),
      { numRuns: 300 },
    );
  });
});

describe('junit: a report cut short is not counted', () => {
  const junit = () => junitSource(JunitSourceSpec.parse({ kind: 'junit', file: 'j.xml' }));
  const CASES = '<testcase name="a"/><testcase name="b"><failure message="x"/></testcase><testcase name="c"><skipped/></testcase>';

  it('counts failures and skips of a whole report, and refuses one that ends inside an element or closes the wrong one', async () => {
    expect(await junit().read(wrote('j.xml', `<?xml version="1.0"?><testsuites><testsuite name="s">${CASES}</testsuite></testsuites>\n`))).toEqual({
      ok: true,
      metrics: { tests: [3], failures: [1], errors: [0], skipped: [1], passed: [1] },
      warnings: [],
    });
    // The writer was killed after two test cases: 2 tests, 1 failure would be a wrong count.
    expect(reason(await junit().read(wrote('j.xml', `<testsuites><testsuite name="s">${CASES.slice(0, CASES.indexOf(`<testcase name="c"`))}`)))).toBe('junit j.xml: not readable XML (ends inside <testsuite>, cut short)');
    expect(reason(await junit().read(wrote('j.xml', `<testsuites><testsuite name="s">${CASES}</testsuites>`)))).toMatch(/^junit j\.xml: not readable XML \(<\/testsuites> closes <testsuite> at offset \d+\)$/);
    expect(reason(await junit().read(wrote('j.xml', '')))).toBe('junit j.xml: has no XML element');
  });
});

describe('coverage, lcov: a file cut short is not read', () => {
  const cov = () => coverageSource(CoverageSourceSpec.parse({ kind: 'coverage', file: 'lcov.info' }));
  const REC = (f: string, lf: number, lh: number) => `SF:${f}\nDA:1,1\nLF:${lf}\nLH:${lh}\nend_of_record\n`;

  it('reads whole records, and refuses a last record without end_of_record or a count that is not a number', async () => {
    expect(await cov().read(wrote('lcov.info', REC('a.ts', 10, 5) + REC('b.ts', 10, 10)))).toMatchObject({ ok: true, metrics: { lines_pct: [75] } });
    // The writer stopped inside b.ts's record: a.ts's 50% alone is not the coverage.
    expect(reason(await cov().read(wrote('lcov.info', REC('a.ts', 10, 5) + 'SF:b.ts\nDA:1,1\nLF:10\n')))).toBe('coverage lcov.info: ends inside the record of "b.ts" (no end_of_record: cut short?)');
    expect(reason(await cov().read(wrote('lcov.info', REC('a.ts', 10, 5).replace('LH:5', 'LH:5x'))))).toBe('coverage lcov.info: has an unreadable LH line "LH:5x"');
  });
});

describe('hyperfine: runs that failed are not timings of the command', () => {
  const h = () => hyperfineSource(HyperfineSourceSpec.parse({ kind: 'hyperfine', file: 'h.json', metric: 't' }));
  const doc = (codes: unknown) => JSON.stringify({ results: [{ command: 'x', mean: 0.4, times: [1, 0.1, 0.1], exit_codes: codes }] });

  it('refuses times of runs that exited differently (--ignore-failure), warns when all exited alike, reads an export without exit codes', async () => {
    expect(reason(await h().read(wrote('h.json', doc([0, 1, 1]))))).toBe('hyperfine h.json: 2 of 3 runs of "x" exited non-zero (exit codes 0, 1): their times are not the command\'s');
    expect(reason(await h().read(wrote('h.json', doc([0, null, 0]))))).toMatch(/1 of 3 runs of "x" exited non-zero \(exit codes 0, null\)/);
    expect(await h().read(wrote('h.json', doc([1, 1, 1])))).toEqual({ ok: true, metrics: { t: [1, 0.1, 0.1] }, warnings: ['hyperfine h.json: every run of "x" exited 1'] });
    expect(await h().read(wrote('h.json', doc([0, 0, 0])))).toEqual({ ok: true, metrics: { t: [1, 0.1, 0.1] }, warnings: [] });
    expect(await h().read(wrote('h.json', doc(undefined)))).toEqual({ ok: true, metrics: { t: [1, 0.1, 0.1] }, warnings: [] });
  });
});

describe('google-benchmark: repetitions that reported an error', () => {
  it('are left out with a warning, not in silence', async () => {
    const gb = googleBenchmarkSource(GoogleBenchmarkSourceSpec.parse({ kind: 'google-benchmark', file: 'gb.json', metric: 't' }));
    const rep = (i: number, t: number, err = false) => ({ name: 'BM_x', run_name: 'BM_x', run_type: 'iteration', repetition_index: i, real_time: t, time_unit: 'ns', ...(err ? { error_occurred: true, error_message: 'skipped' } : {}) });
    const r = await gb.read(wrote('gb.json', JSON.stringify({ benchmarks: [rep(0, 10), rep(1, 0, true), rep(2, 12)] })));
    expect(r).toEqual({ ok: true, metrics: { t: [10, 12] }, warnings: ['google-benchmark: ignored 1 run(s) of BM_x that reported an error'] });
  });
});
