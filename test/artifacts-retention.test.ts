// The artifacts retention rule at 10,000 runs and beyond: the copies of the best
// and of the latest `artifacts_keep` runs stay. Run ids sorted as text put
// r9999 after r10000, so the newest run's copies were pruned and an old one's
// kept. Pruning reads the runs that hold copies (marks in runs/.artifacts/),
// not every run folder. Real engine runs on a ledger of 9,998 earlier results.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';

const REGEX = 'regex:val_loss=val_loss: ([0-9.eE+-]+)';
const trainer = (loss: number, fill: number) =>
  `const fs = require('node:fs');\nfs.mkdirSync('ckpt', { recursive: true });\nfs.writeFileSync('ckpt/model.bin', Buffer.alloc(4096, ${fill}));\nconsole.log('val_loss: ${loss}');\n`;

describe('artifacts retention past r9999', { timeout: 900_000 }, () => {
  it('keeps the newest run\'s copies and the best\'s, prunes the older ones', () => {
    const repo = makeRepo({ 'train.js': trainer(5000, 1), '.gitignore': 'ckpt/\n' });
    const init = engine('init-experiment', ['--name', 'ml', '--metric', 'val_loss', '--direction', 'lower', '--command', 'node train.js', '--scope', 'train.js', '--source', REGEX, '--artifacts', 'ckpt/**', '--artifacts-keep', '1', '--repeats', '1', '--max-runs', 'none', '--plateau', 'none'], repo);
    expect(init.code, init.stderr).toBe(0);
    const exp = path.join(repo, '.autoloop', 'experiments', 'ml');
    // 9,998 earlier results (no copies of their own), as a long loop leaves them.
    const head = git(repo, 'rev-parse', 'HEAD');
    const lines: string[] = [];
    for (let i = 1; i <= 9998; i++) {
      const run_id = `r${String(i).padStart(4, '0')}`;
      const keep = true; // improving all along: the loop's health stays good
      const ts = new Date(Date.now() - (10_000 - i) * 1000).toISOString();
      lines.push(JSON.stringify({ type: 'result', ts, segment: 1, run_id, status: 'ok', verdict: keep ? 'keep' : 'discard', primary: 1000 - i / 100, samples: [1000 - i / 100], metrics: { val_loss: 1000 - i / 100 }, description: `idea ${i}`, reason: 'improved', delta: i === 1 ? null : 0.01, duration_s: 1, kind: i === 1 ? 'none' : 'improved' }));
      lines.push(JSON.stringify({ type: 'event', ts, segment: 1, event: keep ? 'committed' : 'reverted', run_id, data: keep ? { commit: head } : {} }));
    }
    fs.appendFileSync(path.join(exp, 'ledger.jsonl'), lines.join('\n') + '\n');
    const step = (d: string, train: string, verdict: string) => {
      fs.writeFileSync(path.join(repo, 'train.js'), train);
      const r = engine('run-experiment', ['--description', d, '--json'], repo);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json).toMatchObject({ verdict });
      return r.json?.run_id;
    };
    expect(step('better', trainer(2, 2), 'keep')).toBe('r9999');
    expect(step('better still', trainer(1, 3), 'keep')).toBe('r10000');
    expect(step('worse', trainer(3, 4), 'discard')).toBe('r10001');
    const copies = (run: string) => fs.existsSync(path.join(exp, 'runs', run, 'artifacts', 'ckpt', 'model.bin'));
    // The best (r10000) and the newest (r10001) keep their copies; r9999 is pruned.
    expect(copies('r10000')).toBe(true);
    expect(copies('r10001')).toBe(true);
    expect(copies('r9999')).toBe(false);
    expect(fs.readFileSync(path.join(repo, 'ckpt', 'model.bin')).equals(Buffer.alloc(4096, 3))).toBe(true);
    // What pruning reads: the runs that hold copies, marked, not 10,001 folders.
    expect(fs.readdirSync(path.join(exp, 'runs', '.artifacts')).sort()).toEqual(['.complete', 'r10000', 'r10001']);
  });

  it('an older history without the marks: its run folders are scanned once, then marked', () => {
    const repo = makeRepo({ 'train.js': trainer(5, 1), '.gitignore': 'ckpt/\n' });
    expect(engine('init-experiment', ['--name', 'ml', '--metric', 'val_loss', '--direction', 'lower', '--command', 'node train.js', '--scope', 'train.js', '--source', REGEX, '--artifacts', 'ckpt/**', '--artifacts-keep', '1', '--repeats', '1'], repo).code).toBe(0);
    const exp = path.join(repo, '.autoloop', 'experiments', 'ml');
    const step = (train: string) => {
      fs.writeFileSync(path.join(repo, 'train.js'), train);
      expect(engine('run-experiment', ['--description', 'x', '--json'], repo).code).toBe(0);
    };
    step(trainer(5, 1));
    step(trainer(4, 2));
    fs.rmSync(path.join(exp, 'runs', '.artifacts'), { recursive: true });
    step(trainer(6, 3));
    const copies = (run: string) => fs.existsSync(path.join(exp, 'runs', run, 'artifacts'));
    expect([copies('r0001'), copies('r0002'), copies('r0003')]).toEqual([false, true, true]);
    expect(fs.readdirSync(path.join(exp, 'runs', '.artifacts')).sort()).toEqual(['.complete', 'r0002', 'r0003']);
  });
});
