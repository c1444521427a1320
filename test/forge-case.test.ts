// core.ignoreCase, a line in .git/config the code under test can write: set
// to true on a filesystem that keeps case, git's status takes a new `src/V`
// for the tracked `src/v`, so a file the benchmark reads is neither seen as a
// change nor kept ("measured 1, kept what scores 45"). The engine's git
// commands use the filesystem's real answer (gitcmd.ts). Real engine, real
// repositories.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';

// Scores 1 when src/V exists, else what src/v says.
const BENCH = '. ./src/hook.sh\nif [ -f src/V ]; then echo METRIC score=1; else echo METRIC score=$(cat src/v); fi\n';

describe('core.ignoreCase planted by the code under test', () => {
  const call = (repo: string, args: string[]) => engine('run-experiment', [...args, '--json'], repo);
  const start = () => {
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(call(repo, ['--description', 'baseline']).json).toMatchObject({ verdict: 'keep' });
    return repo;
  };

  it('a file the benchmark makes beside a tracked one of the same name but case is seen: the run is invalid, never kept on 1', () => {
    const repo = start();
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'git config core.ignorecase true; echo x > src/V\n');
    const r = call(repo, ['--description', 'A']);
    expect(r.json, r.stderr).toMatchObject({ verdict: 'invalid' });
    expect(String(r.json?.reason)).toMatch(/src\/V/);
    expect(git(repo, 'config', 'core.ignorecase')).toBe('true'); // the attack took place
    expect(fs.existsSync(path.join(repo, 'src/V'))).toBe(false); // a new in-scope file of the run: moved aside by the revert
    // The loop goes on, measuring what it keeps.
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    expect(call(repo, ['--description', 'B']).json).toMatchObject({ verdict: 'keep', primary: 40 });
  });

  it('with the setting left behind, a new src/V made before the run is captured and kept with what it scored', () => {
    const repo = start();
    git(repo, 'config', 'core.ignorecase', 'true');
    fs.writeFileSync(path.join(repo, 'src/V'), 'x\n');
    const r = call(repo, ['--description', 'A']);
    expect(r.json, r.stderr).toMatchObject({ verdict: 'keep', primary: 1 });
    // What scored 1 is what the branch holds.
    expect(git(repo, '-c', 'core.ignorecase=false', 'ls-tree', '--name-only', 'HEAD', 'src/')).toContain('src/V');
  });
});
