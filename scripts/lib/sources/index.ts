// Where the metrics of a sample come from: config field `sources`, a list of
// specs (default: METRIC lines in the output). Adding a source: a module beside
// metric-lines.ts exporting a factory, a zod spec (with a literal `type`),
// then its spec in spec.ts and one line in FACTORIES.
import { metricLinesSource } from './metric-lines.ts';
import type { SourceSpec } from './spec.ts';
import type { MetricSource, SampleOutput } from './types.ts';

export type { MetricSource, SampleOutput, SourceReading } from './types.ts';

export { SourceSpec } from './spec.ts';

type Factory<T extends SourceSpec['type']> = (spec: Extract<SourceSpec, { type: T }>) => MetricSource;
const FACTORIES: { [T in SourceSpec['type']]: Factory<T> } = {
  'metric-lines': () => metricLinesSource(),
};

export const DEFAULT_SOURCES: readonly SourceSpec[] = [{ type: 'metric-lines' }];

export function buildSource(spec: SourceSpec): MetricSource {
  return (FACTORIES[spec.type] as Factory<typeof spec.type>)(spec);
}

export function buildSources(specs: readonly SourceSpec[] | undefined): MetricSource[] {
  return (specs?.length ? specs : DEFAULT_SOURCES).map(buildSource);
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
