// `csv`: numbers from a CSV file the benchmark wrote (PyTorch Lightning's
// CSVLogger metrics.csv, Keras' CSVLogger, a results table), each metric by
// its column's header. Empty cells are skipped: a logger writes a row per
// step and leaves the columns not logged at that step empty. `pick` chooses
// among the column's values in file order; the last value counts by default,
// and when it is NaN or infinite there is none (a training that diverged).
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { clip, fail, FileField, MetricNameField, parseDecimal, Pick, pick, reading, resultFileSource } from './common.ts';
import type { MetricSource } from './types.ts';

export const CsvSourceSpec = lazySchema(() => z.strictObject({
  kind: z.literal('csv'),
  file: FileField,
  /** metric name → the column's header. */
  metrics: z.record(MetricNameField, z.string().check(z.minLength(1, 'must be a column header')), { error: 'must map metric names to column headers, e.g. {val_loss: "val_loss"}' }).check(z.refine((m) => Object.keys(m).length > 0, 'must name at least one metric')),
  pick: z._default(Pick, 'last'),
  delimiter: z._default(z.string().check(z.length(1, 'must be one character')), ','),
}));
export type CsvSourceSpec = z.infer<typeof CsvSourceSpec>;

/** The rows of a CSV text: RFC 4180 quoting ("a, b", "say ""hi"""), \n or \r\n line ends. */
export function parseCsv(text: string, delimiter: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === delimiter) {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length) rows.push([...row, cell]);
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

export function csvSource(spec: CsvSourceSpec): MetricSource {
  return resultFileSource('csv', spec.file, (text, label) => {
    const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, ''), spec.delimiter);
    if (!header) return fail(`${label}: is empty`);
    const names = header.map((h) => h.trim());
    const found = new Map<string, number[]>();
    const warnings: string[] = [];
    for (const [metric, column] of Object.entries(spec.metrics)) {
      const col = names.indexOf(column);
      if (col < 0) return fail(`${label}: has no column ${JSON.stringify(column)} (it has ${names.slice(0, 8).map((n) => JSON.stringify(clip(n, 30))).join(', ')})`);
      const values: number[] = [];
      let bad = '';
      for (const r of rows) {
        const cell = (r[col] ?? '').trim();
        if (cell === '') continue;
        const n = parseDecimal(cell);
        if ('value' in n) values.push(n.value);
        else if ('nonFinite' in n) values.push(Number.NaN);
        else bad ||= cell;
      }
      if (bad) warnings.push(`${label}: ignored cells of ${column} that are not numbers, e.g. ${JSON.stringify(clip(bad, 30))}`);
      const finite = values.filter((v) => Number.isFinite(v));
      if (spec.pick === 'last' && values.length && !Number.isFinite(values[values.length - 1] as number)) {
        return fail(`${label}: the last value of ${column} is not finite (earlier rows are not the result)`);
      }
      if (finite.length < values.length) warnings.push(`${label}: ignored ${values.length - finite.length} non-finite value(s) of ${column}`);
      if (!finite.length) return fail(`${label}: column ${JSON.stringify(column)} holds no number`);
      found.set(metric, pick(finite, spec.pick));
    }
    return reading(found, warnings);
  });
}
