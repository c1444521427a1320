// diagnose runs the code under test as a run does: a benchmark that leaves
// git's config unparsable or plants a shallow file there has it put back, as
// after a run's phase (git-files-journal.ts), instead of failing every later
// call. Real engine, real repositories.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';

const BENCH = '. ./src/hook.sh\necho METRIC score=$(cat src/v)\n';

describe("diagnose and git's files", () => {
  for (const [what, attack, file] of [
    ['a config line git cannot parse', 'printf "[core\\n" >> .git/config', 'config'],
    ['a shallow file naming the kept commit', 'git rev-parse HEAD > .git/shallow', 'shallow'],
  ] as const) it(`${what} left by the benchmark under diagnose is put back; the loop goes on`, () => {
    const repo = makeRepo({ 'bench.sh': BENCH, 'src/v': '50\n', 'src/hook.sh': ':\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), `${attack}\n`);
    const d = engine('diagnose', [], repo);
    expect(d.code).toBe(2);
    expect(d.stderr).toContain(`.git/${file}`);
    git(repo, 'log', '-1'); // git reads the repository and its history again
    expect(fs.existsSync(path.join(repo, '.git/shallow'))).toBe(false);
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    fs.writeFileSync(path.join(repo, 'src/v'), '40\n');
    const r = engine('run-experiment', ['--description', 'A', '--json'], repo);
    expect(r.json, r.stderr).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'rev-list', '--count', 'HEAD')).toBe('2');
  });
});
