// The shareable page: one self-contained HTML file (inline CSS and SVG, no
// script, no fonts, no images, nothing fetched), so it can be mailed, attached
// to an issue or opened from a CI artifact as it is. Every string that came
// from the ledger or the config is escaped: descriptions are written by a model.
import type { Verdict } from '../schema.ts';
import { fmt, fmtApart } from '../summary.ts';
import { formatDuration } from '../termination.ts';
import { formatSignedPct, SIGN_LEGEND } from '../signs.ts';
import { cut, NO_PCT, ratio } from '../format.ts';
import { chartScale, tickLabel } from './chart.ts';
import { KEEPS_CAP, VERDICTS, type ChartBucket, type RunMark, type ViewModel } from './model.ts';

/**
 * Columns the page's chart is downsampled to: about 5 px each in the 996 px
 * plot, just over a dense discard mark's width (3.8 px), so that a column's
 * marks do not hide its neighbours' (at 300, 3.3 px, they did). Every column
 * costs the index blocks its edges fall in and up to four marks with their
 * tooltips: the page is bounded by this, not by the runs.
 */
export const HTML_BUCKETS = 200;

/** The chart's colours: distinct per verdict, and the background the screenshot test looks for. */
export const CHART_COLORS = {
  background: '#fcfcf4',
  best: '#1d4ed8',
  keep: '#16a34a',
  discard: '#94a3b8',
  crash: '#dc2626',
  timeout: '#ea580c',
  checks_failed: '#ca8a04',
  invalid: '#9333ea',
  range: '#cbd5e1',
  grid: '#e7e5da',
} as const;

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

const W = 1100;
const H = 400;
const X0 = 84;
const X1 = 1080;
const Y0 = 18;
const Y1 = 318;
const STRIP = 342;

function n2(x: number): string {
  return String(Math.round(x * 10) / 10);
}

function title(m: ViewModel, r: RunMark): string {
  const unit = m.unit ? ` ${m.unit}` : '';
  const parts = [`${r.run_id} · ${r.rebaseline ? 'rebaseline' : r.verdict}`];
  if (r.primary !== null) parts[0] += ` · ${fmt(r.primary)}${unit}`;
  const lines = [parts[0] as string];
  if (r.description) lines.push(cut(r.description, 300));
  if (r.verdict !== 'keep' && r.reason) lines.push(`why: ${r.reason}`);
  if (r.commit) lines.push(`commit ${r.commit.slice(0, 12)}`);
  return esc(lines.join('\n'));
}

function marker(m: ViewModel, r: RunMark, x: number, y: number | null, dense: boolean): string {
  const t = `<title>${title(m, r)}</title>`;
  const c = CHART_COLORS;
  const yy = y ?? STRIP;
  const X = n2(x);
  const Y = n2(yy);
  // Dense (downsampled) charts draw smaller marks so that the best line stays visible between them.
  const k = dense ? 0.6 : 1;
  let shape: string;
  switch (r.verdict) {
    case 'keep':
      shape = `<circle cx="${X}" cy="${Y}" r="${n2(5.5 * (dense ? 0.8 : 1))}" fill="${c.keep}" stroke="#ffffff" stroke-width="1"/>`;
      break;
    case 'discard':
      // Painted by the stylesheet: discards are most of a chart's marks, and their paint was a fifth of a 100,000-run page.
      shape = `<circle cx="${X}" cy="${Y}" r="${n2(3.2 * k)}"/>`;
      break;
    case 'crash':
      shape = `<path d="M${n2(x - 4)} ${n2(yy - 4)}L${n2(x + 4)} ${n2(yy + 4)}M${n2(x - 4)} ${n2(yy + 4)}L${n2(x + 4)} ${n2(yy - 4)}" stroke="${c.crash}" stroke-width="2"/>`;
      break;
    case 'timeout':
      shape = `<path d="M${X} ${n2(yy - 5)}L${n2(x + 5)} ${n2(yy + 4)}L${n2(x - 5)} ${n2(yy + 4)}Z" fill="${c.timeout}"/>`;
      break;
    case 'checks_failed':
      shape = `<rect x="${n2(x - 3.5 * k)}" y="${n2(yy - 3.5 * k)}" width="${n2(7 * k)}" height="${n2(7 * k)}" fill="${c.checks_failed}"/>`;
      break;
    case 'invalid':
      shape = `<path d="M${X} ${n2(yy - 5)}L${n2(x + 5)} ${Y}L${X} ${n2(yy + 5)}L${n2(x - 5)} ${Y}Z" fill="${c.invalid}"/>`;
      break;
  }
  return `<g class="m m-${r.verdict}">${t}${shape}</g>`;
}

/** The chart's geometry: where a bucket and a value are drawn. */
interface Plot {
  B: number;
  hasValues: boolean;
  xOf: (j: number) => number;
  yOf: (v: number) => number;
}

/** Grid, y labels, the no-value strip and the x labels (a handful of run ids, and what a column holds). */
function svgAxes(m: ViewModel, p: Plot, scale: ReturnType<typeof chartScale>): string[] {
  const ch = m.chart;
  const c = CHART_COLORS;
  const parts: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const q = k / 4;
    const y = Y1 - q * (Y1 - Y0);
    parts.push(`<line x1="${X0}" x2="${X1}" y1="${n2(y)}" y2="${n2(y)}" stroke="${c.grid}" stroke-width="1"/>`);
    if (p.hasValues) parts.push(`<text x="${X0 - 8}" y="${n2(y + 4)}" text-anchor="end" class="tick">${esc(tickLabel(scale.at(q)))}</text>`);
  }
  parts.push(`<line x1="${X0}" x2="${X1}" y1="${STRIP}" y2="${STRIP}" stroke="${c.grid}" stroke-width="1" stroke-dasharray="3 3"/>`);
  parts.push(`<text x="${X0 - 8}" y="${STRIP + 4}" text-anchor="end" class="tick">no value</text>`);
  const ticks = Math.min(p.B, 8);
  for (let k = 0; k < ticks; k++) {
    const j = ticks === 1 ? 0 : Math.round((k * (p.B - 1)) / (ticks - 1));
    const b = ch.buckets[j] as ChartBucket;
    parts.push(`<text x="${n2(p.xOf(j))}" y="${H - 28}" text-anchor="middle" class="tick">${esc(b.first)}</text>`);
  }
  const axis = ch.per_bucket > 1 ? `runs of segment ${m.segment} (${ch.runs}; ${ch.per_bucket} per column: lowest, highest, best keep and first failure shown)` : `runs of segment ${m.segment} (${ch.runs})`;
  parts.push(`<text x="${(X0 + X1) / 2}" y="${H - 8}" text-anchor="middle" class="axis">${esc(axis + (scale.log ? ' · log scale' : ''))}</text>`);
  return parts;
}

/** Ranges of downsampled columns: a line from each column's lowest to its highest value. */
function svgRanges(m: ViewModel, p: Plot): string[] {
  if (m.chart.per_bucket <= 1 || !p.hasValues) return [];
  const d: string[] = [];
  m.chart.buckets.forEach((b, j) => {
    if (b.lo?.primary != null && b.hi?.primary != null && b.lo !== b.hi) d.push(`M${n2(p.xOf(j))} ${n2(p.yOf(b.hi.primary))}V${n2(p.yOf(b.lo.primary))}`);
  });
  return d.length ? [`<path d="${d.join('')}" stroke="${CHART_COLORS.range}" stroke-width="1.5" fill="none"/>`] : [];
}

/** Best so far: a step line ('' when there is none). */
function svgBest(m: ViewModel, p: Plot): string {
  if (!p.hasValues) return '';
  let d = '';
  let prev: number | null = null;
  m.chart.buckets.forEach((b, j) => {
    if (b.best === null) {
      prev = null;
      return;
    }
    const x = n2(p.xOf(j));
    const y = n2(p.yOf(b.best));
    if (prev === null) d += `M${x} ${y}`;
    else d += `H${x}V${y}`;
    prev = b.best;
  });
  if (p.B > 1 && d) d += `H${n2(p.xOf(p.B - 1))}`;
  return d ? `<path class="best" d="${d}" stroke="${CHART_COLORS.best}" stroke-width="3" fill="none" shape-rendering="crispEdges"/>` : '';
}

/** Markers by verdict: every run when they fit, otherwise each column's extremes, best keep and first failure. */
function svgMarkers(m: ViewModel, p: Plot): Record<Verdict, string[]> {
  const ch = m.chart;
  const layers: Record<Verdict, string[]> = { keep: [], discard: [], crash: [], timeout: [], checks_failed: [], invalid: [] };
  ch.buckets.forEach((b, j) => {
    const x = p.xOf(j);
    const seen = new Set<string>();
    for (const r of [b.lo, b.hi, b.fail, b.keep]) {
      if (!r || seen.has(r.run_id)) continue;
      seen.add(r.run_id);
      layers[r.verdict].push(marker(m, r, x, r.primary !== null && p.hasValues ? p.yOf(r.primary) : null, ch.per_bucket > 1));
    }
  });
  return layers;
}

function svgChart(m: ViewModel): string {
  const ch = m.chart;
  const parts: string[] = [];
  parts.push(`<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(`${m.metric} per run`)}">`);
  parts.push(`<rect class="bg" x="0" y="0" width="${W}" height="${H}" fill="${CHART_COLORS.background}"/>`);
  if (ch.runs === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="empty">No runs in this segment yet: the chart appears with the first logged run.</text></svg>`);
    return parts.join('');
  }
  const scale = chartScale(ch.min ?? 0, ch.max ?? 1);
  const B = ch.buckets.length;
  const p: Plot = {
    B,
    hasValues: ch.min !== null && ch.max !== null,
    xOf: (j) => (B === 1 ? (X0 + X1) / 2 : X0 + (j * (X1 - X0)) / (B - 1)),
    yOf: (v) => Y1 - scale.pos(v) * (Y1 - Y0),
  };
  parts.push(...svgAxes(m, p, scale), ...svgRanges(m, p));
  const layers = svgMarkers(m, p);
  const bestPath = svgBest(m, p);
  // Runs first, then the best line over them, then the keeps on top of the line.
  for (const v of ['discard', 'checks_failed', 'invalid', 'timeout', 'crash'] as const) parts.push(...layers[v]);
  if (bestPath) parts.push(bestPath);
  parts.push(...layers.keep);
  parts.push('</svg>');
  return parts.join('');
}

function legend(m: ViewModel): string {
  const c = CHART_COLORS;
  const item = (svg: string, label: string) => `<span class="li"><svg width="16" height="12" viewBox="0 0 16 12">${svg}</svg>${label}</span>`;
  return `<div class="legend">${[
    item(`<circle cx="8" cy="6" r="5" fill="${c.keep}"/>`, 'keep'),
    item(`<line x1="0" x2="16" y1="6" y2="6" stroke="${c.best}" stroke-width="3"/>`, 'best so far'),
    item(`<circle cx="8" cy="6" r="3.2" fill="#fff" stroke="${c.discard}" stroke-width="1.5"/>`, 'discard'),
    item(`<path d="M4 2L12 10M4 10L12 2" stroke="${c.crash}" stroke-width="2"/>`, 'crash'),
    item(`<path d="M8 1L13 10L3 10Z" fill="${c.timeout}"/>`, 'timeout'),
    item(`<rect x="4.5" y="2.5" width="7" height="7" fill="${c.checks_failed}"/>`, 'checks failed'),
    item(`<path d="M8 1L13 6L8 11L3 6Z" fill="${c.invalid}"/>`, 'invalid'),
  ].join('')}<span class="hint">${m.chart.per_bucket > 1 ? 'hover a mark for the run (with its description and commit when it is listed below)' : 'hover a mark for the run, its description and commit'}</span></div>`;
}

function card(label: string, value: string, sub: string): string {
  return `<div class="card"><div class="k">${label}</div><div class="v">${value}</div><div class="s">${sub}</div></div>`;
}

function cards(m: ViewModel): string {
  const unit = m.unit ? ` ${esc(m.unit)}` : '';
  const b = m.budget;
  const out: string[] = [];
  const good = m.gain_pct !== null && m.gain_pct > 0;
  const [bestText, baselineText] = fmtApart(m.best.value, m.baseline.value);
  out.push(
    card(
      'best',
      m.best.value === null ? '—' : `${esc(bestText)}${unit}`,
      m.best.value === null
        ? 'no baseline yet'
        : `<span class="${good ? 'good' : m.gain_pct !== null && m.gain_pct < 0 ? 'bad' : ''}">${esc(m.gain_pct === null ? (m.baseline.value === 0 ? NO_PCT : '-') : formatSignedPct(m.gain_pct))}</span> vs baseline ${esc(baselineText)}${unit}<br>${esc(m.best.run ?? '')}${m.best.commit ? ` · <code>${esc(m.best.commit.slice(0, 12))}</code>` : ''}`,
    ),
  );
  out.push(
    card(
      'confidence',
      m.confidence.value === null ? 'n/a' : `${esc(ratio(m.confidence.value))}×`,
      m.confidence.label ? esc(m.confidence.label) : 'needs 3 valid runs and a spread',
    ),
  );
  const now = m.now.length ? `<br><b>now:</b> ${m.now.map(esc).join('<br>')}` : '';
  out.push(card('health', `<span class="h-${esc(m.health.state)}">${esc(m.health.state)}</span>`, `${esc(m.health.reason)}${now}<br><b>next:</b> ${esc(m.health.next_action)}`));
  const frac = b.max_runs ? Math.min(100, (b.runs / b.max_runs) * 100) : 0;
  const bits = [`plateau ${esc(b.progress.plateau ?? 'off')}`];
  if (b.progress.target) bits.push(`target ${esc(b.progress.target)}`);
  bits.push(`time ${esc(b.progress.wall_clock ?? formatDuration(b.elapsed_s))}`);
  out.push(
    card(
      'budget',
      `runs ${esc(b.progress.runs)}`,
      `${b.max_runs ? `<span class="bar"><span style="width:${n2(frac)}%"></span></span>` : ''}${bits.join(' · ')}${b.terminated ? `<br><span class="bad">${esc(b.message)}</span>` : ''}${m.relaunch ? `<br>${esc(m.relaunch)}` : ''}`,
    ),
  );
  const counts = VERDICTS.filter((v) => m.counts[v] || v === 'keep' || v === 'discard')
    .map((v) => `<span class="pill v-${v}">${m.counts[v]} ${esc(v)}</span>`)
    .join(' ');
  out.push(card('verdicts', `${m.segment_runs} run${m.segment_runs === 1 ? '' : 's'}`, counts));
  if (m.guardrails.length) {
    const rows = m.guardrails.map((g) => `<span class="${g.status === 'ok' ? 'good' : g.status === 'unmeasured' ? '' : 'bad'}">${esc(g.metric)} ${esc(fmtApart(g.value, g.allowed).join(' / '))} ${esc(g.status)}</span>`);
    out.push(card('guardrails', `${m.guardrails.length}`, `${rows.join('<br>')}<br><span class="muted">against the baseline</span>`));
  }
  return `<section class="cards">${out.join('')}</section>`;
}

function table(m: ViewModel): string {
  const unit = m.unit ? ` (${esc(m.unit)})` : '';
  const rows = [...m.rows].reverse();
  const body = rows
    .map((r) => {
      const d = r.delta;
      const dcls = r.delta === null ? '' : r.delta > 0 ? 'good' : 'muted';
      return (
        `<tr class="r-${r.verdict}"><td class="num">${r.n}</td><td><code>${esc(r.run_id)}</code></td>` +
        `<td><span class="pill v-${r.verdict}">${r.rebaseline ? 'rebaseline' : esc(r.verdict)}</span></td>` +
        `<td class="num">${esc(fmt(r.primary))}</td><td class="num ${dcls}">${d === null ? '' : esc(`${d > 0 ? '+' : ''}${fmt(d)}`)}</td>` +
        `<td class="num">${esc(formatDuration(r.duration_s))}</td><td>${r.commit ? `<code>${esc(r.commit.slice(0, 7))}</code>` : ''}</td>` +
        `<td class="desc">${esc(r.description)}${r.verdict !== 'keep' && r.reason ? `<div class="why">${esc(r.reason)}</div>` : ''}</td></tr>`
      );
    })
    .join('');
  const keeps = m.rows.length - m.rows_recent;
  const note = m.rows_omitted
    ? `<p class="note">Listing the last ${m.rows_recent} runs and the ${keeps}${keeps >= KEEPS_CAP ? ' newest' : ''} earlier keeps; ${m.rows_omitted} older runs are not listed (the chart covers every run; the ledger has every line).</p>`
    : '';
  return `<section><h2>Runs <span class="muted">(newest first; ${esc(SIGN_LEGEND)})</span></h2>${note}<table><thead><tr><th>#</th><th>run</th><th>verdict</th><th>${esc(m.metric)}${unit}</th><th>Δ</th><th>time</th><th>commit</th><th>description</th></tr></thead><tbody>${body || '<tr><td colspan="8" class="muted">No runs yet.</td></tr>'}</tbody></table></section>`;
}

const CSS = `
*{box-sizing:border-box}
body{margin:0 auto;max-width:1140px;padding:16px 20px 40px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2937;background:#ffffff}
h1{font-size:20px;margin:0 0 2px}h1 .slug{color:#0e7490}h2{font-size:16px;margin:22px 0 6px}
.sub{color:#4b5563;margin:0 0 10px}.muted{color:#6b7280;font-weight:normal}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:8px;margin:8px 0 10px}
.card{background:#f3f4f6;border-radius:6px;padding:8px 10px;min-width:0}
.card .k{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:#6b7280}
.card .v{font-size:18px;font-weight:600;overflow-wrap:anywhere}.card .s{font-size:12px;color:#374151;overflow-wrap:anywhere}
.good{color:#15803d;font-weight:600}.bad{color:#b91c1c}
.bar{display:block;height:6px;background:#e5e7eb;border-radius:3px;margin:3px 0}.bar span{display:block;height:6px;background:#0e7490;border-radius:3px}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;color:#374151;margin:4px 0}
.li{display:inline-flex;align-items:center;gap:4px}.hint{color:#6b7280;margin-left:auto}
svg.chart{display:block;width:100%;height:auto;border:1px solid #e5e7eb;border-radius:6px}
svg .tick{font-size:11px;fill:#6b7280}svg .axis{font-size:12px;fill:#4b5563}svg .empty{font-size:15px;fill:#6b7280}
svg .m-discard>circle{fill:#ffffff;stroke:${CHART_COLORS.discard};stroke-width:1.5}svg .m{cursor:default}svg .m:hover>*{stroke:#111827;stroke-width:2}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eef0f2;vertical-align:top}
th{font-size:12px;color:#6b7280;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.desc{overflow-wrap:anywhere}.why{color:#6b7280;font-size:12px}
tr.r-keep{background:#f0fdf4}
.pill{display:inline-block;border-radius:9px;padding:0 7px;font-size:12px;color:#fff;white-space:nowrap}
.v-keep{background:#15803d}.v-discard{background:#64748b}.v-crash{background:#b91c1c}.v-timeout{background:#c2410c}.v-checks_failed{background:#a16207}.v-invalid{background:#7e22ce}
.h-improving{color:#15803d}.h-running{color:#1d4ed8}.h-plateaued{color:#a16207}.h-crashing{color:#b91c1c}.h-healing{color:#7e22ce}.h-paused{color:#a16207}.h-completed{color:#0e7490}
.note{color:#4b5563;font-size:12px;margin:2px 0 6px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
footer{margin-top:18px;color:#6b7280;font-size:12px}
@media (max-width:800px){.cards{grid-template-columns:repeat(2,1fr)}}
`;

/** The page as one string. Pure: the same model gives the same bytes. */
export function renderHtml(m: ViewModel): string {
  const chain = m.chain.length
    ? `<p class="sub">chain: ${m.chain.map((s) => (s === m.experiment ? `<b>${esc(s)}</b>` : esc(s))).join(' → ')}</p>`
    : '';
  const seg = `segment ${m.segment}${m.earlier_runs ? ` (${m.earlier_runs} run${m.earlier_runs === 1 ? '' : 's'} in earlier segments ${m.earlier_runs === 1 ? 'is' : 'are'} not charted: their numbers measure something else)` : ''}`;
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>autoloop · ${esc(m.experiment)}</title><style>${CSS}</style></head><body>`,
    `<h1>autoloop · <span class="slug">${esc(m.experiment)}</span> <span class="muted">${esc(m.loop)}</span></h1>`,
    `<p class="sub">${m.goal ? `${esc(m.goal)} · ` : ''}<b>${esc(m.metric)}</b> (${esc(m.direction)} is better${m.unit ? `, ${esc(m.unit)}` : ''}) · ${esc(seg)}</p>`,
    chain,
    cards(m),
    m.chart.runs ? legend(m) : '',
    svgChart(m),
    table(m),
    m.warnings.length ? `<p class="note">warnings: ${m.warnings.map(esc).join('; ')}</p>` : '',
    `<footer>Generated by autoloop on ${esc(m.generated_at)} from the experiment's ledger. This page is self-contained: it loads nothing.</footer>`,
    '</body></html>\n',
  ].join('');
}
