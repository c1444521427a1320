// A discarded run's checkpoint is on disk once: its copy under the run folder
// (runs/<id>/artifacts/) and the file a revert moved aside (rescued/<id>/)
// are two names of one file. Both places still read the same bytes, the best's
// checkpoint is back in the tree, and each retention rule removes only its own
// name: rescued/ pruned leaves the run's copy, artifacts_keep pruning leaves
// the rescued one. Through the bundled engine on real git repositories.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';

const HANG_GUARD = { timeout: 600_000 };
const REGEX = 'regex:val_loss=val_loss: ([0-9.eE+-]+)';
const COPY = '.autoloop-copy';

/** A trainer that writes a 256 KiB checkpoint filled with `fill`, and prints its loss. */
function trainer(loss: number, fill: number): string {
  return `const fs = require('node:fs');\nfs.mkdirSync('ckpt', { recursive: true });\nfs.writeFileSync('ckpt/model.bin', Buffer.alloc(262144, ${fill}));\nconsole.log('val_loss: ${loss}');\n`;
}

function step(repo: string, description: string, train: string) {
  fs.writeFileSync(path.join(repo, 'train.js'), train);
  const run = engine('run-experiment', ['--json'], repo);
  expect(run.code, run.stderr).toBe(0);
  const log = engine('log-experiment', ['--description', description, '--json'], repo);
  expect(log.code, log.stderr).toBe(0);
  return log.json as Record<string, unknown>;
}

describe('a discarded run\'s checkpoint, once on disk', HANG_GUARD, () => {
  it('is one file under two names; both read as before, and the best is back in the tree', () => {
    const repo = makeRepo({ 'train.js': trainer(1, 1), '.gitignore': 'ckpt/\n' });
    const init = engine('init-experiment', ['--name', 'ml', '--metric', 'val_loss', '--direction', 'lower', '--command', 'node train.js', '--scope', 'train.js', '--source', REGEX, '--artifacts', 'ckpt/**', '--artifacts-keep', '1', '--repeats', '1', '--json'], repo);
    expect(init.code, init.stderr).toBe(0);
    const exp = path.join(repo, '.autoloop', 'experiments', 'ml');
    expect(step(repo, 'baseline', trainer(1, 1))).toMatchObject({ verdict: 'keep' });
    expect(step(repo, 'worse', trainer(2, 2))).toMatchObject({ verdict: 'discard', artifacts_from: 'r0001' });

    const runCopy = path.join(exp, 'runs', 'r0002', 'artifacts', 'ckpt', 'model.bin');
    const rescued = path.join(exp, 'rescued', 'r0002', 'ckpt', `model.bin${COPY}`);
    const a = fs.statSync(runCopy);
    const b = fs.statSync(rescued);
    expect(a.ino).toBe(b.ino);
    expect(a.nlink).toBe(2);
    expect(fs.readFileSync(runCopy).equals(Buffer.alloc(262144, 2))).toBe(true);
    // The best's checkpoint is back in the tree, a file of its own (not a name of the best's copy).
    const tree = path.join(repo, 'ckpt', 'model.bin');
    expect(fs.readFileSync(tree).equals(Buffer.alloc(262144, 1))).toBe(true);
    expect(fs.statSync(tree).nlink).toBe(1);
    const best = path.join(exp, 'runs', 'r0001', 'artifacts', 'ckpt', 'model.bin');
    expect(fs.statSync(best).nlink).toBe(1);

    // A second discard: its own pair; artifacts_keep 1 prunes r0002's copy, the rescued name stays whole.
    expect(step(repo, 'worse again', trainer(3, 3))).toMatchObject({ verdict: 'discard' });
    expect(fs.existsSync(runCopy)).toBe(false);
    expect(fs.statSync(rescued).nlink).toBe(1);
    expect(fs.readFileSync(rescued).equals(Buffer.alloc(262144, 2))).toBe(true);
    expect(fs.statSync(path.join(exp, 'rescued', 'r0003', 'ckpt', `model.bin${COPY}`)).ino).toBe(fs.statSync(path.join(exp, 'runs', 'r0003', 'artifacts', 'ckpt', 'model.bin')).ino);
    // The best's copy is never pruned, and stays the best's bytes.
    expect(fs.readFileSync(best).equals(Buffer.alloc(262144, 1))).toBe(true);
    // Disk: the two discards' checkpoints take one file each, the best's two (its copy and the tree).
    const files = new Map<number, number>();
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.startsWith('model.bin')) files.set(fs.statSync(p).ino, fs.statSync(p).size);
      }
    };
    walk(exp);
    walk(path.join(repo, 'ckpt'));
    expect([...files.values()].reduce((x, y) => x + y, 0)).toBe(4 * 262144);
  });
});
