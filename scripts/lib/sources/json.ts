// `json`: numbers from a JSON file the benchmark wrote, each metric by a
// path into it (syntax in json-path.ts). A path that ends on an array of
// numbers gives one sample per element.
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { asNumber, clip, FileField, jsonResultSource, MetricNameField, partialReading } from './common.ts';
import { getJsonPath, parseJsonPath, type Segment } from './json-path.ts';
import type { MetricSource } from './types.ts';

const PathField = lazySchema(() => z.string({ error: 'must be a path into the JSON, e.g. "results[0].mean"' }).check(z.superRefine((p, ctx) => {
  const r = parseJsonPath(p);
  if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: `bad path: ${r}` });
})));

export const JsonSourceSpec = lazySchema(() => z.strictObject({
  kind: z.literal('json'),
  file: FileField,
  /** metric name → path into the document. */
  metrics: z.record(MetricNameField, PathField, { error: 'must map metric names to paths, e.g. {val_loss: "results.val_loss"}' }).check(z.refine((m) => Object.keys(m).length > 0, 'must name at least one metric')),
}));
export type JsonSourceSpec = z.infer<typeof JsonSourceSpec>;

/** A JSON value as samples: a number, or an array of numbers. */
export function numbersOf(v: unknown): { values: number[]; nonFinite: number; outOfRange: string[] } | string {
  const items = Array.isArray(v) ? v : [v];
  if (Array.isArray(v) && v.length === 0) return 'an empty array';
  const values: number[] = [];
  let nonFinite = 0;
  const outOfRange: string[] = [];
  for (const item of items) {
    const n = asNumber(item);
    if (n === null) return Array.isArray(v) ? `an array holding ${describe(item)}` : describe(item);
    if ('value' in n) values.push(n.value);
    else if ('outOfRange' in n) outOfRange.push(n.outOfRange);
    else nonFinite++;
  }
  return { values, nonFinite, outOfRange };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${clip(JSON.stringify(v), 30)}`;
}

export function jsonSource(spec: JsonSourceSpec): MetricSource {
  const paths = Object.entries(spec.metrics).map(([name, p]) => [name, parseJsonPath(p) as Segment[], p] as const);
  return jsonResultSource('json', spec.file, (doc, label) => {
    const found = new Map<string, number[]>();
    const warnings: string[] = [];
    // One metric that cannot be read is not measured (a guardrail then blocks the keep, the primary voids the run), as for METRIC lines.
    const missed: { metric: string; reason: string }[] = [];
    for (const [name, segs, raw] of paths) {
      const got = getJsonPath(doc, segs);
      if ('missing' in got) {
        missed.push({ metric: name, reason: `${label}: no value at ${raw} (missing ${got.missing})` });
        continue;
      }
      const nums = numbersOf(got.value);
      if (typeof nums === 'string') {
        missed.push({ metric: name, reason: `${label}: ${raw} is ${nums}, not a number` });
        continue;
      }
      const [tooFar] = nums.outOfRange;
      // One number read as 0 or Infinity is not what the file says: refused, as a METRIC line is.
      if (tooFar !== undefined && !Array.isArray(got.value)) {
        missed.push({ metric: name, reason: `${label}: ${raw} is out of range: ${tooFar}` });
        continue;
      }
      if (nums.nonFinite > 0) warnings.push(`${label}: ignored ${nums.nonFinite} non-finite value(s) at ${raw}`);
      if (tooFar !== undefined) warnings.push(`${label}: ignored ${nums.outOfRange.length} out-of-range value(s) at ${raw}, e.g. ${tooFar}`);
      if (nums.values.length === 0) {
        missed.push({ metric: name, reason: tooFar === undefined ? `${label}: ${raw} holds only non-finite values` : `${label}: ${raw} holds no number in range (e.g. ${tooFar})` });
        continue;
      }
      found.set(name, nums.values);
    }
    return partialReading(found, warnings, missed);
  });
}
