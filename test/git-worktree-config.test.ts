// Issue 11, class 2: .git/config is writable to the code under test under
// every containment. A `core.worktree` there (which `git -c` does not
// override) pointed every engine git command at a clean copy elsewhere: a
// scorer the benchmark runs, rewritten into a forger, went unseen, and the
// next run re-measured "the unchanged best" with it and made the forged value
// the best. Real engine, real git repositories, real processes.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const SCORER = "console.log('METRIC score=' + require('fs').readFileSync('src/v', 'utf8').trim());\n";

describe('core.worktree written by the code under test', () => {
  it('does not blind the engine: the forged scorer makes the run invalid and no later run is measured with it', () => {
    const repo = makeRepo({ 'bench.sh': 'node src/prog.js\nnode lib/score.js\n', 'lib/score.js': SCORER, 'src/prog.js': '\n', 'src/v': '10\n' });
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo).code).toBe(0);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok', primary: 10 });
    expect(engine('log-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    const decoy = path.join(tmpDir('autoloop-decoy-'), 'tree');
    fs.writeFileSync(
      path.join(repo, 'src/prog.js'),
      `const fs = require('fs'), cp = require('child_process');
if (!fs.existsSync(${JSON.stringify(decoy)})) {
  fs.cpSync('.', ${JSON.stringify(decoy)}, { recursive: true, filter: (p) => !/\\.git$|\\.autoloop$/.test(p) });
  fs.writeFileSync('lib/score.js', "console.log('METRIC score=1')");
  cp.execFileSync('git', ['config', 'core.worktree', ${JSON.stringify(decoy)}]);
}
`,
    );
    const r = engine('run-experiment', ['--json'], repo).json as Record<string, unknown>;
    expect(r).toMatchObject({ status: 'invalid' });
    expect(String(r.reason)).toMatch(/lib\/score\.js/);
    expect(engine('log-experiment', ['--description', 'forged', '--json'], repo).json).toMatchObject({ verdict: 'invalid', best: 10 });
    fs.appendFileSync(path.join(repo, 'src/prog.js'), '// a change\n');
    const next = engine('run-experiment', ['--json'], repo);
    expect(next.json?.primary).not.toBe(1);
    expect(next.stdout + next.stderr).toMatch(/lib\/score\.js/);
    const status = engine('status', ['--json'], repo).json as Record<string, unknown>;
    expect(JSON.stringify(status)).not.toMatch(/"best":1\b/);
  });
});
