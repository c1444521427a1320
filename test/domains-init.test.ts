// What init tells a user setting up a domain loop, through the bundled engine
// on real git repositories: the evaluation code in the scope is named in a
// warning whether or not the commands name it (the trainer imports it), and a
// scope of tests (a coverage loop) is not mistaken for one; and a log the
// benchmark writes is its output, not a judge.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';

const HANG_GUARD = { timeout: 600_000 };

const ML = {
  'train.py': "import evaluate\nprint('val_loss: 1.0')\n",
  'evaluate.py': 'def val_loss(w):\n    return (w - 3) ** 2\n',
  'model.py': 'W = 0\n',
};
const REGEX = 'regex:val_loss=val_loss: ([0-9.eE+-]+)';

function init(files: Record<string, string>, args: string[]) {
  const repo = makeRepo(files);
  return engine('init-experiment', ['--name', 'd', '--json', ...args], repo);
}

describe('init warns of the evaluation code in the scope', HANG_GUARD, () => {
  it('names an evaluation module the trainer imports, listed or globbed into the scope', () => {
    for (const scope of [['--scope', 'train.py', '--scope', 'evaluate.py'], ['--scope', '*.py']]) {
      const r = init(ML, ['--metric', 'val_loss', '--direction', 'lower', '--command', 'python3 train.py', '--source', REGEX, ...scope]);
      expect(r.code, r.stderr).toBe(0);
      const warnings = r.json?.warnings as string[];
      expect(warnings.filter((w) => w.includes('like evaluation code')), scope.join(' ')).toEqual([
        'evaluate.py looks like evaluation code and is in the scope: the loop could change how it is graded; narrow --scope or --protect it',
      ]);
    }
  });

  it('says nothing when the evaluation is protected or out of the scope, nor of the tests a coverage loop writes', () => {
    const out = init(ML, ['--metric', 'val_loss', '--direction', 'lower', '--command', 'python3 train.py', '--source', REGEX, '--scope', 'train.py', '--scope', 'model.py']);
    expect(out.json?.warnings).toEqual([]);
    const prot = init(ML, ['--metric', 'val_loss', '--direction', 'lower', '--command', 'python3 train.py', '--source', REGEX, '--scope', '*.py', '--protect', 'evaluate.py']);
    expect(prot.json?.warnings).toEqual([]);
    const cov = init({ 'cov.js': "console.log('METRIC lines_pct=1')\n", 'test/a.test.js': '\n', 'test/b.spec.js': '\n' }, ['--metric', 'lines_pct', '--direction', 'higher', '--command', 'node cov.js', '--scope', 'test/**']);
    expect(cov.json?.warnings).toEqual([]);
  });
});

// A karpathy-style loop: the benchmark writes the training's log and reads the
// metric back from it. The log a manual trial run left before init is the
// benchmark's output, not a judge: never read-only, never "changed", never read stale.
const KP_TRAIN = (lr: number) => `import prepare\nLR = ${lr}\nw = 0.0\nfor i in range(10): w -= LR * 2 * (w - 3)\nprint(f"val_bpb: {prepare.evaluate(w):.6f}")\n`;

describe('a benchmark that writes its own log and reads it back', HANG_GUARD, () => {
  for (const command of ["python3 train.py > run.log 2>&1; grep '^val_bpb:' run.log", 'python3 train.py 2>&1 | tee train.log']) {
    it(`measures every run afresh, a log left before init notwithstanding: ${command}`, () => {
      const log = command.includes('tee') ? 'train.log' : 'run.log';
      const repo = makeRepo({ 'train.py': KP_TRAIN(0.1), 'prepare.py': 'def evaluate(w):\n    return (w - 3) ** 2 + 0.5\n', '.gitignore': `${log}\n__pycache__/\n` });
      // The user tried the command once by hand: its log is there, with an old figure.
      fs.writeFileSync(path.join(repo, log), 'val_bpb: 0.123456\n');
      const init = engine('init-experiment', ['--name', 'kp', '--metric', 'val_bpb', '--direction', 'lower', '--command', command, '--scope', 'train.py', '--protect', 'prepare.py', '--source', 'regex:val_bpb=^val_bpb: ([0-9.eE+-]+)', '--repeats', '1', '--json'], repo);
      expect(init.code, init.stderr).toBe(0);
      expect(init.json).toMatchObject({ protect: ['prepare.py'], mutable: ['train.py'] });
      const base = engine('run-experiment', ['--description', 'baseline', '--json'], repo).json;
      expect(base).toMatchObject({ status: 'ok', verdict: 'keep' });
      expect(base?.primary as number).toBeCloseTo((3 * 0.8 ** 10) ** 2 + 0.5, 5);
      fs.writeFileSync(path.join(repo, 'train.py'), KP_TRAIN(0.2));
      const better = engine('run-experiment', ['--description', 'lr 0.2', '--json'], repo).json;
      expect(better).toMatchObject({ status: 'ok', verdict: 'keep' });
      expect(better?.primary as number).toBeCloseTo((3 * 0.6 ** 10) ** 2 + 0.5, 5);
    });
  }
});
