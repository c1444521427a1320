// A failed init-experiment (an error, not a kill -9: user-files.test.ts has
// those) after it switched to autoloop/<slug> puts the checkout back as it
// found it: the same branch or detached HEAD, the same uncommitted and
// untracked files, no branch or experiment folder of its own left behind,
// and a re-init's experiment exactly as it was. AUTOLOOP_THROW_AT turns a
// crash point into an ordinary thrown error (faults.ts).
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { baselineRepo, engine, git, initValue, iterate, ledger, setValue, valueRepo } from './helpers/engine.ts';

const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');
const initArgs = ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**'];
const branches = (repo: string) => git(repo, 'for-each-ref', '--format=%(refname)', 'refs/heads/').split('\n').filter(Boolean).sort();
const head = (repo: string) => ({ ref: git(repo, 'rev-parse', '--symbolic-full-name', 'HEAD'), oid: git(repo, 'rev-parse', 'HEAD') });
/** Everything about the checkout a failed init must leave as it was. */
const checkout = (repo: string) => ({
  head: head(repo),
  branches: branches(repo),
  status: git(repo, 'status', '--porcelain=v1', '--untracked-files=all', '--', '.', ':!.autoloop'),
  staged: git(repo, 'diff', '--cached'),
  unstaged: git(repo, 'diff'),
  files: ['README.md', 'notes.txt', 'src/value.txt', 'src/mine.txt'].map((f) => (fs.existsSync(path.join(repo, f)) ? read(repo, f) : null)),
});

/** Every file of the experiment's folder but the lock, with its bytes: what a rolled-back init must leave as it found. */
function experimentFolder(repo: string): Record<string, string> {
  const dir = path.join(repo, '.autoloop', 'experiments', 'exp');
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const abs = path.join(dir, f);
    if (f === 'lock' || !fs.statSync(abs).isFile()) continue;
    out[f] = fs.readFileSync(abs).toString('base64');
  }
  return out;
}

/** A repository with the user's work in progress: a staged and an unstaged edit out of scope, untracked files in and out of it. */
function busyRepo(): string {
  const repo = valueRepo();
  fs.writeFileSync(path.join(repo, 'README.md'), 'fixture, edited\n');
  fs.writeFileSync(path.join(repo, 'notes.txt'), 'staged notes\n');
  git(repo, 'add', 'notes.txt');
  fs.writeFileSync(path.join(repo, 'src', 'mine.txt'), 'untracked in scope\n');
  return repo;
}

describe('a failed init-experiment after the branch switch', () => {
  for (const point of ['init:after-judges', 'init:before-ledger', 'init:after-ledger']) {
    it(`first init, failing at ${point}: back on main with the user's work as it was, no branch or .autoloop/ left`, () => {
      const repo = busyRepo();
      const before = checkout(repo);
      const r = engine('init-experiment', initArgs, repo, { AUTOLOOP_THROW_AT: point });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([`init-experiment: error: injected failure at ${point}`]);
      expect(checkout(repo)).toEqual(before);
      expect(branches(repo)).toEqual(['refs/heads/main']);
      expect(fs.existsSync(path.join(repo, '.autoloop'))).toBe(false);
      // Nothing wedged: the same init then succeeds.
      expect(initValue(repo).code).toBe(0);
      expect(head(repo).ref).toBe('refs/heads/autoloop/exp');
    });
  }

  it('first init from a detached HEAD: back on the same detached commit', () => {
    const repo = busyRepo();
    git(repo, 'checkout', '-q', '--detach');
    const before = checkout(repo);
    expect(before.head.ref).toBe('HEAD');
    const r = engine('init-experiment', initArgs, repo, { AUTOLOOP_THROW_AT: 'init:before-ledger' });
    expect(r.code).toBe(1);
    expect(checkout(repo)).toEqual(before);
  });

  for (const point of ['init:after-judges', 'init:before-ledger', 'init:after-ledger']) {
    it(`a new segment opened from another branch, failing at ${point}: back on it, the experiment and its branch exactly as they were`, () => {
      const repo = baselineRepo();
      setValue(repo, '90');
      expect(iterate(repo, 'better').log.json).toMatchObject({ verdict: 'keep' });
      git(repo, 'checkout', '-q', 'main');
      fs.writeFileSync(path.join(repo, 'README.md'), 'fixture, edited\n');
      const before = checkout(repo);
      const tip = git(repo, 'rev-parse', 'autoloop/exp');
      const folder = experimentFolder(repo);
      const r = engine('init-experiment', ['--name', 'exp', '--timeout', '99'], repo, { AUTOLOOP_THROW_AT: point });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([`init-experiment: error: injected failure at ${point}`]);
      expect(checkout(repo)).toEqual(before);
      expect(read(repo, 'src/value.txt')).toBe('100'); // main's tree, not the experiment's
      expect(git(repo, 'rev-parse', 'autoloop/exp')).toBe(tip);
      expect(experimentFolder(repo)).toEqual(folder);
      // The previous segment goes on: the next init opens segment 2, on the experiment's branch.
      expect(engine('init-experiment', ['--name', 'exp', '--timeout', '99', '--json'], repo).json).toMatchObject({ segment: 2 });
      expect(head(repo).ref).toBe('refs/heads/autoloop/exp');
    });
  }

  it('a real failure after the config line of a new segment (active.json cannot be written) is rolled back the same way', () => {
    const repo = baselineRepo();
    git(repo, 'checkout', '-q', 'main');
    const active = path.join(repo, '.autoloop', 'active.json');
    fs.rmSync(active, { force: true });
    fs.mkdirSync(path.join(active, 'in-the-way'), { recursive: true });
    const before = checkout(repo);
    const folder = experimentFolder(repo);
    const r = engine('init-experiment', ['--name', 'exp', '--timeout', '99'], repo);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(checkout(repo)).toEqual(before);
    expect(experimentFolder(repo)).toEqual(folder);
  });

  it('a real failure (a file in the way of the scratch area) after the switch of a new segment is rolled back the same way', () => {
    const repo = baselineRepo();
    git(repo, 'checkout', '-q', 'main');
    const scratch = path.join(repo, '.autoloop', 'experiments', 'exp', 'scratch');
    fs.rmSync(scratch, { recursive: true, force: true });
    fs.writeFileSync(scratch, 'in the way\n');
    const before = checkout(repo);
    const lines = ledger(repo);
    const r = engine('init-experiment', ['--name', 'exp', '--timeout', '99'], repo);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/scratch/);
    expect(checkout(repo)).toEqual(before);
    expect(ledger(repo)).toEqual(lines);
  });
});

describe('a new segment refused for in-scope changes', () => {
  it("that a run measured and nobody logged: points to log-experiment, not to a stash", () => {
    const repo = baselineRepo();
    setValue(repo, '90');
    expect(engine('run-experiment', ['--json'], repo).json).toMatchObject({ status: 'ok' });
    const r = engine('init-experiment', ['--name', 'exp', '--timeout', '99'], repo);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/uncommitted changes to tracked files in scope: src\/value\.txt; r0002 was measured but not logged: log it first \(log-experiment --description/);
    expect(r.stderr).not.toMatch(/stash/);
    // Following it works.
    expect(engine('log-experiment', ['--description', 'better', '--json'], repo).json).toMatchObject({ verdict: 'keep' });
    expect(engine('init-experiment', ['--name', 'exp', '--timeout', '99'], repo).code).toBe(0);
  });

  it('that nothing measured yet: names run-experiment --description beside commit or stash', () => {
    const repo = baselineRepo();
    setValue(repo, '90');
    const r = engine('init-experiment', ['--name', 'exp', '--timeout', '99'], repo);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/commit or stash them first \(the loop's own change: measure and log it first, run-experiment --description/);
  });
});
