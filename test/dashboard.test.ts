// The dashboard: view model, terminal rendering (width, colour, escaping), the
// CLI contract and --watch as a real child process.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerLine, type ResultLine } from '../scripts/lib/schema.ts';
import { appendLedger } from '../scripts/lib/ledger.ts';
import { experimentPaths, repoPaths } from '../scripts/lib/paths.ts';
import { loadChainFile, saveChainFile, withLink } from '../scripts/lib/chain.ts';
import { emptyState, foldLines, termination, type State } from '../scripts/lib/reduce.ts';
import { fmt } from '../scripts/lib/summary.ts';
import { syntheticLedger, writeSynthetic, type Synthetic } from './helpers/synthetic-ledger.ts';
import { buildChart, buildModel, segmentRuns, tableRows, type RunPoint, type ViewModel } from '../scripts/lib/dashboard/model.ts';
import { renderTerminal, TABLE_ROWS } from '../scripts/lib/dashboard/terminal.ts';
import { chartDotColumns, renderChart } from '../scripts/lib/dashboard/chart.ts';
import { loadExperiment, viewModel } from '../scripts/lib/dashboard/load.ts';
import { recordViews } from '../scripts/lib/dashboard/run-index.ts';
import { clipCells, colorEnabled, sanitize, stripAnsi, visibleWidth } from '../scripts/lib/dashboard/text.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const ESC = '\x1b';

/** The bundled entry point when the global setup built one, else the source under tsx. */
function command(name: string): string[] {
  const dist = process.env.AUTOLOOP_TEST_DIST;
  if (dist && fs.existsSync(path.join(dist, `${name}.mjs`))) return [path.join(dist, `${name}.mjs`)];
  return ['--import', 'tsx', path.join(ROOT, 'scripts', `${name}.ts`)];
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  return { ...env, ...extra };
}

function dashboard(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [...command('dashboard'), ...args], { encoding: 'utf8', env: cleanEnv(env), timeout: 600_000 });
}

const DESCRIPTIONS = [
  'skip even numbers in the inner loop and also cache the square root bound so that the hot path does fewer divisions',
  'wheel mod 30 \x1b[31mRED\x1b[0m with an escape sequence from the model',
  '素数の篩を高速化する変更（全角）',
  'emoji 🚀🚀 in the description',
  'plain',
];

let dir: string;
let syn: Synthetic;
let state: State;

beforeAll(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-dash-')));
  syn = syntheticLedger({ runs: 60, seed: 7, segmentAt: 20, descriptions: DESCRIPTIONS });
  state = writeSynthetic(dir, syn).state;
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function model(s: State = state, lines = syn.lines, width = 100): ViewModel {
  const now = Date.parse(s.last_ts ?? '2025-01-01T00:00:00Z') + 60_000;
  return buildModel({
    slug: syn.config.name,
    config: syn.config,
    lines,
    state: s,
    termination: termination(s, syn.config, now),
    chain: ['faster-primes', 'faster-primes-2'],
    now,
    chartBuckets: chartDotColumns(width),
  });
}

/** The byte just after the n-th line of a ledger. */
function nthLineEnd(buf: Buffer, n: number): number {
  let at = 0;
  for (let k = 0; k < n; k++) at = buf.indexOf(0x0a, at) + 1;
  return at;
}

const seg2 = () => syn.lines.filter((l): l is ResultLine => l.type === 'result' && l.segment === 2);

describe('fixture', () => {
  it('is a valid ledger with every verdict and two segments', () => {
    const text = fs.readFileSync(experimentPaths(dir, syn.config.name).ledger, 'utf8').trim().split('\n');
    for (const line of text) expect(LedgerLine.safeParse(JSON.parse(line)).success).toBe(true);
    const verdicts = new Set(syn.lines.flatMap((l) => (l.type === 'result' ? [l.verdict] : [])));
    expect([...verdicts].sort()).toEqual(['checks_failed', 'crash', 'discard', 'invalid', 'keep', 'timeout']);
    expect(syn.lines.filter((l) => l.type === 'config')).toHaveLength(2);
    expect(syn.lines.some((l) => l.type === 'event' && l.event === 'committed' && typeof l.data.commit === 'string')).toBe(true);
  });
});

describe('view model', () => {
  it('reports the current segment: best, baseline, counts and the runs of segment 2 only', () => {
    const m = model();
    const runs = seg2();
    const keeps = runs.filter((r) => r.verdict === 'keep');
    expect(m.segment).toBe(2);
    expect(m.earlier_runs).toBe(20);
    expect(m.segment_runs).toBe(40);
    expect(m.baseline.value).toBe(keeps[0]?.primary);
    expect(m.best.value).toBe(state.best);
    expect(m.counts.keep).toBe(keeps.length);
    expect(m.counts.crash).toBe(runs.filter((r) => r.verdict === 'crash').length);
    expect(m.chart.first_run).toBe('r0021');
    expect(m.chart.last_run).toBe('r0060');
    expect(m.change_pct).toBeCloseTo((((state.best as number) - (state.baseline as number)) / (state.baseline as number)) * 100, 9);
    // The best keep's commit comes from its `committed` event.
    const ev = syn.lines.find((l) => l.type === 'event' && l.event === 'committed' && l.run_id === state.best_run);
    expect(m.best.commit).toBe(ev?.type === 'event' ? ev.data.commit : undefined);
    expect(m.chain).toEqual(['faster-primes', 'faster-primes-2']);
  });

  it('downsamples by min/max per bucket and ends the best line at the best', () => {
    const { runs } = segmentRuns(syn.lines, 2);
    const chart = buildChart(runs, 'lower', 10);
    expect(chart.per_bucket).toBe(4);
    expect(chart.buckets).toHaveLength(10);
    for (const b of chart.buckets) {
      const inside = runs.slice(b.from - 1, b.to).flatMap((r) => (r.primary === null ? [] : [r.primary]));
      expect(b.lo?.primary ?? null).toBe(inside.length ? Math.min(...inside) : null);
      expect(b.hi?.primary ?? null).toBe(inside.length ? Math.max(...inside) : null);
    }
    expect(chart.buckets.at(-1)?.best).toBe(state.best);
    expect(chart.min).toBe(Math.min(...runs.flatMap((r) => (r.primary === null ? [] : [r.primary]))));
  });

  it('keeps a 10,000-run chart at the size of its columns', () => {
    const big = syntheticLedger({ runs: 10_000, seed: 3 });
    const { runs } = segmentRuns(big.lines, 1);
    const chart = buildChart(runs, 'lower', 180);
    expect(runs).toHaveLength(10_000);
    expect(chart.buckets.length).toBeLessThanOrEqual(180);
    expect(chart.buckets.reduce((a, b) => a + b.count, 0)).toBe(10_000);
    const lastKeep = [...runs].reverse().find((r) => r.verdict === 'keep' || (r.rebaseline && r.status === 'ok'));
    expect(chart.buckets.at(-1)?.best).toBe(lastKeep?.primary);
  });

  it('switches to a log scale when the values span more than 20x (a -99% loop stays readable)', () => {
    const pt = (n: number, primary: number, verdict: 'keep' | 'discard'): RunPoint => ({
      n, run_id: `r000${n}`, verdict, status: 'ok', primary, delta: null, description: '', reason: '', commit: null, rebaseline: false, duration_s: 1, ts: '',
    });
    const text = (runs: RunPoint[]) => renderChart(buildChart(runs, 'lower', 100), { width: 80, rows: 8 }).map((l) => l.map((x) => x.text).join('')).join('\n');
    const wide = text([pt(1, 20_000_000, 'keep'), pt(2, 900_000, 'keep'), pt(3, 145_072, 'keep'), pt(4, 150_000, 'discard')]);
    expect(wide).toContain('log scale');
    expect(wide).toMatch(/^ *20000000 ┤/m);
    expect(wide).toMatch(/^ *145000 ┤/m);
    // On a log scale the three keeps sit on three different rows; linear would crush two together.
    expect(wide.split('\n').filter((l) => l.includes('●'))).toHaveLength(3);
    expect(text([pt(1, 200, 'keep'), pt(2, 180, 'keep'), pt(3, 190, 'discard')])).not.toContain('log scale');
  });

  it('caps the table at the last runs plus every earlier keep', () => {
    const { runs } = segmentRuns(syn.lines, 2);
    const t = tableRows(runs, 5);
    const earlierKeeps = runs.slice(0, -5).filter((r) => r.verdict === 'keep');
    expect(t.recent).toBe(5);
    expect(t.rows.map((r) => r.run_id)).toEqual([...earlierKeeps, ...runs.slice(-5)].map((r) => r.run_id));
    expect(t.omitted).toBe(runs.length - 5 - earlierKeeps.length);
  });

  it('handles a higher-is-better metric', () => {
    const hi = syntheticLedger({ runs: 40, seed: 2, direction: 'higher' });
    const s = foldLines(emptyState(), hi.lines, hi.config);
    const m = buildModel({ slug: 'x', config: hi.config, lines: hi.lines, state: s, termination: termination(s, hi.config, Date.now()), chain: [], now: Date.now(), chartBuckets: 100 });
    expect(m.best.value).toBeGreaterThan(m.baseline.value as number);
    expect(m.gain_pct).toBeGreaterThan(0);
    expect(m.change_pct).toBeCloseTo(m.gain_pct as number, 9);
    const out = renderTerminal(m, { width: 100, color: false }).join('\n');
    expect(out).toContain('(higher is better');
    // The table shows the last 10 runs; a kept one shows its gain as a rise.
    const keep = m.rows.slice(-10).find((r) => r.verdict === 'keep' && r.delta !== null);
    expect(keep).toBeDefined();
    const re = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(out).toMatch(new RegExp(`${keep?.run_id} keep +${re(fmt(keep?.primary))} +${re(`+${fmt(keep?.delta)}`)} `));
  });

  it('draws a segment where every run crashed', () => {
    const base = syntheticLedger({ runs: 0 });
    const lines = [...base.lines];
    for (let i = 1; i <= 6; i++) {
      lines.push(LedgerLine.parse({ type: 'result', ts: new Date(Date.now() + i * 1000).toISOString(), segment: 1, run_id: `r000${i}`, status: 'crash', verdict: 'crash', primary: null, samples: [], metrics: {}, description: `attempt ${i}`, reason: 'exit 1', duration_s: 1 }));
    }
    const s = foldLines(emptyState(), lines, base.config);
    const m = model(s, lines);
    expect(m.chart.min).toBeNull();
    const out = renderTerminal(m, { width: 80, color: false });
    expect(out.find((l) => l.includes('└'))).toMatch(/x/);
    expect(out.join('\n')).toContain('6 crash');
  });

  it('shows no chart data for a segment with no runs', () => {
    const only = syntheticLedger({ runs: 0 });
    const s = foldLines(emptyState(), only.lines, only.config);
    const m = model(s, only.lines);
    expect(m.chart.runs).toBe(0);
    expect(m.chart.buckets).toEqual([]);
    expect(m.best.value).toBeNull();
    expect(renderTerminal(m, { width: 80, color: false }).join('\n')).toMatch(/no baseline yet[\s\S]*no runs in this segment yet/);
  });
});

describe('text', () => {
  it('measures wide characters and strips control characters', () => {
    expect(visibleWidth('abc')).toBe(3);
    expect(visibleWidth('素数')).toBe(4);
    expect(visibleWidth('🚀')).toBe(2);
    expect(visibleWidth('e\u0301')).toBe(1);
    expect(visibleWidth('\x1b[31mred\x1b[0m')).toBe(3);
    expect(sanitize('a\x1b[31mb\nc\u202ed')).toBe('ab cd');
    expect(clipCells('素数の篩', 5)).toBe('素数…');
    expect(visibleWidth(clipCells('素数の篩', 5))).toBeLessThanOrEqual(5);
  });

  it('decides colour: NO_COLOR wins, FORCE_COLOR forces, otherwise a TTY', () => {
    expect(colorEnabled({}, true)).toBe(true);
    expect(colorEnabled({}, false)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colorEnabled({ FORCE_COLOR: '1', NO_COLOR: '1' }, false)).toBe(false);
    expect(colorEnabled({ FORCE_COLOR: '0' }, true)).toBe(false);
    expect(colorEnabled({ TERM: 'dumb' }, true)).toBe(false);
  });
});

describe('terminal view', () => {
  it('shows the experiment, the numbers and the last runs', () => {
    const out = renderTerminal(model(), { width: 120, color: false }).join('\n');
    expect(out).toContain('autoloop faster-primes · segment 2');
    expect(out).toContain('20 runs in earlier segments');
    expect(out).toContain(`best       ${fmt(state.best)} ops`);
    expect(out).toContain(`vs baseline ${fmt(state.baseline)} ops`);
    expect(out).toContain(`health     ${state.health.health}`);
    expect(out).toContain(`runs ${state.runs_total}/${syn.config.max_runs}`);
    expect(out).toContain(`plateau ${state.runs_since_improvement}/${syn.config.plateau}`);
    expect(out).toMatch(/chain {6}faster-primes → faster-primes-2/);
    // The chart: braille dots, keep markers, axis labels with the extremes and run ids.
    expect(out).toMatch(/[\u2801-\u28ff]/);
    expect(out).toContain('●');
    expect(out).toMatch(/r0021 +40 runs +r0060/);
    // The table: the last run and its verdict.
    const last = seg2().at(-1) as ResultLine;
    expect(out).toMatch(new RegExp(`${last.run_id} ${last.verdict === 'checks_failed' ? 'checks_failed' : last.verdict}`));
  });

  it.each([40, 60, 80, 100, 160])('fits every line in %i columns', (width) => {
    for (const color of [false, true]) {
      const lines = renderTerminal(model(state, syn.lines, width), { width, color });
      for (const l of lines) expect(visibleWidth(l), JSON.stringify(stripAnsi(l))).toBeLessThanOrEqual(width);
    }
  });

  it('truncates descriptions with … in 60 columns and drops columns rather than wrap', () => {
    const out = renderTerminal(model(state, syn.lines, 60), { width: 60, color: false });
    const long = out.find((l) => l.includes('skip even numbers'));
    expect(long).toBeDefined();
    expect(long?.endsWith('…')).toBe(true);
    expect(long).not.toContain('fewer divisions');
    const narrow = renderTerminal(model(state, syn.lines, 40), { width: 40, color: false }).join('\n');
    expect(narrow).not.toContain(' Δ ');
  });

  it('uses colour codes only when asked, and never passes escapes from descriptions through', () => {
    const plain = renderTerminal(model(), { width: 120, color: false }).join('\n');
    expect(plain).not.toContain(ESC);
    expect(plain).toContain('RED'); // the text survives, the escape does not
    const colored = renderTerminal(model(), { width: 120, color: true }).join('\n');
    expect(colored).toContain(`${ESC}[32;1m●`); // keep marker, green
    expect(colored).toMatch(/\x1b\[36m[\u2800-\u28ff]/); // best line, cyan
    expect(stripAnsi(colored)).toBe(plain);
    expect(colored).not.toContain(`${ESC}[31mRED`);
  });

  it('fits a frame to the terminal height', () => {
    const lines = renderTerminal(model(), { width: 100, height: 30, color: false });
    expect(lines.length).toBeLessThanOrEqual(30);
    expect(lines.join('\n')).toContain('●');
  });
});

describe('dashboard command', () => {
  it('prints the terminal view; NO_COLOR means no escapes, FORCE_COLOR forces them', () => {
    const plain = dashboard(['--cwd', dir, '--width', '60'], { NO_COLOR: '1', FORCE_COLOR: '1' });
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).not.toContain(ESC);
    expect(plain.stdout).toContain(`best       ${fmt(state.best)}`);
    for (const l of plain.stdout.trimEnd().split('\n')) expect(visibleWidth(l)).toBeLessThanOrEqual(60);
    const forced = dashboard(['--cwd', dir, '--width', '60'], { FORCE_COLOR: '1' });
    expect(forced.status).toBe(0);
    expect(forced.stdout).toContain(`${ESC}[`);
    expect(stripAnsi(forced.stdout)).toBe(plain.stdout);
    // A pipe without FORCE_COLOR: no colour.
    expect(dashboard(['--cwd', dir]).stdout).not.toContain(ESC);
  });

  it('shows the chain trail from .autoloop/chain.json, and nothing when that file is broken', () => {
    const chainFile = repoPaths(dir).chain;
    try {
      const link = { parent: 'faster-primes', child: 'faster-primes-v2', created_at: new Date().toISOString(), parent_report_sha256: 'a'.repeat(64) };
      saveChainFile(dir, withLink(loadChainFile(dir), link, 3).file);
      const r = dashboard(['--cwd', dir, '--width', '100']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^chain {6}faster-primes → faster-primes-v2$/m);
      fs.writeFileSync(chainFile, '{"version":1,"chains":[{"trail":');
      const broken = dashboard(['--cwd', dir, '--width', '100']);
      expect(broken.status, broken.stderr).toBe(0);
      expect(broken.stdout).not.toMatch(/^chain /m);
    } finally {
      fs.rmSync(chainFile, { force: true });
    }
  });

  it('--json gives the view model', () => {
    const r = dashboard(['--cwd', dir, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as ViewModel;
    expect(m.experiment).toBe('faster-primes');
    expect(m.best.value).toBe(state.best);
    expect(m.counts).toEqual(state.counts);
    expect(m.rows.at(-1)?.run_id).toBe('r0060');
    expect(m.chart.runs).toBe(40);
  });

  it('refuses bad usage with one line and exit 2', () => {
    for (const args of [['--watch', '--json'], ['--width', 'wide'], ['--bogus'], ['--experiment', 'nope']]) {
      const r = dashboard(['--cwd', dir, ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('--watch redraws as the ledger grows and restores the terminal on SIGINT', async () => {
    const wdir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-watch-')));
    try {
      const w = syntheticLedger({ runs: 12, seed: 11 });
      writeSynthetic(wdir, w);
      const child = spawn(process.execPath, [...command('dashboard'), '--cwd', wdir, '--watch', '--width', '100'], {
        env: cleanEnv({ FORCE_COLOR: '1' }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const until = async (pred: () => boolean, what: string) => {
        const end = Date.now() + 240_000; // ends a hung test, not a speed check
        while (!pred()) {
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}; stderr: ${err}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await until(() => out.includes('r0012'), 'the first frame');
      expect(out.startsWith('\x1b[?1049h\x1b[?25l')).toBe(true);
      expect(out).not.toContain('appended while watching');

      const p = experimentPaths(wdir, w.config.name);
      const ts = new Date().toISOString();
      const best = (foldLines(emptyState(), w.lines, w.config).best ?? 1) - 1000;
      appendLedger(p.ledger, LedgerLine.parse({
        type: 'result', ts, segment: 1, run_id: 'r0013', status: 'ok', verdict: 'keep', primary: best, samples: [best, best, best],
        metrics: { ops: best }, description: 'appended while watching', reason: 'better', delta: 1000, duration_s: 2, files: ['src/a.js'],
      }));
      appendLedger(p.ledger, LedgerLine.parse({ type: 'event', ts, segment: 1, event: 'committed', run_id: 'r0013', data: { commit: 'c'.repeat(40) } }));
      await until(() => out.includes('appended while watching'), 'the appended run');
      const frame = out.slice(out.lastIndexOf('\x1b[H'));
      expect(stripAnsi(frame)).toContain(`best       ${fmt(best)} ops`);
      // Drawn in place: cursor home and clear-to-end-of-line, never a full clear.
      expect(out).not.toContain('\x1b[2J');
      expect(frame).toContain('\x1b[K');

      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(out.endsWith('\x1b[?25h\x1b[?1049l')).toBe(true);
    } finally {
      fs.rmSync(wdir, { recursive: true, force: true });
    }
  });
});

describe('--watch on a small terminal (a real pseudo-terminal, util-linux script)', () => {
  /** The last frame `dashboard --watch` draws in a terminal of rows × cols (0: a size never set), quit with q. */
  async function lastFrame(rows: number, cols: number): Promise<string[]> {
    const quote = (x: string): string => `'${x.replace(/'/g, `'\\''`)}'`;
    const cmd = `stty rows ${rows} cols ${cols} && exec ${[process.execPath, ...command('dashboard'), '--cwd', dir, '--watch'].map(quote).join(' ')}`;
    const env = cleanEnv({ FORCE_COLOR: '1', TERM: 'xterm' });
    delete env.COLUMNS;
    delete env.LINES;
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const end = Date.now() + 240_000; // ends a hung test, not a speed check
    // A whole frame: cursor home, the lines, clear-to-end-of-screen.
    while (!/\x1b\[H[^]*\x1b\[J/.test(out)) {
      if (Date.now() > end) throw new Error(`no frame at ${rows}x${cols}: ${JSON.stringify(out.slice(0, 500))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.stdin.write('q');
    expect(await exited).toBe(0);
    expect(out).toContain('\x1b[?25h\x1b[?1049l'); // the terminal restored
    const body = out.slice(out.lastIndexOf('\x1b[H') + 3, out.lastIndexOf('\x1b[J'));
    return body.split('\n').map((l) => stripAnsi(l).replace(/\r$/, ''));
  }

  it('fits every frame to the rows and leaves the last column free, so nothing wraps or scrolls', async () => {
    for (const [rows, cols] of [[10, 30], [6, 24], [3, 19], [1, 12], [24, 12]] as const) {
      const lines = await lastFrame(rows, cols);
      expect(lines.length, `${rows}x${cols}`).toBeLessThanOrEqual(rows);
      for (const l of lines) expect(visibleWidth(l), `${rows}x${cols}: ${JSON.stringify(l)}`).toBeLessThan(cols);
      expect(lines.join('\n')).toContain(cols >= 20 ? 'autoloop' : 'faster-pr');
    }
  }, 600_000);

  it('lays a terminal that reports no size (0 x 0) out for 80 x 24, not one column and every line', async () => {
    const lines = await lastFrame(0, 0);
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const l of lines) expect(visibleWidth(l), JSON.stringify(l)).toBeLessThan(80);
    expect(lines[0]).toMatch(/^autoloop faster-primes · segment 2/);
  }, 600_000);
});

describe('run index (runs.idx)', () => {
  const view = (root: string, buckets: number) => {
    const l = loadExperiment(root, syn.config.name);
    const now = Date.parse(l.state.last_ts ?? '') + 60_000;
    return viewModel(l, termination(l.state, l.config, now), [], now, buckets);
  };
  const fromLines = (buckets: number) => {
    const now = Date.parse(state.last_ts ?? '') + 60_000;
    return buildModel({ slug: syn.config.name, config: syn.config, lines: syn.lines, state, termination: termination(state, syn.config, now), chain: [], now, chartBuckets: buckets });
  };

  it('gives the model the ledger lines give, downsampled or not, and appends only what the ledger gained', () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-idx-')));
    try {
      writeSynthetic(root, syn);
      for (const buckets of [7, 200]) expect(view(root, buckets)).toEqual(fromLines(buckets));
      const idx = path.join(experimentPaths(root, syn.config.name).dir, 'runs.idx');
      const size = fs.statSync(idx).size;
      expect(size % 32).toBe(0);
      view(root, 7);
      expect(fs.statSync(idx).size).toBe(size); // nothing new: nothing appended
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('survives a crash mid-append: the torn chunk is cut off and the lines gained since are appended', () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-idx-')));
    try {
      writeSynthetic(root, syn);
      const p = experimentPaths(root, syn.config.name);
      const full = fs.readFileSync(p.ledger);
      // The ledger as it stood 25 lines ago, indexed.
      const cut = nthLineEnd(full, syn.lines.length - 25);
      fs.writeFileSync(p.ledger, full.subarray(0, cut));
      view(root, 50);
      const idx = path.join(p.dir, 'runs.idx');
      const before = fs.readFileSync(idx);
      // A crash while appending: two records and a half, no END.
      fs.appendFileSync(idx, Buffer.concat([before.subarray(0, 64), before.subarray(0, 10)]));
      fs.writeFileSync(p.ledger, full);
      for (const buckets of [7, 200]) expect(view(root, buckets)).toEqual(fromLines(buckets));
      const after = fs.readFileSync(idx);
      expect(after.length % 32).toBe(0);
      // Appended to, not rebuilt: what was indexed before is still the file's start.
      expect(after.subarray(0, before.length).equals(before)).toBe(true);
      expect(after.length).toBeGreaterThan(before.length);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('reads back lines longer than its first read (a long description)', () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-idx-')));
    try {
      const long = syntheticLedger({ runs: 12, seed: 5, descriptions: ['x'.repeat(3000), 'y'.repeat(40_000), 'short'] });
      const st = writeSynthetic(root, long).state;
      const l = loadExperiment(root, long.config.name);
      const now = Date.parse(st.last_ts ?? '') + 60_000;
      const m = viewModel(l, termination(l.state, l.config, now), [], now, 50);
      const lines = buildModel({ slug: long.config.name, config: long.config, lines: long.lines, state: st, termination: termination(st, long.config, now), chain: [], now, chartBuckets: 50 });
      expect(m).toEqual(lines);
      expect(m.rows.some((r) => r.description.length === 40_000)).toBe(true);
      expect(fs.existsSync(path.join(experimentPaths(root, long.config.name).dir, 'runs.idx'))).toBe(true); // not dropped as stale
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('draws the same one-shot terminal view from only the rows it lists (TABLE_ROWS, no earlier keeps)', () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-idx-')));
    try {
      writeSynthetic(root, syn);
      const l = loadExperiment(root, syn.config.name);
      const now = Date.parse(l.state.last_ts ?? '') + 60_000;
      const t = termination(l.state, l.config, now);
      const full = viewModel(l, t, [], now, chartDotColumns(80));
      const lean = viewModel(l, t, [], now, chartDotColumns(80), { rowsCap: TABLE_ROWS, keepsCap: 0 });
      expect(lean.rows).toHaveLength(TABLE_ROWS);
      expect(full.rows.length).toBeGreaterThan(TABLE_ROWS);
      expect(renderTerminal(lean, { width: 80, color: false })).toEqual(renderTerminal(full, { width: 80, color: false }));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('reads its records the same through an unaligned buffer', () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-idx-')));
    try {
      writeSynthetic(root, syn);
      view(root, 50);
      const recs = fs.readFileSync(path.join(experimentPaths(root, syn.config.name).dir, 'runs.idx'));
      const shifted = Buffer.alloc(recs.length + 3);
      recs.copy(shifted, 3);
      const a = recordViews(recs);
      const b = recordViews(shifted.subarray(3));
      expect(b.count).toBe(a.count);
      expect([...b.f64]).toEqual([...a.f64]);
      expect([...b.u32]).toEqual([...a.u32]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('rebuilds an index that does not match the ledger, and still draws from the ledger meanwhile', () => {
    const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-idx-')));
    try {
      writeSynthetic(root, syn);
      view(root, 50);
      const p = experimentPaths(root, syn.config.name);
      // The ledger replaced by one of the same length whose lines moved: the index points into the middle of lines.
      const text = fs.readFileSync(p.ledger, 'utf8');
      fs.writeFileSync(p.ledger, ' ' + text.slice(0, -2) + '\n');
      const m = view(root, 50);
      expect(m.segment_runs).toBe(fromLines(50).segment_runs);
      expect(fs.existsSync(path.join(p.dir, 'runs.idx'))).toBe(false); // dropped: the next call rebuilds it
      expect(view(root, 50).rows.map((r) => r.run_id)).toEqual(fromLines(50).rows.map((r) => r.run_id));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
