// A result file named by a glob: PyTorch Lightning's CSVLogger writes
// lightning_logs/version_N/metrics.csv, a new folder per training, so no
// fixed path names this run's file. The one matching file the sample wrote is
// read; the earlier trainings' files (lower losses among them) never are.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { engine, git, makeRepo } from './helpers/engine.ts';

// A training in the shape of Lightning's CSVLogger: the next free version_N folder, a metrics.csv in it.
const TRAIN = `const fs = require('node:fs');
const lr = Number(fs.readFileSync('lr.txt', 'utf8'));
let v = 0;
while (fs.existsSync('lightning_logs/version_' + v)) v++;
const dir = 'lightning_logs/version_' + v;
fs.mkdirSync(dir, { recursive: true });
if (lr > 0) {
  const rows = ['epoch,step,train_loss,val_loss'];
  for (let e = 0; e < 3; e++) rows.push(e + ',' + (e * 10) + ',' + (1 / (1 + lr * (e + 1))).toFixed(4) + ',');
  rows.push('2,30,,' + (1 / (1 + lr * 3)).toFixed(4));
  fs.writeFileSync(dir + '/metrics.csv', rows.join('\\n') + '\\n');
}
`;

describe('a source file named by a glob (the version_N folders of Lightning)', { timeout: 600_000 }, () => {
  it('reads the file this run wrote, never one of an earlier training; none written is invalid, naming the glob', () => {
    const dir = makeRepo({ 'train.js': TRAIN, 'lr.txt': '1\n', '.gitignore': 'lightning_logs/\n' });
    // A trial run before init, with a far better loss than any run will reach.
    fs.mkdirSync(path.join(dir, 'lightning_logs/version_0'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'lightning_logs/version_0/metrics.csv'), 'epoch,step,train_loss,val_loss\n9,90,,0.0001\n');
    const init = engine('init-experiment', ['--name', 'l', '--metric', 'val_loss', '--direction', 'lower', '--command', 'node train.js', '--scope', 'lr.txt', '--source', 'csv:lightning_logs/version_*/metrics.csv:val_loss=val_loss', '--repeats', '1', '--json'], dir);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], dir).json).toMatchObject({ verdict: 'keep', primary: 0.25 });
    fs.writeFileSync(path.join(dir, 'lr.txt'), '3\n');
    expect(engine('run-experiment', ['--description', 'lr 3', '--json'], dir).json).toMatchObject({ verdict: 'keep', primary: 0.1 });
    fs.writeFileSync(path.join(dir, 'lr.txt'), '2\n');
    expect(engine('run-experiment', ['--description', 'lr 2', '--json'], dir).json).toMatchObject({ verdict: 'discard', primary: 0.1429 });
    // A training that writes no metrics: the earlier folders are not its result.
    fs.writeFileSync(path.join(dir, 'lr.txt'), '0\n');
    const none = engine('run-experiment', ['--description', 'lr 0', '--json'], dir);
    expect(none.json).toMatchObject({ verdict: 'invalid' });
    const reason = (JSON.parse(fs.readFileSync(path.join(dir, '.autoloop/experiments/l/runs/r0004/result.json'), 'utf8')) as { reason: string }).reason;
    expect(reason).toContain('csv lightning_logs/version_*/metrics.csv: no file matching lightning_logs/version_*/metrics.csv was written by this sample');
  });

  it('two matching files written by one sample are refused; a glob over tracked files is refused at init', () => {
    const dir = makeRepo({ 'w.js': "const fs = require('fs'); for (const d of ['a', 'b']) { fs.mkdirSync('out/' + d, { recursive: true }); fs.writeFileSync('out/' + d + '/m.json', '{\"v\": 1}'); }\n", 'x.txt': '1\n', '.gitignore': 'out/\n' });
    expect(engine('init-experiment', ['--name', 'g', '--metric', 'v', '--direction', 'lower', '--command', 'node w.js', '--scope', 'x.txt', '--source', 'json:out/*/m.json:v=v', '--repeats', '1'], dir).code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], dir).json).toMatchObject({ verdict: 'invalid' });
    const reason = (JSON.parse(fs.readFileSync(path.join(dir, '.autoloop/experiments/g/runs/r0001/result.json'), 'utf8')) as { reason: string }).reason;
    expect(reason).toContain('json out/*/m.json: 2 files matching out/*/m.json were written by this sample ("out/a/m.json", "out/b/m.json"): which one is the result cannot be told; narrow the glob');
    const tracked = makeRepo({ 'res/a.json': '{}\n', 'x.txt': '1\n' });
    git(tracked, 'add', '-A');
    const bad = engine('init-experiment', ['--name', 't', '--metric', 'v', '--direction', 'lower', '--command', 'true', '--scope', 'x.txt', '--source', 'json:res/*.json:v=v'], tracked);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--source reads res\/\*\.json, which git tracks \(res\/a\.json\)/);
  });
});
