// `hyperfine`: per-run wall times from `hyperfine --export-json` (seconds, or `unit`).
// Every timed run becomes a sample, so the engine's noise model sees
// hyperfine's own repetitions; `mean` is used only by an export without times.
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { choose, clip, FileField, finiteNumbers, jsonResultSource, MetricNameField, oneMetric, outOfRangeNote, PER_SECOND, Selector, TimeUnitField } from './common.ts';
import type { MetricSource } from './types.ts';

export const HyperfineSourceSpec = lazySchema(() => z.strictObject({
  kind: z.literal('hyperfine'),
  file: FileField,
  metric: MetricNameField,
  /** Which command: its 0-based index or its name (the command line, or its --command-name). Needed when there are several. */
  command: z.optional(Selector),
  /** The unit the times are given in (hyperfine writes seconds). */
  unit: TimeUnitField,
}));
export type HyperfineSourceSpec = z.infer<typeof HyperfineSourceSpec>;

/** The per-run times of the chosen command; warnings carry the source's label. */
export function hyperfineValues(doc: unknown, spec: HyperfineSourceSpec, label: string): { values: number[]; warnings: string[] } | string {
  const results = (doc as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return 'has no "results" list (not a hyperfine --export-json file?)';
  const chosen = choose(results as Record<string, unknown>[], (r) => String(r?.command ?? ''), spec.command, 'command');
  if ('reason' in chosen) return chosen.reason;
  const entry = chosen.item;
  const warnings: string[] = [];
  // With --ignore-failure hyperfine times the runs that failed too (exit_codes, hyperfine 1.12+):
  // a run that fails fast is not a faster command. All failing alike is the command's way (grep
  // finding nothing); some failing makes the times a mix of two things.
  const codes = Array.isArray(entry.exit_codes) ? (entry.exit_codes as unknown[]) : [];
  const failed = codes.filter((c) => c !== 0).length;
  const what = JSON.stringify(clip(String(entry.command), 40));
  if (failed > 0 && new Set(codes.map(String)).size > 1) return `${failed} of ${codes.length} runs of ${what} exited non-zero (exit codes ${[...new Set(codes.map(String))].join(', ')}): their times are not the command's`;
  if (failed > 0) warnings.push(`${label}: every run of ${what} exited ${String(codes[0])}`);
  const raw: unknown[] = Array.isArray(entry.times) && entry.times.length > 0 ? entry.times : [entry.mean];
  if (raw.length === 1 && raw[0] === entry.mean) warnings.push(`${label}: no per-run times in the export; used the mean`);
  const nums = finiteNumbers(raw);
  const { values, bad } = nums;
  if (bad > 0) warnings.push(`${label}: ignored ${bad} time(s) that are not finite numbers${outOfRangeNote(nums)}`);
  if (values.length === 0) return `command ${JSON.stringify(clip(String(entry.command), 40))} has no usable time${outOfRangeNote(nums)}`;
  return { values: values.map((t) => t * PER_SECOND[spec.unit]), warnings };
}

export function hyperfineSource(spec: HyperfineSourceSpec): MetricSource {
  return jsonResultSource('hyperfine', spec.file, (doc, label) => oneMetric(label, spec.metric, hyperfineValues(doc, spec, label)));
}
