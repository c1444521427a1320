// The csv metric source on files written by Python's csv module the way
// PyTorch Lightning's CSVLogger writes metrics.csv (a row per step, the
// columns not logged at that step left empty), then through the engine.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CsvSourceSpec, csvSource, parseCsv } from '../scripts/lib/sources/csv.ts';
import { cleanupTmp, tmpDir } from './helpers/repo.ts';
import { engine, makeRepo } from './helpers/engine.ts';

afterAll(cleanupTmp);

// rows: (epoch, step, train_loss, val_loss); None is an empty cell.
const WRITER = (rows: string) => `
import csv, os
os.makedirs('logs', exist_ok=True)
with open('logs/metrics.csv', 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(['epoch', 'step', 'train_loss', 'val_loss', 'note, with comma'])
    for r in ${rows}:
        w.writerow(['' if v is None else v for v in r] + ['a "quoted", cell'])
`;

function written(rows: string) {
  const dir = tmpDir();
  const startedAtMs = Date.now() - 1000;
  const r = spawnSync('python3', ['-c', WRITER(rows)], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return { cwd: dir, log: { file: path.join(dir, 'none.log'), start: 0, end: 0 }, startedAtMs };
}

const spec = (extra: object = {}) => CsvSourceSpec.parse({ kind: 'csv', file: 'logs/metrics.csv', metrics: { val_loss: 'val_loss' }, ...extra });
const LIGHTNING = "[(0, 10, 2.0, None), (0, 20, 1.5, 0.9), (1, 30, 1.2, None), (1, 40, 1.0, 0.7), (2, 50, 0.9, None)]";

describe('csv source', () => {
  it('reads the last value a column holds, skipping the empty cells of other steps', async () => {
    expect(await csvSource(spec()).read(written(LIGHTNING))).toEqual({ ok: true, metrics: { val_loss: [0.7] }, warnings: [] });
    expect(await csvSource(spec({ pick: 'min', metrics: { train_loss: 'train_loss' } })).read(written(LIGHTNING))).toMatchObject({ ok: true, metrics: { train_loss: [0.9] } });
    // One column of several that holds no number is missed, the others read (the run treats it as not measured).
    expect(await csvSource(spec({ metrics: { val_loss: 'val_loss', note: 'note, with comma' } })).read(written(LIGHTNING))).toMatchObject({ ok: true, metrics: { val_loss: [0.7] }, missed: [{ metric: 'note', reason: expect.stringMatching(/note, with comma.*holds no number/) }] });
  });

  it('a last value that is NaN is no result; a missing column is named with the ones there', async () => {
    const nan = await csvSource(spec()).read(written("[(0, 1, 1.0, 0.5), (1, 2, 1.0, float('nan'))]"));
    expect(nan).toEqual({ ok: false, reason: 'csv logs/metrics.csv: the last value of val_loss is not finite (earlier rows are not the result)' });
    const missing = await csvSource(spec({ metrics: { acc: 'val_acc' } })).read(written(LIGHTNING));
    expect(missing).toEqual({ ok: false, reason: 'csv logs/metrics.csv: has no column "val_acc" (it has "epoch", "step", "train_loss", "val_loss", "note, with comma")' });
  });

  it('parses quotes, doubled quotes and CRLF as RFC 4180 says', () => {
    expect(parseCsv('a,"b, c","say ""hi"""\r\n1,2,3\r\n', ',')).toEqual([['a', 'b, c', 'say "hi"'], ['1', '2', '3']]);
  });
});

describe('csv source through the engine', () => {
  it('measures a trainer\'s metrics.csv, primary and guardrail from two columns, and never a stale file', { timeout: 600_000 }, () => {
    const train = (lr: number, write = true) => `import csv, os\nw, rows = 0.0, []\nfor i in range(10):\n    w -= ${lr} * 2 * (w - 3)\n    rows.append((i, (w - 3) ** 2 + 0.1, None if i % 2 else 100 + i))\nos.makedirs('logs', exist_ok=True)\nif ${write ? 'True' : 'False'}:\n    with open('logs/metrics.csv', 'w', newline='') as f:\n        c = csv.writer(f)\n        c.writerow(['step', 'val_loss', 'mem_mb'])\n        for r in rows: c.writerow(['' if v is None else v for v in r])\n`;
    const repo = makeRepo({ 'train.py': train(0.1), '.gitignore': 'logs/\n' });
    const init = engine('init-experiment', ['--name', 'c', '--metric', 'val_loss', '--direction', 'lower', '--command', 'python3 train.py', '--scope', 'train.py', '--source', 'csv:logs/metrics.csv:val_loss=val_loss,mem_mb=mem_mb', '--guardrail', 'mem_mb:lower:5', '--repeats', '1', '--json'], repo);
    expect(init.code, init.stderr).toBe(0);
    const base = engine('run-experiment', ['--description', 'baseline', '--json'], repo).json;
    expect(base).toMatchObject({ verdict: 'keep', metrics: { mem_mb: 108 } });
    expect(base?.primary as number).toBeCloseTo((3 * 0.8 ** 10) ** 2 + 0.1, 6);
    fs.writeFileSync(path.join(repo, 'train.py'), train(0.2));
    expect(engine('run-experiment', ['--description', 'lr 0.2', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'train.py'), train(0.3, false));
    const stale = engine('run-experiment', ['--description', 'forgets to log', '--json'], repo).json;
    expect(stale).toMatchObject({ status: 'invalid', primary: null });
    expect(String(stale?.reason)).toMatch(/csv logs\/metrics\.csv: logs\/metrics\.csv is stale/);
  });
});
