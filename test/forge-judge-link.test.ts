// A judge with a second name: a hard link made by a command that ran without
// the read-only setup (here a `pidns` run; or one the user had). The read-only
// bind covers the judge's own name only, so under `readonly` a write by the
// other name still reached the judge's bytes: the guard found it afterwards,
// but "the judges cannot be written at all" did not hold. Before each run the
// judge now gets an inode of its own. Real engine, real namespaces.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

describe('a hard link to a judge', () => {
  it('made in a pidns run, cannot write the judge in a readonly run', () => {
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    // Without the read-only setup the link can be made (the run is invalid: the judge's ctime moved), and it stays.
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'ln bench.sh .judge-link\n');
    engine('run-experiment', ['--description', 'link', '--json'], repo, { AUTOLOOP_CONTAINMENT: 'pidns' });
    const bench = path.join(repo, 'bench.sh');
    const link = path.join(repo, '.judge-link');
    expect(fs.statSync(link).ino).toBe(fs.statSync(bench).ino);
    // Under readonly the benchmark writes by the other name.
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), `printf 'echo METRIC score=1\\n' > .judge-link 2>/dev/null\n`);
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    const r = engine('run-experiment', ['--description', 'A', '--json'], repo, { AUTOLOOP_CONTAINMENT: 'readonly' });
    expect(r.json, r.stderr).toMatchObject({ status: 'ok', verdict: 'keep', primary: 40 });
    expect(fs.readFileSync(bench, 'utf8')).toBe(BENCH);
    expect(fs.statSync(link).ino).not.toBe(fs.statSync(bench).ino);
  });
});
