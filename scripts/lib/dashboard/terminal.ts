// The terminal view: the view model laid out for a given width (and, in
// --watch, height). Every line is built as segments and clipped to the width,
// so nothing wraps whatever the descriptions contain.
import type { Verdict } from '../schema.ts';
import { fmt, fmtApart } from '../summary.ts';
import { ratio } from '../format.ts';
import { formatDuration } from '../termination.ts';
import { formatSignedPct, SIGN_LEGEND } from '../signs.ts';
import type { RunPoint, ViewModel } from './model.ts';
import { VERDICTS } from './model.ts';
import { chartLegend, renderChart } from './chart.ts';
import { clipCells, flowLine, lineWidth, padCells, renderLine, seg, visibleWidth, type Line, type Style } from './text.ts';

export interface TerminalOptions {
  width: number;
  /** Terminal rows: the frame is fitted to them (--watch); absent, a fixed layout. */
  height?: number;
  color: boolean;
}

export const VERDICT_STYLE: Record<Verdict, Style[]> = {
  keep: ['green', 'bold'],
  discard: ['gray'],
  crash: ['red'],
  timeout: ['red'],
  checks_failed: ['yellow'],
  invalid: ['magenta'],
};

const HEALTH_STYLE: Record<string, Style[]> = {
  improving: ['green'],
  running: ['blue'],
  plateaued: ['yellow'],
  crashing: ['red'],
  healing: ['magenta'],
  paused: ['yellow', 'bold'],
  completed: ['cyan'],
};

const LOOP_STYLE: Record<string, Style[]> = { active: ['green'], paused: ['yellow'], stopped: ['yellow'], terminated: ['magenta'], cleared: ['yellow'] };

const LABEL = 11;
/** Under this width the labels are not padded into a column (it would take half the line) and the sign legend is left out. */
const NARROW = 40;
const padded = (s: string) => seg(padCells(s, LABEL), 'dim');
const tight = (s: string) => seg(s ? `${s} ` : '', 'dim');

function bar(done: number, total: number, cells: number): string {
  const f = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const n = Math.round(f * cells);
  return '█'.repeat(n) + '░'.repeat(cells - n);
}

/** Word-wrap plain text into at most `max` lines of `width` cells (the last one clipped). */
function wrap(text: string, width: number, max: number): string[] {
  const out: string[] = [];
  let cur = '';
  const words = text.split(' ');
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    const next = cur ? `${cur} ${w}` : w;
    if (visibleWidth(next) <= width || !cur) cur = next;
    else {
      out.push(cur);
      cur = w;
      if (out.length === max - 1) {
        cur = words.slice(i).join(' ');
        break;
      }
    }
  }
  if (cur) out.push(cur);
  return out.slice(0, max).map((l) => clipCells(l, width));
}

function headerLines(m: ViewModel, width: number): Line[] {
  const narrow = width < NARROW;
  const label = narrow ? tight : padded;
  const unit = m.unit ? ` ${m.unit}` : '';
  const lines: Line[] = [];
  const head: Line = [seg('autoloop ', 'bold'), seg(m.experiment, 'bold', 'cyan'), seg(` · segment ${m.segment} · `), seg(m.loop, ...(LOOP_STYLE[m.loop] ?? []))];
  if (m.budget.terminated && m.budget.by) head.push(seg(` (${m.budget.by})`, 'magenta'));
  if (m.earlier_runs) head.push(seg(` · ${m.earlier_runs} run${m.earlier_runs === 1 ? '' : 's'} in earlier segments`, 'dim'));
  lines.push(head);
  if (m.goal) lines.push([label('goal'), seg(m.goal)]);
  const metric: Line = [label('metric'), seg(m.metric, 'bold'), seg(` (${m.direction} is better${m.unit ? `, ${m.unit}` : ''})`)];
  // The sign legend where it fits whole on the line (cut, it said nothing; on a line of its own, it crowds a small terminal).
  const legend = seg(`  ${SIGN_LEGEND}`, 'dim');
  lines.push(lineWidth([...metric, legend]) <= width ? [...metric, legend] : metric);

  if (m.best.value === null) lines.push([label('best'), seg('no baseline yet', 'dim')]);
  else {
    const gain = m.gain_pct;
    const good = gain !== null && gain > 0;
    const [bestText, baselineText] = fmtApart(m.best.value, m.baseline.value);
    const best: Line = [label('best'), seg(`${bestText}${unit}`, 'bold')];
    if (gain !== null) best.push(seg(' '), seg(formatSignedPct(gain), ...(good ? (['green', 'bold'] as Style[]) : gain < 0 ? (['red'] as Style[]) : [])));
    best.push(seg(` vs baseline ${baselineText}${unit}`));
    const where = [m.best.run, m.best.commit ? m.best.commit.slice(0, 7) : null].filter(Boolean).join(' ');
    if (where) best.push(seg(`  ${where}`, 'dim'));
    lines.push(best);
  }
  const c = m.confidence;
  const cStyle: Style[] = c.label === 'high' ? ['green'] : c.label === 'marginal' ? ['yellow'] : c.label ? ['red'] : ['dim'];
  lines.push([label('confidence'), c.value === null ? seg('n/a (needs 3 valid runs and a spread)', 'dim') : seg(`${ratio(c.value)}× ${c.label}`, ...cStyle)]);

  lines.push([label('health'), seg(m.health.state, 'bold', ...(HEALTH_STYLE[m.health.state] ?? [])), seg(` — ${m.health.reason}`)]);
  m.now.forEach((t, i) => lines.push([label(i === 0 ? 'now' : ''), seg(t, 'bold')]));
  for (const g of m.guardrails) {
    const gs: Style[] = g.status === 'ok' ? ['green'] : g.status === 'near' ? ['yellow'] : g.status === 'unmeasured' ? ['dim'] : ['red'];
    const [value, reference, allowed] = fmtApart(g.value, g.reference, g.allowed);
    lines.push([label('guardrail'), seg(`${g.metric} ${value}`), seg(` (baseline ${reference}, allowed ${allowed}) `, 'dim'), seg(g.status, ...gs)]);
  }
  // Narrow: one line, broken at spaces with the rest of the header (renderTerminal).
  const next = narrow ? [m.health.next_action] : wrap(m.health.next_action, Math.max(10, width - LABEL), 2);
  next.forEach((t, i) => lines.push([label(i === 0 ? 'next' : ''), seg(t)]));

  const b = m.budget;
  const budget: Line = [label('budget'), seg(`runs ${b.progress.runs}`)];
  if (b.max_runs !== null && width >= 70) budget.push(seg(' '), seg(bar(b.runs, b.max_runs, 10), 'cyan'));
  if (b.progress.plateau) budget.push(seg(` · plateau ${b.progress.plateau}`, ...(b.plateau !== null && b.since_improvement >= b.plateau * 0.75 ? (['yellow'] as Style[]) : [])));
  if (b.progress.target) budget.push(seg(` · target ${b.progress.target}`));
  budget.push(seg(` · time ${b.progress.wall_clock ?? formatDuration(b.elapsed_s)}`));
  lines.push(budget);
  if (m.relaunch) lines.push([label('supervisor'), seg(m.relaunch)]);

  const counts: Line = [label('verdicts')];
  let first = true;
  for (const v of VERDICTS) {
    const n = m.counts[v];
    if (!n && v !== 'keep' && v !== 'discard') continue;
    counts.push(seg(first ? '' : ' · '), seg(`${n} ${v}`, ...(n ? VERDICT_STYLE[v] : (['dim'] as Style[]))));
    first = false;
  }
  lines.push(counts);
  if (b.terminated) lines.push([label('ended'), seg(b.message, 'magenta')]);
  return lines;
}

interface Column {
  title: string;
  width: number;
  align: 'left' | 'right';
  cell: (r: RunPoint) => { text: string; style: Style[] };
}

function rawDelta(m: ViewModel, r: RunPoint): number | null {
  // The ledger's delta is "improvement, positive = better": shown as it is (SIGN_LEGEND).
  void m;
  return r.delta;
}

function signed(n: number, cells = Infinity): string {
  const sign = n > 0 ? '+' : '';
  return sign + fitNumber(n, cells - sign.length);
}

/**
 * A number in at most `cells` characters: as fmt prints it when it fits, else
 * rounded to the most significant digits that fit. A table cell never cuts a
 * number short ("1.2…" of 1.235e-4 read as 1.2).
 */
export function fitNumber(n: number | null, cells: number): string {
  const full = fmt(n);
  if (n === null || full.length <= cells) return full;
  for (let p = 6; p >= 1; p--) {
    const r = Number(n.toPrecision(p));
    const plain = String(r);
    const text = Math.abs(r) >= 1e-3 && Math.abs(r) < 1e15 && !plain.includes('e') ? plain : r.toExponential();
    if (text.length <= cells) return text;
  }
  return full; // narrower than any form of it: clipped where it is drawn
}

/** A run's verdict in one cell, as the chart's legend draws it: the table's narrowest form. */
const VERDICT_MARK: Record<Verdict, string> = { keep: '●', discard: ' ', crash: 'x', timeout: 'x', checks_failed: '!', invalid: '!' };

/** Runs the table lists when the frame is not fitted to a height (a one-shot view). */
export const TABLE_ROWS = 10;

/** Table of the last runs; columns drop (delta, then description) as the width shrinks. */
export function tableLines(m: ViewModel, width: number, count: number): Line[] {
  const rows = m.rows.slice(-Math.max(0, count));
  if (!rows.length) return [[seg('  no runs yet', 'dim')]];
  const runW = Math.max(3, ...rows.map((r) => r.run_id.length));
  const metricW = Math.min(12, Math.max(m.metric.length, ...rows.map((r) => fmt(r.primary).length)));
  const deltaW = Math.min(10, Math.max(1, ...rows.map((r) => { const d = rawDelta(m, r); return d === null ? 1 : signed(d).length; })));
  const metric: Column = { title: m.metric, width: metricW, align: 'right', cell: (r) => ({ text: fitNumber(r.primary, metric.width), style: r.verdict === 'keep' ? ['bold'] : [] }) };
  const cols: Column[] = [
    { title: 'run', width: runW, align: 'left', cell: (r) => ({ text: r.run_id, style: ['dim'] }) },
    { title: 'verdict', width: 13, align: 'left', cell: (r) => ({ text: r.rebaseline ? 'rebaseline' : r.verdict, style: VERDICT_STYLE[r.verdict] }) },
    metric,
    {
      title: 'Δ',
      width: deltaW,
      align: 'right',
      cell: (r) => {
        const d = rawDelta(m, r);
        if (d === null || r.delta === null) return { text: '-', style: ['dim'] };
        return { text: signed(d, deltaW), style: r.delta > 0 ? ['green'] : ['gray'] };
      },
    },
  ];
  const fixed = () => cols.reduce((a, c) => a + c.width + 1, 2);
  // Narrow terminals: shorten the verdict, then give up the delta, then the description;
  // then the verdict column (its mark stays in front of the run), then narrow the metric (rounded to fit).
  if (width - fixed() < 16) (cols[1] as Column).width = 7;
  if (width - fixed() < 16) cols.splice(3, 1);
  const descW = width - fixed();
  const withDesc = descW >= 8;
  const marks = !withDesc && fixed() > width;
  if (marks) {
    cols.splice(1, 1);
    metric.width = Math.max(1, Math.min(metric.width, width - (fixed() - metric.width)));
  }

  const out: Line[] = [];
  const head: Line = [seg('  ')];
  for (const c of cols) head.push(seg(padCells(c.title, c.width, c.align) + ' ', 'dim', 'bold'));
  if (withDesc) head.push(seg('description', 'dim', 'bold'));
  out.push(head);
  for (const r of rows) {
    const l: Line = marks
      ? [seg(`${VERDICT_MARK[r.verdict]} `, ...VERDICT_STYLE[r.verdict])]
      : [seg(r.verdict === 'keep' ? '● ' : '  ', 'green')];
    for (const c of cols) {
      const v = c.cell(r);
      l.push(seg(padCells(v.text, c.width, c.align), ...v.style), seg(' '));
    }
    if (withDesc) l.push(seg(clipCells(r.description || r.reason, descW)));
    out.push(l);
  }
  return out;
}

/** Below this width there is no room for the chart and the table. */
const MIN_FULL = 20;

/** A terminal narrower than MIN_FULL: the essentials, one per line (each clipped), as the status line has them. */
function compactLines(m: ViewModel, width: number, o: TerminalOptions): string[] {
  const unit = m.unit ? ` ${m.unit}` : '';
  const lines: Line[] = [
    [seg(m.experiment, 'bold', 'cyan')],
    [seg(m.loop, ...(LOOP_STYLE[m.loop] ?? []))],
    m.best.value === null ? [seg('no baseline yet', 'dim')] : [seg(`best ${fmt(m.best.value)}${unit}`, 'bold')],
  ];
  if (m.gain_pct !== null) lines.push([seg(formatSignedPct(m.gain_pct), ...(m.gain_pct > 0 ? (['green'] as Style[]) : []))]);
  lines.push([seg(`runs ${m.budget.progress.runs}`)], [seg(m.health.state, ...(HEALTH_STYLE[m.health.state] ?? []))]);
  const text = lines.map((l) => renderLine(l, width, o.color));
  return o.height !== undefined ? text.slice(0, Math.max(1, Math.floor(o.height))) : text;
}

/** The whole terminal frame as strings, each at most `width` cells. */
export function renderTerminal(m: ViewModel, o: TerminalOptions): string[] {
  const width = Math.max(1, Math.floor(o.width));
  if (width < MIN_FULL) return compactLines(m, width, o);
  // A header line too wide breaks at spaces (narrow: a small indent, so the continuation has room).
  const head = headerLines(m, width).flatMap((l) => flowLine(l, width, width >= NARROW ? LABEL : 2));
  const tail: Line[] = [];
  if (m.chain.length) {
    const chain: Line = [(width >= NARROW ? padded : tight)('chain')];
    m.chain.forEach((s, i) => {
      if (i) chain.push(seg(' → ', 'dim'));
      chain.push(s === m.experiment ? seg(s, 'bold', 'cyan') : seg(s));
    });
    tail.push(...flowLine(chain, width, width >= NARROW ? LABEL : 2));
  }
  if (m.warnings.length) tail.push([seg('warning: ', 'yellow'), seg(m.warnings[m.warnings.length - 1] ?? '')]);

  // Odd: the middle label's row is centred on the middle of the range (chart.ts).
  let chartRows = 11;
  let tableRows = TABLE_ROWS;
  if (o.height !== undefined) {
    // Fixed lines: header, two blank separators, chart axis + x labels + legend, table header, tail.
    const free = Math.floor(o.height) - head.length - 2 - 3 - 1 - tail.length;
    chartRows = Math.min(15, Math.max(3, Math.floor(free * 0.55)));
    chartRows -= 1 - (chartRows % 2);
    tableRows = Math.max(1, free - chartRows);
  }
  const lines: Line[] = [...head, []];
  lines.push(...renderChart(m.chart, { width, rows: chartRows }));
  if (m.chart.runs) lines.push(chartLegend());
  lines.push([]);
  lines.push(...tableLines(m, width, tableRows));
  lines.push(...tail);
  const text = lines.map((l) => renderLine(l, width, o.color));
  return o.height !== undefined ? text.slice(0, Math.max(1, Math.floor(o.height))) : text;
}
