// Class 4 of issue 11: the user's repository never wedges the loop. Real hooks,
// a real (missing) LFS filter, a real submodule, odd file names and metric names.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { engine, fromTemplate, git, initValue, iterate, ledger, makeRepo, setValue, waitFor } from './helpers/engine.ts';
import { fromState } from './helpers/loop.ts';

const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');

/**
 * valueRepo's benchmark in shell builtins (the number in src/value.txt, and
 * mem=10): no Node start per sample, the subject here being the user's
 * repository, not the benchmark.
 */
const SHELL_BENCH = 'read -r v < src/value.txt\necho "METRIC score=$v"\necho "METRIC mem=10"\n';
const SHELL = ['--command', 'sh bench.sh'];
const shellRepo = (extra: Record<string, string> = {}) => makeRepo({ 'bench.sh': SHELL_BENCH, 'src/value.txt': '100', 'src/other.txt': 'other\n', 'README.md': 'fixture\n', ...extra });

/** baselineRepo on that benchmark: a fresh copy of "exp" opened and its baseline (100) kept, built once per file (fromState). */
const shellBaseline = (): string =>
  fromState('shell baseline', () => {
    const repo = shellRepo();
    const init = initValue(repo, SHELL);
    expect(init.code, init.stderr).toBe(0);
    expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
    return repo;
  });

describe("the user's repository never wedges the loop", () => {
  it("runs with failing hooks (husky's hooksPath, post-checkout) and an LFS filter whose program is missing", () => {
    const repo = shellRepo();
    fs.mkdirSync(path.join(repo, '.husky'));
    for (const h of ['post-checkout', 'pre-commit', 'commit-msg', 'reference-transaction', 'post-index-change']) {
      fs.writeFileSync(path.join(repo, '.husky', h), '#!/bin/sh\necho hook ran >> hook.log\nexit 1\n', { mode: 0o755 });
    }
    git(repo, 'config', 'core.hooksPath', '.husky');
    fs.writeFileSync(path.join(repo, '.gitattributes'), 'src/* filter=lfs diff=lfs merge=lfs\n');
    git(repo, 'config', 'filter.lfs.clean', 'git-lfs-is-not-installed clean -- %f');
    git(repo, 'config', 'filter.lfs.smudge', 'git-lfs-is-not-installed smudge -- %f');
    git(repo, 'config', 'filter.lfs.process', 'git-lfs-is-not-installed filter-process');
    git(repo, 'config', 'filter.lfs.required', 'true');
    expect(initValue(repo, SHELL).code).toBe(0);
    iterate(repo, 'baseline');
    setValue(repo, '90');
    expect(iterate(repo, 'better').log.json).toMatchObject({ verdict: 'keep' });
    setValue(repo, '95');
    expect(iterate(repo, 'worse').log.json).toMatchObject({ verdict: 'discard' });
    expect(read(repo, 'src/value.txt')).toBe('90');
    expect(fs.existsSync(path.join(repo, 'hook.log'))).toBe(false);
    // The bytes committed are the work tree's, not a filter's output.
    expect(git(repo, '-c', 'filter.lfs.smudge=', '-c', 'filter.lfs.process=', '-c', 'filter.lfs.required=false', 'cat-file', 'blob', 'autoloop/exp:src/value.txt')).toBe('90');
  });

  it('a keep that cannot be committed becomes a clean revert with its reason, once', async () => {
    const repo = shellBaseline();
    const head = git(repo, 'rev-parse', 'HEAD');
    // Another git process holds the branch's lock: update-ref cannot move it (one no process holds is stale: removed).
    const lockFile = path.join(repo, '.git', 'refs', 'heads', 'autoloop', 'exp.lock');
    const holder = spawn('sh', ['-c', 'exec 9>"$0"; echo held; exec sleep 600', lockFile], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    holder.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('held'));
    setValue(repo, '90');
    const { log } = iterate(repo, 'better');
    expect(log.json).toMatchObject({ verdict: 'invalid' });
    expect(String(log.json?.reason)).toMatch(/^keep failed: /);
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
    expect(read(repo, 'src/value.txt')).toBe('100');
    expect(ledger(repo).filter((l) => l.event === 'keep_failed')).toHaveLength(1);
    holder.kill('SIGKILL');
    fs.rmSync(lockFile);
    setValue(repo, '80');
    const next = iterate(repo, 'again');
    expect(next.run.stderr).not.toMatch(/reconciled/);
    expect(next.log.json).toMatchObject({ verdict: 'keep', best: 80 });
  });

  it('a submodule in scope changed by the candidate is set aside, never kept, and the loop goes on', () => {
    const sub = makeRepo({ 'lib.txt': 'v1\n' });
    const repo = shellRepo();
    git(repo, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', sub, 'src/sub');
    git(repo, 'commit', '-qm', 'submodule');
    initValue(repo, SHELL);
    iterate(repo, 'baseline');
    fs.writeFileSync(path.join(repo, 'src/sub/lib.txt'), 'v2\n');
    git(path.join(repo, 'src/sub'), 'commit', '-qam', 'inside');
    setValue(repo, '90');
    const { run, log } = iterate(repo, 'better');
    expect(run.json).toMatchObject({ status: 'ok', files: ['src/value.txt'] });
    expect(String((run.json?.warnings as string[])[0])).toMatch(/set aside.*src\/sub/);
    expect(log.json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', '--name-only', '--format=', 'HEAD')).toBe('src/value.txt');
    setValue(repo, '80');
    expect(iterate(repo, 'again').run.json).toMatchObject({ status: 'ok' });
  });

  it('a symlink in scope that points outside the repository is refused clearly, then reverted', () => {
    const repo = shellBaseline();
    const outside = fs.mkdtempSync(path.join(path.dirname(repo), 'outside-'));
    fs.writeFileSync(path.join(outside, 'secret.txt'), '1');
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(repo, 'src', 'link.txt'));
    const { run, log } = iterate(repo, 'link');
    expect(run.json).toMatchObject({ status: 'invalid' });
    expect(String(run.json?.reason)).toMatch(/src\/link.txt is a symlink to .*outside the repository/);
    expect(log.json).toMatchObject({ verdict: 'invalid' });
    expect(fs.existsSync(path.join(repo, 'src', 'link.txt'))).toBe(false);
    setValue(repo, '90');
    expect(iterate(repo, 'better').log.json).toMatchObject({ verdict: 'keep' });
  });

  it('an in-scope .gitignore edit that could hide a file is refused, and reverted', () => {
    const repo = shellRepo({ 'src/.gitignore': '*.tmp\n' });
    initValue(repo, SHELL);
    iterate(repo, 'baseline');
    fs.writeFileSync(path.join(repo, 'src/.gitignore'), '*.tmp\nfast.js\n');
    fs.writeFileSync(path.join(repo, 'src/fast.js'), 'hidden\n');
    const { run, log } = iterate(repo, 'hide');
    expect(run.json).toMatchObject({ status: 'invalid' });
    expect(String(run.json?.reason)).toMatch(/edits src\/.gitignore/);
    expect(log.json).toMatchObject({ verdict: 'invalid' });
    expect(read(repo, 'src/.gitignore')).toBe('*.tmp\n');
  });

  // The benchmark reads src/hidden.txt when it exists: a file an ignore rule hides would be measured, never kept.
  const hiddenRepo = () =>
    makeRepo({
      'bench.sh': 'v=$(cat src/value.txt); [ -f src/hidden.txt ] && v=$(cat src/hidden.txt); . src/hook.sh; echo "METRIC score=$v"\n',
      'src/value.txt': '100\n',
      'src/hook.sh': ':\n',
      '.gitignore': '*.log\n',
    });
  const initHidden = (repo: string) => engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'bash bench.sh', '--scope', 'src/**', '--repeats', '1'], repo);
  /** A fresh copy of hiddenRepo() after initHidden and a kept baseline (built once per file, fromTemplate). */
  const hiddenBaseline = (): string =>
    fromTemplate('hidden baseline', () => {
      const repo = hiddenRepo();
      expect(initHidden(repo).code).toBe(0);
      expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
      return repo;
    });

  it('an ignore rule a keep cannot show (info/exclude, a .gitignore above the scope, one hiding itself) is refused before measuring', () => {
    const repo = hiddenBaseline();
    const exclude = path.join(repo, '.git/info/exclude');
    const before = read(repo, '.git/info/exclude');
    fs.writeFileSync(path.join(repo, 'src/hidden.txt'), '1\n');
    const hide: [string, () => void, () => void][] = [
      ['.git/info/exclude', () => fs.appendFileSync(exclude, 'src/hidden.txt\n'), () => fs.writeFileSync(exclude, before)],
      ['.gitignore', () => fs.appendFileSync(path.join(repo, '.gitignore'), 'src/hidden.txt\n'), () => git(repo, 'checkout', '--', '.gitignore')],
      ['src/.gitignore', () => fs.writeFileSync(path.join(repo, 'src/.gitignore'), '*\n'), () => fs.rmSync(path.join(repo, 'src/.gitignore'))],
    ];
    for (const [file, doIt, undo] of hide) {
      doIt();
      const r = engine('run-experiment', ['--json'], repo);
      expect(r.code).toBe(1);
      // A file the segment did not have: repair (which the loop may run) takes it away.
      const repair = file === 'src/.gitignore' ? '; control.mjs repair moves a new one to rescued/' : '';
      expect(r.stderr.trim()).toBe(`run-experiment: the ignore rules changed since the segment opened (${file}): a file they hide would be measured but never kept; undo the change, or run init-experiment to adopt it${repair}`);
      undo();
    }
    // Visible again: measured and kept with the change.
    const { run, log } = iterate(repo, 'the hidden file');
    expect(run.json).toMatchObject({ status: 'ok', primary: 1 });
    expect(log.json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'autoloop/exp:src/hidden.txt')).toBe('1');
  });

  it('code under test that adds an ignore rule while it runs makes the run invalid (read-only where the machine allows)', () => {
    const repo = hiddenBaseline();
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'echo 1 > src/hidden.txt; echo src/hidden.txt >> .git/info/exclude\n');
    const r = engine('run-experiment', ['--json'], repo, { AUTOLOOP_CONTAINMENT: 'group' });
    expect(r.json).toMatchObject({ status: 'invalid' });
    expect(String(r.json?.reason)).toBe('the ignore rules changed while the benchmark ran (.git/info/exclude): a file they hide would be measured but never kept; undo the change, or run init-experiment to adopt it');
    expect(engine('log-experiment', ['--description', 'hide', '--json'], repo).json).toMatchObject({ verdict: 'invalid' });
    expect(git(repo, 'rev-list', '--count', 'autoloop/exp')).toBe('1');
  });

  it('a self-hiding .gitignore the code under test created at the scope\'s top does not hold the loop: control repair moves it to rescued/', () => {
    const repo = hiddenBaseline();
    // readonly containment binds only files that exist: a new one can be created (the checks afterwards see it)
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'echo "*" > src/.gitignore\n');
    const r = engine('run-experiment', ['--json'], repo);
    expect(r.json).toMatchObject({ status: 'invalid' });
    expect(String(r.json?.reason)).toMatch(/ignore rules changed while the benchmark ran \(src\/.gitignore\)/);
    expect(engine('log-experiment', ['--description', 'hide', '--json'], repo).json).toMatchObject({ verdict: 'invalid' });
    // The revert cannot see a file that ignores itself: the next run refuses, naming the way out the loop may take.
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), ':\n');
    expect(engine('run-experiment', ['--json'], repo).stderr).toMatch(/since the segment opened \(src\/.gitignore\).*control\.mjs repair/);
    const repair = engine('control', ['repair', '--json'], repo);
    expect(repair.code).toBe(0);
    expect(fs.existsSync(path.join(repo, 'src/.gitignore'))).toBe(false);
    const rescued = fs.readdirSync(path.join(repo, '.autoloop/experiments/exp/rescued')).filter((d) => d.startsWith('repair-'));
    expect(rescued.map((d) => fs.existsSync(path.join(repo, '.autoloop/experiments/exp/rescued', d, 'src/.gitignore.autoloop-copy')))).toContain(true);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok' });
  });

  // The benchmark reads src/<dir>/secret.txt when it exists, and may run a tool that leaves a self-ignoring cache dir (as pytest does).
  const deepRepo = () =>
    makeRepo({
      'bench.sh': 'v=$(cat src/value.txt); for f in src/deep/secret.txt src/lib/secret.txt; do [ -f "$f" ] && v=$(cat "$f"); done; . src/hook.sh; echo "METRIC score=$v"\n',
      'src/value.txt': '100\n',
      'src/hook.sh': ':\n',
      'src/lib/code.txt': 'x\n',
      'src/keep/.gitignore': '*.tmp\n',
    });

  it('a .gitignore the candidate writes deeper in the scope, hiding itself and a file the benchmark reads, is refused before measuring', () => {
    const repo = deepRepo();
    expect(initHidden(repo).code).toBe(0);
    expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep', best: 100 });
    // In a tracked directory and in a new one: git status shows neither, and the benchmark would read the secret.
    for (const dir of ['src/lib', 'src/deep']) {
      fs.mkdirSync(path.join(repo, dir), { recursive: true });
      fs.writeFileSync(path.join(repo, dir, '.gitignore'), '*\n');
      fs.writeFileSync(path.join(repo, dir, 'secret.txt'), '1\n');
      expect(git(repo, 'status', '--porcelain')).toBe('');
      const r = engine('run-experiment', ['--json'], repo);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(
        `run-experiment: the ignore rules changed since the last run (${dir}/.gitignore): a file they hide would be measured but never kept; undo the change, or run init-experiment to adopt it`,
      );
      // Nothing was measured, so nothing can be kept.
      expect(engine('log-experiment', ['--description', 'hide', '--json'], repo).code).not.toBe(0);
      if (dir === 'src/lib') for (const f of ['.gitignore', 'secret.txt']) fs.rmSync(path.join(repo, dir, f));
    }
    // One in a new directory git shows (a visible file beside it): named too.
    fs.mkdirSync(path.join(repo, 'src/new'));
    fs.writeFileSync(path.join(repo, 'src/new/.gitignore'), '.gitignore\n');
    fs.writeFileSync(path.join(repo, 'src/new/shown.txt'), 'x\n');
    expect(engine('run-experiment', ['--json'], repo).stderr).toMatch(/since the last run \(src\/deep\/.gitignore, src\/new\/.gitignore\)/);
    fs.rmSync(path.join(repo, 'src/new'), { recursive: true });
    // Undone: the secret is visible, measured and kept with the change.
    fs.rmSync(path.join(repo, 'src/deep/.gitignore'));
    const { run, log } = iterate(repo, 'the secret, visible');
    expect(run.json).toMatchObject({ status: 'ok', primary: 1 });
    expect(log.json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', 'autoloop/exp:src/deep/secret.txt')).toBe('1');
    expect(ledger(repo).filter((l) => l.type === 'result').map((l) => l.verdict)).toEqual(['keep', 'keep']);
  });

  it("a self-ignoring cache dir in scope (the user's before the loop, or one a benchmark's tool writes) never blocks the loop", () => {
    const repo = deepRepo();
    // The user's, before the loop: adopted when the segment opens.
    fs.mkdirSync(path.join(repo, 'src/.mypy_cache'));
    fs.writeFileSync(path.join(repo, 'src/.mypy_cache/.gitignore'), '*\n');
    // The benchmark's tool writes its own the first time it runs.
    fs.writeFileSync(path.join(repo, 'src/hook.sh'), 'mkdir -p src/.pytest_cache; echo "*" > src/.pytest_cache/.gitignore; echo 7 > src/.pytest_cache/v\n');
    git(repo, 'commit', '-qam', 'a tool with a cache');
    expect(initHidden(repo).code).toBe(0);
    expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep', best: 100 });
    expect(fs.existsSync(path.join(repo, 'src/.pytest_cache/.gitignore'))).toBe(true);
    fs.writeFileSync(path.join(repo, 'src/value.txt'), '90\n');
    expect(iterate(repo, 'better').log.json).toMatchObject({ verdict: 'keep', best: 90 });
    fs.writeFileSync(path.join(repo, 'src/value.txt'), '95\n');
    expect(iterate(repo, 'worse').log.json).toMatchObject({ verdict: 'discard' });
    // The tracked in-scope .gitignore the user had is untouched and still applies.
    expect(read(repo, 'src/keep/.gitignore')).toBe('*.tmp\n');
    // But the model editing a cache's .gitignore to hide something is new to the engine: refused.
    fs.writeFileSync(path.join(repo, 'src/.mypy_cache/.gitignore'), '*\n../value.txt\n');
    expect(engine('run-experiment', ['--json'], repo).stderr).toMatch(/since the last run \(src\/.mypy_cache\/.gitignore\)/);
  });

  it('a git repository of its own inside the scope (its files unseen by git) is refused before measuring, invalid when a run makes one; the user\'s is left alone', () => {
    // Before: "0 files changed" and a rebaseline took the hidden file's score as the best's.
    const bench = 'v=$(cat src/value.txt); [ -f src/nested/fast ] && v=1; [ -f make-repo ] && (mkdir -p src/made && cd src/made && git init -q && touch fast); echo METRIC score=$v\n';
    const repo = makeRepo({ 'bench.sh': bench, 'src/value.txt': '100' });
    fs.appendFileSync(path.join(repo, '.git/info/exclude'), 'make-repo\n');
    const own = path.join(repo, 'src/users');
    fs.mkdirSync(own);
    git(own, 'init', '-q');
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo).code).toBe(0);
    expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
    const nested = path.join(repo, 'src/nested');
    fs.mkdirSync(nested);
    git(nested, 'init', '-q');
    fs.writeFileSync(path.join(nested, 'fast'), 'x');
    const refused = engine('run-experiment', [], repo);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/src\/nested\/ is a git repository inside the scope/);
    fs.rmSync(nested, { recursive: true });
    fs.writeFileSync(path.join(repo, 'make-repo'), '');
    setValue(repo, '90');
    const { run, log } = iterate(repo, 'makes a repository');
    expect(run.json).toMatchObject({ status: 'invalid' });
    expect(String(run.json?.reason)).toMatch(/src\/made\/ is a git repository inside the scope.*appeared while the benchmark ran/);
    expect(log.json).toMatchObject({ verdict: 'invalid' });
    expect(git(repo, 'rev-list', '--count', 'autoloop/exp')).toBe('1');
    fs.rmSync(path.join(repo, 'make-repo'));
    fs.rmSync(path.join(repo, 'src/made'), { recursive: true });
    setValue(repo, '90');
    expect(iterate(repo, 'after').log.json).toMatchObject({ verdict: 'keep' });
    expect(fs.existsSync(path.join(own, '.git'))).toBe(true);
  });

  it('a benchmark that switches the branch (checkout -b, detach) makes its run invalid, and HEAD is put back on the experiment branch', () => {
    // Before: the run died on "the work tree is on other", unrecorded, its change in place, every later call refused.
    for (const how of ['git checkout -q -b other', 'git checkout -q --detach']) {
      const repo = makeRepo({ 'bench.sh': `v=$(cat src/value.txt); [ "$v" = 90 ] && ${how}; echo METRIC score=$v\n`, 'src/value.txt': '100' });
      expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo).code).toBe(0);
      iterate(repo, 'baseline');
      setValue(repo, '90');
      const { run, log } = iterate(repo, 'switches');
      expect(run.json).toMatchObject({ status: 'invalid' });
      expect(String(run.json?.reason)).toMatch(/moved HEAD off the experiment branch/);
      expect(log.json).toMatchObject({ verdict: 'invalid' });
      expect(git(repo, 'branch', '--show-current')).toBe('autoloop/exp');
      expect(read(repo, 'src/value.txt')).toBe('100');
      setValue(repo, '80');
      expect(iterate(repo, 'after').log.json).toMatchObject({ verdict: 'keep' });
    }
  });

  it('keeps a file whose name holds a newline, under its exact name', () => {
    const repo = shellBaseline();
    const name = 'src/odd\nname.txt';
    fs.writeFileSync(path.join(repo, name), 'x');
    setValue(repo, '90');
    expect(iterate(repo, 'odd name').log.json).toMatchObject({ verdict: 'keep' });
    const files = git(repo, 'ls-tree', '-r', '-z', '--name-only', 'HEAD').split('\0');
    expect(files).toContain(name);
  });

  it('a metric named toString works; one named constructor is refused at init', () => {
    const repo = makeRepo({ 'bench.sh': 'echo METRIC toString=$(cat src/v)\n', 'src/v': '10' });
    const init = (metric: string) => engine('init-experiment', ['--name', 'exp', '--metric', metric, '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], repo);
    const bad = init('constructor');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/reserved name/);
    expect(init('toString').code).toBe(0);
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok', primary: 10 });
    engine('log-experiment', ['--description', 'baseline'], repo);
    fs.writeFileSync(path.join(repo, 'bench.sh'), 'echo nothing\n');
    git(repo, 'commit', '-qam', 'prints nothing');
    expect(engine('init-experiment', ['--name', 'exp', '--reason', 'new bench'], repo).code).toBe(0);
    // Not printed: invalid with its reason, not a crash of the engine.
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'invalid' });
  });

  it('a judge touched by a formatter during a run poisons that run only', () => {
    const repo = shellBaseline();
    const original = read(repo, 'bench.sh');
    // A formatter rewrites whitespace; another only touches the mtime.
    fs.writeFileSync(path.join(repo, 'bench.sh'), original.replace(/\n/g, '\n\n'));
    setValue(repo, '90');
    expect(iterate(repo, 'x').log.json).toMatchObject({ verdict: 'invalid' });
    expect(read(repo, 'bench.sh')).toBe(original);
    const t = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(repo, 'bench.sh'), t, t);
    setValue(repo, '90');
    expect(iterate(repo, 'y').log.json).toMatchObject({ verdict: 'keep' });
    setValue(repo, '80');
    expect(iterate(repo, 'z').log.json).toMatchObject({ verdict: 'keep' });
  });
});
