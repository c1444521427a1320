// Every metric source through the engine: a benchmark command (a real node
// process in a real git repository) writes what each tool would write, the
// config chooses a source per metric, and run-experiment / log-experiment act
// on what they read. The real tools' own outputs are the source tests' business
// (sources-*.test.ts); here the subject is the wiring.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, ledger, makeRepo } from './helpers/engine.ts';
import { PROJECT } from './helpers/repo.ts';

// Many real engine calls in one test: a guard against a hang, not a speed limit (the machine may be loaded).
const HANG_GUARD = { timeout: 600_000 };

// What the benchmark writes, keyed by what mode.txt (in scope) holds: "none"
// writes nothing but a METRIC line; a number scales every figure.
const BENCH = `
const fs = require('node:fs');
const mode = fs.readFileSync('mode.txt', 'utf8').trim();
const put = (file, data) => { fs.mkdirSync(require('node:path').dirname(file), { recursive: true }); fs.writeFileSync(file, data); };
console.log('METRIC always=1');
if (mode !== 'none') {
  const k = Number(mode);
  const memText = fs.readFileSync('mem.txt', 'utf8').trim();
  const mem = Number(memText);
  console.log('step 1 loss: 9.0');
  console.log('step 2 loss: ' + (0.5 * k));
  if (memText !== 'none') put('out/m.json', JSON.stringify({ eval: { acc: 0.9 }, mem }));
  fs.copyFileSync('tb.bin', 'runs/events.out.tfevents.1');
  put('reports/junit.xml', '<?xml version="1.0"?><testsuites tests="5" failures="1" errors="0"><testsuite name="s" tests="5" failures="1" errors="0" skipped="1"><testcase name="a"/></testsuite></testsuites>');
  put('coverage/coverage-summary.json', JSON.stringify({ total: { lines: { total: 10, covered: 8 }, branches: { total: 4, covered: 1 }, functions: { total: 2, covered: 2 }, statements: { total: 10, covered: 8 } } }));
  put('hyperfine.json', JSON.stringify({ results: [{ command: 'sort', mean: 0.11 * k, times: [0.1, 0.12, 0.11, 0.1, 0.13].map((t) => t * k) }] }));
  const rep = (i, t) => ({ name: 'BM_sort/1024', run_name: 'BM_sort/1024', run_type: 'iteration', repetitions: 3, repetition_index: i, real_time: t * k, cpu_time: t * k, time_unit: 'us' });
  put('gb.json', JSON.stringify({ context: {}, benchmarks: [rep(0, 1.5), rep(1, 1.6), rep(2, 1.4), { name: 'BM_sort/1024_mean', run_name: 'BM_sort/1024', run_type: 'aggregate', aggregate_name: 'mean', real_time: 1.5, time_unit: 'us' }] }));
  put('pb.json', JSON.stringify({ benchmarks: [{ name: 'test_parse', fullname: 't.py::test_parse', stats: { data: [0.001, 0.002, 0.0015, 0.001].map((t) => t * k), mean: 0.001375 * k } }] }));
}
`;

const SOURCES = [
  'regex:loss=loss: ([0-9.eE+-]+)',
  'json:out/m.json:acc=eval.acc,mem=mem',
  'tensorboard:runs:tb_loss=loss',
  'junit:reports/junit.xml',
  'coverage:coverage/coverage-summary.json',
  'hyperfine:hyperfine.json:time_s',
  'google-benchmark:gb.json:sort_ns',
  '{kind: pytest-benchmark, file: pb.json, metric: parse_s, benchmark: test_parse}',
];

function repo(): string {
  const dir = makeRepo({ 'bench.js': BENCH, 'mode.txt': '1\n', 'mem.txt': '100\n', 'runs/.keep': '', '.gitignore': 'out/\nreports/\ncoverage/\n*.json\nruns/events*\n' });
  fs.copyFileSync(path.join(PROJECT, 'test/fixtures/sources/tfevents-protobuf.bin'), path.join(dir, 'tb.bin'));
  return dir;
}

function init(dir: string, name: string, metric: string, direction: string, sources: string[], extra: string[] = []) {
  const args = ['--name', name, '--metric', metric, '--direction', direction, '--command', 'node bench.js', '--scope', 'mode.txt', '--scope', 'mem.txt', '--repeats', '1', '--json'];
  for (const s of sources) args.push('--source', s);
  return engine('init-experiment', [...args, ...extra], dir);
}

const record = (dir: string, slug: string, id: string) =>
  JSON.parse(fs.readFileSync(path.join(dir, '.autoloop/experiments', slug, 'runs', id, 'result.json'), 'utf8')) as { status: string; reason: string; samples: number[]; metrics: Record<string, number>; warnings: string[] };

describe('metric sources through the engine', HANG_GUARD, () => {
  it('reads every kind in one run: each metric from the source the config names', () => {
    const dir = repo();
    expect(init(dir, 'all', 'loss', 'lower', SOURCES).code).toBe(0);
    const run = engine('run-experiment', ['--json'], dir);
    expect(run.json).toMatchObject({ status: 'ok', primary: 0.5 });
    const m = record(dir, 'all', 'r0001').metrics;
    expect(m.loss).toBe(0.5); // the last match, not "9.0"
    expect(m).toMatchObject({ acc: 0.9, mem: 100, tb_loss: 0.7, tests: 5, failures: 1, skipped: 1, passed: 3, lines_pct: 80, branches_pct: 25, functions_pct: 100 });
    expect(m.time_s).toBeCloseTo(0.11, 9);
    expect(m.sort_ns).toBeCloseTo(1500, 6); // microseconds converted to the spec's unit
    expect(m.parse_s).toBeCloseTo(0.00125, 9);
    // METRIC lines are read only when a metric-lines source is configured.
    expect(m.always).toBeUndefined();
  });

  /** The metrics of a baseline (loss = 0.5, kept) measured with this bench.js. */
  const baselineMetrics = (name: string, bench: string) => {
    const dir = makeRepo({ 'bench.js': bench, 'src/v.txt': '0.5\n' });
    expect(engine('init-experiment', ['--name', name, '--metric', 'loss', '--direction', 'lower', '--command', 'node bench.js', '--scope', 'src/**'], dir).code).toBe(0);
    const run = engine('run-experiment', ['--description', 'baseline', '--json'], dir);
    expect(run.json).toMatchObject({ verdict: 'keep', primary: 0.5 });
    return record(dir, name, 'r0001').metrics;
  };

  it('reads a METRIC line that follows a progress bar\'s carriage return (as a terminal shows it), CRLF lines and stderr alike', () => {
    // A progress bar that erases itself (tqdm's leave=False) ends with "\r", not a line feed: the
    // METRIC line printed next starts on the same line of the log, and a terminal shows it at its start.
    const bench = [
      "const v = require('fs').readFileSync('src/v.txt', 'utf8').trim();",
      "process.stderr.write('train 50%|#####     |\\r train 100%|##########|\\r                    \\r');",
      "process.stdout.write('METRIC loss=' + v + '\\n');",
      "process.stderr.write('METRIC mem=12\\r\\n');",
      "process.stdout.write('step 3\\rMETRIC acc=0.9');",
    ].join('\n');
    expect(baselineMetrics('bar', bench)).toEqual({ loss: 0.5, mem: 12, acc: 0.9 });
  });

  it('reads a METRIC line that starts the output after a UTF-8 byte order mark (PowerShell, .NET), and one after a BOM mid-output', () => {
    const bench = [
      "const v = require('fs').readFileSync('src/v.txt', 'utf8').trim();",
      "process.stdout.write('\\uFEFFMETRIC loss=' + v + '\\r\\n');",
      "process.stderr.write('\\uFEFFMETRIC mem=12\\n');",
    ].join('\n');
    expect(baselineMetrics('bom', bench)).toEqual({ loss: 0.5, mem: 12 });
  });

  it('feeds a benchmark tool\'s per-iteration figures to the noise model as samples', () => {
    const dir = repo();
    const cases: [string, string, number][] = [
      ['hf', 'hyperfine:hyperfine.json:time_s', 5],
      ['gb', 'google-benchmark:gb.json:sort_ns', 3],
      ['pb', 'pytest-benchmark:pb.json:parse_s', 4],
    ];
    for (const [slug, source, n] of cases) {
      const metric = source.split(':').pop() as string;
      expect(init(dir, slug, metric, 'lower', [source]).code).toBe(0);
      expect(engine('run-experiment', ['--json'], dir).json).toMatchObject({ status: 'ok', samples: n });
      expect(record(dir, slug, 'r0001').samples).toHaveLength(n);
      expect(engine('log-experiment', ['--description', 'baseline', '--json'], dir).json).toMatchObject({ verdict: 'keep' });
    }
  });

  it('makes the run invalid, naming each source, when the sources find nothing', () => {
    const dir = repo();
    fs.writeFileSync(path.join(dir, 'mode.txt'), 'none\n');
    git(dir, 'commit', '-qam', 'write nothing'); // init wants a clean scope
    expect(init(dir, 'empty', 'loss', 'lower', SOURCES).code).toBe(0);
    const run = engine('run-experiment', ['--json'], dir);
    expect(run.json).toMatchObject({ status: 'invalid' });
    const reason = record(dir, 'empty', 'r0001').reason;
    expect(reason).toMatch(/^metric loss was found by no source: /);
    // Every source is named; the reasons are those of the sources that could give loss (the others' are warnings:
    // a source of other metrics that read nothing leaves those unmeasured, as an unprinted METRIC line does).
    for (const label of ['regex /loss: ([0-9.eE+-]+)/ matched nothing in the output', 'json out/m.json', 'tensorboard runs', 'junit reports/junit.xml', 'coverage coverage/coverage-summary.json', 'hyperfine hyperfine.json', 'google-benchmark gb.json', 'pytest-benchmark pb.json']) {
      expect(reason).toContain(label);
    }
    expect(record(dir, 'empty', 'r0001').warnings).toContain('json out/m.json: out/m.json was not written; not measured: acc, mem');
    expect(engine('log-experiment', ['--description', 'baseline', '--json'], dir).json).toMatchObject({ verdict: 'invalid' });
  });

  it('judges a guardrail read by another source than the primary', () => {
    const dir = repo();
    expect(init(dir, 'guard', 'loss', 'lower', ['regex:loss=loss: ([0-9.eE+-]+)', 'json:out/m.json:mem=mem'], ['--guardrail', 'mem:lower:10']).code).toBe(0);
    expect(engine('run-experiment', [], dir).code).toBe(0);
    expect(engine('log-experiment', ['--description', 'baseline', '--json'], dir).json).toMatchObject({ verdict: 'keep' });
    // Lower loss, but 50% more memory: the guardrail from the JSON file refuses it.
    fs.writeFileSync(path.join(dir, 'mode.txt'), '0.5\n');
    fs.writeFileSync(path.join(dir, 'mem.txt'), '150\n');
    expect(engine('run-experiment', ['--json'], dir).json).toMatchObject({ status: 'ok', primary: 0.25 });
    const log = engine('log-experiment', ['--description', 'halve the loss, double the cache', '--json'], dir);
    expect(log.json?.verdict).toBe('discard');
    expect(String(log.json?.reason)).toMatch(/mem/);
    // The guardrail's file is not rewritten (the last run's is stale): the guardrail is not measured, so it is
    // missing and blocks the keep, as a METRIC line not printed does (the primary was measured: not invalid).
    fs.writeFileSync(path.join(dir, 'mode.txt'), '0.5\n');
    fs.writeFileSync(path.join(dir, 'mem.txt'), 'none\n');
    const blind = engine('run-experiment', ['--json'], dir);
    expect(blind.json).toMatchObject({ status: 'ok' });
    expect(record(dir, 'guard', 'r0003').warnings).toContain('json out/m.json: out/m.json is stale (last written before this sample started); not measured: mem');
    const dropped = engine('log-experiment', ['--description', 'drop the memory report', '--json'], dir).json;
    expect(dropped).toMatchObject({ verdict: 'discard' });
    expect(String(dropped?.reason)).toMatch(/^guardrail mem missing/);
    const r = ledger(dir, 'guard').filter((l) => l.type === 'result').map((l) => l.verdict);
    expect(r).toEqual(['keep', 'discard', 'discard']);
  });

  it('refuses at init a metric no configured source gives, and a bad --source in one line', () => {
    const dir = repo();
    const none = init(dir, 'x', 'latency', 'lower', ['junit:reports/junit.xml']);
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toBe('init-experiment: metric latency comes from no configured source (they give: tests, failures, errors, skipped, passed, time); add --source for it (metric-lines reads METRIC lines)');
    const bad = init(dir, 'x', 'loss', 'lower', ['regex:loss=no group']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual(['init-experiment: --source "regex:loss=no group": pattern: needs a capture group around the number, e.g. "val_loss: ([0-9.eE+-]+)"']);
    const unknown = init(dir, 'x', 'loss', 'lower', ['wandb:run']);
    expect(unknown.stderr).toMatch(/unknown source kind "wandb"/);
    expect(fs.existsSync(path.join(dir, '.autoloop/experiments/x'))).toBe(false);
  });
});
