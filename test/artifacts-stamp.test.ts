// Which artifacts a run wrote is told by their stamps (inode, size, mtime,
// ctime) just before the run, not by their mtimes against the run's start:
// a checkpoint an earlier run left with a future mtime is not this run's, and
// one this run wrote with an old mtime (cp -p, tar x, rsync -t) is. Through
// the bundled engine on real git repositories.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';

// Several real engine calls per test: a guard against a hang, not a speed limit.
const HANG_GUARD = { timeout: 600_000 };

const REGEX = 'regex:val_loss=val_loss: ([0-9.eE+-]+)';
const FUTURE = new Date(Date.now() + 24 * 3600 * 1000);
const OLD = new Date('2000-01-01T00:00:00Z');

/** A trainer that writes ckpt/model.json holding w (its mtime set to `mtime` when given, as cp -p would), or none when w is null. */
function trainer(loss: number, w: number | null, mtime?: Date): string {
  const write = w === null ? '' : `fs.mkdirSync('ckpt', { recursive: true }); fs.writeFileSync('ckpt/model.json', JSON.stringify({ w: ${w} }));`;
  const age = w !== null && mtime ? `fs.utimesSync('ckpt/model.json', new Date(${mtime.getTime()}), new Date(${mtime.getTime()}));` : '';
  return `const fs = require('node:fs');\n${write}\n${age}\nconsole.log('val_loss: ${loss}');\n`;
}

function setup(train: string): string {
  const repo = makeRepo({ 'train.js': train, '.gitignore': 'ckpt/\n' });
  const init = engine('init-experiment', ['--name', 'ml', '--metric', 'val_loss', '--direction', 'lower', '--command', 'node train.js', '--scope', 'train.js', '--source', REGEX, '--artifacts', 'ckpt/**', '--repeats', '1', '--json'], repo);
  if (init.code !== 0) throw new Error(`init-experiment failed: ${init.stderr}`);
  return repo;
}

function step(repo: string, description: string, train?: string) {
  if (train !== undefined) fs.writeFileSync(path.join(repo, 'train.js'), train);
  const run = engine('run-experiment', ['--json'], repo);
  const log = engine('log-experiment', ['--description', description, '--json'], repo);
  return { run, log };
}

const record = (repo: string, id: string) =>
  JSON.parse(fs.readFileSync(path.join(repo, '.autoloop/experiments/ml/runs', id, 'result.json'), 'utf8')) as { artifacts: { files: string[] } | null; warnings: string[] };
const ckptW = (file: string) => (JSON.parse(fs.readFileSync(file, 'utf8')) as { w: number }).w;

describe('artifacts a run wrote, by stamp', HANG_GUARD, () => {
  it('does not take a checkpoint an earlier run left with a future mtime as this run\'s', () => {
    const repo = setup(trainer(1, 1));
    expect(step(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
    // The checkpoint and a file beside it, left before this run with mtimes in the future (a skewed file server).
    fs.writeFileSync(path.join(repo, 'ckpt/extra.bin'), 'earlier\n');
    for (const f of ['ckpt/model.json', 'ckpt/extra.bin']) fs.utimesSync(path.join(repo, f), FUTURE, FUTURE);

    // A discarded run that writes none leaves the files it did not write where they are.
    const worse = step(repo, 'no training, worse', trainer(2, null));
    expect(worse.log.json).toMatchObject({ verdict: 'discard', artifacts_from: 'r0001' });
    expect(worse.log.json?.artifacts_rescued).toBeUndefined();
    expect(fs.readFileSync(path.join(repo, 'ckpt/extra.bin'), 'utf8')).toBe('earlier\n');
    expect(ckptW(path.join(repo, 'ckpt/model.json'))).toBe(1);

    // A better run that writes no checkpoint keeps none: the ones in the tree are not its own.
    const better = step(repo, 'no training, better', trainer(0.5, null));
    expect(better.log.json).toMatchObject({ verdict: 'keep' });
    expect(record(repo, 'r0003').artifacts).toBeNull();
    expect(record(repo, 'r0003').warnings.join('\n')).toContain('artifacts: the run wrote no file matching ckpt/**');
  });

  it('takes a checkpoint this run wrote with an old mtime (cp -p, tar x), and puts it back after a discard', () => {
    const repo = setup(trainer(1, 1, OLD));
    expect(step(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
    expect(record(repo, 'r0001').artifacts?.files).toEqual(['ckpt/model.json']);
    expect(ckptW(path.join(repo, '.autoloop/experiments/ml/runs/r0001/artifacts/ckpt/model.json'))).toBe(1);

    // A worse run writes its checkpoint with an old mtime too: after the discard the tree holds the best's again.
    const worse = step(repo, 'worse, old mtime', trainer(2, 99, OLD));
    expect(worse.log.json).toMatchObject({ verdict: 'discard', artifacts_from: 'r0001' });
    expect(ckptW(path.join(repo, 'ckpt/model.json'))).toBe(1);
    expect(ckptW(path.join(repo, '.autoloop/experiments/ml/rescued/r0002/ckpt/model.json.autoloop-copy'))).toBe(99);
    // A logged run's stamp (one entry per artifact file) is not kept: the run folders stay small.
    for (const r of ['r0001', 'r0002']) expect(fs.existsSync(path.join(repo, `.autoloop/experiments/ml/runs/${r}/artifacts-before.json`)), r).toBe(false);
  });
});
