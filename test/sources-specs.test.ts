// Every source spec shown in references/engine.md parses with its module's
// schema, and each module's factory accepts it: the reference stays true.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { ZodMiniType } from 'zod/mini';
import { CoverageSourceSpec, coverageSource } from '../scripts/lib/sources/coverage.ts';
import { GoogleBenchmarkSourceSpec, googleBenchmarkSource } from '../scripts/lib/sources/google-benchmark.ts';
import { HyperfineSourceSpec, hyperfineSource } from '../scripts/lib/sources/hyperfine.ts';
import { JsonSourceSpec, jsonSource } from '../scripts/lib/sources/json.ts';
import { CsvSourceSpec, csvSource } from '../scripts/lib/sources/csv.ts';
import { JunitSourceSpec, junitSource } from '../scripts/lib/sources/junit.ts';
import { PytestBenchmarkSourceSpec, pytestBenchmarkSource } from '../scripts/lib/sources/pytest-benchmark.ts';
import { RegexSourceSpec, regexSource } from '../scripts/lib/sources/regex.ts';
import { TensorboardSourceSpec, tensorboardSource } from '../scripts/lib/sources/tensorboard.ts';
import type { MetricSource } from '../scripts/lib/sources/types.ts';
import { PROJECT } from './helpers/repo.ts';

const KINDS: Record<string, [ZodMiniType, (spec: never) => MetricSource]> = {
  regex: [RegexSourceSpec, regexSource],
  json: [JsonSourceSpec, jsonSource],
  csv: [CsvSourceSpec, csvSource],
  tensorboard: [TensorboardSourceSpec, tensorboardSource],
  junit: [JunitSourceSpec, junitSource],
  coverage: [CoverageSourceSpec, coverageSource],
  hyperfine: [HyperfineSourceSpec, hyperfineSource],
  'google-benchmark': [GoogleBenchmarkSourceSpec, googleBenchmarkSource],
  'pytest-benchmark': [PytestBenchmarkSourceSpec, pytestBenchmarkSource],
};

describe('source specs', () => {
  it('parses every example in references/engine.md, one per kind', () => {
    const md = fs.readFileSync(path.join(PROJECT, 'references/engine.md'), 'utf8');
    const section = md.slice(md.indexOf('## Metric sources'));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const specs = parseYaml(block) as { kind: string }[];
    expect(specs.map((s) => s.kind).sort()).toEqual(Object.keys(KINDS).sort());
    for (const s of specs) {
      const [schema, factory] = KINDS[s.kind] as [ZodMiniType, (spec: never) => MetricSource];
      const r = schema.safeParse(s);
      expect(r.success ? '' : r.error.issues[0]?.message, s.kind).toBe('');
      expect(factory(r.data as never).label.startsWith(s.kind)).toBe(true);
    }
  });

  it('refuses unknown fields and the wrong kind', () => {
    for (const [kind, [schema]] of Object.entries(KINDS)) {
      expect(schema.safeParse({ kind, file: 'f', metric: 'm', dir: 'd', tag: 't', pattern: '(x)', metrics: { m: 'a' }, bogus: 1 }).success, kind).toBe(false);
      expect(schema.safeParse({ kind: 'other' }).success, kind).toBe(false);
    }
  });
});
