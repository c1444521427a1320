// finalize "refuses on a dirty tree" (issue 4), in general: an unresolved
// conflict, an uncommitted change to any tracked file (staged or not, in the
// scope or outside it), an untracked file in the scope. Not dirt: autoloop's
// own .autoloop/, files git ignores, untracked files outside the scope, the
// user's untracked files from before the experiment, its artifacts. A refusal
// is one line naming the files (the first few, then a count), exit 2, and
// changes nothing: no branch, no report, every file and ref as it was.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { benchRepo, expDir, git, init, read, run, step, write, type Result } from './helpers/loop.ts';

function refused(r: Result, pattern: RegExp): void {
  expect(r.code, r.stdout).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

/** Every ref and the porcelain status: what a refusal must leave as it was. */
function snapshot(repo: string): string {
  const status = git(repo, 'status', '--porcelain=v1', '--untracked-files=all', '--ignored').split('\n');
  // autoloop's caches are not the user's (the report is checked on its own).
  return `${git(repo, 'for-each-ref', '--format=%(refname) %(objectname)')}\n--\n${status.filter((l) => !l.includes('.autoloop/')).join('\n')}`;
}

describe('finalize refuses a dirty tree, in general', () => {
  let repo = '';
  let clean = '';
  beforeAll(() => {
    repo = benchRepo('100');
    write(repo, '.gitignore', '*.tmp\n');
    git(repo, 'add', '.gitignore');
    git(repo, 'commit', '-qm', 'ignore tmp files');
    // The user's untracked files from before the experiment, in the scope: a file and a folder.
    write(repo, 'src/my-notes.md', 'mine\n');
    write(repo, 'src/data/set.csv', '1,2\n');
    expect(init(repo, 'fin', ['--max-runs', '3']).code).toBe(0);
    step(repo, 'baseline');
    step(repo, 'halve it', '50');
    step(repo, 'worse', '70');
    expect(run('status', ['--json'], repo).json).toMatchObject({ loop: 'terminated' });
    clean = snapshot(repo);
  });

  it('builds the branch beside what is not dirt: ignored files, untracked files outside the scope, the user\'s files from the start', () => {
    write(repo, 'src/cache.tmp', 'ignored\n');
    write(repo, 'notes-outside.txt', 'untracked, outside the scope\n');
    const r = run('finalize', ['--branch', 'ok/beside', '--json'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect(git(repo, 'rev-list', '--count', 'main..ok/beside')).toBe('1');
    for (const f of ['src/cache.tmp', 'notes-outside.txt', 'src/my-notes.md', 'src/data/set.csv']) expect(fs.existsSync(path.join(repo, f)), f).toBe(true);
    fs.rmSync(path.join(repo, 'src/cache.tmp'));
    fs.rmSync(path.join(repo, 'notes-outside.txt'));
    git(repo, 'branch', '-D', 'ok/beside');
  });

  const cases: { name: string; make: () => void; undo: () => void; pattern: RegExp }[] = [
    {
      name: 'an edit to a tracked file outside the scope',
      make: () => write(repo, 'README.md', 'edited by the user\n'),
      undo: () => git(repo, 'checkout', '-q', '--', 'README.md'),
      pattern: /^finalize: uncommitted changes to tracked files outside the scope: README\.md; a commit here would move the loop's branch autoloop\/fin: stash them/,
    },
    {
      name: 'a staged new file outside the scope',
      make: () => {
        write(repo, 'docs/new.md', 'staged\n');
        git(repo, 'add', 'docs/new.md');
      },
      undo: () => {
        git(repo, 'rm', '-q', '--cached', 'docs/new.md');
        fs.rmSync(path.join(repo, 'docs'), { recursive: true });
      },
      pattern: /^finalize: uncommitted changes to tracked files outside the scope: docs\/new\.md;/,
    },
    {
      name: 'a staged deletion of a judge',
      make: () => git(repo, 'rm', '-q', '--cached', 'bench.cjs'),
      undo: () => git(repo, 'reset', '-q', '--', 'bench.cjs'),
      pattern: /^finalize: uncommitted changes to tracked files outside the scope: bench\.cjs;/,
    },
    {
      name: 'an untracked file in the scope',
      make: () => write(repo, 'src/new.txt', 'new\n'),
      undo: () => fs.rmSync(path.join(repo, 'src/new.txt')),
      pattern: /^finalize: untracked files in scope: src\/new\.txt; the loop has terminated and a commit here would move its branch autoloop\/fin: undo them \(or stash them, git stash --include-untracked\), then finalize again$/,
    },
    {
      name: 'a new untracked folder in the scope (named file by file)',
      make: () => write(repo, 'src/deep/er/one.txt', 'new\n'),
      undo: () => fs.rmSync(path.join(repo, 'src/deep'), { recursive: true }),
      pattern: /^finalize: untracked files in scope: src\/deep\/er\/one\.txt;/,
    },
    {
      name: 'a staged change in the scope, beside an edit outside it',
      make: () => {
        write(repo, 'src/value.txt', '40');
        git(repo, 'add', 'src/value.txt');
        write(repo, 'README.md', 'edited\n');
      },
      undo: () => {
        git(repo, 'reset', '-q', '--', 'src/value.txt');
        git(repo, 'checkout', '-q', '--', 'src/value.txt', 'README.md');
      },
      pattern: /^finalize: uncommitted changes to tracked files in scope: src\/value\.txt; uncommitted changes to tracked files outside the scope: README\.md; the loop has terminated/,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}, naming it in one line, and changes nothing`, () => {
      c.make();
      const before = snapshot(repo);
      const report = path.join(expDir(repo, 'fin'), 'report.md');
      const hadReport = fs.existsSync(report) ? fs.readFileSync(report, 'utf8') : null;
      refused(run('finalize', [], repo), c.pattern);
      refused(run('finalize', ['--branch', 'try/x', '--squash', '--json'], repo), c.pattern);
      expect(snapshot(repo)).toBe(before);
      expect(fs.existsSync(report) ? fs.readFileSync(report, 'utf8') : null).toBe(hadReport);
      c.undo();
      expect(snapshot(repo)).toBe(clean);
    });
  }

  it('names the first few files, then how many more', () => {
    for (let i = 0; i < 12; i++) write(repo, `src/n${String(i).padStart(2, '0')}.txt`, 'x\n');
    refused(run('finalize', [], repo), /^finalize: untracked files in scope: src\/n00\.txt, src\/n01\.txt, src\/n02\.txt, src\/n03\.txt, src\/n04\.txt \(\+7 more\);/);
    for (let i = 0; i < 12; i++) fs.rmSync(path.join(repo, `src/n${String(i).padStart(2, '0')}.txt`));
  });

  it('refuses an unresolved conflict on the user\'s own branch, and leaves the merge as it is', () => {
    git(repo, 'checkout', '-q', 'main');
    git(repo, 'checkout', '-q', '-b', 'side');
    write(repo, 'README.md', 'side\n');
    git(repo, 'commit', '-qam', 'side');
    git(repo, 'checkout', '-q', 'main');
    write(repo, 'README.md', 'main\n');
    git(repo, 'commit', '-qam', 'main');
    const merge = spawnGit(repo, ['merge', 'side']);
    expect(merge).not.toBe(0);
    const before = snapshot(repo);
    refused(run('finalize', ['--experiment', 'fin'], repo), /^finalize: unresolved conflicts: README\.md; resolve them \(or abort what stopped on them: git merge --abort/);
    expect(snapshot(repo)).toBe(before);
    expect(fs.existsSync(path.join(repo, '.git', 'MERGE_HEAD'))).toBe(true);
    git(repo, 'merge', '--abort');
    // Clean again on the user's branch: the branch is built, the checkout stays.
    const ok = run('finalize', ['--experiment', 'fin', '--branch', 'ok/from-main'], repo);
    expect(ok.code, ok.stderr).toBe(0);
    expect(git(repo, 'branch', '--show-current')).toBe('main');
    expect(read(repo, 'README.md')).toBe('main\n');
  });
});

function spawnGit(cwd: string, args: string[]): number | null {
  return spawnSync('git', args, { cwd, encoding: 'utf8' }).status;
}
