// Where the metrics of a sample come from: config field `sources`, a list of
// specs (default: METRIC lines in the output). Adding a source: a module beside
// metric-lines.ts exporting a factory and a zod spec with a literal `kind`,
// then its spec in spec.ts and one row in SOURCES.
import { coverageSource } from './coverage.ts';
import { csvSource } from './csv.ts';
import { googleBenchmarkSource } from './google-benchmark.ts';
import { hyperfineSource } from './hyperfine.ts';
import { jsonSource } from './json.ts';
import { junitSource } from './junit.ts';
import { metricLinesSource } from './metric-lines.ts';
import { pytestBenchmarkSource } from './pytest-benchmark.ts';
import { regexSource } from './regex.ts';
import type { SourceSpec } from './spec.ts';
import { tensorboardSource } from './tensorboard.ts';
import type { MetricSource, SampleOutput } from './types.ts';

export type { MetricSource, SampleOutput, SourceReading } from './types.ts';
export { stampFiles } from './common.ts';

export { SourceSpec } from './spec.ts';

type Of<K extends SourceSpec['kind']> = Extract<SourceSpec, { kind: K }>;
interface Row<K extends SourceSpec['kind']> {
  build: (spec: Of<K>) => MetricSource;
  /** The metric names the spec yields; 'any' for METRIC lines (whatever the benchmark prints). */
  metrics: (spec: Of<K>) => string[] | 'any';
}

const JUNIT = ['tests', 'failures', 'errors', 'skipped', 'passed', 'time'];
const COVERAGE = ['lines_pct', 'branches_pct', 'functions_pct', 'statements_pct'];

/** Every source: how to build it, and which metrics it can give. */
const SOURCES: { [K in SourceSpec['kind']]: Row<K> } = {
  'metric-lines': { build: () => metricLinesSource(), metrics: () => 'any' },
  regex: { build: regexSource, metrics: (s) => [s.metric] },
  json: { build: jsonSource, metrics: (s) => Object.keys(s.metrics) },
  csv: { build: csvSource, metrics: (s) => Object.keys(s.metrics) },
  tensorboard: { build: tensorboardSource, metrics: (s) => [s.metric] },
  junit: { build: junitSource, metrics: (s) => JUNIT.map((m) => `${s.prefix ?? ''}${m}`) },
  coverage: { build: coverageSource, metrics: (s) => COVERAGE.map((m) => `${s.prefix ?? ''}${m}`) },
  hyperfine: { build: hyperfineSource, metrics: (s) => [s.metric] },
  'google-benchmark': { build: googleBenchmarkSource, metrics: (s) => [s.metric] },
  'pytest-benchmark': { build: pytestBenchmarkSource, metrics: (s) => [s.metric] },
};

export const DEFAULT_SOURCES: readonly SourceSpec[] = [{ kind: 'metric-lines' }];

const JUNIT_BETTER: Record<string, 'higher' | 'lower'> = { tests: 'higher', passed: 'higher', failures: 'lower', errors: 'lower', skipped: 'lower', time: 'lower' };

/** The better direction of each figure a source names itself (coverage, JUnit), with the source's kind. */
function betterDirections(specs: readonly SourceSpec[] | undefined): Map<string, { better: 'higher' | 'lower'; kind: string }> {
  const out = new Map<string, { better: 'higher' | 'lower'; kind: string }>();
  for (const s of specs ?? []) {
    if (s.kind === 'coverage') for (const m of COVERAGE) out.set(`${s.prefix ?? ''}${m}`, { better: 'higher', kind: s.kind });
    if (s.kind === 'junit') for (const m of JUNIT) out.set(`${s.prefix ?? ''}${m}`, { better: JUNIT_BETTER[m] as 'higher' | 'lower', kind: s.kind });
  }
  return out;
}

/** A primary or guardrail whose direction is contrary to what its source's figure means (coverage set to `lower`). */
export function directionWarnings(c: { metric: string; direction: 'higher' | 'lower'; sources?: readonly SourceSpec[] | undefined; guardrails: readonly { metric: string; direction: 'higher' | 'lower' }[] }): string[] {
  const better = betterDirections(c.sources);
  const out: string[] = [];
  const p = better.get(c.metric);
  if (p && p.better !== c.direction) out.push(`${c.metric} (${p.kind}) is better ${p.better}, but --direction is ${c.direction}: the loop would keep changes that ${p.better === 'higher' ? 'lower' : 'raise'} it`);
  for (const g of c.guardrails) {
    const b = better.get(g.metric);
    if (b && b.better !== g.direction) out.push(`guardrail ${g.metric} (${b.kind}) is better ${b.better}, but it says ${g.direction}: it would let it ${b.better === 'higher' ? 'fall and refuse a rise' : 'rise and refuse a fall'}`);
  }
  return out;
}

const TIME_UNITS: Record<string, 's' | 'ms' | 'us' | 'ns'> = {
  s: 's', sec: 's', secs: 's', second: 's', seconds: 's',
  ms: 'ms', msec: 'ms', millisecond: 'ms', milliseconds: 'ms',
  us: 'us', 'µs': 'us', 'μs': 'us', usec: 'us', microsecond: 'us', microseconds: 'us',
  ns: 'ns', nsec: 'ns', nanosecond: 'ns', nanoseconds: 'ns',
};

/** The time unit a source gives a metric in, when it is a time it knows the unit of. */
function timeUnitOf(spec: SourceSpec, metric: string): 's' | 'ms' | 'us' | 'ns' | null {
  if (spec.kind === 'hyperfine' || spec.kind === 'pytest-benchmark') return spec.metric === metric ? spec.unit : null;
  if (spec.kind === 'google-benchmark') return spec.metric === metric && (spec.field === 'real_time' || spec.field === 'cpu_time') ? spec.unit : null;
  if (spec.kind === 'junit') return metric === `${spec.prefix ?? ''}time` ? 's' : null;
  return null;
}

/** A --unit that names another time unit than the one the primary's source gives: a `--target 80` in ms would be met by 0.08 s. */
export function unitWarnings(c: { metric: string; unit: string; sources?: readonly SourceSpec[] | undefined }): string[] {
  const said = TIME_UNITS[c.unit.trim().toLowerCase()];
  if (!said) return [];
  const spec = [...(c.sources ?? [])].reverse().find((s) => timeUnitOf(s, c.metric) !== null);
  const given = spec ? timeUnitOf(spec, c.metric) : null;
  if (!spec || !given || given === said) return [];
  const fix = spec.kind === 'junit' ? `--unit ${given}` : `unit: ${said} in the ${spec.kind} source (or --unit ${given})`;
  return [`${c.metric} comes from ${spec.kind} in ${given}, but --unit is ${c.unit}: its values, --target and abs= bounds would be read as ${c.unit}; set ${fix}`];
}

export function buildSource(spec: SourceSpec): MetricSource {
  const row = SOURCES[spec.kind] as Row<typeof spec.kind>;
  return Object.assign(row.build(spec), { covers: row.metrics(spec) });
}

export function buildSources(specs: readonly SourceSpec[] | undefined): MetricSource[] {
  return (specs?.length ? specs : DEFAULT_SOURCES).map(buildSource);
}

/** The metrics these sources can give: a name list, or 'any' when METRIC lines are among them. */
export function sourceMetrics(specs: readonly SourceSpec[] | undefined): string[] | 'any' {
  const out = new Set<string>();
  for (const spec of specs?.length ? specs : DEFAULT_SOURCES) {
    const m = (SOURCES[spec.kind] as Row<typeof spec.kind>).metrics(spec);
    if (m === 'any') return 'any';
    m.forEach((x) => out.add(x));
  }
  return [...out];
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

/**
 * Read one sample through every source; a later source's values for a metric replace an earlier one's.
 * With `primary`, a metric that is not the primary and could not be read (a source of guardrails that
 * failed, one json path of several missing) is only not measured, with a warning, whatever the source:
 * a guardrail then counts as missing (it blocks the keep), as when a METRIC line is not printed.
 * Anything that touches the primary is a failure (the run is invalid).
 */
export async function readSample(sources: readonly MetricSource[], sample: SampleOutput, opts: { primary?: string } = {}): Promise<SampleReading> {
  const out: SampleReading = { metrics: {}, warnings: [], failures: [], labels: sources.map((s) => s.label) };
  const secondary = (metrics: readonly string[] | 'any' | undefined) =>
    opts.primary !== undefined && Array.isArray(metrics) && !metrics.includes(opts.primary);
  for (const s of sources) {
    const r = await s.read(sample);
    if (!r.ok) {
      // Readers put their label first already; say it once.
      const reason = r.reason.startsWith(s.label) ? r.reason : `${s.label}: ${r.reason}`;
      if (secondary(s.covers)) out.warnings.push(`${reason}; not measured: ${(s.covers as readonly string[]).join(', ')}`);
      else out.failures.push(reason);
      continue;
    }
    for (const m of r.missed ?? []) {
      if (secondary([m.metric])) out.warnings.push(`${m.reason}; not measured: ${m.metric}`);
      else out.failures.push(m.reason);
    }
    out.warnings.push(...r.warnings);
    for (const [k, vs] of Object.entries(r.metrics)) if (vs.length) out.metrics[k] = vs;
  }
  return out;
}
