// Helpers shared by the metric sources: spec fields, fresh-file reading,
// number hygiene and picking one value out of many. No source logic here.
// fs.promises rather than node:fs/promises: Node loads it when a source first reads a file, not at every run's start-up.
import fs from 'node:fs';
import path from 'node:path';
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { METRIC_NAME } from '../patterns.ts';
import { compileScope, listFiles, type Scope } from '../scope.ts';
import type { MetricSource, SampleClock, SampleOutput, SourceReading } from './types.ts';
import { statSig } from '../stat-sig.ts';

export const MetricNameField = lazySchema(() => z.string({ error: 'must be a metric name' }).check(z.regex(METRIC_NAME, 'must be a metric name: letters, digits, _ . - or µ, starting with a letter')));

export const FileField = lazySchema(() => z.string({ error: 'must be a file path' }).check(z.minLength(1, 'must be a file path (relative to the repository)')));

// A result file whose mtime is before the sample started was left by an
// earlier sample or run. Kernel file timestamps come from a coarse clock that
// can lag Date.now() by a tick, hence a small slack.
export const STALE_SLACK_MS = 20;

/** Files the sources read whole (JSON, XML, lcov) are refused past this size. */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;

export type Fresh = { ok: true; path: string; mtimeMs: number } | { ok: false; reason: string };

export function resolveIn(cwd: string, file: string): string {
  return path.resolve(cwd, file);
}

export function isFresh(mtimeMs: number, startedAtMs: number): boolean {
  return mtimeMs >= startedAtMs - STALE_SLACK_MS;
}


/** Did this sample write the file? By its stamp before the sample when there is one, else by its mtime. */
export function writtenBySample(abs: string, st: fs.Stats, sample: SampleClock): boolean {
  if (!sample.before) return isFresh(st.mtimeMs, sample.startedAtMs);
  const was = sample.before.get(abs);
  return was === undefined || was !== statSig(st);
}

/** Stamp the result files the sources may read, just before a sample starts. */
export async function stampFiles(sources: readonly MetricSource[], cwd: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const s of sources) {
    for (const abs of (await s.watched?.(cwd)) ?? []) {
      const st = await fs.promises.stat(abs).catch(() => null);
      if (st?.isFile()) out.set(abs, statSig(st));
    }
  }
  return out;
}

/** Stat a result file and tell whether this sample wrote it. */
export async function freshFile(label: string, cwd: string, file: string, sample: SampleClock): Promise<Fresh> {
  const abs = resolveIn(cwd, file);
  let st;
  try {
    st = await fs.promises.stat(abs);
  } catch {
    return { ok: false, reason: `${label}: ${file} was not written` };
  }
  if (!st.isFile()) return { ok: false, reason: `${label}: ${file} is not a file` };
  if (!writtenBySample(abs, st, sample)) {
    return { ok: false, reason: `${label}: ${file} is stale (last written before this sample started)` };
  }
  if (st.size > MAX_FILE_BYTES) return { ok: false, reason: `${label}: ${file} is larger than ${MAX_FILE_BYTES >> 20} MiB` };
  return { ok: true, path: abs, mtimeMs: st.mtimeMs };
}

/** The text of a fresh result file, or why there is none. */
export async function readFreshText(
  label: string,
  cwd: string,
  file: string,
  sample: SampleClock,
): Promise<{ ok: true; text: string } | { ok: false; reason: string }> {
  const f = await freshFile(label, cwd, file, sample);
  if (!f.ok) return f;
  try {
    const text = await fs.promises.readFile(f.path, 'utf8');
    // A file written with a byte order mark (PowerShell, .NET, Excel): JSON.parse refuses one.
    return { ok: true, text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
  } catch (e) {
    return { ok: false, reason: `${label}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
  }
}

// A result file named by a glob, as lightning_logs/version_N/metrics.csv needs (a new folder per training).
export function isFileGlob(file: string): boolean {
  return /[*?{}\[\]]/.test(file);
}

/** The one file matching the glob this sample wrote, or why there is none. */
function writtenMatch(label: string, glob: Scope, file: string, sample: SampleOutput): { rel: string } | { reason: string } {
  const written = listFiles(sample.cwd, glob.bases, glob.inScope).filter((rel) => {
    const abs = resolveIn(sample.cwd, rel);
    try {
      return writtenBySample(abs, fs.statSync(abs), sample);
    } catch {
      return false;
    }
  });
  if (written.length === 1) return { rel: written[0] as string };
  if (written.length === 0) return { reason: `${label}: no file matching ${file} was written by this sample` };
  const names = written.slice(0, 3).map((w) => JSON.stringify(clip(w, 50))).join(', ');
  return { reason: `${label}: ${written.length} files matching ${file} were written by this sample (${names}${written.length > 3 ? ', …' : ''}): which one is the result cannot be told; narrow the glob` };
}

/** A source that reads one fresh result file per sample (a glob: the one matching file it wrote) and turns its text into a reading. */
export function resultFileSource(kind: string, file: string, fromText: (text: string, label: string) => SourceReading): MetricSource {
  const label = `${kind} ${clip(file, 40)}`;
  const glob = isFileGlob(file) ? compileScope([file], []) : null;
  return {
    label,
    async read(sample: SampleOutput): Promise<SourceReading> {
      const one = glob ? writtenMatch(label, glob, file, sample) : { rel: file };
      if ('reason' in one) return fail(one.reason);
      const text = await readFreshText(label, sample.cwd, one.rel, sample);
      return text.ok ? fromText(text.text, label) : text;
    },
    watched: async (cwd) => (glob ? listFiles(cwd, glob.bases, glob.inScope) : [file]).map((rel) => resolveIn(cwd, rel)),
  };
}

/** Like resultFileSource, for a JSON result file (Python's NaN / Infinity accepted). */
export function jsonResultSource(kind: string, file: string, fromDoc: (doc: unknown, label: string) => SourceReading): MetricSource {
  return resultFileSource(kind, file, (text, label) => {
    let doc: unknown;
    try {
      doc = parseJsonLenient(text);
    } catch (e) {
      return fail(`${label}: not valid JSON (${clip((e as Error).message, 80)})`);
    }
    const twice = duplicateKey(text);
    if (twice) return fail(`${label}: ${twice} (which one counts depends on the reader)`);
    return fromDoc(doc, label);
  });
}

/**
 * The first key an object of this (valid) JSON text holds twice, with where:
 * JSON.parse keeps the last silently, another reader the first. One linear pass.
 */
export function duplicateKey(text: string): string | null {
  /** An object (keys, the last key) or an array (index), and its path for the message. */
  type Frame = { keys: Set<string> | null; last: string; at: string; index: number };
  const stack: Frame[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === 0x22) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      if (expectKey && top?.keys) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return `key ${JSON.stringify(clip(key, 40))} appears twice in ${top.at}`;
        top.keys.add(key);
        top.last = key;
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      const at = !top ? '$' : !top.keys ? `${top.at}[${top.index}]` : /^[A-Za-z_]\w*$/.test(top.last) ? `${top.at}.${top.last}` : `${top.at}[${JSON.stringify(top.last)}]`;
      stack.push({ keys: c === 0x7b ? new Set() : null, last: '', at, index: 0 });
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c && top) {
      if (top.keys) expectKey = true;
      else top.index++;
    }
  }
  return null;
}

/** The reading of one metric from an extractor's values, or its reason for having none. */
export function oneMetric(label: string, metric: string, r: { values: number[]; warnings: string[] } | string): SourceReading {
  if (typeof r === 'string') return fail(`${label}: ${r}`);
  return reading(new Map([[metric, r.values]]), r.warnings);
}

// Python's json module writes NaN, Infinity and -Infinity as bare words,
// which JSON.parse refuses. They become this marker string so the reader can
// warn about the value instead of losing the whole file.
export const NON_FINITE_MARK = '\u0000non-finite:';
// A number literal JSON.parse would round to what it does not say: 1e400 to
// Infinity, 1e-400 to 0 (a perfect score to a metric that is better lower).
// It becomes this marker string, with the literal and why, so the reader
// refuses it as the METRIC-line parser does.
export const OUT_OF_RANGE_MARK = '\u0000out-of-range:';

/** The literal and why it cannot be read as the number it says, or null when it can. */
export function literalOutOfRange(literal: string): string | null {
  const v = Number(literal);
  if (!Number.isFinite(v)) return `${literal} (too large: it reads as ${v})`;
  if (v === 0 && /[1-9]/.test(literal.split(/[eE]/)[0] as string)) return `${literal} (too small to tell from 0)`;
  return null;
}

// Only a literal with a 3-digit exponent or a run of 100 digits can leave the
// range of a double (a 2-digit exponent needs 200+ digits to): other texts
// skip the rewrite pass.
const MAYBE_OUT_OF_RANGE = /[eE][+-]?\d{3}|\d{100}/;
const NUMBER_AT = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WORD_AT = /-?Infinity|NaN/y;

/**
 * The text with Python's non-finite words and out-of-range number literals
 * outside strings replaced by marker strings, or null when there were none.
 */
function markLiterals(text: string): string | null {
  let out = '';
  let from = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      i = j + 1;
      continue;
    }
    let mark: string | null = null;
    let len = 1;
    if (c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x49 || c === 0x4e) {
      WORD_AT.lastIndex = i;
      const w = WORD_AT.exec(text);
      NUMBER_AT.lastIndex = i;
      const n = w ? null : NUMBER_AT.exec(text);
      if (w) {
        mark = NON_FINITE_MARK + w[0];
        len = w[0].length;
      } else if (n) {
        len = n[0].length;
        const why = literalOutOfRange(n[0]);
        if (why) mark = OUT_OF_RANGE_MARK + why;
      }
    }
    if (mark !== null) {
      out += text.slice(from, i) + JSON.stringify(mark);
      from = i + len;
    }
    i += len;
  }
  return from === 0 ? null : out + text.slice(from);
}

/**
 * JSON.parse that also accepts Python's NaN / Infinity literals and keeps
 * out-of-range numbers from being rounded (both as marked strings).
 */
export function parseJsonLenient(text: string): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (first) {
    const marked = markLiterals(text);
    if (marked === null) throw first;
    return JSON.parse(marked);
  }
  if (!MAYBE_OUT_OF_RANGE.test(text)) return doc;
  const marked = markLiterals(text);
  return marked === null ? doc : JSON.parse(marked);
}

/**
 * A JSON value as a number: finite numbers pass; Python's non-finite literals
 * and out-of-range literals come back with their text; anything else is null.
 */
export function asNumber(v: unknown): { value: number } | { nonFinite: string } | { outOfRange: string } | null {
  if (typeof v === 'number') return Number.isFinite(v) ? { value: v } : { nonFinite: String(v) };
  if (typeof v === 'string' && v.startsWith(NON_FINITE_MARK)) return { nonFinite: v.slice(NON_FINITE_MARK.length) };
  if (typeof v === 'string' && v.startsWith(OUT_OF_RANGE_MARK)) return { outOfRange: v.slice(OUT_OF_RANGE_MARK.length) };
  return null;
}

/** The finite numbers of a list of JSON values, how many others were skipped, and the first out-of-range literal. */
export function finiteNumbers(raw: unknown[]): { values: number[]; bad: number; outOfRange?: string } {
  const values: number[] = [];
  let bad = 0;
  let outOfRange: string | undefined;
  for (const v of raw) {
    const n = asNumber(v);
    if (n && 'value' in n) values.push(n.value);
    else bad++;
    if (n && 'outOfRange' in n) outOfRange ??= n.outOfRange;
  }
  return outOfRange === undefined ? { values, bad } : { values, bad, outOfRange };
}

/** ", e.g. 1e-400 (too small to tell from 0)" for a message, when a literal was out of range. */
export function outOfRangeNote(r: { outOfRange?: string }): string {
  return r.outOfRange === undefined ? '' : `, e.g. ${r.outOfRange}`;
}

// Plain decimals only, as benchmarks print them: no hex, no empty string.
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE_WORD = /^[+-]?(?:nan|inf|infinity)$/i;

/** Text captured from output as a number. */
export function parseDecimal(text: string): { value: number } | { nonFinite: string } | { notANumber: string } {
  const s = text.trim();
  if (NON_FINITE_WORD.test(s)) return { nonFinite: s };
  if (!DECIMAL.test(s)) return { notANumber: s };
  const value = Number(s);
  if (!Number.isFinite(value)) return { nonFinite: s };
  // 1e-400 reads as 0: not what was printed, and a perfect score to a metric that is better lower.
  if (value === 0 && /[1-9]/.test(s.split(/[eE]/)[0] as string)) return { notANumber: `${s} (too small to tell from 0)` };
  return { value };
}

/** Keep the finite values; one warning for those dropped. */
export function finiteOnly(label: string, what: string, values: number[], warnings: string[]): number[] {
  const kept = values.filter((v) => Number.isFinite(v));
  if (kept.length < values.length) warnings.push(`${label}: ignored ${values.length - kept.length} non-finite value(s) of ${what}`);
  return kept;
}

export const Pick = z.enum(['last', 'first', 'min', 'max', 'all'], {
  error: 'must be one of last, first, min, max, all',
});
export type Pick = z.infer<typeof Pick>;

/** One value (or all of them) out of a series in the order it was produced. */
export function pick(values: number[], how: Pick): number[] {
  if (values.length === 0) return [];
  switch (how) {
    case 'all':
      return values;
    case 'first':
      return [values[0] as number];
    case 'last':
      return [values[values.length - 1] as number];
    case 'min':
      return [values.reduce((a, b) => Math.min(a, b))];
    case 'max':
      return [values.reduce((a, b) => Math.max(a, b))];
  }
}

export function fail(reason: string): SourceReading {
  return { ok: false, reason };
}

/** Short form of user text for labels and reasons. */
export function clip(s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** A reading built from a Map, so metric names never touch Object.prototype. */
export function reading(found: Map<string, number[]>, warnings: string[], missed: { metric: string; reason: string }[] = []): SourceReading {
  return { ok: true, metrics: Object.fromEntries(found), warnings, ...(missed.length ? { missed } : {}) };
}

/**
 * A multi-metric source's reading when some of its metrics could not be read:
 * those are missed (not measured), the others read; nothing read at all is a
 * failure of the source, with every reason.
 */
export function partialReading(found: Map<string, number[]>, warnings: string[], missed: { metric: string; reason: string }[]): SourceReading {
  if (found.size === 0 && missed.length) return fail(missed.map((m) => m.reason).join('; '));
  return reading(found, warnings, missed);
}

/** Units per second, for the sources whose tool reports times in seconds (hyperfine, pytest-benchmark). */
export const PER_SECOND: Record<'s' | 'ms' | 'us' | 'ns', number> = { s: 1, ms: 1e3, us: 1e6, ns: 1e9 };

/** A time unit a source converts its seconds to (default s). */
export const TimeUnitField = lazySchema(() => z._default(z.enum(['s', 'ms', 'us', 'ns'], { error: 'must be one of s, ms, us, ns' }), 's'));

/** Optional prefix for sources that emit fixed metric names (junit, coverage). */
export const PrefixField = lazySchema(() => z.optional(z.string({ error: 'must be a string' }).check(z.regex(/^[A-Za-z_µ][\w.µ-]{0,31}$/, 'must start with a letter and hold only letters, digits, _ . - (max 32)'))));

/** A 0-based index or an exact name, shared by the benchmark-tool sources. */
export const Selector = lazySchema(() => z.union([z.int().check(z.minimum(0)), z.string().check(z.minLength(1))], {
  error: 'must be a 0-based index or an exact name',
}));

/** Pick one entry of a list by index or name, or say why none could be picked. */
export function choose<T>(
  items: T[],
  nameOf: (t: T) => string,
  sel: number | string | undefined,
  what: string,
): { item: T } | { reason: string } {
  const names = items.map(nameOf);
  const list = names.slice(0, 5).map((n) => JSON.stringify(clip(n, 40))).join(', ') + (names.length > 5 ? ', …' : '');
  if (sel === undefined) {
    if (items.length === 1) return { item: items[0] as T };
    return { reason: items.length === 0 ? `has no ${what}s` : `has ${items.length} ${what}s (${list}); choose one by index or name` };
  }
  if (typeof sel === 'number') {
    return sel < items.length ? { item: items[sel] as T } : { reason: `has no ${what} #${sel} (it has ${items.length}: ${list})` };
  }
  const i = names.indexOf(sel);
  return i >= 0 ? { item: items[i] as T } : { reason: `has no ${what} named ${JSON.stringify(sel)} (it has ${list})` };
}
