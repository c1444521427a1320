// The config's `sources` entries, validated at the config boundary: one table
// of every source's spec, each an object with a literal `kind`. A new source
// adds its spec here and its factory in index.ts.
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { CoverageSourceSpec } from './coverage.ts';
import { CsvSourceSpec } from './csv.ts';
import { GoogleBenchmarkSourceSpec } from './google-benchmark.ts';
import { HyperfineSourceSpec } from './hyperfine.ts';
import { JsonSourceSpec } from './json.ts';
import { JunitSourceSpec } from './junit.ts';
import { PytestBenchmarkSourceSpec } from './pytest-benchmark.ts';
import { RegexSourceSpec } from './regex.ts';
import { TensorboardSourceSpec } from './tensorboard.ts';

export const MetricLinesSpec = lazySchema(() => z.strictObject({ kind: z.literal('metric-lines') }));

/** One entry of config `sources`. */
export const SourceSpec = lazySchema(() => z.discriminatedUnion('kind', [
  MetricLinesSpec,
  RegexSourceSpec,
  JsonSourceSpec,
  CsvSourceSpec,
  TensorboardSourceSpec,
  JunitSourceSpec,
  CoverageSourceSpec,
  HyperfineSourceSpec,
  GoogleBenchmarkSourceSpec,
  PytestBenchmarkSourceSpec,
]));
export type SourceSpec = z.infer<typeof SourceSpec>;
export type SourceSpecInput = z.input<typeof SourceSpec>;
