// Values at the ends of a double: a chart whose span overflows (±1.7e308) is
// drawn, not NaN, in the terminal and on the page, and Chromium logs nothing
// to its console for a page with hostile, long and unicode descriptions.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyState, foldLines, termination } from '../scripts/lib/reduce.ts';
import { buildModel } from '../scripts/lib/dashboard/model.ts';
import { HTML_BUCKETS, renderHtml } from '../scripts/lib/dashboard/html.ts';
import { renderTerminal } from '../scripts/lib/dashboard/terminal.ts';
import { chartDotColumns, chartScale } from '../scripts/lib/dashboard/chart.ts';
import { syntheticLedger, writeSynthetic } from './helpers/synthetic-ledger.ts';
import { consoleMessages } from './helpers/chromium.ts';
import { tmpDir } from './helpers/tmp.ts';
import { formatStatusLine } from '../scripts/lib/dashboard/statusline.ts';

describe('values at the ends of a double', () => {
  /** A ledger whose discards sit at ±1.7e308: their span, 3.4e308, is past the largest double. */
  function extreme() {
    const syn = syntheticLedger({ runs: 30, seed: 3, descriptions: ['<script>alert(1)</script> "q" \'s\' & ü 素数 🚀 ' + 'long '.repeat(400)] });
    let k = 0;
    for (const l of syn.lines) {
      if (l.type !== 'result' || l.verdict !== 'discard' || l.primary === null) continue;
      l.primary = (k++ % 2 ? -1 : 1) * 1.7e308;
      l.samples = [l.primary];
    }
    const s = foldLines(emptyState(), syn.lines, syn.config);
    const now = Date.parse(s.last_ts ?? '') + 1000;
    return (buckets: number) => buildModel({ slug: syn.config.name, config: syn.config, lines: syn.lines, state: s, termination: termination(s, syn.config, now), chain: [], now, chartBuckets: buckets });
  }

  it('scale: positions stay finite and in order', () => {
    const sc = chartScale(-1.7e308, 1.7e308);
    expect(sc.pos(-1.7e308)).toBe(0);
    expect(sc.pos(1.7e308)).toBe(1);
    expect(sc.pos(0)).toBeCloseTo(0.5, 12);
    expect(sc.at(0.5)).toBeCloseTo(0, 0);
    expect(sc.at(1)).toBe(1.7e308);
    // Every run at the largest double: padded, the range stays finite.
    for (const v of [Number.MAX_VALUE, -Number.MAX_VALUE]) {
      const flat = chartScale(v, v);
      expect(Number.isFinite(flat.lo) && Number.isFinite(flat.hi)).toBe(true);
      expect(flat.pos(v)).toBeGreaterThanOrEqual(0);
      expect(flat.pos(v)).toBeLessThanOrEqual(1);
    }
  });

  it('the terminal chart draws the highest and the lowest runs, with a middle label', () => {
    const lines = renderTerminal(extreme()(chartDotColumns(100)), { width: 100, color: false });
    const top = lines.findIndex((l) => l.startsWith(' 1.7e+308 ┤'));
    const bottom = lines.findIndex((l) => l.startsWith('-1.7e+308 ┤'));
    expect(top).toBeGreaterThan(0);
    expect(bottom).toBeGreaterThan(top);
    // Braille dots on the top row (the +1.7e308 discards), and a number halfway, not "-".
    expect(lines[top]).toMatch(/[\u2801-\u28ff]/);
    expect(lines.slice(top, bottom).some((l) => /^ +0 ┤/.test(l))).toBe(true);
  });

  it('the page has no NaN and Chromium logs nothing to the console', () => {
    const html = renderHtml(extreme()(HTML_BUCKETS));
    expect(html).not.toContain('NaN');
    const work = tmpDir('autoloop-console-');
    const file = path.join(work, 'page.html');
    fs.writeFileSync(file, html);
    expect(consoleMessages(file, work)).toEqual([]);
  });
});

describe('a chart of one run', () => {
  const syn = syntheticLedger({ runs: 1, seed: 1 });
  const s = foldLines(emptyState(), syn.lines, syn.config);
  const now = Date.parse(s.last_ts ?? '') + 1000;
  const model = buildModel({ slug: syn.config.name, config: syn.config, lines: syn.lines, state: s, termination: termination(s, syn.config, now), chain: [], now, chartBuckets: chartDotColumns(80) });

  it('puts the run on the row whose label reads its value, and says "1 run"', () => {
    const lines = renderTerminal(model, { width: 80, color: false });
    const dot = lines.find((l) => /┤.*●/.test(l) || /│.*●/.test(l));
    expect(dot).toMatch(/^ *2000000 ┤●/);
    expect(lines.some((l) => /\b1 run\b/.test(l) && !/1 runs/.test(l))).toBe(true);
    // Fitted to a terminal's height (--watch) too.
    for (const height of [30, 36, 40, 45, 50]) {
      const fitted = renderTerminal(model, { width: 80, height, color: false });
      expect(fitted.find((l) => /[┤│]●/.test(l)), `height ${height}`).toMatch(/^ *2000000 ┤●/);
    }
  });
});

it('the page of one run says "1 run"', () => {
  const syn = syntheticLedger({ runs: 1, seed: 1 });
  const s = foldLines(emptyState(), syn.lines, syn.config);
  const now = Date.parse(s.last_ts ?? '') + 1000;
  const html = renderHtml(buildModel({ slug: syn.config.name, config: syn.config, lines: syn.lines, state: s, termination: termination(s, syn.config, now), chain: [], now, chartBuckets: HTML_BUCKETS }));
  expect(html).toContain('<div class="v">1 run</div>');
});

it('--html into a place that cannot hold a file: one line naming the page, exit 2', () => {
  const dir = tmpDir('autoloop-target-');
  writeSynthetic(dir, syntheticLedger({ runs: 3, seed: 1 }));
  const dist = process.env.AUTOLOOP_TEST_DIST;
  const entry = dist && fs.existsSync(path.join(dist, 'dashboard.mjs')) ? [path.join(dist, 'dashboard.mjs')] : ['--import', 'tsx', path.resolve(import.meta.dirname, '..', 'scripts', 'dashboard.ts')];
  // /proc takes no new files, whoever runs the test (root can write anywhere else).
  const r = spawnSync(process.execPath, [...entry, '--cwd', dir, '--html', '/proc/autoloop-page.html'], { encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr.trim().split('\n')).toEqual(['dashboard: --html: cannot write /proc/autoloop-page.html (ENOENT)']);
});

it('one run in an earlier segment is "1 run"', () => {
  const syn = syntheticLedger({ runs: 3, seed: 1, segmentAt: 1 });
  const s = foldLines(emptyState(), syn.lines, syn.config);
  const now = Date.parse(s.last_ts ?? '') + 1000;
  const m = buildModel({ slug: syn.config.name, config: syn.config, lines: syn.lines, state: s, termination: termination(s, syn.config, now), chain: [], now, chartBuckets: HTML_BUCKETS });
  expect(m.earlier_runs).toBe(1);
  expect(renderTerminal(m, { width: 120, color: false })[0]).toContain(' · 1 run in earlier segments');
  expect(renderHtml(m)).toContain('(1 run in earlier segments is not charted');
});

it('a gain too large for a double is no percentage, not "+Infinity%"', () => {
  const syn = syntheticLedger({ runs: 2, seed: 1, direction: 'higher' });
  const results = syn.lines.filter((l) => l.type === 'result');
  const [base, best] = results;
  if (base?.type !== 'result' || best?.type !== 'result') throw new Error('fixture');
  base.primary = 1e-310;
  base.samples = [1e-310];
  best.primary = 1;
  best.samples = [1];
  best.verdict = 'keep';
  best.status = 'ok';
  const s = foldLines(emptyState(), syn.lines, syn.config);
  expect(s.best).toBe(1);
  const now = Date.parse(s.last_ts ?? '') + 1000;
  const m = buildModel({ slug: syn.config.name, config: syn.config, lines: syn.lines, state: s, termination: termination(s, syn.config, now), chain: [], now, chartBuckets: HTML_BUCKETS });
  expect(m.gain_pct).toBeNull();
  expect(renderTerminal(m, { width: 100, color: false }).join('\n')).not.toContain('Infinity');
  expect(renderHtml(m)).not.toContain('Infinity');
});

it('the status line gives the Δ, not "+Infinity%", for a gain past the largest double', () => {
  const line = formatStatusLine({ experiment: 'x', direction: 'higher', loop: 'active', runs: 3 }, { best: 1, baseline: 1e-310, runs_total: 3, health: { health: 'improving' } });
  expect(line).toBe('autoloop x · best 1 (+1) · 3 runs · improving');
});
