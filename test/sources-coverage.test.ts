// The coverage source on summaries written by the real tools, for one tiny
// program with a known shape: c8 (npm, into .cache/tools) writes Istanbul's
// coverage-summary.json and lcov.info; Debian's python3-coverage writes
// coverage.py JSON.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoverageSourceSpec, coverageSource, lcovPcts } from '../scripts/lib/sources/coverage.ts';
import type { SampleOutput, SourceReading } from '../scripts/lib/sources/types.ts';
import { cleanupTmp, tmpDir } from './helpers/repo.ts';
import { DEBIAN_PYTHON, ensureDebian, ensureNpmTool, run } from './helpers/tools.ts';

afterAll(cleanupTmp);

let c8 = '';
beforeAll(() => {
  c8 = ensureNpmTool('c8', '12.0.0', 'c8');
  ensureDebian(['python3-coverage'], [DEBIAN_PYTHON, '-c', 'import coverage']);
}, 900_000);

const sample = (cwd: string, startedAtMs: number): SampleOutput => ({ cwd, log: { file: path.join(cwd, 'x.log'), start: 0, end: 0 }, startedAtMs });
const coverage = (file: string, extra: object = {}) => coverageSource(CoverageSourceSpec.parse({ kind: 'coverage', file, ...extra }));
const rounded = (r: SourceReading) => (r.ok ? Object.fromEntries(Object.entries(r.metrics).map(([k, v]) => [k, v.map((x) => Math.round(x * 100) / 100)])) : r.reason);

// 10 lines: `used` runs (its if is taken, its fall-through is not), `unused` never does.
const JS = 'function used(x) {\n  if (x > 0) {\n    return 1;\n  }\n  return -1;\n}\nfunction unused() {\n  return 2;\n}\nconsole.log(used(1));\n';
// 7 statements: 5 run; of the if's 2 branch arcs, 1 is taken.
const PY = 'def used(x):\n    if x > 0:\n        return 1\n    return -1\n\ndef unused():\n    return 2\n\nprint(used(1))\n';

describe('coverage source on real tools', () => {
  it("reads c8's coverage-summary.json and lcov.info of the same run alike", async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'app.js'), JS);
    const started = Date.now();
    run(c8, ['--reporter=json-summary', '--reporter=lcov', '--reports-dir=coverage', process.execPath, 'app.js'], dir);
    const summary = await coverage('coverage/coverage-summary.json').read(sample(dir, started));
    expect(rounded(summary)).toEqual({ lines_pct: [60], branches_pct: [66.67], functions_pct: [50], statements_pct: [60] });
    const lcov = await coverage('coverage/lcov.info').read(sample(dir, started));
    expect(rounded(lcov)).toEqual({ lines_pct: [60], branches_pct: [66.67], functions_pct: [50] });
  });

  it("reads coverage.py's JSON (Debian python3-coverage, branch mode) with a prefix", async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'app.py'), PY);
    const started = Date.now();
    run(DEBIAN_PYTHON, ['-m', 'coverage', 'run', '--branch', 'app.py'], dir);
    run(DEBIAN_PYTHON, ['-m', 'coverage', 'json', '-q', '-o', 'cov.json'], dir);
    const r = await coverage('cov.json', { prefix: 'py_' }).read(sample(dir, started));
    expect(rounded(r)).toEqual({ py_lines_pct: [71.43], py_statements_pct: [71.43], py_branches_pct: [50] });
  });

  it('refuses a stale summary and one of the wrong format, naming the source', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 's.json'), '{"totals": {}, "meta": {}}');
    expect(await coverage('s.json', { format: 'istanbul' }).read(sample(dir, Date.now() - 5000))).toEqual({
      ok: false,
      reason: 'coverage s.json: has no "total" object (not an Istanbul coverage-summary.json?)',
    });
    expect(await coverage('s.json').read(sample(dir, Date.now() - 5000))).toEqual({
      ok: false,
      reason: 'coverage s.json: the coverage.py summary measured nothing (0 lines, branches and functions)',
    });
    expect(await coverage('s.json').read(sample(dir, Date.now() + 60_000))).toEqual({
      ok: false,
      reason: 'coverage s.json: s.json is stale (last written before this sample started)',
    });
  });
});

describe('lcov totals', () => {
  it('sums records and falls back to DA/BRDA/FNDA lines when a record has no summary lines', () => {
    const text = ['SF:a.js', 'LF:4', 'LH:3', 'end_of_record', 'SF:b.js', 'DA:1,1', 'DA:2,0', 'BRDA:1,0,0,-', 'BRDA:1,0,1,2', 'FNDA:0,f', 'end_of_record'].join('\n');
    expect(lcovPcts(text)).toEqual({ lines: (100 * 4) / 6, branches: 50, functions: 0 });
    expect(lcovPcts('TN:\n')).toBe('has no lcov records (end_of_record)');
  });
});
