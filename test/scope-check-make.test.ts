// init-experiment's refusal of a task runner named from a package folder, its
// make branch (scope-check.ts): a Makefile only in packages/api, given as
// `make bench` from there or `make -C api bench` from packages/, runs nothing at
// the repository top where commands run. Refused with the command meant, which
// then measures; `make -C packages/api` from the top is taken. A top Makefile
// without the goal was taken, and every run crashed ("No rule to make target
// 'bench'"). Real repositories, real make, the bundled engine.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo } from './helpers/engine.ts';

const SLOW = 900_000;
const MAKEFILE = 'bench:\n\t@echo "METRIC n=$$(cat src/n.txt)"\n';
const args = (name: string, command: string) => ['--name', name, '--metric', 'n', '--direction', 'lower', '--command', command, '--scope', 'packages/api/src/**', '--repeats', '1'];

function monorepo(extra: Record<string, string> = {}): string {
  return makeRepo({ 'packages/api/Makefile': MAKEFILE, 'packages/api/src/n.txt': '3\n', ...extra });
}

describe('make named from a package folder', () => {
  it('refuses `make bench` and `make -C api bench` from below the top, with the command meant, which measures', () => {
    const repo = monorepo();
    const pkg = path.join(repo, 'packages/api');
    const wrong = engine('init-experiment', args('a', 'make -s bench'), pkg);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trim()).toMatch(/"make -s bench" runs the target bench of packages\/api\/Makefile, which make finds from packages\/api, not from the repository top .* did you mean "cd packages\/api && make -s bench"\?$/);
    const viaC = engine('init-experiment', args('a', 'make -C api bench'), path.join(repo, 'packages'));
    expect(viaC.code).toBe(2);
    expect(viaC.stderr.trim()).toMatch(/runs the target bench of packages\/api\/Makefile, which make finds from packages, not from the repository top .* did you mean "cd packages && make -C api bench"\?$/);
    expect(fs.existsSync(path.join(repo, '.autoloop/experiments/a'))).toBe(false);

    const meant = engine('init-experiment', args('a', 'cd packages/api && make -s bench'), pkg);
    expect(meant.code, meant.stderr).toBe(0);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok', primary: 3 });
  }, SLOW);

  it('takes `make -C packages/api bench` given from the top', () => {
    const repo = monorepo();
    const init = engine('init-experiment', args('c', 'make -s -C packages/api bench'), repo);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok', primary: 3 });
  }, SLOW);

  it("refuses it where the top's Makefile has no such goal, and takes it where the top's has one", () => {
    const repo = monorepo({ Makefile: 'all:\n\t@echo hi\n' });
    const pkg = path.join(repo, 'packages/api');
    const wrong = engine('init-experiment', args('t', 'make -s bench'), pkg);
    expect(wrong.code, wrong.stdout).toBe(2);
    expect(wrong.stderr).toMatch(/did you mean "cd packages\/api && make -s bench"\?/);

    fs.writeFileSync(path.join(repo, 'Makefile'), 'bench:\n\t@echo "METRIC n=7"\n');
    git(repo, 'commit', '-qam', 'top bench');
    const top = engine('init-experiment', args('t', 'make -s bench'), pkg);
    expect(top.code, top.stderr).toBe(0);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok', primary: 7 });
  }, SLOW);
});
