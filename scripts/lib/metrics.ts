// `METRIC name=value` lines, as benchmarks print them. A line that starts with
// the METRIC keyword was meant for us, so anything wrong with it becomes a
// warning (the run log shows it) instead of being silently dropped; any other
// line is ordinary output and returns null.
import { METRIC_NAME, METRIC_NAME_RULE } from './patterns.ts';

/** A warning names the metric when the line had a valid name but no readable value. */
export type MetricLineResult = { name: string; value: number } | { warning: string; name?: string };

// Names that would reach Object.prototype if a caller ever indexed a plain
// object with them. Refused outright rather than trusted to every consumer.
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

const KEYWORD = /^METRIC(?:\s|$)/;
const SHAPE = /^METRIC\s+([^\s=]+)\s*=\s*(\S+)$/;
const TRAILING = /^METRIC\s+[^\s=]+\s*=\s*\S+\s+\S/;
// Plain decimal with optional sign, fraction and exponent: no hex, no
// underscores, no empty string (Number('') is 0), no 'Infinity'.
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

// A colour or style code (ANSI CSI: ESC [ parameters final byte), as a
// coloured logger or FORCE_COLOR prints around a line. A terminal shows none,
// so `\x1b[32mMETRIC loss=\x1b[1m0.5\x1b[0m` reads as `METRIC loss=0.5`.
const CSI = /\x1b\[[\x20-\x3f]*[\x40-\x7e]/g;
const NAME_BEFORE_EQUALS = /^METRIC\s+([^\s=]+)\s*=/;

/** A line of output without its colour codes, as a terminal shows it. */
export function withoutColour(line: string): string {
  return line.includes('\x1b') ? line.replace(CSI, '') : line;
}

/** The line as a terminal shows it, without colour codes and surrounding whitespace. */
export function metricLineText(line: string): string {
  return withoutColour(line).trim();
}

/** The valid, non-reserved metric name a METRIC line gives before its `=`, if any. */
export function metricLineName(line: string): string | undefined {
  const name = NAME_BEFORE_EQUALS.exec(metricLineText(line))?.[1];
  return name !== undefined && !FORBIDDEN.has(name) && METRIC_NAME.test(name) ? name : undefined;
}

/** A decimal with a non-zero digit in its mantissa that reads as 0 (1e-400): not what was printed. */
function underflows(raw: string, value: number): boolean {
  return value === 0 && /[1-9]/.test(raw.split(/[eE]/)[0] as string);
}

/** "12.5ms", "98%": a number with its unit glued on, the commonest slip; the fix, said where it shows. */
function unitHint(raw: string): string {
  const m = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?([A-Za-zµ%/]{1,8})$/.exec(raw);
  return m ? ` (print the number alone: the unit ${JSON.stringify(m[1])} goes in --unit at init)` : '';
}

/**
 * "3,5": a decimal comma (a tool following a de_DE or fr_FR locale) or a thousands separator. Never read as
 * either number; the hint says how to get a plain one, the benchmark's environment being fixed at init.
 */
function commaHint(raw: string): string {
  return /^[+-]?\d+(?:,\d+)+$/.test(raw)
    ? ' (a decimal comma or a thousands separator: print the number plainly with a dot; a program following the locale does under LC_NUMERIC=C with LC_ALL unset, set before init-experiment, which fixes the benchmark\'s environment)'
    : '';
}

function quote(line: string): string {
  const s = line.trim();
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 117)}...` : s);
}

export function parseMetricLine(line: string): MetricLineResult | null {
  const s = metricLineText(line);
  if (!KEYWORD.test(s)) return null;
  const m = SHAPE.exec(s);
  if (!m) {
    // "METRIC ms=12 ms", "METRIC ms=12 # warm": the value must end the line.
    if (!TRAILING.test(s)) return { warning: `ignored METRIC line ${quote(line)}: expected METRIC name=value` };
    const warning = `ignored METRIC line ${quote(line)}: the value must be a plain number ending the line (no unit, no comment)`;
    const name = metricLineName(s);
    return name !== undefined ? { name, warning } : { warning };
  }
  const name = m[1] as string;
  const raw = m[2] as string;
  if (FORBIDDEN.has(name)) return { warning: `ignored METRIC line ${quote(line)}: reserved name ${name}` };
  if (!METRIC_NAME.test(name)) return { warning: `ignored METRIC line ${quote(line)}: invalid name ${JSON.stringify(name)} (${METRIC_NAME_RULE})` };
  if (NON_FINITE.test(raw)) return { name, warning: `ignored METRIC line ${quote(line)}: non-finite value ${raw}` };
  if (!NUMBER.test(raw)) return { name, warning: `ignored METRIC line ${quote(line)}: not a number: ${JSON.stringify(raw)}${unitHint(raw)}${commaHint(raw)}` };
  const value = Number(raw);
  // e.g. 1e999 parses to Infinity.
  if (!Number.isFinite(value)) return { name, warning: `ignored METRIC line ${quote(line)}: non-finite value ${raw}` };
  if (underflows(raw, value)) return { name, warning: `ignored METRIC line ${quote(line)}: ${raw} is too small to tell from 0` };
  return { name, value };
}

/**
 * Parse every METRIC line (with parseLine: the reader may know a line is
 * unreadable, as one cut for length); the last line of a name wins, and when that line is
 * unreadable the name has no value. The result is a
 * plain object built from a Map with only validated, non-reserved names as own
 * data properties, so it cannot pollute prototypes and serialises as JSON.
 */
export function parseMetrics(
  lines: Iterable<string>,
  parseLine: (line: string) => MetricLineResult | null = parseMetricLine,
): { metrics: Record<string, number>; warnings: string[] } {
  const found = new Map<string, number>();
  const warnings: string[] = [];
  for (const line of lines) {
    const r = parseLine(line);
    if (r === null) continue;
    if ('warning' in r) {
      warnings.push(r.warning);
      // The last line of a name counts: when it is unreadable (a training
      // ending in NaN), an earlier value is not the result.
      if (r.name !== undefined) found.delete(r.name);
    } else found.set(r.name, r.value);
  }
  return { metrics: Object.fromEntries(found), warnings };
}
