// The run index's summary (runs.sum): the dashboards drawn through it show the
// figures the whole index shows, on a history of a few thousand runs; it grows
// by appending; and a torn, stale or deleted summary is never trusted wrongly.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { experimentPaths, type ExperimentPaths } from '../scripts/lib/paths.ts';
import { termination } from '../scripts/lib/reduce.ts';
import { buildModel } from '../scripts/lib/dashboard/model.ts';
import { loadExperiment, viewModel, type Loaded } from '../scripts/lib/dashboard/load.ts';
import { chartDotColumns } from '../scripts/lib/dashboard/chart.ts';
import { TABLE_ROWS } from '../scripts/lib/dashboard/terminal.ts';
import { HTML_BUCKETS } from '../scripts/lib/dashboard/html.ts';
import { BLOCK, SUM } from '../scripts/lib/dashboard/run-summary.ts';
import { syntheticLedger, writeSynthetic, type Synthetic } from './helpers/synthetic-ledger.ts';
import type { LedgerLine } from '../scripts/lib/schema.ts';

const RUNS = 3000;
let root: string;
let syn: Synthetic;
let p: ExperimentPaths;
const sumFile = () => path.join(p.dir, 'runs.sum');
const idxFile = () => path.join(p.dir, 'runs.idx');

beforeEach(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-sum-')));
  syn = syntheticLedger({ runs: RUNS, seed: 11, segmentAt: 700 });
  writeSynthetic(root, syn);
  p = experimentPaths(root, syn.config.name);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** Every view the dashboards draw: terminal widths (its lean table), the HTML page, --json, extremes of downsampling. */
const SHAPES: [number, { rowsCap?: number; keepsCap?: number }][] = [
  [chartDotColumns(80), { rowsCap: TABLE_ROWS, keepsCap: 0 }],
  [chartDotColumns(120), { rowsCap: TABLE_ROWS, keepsCap: 0 }],
  [HTML_BUCKETS, {}],
  [7, { rowsCap: 3, keepsCap: 40 }],
  [1, {}],
  [100_000, { rowsCap: 1000, keepsCap: 1000 }],
];

function views(l: Loaded) {
  const now = Date.parse(l.state.last_ts ?? '') + 60_000;
  const t = termination(l.state, l.config, now);
  return SHAPES.map(([buckets, table]) => viewModel(l, t, [], now, buckets, table));
}

/** What the ledger's lines give, without any index. */
function fromLines(l: Loaded, lines: readonly LedgerLine[]) {
  const now = Date.parse(l.state.last_ts ?? '') + 60_000;
  const t = termination(l.state, l.config, now);
  return SHAPES.map(([buckets, table]) => buildModel({ slug: l.slug, config: l.config, lines, state: l.state, termination: t, chain: [], now, chartBuckets: buckets, ...table }));
}

const load = (summary = true) => loadExperiment(root, syn.config.name, undefined, { summary });

describe('run index summary (runs.sum)', () => {
  it('draws the same dashboards through the summary as from the whole index and from the lines', () => {
    const whole = load(false);
    expect(whole.index.kind).toBe('full');
    load(); // writes the summary
    const summed = load();
    expect(summed.index.kind).toBe('blocks');
    const got = views(summed);
    expect(got).toEqual(views(load(false)));
    expect(got).toEqual(fromLines(summed, syn.lines));
    // The one-shot dashboard does not read the primary values: the same figures, confidence included.
    const once = loadExperiment(root, syn.config.name, undefined, { once: true });
    expect(once.state.valid_primaries.length).toBe(summed.state.valid_primaries.length);
    expect(views(once)).toEqual(got);
    // A downsampled chart's marks read no ledger line: texts only for the runs the table lists; a chart of every run has them all.
    const marks = (v: (typeof got)[number]) => v.chart.buckets.flatMap((b) => [b.lo, b.hi, b.keep, b.fail]).filter((r) => r !== null);
    const listed = new Set(got[2]!.rows.map((r) => r.run_id));
    expect(got[2]!.chart.per_bucket).toBeGreaterThan(1);
    expect(marks(got[2]!).some((r) => !listed.has(r.run_id))).toBe(true);
    for (const r of marks(got[2]!)) expect(r.description === undefined).toBe(!listed.has(r.run_id));
    expect(marks(got[2]!).filter((r) => listed.has(r.run_id)).length).toBeGreaterThan(0);
    expect(got[5]!.chart.per_bucket).toBe(1);
    for (const r of marks(got[5]!)) expect(typeof r.description).toBe('string');
    expect(got[2]!.confidence.value).not.toBeNull();
    expect(got[2]!.segment_runs).toBe(RUNS - 700);
    expect(got[2]!.earlier_runs).toBe(700);
    expect(fs.statSync(sumFile()).size).toBe(Math.floor(fs.statSync(idxFile()).size / 32 / BLOCK) * SUM);
  });

  it('matches a commit logged away from its run (a reconcile) and the last of two commits', () => {
    const lines = [...syn.lines];
    const keeps = lines.filter((l): l is Extract<LedgerLine, { type: 'result' }> => l.type === 'result' && l.verdict === 'keep').slice(-30);
    const late = keeps.map((k, i) => ({ type: 'event', ts: k.ts, segment: k.segment, event: 'committed', run_id: k.run_id, data: { commit: `${'c'.repeat(39)}${i % 10}`, reconciled: true } }) as LedgerLine);
    // Some in the middle of the history, some at its end.
    lines.splice(Math.floor(lines.length / 2), 0, ...late.slice(0, 10));
    lines.push(...late.slice(10));
    syn = { ...syn, lines };
    writeSynthetic(root, syn);
    load();
    const summed = load();
    expect(summed.index.kind).toBe('blocks');
    const got = views(summed);
    expect(got).toEqual(fromLines(summed, lines));
    expect(got[5]!.rows.filter((r) => r.commit?.startsWith('ccc')).length).toBeGreaterThan(0);
  });

  it('grows by appending as the ledger grows, to the bytes a rebuild writes', () => {
    const p0 = experimentPaths(root, syn.config.name);
    const full = fs.readFileSync(p0.ledger);
    // The history as it stood 900 lines ago, indexed and summarised.
    let cut = 0;
    for (let n = 0; n < syn.lines.length - 900; n++) cut = full.indexOf(0x0a, cut) + 1;
    fs.writeFileSync(p0.ledger, full.subarray(0, cut));
    load();
    const before = fs.readFileSync(sumFile());
    fs.writeFileSync(p0.ledger, full);
    const grown = load();
    expect(grown.index.kind).toBe('blocks');
    const after = fs.readFileSync(sumFile());
    expect(after.length).toBeGreaterThan(before.length);
    expect(after.subarray(0, before.length).equals(before)).toBe(true);
    expect(views(grown)).toEqual(fromLines(grown, syn.lines));
    // The same bytes as a summary written from scratch; and the index, now two chunks, is read whole without being rebuilt.
    const idx = fs.readFileSync(idxFile());
    fs.rmSync(sumFile());
    expect(load().index.kind).toBe('full');
    expect(fs.readFileSync(idxFile()).equals(idx)).toBe(true);
    expect(fs.readFileSync(sumFile()).equals(after)).toBe(true);
  });

  it('cuts a summary torn mid-record and carries on', () => {
    load();
    const whole = fs.readFileSync(sumFile());
    fs.writeFileSync(sumFile(), whole.subarray(0, whole.length - SUM / 2));
    const l = load();
    expect(l.index.kind).toBe('blocks');
    expect(views(l)).toEqual(fromLines(l, syn.lines));
  });

  it('rebuilds a deleted summary, and does not trust one whose index is gone or shorter', () => {
    load();
    const good = fs.readFileSync(sumFile());
    fs.rmSync(sumFile());
    const l1 = load();
    expect(l1.index.kind).toBe('full');
    expect(fs.readFileSync(sumFile()).equals(good)).toBe(true);
    // The index deleted (or cut short) under a summary that still claims its blocks.
    fs.rmSync(idxFile());
    const l2 = load();
    expect(l2.index.kind).toBe('full');
    expect(views(l2)).toEqual(fromLines(l2, syn.lines));
    const idx = fs.readFileSync(idxFile());
    fs.writeFileSync(idxFile(), idx.subarray(0, 32 * BLOCK * 3));
    const l3 = load();
    expect(l3.index.kind).toBe('full');
    expect(views(l3)).toEqual(fromLines(l3, syn.lines));
  });

  it('does not trust a stale summary: one of another history, or a block changed', () => {
    // The summary of a different history of the same length.
    const other = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-sum-other-')));
    try {
      const o = syntheticLedger({ runs: RUNS, seed: 99, segmentAt: 700 });
      writeSynthetic(other, o);
      loadExperiment(other, o.config.name);
      load();
      fs.copyFileSync(path.join(experimentPaths(other, o.config.name).dir, 'runs.sum'), sumFile());
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
    const l1 = load();
    expect(l1.index.kind).toBe('full');
    expect(views(l1)).toEqual(fromLines(l1, syn.lines));
    // One block's best keep moved to another run: caught when it is the last, or by the offsets otherwise.
    const sum = fs.readFileSync(sumFile());
    const last = sum.length - SUM;
    sum[last + 2] = ((sum[last + 2] as number) + 1) % BLOCK;
    fs.writeFileSync(sumFile(), sum);
    const l2 = load();
    expect(l2.index.kind).toBe('full');
    expect(views(l2)).toEqual(fromLines(l2, syn.lines));
    // The first block's failure count changed.
    const first = fs.readFileSync(sumFile());
    first[10] = ((first[10] as number) + 1) % BLOCK;
    fs.writeFileSync(sumFile(), first);
    expect(load().index.kind).toBe('full');
    // A record that is not a summary at all.
    const again = fs.readFileSync(sumFile());
    again[SUM * 5] = 0;
    fs.writeFileSync(sumFile(), again);
    expect(load().index.kind).toBe('full');
    expect(load().index.kind).toBe('blocks');
    // A summary of an earlier format (version 1: blocks of 32 records; 2: no ranks) is rebuilt, never read as this one.
    const good = fs.readFileSync(sumFile());
    for (const version of [1, 2]) {
      const old = Buffer.from(good);
      for (let at = 0; at < old.length; at += SUM) old[at] = version;
      fs.writeFileSync(sumFile(), old);
      const l3 = load();
      expect(l3.index.kind).toBe('full');
      expect(views(l3)).toEqual(fromLines(l3, syn.lines));
      expect(fs.readFileSync(sumFile()).equals(good)).toBe(true);
    }
  });

  it('does not place a mark where a middle block\'s summary says when its record disagrees', () => {
    load();
    const good = fs.readFileSync(sumFile());
    const blocks = good.length / SUM;
    // The middle blocks are not read again when the summary is: a pick's rank (bytes 88-92) or its place (2-6) moved by one, still plausible, goes unseen until a mark is drawn.
    for (const [field, shift] of [[88, -1], [2, 1]] as const) {
      const bad = Buffer.from(good);
      let moved = 0;
      for (let b = 1; b < blocks - 1; b++) {
        for (let k = 0; k < 5; k++) {
          const at = b * SUM + field + k;
          const pos = bad[b * SUM + 2 + k] as number;
          const rank = bad[b * SUM + 88 + k] as number;
          if (pos === 0xff || rank === 0 || pos >= BLOCK - 2) continue;
          bad[at] = (bad[at] as number) + shift;
          moved++;
        }
      }
      expect(moved).toBeGreaterThan(0);
      fs.writeFileSync(sumFile(), bad);
      const l = load();
      expect(l.index.kind).toBe('blocks');
      // Drawn right all the same (from the lines), and the caches dropped: the next call rebuilds them.
      expect(views(l)).toEqual(fromLines(l, syn.lines));
      expect(fs.existsSync(sumFile())).toBe(false);
      expect(load().index.kind).toBe('full');
      expect(fs.readFileSync(sumFile()).equals(good)).toBe(true);
    }
  });

  it('falls back to the whole index when run numbers do not increase (candidates logged out of order)', () => {
    const lines = [...syn.lines];
    const results = lines.map((l, i) => [l, i] as const).filter(([l]) => l.type === 'result');
    // Swap the run ids of two results far apart.
    const [a, ia] = results[300]!;
    const [b, ib] = results[2500]!;
    lines[ia] = { ...(a as Extract<LedgerLine, { type: 'result' }>), run_id: (b as Extract<LedgerLine, { type: 'result' }>).run_id };
    lines[ib] = { ...(b as Extract<LedgerLine, { type: 'result' }>), run_id: (a as Extract<LedgerLine, { type: 'result' }>).run_id };
    syn = { ...syn, lines };
    writeSynthetic(root, syn);
    load();
    const l = load();
    expect(l.index.kind).toBe('blocks');
    expect(views(l)).toEqual(views(load(false)));
  });
});
