// `pytest-benchmark`: one test's timings from `--benchmark-json=FILE` (seconds, or `unit`).
// The per-round times (`stats.data`, present unless the run disabled it) are
// the samples; without them the chosen statistic (mean by default) is used.
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { choose, clip, FileField, finiteNumbers, jsonResultSource, MetricNameField, oneMetric, outOfRangeNote, PER_SECOND, Selector, TimeUnitField } from './common.ts';
import type { MetricSource } from './types.ts';

/** At most this many rounds become samples (fast functions run thousands of rounds). */
export const MAX_ROUNDS = 10_000;

export const PytestBenchmarkSourceSpec = lazySchema(() => z.strictObject({
  kind: z.literal('pytest-benchmark'),
  file: FileField,
  metric: MetricNameField,
  /** The test's name, its fullname (`test_x.py::test_sum`), or its 0-based index; needed when there are several. */
  benchmark: z.optional(Selector),
  statistic: z._default(z.enum(['mean', 'median', 'min', 'max'], { error: 'must be one of mean, median, min, max' }), 'mean'),
  /** The unit the times are given in (pytest-benchmark writes seconds). */
  unit: TimeUnitField,
}));
export type PytestBenchmarkSourceSpec = z.infer<typeof PytestBenchmarkSourceSpec>;

type Entry = { name?: unknown; fullname?: unknown; stats?: Record<string, unknown> };

export function pytestBenchmarkValues(doc: unknown, spec: PytestBenchmarkSourceSpec): { values: number[]; warnings: string[] } | string {
  const list = (doc as { benchmarks?: unknown } | null)?.benchmarks;
  if (!Array.isArray(list)) return 'has no "benchmarks" list (not pytest-benchmark JSON?)';
  const entries = list as Entry[];
  let sel = spec.benchmark;
  // A fullname selects too.
  if (typeof sel === 'string') {
    const i = entries.findIndex((e) => e?.fullname === sel);
    if (i >= 0) sel = i;
  }
  const which = choose(entries, (e) => String(e?.name ?? ''), sel, 'benchmark');
  if ('reason' in which) return which.reason;
  const e = which.item;
  const name = JSON.stringify(clip(String(e.name), 40));
  const stats = e.stats;
  if (!stats || typeof stats !== 'object') return `benchmark ${name} has no stats`;
  const warnings: string[] = [];
  let raw: unknown[];
  if (Array.isArray(stats.data) && stats.data.length > 0) {
    raw = stats.data;
    if (raw.length > MAX_ROUNDS) {
      warnings.push(`pytest-benchmark: used the last ${MAX_ROUNDS} of ${raw.length} rounds of ${name}`);
      raw = raw.slice(-MAX_ROUNDS);
    }
  } else {
    raw = [stats[spec.statistic]];
    warnings.push(`pytest-benchmark: no per-round data for ${name}; used its ${spec.statistic}`);
  }
  const nums = finiteNumbers(raw);
  const { values, bad } = nums;
  if (bad > 0) warnings.push(`pytest-benchmark: ignored ${bad} value(s) of ${name} that are not finite numbers${outOfRangeNote(nums)}`);
  if (values.length === 0) return `benchmark ${name} has no finite timing${outOfRangeNote(nums)}`;
  return { values: values.map((t) => t * PER_SECOND[spec.unit]), warnings };
}

export function pytestBenchmarkSource(spec: PytestBenchmarkSourceSpec): MetricSource {
  return jsonResultSource('pytest-benchmark', spec.file, (doc, label) => oneMetric(label, spec.metric, pytestBenchmarkValues(doc, spec)));
}
