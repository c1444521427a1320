// Issue 11, classes 1 and 4: run-experiment writes the measured content to
// git's object store as blobs nothing refers to yet. A benchmark that runs
// `git prune` (or `git gc --prune=now`) deleted them, the keep committed a tree
// naming missing blobs, and every later call failed on "unable to read <id>",
// control repair included. Real engine, real git repositories, real processes.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';

describe('a benchmark that prunes git objects', () => {
  it('the keep commits the measured content whole, and the loop goes on', () => {
    const repo = makeRepo({ 'bench.sh': 'sh src/prog.sh\necho METRIC score=$(cat src/v)\n', 'src/prog.sh': ':\n', 'src/v': '10\n' });
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo).code).toBe(0);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok' });
    expect(engine('log-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/prog.sh'), 'git prune --expire=now\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '5\n');
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok', primary: 5 });
    expect(engine('log-experiment', ['--description', 'prune', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    const fsck = spawnSync('git', ['fsck', '--no-dangling'], { cwd: repo, encoding: 'utf8' });
    expect(fsck.stdout + fsck.stderr).not.toMatch(/missing/);
    expect(git(repo, 'show', 'autoloop/exp:src/v')).toBe('5');
    fs.writeFileSync(path.join(repo, 'src/prog.sh'), ':\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '4\n');
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok', primary: 4 });
  });
});
