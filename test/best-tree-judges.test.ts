// The best is re-measured in a worktree of its commit (best-tree.ts). Its
// judges must be the ones the candidate is measured with: the user's tree's,
// whatever git holds of them. Three shapes where they were not, each a noisy
// benchmark (so the best is measured beside the candidate), each through the
// bundled engine on a real repository.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const HANG_GUARD = { timeout: 600_000 };
const NOISY = (expr: string) => `import random\nfrom model import LOSS\nprint('METRIC loss=%f' % (${expr} * (1 + random.random() * 0.01)))\n`;
const init = (repo: string, command: string, scope: string) =>
  engine('init-experiment', ['--name', 'j', '--metric', 'loss', '--direction', 'lower', '--command', command, '--scope', scope, '--json'], repo);

interface Inv { arm: 'best' | 'candidate'; samples: number[] }
const bestReadings = (repo: string, run: string) =>
  (JSON.parse(fs.readFileSync(path.join(repo, '.autoloop/experiments/j/runs', run, 'result.json'), 'utf8')) as { invocations: Inv[] }).invocations
    .filter((i) => i.arm === 'best').flatMap((i) => i.samples);

describe("the best's tree judges with the user's judges", () => {
  it('runs a benchmark kept under .autoloop/ (as the setup skill writes it) for the best too', HANG_GUARD, () => {
    const repo = makeRepo({ 'v.txt': '10\n' });
    fs.mkdirSync(path.join(repo, '.autoloop'));
    fs.writeFileSync(path.join(repo, '.autoloop/bench.sh'), 'echo "METRIC loss=$(( $(cat v.txt) * 1000 + RANDOM % 5 ))"\n');
    expect(init(repo, 'bash .autoloop/bench.sh', 'v.txt').code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'v.txt'), '5\n');
    // Was: "re-measuring the best failed: exit code 127" (no .autoloop/bench.sh in the best's worktree).
    expect(engine('run-experiment', ['--description', 'halve', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
  });

  it('measures the best with its own code beside an untracked Python judge (no import through the link)', HANG_GUARD, () => {
    const repo = makeRepo({ 'model.py': 'LOSS = 1.0\n# one\n# two\n' });
    fs.writeFileSync(path.join(repo, 'evaluate.py'), NOISY('LOSS'));
    expect(init(repo, 'python3 evaluate.py', 'model.py').code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    // 100 times worse, and two lines shorter: measured against itself it was kept as a tie.
    fs.writeFileSync(path.join(repo, 'model.py'), 'LOSS = 100.0\n');
    const r = engine('run-experiment', ['--description', 'simpler', '--json'], repo);
    expect(r.json).toMatchObject({ verdict: 'discard' });
    expect(Math.max(...bestReadings(repo, 'r0002'))).toBeLessThan(2);
    expect(git(repo, 'show', 'HEAD:model.py')).toBe('LOSS = 1.0\n# one\n# two');
  });

  it('measures the best with a judge edited but not committed when the segment opened', HANG_GUARD, () => {
    const repo = makeRepo({ 'model.py': 'LOSS = 1.0\n', 'evaluate.py': NOISY('LOSS') });
    fs.writeFileSync(path.join(repo, 'evaluate.py'), NOISY('LOSS * 100'));
    expect(init(repo, 'python3 evaluate.py', 'model.py').code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'model.py'), 'LOSS = 0.5\n');
    // Was discarded: the best ran the committed evaluate.py (1.0 against the candidate's 50).
    expect(engine('run-experiment', ['--description', 'halve', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    expect(Math.min(...bestReadings(repo, 'r0002'))).toBeGreaterThan(99);
  });

  it("copies them into a parallel candidate's worktree too", HANG_GUARD, () => {
    const repo = makeRepo({ 'v.txt': '10\n' });
    fs.mkdirSync(path.join(repo, '.autoloop'));
    fs.writeFileSync(path.join(repo, '.autoloop/bench.sh'), 'echo "METRIC loss=$(( $(cat v.txt) * 1000 + RANDOM % 5 ))"\n');
    expect(engine('init-experiment', ['--name', 'j', '--metric', 'loss', '--direction', 'lower', '--command', 'bash .autoloop/bench.sh', '--scope', 'v.txt', '--parallel', '2'], repo).code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    const c = engine('candidate', ['start', '--json'], repo).json as { candidate: string; path: string };
    fs.writeFileSync(path.join(c.path, 'v.txt'), '5\n');
    // Was invalid: ".autoloop/bench.sh changed since the segment opened" (the worktree had none).
    expect(engine('run-experiment', ['--candidate', c.candidate, '--json'], repo).json).toMatchObject({ status: 'ok' });
    expect(engine('log-experiment', ['--candidate', c.candidate, '--description', 'halve', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
  });

  it("keeps a judge that is a link of the user's a link there (its imports beside the target)", HANG_GUARD, () => {
    // The judge imports helper.py from its target's folder: a copy at the top would find none.
    const repo = makeRepo({ 'tools/evaluate.py': `import sys, os\nfrom helper import K\nsys.path.insert(0, os.getcwd())\n${NOISY('LOSS * K')}`, 'tools/helper.py': 'K = 2\n', 'model.py': 'LOSS = 1.0\n' });
    fs.symlinkSync('tools/evaluate.py', path.join(repo, 'evaluate.py'));
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'link');
    expect(init(repo, 'python3 evaluate.py', 'model.py').code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'model.py'), 'LOSS = 0.5\n');
    expect(engine('run-experiment', ['--description', 'halve', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    expect(Math.min(...bestReadings(repo, 'r0002'))).toBeGreaterThan(1.9);
  });

  it("keeps a folder of the user's linked out of the repository a link in a parallel candidate's tree", HANG_GUARD, () => {
    // tools -> ../shared/tools, committed; the judge reads a file beside itself there.
    const top = fs.realpathSync(tmpDir('autoloop-folder-out-'));
    const shared = path.join(top, 'shared/tools');
    fs.mkdirSync(shared, { recursive: true });
    fs.writeFileSync(path.join(shared, 'bench.sh'), 'echo "METRIC loss=$(( $(cat v.txt) * $(cat "$(dirname "$0")/scale.dat") ))"\n');
    fs.writeFileSync(path.join(shared, 'scale.dat'), '3\n');
    const repo = path.join(top, 'repo');
    fs.mkdirSync(repo);
    fs.writeFileSync(path.join(repo, 'v.txt'), '10\n');
    fs.symlinkSync('../shared/tools', path.join(repo, 'tools'));
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'initial');
    expect(engine('init-experiment', ['--name', 'j', '--metric', 'loss', '--direction', 'lower', '--command', 'sh tools/bench.sh', '--scope', 'v.txt', '--parallel', '2'], repo).code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 30 });
    const c = engine('candidate', ['start', '--json'], repo).json as { candidate: string; path: string };
    fs.writeFileSync(path.join(c.path, 'v.txt'), '5\n');
    // Was invalid: "tools/bench.sh changed since the segment opened" (a copy in a folder of links, fingerprinted as a plain file).
    expect(engine('run-experiment', ['--candidate', c.candidate, '--json'], repo).json).toMatchObject({ status: 'ok', primary: 15 });
    expect(fs.readlinkSync(path.join(c.path, 'tools'))).toBe(shared);
    expect(engine('log-experiment', ['--candidate', c.candidate, '--description', 'halve', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
  });
});
