// `csv`: numbers from a CSV file the benchmark wrote (PyTorch Lightning's
// CSVLogger metrics.csv, Keras' CSVLogger, a results table), each metric by
// its column's header. Empty cells are skipped: a logger writes a row per
// step and leaves the columns not logged at that step empty. `pick` chooses
// among the column's values in file order; the last value counts by default,
// and when it is NaN or infinite there is none (a training that diverged).
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { clip, fail, FileField, MetricNameField, parseDecimal, partialReading, Pick, pick, resultFileSource } from './common.ts';
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
  // A quote left open took the rest of the file into one cell: no row after it can be read.
  if (quoted) throw new Error('a quoted cell is never closed');
  if (cell !== '' || row.length) rows.push([...row, cell]);
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** Why the cells of these rows cannot be matched to their headers, if they cannot. */
function misaligned(names: string[], rows: string[][]): string | null {
  // A row with more or fewer cells than the header (an unquoted comma in a value, a row cut
  // short) shifts its cells: a value read by position could be another column's.
  const i = rows.findIndex((r) => r.length !== names.length);
  if (i >= 0) return `data row ${i + 1} has ${(rows[i] as string[]).length} cells, the header ${names.length}: its columns cannot be matched`;
  // A logger that appends (Keras' CSVLogger with append=True) writes its header again for each run:
  // the rows above it are an earlier run's, and min, max or all would take them in.
  const again = rows.findIndex((r) => r.every((c, k) => c.trim() === names[k]));
  if (again >= 0) return `the header comes again at data row ${again + 1} (rows of an earlier run appended?)`;
  return null;
}

export function csvSource(spec: CsvSourceSpec): MetricSource {
  return resultFileSource('csv', spec.file, (text, label) => {
    let parsed: string[][];
    try {
      parsed = parseCsv(text.replace(/^\uFEFF/, ''), spec.delimiter);
    } catch (e) {
      return fail(`${label}: ${(e as Error).message}`);
    }
    const [header, ...rows] = parsed;
    if (!header) return fail(`${label}: is empty`);
    const names = header.map((h) => h.trim());
    const shifted = misaligned(names, rows);
    if (shifted) return fail(`${label}: ${shifted}`);
    const found = new Map<string, number[]>();
    const warnings: string[] = [];
    // One column that cannot be read is not measured, the others are (see json.ts).
    const missed: { metric: string; reason: string }[] = [];
    for (const [metric, column] of Object.entries(spec.metrics)) {
      const col = names.indexOf(column);
      if (col >= 0 && names.lastIndexOf(column) !== col) {
        missed.push({ metric, reason: `${label}: has two columns named ${JSON.stringify(clip(column, 30))}` });
        continue;
      }
      if (col < 0) {
        missed.push({ metric, reason: `${label}: has no column ${JSON.stringify(column)} (it has ${names.slice(0, 8).map((n) => JSON.stringify(clip(n, 30))).join(', ')})` });
        continue;
      }
      const values: number[] = [];
      let bad = '';
      let lastBad = '';
      for (const r of rows) {
        const cell = (r[col] ?? '').trim();
        if (cell === '') continue;
        const n = parseDecimal(cell);
        lastBad = 'notANumber' in n ? n.notANumber : '';
        if ('value' in n) values.push(n.value);
        else if ('nonFinite' in n) values.push(Number.NaN);
        else bad ||= cell;
      }
      // As with NaN: the last value counts, so an earlier row is not the result when it cannot be read.
      if (spec.pick === 'last' && lastBad && values.length) {
        missed.push({ metric, reason: `${label}: the last value of ${column} is not a number: ${JSON.stringify(clip(lastBad, 40))} (earlier rows are not the result)` });
        continue;
      }
      if (bad) warnings.push(`${label}: ignored cells of ${column} that are not numbers, e.g. ${JSON.stringify(clip(bad, 30))}`);
      const finite = values.filter((v) => Number.isFinite(v));
      if (spec.pick === 'last' && values.length && !Number.isFinite(values[values.length - 1] as number)) {
        missed.push({ metric, reason: `${label}: the last value of ${column} is not finite (earlier rows are not the result)` });
        continue;
      }
      if (finite.length < values.length) warnings.push(`${label}: ignored ${values.length - finite.length} non-finite value(s) of ${column}`);
      if (!finite.length) {
        missed.push({ metric, reason: `${label}: column ${JSON.stringify(column)} holds no number` });
        continue;
      }
      found.set(metric, pick(finite, spec.pick));
    }
    return partialReading(found, warnings, missed);
  });
}
