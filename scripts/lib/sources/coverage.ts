// `coverage`: percentages from a coverage summary. Formats: Istanbul's
// coverage-summary.json (c8, nyc, jest, vitest `--coverage.reporter=json-summary`),
// coverage.py's `coverage json`, and lcov's lcov.info. Metrics, as the format
// has them: lines_pct, branches_pct, functions_pct, statements_pct (behind an
// optional prefix). A kind with nothing to measure (0 branches) is left out.
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { asNumber, clip, fail, FileField, parseJsonLenient, PrefixField, reading, resultFileSource } from './common.ts';
import type { MetricSource } from './types.ts';

export const CoverageFormat = z.enum(['auto', 'istanbul', 'coverage.py', 'lcov'], {
  error: 'must be one of auto, istanbul, coverage.py, lcov',
});

export const CoverageSourceSpec = lazySchema(() => z.strictObject({
  kind: z.literal('coverage'),
  file: FileField,
  format: z._default(CoverageFormat, 'auto'),
  prefix: PrefixField,
}));
export type CoverageSourceSpec = z.infer<typeof CoverageSourceSpec>;

export type CoverageKind = 'lines' | 'branches' | 'functions' | 'statements';
export type CoveragePcts = Partial<Record<CoverageKind, number>>;

/** A count the summary holds out of the range of a double (1e400, 1e-400): thrown, caught in coveragePcts. */
class OutOfRange extends Error {}

function pct(covered: unknown, total: unknown): number | undefined {
  const c = asNumber(covered);
  const t = asNumber(total);
  for (const n of [c, t]) if (n && 'outOfRange' in n) throw new OutOfRange(n.outOfRange);
  if (!c || !t || !('value' in c) || !('value' in t) || t.value <= 0) return undefined;
  return (100 * c.value) / t.value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Istanbul: total.{lines,branches,functions,statements}.{covered,total}. */
export function istanbulPcts(doc: unknown): CoveragePcts | string {
  if (!isObject(doc) || !isObject(doc.total)) return 'has no "total" object (not an Istanbul coverage-summary.json?)';
  const out: CoveragePcts = {};
  for (const k of ['lines', 'branches', 'functions', 'statements'] as const) {
    const part = doc.total[k];
    if (!isObject(part)) continue;
    const v = pct(part.covered, part.total);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** coverage.py: totals.{covered_lines,num_statements,covered_branches,num_branches}. Its
 *  "lines" are statements, so both names carry the same figure. */
export function coveragePyPcts(doc: unknown): CoveragePcts | string {
  if (!isObject(doc) || !isObject(doc.totals)) return 'has no "totals" object (not a coverage.py JSON report?)';
  const t = doc.totals;
  const out: CoveragePcts = {};
  const lines = pct(t.covered_lines, t.num_statements);
  if (lines !== undefined) out.lines = out.statements = lines;
  const branches = pct(t.covered_branches, t.num_branches);
  if (branches !== undefined) out.branches = branches;
  return out;
}

/** lcov: sums of LF/LH, BRF/BRH, FNF/FNH over all records (DA/BRDA/FNDA lines when a record lacks them). */
export function lcovPcts(text: string): CoveragePcts | string {
  const sum = { LF: 0, LH: 0, BRF: 0, BRH: 0, FNF: 0, FNH: 0 };
  let rec = { ...sum };
  let counted = { DA: 0, DAhit: 0, BRDA: 0, BRDAhit: 0, FNDA: 0, FNDAhit: 0 };
  let records = 0;
  /** The source file of a record not yet ended: one left open at the end means the file was cut short. */
  let open = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const colon = line.indexOf(':');
    const key = colon > 0 ? line.slice(0, colon) : line;
    const val = colon > 0 ? line.slice(colon + 1) : '';
    if (key === 'SF') open = val || '?';
    if (key in sum) {
      // A count past 2^53 is not exact; past 1.8e308 it reads as Infinity and the percentage as 0.
      if (!/^\s*\d+\s*$/.test(val) || !Number.isSafeInteger(Number(val))) return `has an unreadable ${key} line ${JSON.stringify(line.slice(0, 40))}`;
      rec[key as keyof typeof sum] = Number(val);
    } else if (key === 'DA') {
      counted.DA++;
      if (Number(val.split(',')[1]) > 0) counted.DAhit++;
    } else if (key === 'BRDA') {
      counted.BRDA++;
      const taken = val.split(',')[3];
      if (taken !== undefined && taken !== '-' && Number(taken) > 0) counted.BRDAhit++;
    } else if (key === 'FNDA') {
      counted.FNDA++;
      if (Number(val.split(',')[0]) > 0) counted.FNDAhit++;
    } else if (key === 'end_of_record') {
      records++;
      open = '';
      // Summary lines win; per-item lines stand in when a writer omits them.
      sum.LF += rec.LF || counted.DA;
      sum.LH += rec.LF ? rec.LH : counted.DAhit;
      sum.BRF += rec.BRF || counted.BRDA;
      sum.BRH += rec.BRF ? rec.BRH : counted.BRDAhit;
      sum.FNF += rec.FNF || counted.FNDA;
      sum.FNH += rec.FNF ? rec.FNH : counted.FNDAhit;
      rec = { LF: 0, LH: 0, BRF: 0, BRH: 0, FNF: 0, FNH: 0 };
      counted = { DA: 0, DAhit: 0, BRDA: 0, BRDAhit: 0, FNDA: 0, FNDAhit: 0 };
    }
  }
  if (open) return `ends inside the record of ${JSON.stringify(open.slice(-60))} (no end_of_record: cut short?)`;
  if (records === 0) return 'has no lcov records (end_of_record)';
  const out: CoveragePcts = {};
  const lines = pct(sum.LH, sum.LF);
  if (lines !== undefined) out.lines = lines;
  const branches = pct(sum.BRH, sum.BRF);
  if (branches !== undefined) out.branches = branches;
  const functions = pct(sum.FNH, sum.FNF);
  if (functions !== undefined) out.functions = functions;
  return out;
}

/** The format of a summary file, from its name and first characters. */
export function detectFormat(file: string, text: string): 'istanbul' | 'coverage.py' | 'lcov' {
  const head = text.trimStart();
  if (!head.startsWith('{')) return 'lcov';
  if (/"totals"\s*:/.test(text) && /"meta"\s*:/.test(text)) return 'coverage.py';
  if (/\.info$/.test(file)) return 'lcov';
  return 'istanbul';
}

export function coveragePcts(format: 'istanbul' | 'coverage.py' | 'lcov', text: string): CoveragePcts | string {
  if (format === 'lcov') return lcovPcts(text);
  let doc: unknown;
  try {
    doc = parseJsonLenient(text);
  } catch (e) {
    return `is not valid JSON (${clip((e as Error).message, 80)})`;
  }
  try {
    return format === 'istanbul' ? istanbulPcts(doc) : coveragePyPcts(doc);
  } catch (e) {
    if (e instanceof OutOfRange) return `has a count out of range: ${e.message}`;
    throw e;
  }
}

export function coverageSource(spec: CoverageSourceSpec): MetricSource {
  const p = spec.prefix ?? '';
  return resultFileSource('coverage', spec.file, (text, label) => {
    const format = spec.format === 'auto' ? detectFormat(spec.file, text) : spec.format;
    const pcts = coveragePcts(format, text);
    if (typeof pcts === 'string') return fail(`${label}: ${pcts}`);
    const found = new Map<string, number[]>();
    for (const k of ['lines', 'branches', 'functions', 'statements'] as const) {
      const v = pcts[k];
      if (v !== undefined) found.set(`${p}${k}_pct`, [v]);
    }
    if (found.size === 0) return fail(`${label}: the ${format} summary measured nothing (0 lines, branches and functions)`);
    return reading(found, []);
  });
}
