// Issue 11, class 4: a file name that is not valid UTF-8 (git reports its raw
// bytes; decoded, the name finds no file). It was taken for a deletion: the
// run measured the file, the keep left it out, and every later run listed it
// again. Refused with its reason instead. Real engine, git repository, processes.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';

describe('a file name that is not valid UTF-8 in scope', () => {
  it('makes the run invalid with its reason; renamed, it is measured and kept', () => {
    const repo = makeRepo({ 'bench.sh': 'echo METRIC score=$(cat src/v)\n', 'src/v': '10\n' });
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo).code).toBe(0);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok' });
    expect(engine('log-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    const bad = Buffer.concat([Buffer.from(path.join(repo, 'src', 'bad')), Buffer.from([0xff]), Buffer.from('name')]);
    fs.writeFileSync(bad, 'x\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '5\n');
    const r = engine('run-experiment', ['--json'], repo);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.json).toMatchObject({ status: 'invalid' });
    expect(String(r.json?.reason)).toMatch(/not valid UTF-8/);
    expect(engine('log-experiment', ['--description', 'bad name', '--json'], repo).json).toMatchObject({ verdict: 'invalid' });
    fs.renameSync(bad, path.join(repo, 'src', 'goodname'));
    fs.writeFileSync(path.join(repo, 'src/v'), '5\n');
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok', primary: 5 });
    expect(engine('log-experiment', ['--description', 'renamed', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'autoloop/exp:src/goodname')).toBe('x');
  });
});
