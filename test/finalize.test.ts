// finalize: the kept changes of a real engine run (with reverts and a crash in
// between) replayed onto a new branch from the experiment's starting point,
// one commit per keep or one squashed commit; the user's branches, checkout
// and the experiment branch never move.
import { beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchRepo, expDir, git, init, read, run, step, write, type Result } from './helpers/loop.ts';
import { baselineRepo, engine, setValue } from './helpers/engine.ts';

function refused(r: Result, pattern: RegExp): void {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

/** Every branch and its sha: what must not change. */
function refs(repo: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of git(repo, 'for-each-ref', '--format=%(refname:short) %(objectname)', 'refs/heads').split('\n')) {
    const [name, sha] = line.split(' ');
    if (name && sha) out[name] = sha;
  }
  return out;
}

describe('finalize a history of keeps, reverts and a crash', () => {
  let repo = '';
  let base = '';
  let keeps: string[] = [];
  let before: Record<string, string> = {};
  beforeAll(() => {
    // The shell benchmark: the subject is finalize, not the benchmark.
    repo = benchRepo('100', { shell: true });
    base = git(repo, 'rev-parse', 'main');
    expect(init(repo, 'fin', ['--max-runs', '6', '--goal', 'a smaller score']).code).toBe(0);
    step(repo, 'baseline');
    const k1 = step(repo, 'halve the loop', '90').log.json?.commit;
    step(repo, 'unroll everything', '95');
    step(repo, 'use the broken cache', 'crash');
    write(repo, 'src/extra.txt', 'helper\n');
    const k2 = step(repo, 'inline the hot call', '80').log.json?.commit;
    step(repo, 'try a bigger buffer', '85');
    keeps = [String(k1), String(k2)];
    expect(git(repo, 'rev-list', '--reverse', 'main..autoloop/fin').split('\n')).toEqual(keeps);
    before = refs(repo);
  });

  it('replays exactly the kept changes, in order, each message carrying its effect', () => {
    const r = run('finalize', ['--json'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ experiment: 'fin', branch: 'autoloop/fin-final', base, squash: false, user_branch: 'autoloop/fin' });
    const commits = git(repo, 'rev-list', '--reverse', `${base}..autoloop/fin-final`).split('\n');
    expect(commits).toHaveLength(2);
    expect(git(repo, 'rev-parse', `${commits[0]}^`)).toBe(base);
    // Same changes as the keeps, commit by commit; nothing from the discarded or crashed runs.
    for (let i = 0; i < 2; i++) {
      expect(git(repo, 'diff', `${commits[i]}^`, commits[i] as string)).toBe(git(repo, 'diff', `${keeps[i]}^`, keeps[i] as string));
    }
    expect(git(repo, 'show', '--name-only', '--format=', commits[1] as string).split('\n').sort()).toEqual(['src/extra.txt', 'src/value.txt']);
    expect(git(repo, 'rev-parse', 'autoloop/fin-final^{tree}')).toBe(git(repo, 'rev-parse', 'autoloop/fin^{tree}'));
    const m1 = git(repo, 'log', '-1', '--format=%B', commits[0] as string);
    const m2 = git(repo, 'log', '-1', '--format=%B', commits[1] as string);
    expect(m1.split('\n')[0]).toBe('halve the loop');
    expect(m1).toContain('score 100 → 90 (+10%)');
    expect(m1).toContain(`Autoloop-Source: ${keeps[0]}`);
    expect(m2.split('\n')[0]).toBe('inline the hot call');
    expect(m2).toContain('score 90 → 80 (+11.1%)');
    // The original author is kept.
    expect(git(repo, 'log', '-1', '--format=%an', commits[0] as string)).toBe(git(repo, 'log', '-1', '--format=%an', keeps[0] as string));

    // Nothing of autoloop's state is committed; the report is written beside the experiment.
    expect(git(repo, 'ls-tree', '-r', '--name-only', 'autoloop/fin-final')).not.toContain('.autoloop');
    const report = path.join(expDir(repo, 'fin'), 'report.md');
    expect(r.json?.report).toBe('.autoloop/experiments/fin/report.md');
    expect(fs.readFileSync(report, 'utf8')).toBe(run('report', ['--experiment', 'fin'], repo).stdout);

    // The user's branches and the experiment branch did not move; the checkout is where it was.
    const after = refs(repo);
    expect(Object.keys(after).sort()).toEqual([...Object.keys(before), 'autoloop/fin-final'].sort());
    for (const [name, sha] of Object.entries(before)) expect(after[name], name).toBe(sha);
    expect(git(repo, 'branch', '--show-current')).toBe('autoloop/fin');
    expect(git(repo, 'status', '--porcelain', '--untracked-files=no')).toBe('');
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(1);
  });

  it('squashes the kept changes into one commit with every effect in its message', () => {
    const r = run('finalize', ['--squash', '--branch', 'review/fin', '--json'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ branch: 'review/fin', squash: true });
    expect(git(repo, 'rev-list', `${base}..review/fin`).split('\n')).toHaveLength(1);
    expect(git(repo, 'rev-parse', 'review/fin^')).toBe(base);
    expect(git(repo, 'rev-parse', 'review/fin^{tree}')).toBe(git(repo, 'rev-parse', 'autoloop/fin^{tree}'));
    const msg = git(repo, 'log', '-1', '--format=%B', 'review/fin');
    expect(msg.split('\n')[0]).toBe('autoloop fin: score 100 → 80 (+20%)');
    expect(msg).toContain('- r0002 score 100 → 90 (+10%): halve the loop');
    expect(msg).toContain('- r0005 score 90 → 80 (+11.1%): inline the hot call');
    expect(msg).toContain('Autoloop-Runs: r0002, r0005');
    for (const [name, sha] of Object.entries(before)) expect(refs(repo)[name], name).toBe(sha);
  });

  it('makes the same branch by reusing the chained keeps\' trees (one fast-import, or a commit-tree each) as by cherry-picking them (and with --squash)', () => {
    // What a branch says: per commit its tree, author, author date (a replayed keep's is the original one) and message.
    const shape = (branch: string) =>
      git(repo, 'log', '--reverse', `--format=%T %an <%ae>${branch.includes('squash') ? '' : ' %ad'}%n%B`, `${base}..${branch}`, '--date=raw')
        .split('\n')
        .concat(git(repo, 'rev-parse', `${branch}^{tree}`));
    // The git processes each way starts: the chain writes one commit object per keep, no worktree, no cherry-pick.
    const counted = (f: string) => Number(/^git (\d+)$/m.exec(fs.readFileSync(f, 'utf8'))?.[1]);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-fin-count-'));
    for (const squash of [[], ['--squash']]) {
      const name = squash.length ? 'squash' : 'plain';
      const fast = engine('finalize', ['--json', '--branch', `fast/${name}`, ...squash], repo, { AUTOLOOP_COUNT_IO: path.join(tmp, `fast-${name}`) });
      const slow = engine('finalize', ['--json', '--branch', `slow/${name}`, ...squash], repo, { AUTOLOOP_FAULT_AT: 'finalize:chain', AUTOLOOP_COUNT_IO: path.join(tmp, `slow-${name}`) });
      expect(counted(path.join(tmp, `fast-${name}`)) + 7).toBeLessThanOrEqual(counted(path.join(tmp, `slow-${name}`)));
      // The chain written by one commit-tree each (where fast-import cannot) makes the same branch too.
      const each = engine('finalize', ['--json', '--branch', `each/${name}`, ...squash], repo, { AUTOLOOP_FAULT_AT: 'finalize:import' });
      expect(each.code, each.stderr).toBe(0);
      expect(shape(`each/${name}`)).toEqual(shape(`slow/${name}`));
      expect(fast.code, fast.stderr).toBe(0);
      expect(slow.code, slow.stderr).toBe(0);
      expect(shape(`fast/${name}`)).toEqual(shape(`slow/${name}`));
      expect((fast.json?.commits as unknown[]).length).toBe(squash.length ? 1 : 2);
      expect(fast.json?.skipped).toEqual(slow.json?.skipped);
    }
    expect(git(repo, 'worktree', 'list').split('\n')).toHaveLength(1);
    // fast-import wrote no ref of its own.
    expect(git(repo, 'for-each-ref', 'refs/autoloop/')).not.toContain('finalize-import');
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('never moves an existing branch; run again, it takes its own finished branch as it is', () => {
    const final = git(repo, 'rev-parse', 'autoloop/fin-final');
    // A close cut short after finalize runs it again: the same keeps on our default branch are reported, not refused.
    const again = run('finalize', ['--json'], repo);
    expect(again.code).toBe(0);
    expect(again.json).toMatchObject({ branch: 'autoloop/fin-final', head: final, existed: true });
    expect((again.json?.commits as { sha: string }[]).map((c) => c.sha)).toEqual(git(repo, 'rev-list', '--reverse', `${base}..${final}`).split('\n'));
    expect(run('finalize', [], repo).stdout).toMatch(/^branch autoloop\/fin-final already held these kept changes \(finalized before; nothing created\)/);
    // The same name holding anything else (here the squashed form) is refused and left alone.
    refused(run('finalize', ['--squash'], repo), /branch autoloop\/fin-final already exists/);
    git(repo, 'branch', '-f', 'autoloop/fin-final', `${final}^`);
    refused(run('finalize', [], repo), /branch autoloop\/fin-final already exists/);
    expect(git(repo, 'rev-parse', 'autoloop/fin-final')).toBe(git(repo, 'rev-parse', `${final}^`));
    git(repo, 'branch', '-f', 'autoloop/fin-final', final);
    // A name asked for is never taken over, even with the same commits.
    refused(run('finalize', ['--branch', 'main'], repo), /branch main already exists/);
    git(repo, 'branch', 'copy-of-final', final);
    refused(run('finalize', ['--branch', 'copy-of-final'], repo), /branch copy-of-final already exists/);
    git(repo, 'branch', '-D', 'copy-of-final');
    expect(git(repo, 'rev-parse', 'autoloop/fin-final')).toBe(final);
    expect(git(repo, 'rev-parse', 'main')).toBe(before.main);
    refused(run('finalize', ['--branch', 'bad..name'], repo), /"bad\.\.name" is not a valid branch name/);
  });

  it('refuses a tree with uncommitted changes in scope, naming the files, and creates nothing', () => {
    const kept = read(repo, 'src/value.txt');
    write(repo, 'src/value.txt', '70\n');
    // On the loop's branch a commit would move it: no such advice there.
    refused(run('finalize', ['--branch', 'dirty-try'], repo), /uncommitted changes to tracked files in scope: src\/value\.txt; the loop has terminated and a commit here would move its branch autoloop\/fin: undo them \(or stash them\), then finalize again$/);
    expect(git(repo, 'branch', '--list', 'dirty-try')).toBe('');
    expect(read(repo, 'src/value.txt')).toBe('70\n');
    write(repo, 'src/value.txt', kept);
  });

  it('refuses the user\'s uncommitted edit outside the scope too (a dirty tree; finalize-dirty.test.ts has the rest), and leaves it as it is', () => {
    write(repo, 'README.md', 'edited by the user\n');
    refused(run('finalize', ['--branch', 'beside-readme', '--json'], repo), /^finalize: uncommitted changes to tracked files outside the scope: README\.md; a commit here would move the loop's branch autoloop\/fin: stash them \(git stash\), finalize, then git stash pop$/);
    expect(git(repo, 'branch', '--list', 'beside-readme')).toBe('');
    expect(read(repo, 'README.md')).toBe('edited by the user\n');
    git(repo, 'checkout', '-q', '--', 'README.md');
  });

  it('leaves the user on their own branch when run from it', () => {
    git(repo, 'checkout', '-q', 'main');
    const r = run('finalize', ['--experiment', 'fin', '--branch', 'from-main'], repo);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('your branch (main) is untouched');
    expect(git(repo, 'branch', '--show-current')).toBe('main');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(base);
    expect(read(repo, 'src/value.txt')).toBe('100');
    expect(git(repo, 'rev-parse', 'from-main^{tree}')).toBe(git(repo, 'rev-parse', 'autoloop/fin-final^{tree}'));
  });
});

describe("finalize on a live loop with the loop's change in the tree", () => {
  it('names the engine call that settles it (never a commit, which would move the loop branch), and builds the branch once it is settled', () => {
    const repo = baselineRepo('100');
    const loopHead = git(repo, 'rev-parse', 'autoloop/exp');
    setValue(repo, '90');
    const settle = 'measure and log it \\(run-experiment --description "<the change>": a keep is committed, anything else reverted\\), then finalize again$';
    refused(engine('finalize', [], repo), new RegExp(`^finalize: uncommitted changes to tracked files in scope: src/value\\.txt; the loop's own change: ${settle}`));
    expect(engine('control', ['stop'], repo).code).toBe(0);
    refused(engine('finalize', [], repo), new RegExp(`the loop's own change: control\\.mjs resume, then ${settle}`));
    expect(engine('control', ['resume'], repo).code).toBe(0);
    expect(engine('run-experiment', ['--json'], repo).code).toBe(0);
    refused(engine('finalize', [], repo), /src\/value\.txt; r0002 was measured but not logged: log it first \(log-experiment --description "<the change it measured>"\), then finalize again$/);
    // Nothing moved, and the advice followed gives the branch.
    expect(git(repo, 'rev-parse', 'autoloop/exp')).toBe(loopHead);
    expect(engine('log-experiment', ['--description', 'lower it', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    const f = engine('finalize', [], repo);
    expect(f.code, f.stderr).toBe(0);
    expect(git(repo, 'show', 'autoloop/exp-final:src/value.txt')).toBe('90');
  });
});

describe('finalize outside git', () => {
  it('refuses a snapshot-mode experiment with a clear message', () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-snap-')));
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'value.txt'), '100');
    fs.writeFileSync(path.join(dir, 'bench.cjs'), "console.log('METRIC score=' + require('fs').readFileSync('src/value.txt','utf8'))\n");
    expect(init(dir, 'snap').code).toBe(0);
    refused(run('finalize', [], dir), /finalize needs git: "snap" ran in snapshot mode/);
  });
});
