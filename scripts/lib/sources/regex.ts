// `regex`: numbers printed in the benchmark's own words (`val_loss: 1.23`).
// The sample's slice of the run log is streamed line by line (\n or \r ends a
// line, so progress bars count as lines; a byte order mark that starts a line
// is dropped, so `^val_loss` matches a .NET program's first line, and colour codes are); lines longer than a cap are skipped
// so a careless pattern cannot backtrack for minutes over a huge line.
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { withoutColour } from '../metrics.ts';
import { clip, fail, MetricNameField, parseDecimal, Pick, reading } from './common.ts';
import type { MetricSource, SampleOutput, SourceReading } from './types.ts';

export const DEFAULT_MAX_LINE = 4096;
/** `pick: all` keeps at most this many values (a log that prints every step could have millions). */
export const MAX_ALL_VALUES = 100_000;

function groupCount(pattern: string, flags: string): number | string {
  try {
    new RegExp(pattern, flags);
    // An alternative that always matches the empty string reveals the group count.
    const m = new RegExp(`${pattern}|`, flags).exec('');
    return (m?.length ?? 1) - 1;
  } catch (e) {
    return (e as Error).message;
  }
}

export const RegexSourceSpec = lazySchema(() => z.strictObject({
  kind: z.literal('regex'),
  metric: MetricNameField,
  pattern: z.string({ error: 'must be a regular expression (string)' }).check(z.minLength(1, 'must not be empty')),
  flags: z._default(z.string().check(z.regex(/^(?!.*(.).*\1)[imsu]*$/, 'may only hold the flags i, m, s, u (each once)')), ''),
  /** Which capture group holds the number (1-based). */
  group: z._default(z.int().check(z.minimum(1, 'must be 1 or more')), 1),
  pick: z._default(Pick, 'last'),
  max_line_length: z._default(z.int().check(z.minimum(16), z.maximum(1_048_576)), DEFAULT_MAX_LINE),
  /** The value when no line matches at all: a linter that prints `✖ 3 problems` prints nothing at zero. */
  no_match: z.optional(z.number({ error: 'must be a number (the value when no line matches, e.g. 0)' }).check(z.refine(Number.isFinite, 'must be a finite number'))),
}).check(z.superRefine((s, ctx) => {
  const n = groupCount(s.pattern, s.flags);
  if (typeof n === 'string') ctx.addIssue({ code: 'custom', path: ['pattern'], message: `is not a valid regular expression: ${n}` });
  else if (n === 0) ctx.addIssue({ code: 'custom', path: ['pattern'], message: 'needs a capture group around the number, e.g. "val_loss: ([0-9.eE+-]+)"' });
  else if (s.group > n) ctx.addIssue({ code: 'custom', path: ['group'], message: `is ${s.group} but the pattern has ${n} capture group(s)` });
})));
export type RegexSourceSpec = z.infer<typeof RegexSourceSpec>;

/** Call `onLine` for each line of the byte range [start, end) of a file, skipping over-long lines. */
export async function scanLines(
  file: string,
  start: number,
  end: number,
  maxLine: number,
  onLine: (line: string) => void,
): Promise<{ skipped: number }> {
  let skipped = 0;
  if (end <= start) return { skipped };
  const decoder = new StringDecoder('utf8');
  let buf = '';
  let overlong = false;
  /** Nothing of the current line seen yet (its first character may be a BOM). */
  let lineStart = true;
  const flushPiece = (piece: string, complete: boolean): void => {
    if (overlong || buf.length + piece.length > maxLine) {
      overlong = true;
      buf = '';
    } else buf += piece;
    if (!complete) return;
    if (overlong) skipped++;
    else onLine(buf);
    buf = '';
    overlong = false;
  };
  const feed = (text: string): void => {
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) {
        flushPiece(text.slice(from, i), true);
        from = i + 1;
        lineStart = true;
      } else if (lineStart) {
        lineStart = false;
        if (c === 0xfeff) from = i + 1; // here from === i: the BOM is the line's first character
      }
    }
    if (from < text.length) flushPiece(text.slice(from), false);
  };
  const stream = fs.createReadStream(file, { start, end: end - 1, highWaterMark: 64 * 1024 });
  for await (const chunk of stream) feed(decoder.write(chunk as Buffer));
  feed(decoder.end());
  if (buf.length > 0 || overlong) flushPiece('', true);
  return { skipped };
}

/** Folds matches as they stream by, so memory stays bounded whatever the log's size. */
class Picker {
  private kept: number[] = [];
  count = 0;
  nonFinite = 0;
  dropped = 0;
  constructor(private readonly how: Pick) {}
  /** `last` and the last match was NaN or infinite: there is no last value (a training that diverged). */
  lastNonFinite = false;
  add(v: number): void {
    if (!Number.isFinite(v)) {
      this.nonFinite++;
      if (this.how === 'last') this.lastNonFinite = true;
      return;
    }
    this.lastNonFinite = false;
    this.count++;
    const cur = this.kept[0];
    switch (this.how) {
      case 'all':
        if (this.kept.length < MAX_ALL_VALUES) this.kept.push(v);
        else this.dropped++;
        return;
      case 'first':
        if (cur === undefined) this.kept = [v];
        return;
      case 'last':
        this.kept = [v];
        return;
      case 'min':
        if (cur === undefined || v < cur) this.kept = [v];
        return;
      case 'max':
        if (cur === undefined || v > cur) this.kept = [v];
        return;
    }
  }
  values(): number[] {
    return this.kept;
  }
}

// How programs print a value that is not a number: nan, -nan, inf, NaN, -Infinity.
const NON_FINITE_WORD = /(?<![\w.])[+-]?(?:nan|inf(?:inity)?)(?![\w.])/gi;

/**
 * The captures of a line that holds a non-finite word, read with each such
 * word standing in as a number (`0.0`, else `0`): the pattern people write for
 * a number (`([0-9.eE+-]+)`, `(\d+\.\d+)`) cannot match `nan`, so without
 * this a diverged training's last `val_loss: nan` would be no match at all and
 * an earlier epoch's value the result. A capture exactly on a stand-in is NaN;
 * other captures are the line's own text. Null: the stand-ins changed nothing.
 */
function capturesWithNonFinite(line: string, reD: RegExp, group: number): string[] | null {
  const words = [...line.matchAll(NON_FINITE_WORD)];
  if (!words.length) return null;
  for (const stand of ['0.0', '0']) {
    let text = '';
    let from = 0;
    const spans: [number, number][] = [];
    for (const w of words) {
      text += line.slice(from, w.index);
      spans.push([text.length, text.length + stand.length]);
      text += stand;
      from = w.index + w[0].length;
    }
    text += line.slice(from);
    const out: string[] = [];
    let onStandIn = false;
    for (const m of text.matchAll(reD)) {
      const at = m.indices?.[group];
      if (!at || m[group] === undefined) continue;
      const exact = spans.some(([a, b]) => a === at[0] && b === at[1]);
      const overlaps = spans.some(([a, b]) => a < at[1] && at[0] < b);
      if (exact) onStandIn = true;
      // A capture across a stand-in is text of neither: the whole line stands for it in the not-a-number warning.
      out.push(exact ? 'nan' : overlaps ? line : (m[group] as string));
    }
    if (onStandIn) return out;
  }
  return null;
}

/** Digits in thousands groups (`1,234,567`, `-12,345.5`): a capture may take the commas. */
const GROUPED = /^\s*[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?(?:[eE][+-]?\d+)?\s*$/;

/** A captured number with its thousands separators read as one number (1,234,567 → 1234567); any other text as it is. */
export function ungroup(text: string): string {
  return GROUPED.test(text) ? text.replace(/,/g, '') : text;
}

/**
 * Whether this match's capture stops right before `,ddd` groups the match
 * itself did not take (`count: (\d+)` on `count: 1,234,567` takes 1): what it
 * took and the whole grouped number, else null. A pattern that consumes the
 * comma (`(\d+),`) reads comma-separated fields on purpose.
 */
function cutGrouping(line: string, m: RegExpExecArray, group: number): { took: string; whole: string } | null {
  const at = m.indices?.[group];
  const all = m.indices?.[0];
  const took = m[group];
  if (!at || !all || took === undefined || all[1] > at[1] || !/^[+-]?\d{1,3}(?:,\d{3})*$/.test(took)) return null;
  const rest = /^(?:,\d{3})+(?!\d|,\d)(?:\.\d+)?/.exec(line.slice(at[1]));
  return rest ? { took, whole: took + rest[0] } : null;
}

export function regexSource(spec: RegexSourceSpec): MetricSource {
  const label = `regex /${clip(spec.pattern, 48)}/`;
  const re = new RegExp(spec.pattern, `${spec.flags}g`);
  const reD = new RegExp(spec.pattern, `${spec.flags}gd`);
  return {
    label,
    async read(sample: SampleOutput): Promise<SourceReading> {
      const picker = new Picker(spec.pick);
      const warnings: string[] = [];
      let nonNumbers = 0;
      let firstBad = '';
      /** The last match, when it was not a number. */
      let lastBad = '';
      let skipped: number;
      /** A capture that stopped at a thousands separator, and the whole number it cut. */
      const cutShort: { at: { took: string; whole: string } | null } = { at: null };
      // Only a line with a comma can hold a cut grouping: the others skip the match indices.
      const capturesOf = (line: string): Array<string | undefined> => {
        if (!line.includes(',')) return [...line.matchAll(re)].map((m) => m[spec.group]);
        return [...line.matchAll(reD)].map((m) => {
          cutShort.at ??= cutGrouping(line, m, spec.group);
          return m[spec.group];
        });
      };
      try {
        ({ skipped } = await scanLines(sample.log.file, sample.log.start, sample.log.end, spec.max_line_length, (printed) => {
          // Matched as a terminal shows it: a coloured `loss: \x1b[1m0.5` is `loss: 0.5`.
          const line = withoutColour(printed);
          const texts = capturesWithNonFinite(line, reD, spec.group) ?? capturesOf(line);
          for (const text of texts) {
            if (text === undefined) continue;
            const n = parseDecimal(ungroup(text));
            lastBad = 'notANumber' in n ? n.notANumber : '';
            if ('value' in n) picker.add(n.value);
            else if ('nonFinite' in n) picker.add(Number.NaN);
            else if (nonNumbers++ === 0) firstBad = n.notANumber;
          }
        }));
      } catch (e) {
        return fail(`${label}: cannot read the output: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
      // `1,234,567` read as 1 would be a silent wrong number, whichever match `pick` keeps.
      if (cutShort.at) return fail(`${label}: the capture read "${cutShort.at.took}" of the number "${cutShort.at.whole}" (it stops at a thousands separator); widen the group to take the commas, e.g. ([0-9][0-9,]*(?:\\.[0-9]+)?)`);
      if (skipped > 0) warnings.push(`${label}: skipped ${skipped} line(s) longer than ${spec.max_line_length} characters`);
      if (nonNumbers > 0) warnings.push(`${label}: ignored ${nonNumbers} match(es) that are not numbers, e.g. ${JSON.stringify(clip(firstBad, 40))}`);
      if (picker.nonFinite > 0) warnings.push(`${label}: ignored ${picker.nonFinite} non-finite value(s) of ${spec.metric}`);
      if (picker.dropped > 0) warnings.push(`${label}: kept the first ${MAX_ALL_VALUES} of ${picker.count} matches`);
      // As with NaN: the last match counts, so an earlier one is not the result when it cannot be read.
      if (spec.pick === 'last' && lastBad && picker.count > 0) return fail(`${label}: the last match is not a number: ${JSON.stringify(clip(lastBad, 40))} (earlier matches are not the result)`);
      if (picker.lastNonFinite && picker.count > 0) return fail(`${label}: the last match is not finite (earlier matches are not the result)`);
      // Silence is the value only when nothing matched: a match that was no number or NaN is no silence.
      if (picker.count === 0 && picker.nonFinite === 0 && nonNumbers === 0 && spec.no_match !== undefined) {
        return reading(new Map([[spec.metric, [spec.no_match]]]), warnings);
      }
      if (picker.count === 0) {
        const why = picker.nonFinite > 0 ? 'matched only non-finite values' : nonNumbers > 0 ? 'matched no number' : 'matched nothing';
        return fail(`${label} ${why} in the output`);
      }
      return reading(new Map([[spec.metric, picker.values()]]), warnings);
    },
  };
}
