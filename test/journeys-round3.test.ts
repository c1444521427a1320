// Journeys of a demanding user, round 3: a monorepo package's own npm script
// named from its folder, and the experiment's branch renamed by hand. Each
// through the bundled engine on a real git repository.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';

const HANG_GUARD = { timeout: 600_000 };

describe('round 3 journeys', () => {
  it("refuses `npm run bench` from a package whose script the top's package.json lacks, with the command meant", HANG_GUARD, () => {
    const repo = makeRepo({
      'package.json': '{ "name": "root", "private": true, "workspaces": ["packages/*"] }\n',
      'packages/api/package.json': '{ "name": "api", "scripts": { "bench": "node bench.js" } }\n',
      'packages/api/bench.js': "console.log('METRIC n=' + require('./src/n.json').n)\n",
      'packages/api/src/n.json': '{ "n": 3 }\n',
    });
    const pkg = path.join(repo, 'packages/api');
    const args = (command: string) => ['--name', 'api', '--metric', 'n', '--direction', 'lower', '--command', command, '--scope', 'packages/api/src/**', '--repeats', '1'];
    // Was taken, and every run crashed with "exit code 1" and no output (npm -s: the top has no such script).
    const wrong = engine('init-experiment', args('npm run -s bench'), pkg);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim()).toMatch(/runs the script bench that packages\/api defines, not the repository top .* did you mean "cd packages\/api && npm run -s bench"\?$/);
    expect(fs.existsSync(path.join(repo, '.autoloop/experiments/api'))).toBe(false);
    const meant = engine('init-experiment', [...args('cd packages/api && npm run -s bench'), '--json'], pkg);
    expect(meant.code, meant.stderr).toBe(0);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok', primary: 3 });
  });

  it('names a renamed experiment branch and the command that puts it back, in every call', HANG_GUARD, () => {
    const repo = makeRepo({ 'v.txt': '5\n', 'bench.sh': 'echo "METRIC n=$(cat v.txt)"\n' });
    const init = engine('init-experiment', ['--name', 'x', '--metric', 'n', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'v.txt', '--repeats', '1'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    git(repo, 'branch', '-m', 'autoloop/x', 'mine');
    const remedy = 'branch autoloop/x does not exist: if you renamed it, git branch -m mine autoloop/x puts it back (the tree is on mine); else init-experiment opens a new segment from the tree';
    const run = engine('run-experiment', ['--description', 'y'], repo);
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe(`run-experiment: ${remedy}`);
    // Was: "autoloop/x is not checked out (the tree belongs to another experiment)".
    const status = engine('status', ['--json'], repo);
    expect(status.json).toMatchObject({ next_action: remedy });
    expect(engine('status', [], repo).stdout).toContain('autoloop/x does not exist (the tree is on mine)');
    expect(engine('control', ['explain', '--json'], repo).json).toMatchObject({ next_action: remedy });
    // As told: the loop goes on where it was.
    git(repo, 'branch', '-m', 'mine', 'autoloop/x');
    fs.writeFileSync(path.join(repo, 'v.txt'), '4\n');
    expect(engine('run-experiment', ['--description', 'four', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
  });
});
