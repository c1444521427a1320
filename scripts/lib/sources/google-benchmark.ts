// `google-benchmark`: one benchmark from Google Benchmark's JSON output
// (`--benchmark_out=FILE --benchmark_out_format=json`, or
// `--benchmark_format=json` redirected to a file). With --benchmark_repetitions
// each repetition (run_type "iteration") is a sample; a file with aggregates
// only gives its `statistic` (mean by default). Times are converted to `unit`
// so a benchmark that changes its own ->Unit() cannot fake a speed-up.
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { asNumber, choose, clip, FileField, jsonResultSource, MetricNameField, oneMetric, outOfRangeNote, Selector } from './common.ts';
import type { MetricSource } from './types.ts';

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };

export const GoogleBenchmarkSourceSpec = lazySchema(() => z.strictObject({
  kind: z.literal('google-benchmark'),
  file: FileField,
  metric: MetricNameField,
  /** The benchmark's run_name (e.g. "BM_sort/1024") or its 0-based index; needed when there are several. */
  benchmark: z.optional(Selector),
  /** real_time, cpu_time, or a user counter such as items_per_second. */
  field: z._default(z.string().check(z.minLength(1, 'must name a field such as real_time')), 'real_time'),
  unit: z._default(z.enum(['ns', 'us', 'ms', 's'], { error: 'must be one of ns, us, ms, s' }), 'ns'),
  /** The aggregate used when the file has no per-repetition entries. */
  statistic: z._default(z.string().check(z.minLength(1)), 'mean'),
}));
export type GoogleBenchmarkSourceSpec = z.infer<typeof GoogleBenchmarkSourceSpec>;

type Entry = Record<string, unknown>;

const runName = (e: Entry): string => String(e.run_name ?? e.name ?? '');

export function googleBenchmarkValues(doc: unknown, spec: GoogleBenchmarkSourceSpec): { values: number[]; warnings: string[] } | string {
  const list = (doc as { benchmarks?: unknown } | null)?.benchmarks;
  if (!Array.isArray(list)) return 'has no "benchmarks" list (not Google Benchmark JSON?)';
  const entries = (list as Entry[]).filter((e) => e !== null && typeof e === 'object');
  const names = [...new Set(entries.map(runName))];
  const which = choose(names, (n) => n, spec.benchmark, 'benchmark');
  if ('reason' in which) return which.reason;
  const name = which.item;
  const mine = entries.filter((e) => runName(e) === name && e.error_occurred !== true);
  if (mine.length === 0) return `benchmark ${JSON.stringify(clip(name, 40))} reported an error`;
  const reps = mine.filter((e) => (e.run_type ?? 'iteration') === 'iteration');
  const warnings: string[] = [];
  const errored = entries.filter((e) => runName(e) === name && e.error_occurred === true).length;
  if (errored > 0) warnings.push(`google-benchmark: ignored ${errored} run(s) of ${clip(name, 40)} that reported an error`);
  let chosen = reps;
  if (reps.length === 0) {
    chosen = mine.filter((e) => e.aggregate_name === spec.statistic);
    if (chosen.length === 0) return `benchmark ${JSON.stringify(clip(name, 40))} has no repetitions and no ${spec.statistic} aggregate`;
    warnings.push(`google-benchmark: no per-repetition entries for ${clip(name, 40)}; used its ${spec.statistic}`);
  }
  const isTime = spec.field === 'real_time' || spec.field === 'cpu_time';
  const values: number[] = [];
  let bad = 0;
  let outOfRange: string | undefined;
  for (const e of chosen) {
    const n = asNumber(e[spec.field]);
    if (!n) return `benchmark ${JSON.stringify(clip(name, 40))} has no numeric field ${JSON.stringify(spec.field)}`;
    if (!('value' in n)) {
      bad++;
      if ('outOfRange' in n) outOfRange ??= n.outOfRange;
      continue;
    }
    const factor = isTime ? UNIT_NS[String(e.time_unit ?? 'ns')] : 1;
    if (factor === undefined) return `benchmark ${JSON.stringify(clip(name, 40))} has an unknown time_unit ${JSON.stringify(e.time_unit)}`;
    values.push(isTime ? (n.value * factor) / (UNIT_NS[spec.unit] as number) : n.value);
  }
  const note = outOfRangeNote(outOfRange === undefined ? {} : { outOfRange });
  if (bad > 0) warnings.push(`google-benchmark: ignored ${bad} non-finite ${spec.field} value(s)${note}`);
  if (values.length === 0) return `benchmark ${JSON.stringify(clip(name, 40))} has no finite ${spec.field}${note}`;
  return { values, warnings };
}

export function googleBenchmarkSource(spec: GoogleBenchmarkSourceSpec): MetricSource {
  return jsonResultSource('google-benchmark', spec.file, (doc, label) => oneMetric(label, spec.metric, googleBenchmarkValues(doc, spec)));
}
