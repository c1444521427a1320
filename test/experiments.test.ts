// Several experiments in one repository: status --list shows each with its
// state, best and branch; status, report and dashboard of one whose branch is
// not checked out read its ledger and state and leave the tree alone.
import { describe, expect, it } from 'vitest';
import { engine, git, initValue, iterate, setValue, valueRepo } from './helpers/engine.ts';

// Many real engine calls in one test: a guard against a hang, not a speed limit (the machine may be loaded).
const HANG_GUARD = { timeout: 600_000 };

describe('the experiment\'s branch not checked out', HANG_GUARD, () => {
  it('status and explain say to check it out, not the next idea, while the tree is on a branch of the user\'s', () => {
    const repo = valueRepo('100');
    expect(initValue(repo).code).toBe(0);
    iterate(repo, 'baseline');
    git(repo, 'checkout', '-q', 'main');
    expect(engine('run-experiment', [], repo).stderr).toMatch(/the work tree is on main, not autoloop\/exp/);
    const text = engine('status', [], repo).stdout;
    expect(text).toContain('autoloop/exp is not checked out (the tree is on main, where run-experiment refuses)');
    expect(text).toContain('next: ask the user to run git checkout autoloop/exp');
    expect(engine('control', ['explain', '--json'], repo).json).toMatchObject({ next_action: 'ask the user to run git checkout autoloop/exp (the tree is on main, where run-experiment refuses)' });
    git(repo, 'checkout', '-q', 'autoloop/exp');
    expect(engine('status', [], repo).stdout).toContain('tree is at the best');
  });
});

describe('two experiments in one repository', HANG_GUARD, () => {
  it('lists both, and reports on the one whose branch is not checked out', () => {
    const repo = valueRepo('100');
    expect(initValue(repo).code).toBe(0);
    iterate(repo, 'baseline');
    setValue(repo, '80');
    expect(iterate(repo, 'lower the value').log.json).toMatchObject({ verdict: 'keep', best: 80 });

    // A second experiment, started from the first one's best: its branch is now checked out.
    expect(engine('init-experiment', ['--name', 'other', '--metric', 'mem', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/other.txt'], repo).code).toBe(0);
    expect(git(repo, 'branch', '--show-current')).toBe('autoloop/other');
    const head = git(repo, 'rev-parse', 'HEAD');

    const list = engine('status', ['--list', '--json'], repo);
    expect(list.code).toBe(0);
    expect(list.json?.experiments).toEqual([
      { experiment: 'exp', active: false, loop: 'active', metric: 'score', direction: 'lower', best: 80, runs: 2, branch: 'autoloop/exp' },
      { experiment: 'other', active: true, loop: 'active', metric: 'mem', direction: 'lower', best: null, runs: 0, branch: 'autoloop/other' },
    ]);
    const text = engine('status', ['--list'], repo).stdout.trimEnd().split('\n');
    expect(text).toEqual([
      '  exp: active, score best 80 (lower is better), 2 runs, autoloop/exp',
      '* other: active, mem best - (lower is better), 0 runs, autoloop/other',
    ]);

    const status = engine('status', ['--experiment', 'exp', '--json'], repo);
    expect(status.code).toBe(0);
    expect(status.json).toMatchObject({ experiment: 'exp', best: 80, baseline: 100, branch: 'autoloop/exp', branch_checked_out: false, tree_differs_from_best: [] });
    expect(engine('status', ['--experiment', 'exp'], repo).stdout).toContain('autoloop/exp is not checked out (the tree belongs to another experiment)');

    const report = engine('report', ['--experiment', 'exp'], repo);
    expect(report.code).toBe(0);
    expect(report.stdout).toContain('- **Result:** baseline 100 → best 80');
    const dash = engine('dashboard', ['--experiment', 'exp', '--json'], repo);
    expect(dash.code).toBe(0);
    expect(JSON.stringify(dash.json)).toContain('"experiment":"exp"');

    // Nothing moved: still on the other experiment's branch and commit, and it is still the active one.
    expect(git(repo, 'branch', '--show-current')).toBe('autoloop/other');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
    expect(engine('status', ['--json'], repo).json).toMatchObject({ experiment: 'other', branch_checked_out: true });
  });

  it('says so when there is no experiment to list', () => {
    const repo = valueRepo('100');
    const r = engine('status', ['--list'], repo);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('no experiment in this repository: run init-experiment');
  });
});
