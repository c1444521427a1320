// init-experiment's refusals found by a sweep across domains, on real git
// repositories through the bundled engine: each is one line, exit 2, and
// leaves the repository as it was (same branch, no .autoloop/).
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, initValue, valueRepo } from './helpers/engine.ts';

/** The refusal's shape, and nothing written: still on main, no state directory. */
function expectRefused(repo: string, r: ReturnType<typeof engine>, words: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(words);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(git(repo, 'branch', '--show-current')).toBe('main');
  expect(git(repo, 'branch', '--list', 'autoloop/*')).toBe('');
  expect(fs.existsSync(path.join(repo, '.autoloop'))).toBe(false);
}

describe('init-experiment: globs outside the repository', () => {
  it.each([
    ['--scope', '/etc/passwd'],
    ['--scope', '../elsewhere/**'],
    ['--scope', 'src/../../x'],
    ['--protect', '../fixtures/**'],
    ['--artifacts', '/tmp/ckpt/**'],
  ])('%s %s is refused before anything changes', (flag, glob) => {
    const repo = valueRepo();
    const r = initValue(repo, [flag, glob]);
    expectRefused(repo, r, new RegExp(`${flag}.*outside the repository`));
  });

  it('a negated scope glob is checked as the path it names', () => {
    const repo = valueRepo();
    expectRefused(repo, initValue(repo, ['--scope', '!../x']), /--scope.*outside the repository/);
  });
});

describe('init-experiment: a metric source\'s result file', () => {
  // In shell: the result file is under test, not the benchmark (no Node start per sample).
  const BENCH = `read -r v < src/value.txt
mkdir -p out
echo "{\\"score\\":$v}" > out/res.json
`;
  const args = ['--source', 'json:out/res.json:score=score', '--command', 'sh bench.sh'];

  it('is refused at init: the benchmark rewriting it would make every run invalid', () => {
    const repo = valueRepo('100', { 'bench.sh': BENCH, 'out/res.json': '{"score":0}\n' });
    const r = initValue(repo, args);
    expectRefused(repo, r, /out\/res\.json.*git tracks/);
  });

  it('under the whole-repository scope, an unignored result file is the benchmark\'s output, never a change of the code', () => {
    const repo = valueRepo('100', { 'bench.sh': BENCH });
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', ...args, '--json'], repo).code).toBe(0);
    const base = engine('run-experiment', ['--description', 'baseline', '--json'], repo);
    expect(base.json).toMatchObject({ status: 'ok', verdict: 'keep', primary: 100 });
    fs.writeFileSync(path.join(repo, 'src/value.txt'), '90');
    const better = engine('run-experiment', ['--description', 'lower', '--json'], repo);
    expect(better.json).toMatchObject({ status: 'ok', verdict: 'keep', primary: 90 });
    expect(git(repo, 'show', '--name-only', '--format=', 'HEAD')).toBe('src/value.txt');
    expect(git(repo, 'status', '--porcelain')).toBe('?? out/');
  });

  it('is accepted once git ignores it, and the loop reads it', () => {
    const repo = valueRepo('100', { 'bench.sh': BENCH, '.gitignore': 'out/\n' });
    expect(initValue(repo, args).code).toBe(0);
    const run = engine('run-experiment', ['--description', 'baseline', '--json'], repo);
    expect(run.json).toMatchObject({ status: 'ok', verdict: 'keep', primary: 100 });
  });
});

describe('init-experiment: --protect covering the whole scope', () => {
  it('is refused: the loop would have nothing it may change', () => {
    const repo = valueRepo();
    expectRefused(repo, initValue(repo, ['--protect', 'src/**']), /--protect.*every file.*--scope/);
  });

  it('a protect glob inside a wider scope is fine (fixtures under src/)', () => {
    const repo = valueRepo();
    const r = initValue(repo, ['--protect', 'src/other.txt']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ mutable: [], protect: expect.arrayContaining(['src/other.txt']) });
  });
});

describe('init-experiment: empty or unreadable number flags', () => {
  // An unset shell variable (`--target "$TARGET"`) must not become 0: a target of 0 ends a higher-is-better loop at its baseline.
  it.each(['--target=', '--grace=', '--min-improvement=', '--artifacts-keep=', '--timeout= ', '--max-wall-clock='])('%s is refused', (flag) => {
    const repo = valueRepo();
    expectRefused(repo, initValue(repo, [flag]), new RegExp(`${flag.replace(/=.*/, '')}: must be a (whole )?number`));
  });

});

describe('init-experiment: a directory the commands name, under the whole-repository scope', () => {
  const files = { 'src/m.js': 'exports.add = (a, b) => a + b;\n', 'test/m.test.js': "require('node:test')('add', () => {});\n" };

  it('warns that its files are mutable (a test loop could edit its own tests)', () => {
    const repo = valueRepo('100', files);
    const r = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--checks', 'node --test test/', '--json'], repo);
    expect(r.code).toBe(0);
    expect((r.json?.warnings as string[]).join('\n')).toMatch(/test\/.*--protect 'test\/\*\*'/);
  });

  it('says nothing once the scope is narrow or the directory protected', () => {
    const narrow = valueRepo('100', files);
    const a = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--checks', 'node --test test/', '--scope', 'src/**', '--json'], narrow);
    expect(a.json?.warnings).toEqual([]);
    const guarded = valueRepo('100', files);
    const b = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--checks', 'node --test test/', '--protect', 'test/**', '--json'], guarded);
    expect(b.json?.warnings).toEqual([]);
  });
});

describe('init-experiment: --config with --cwd', () => {
  it('reads a relative --config from the --cwd directory, as if run there', () => {
    const repo = valueRepo('100', { 'autoloop.yaml': 'name: exp\nmetric: score\ndirection: lower\ncommand: node bench.cjs\nscope: [src/**]\n' });
    // engine() runs from the test's directory and passes --cwd repo.
    const r = engine('init-experiment', ['--config', 'autoloop.yaml', '--json'], repo);
    expect(r.stderr).toBe('');
    expect(r.json).toMatchObject({ experiment: 'exp', scope: ['src/**'] });
  });
});

describe('init-experiment: a --protect glob that matches nothing', () => {
  it('is a warning naming it (a typo would leave the evaluation data unguarded)', () => {
    const repo = valueRepo('100', { 'data/eval.csv': 'x\n' });
    const r = initValue(repo, ['--protect', 'dta/**', '--protect', 'data/**']);
    expect(r.code).toBe(0);
    const warnings = (r.json?.warnings as string[]).join('\n');
    expect(warnings).toMatch(/--protect "dta\/\*\*" matches no file/);
    expect(warnings).not.toMatch(/"data\/\*\*"/);
  });
});

describe('the first runs: a directory the benchmark creates outside the scope', () => {
  it('is the run\'s own output, never reported as changed "not by a run" at the next run', () => {
    // In shell (no Node start per sample): a new file content every run, as the clock's nanoseconds were.
    const bench = `mkdir -p reports
date +%s%N > reports/run.txt
read -r v < src/value.txt
echo "METRIC score=$v"
`;
    const repo = valueRepo('100', { 'bench.sh': bench });
    expect(initValue(repo, ['--repeats', '1', '--command', 'sh bench.sh']).code).toBe(0);
    const runs = [engine('run-experiment', ['--description', 'baseline', '--json'], repo)];
    for (const v of ['90', '95', '80']) {
      fs.writeFileSync(path.join(repo, 'src/value.txt'), v);
      runs.push(engine('run-experiment', ['--description', `to ${v}`, '--json'], repo));
    }
    expect(runs.map((r) => r.json?.verdict)).toEqual(['keep', 'keep', 'discard', 'keep']);
    for (const r of runs) expect(JSON.stringify(r.json?.warnings ?? [])).not.toMatch(/set aside/);
  });
});

describe('init-experiment: two sources for one metric', () => {
  it('is refused: only the last would count, silently', () => {
    const repo = valueRepo();
    const r = initValue(repo, ['--source', 'regex:score=score=([0-9.]+)', '--source', 'regex:score=value ([0-9.]+)']);
    expectRefused(repo, r, /score comes from two sources/);
  });

  it('METRIC lines beside a named source stay allowed', () => {
    const repo = valueRepo();
    expect(initValue(repo, ['--source', 'metric-lines', '--source', 'regex:score=score=([0-9.]+)']).code).toBe(0);
  });
});

describe('init-experiment: two JUnit reports', () => {
  it('are fine while no metric the decision reads comes from both', () => {
    const repo = valueRepo();
    const r = initValue(repo, ['--source', 'metric-lines', '--source', 'junit:a.xml', '--source', 'junit:b.xml']);
    expect(r.code).toBe(0);
  });
});

describe('init-experiment: a scope inside .git or .autoloop', () => {
  it.each(['.git/**', '.autoloop/**', '.autoloop/experiments/exp/config.yaml'])('--scope %s is refused: those files are never the loop\'s', (glob) => {
    const repo = valueRepo();
    expectRefused(repo, initValue(repo, ['--scope', glob]), /--scope ".*" names git's or autoloop's own files/);
  });
});
