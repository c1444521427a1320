// The benchmark-tool sources on exports written by the real tools, all from
// Debian: hyperfine --export-json, a tiny Google Benchmark compiled with g++
// against libbenchmark-dev, and pytest-benchmark --benchmark-json.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HyperfineSourceSpec, hyperfineSource } from '../scripts/lib/sources/hyperfine.ts';
import { GoogleBenchmarkSourceSpec, googleBenchmarkSource } from '../scripts/lib/sources/google-benchmark.ts';
import { PytestBenchmarkSourceSpec, pytestBenchmarkSource } from '../scripts/lib/sources/pytest-benchmark.ts';
import type { SampleOutput, SourceReading } from '../scripts/lib/sources/types.ts';
import { cleanupTmp, tmpDir } from './helpers/repo.ts';
import { DEBIAN_PYTHON, ensureDebian, run } from './helpers/tools.ts';

afterAll(cleanupTmp);

const sample = (cwd: string, startedAtMs: number): SampleOutput => ({ cwd, log: { file: path.join(cwd, 'x.log'), start: 0, end: 0 }, startedAtMs });
const values = (r: SourceReading, name: string): number[] => {
  if (!r.ok) throw new Error(`expected a reading, got: ${r.reason}`);
  return r.metrics[name] ?? [];
};
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));

describe('hyperfine source', () => {
  let dir = '';
  let started = 0;
  beforeAll(() => {
    ensureDebian(['hyperfine'], ['hyperfine', '--version']);
    dir = tmpDir();
    started = Date.now();
    run('hyperfine', ['-N', '--runs', '4', '--export-json', 'h.json', '-n', 'idle', 'true', 'sleep 0.01'], dir);
  }, 900_000);

  it('turns every timed run into a sample, choosing the command by name or index', async () => {
    const doc = readJson(path.join(dir, 'h.json'));
    const byName = values(await hyperfineSource(HyperfineSourceSpec.parse({ kind: 'hyperfine', file: 'h.json', metric: 't', command: 'sleep 0.01' })).read(sample(dir, started)), 't');
    expect(byName).toHaveLength(4);
    expect(byName).toEqual(doc.results[1].times);
    expect(Math.min(...byName)).toBeGreaterThanOrEqual(0.01);
    const byIndex = values(await hyperfineSource(HyperfineSourceSpec.parse({ kind: 'hyperfine', file: 'h.json', metric: 't', command: 0 })).read(sample(dir, started)), 't');
    expect(byIndex).toEqual(doc.results[0].times);
    expect(doc.results[0].command).toBe('idle');
  });

  it('asks for a choice among several commands, and says which exist', async () => {
    const r = await hyperfineSource(HyperfineSourceSpec.parse({ kind: 'hyperfine', file: 'h.json', metric: 't' })).read(sample(dir, started));
    expect(r).toEqual({ ok: false, reason: 'hyperfine h.json: has 2 commands ("idle", "sleep 0.01"); choose one by index or name' });
    const r2 = await hyperfineSource(HyperfineSourceSpec.parse({ kind: 'hyperfine', file: 'h.json', metric: 't', command: 5 })).read(sample(dir, started));
    expect(!r2.ok && r2.reason).toBe('hyperfine h.json: has no command #5 (it has 2: "idle", "sleep 0.01")');
  });

  it('falls back to the mean, with a warning, for an export without times', async () => {
    const d = tmpDir();
    fs.writeFileSync(path.join(d, 'h.json'), JSON.stringify({ results: [{ command: 'x', mean: 0.5 }] }));
    const r = await hyperfineSource(HyperfineSourceSpec.parse({ kind: 'hyperfine', file: 'h.json', metric: 't' })).read(sample(d, Date.now() - 5000));
    expect(r).toEqual({ ok: true, metrics: { t: [0.5] }, warnings: ['hyperfine h.json: no per-run times in the export; used the mean'] });
  });
});

const BENCH_CC = `#include <benchmark/benchmark.h>
static void BM_sum(benchmark::State& s) { for (auto _ : s) { int x = 0; for (int i = 0; i < 64; i++) benchmark::DoNotOptimize(x += i); } }
BENCHMARK(BM_sum)->Unit(benchmark::kMicrosecond);
static void BM_other(benchmark::State& s) { for (auto _ : s) benchmark::DoNotOptimize(s.iterations()); }
BENCHMARK(BM_other);
BENCHMARK_MAIN();
`;

describe('google-benchmark source', () => {
  let dir = '';
  let started = 0;
  beforeAll(() => {
    ensureDebian(['libbenchmark-dev', 'g++'], ['sh', '-c', 'test -e /usr/include/benchmark/benchmark.h && command -v g++']);
    dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'bm.cc'), BENCH_CC);
    run('g++', ['-O1', 'bm.cc', '-o', 'bm', '-lbenchmark', '-lpthread'], dir);
    started = Date.now();
    const common = ['--benchmark_min_time=0.01', '--benchmark_repetitions=3', '--benchmark_out_format=json'];
    run(path.join(dir, 'bm'), [...common, '--benchmark_out=reps.json'], dir);
    run(path.join(dir, 'bm'), [...common, '--benchmark_report_aggregates_only=true', '--benchmark_out=agg.json'], dir);
  }, 900_000);

  const gb = (file: string, extra: object) => googleBenchmarkSource(GoogleBenchmarkSourceSpec.parse({ kind: 'google-benchmark', file, metric: 'ns', ...extra }));

  it('gives one sample per repetition, in nanoseconds whatever unit the benchmark chose', async () => {
    const doc = readJson(path.join(dir, 'reps.json'));
    const reps = doc.benchmarks.filter((b: { run_name: string; run_type: string }) => b.run_name === 'BM_sum' && b.run_type === 'iteration');
    expect(reps[0].time_unit).toBe('us');
    const ns = values(await gb('reps.json', { benchmark: 'BM_sum' }).read(sample(dir, started)), 'ns');
    expect(ns).toHaveLength(3);
    expect(ns).toEqual(reps.map((b: { real_time: number }) => b.real_time * 1000));
    const ms = values(await gb('reps.json', { benchmark: 'BM_sum', unit: 'ms', field: 'cpu_time' }).read(sample(dir, started)), 'ns');
    expect(ms).toHaveLength(3);
    ms.forEach((v, i) => expect(v).toBeCloseTo(reps[i].cpu_time / 1000, 12));
  });

  it('uses the chosen aggregate when the file has no repetitions', async () => {
    const doc = readJson(path.join(dir, 'agg.json'));
    const mean = doc.benchmarks.find((b: { run_name: string; aggregate_name?: string }) => b.run_name === 'BM_other' && b.aggregate_name === 'median');
    const r = await gb('agg.json', { benchmark: 'BM_other', statistic: 'median' }).read(sample(dir, started));
    expect(values(r, 'ns')).toEqual([mean.real_time]);
    expect(r.ok && r.warnings).toEqual(['google-benchmark: no per-repetition entries for BM_other; used its median']);
  });

  it('asks which benchmark when there are several', async () => {
    const r = await gb('reps.json', {}).read(sample(dir, started));
    expect(r).toEqual({ ok: false, reason: 'google-benchmark reps.json: has 2 benchmarks ("BM_sum", "BM_other"); choose one by index or name' });
  });
});

describe('pytest-benchmark source', () => {
  let dir = '';
  let started = 0;
  beforeAll(() => {
    ensureDebian(['python3-pytest-benchmark'], [DEBIAN_PYTHON, '-c', 'import pytest_benchmark']);
    dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'test_b.py'), 'def test_sum(benchmark):\n    benchmark(lambda: sum(range(50)))\n\ndef test_max(benchmark):\n    benchmark(lambda: max(range(50)))\n');
    started = Date.now();
    run(DEBIAN_PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '--benchmark-json=pb.json', '--benchmark-min-rounds=5', '--benchmark-max-time=0.01', '--benchmark-warmup=off'], dir);
  }, 900_000);

  const pb = (extra: object) => pytestBenchmarkSource(PytestBenchmarkSourceSpec.parse({ kind: 'pytest-benchmark', file: 'pb.json', metric: 's', ...extra }));

  it('gives the per-round times as samples, by name or fullname', async () => {
    const doc = readJson(path.join(dir, 'pb.json'));
    const entry = doc.benchmarks.find((b: { name: string }) => b.name === 'test_max');
    const byName = values(await pb({ benchmark: 'test_max' }).read(sample(dir, started)), 's');
    expect(byName.length).toBeGreaterThanOrEqual(5);
    expect(byName).toEqual(entry.stats.data.slice(-10_000));
    const byFull = values(await pb({ benchmark: 'test_b.py::test_max' }).read(sample(dir, started)), 's');
    expect(byFull).toEqual(byName);
  });

  it('uses the statistic when the rounds were not saved', async () => {
    const doc = readJson(path.join(dir, 'pb.json'));
    for (const b of doc.benchmarks) delete b.stats.data;
    fs.writeFileSync(path.join(dir, 'nodata.json'), JSON.stringify(doc));
    const r = await pytestBenchmarkSource(
      PytestBenchmarkSourceSpec.parse({ kind: 'pytest-benchmark', file: 'nodata.json', metric: 's', benchmark: 0, statistic: 'median' }),
    ).read(sample(dir, started));
    expect(values(r, 's')).toEqual([doc.benchmarks[0].stats.median]);
  });
});
