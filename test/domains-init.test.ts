// What init tells a user setting up a domain loop, through the bundled engine
// on real git repositories: the evaluation code in the scope is named in a
// warning whether or not the commands name it (the trainer imports it), and a
// scope of tests (a coverage loop) is not mistaken for one.
import { describe, expect, it } from 'vitest';
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
