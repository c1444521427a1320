// Units of the tools that report seconds (hyperfine, pytest-benchmark): a
// metric named and shown in ms with `--target 80` must not be fed seconds,
// where 0.08 s meets the target at once. The source converts with `unit`;
// init warns when --unit names another time unit than the source gives.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HyperfineSourceSpec, hyperfineSource } from '../scripts/lib/sources/hyperfine.ts';
import { PytestBenchmarkSourceSpec, pytestBenchmarkSource } from '../scripts/lib/sources/pytest-benchmark.ts';
import { unitWarnings } from '../scripts/lib/sources/index.ts';
import { SourceSpec } from '../scripts/lib/sources/spec.ts';
import type { SampleOutput, SourceReading } from '../scripts/lib/sources/types.ts';
import { engine, makeRepo } from './helpers/engine.ts';
import { cleanupTmp, tmpDir } from './helpers/repo.ts';
import { ensureDebian, run } from './helpers/tools.ts';

afterAll(cleanupTmp);

const sample = (cwd: string): SampleOutput => ({ cwd, log: { file: path.join(cwd, 'x.log'), start: 0, end: 0 }, startedAtMs: Date.now() - 60_000 });
const values = (r: SourceReading): number[] => {
  if (!r.ok) throw new Error(r.reason);
  return Object.values(r.metrics)[0] ?? [];
};

describe('a time source converts its seconds to `unit`', () => {
  let dir = '';
  beforeAll(() => {
    ensureDebian(['hyperfine'], ['hyperfine', '--version']);
    dir = tmpDir();
    run('hyperfine', ['-N', '--runs', '3', '--export-json', 'h.json', 'sleep 0.02'], dir);
  }, 900_000);

  it('hyperfine: unit ms gives the export\'s times × 1000; the default stays seconds', async () => {
    const times = (JSON.parse(fs.readFileSync(path.join(dir, 'h.json'), 'utf8')) as { results: { times: number[] }[] }).results[0]?.times ?? [];
    const s = values(await hyperfineSource(HyperfineSourceSpec.parse({ kind: 'hyperfine', file: 'h.json', metric: 't' })).read(sample(dir)));
    const ms = values(await hyperfineSource(HyperfineSourceSpec.parse({ kind: 'hyperfine', file: 'h.json', metric: 't', unit: 'ms' })).read(sample(dir)));
    expect(s).toEqual(times);
    expect(ms).toEqual(times.map((t) => t * 1000));
    expect(Math.min(...ms)).toBeGreaterThanOrEqual(20);
  });

  it('pytest-benchmark: unit us over the per-round data', async () => {
    const d = tmpDir();
    fs.writeFileSync(path.join(d, 'pb.json'), JSON.stringify({ benchmarks: [{ name: 'test_a', stats: { data: [0.000125, 0.00025], mean: 0.0001875 } }] }));
    expect(values(await pytestBenchmarkSource(PytestBenchmarkSourceSpec.parse({ kind: 'pytest-benchmark', file: 'pb.json', metric: 't', unit: 'us' })).read(sample(d)))).toEqual([125, 250]);
    expect(() => HyperfineSourceSpec.parse({ kind: 'hyperfine', file: 'h.json', metric: 't', unit: 'min' })).toThrow(/must be one of s, ms, us, ns/);
  });
});

describe('init warns of a --unit the source does not give', () => {
  const specs = (...s: unknown[]) => s.map((x) => SourceSpec.parse(x));

  it('names the metric, both units and the fix; silent when they agree or when no time unit is claimed', () => {
    const hf = { kind: 'hyperfine', file: 'h.json', metric: 'time_ms' };
    expect(unitWarnings({ metric: 'time_ms', unit: 'ms', sources: specs(hf) })).toEqual([
      'time_ms comes from hyperfine in s, but --unit is ms: its values, --target and abs= bounds would be read as ms; set unit: ms in the hyperfine source (or --unit s)',
    ]);
    expect(unitWarnings({ metric: 'time_ms', unit: 'ms', sources: specs({ ...hf, unit: 'ms' }) })).toEqual([]);
    expect(unitWarnings({ metric: 'time_ms', unit: 'seconds', sources: specs(hf) })).toEqual([]);
    expect(unitWarnings({ metric: 'time_ms', unit: '', sources: specs(hf) })).toEqual([]);
    expect(unitWarnings({ metric: 'time_ms', unit: 'KB', sources: specs(hf) })).toEqual([]);
    expect(unitWarnings({ metric: 'sort', unit: 'µs', sources: specs({ kind: 'google-benchmark', file: 'gb.json', metric: 'sort' }) })).toHaveLength(1);
    expect(unitWarnings({ metric: 'time', unit: 'ms', sources: specs({ kind: 'junit', file: 'j.xml' }) })[0]).toMatch(/time comes from junit in s, but --unit is ms: .*; set --unit s$/);
  });

  it('through init-experiment, in --json warnings', () => {
    const dir = makeRepo({ 'w.txt': '1\n', '.gitignore': 'h.json\n' });
    const init = engine('init-experiment', ['--name', 'u', '--metric', 'time_ms', '--direction', 'lower', '--unit', 'ms', '--command', "hyperfine -N --runs 3 --export-json h.json 'sleep 0.01'", '--scope', 'w.txt', '--source', 'hyperfine:h.json:time_ms', '--target', '5', '--json'], dir);
    expect(init.code, init.stderr).toBe(0);
    expect(init.json?.warnings).toContain('time_ms comes from hyperfine in s, but --unit is ms: its values, --target and abs= bounds would be read as ms; set unit: ms in the hyperfine source (or --unit s)');
  });
});
