// Where the metrics of a sample come from: config field `sources`, a list of
// specs (default: METRIC lines in the output). Adding a source: a module beside
// metric-lines.ts exporting a factory and a zod spec (with a literal `kind`),
// then its spec in spec.ts and one line in FACTORIES.
import { coverageSource } from './coverage.ts';
import { googleBenchmarkSource } from './google-benchmark.ts';
import { hyperfineSource } from './hyperfine.ts';
import { jsonSource } from './json.ts';
import { junitSource } from './junit.ts';
import { metricLinesSource } from './metric-lines.ts';
import { pytestBenchmarkSource } from './pytest-benchmark.ts';
import { regexSource } from './regex.ts';
import { tensorboardSource } from './tensorboard.ts';
import type { SourceSpec } from './spec.ts';
import type { MetricSource, SampleOutput } from './types.ts';

export type { MetricSource, SampleOutput, SourceReading } from './types.ts';

export { SourceSpec } from './spec.ts';

type Factory<K extends SourceSpec['kind']> = (spec: Extract<SourceSpec, { kind: K }>) => MetricSource;
const FACTORIES: { [K in SourceSpec['kind']]: Factory<K> } = {
  'metric-lines': () => metricLinesSource(),
  regex: regexSource,
  json: jsonSource,
  tensorboard: tensorboardSource,
  junit: junitSource,
  coverage: coverageSource,
  hyperfine: hyperfineSource,
  'google-benchmark': googleBenchmarkSource,
  'pytest-benchmark': pytestBenchmarkSource,
};

export const DEFAULT_SOURCES: readonly SourceSpec[] = [{ kind: 'metric-lines' }];

export function buildSource(spec: SourceSpec): MetricSource {
  return (FACTORIES[spec.kind] as Factory<typeof spec.kind>)(spec);
}

/** METRIC lines are always read (first); the configured sources come after, and win for a metric both give. */
export function buildSources(specs: readonly SourceSpec[] | undefined): MetricSource[] {
  const rest = (specs ?? []).filter((s) => s.kind !== 'metric-lines');
  return [...DEFAULT_SOURCES, ...rest].map(buildSource);
}

/** What the sources found in one sample: each metric's values (several = several samples), and failures. */
export interface SampleReading {
  metrics: Record<string, number[]>;
  warnings: string[];
  /** Sources that could not read the sample at all, with their reason. */
  failures: string[];
  /** Labels of the sources, for a reason that names where the metric was looked for. */
  labels: string[];
}

/** Read one sample through every source; a later source's values for a metric replace an earlier one's. */
export async function readSample(sources: readonly MetricSource[], sample: SampleOutput): Promise<SampleReading> {
  const out: SampleReading = { metrics: {}, warnings: [], failures: [], labels: sources.map((s) => s.label) };
  for (const s of sources) {
    const r = await s.read(sample);
    if (!r.ok) {
      out.failures.push(`${s.label}: ${r.reason}`);
      continue;
    }
    out.warnings.push(...r.warnings);
    for (const [k, vs] of Object.entries(r.metrics)) if (vs.length) out.metrics[k] = vs;
  }
  return out;
}
