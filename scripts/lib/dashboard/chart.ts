// The terminal chart of the primary metric: braille dots (2×4 per cell) for the
// runs, the best-so-far as a braille step line, kept runs as ● (visible with
// or without colour), failures marked on the x axis. Cost is O(columns × rows)
// whatever the number of runs: the model is already downsampled.
import { fmt } from '../summary.ts';
import type { ChartBucket, ChartModel } from './model.ts';
import { padCells, seg, visibleWidth, type Line, type Seg, type Style } from './text.ts';

/** A log scale when the values span more than this factor (a loop that won 100× squashes a linear chart). */
const LOG_SPAN = 20;

/** An axis label: three significant digits are enough to read a chart. */
export function tickLabel(v: number): string {
  return fmt(Number(v.toPrecision(3)));
}

export interface Scale {
  log: boolean;
  lo: number;
  hi: number;
  /** 0 (bottom) … 1 (top). */
  pos(v: number): number;
  /** The value at a position. */
  at(p: number): number;
}

export function chartScale(min: number, max: number): Scale {
  const log = min > 0 && max / min >= LOG_SPAN;
  let lo = min;
  let hi = max;
  if (!log && hi === lo) {
    const pad = Math.abs(lo) * 0.05 || 1;
    // Within the doubles: every run at ±1.79e308 padded to Infinity.
    lo = Math.max(lo - pad, -Number.MAX_VALUE);
    hi = Math.min(hi + pad, Number.MAX_VALUE);
  }
  if (log) {
    const a = Math.log10(lo);
    const b = Math.log10(hi);
    return { log, lo, hi, pos: (v) => (Math.log10(v) - a) / (b - a), at: (p) => 10 ** (a + p * (b - a)) };
  }
  // A span past the largest double (values near ±1.8e308 on both sides) overflows to Infinity, and every
  // position became NaN (an SVG attribute Chromium reports as an error, a chart with nothing on it): halved,
  // the arithmetic stays finite.
  const h = Number.isFinite(hi - lo) ? 1 : 0.5;
  const span = hi * h - lo * h;
  return { log, lo, hi, pos: (v) => (v * h - lo * h) / span, at: (p) => (lo * h + p * span) / h };
}

// Braille dot bits by [column][row] inside a cell.
const BITS: readonly (readonly number[])[] = [
  [0x01, 0x02, 0x04, 0x40],
  [0x08, 0x10, 0x20, 0x80],
];

export interface ChartOptions {
  width: number;
  rows: number;
}

/** Columns of braille dots a chart of this width has (what the model should be downsampled to). */
export function chartDotColumns(width: number, labelWidth = 8): number {
  return Math.max(2, (width - labelWidth - 2) * 2);
}

function failMark(b: ChartBucket): Seg | null {
  if (!b.fail) return null;
  if (b.fail.verdict === 'crash' || b.fail.verdict === 'timeout') return seg('x', 'red');
  return seg('!', 'yellow');
}

/** The chart as lines, each at most `width` cells. */
/** The braille canvas: dots per cell, which cells carry the best line, keeps and failures. */
interface Canvas {
  rows: number;
  cols: number;
  mask: number[][];
  line: boolean[][];
  keep: boolean[][];
  fails: (Seg | null)[];
}

function canvas(rows: number, cols: number): Canvas {
  const grid = <T>(v: T) => Array.from({ length: rows }, () => new Array<T>(cols).fill(v));
  return { rows, cols, mask: grid(0), line: grid(false), keep: grid(false), fails: new Array<Seg | null>(cols).fill(null) };
}

function dot(cv: Canvas, x: number, y: number, isLine: boolean): void {
  const c = x >> 1;
  const r = y >> 2;
  const m = cv.mask[r];
  if (!m || c >= cv.cols) return;
  m[c] = (m[c] as number) | (BITS[x & 1]?.[y & 3] ?? 0);
  if (isLine) (cv.line[r] as boolean[])[c] = true;
}

/** Best-so-far line: forward-filled across every dot column, stepping at changes. */
function plotBest(cv: Canvas, chart: ChartModel, xOf: (j: number) => number, yOf: (v: number) => number): void {
  const B = chart.buckets.length;
  const dotCols = cv.cols * 2;
  let prevBestY: number | null = null;
  let j = 0;
  let current: number | null = null;
  for (let x = 0; x < dotCols; x++) {
    while (j < B && xOf(j) <= x) {
      current = (chart.buckets[j] as ChartBucket).best;
      j++;
    }
    if (current === null || j === 0) continue;
    if (x > xOf(B - 1)) break;
    const y = yOf(current);
    if (prevBestY !== null && prevBestY !== y) {
      const [a, b] = prevBestY < y ? [prevBestY, y] : [y, prevBestY];
      for (let k = a; k <= b; k++) dot(cv, x, k, true);
    }
    dot(cv, x, y, true);
    prevBestY = y;
  }
}

/** Each bucket's extremes, best keep and failure mark. */
function plotBuckets(cv: Canvas, chart: ChartModel, xOf: (j: number) => number, yOf: (v: number) => number): void {
  chart.buckets.forEach((b, i) => {
    const x = xOf(i);
    if (b.lo && b.hi && b.lo.primary !== null && b.hi.primary !== null) {
      // The extremes only, not the span between them: filled spans merge into a
      // solid band that hides the best line; two dots per column draw the envelope.
      dot(cv, x, yOf(b.hi.primary), false);
      dot(cv, x, yOf(b.lo.primary), false);
    }
    if (b.keep && b.keep.primary !== null) {
      const r = yOf(b.keep.primary) >> 2;
      const k = cv.keep[r];
      if (k && x >> 1 < cv.cols) k[x >> 1] = true;
    }
    const f = failMark(b);
    if (f && (x >> 1) < cv.cols) {
      const existing = cv.fails[x >> 1];
      if (!existing || (existing.text === '!' && f.text === 'x')) cv.fails[x >> 1] = f;
    }
  });
}

/** One text row of the canvas after its label, neighbouring cells of the same style merged into one segment. */
function canvasRow(cv: Canvas, r: number, l: Line): Line {
  let run: { text: string; style: Style[] } | null = null;
  const flush = () => {
    if (run) l.push(run.style.length ? { text: run.text, style: run.style } : { text: run.text });
    run = null;
  };
  for (let c = 0; c < cv.cols; c++) {
    let ch: string;
    let style: Style[];
    if ((cv.keep[r] as boolean[])[c]) {
      ch = '●';
      style = ['green', 'bold'];
    } else {
      const m = (cv.mask[r] as number[])[c] as number;
      ch = m ? String.fromCodePoint(0x2800 + m) : ' ';
      style = m && (cv.line[r] as boolean[])[c] ? ['cyan'] : [];
    }
    const cur = run as { text: string; style: Style[] } | null;
    if (cur && cur.style.join() === style.join()) cur.text += ch;
    else {
      flush();
      run = { text: ch, style };
    }
  }
  flush();
  return l;
}

/** The x axis (failure marks on it) and its labels: first run, count, last run. */
function xAxis(cv: Canvas, chart: ChartModel, lw: number, log: boolean): Line[] {
  const axis: Line = [seg(' '.repeat(lw), 'dim'), seg(' └', 'dim')];
  for (let c = 0; c < cv.cols; c++) axis.push(cv.fails[c] ?? seg('─', 'dim'));
  const left = chart.first_run ?? '';
  const right = chart.last_run ?? '';
  const runs = `${chart.runs} run${chart.runs === 1 ? '' : 's'}`;
  const middle = chart.per_bucket > 1 ? `${runs}, ${chart.per_bucket} per column${log ? ', log scale' : ''}` : `${runs}${log ? ', log scale' : ''}`;
  const gap = cv.cols - visibleWidth(left) - visibleWidth(right);
  let xl = '';
  if (gap >= visibleWidth(middle) + 2) {
    const pre = Math.floor((gap - visibleWidth(middle)) / 2);
    xl = left + ' '.repeat(pre) + middle + ' '.repeat(gap - pre - visibleWidth(middle)) + right;
  } else if (gap >= 1) xl = left + ' '.repeat(gap) + right;
  else xl = left;
  return [axis, [seg(' '.repeat(lw + 2)), seg(xl, 'dim')]];
}

export function renderChart(chart: ChartModel, o: ChartOptions): Line[] {
  if (chart.runs === 0) return [[seg('  no runs in this segment yet: the chart appears with the first logged run', 'dim')]];
  const rows = Math.max(2, o.rows);
  const hasValues = chart.min !== null && chart.max !== null;
  const scale = chartScale(chart.min ?? 0, chart.max ?? 1);
  const mid = Math.floor((rows - 1) / 2);
  // The middle label is the value at its row's centre (dots 4·mid+1.5 of 0…4·rows-1): at(0.5) lies on a
  // row boundary when the rows are even, and a lone run sat a row below the label giving its own value.
  const midAt = 1 - (4 * mid + 1.5) / (rows * 4 - 1);
  // No measured value (every run crashed or was invalid): no numbers on the axis, they would be invented.
  const labels = hasValues ? [tickLabel(scale.hi), tickLabel(scale.at(midAt)), tickLabel(scale.lo)] : ['', '', ''];
  const lw = Math.max(...labels.map(visibleWidth));
  const cv = canvas(rows, Math.max(4, o.width - lw - 2));
  const dotCols = cv.cols * 2;
  const dotRows = rows * 4;
  const yOf = (v: number) => Math.min(dotRows - 1, Math.max(0, Math.round((1 - scale.pos(v)) * (dotRows - 1))));
  const B = chart.buckets.length;
  // Few runs spread over the whole width; many runs map several buckets to a column.
  const xOf = (j: number) => (B <= dotCols ? (B === 1 ? 0 : Math.round((j * (dotCols - 1)) / (B - 1))) : Math.floor((j * dotCols) / B));
  if (hasValues) plotBest(cv, chart, xOf, yOf);
  plotBuckets(cv, chart, xOf, yOf);
  const out: Line[] = [];
  for (let r = 0; r < rows; r++) {
    const label = r === 0 ? labels[0] : r === rows - 1 ? labels[2] : r === mid && rows >= 5 ? labels[1] : '';
    out.push(canvasRow(cv, r, [seg(padCells(label ?? '', lw, 'right'), 'dim'), seg(label ? ' ┤' : ' │', 'dim')]));
  }
  out.push(...xAxis(cv, chart, lw, scale.log));
  return out;
}

/** One line explaining the marks. */
export function chartLegend(): Line {
  return [
    seg('  '),
    seg('●', 'green', 'bold'),
    seg(' keep  '),
    seg('⠒⠒', 'cyan'),
    seg(' best so far  '),
    seg('⠂'),
    seg(' run  '),
    seg('x', 'red'),
    seg(' crash/timeout  '),
    seg('!', 'yellow'),
    seg(' checks failed/invalid'),
  ];
}
