// Journeys on repository shapes the other suites do not build: a package folder
// whose name has a space, a make goal that is also a folder, a description the
// size of a page. Each through the bundled engine on a real git repository.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, makeRepo, ROOT } from './helpers/engine.ts';
import { goalsOnDisk } from '../scripts/lib/make-goals.ts';

const HANG_GUARD = { timeout: 600_000 };
const BENCH = "print('METRIC score=%d' % len(open('prompts/system.txt').read()))\n";

describe('repositories of other shapes', () => {
  it('from a package folder whose name has a space, the command it suggests is one a shell runs as shown', HANG_GUARD, () => {
    const repo = makeRepo({ 'packages/my app/score.py': BENCH, 'packages/my app/prompts/system.txt': 'You are helpful.\n' });
    const pkg = path.join(repo, 'packages/my app');
    const scope = ['--scope', 'packages/my app/prompts/system.txt'];
    const base = ['--name', 'p', '--metric', 'score', '--direction', 'lower', '--repeats', '1', ...scope];
    const wrong = engine('init-experiment', [...base, '--command', 'python3 score.py'], pkg);
    expect(wrong.code).toBe(2);
    const meant = /did you mean "(.*)"\?$/.exec(wrong.stderr.trim())?.[1];
    expect(meant).toBe("cd 'packages/my app' && python3 score.py");
    // The command as told: init takes it, and the benchmark runs at the top and measures the prompt.
    const init = engine('init-experiment', [...base, '--command', meant as string, '--json'], pkg);
    expect(init.code).toBe(0);
    expect((init.json as { protect: string[] }).protect).toEqual(['packages/my app/score.py']);
    const run = engine('run-experiment', ['--json'], pkg);
    expect(run.json).toMatchObject({ status: 'ok', primary: 17 });
  });

  it('warns at init of a make goal that is also a folder (make runs nothing), and not once .PHONY lists it', HANG_GUARD, () => {
    const makefile = 'bench:\n\tpython3 bench/measure.py\n';
    const repo = makeRepo({ 'Makefile': makefile, 'bench/measure.py': "print('METRIC size=100')\n", 'build.json': '{}\n' });
    const args = ['--name', 'mk', '--metric', 'size', '--direction', 'lower', '--command', 'make bench', '--scope', 'build.json', '--repeats', '1', '--json'];
    const init = engine('init-experiment', args, repo);
    expect(init.code).toBe(0);
    expect((init.json as { warnings: string[] }).warnings).toContain('make goal "bench" is also the path bench, and no .PHONY rule lists it: make will find it up to date and run nothing (add ".PHONY: bench" to the Makefile)');
    // What the warning foretells: the benchmark printed nothing.
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'invalid' });
    fs.writeFileSync(path.join(repo, 'Makefile'), `.PHONY: bench\n${makefile}`);
    git(repo, 'commit', '-qam', 'phony');
    const again = engine('init-experiment', args, repo);
    expect(again.code).toBe(0);
    expect((again.json as { warnings: string[] }).warnings.filter((w) => w.startsWith('make goal'))).toEqual([]);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok', primary: 100 });
  });

  it('says nothing of a make goal that is a file built from prerequisites (a changed source rebuilds it)', () => {
    expect(goalsOnDisk(ROOT, 'README.md: docs/design.md\n\tcp docs/design.md README.md\nLICENSE:\n\ttrue\n', ['README.md', 'LICENSE', 'absent'])).toEqual(['LICENSE']);
    expect(goalsOnDisk(ROOT, '.PHONY: LICENSE\nLICENSE:\n\ttrue\n', ['LICENSE'])).toEqual([]);
  });

  it('refuses a scope that names only files of a submodule (the loop can keep none of its changes), and warns beside another glob', HANG_GUARD, () => {
    const sub = makeRepo({ 'lib.txt': 'library\n' });
    const repo = makeRepo({ 'q/query.sql': 'SELECT 1;\n', 'bench.sh': 'echo "METRIC len=$(wc -c < q/query.sql)"\n' });
    git(repo, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', sub, 'vendor/sub');
    git(repo, 'commit', '-qm', 'submodule');
    const args = (...scope: string[]) => ['--name', 's', '--metric', 'len', '--direction', 'lower', '--command', 'sh bench.sh', '--repeats', '1', ...scope.flatMap((g) => ['--scope', g]), '--json'];
    const only = engine('init-experiment', args('vendor/sub/*.txt'), repo);
    expect(only.code).toBe(2);
    expect(only.stderr.trim()).toBe('init-experiment: --scope "vendor/sub/*.txt" names only files of a submodule (vendor/sub): they belong to its own repository, so the loop can keep no change to them; run the experiment inside the submodule (its own git repository), or scope files of this one');
    expect(fs.existsSync(path.join(repo, '.autoloop', 'experiments', 's'))).toBe(false);
    const beside = engine('init-experiment', args('vendor/sub/**', 'q/*.sql'), repo);
    expect(beside.code).toBe(0);
    expect((beside.json as { warnings: string[] }).warnings).toEqual(['--scope "vendor/sub/**" names only files of a submodule (vendor/sub): they belong to its own repository, so the loop can keep no change to them (run an experiment inside the submodule to work on them)']);
  });

  it('refuses a scope whose exclusions take every file it names (nothing mutable), at init and in a follow-up', HANG_GUARD, () => {
    const repo = makeRepo({ 'prompts/system.txt': 'You are helpful.\n', 'prompts/extra.txt': 'Be brief.\n', 'score.py': BENCH });
    const args = (...scope: string[]) => ['--name', 'neg', '--metric', 'score', '--direction', 'lower', '--command', 'python3 score.py', '--repeats', '1', ...scope.flatMap((g) => ['--scope', g]), '--json'];
    const none = engine('init-experiment', args('prompts/system.txt', '!prompts/*.txt'), repo);
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toBe('init-experiment: --scope "!prompts/*.txt" excludes every file the scope would take in: nothing is left for the loop to change; drop the exclusion or widen --scope');
    expect(fs.existsSync(path.join(repo, '.autoloop', 'experiments', 'neg'))).toBe(false);
    expect(engine('init-experiment', args('!**'), repo).code).toBe(2);
    // An exclusion that leaves a file is the ordinary case; so is one alone (everything but it).
    expect(engine('init-experiment', args('prompts/**', '!prompts/extra.txt'), repo).code).toBe(0);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok' });
    expect(engine('log-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    expect(engine('control', ['stop', '--reason', 'try another scope'], repo).code).toBe(0);
    const child = engine('chain', ['--from', 'neg', '--name', 'neg-2', '--goal', 'g', '--rationale', 'r', '--scope', 'prompts/extra.txt', '--scope', '!prompts/extra.txt', '--json'], repo);
    expect(child.code).toBe(2);
    expect(child.stderr.trim()).toBe('chain: --scope "!prompts/extra.txt" excludes every file the scope would take in: nothing is left for the loop to change; drop the exclusion or widen --scope');
    expect(fs.existsSync(path.join(repo, '.autoloop', 'experiments', 'neg-2'))).toBe(false);
    expect(git(repo, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('autoloop/neg');
  });

  it('refuses a description of a page in one line that says the bound, and the run can still be logged', HANG_GUARD, () => {
    const repo = makeRepo({ 'prompts/system.txt': 'You are helpful.\n', 'score.py': BENCH });
    const init = engine('init-experiment', ['--name', 'd', '--metric', 'score', '--direction', 'lower', '--command', 'python3 score.py', '--scope', 'prompts/system.txt', '--repeats', '1'], repo);
    expect(init.code).toBe(0);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok' });
    const long = engine('log-experiment', ['--description', 'x'.repeat(10_240), '--json'], repo);
    expect(long.code).toBe(2);
    expect(long.stderr.trim()).toBe('log-experiment: bad flag: --description: at most 500 characters: name the change in a sentence (the why goes in --hypothesis, up to 1000, or in program.md)');
    expect(engine('log-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep', reason: 'baseline' });
  });
});
