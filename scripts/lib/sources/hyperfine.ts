// `hyperfine`: per-run wall times (seconds) from `hyperfine --export-json`.
// Every timed run becomes a sample, so the engine's noise model sees
// hyperfine's own repetitions; `mean` is used only by an export without times.
import { z } from 'zod';
import { asNumber, choose, clip, fail, FileField, MetricNameField, parseJsonLenient, readFreshText, reading, Selector } from './common.ts';
import type { MetricSource, SampleOutput, SourceReading } from './types.ts';

export const HyperfineSourceSpec = z
  .object({
    kind: z.literal('hyperfine'),
    file: FileField,
    metric: MetricNameField,
    /** Which command: its 0-based index or its name (the command line, or its --command-name). Needed when there are several. */
    command: Selector.optional(),
  })
  .strict();
export type HyperfineSourceSpec = z.infer<typeof HyperfineSourceSpec>;

export function hyperfineSource(spec: HyperfineSourceSpec): MetricSource {
  const label = `hyperfine ${clip(spec.file, 40)}`;
  return {
    label,
    async read(sample: SampleOutput): Promise<SourceReading> {
      const text = await readFreshText(label, sample.cwd, spec.file, sample.startedAtMs);
      if (!text.ok) return text;
      let doc: unknown;
      try {
        doc = parseJsonLenient(text.text);
      } catch (e) {
        return fail(`${label}: not valid JSON (${clip((e as Error).message, 80)})`);
      }
      const results = (doc as { results?: unknown } | null)?.results;
      if (!Array.isArray(results)) return fail(`${label}: has no "results" list (not a hyperfine --export-json file?)`);
      const chosen = choose(results as Record<string, unknown>[], (r) => String(r?.command ?? ''), spec.command, 'command');
      if ('reason' in chosen) return fail(`${label}: ${chosen.reason}`);
      const entry = chosen.item;
      const warnings: string[] = [];
      const raw: unknown[] = Array.isArray(entry.times) && entry.times.length > 0 ? entry.times : [entry.mean];
      if (raw.length === 1 && raw[0] === entry.mean) warnings.push(`${label}: no per-run times in the export; used the mean`);
      const values: number[] = [];
      let nonFinite = 0;
      for (const t of raw) {
        const n = asNumber(t);
        if (n && 'value' in n) values.push(n.value);
        else nonFinite++;
      }
      if (nonFinite > 0) warnings.push(`${label}: ignored ${nonFinite} time(s) that are not finite numbers`);
      if (values.length === 0) return fail(`${label}: command ${JSON.stringify(clip(String(entry.command), 40))} has no usable time`);
      return reading(new Map([[spec.metric, values]]), warnings);
    },
  };
}
