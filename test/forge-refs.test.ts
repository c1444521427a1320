// The experiment's branch ref made a symbolic ref by the code under test
// (`git symbolic-ref refs/heads/autoloop/exp refs/heads/main`): git reads it,
// but every later check and update of the branch went to main; every call,
// `control repair` too, refused with "the work tree is on main". It is put
// back as the phase found it, the run invalid. Real engine, real repositories.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

describe("the experiment's branch made a symbolic ref by the benchmark", () => {
  for (const [how, first] of [
    ['a loose ref', ''],
    ['a packed ref', 'git pack-refs --all; '],
  ] as const) it(`(${how}) is put back: the run is invalid, main never moves, and the loop goes on`, () => {
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    const main = git(repo, 'rev-parse', 'main');
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    const iterate = (d: string) => engine('run-experiment', ['--description', d, '--json'], repo);
    expect(iterate('baseline').json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    expect(iterate('A').json).toMatchObject({ verdict: 'keep' });
    if (first) git(repo, 'pack-refs', '--all');
    fs.writeFileSync(path.join(repo, 'src/v'), '45\n');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'git symbolic-ref refs/heads/autoloop/exp refs/heads/main\n');
    const r = iterate('B');
    expect(r.json, r.stderr).toMatchObject({ verdict: 'invalid' });
    expect(String(r.json?.reason)).toMatch(/refs\/heads\/autoloop\/exp unreadable or redirected/);
    expect(git(repo, 'symbolic-ref', '-q', 'HEAD')).toBe('refs/heads/autoloop/exp');
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '30\n');
    expect(iterate('C').json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'autoloop/exp:src/v')).toBe('30');
    expect(git(repo, 'rev-parse', 'main')).toBe(main);
  });
});
