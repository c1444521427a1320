// A parallel candidate's worktree sees what the serial loop's benchmark reads
// and git does not hold: a real Python venv (ignored, its python and the module
// it installs) and an untracked data/ folder, linked from the user's tree as
// the best's tree has them. Before, the candidate's worktree had the venv's
// python alone (placed as a judge) and no data/: its first run crashed where
// the serial loop measured. The links reach the user's own files (nothing is
// copied; the keep commits the in-scope change only). Real repository, a real
// venv, the bundled engine.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engine, git, makeRepo, ROOT } from './helpers/engine.ts';

const SLOW = 900_000;
const ENV = { AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-untracked-${process.pid}`) };
afterAll(() => fs.rmSync(ENV.AUTOLOOP_TIMING_DIR, { recursive: true, force: true }));

// score = V (the code under test) × the words in data/input.txt × what the venv's module says.
const BENCH = 'import sys\nsys.path.insert(0, ".")\nimport vmod\nfrom src import m\nn = len(open("data/input.txt").read().split())\nprint("METRIC score=%s" % (m.V * n * vmod.K))\n';

describe('a candidate worktree and the untracked inputs', () => {
  it('runs the benchmark with the venv and data/ the serial loop uses, and keeps only the in-scope change', () => {
    const dir = makeRepo({ 'bench.py': BENCH, 'src/__init__.py': '', 'src/m.py': 'V = 100\n', '.gitignore': '.venv/\n' });
    const venv = spawnSync('python3', ['-m', 'venv', '--without-pip', '.venv'], { cwd: dir, encoding: 'utf8' });
    expect(venv.status, venv.stderr).toBe(0);
    const purelib = spawnSync(path.join(dir, '.venv/bin/python'), ['-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { cwd: dir, encoding: 'utf8' }).stdout.trim();
    fs.writeFileSync(path.join(purelib, 'vmod.py'), 'K = 2\n');
    fs.mkdirSync(path.join(dir, 'data'));
    fs.writeFileSync(path.join(dir, 'data/input.txt'), 'a b c\n');

    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', '.venv/bin/python bench.py', '--scope', 'src/**', '--repeats', '1', '--parallel', '2', '--parallel-timing', 'parallel', '--json'], dir, ENV);
    expect(init.code, init.stderr).toBe(0);
    const base = engine('run-experiment', ['--description', 'baseline', '--json'], dir, ENV);
    expect(base.json?.primary, base.stdout + base.stderr).toBe(600);

    const start = engine('candidate', ['start', '--json'], dir, ENV);
    expect(start.code, start.stderr).toBe(0);
    const { candidate: id, path: tree } = start.json as { candidate: string; path: string };
    expect(fs.lstatSync(path.join(tree, 'data')).isSymbolicLink()).toBe(true);
    expect(fs.realpathSync(path.join(tree, 'data/input.txt'))).toBe(fs.realpathSync(path.join(dir, 'data/input.txt')));
    fs.writeFileSync(path.join(tree, 'src/m.py'), 'V = 90\n');
    const run = engine('run-experiment', ['--candidate', id, '--json'], dir, ENV);
    expect(run.json?.status, run.stdout + run.stderr).toBe('ok');
    expect(run.json?.primary).toBe(540);
    const log = engine('log-experiment', ['--candidate', id, '--description', 'ninety', '--json'], dir, ENV);
    expect(log.json?.verdict, log.stdout + log.stderr).toBe('keep');
    expect(git(dir, 'show', '--name-only', '--format=', 'HEAD').trim()).toBe('src/m.py');
    expect(fs.readFileSync(path.join(dir, 'data/input.txt'), 'utf8')).toBe('a b c\n');
    expect(fs.lstatSync(path.join(dir, 'data')).isDirectory()).toBe(true);
    expect(fs.existsSync(path.join(purelib, 'vmod.py'))).toBe(true);

    // control clear rescues a candidate's change, not the links to the user's folders.
    const next = engine('candidate', ['start', '--json'], dir, ENV).json as { path: string };
    fs.writeFileSync(path.join(next.path, 'src/m.py'), 'V = 80\n');
    expect(engine('control', ['clear'], dir, ENV).code).toBe(0);
    const rescued = path.join(dir, '.autoloop/experiments/exp/rescued');
    const saved = fs.readdirSync(rescued, { recursive: true }).map(String).sort();
    expect(saved.filter((f) => f.endsWith('.autoloop-copy'))).toEqual([expect.stringMatching(/src\/m\.py\.autoloop-copy$/)]);
    expect(fs.readFileSync(path.join(dir, 'data/input.txt'), 'utf8')).toBe('a b c\n');
  }, SLOW);
});
