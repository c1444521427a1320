// Number formats shared by every output (no imports: the status line bundles it alone).

/**
 * A metric value as every surface prints it: integers whole; under 1, 4
 * significant digits as C's %.4g has them (0.001235, 0.0001235, then in
 * scientific notation under 1e-4: 1.235e-5, 4.2e-7), where 4 decimals made
 * 0.00123456 read 0.0012; otherwise at most 4 decimals. No padded zeros.
 */
export function fmt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const a = Math.abs(n);
  if (Number.isInteger(n) && a < 1e15) return String(n);
  if (a >= 1e15 || a < 1e-4) return Number(n.toPrecision(4)).toExponential();
  if (a < 1) return String(Number(n.toPrecision(4)));
  // Every integer digit, as integers get: 4 significant digits made 1500000.5 → 1499999.5 read "1.500e+6 → 1.500e+6".
  if (a >= 1e6) return String(Number(n.toFixed(2)));
  return String(Number(n.toFixed(4)));
}

/**
 * Figures read side by side (best and baseline, a value and its limit): as
 * fmt prints them, except those that fmt prints like a different value
 * (1.00012 and 1.00014 both "1.0001"): those get the fewest significant
 * digits that tell every one of them apart. The engine decides between these
 * values; the reader must see why, and no line grows when nothing collides.
 */
type Figure = number | null | undefined;
export function fmtApart(a: Figure, b: Figure): [string, string];
export function fmtApart(a: Figure, b: Figure, c: Figure): [string, string, string];
export function fmtApart(...values: Figure[]): string[] {
  const out = values.map(fmt);
  const clash = values.map((v, i) => typeof v === 'number' && Number.isFinite(v) && values.some((w, j) => j !== i && w !== v && out[j] === out[i]));
  if (!clash.includes(true)) return out;
  const nums = values.filter((_v, i) => clash[i] === true) as number[];
  let p = 5;
  while (p < 17 && new Set(nums.map((n) => atPrecision(n, p))).size < new Set(nums).size) p++;
  return values.map((v, i) => (clash[i] ? atPrecision(v as number, p) : (out[i] as string)));
}

/** fmt's forms with `p` significant digits. */
function atPrecision(n: number, p: number): string {
  const r = Number(n.toPrecision(p));
  const a = Math.abs(r);
  return a >= 1e15 || (a < 1e-4 && a !== 0) ? r.toExponential() : String(r);
}

/**
 * `s` in at most `n` UTF-16 units, ending with … when cut; never between the two
 * halves of a surrogate pair (an emoji cut in two printed as U+FFFD).
 */
export function cut(s: string, n: number): string {
  if (s.length <= n) return s;
  let end = Math.max(0, n - 1);
  if (end > 0 && isHigh(s.charCodeAt(end - 1))) end--;
  return s.slice(0, end) + '…';
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/** A ratio such as the confidence: one decimal, and 3 significant digits once it is huge (toFixed gave "3.3333333333333335e+299"). */
export function ratio(x: number): string {
  return Math.abs(x) < 1e6 ? x.toFixed(1) : fmt(Number(x.toPrecision(3)));
}

export function pct(p: number | null): string {
  if (p === null || !Number.isFinite(p)) return '-';
  // A real change under 0.05% is not "+0.0%" (that reads as none): two significant digits, as the report gives.
  if (p !== 0 && Math.abs(p) < 0.05) return `${p > 0 ? '+' : '-'}${Number(Math.abs(p).toPrecision(2))}%`;
  return `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`;
}

/** The change of best vs baseline in %; a baseline of 0 has none, said in words ("-" reads as a minus sign). */
export function gainText(p: number | null, baseline: number | null): string {
  return p === null && baseline === 0 ? NO_PCT : pct(p);
}

export const NO_PCT = 'no % from a baseline of 0';

/** Keys whose values are ratios read at a glance: one decimal. */
const ONE_DECIMAL = /(^|_)(pct|confidence)$/;
/** Durations in seconds: three significant digits. */
const SECONDS = /(^|_)s$/;

/**
 * A JSON value as the model reads it: every non-integer number cut to the
 * digits that mean something (ratios and percentages to one decimal, other
 * figures to 6 significant digits or every integer digit), so that
 * `confidence: 3.8947368421052633` reaches the model as 3.9; a run's value, the
 * best and the baseline that would round alike keep the digits that separate
 * them. Integers, strings and shapes are unchanged.
 */
export function roundForModel(value: unknown, key = ''): unknown {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Number.isInteger(value)) return value;
    if (ONE_DECIMAL.test(key)) return Math.round(value * 10) / 10;
    if (SECONDS.test(key)) return Number(value.toPrecision(3));
    // Every integer digit, as fmt keeps them: 6 significant digits read 1234567.5 as 1234570.
    return Number(value.toPrecision(Math.min(21, Math.max(6, integerDigits(value)))));
  }
  if (Array.isArray(value)) return value.map((v) => roundForModel(v, key));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = roundForModel(v, k);
    keepApart(value as Record<string, unknown>, out);
    return out;
  }
  return value;
}

function integerDigits(n: number): number {
  const a = Math.abs(n);
  return a < 1 ? 0 : Math.floor(Math.log10(a)) + 1;
}

/** The figures a verdict compares (a run's value, the best, the baseline). */
const DECIDED = ['primary', 'best', 'baseline'] as const;

/**
 * Rounded alike while the engine told them apart (1.000012 and 1.000014 both
 * 1.00001): those figures get the fewest extra digits that separate them.
 */
function keepApart(raw: Record<string, unknown>, out: Record<string, unknown>): void {
  const keys = DECIDED.filter((k) => typeof raw[k] === 'number' && Number.isFinite(raw[k]));
  const clash = keys.filter((k) => keys.some((j) => j !== k && raw[j] !== raw[k] && out[j] === out[k]));
  if (!clash.length) return;
  const vals = clash.map((k) => raw[k] as number);
  let p = 7;
  while (p < 17 && new Set(vals.map((v) => Number(v.toPrecision(p)))).size < new Set(vals).size) p++;
  for (const k of clash) out[k] = Number((raw[k] as number).toPrecision(p));
}
