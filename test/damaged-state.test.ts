// Damaged state in .autoloop/ met by the real engine on real repositories: a
// ledger without its config line, a state cache from another experiment, a
// cache file that is a symbolic link to outside the repository. Each answer is
// either the one the intact state gives or a one-line refusal naming the
// problem; nothing is written outside .autoloop/.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, iterate, setValue, shellBaselineRepo } from './helpers/engine.ts';
import { fromState } from './helpers/loop.ts';
import { tmpDir } from './helpers/tmp.ts';

const expDir = (repo: string) => path.join(repo, '.autoloop', 'experiments', 'exp');
// Every repository here starts from shellBaselineRepo (valueRepo's numbers printed by shell
// builtins): the damaged state is under test, not the benchmark, and each sample was a Node start.
const oneLine = (stderr: string) => {
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
};
/** status --json without its clock-dependent fields. */
const statusOf = (repo: string) => {
  const r = engine('status', ['--json'], repo);
  expect(r.code).toBe(0);
  const { updated_at: _u, elapsed_s: _e, ...rest } = r.json as Record<string, unknown>;
  return rest;
};

/**
 * shellBaselineRepo() with 90 kept on top: built once for the file and copied per
 * test (fromState: a deterministic keep builds no best tree, nothing names its path).
 */
const keptNinety = (): string =>
  fromState('damaged-state:keep-90', () => {
    const repo = shellBaselineRepo();
    setValue(repo, '90');
    expect(iterate(repo, 'better').log.json?.verdict).toBe('keep');
    return repo;
  });

describe('damaged state', () => {
  for (const [what, damage] of [
    ['emptied', (file: string) => fs.writeFileSync(file, '')],
    ['whose config line is damaged', (file: string) => fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^[^\n]*/, '{"type":"config",'))],
  ] as const) {
    it(`a ledger ${what}: run and log refuse in one line naming the ledger, and change nothing`, () => {
      const repo = shellBaselineRepo();
      const ledger = path.join(expDir(repo), 'ledger.jsonl');
      damage(ledger);
      const before = fs.readFileSync(ledger);
      setValue(repo, '90');
      for (const [cmd, args] of [['run-experiment', []], ['run-experiment', ['--description', 'x']], ['log-experiment', ['--description', 'x']]] as const) {
        const r = engine(cmd, [...args], repo);
        expect(r.code, `${cmd} ${r.stderr}`).toBe(2);
        oneLine(r.stderr);
        expect(r.stderr).toMatch(/ledger\.jsonl.*no config line/);
      }
      expect(fs.readFileSync(ledger)).toEqual(before);
      expect(fs.readFileSync(path.join(repo, 'src', 'value.txt'), 'utf8')).toBe('90');
    });
  }

  it("a state cache copied from another experiment's folder is not believed: the answers are the ledger's", () => {
    // Another repository's experiment of the same name, with a shorter ledger (its cache's offset lies inside ours).
    const other = shellBaselineRepo('500');
    const repo = keptNinety();
    setValue(repo, '95');
    expect(iterate(repo, 'worse').log.json?.verdict).toBe('discard');
    const truth = statusOf(repo);
    expect(truth).toMatchObject({ baseline: 100, best: 90 });
    for (const f of ['state.json', 'state-checkpoint.json', 'primaries-1.f64']) fs.copyFileSync(path.join(expDir(other), f), path.join(expDir(repo), f));
    expect(statusOf(repo)).toEqual(truth);
    expect(engine('report', [], repo).stdout).toContain('baseline 100 → best 90');
  });

  it('a cache file that is a symbolic link to outside the repository is replaced, never written through', () => {
    const repo = shellBaselineRepo();
    const outside = path.join(tmpDir('autoloop-outside-'), 'primaries.f64');
    fs.writeFileSync(outside, 'not yours\n');
    const sidecar = path.join(expDir(repo), 'primaries-1.f64');
    fs.rmSync(sidecar);
    fs.symlinkSync(outside, sidecar);
    setValue(repo, '90');
    const { log } = iterate(repo, 'better');
    expect(log.json?.verdict).toBe('keep');
    expect(fs.readFileSync(outside, 'utf8')).toBe('not yours\n');
    expect(fs.lstatSync(sidecar).isSymbolicLink()).toBe(false);
    expect(statusOf(repo)).toMatchObject({ baseline: 100, best: 90 });
  });

  it('a ledger that is a symbolic link to outside the repository is refused in one line, never appended to', () => {
    const repo = shellBaselineRepo();
    const ledger = path.join(expDir(repo), 'ledger.jsonl');
    const outside = path.join(tmpDir('autoloop-outside-'), 'ledger.jsonl');
    fs.copyFileSync(ledger, outside);
    fs.rmSync(ledger);
    fs.symlinkSync(outside, ledger);
    const before = fs.readFileSync(outside);
    setValue(repo, '90');
    const r = engine('run-experiment', ['--description', 'better'], repo);
    expect(r.code).not.toBe(0);
    oneLine(r.stderr);
    expect(r.stderr).toMatch(/ledger\.jsonl.*symbolic link/);
    expect(fs.readFileSync(outside)).toEqual(before);
  });

  it("the dashboard's indexes as symbolic links to outside the repository are rebuilt in place, never written through", () => {
    const repo = shellBaselineRepo();
    expect(engine('dashboard', ['--json'], repo).code).toBe(0); // writes runs.idx, runs.sum, commits.idx
    const outside = tmpDir('autoloop-outside-');
    const names = ['runs.idx', 'runs.sum', 'commits.idx'];
    for (const n of names) {
      fs.renameSync(path.join(expDir(repo), n), path.join(outside, n));
      fs.symlinkSync(path.join(outside, n), path.join(expDir(repo), n));
    }
    const before = names.map((n) => fs.readFileSync(path.join(outside, n)));
    setValue(repo, '90');
    expect(iterate(repo, 'better').log.json?.verdict).toBe('keep');
    const dash = engine('dashboard', ['--json'], repo);
    expect(dash.code).toBe(0);
    expect((dash.json?.rows as Array<{ run_id: string; commit: string | null }>).map((r) => r.run_id)).toEqual(['r0001', 'r0002']);
    expect(names.map((n) => fs.readFileSync(path.join(outside, n)))).toEqual(before);
    for (const n of names) expect(fs.lstatSync(path.join(expDir(repo), n)).isSymbolicLink()).toBe(false);
  });

  it('a directory where the lock file belongs is named in a one-line refusal, by reads and runs alike', () => {
    const repo = shellBaselineRepo();
    fs.mkdirSync(path.join(repo, '.autoloop', 'lock'));
    const ledger = fs.readFileSync(path.join(expDir(repo), 'ledger.jsonl'));
    setValue(repo, '90');
    for (const [cmd, args] of [['status', []], ['run-experiment', ['--description', 'x']], ['control', ['stop']]] as const) {
      const r = engine(cmd, [...args], repo);
      expect(r.code, `${cmd}: ${r.stderr}`).not.toBe(0);
      oneLine(r.stderr);
      expect(r.stderr).toMatch(/\.autoloop\/lock is a directory/);
    }
    expect(fs.readFileSync(path.join(expDir(repo), 'ledger.jsonl'))).toEqual(ledger);
  });

  it('a line written into the middle of the ledger by hand: its runs are counted once, not again', () => {
    const repo = keptNinety();
    const truth = statusOf(repo);
    const ledger = path.join(expDir(repo), 'ledger.jsonl');
    const lines = fs.readFileSync(ledger, 'utf8').split('\n');
    // Longer than the last line: the cached offset now lands on lines it has already folded.
    lines.splice(2, 0, 'a note pasted by hand '.repeat(200));
    fs.writeFileSync(ledger, lines.join('\n'));
    const { warnings: _w, ...after } = statusOf(repo);
    const { warnings: _t, ...want } = truth;
    expect(after).toEqual(want);
  });

  for (const cache of ['state.json', 'state-checkpoint.json', 'primaries-1.f64']) {
    it(`a directory where ${cache} belongs: the iteration still answers, and status too (a cache is a shortcut)`, () => {
      const repo = shellBaselineRepo();
      const file = path.join(expDir(repo), cache);
      fs.rmSync(file, { force: true });
      fs.mkdirSync(file);
      setValue(repo, '90');
      const r = engine('run-experiment', ['--description', 'better', '--json'], repo);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json?.verdict).toBe('keep');
      expect(statusOf(repo)).toMatchObject({ baseline: 100, best: 90 });
      expect(fs.statSync(file).isDirectory()).toBe(true); // not removed: it may hold someone's files
    });
  }

  it("a directory where one of the dashboard's indexes belongs: the dashboard answers from the ledger", () => {
    const repo = keptNinety();
    expect(engine('dashboard', ['--json'], repo).code).toBe(0); // writes the indexes
    for (const n of ['runs.idx', 'runs.sum', 'commits.idx']) {
      const file = path.join(expDir(repo), n);
      const saved = fs.readFileSync(file);
      fs.rmSync(file);
      fs.mkdirSync(file);
      const r = engine('dashboard', ['--json'], repo);
      expect(r.code, `${n}: ${r.stderr}`).toBe(0);
      expect((r.json?.rows as Array<{ run_id: string }>).map((x) => x.run_id)).toEqual(['r0001', 'r0002']);
      fs.rmdirSync(file);
      fs.writeFileSync(file, saved);
    }
  });

  it('a directory where active.json belongs is refused before any work, in one line', () => {
    const repo = shellBaselineRepo();
    const active = path.join(repo, '.autoloop', 'active.json');
    fs.rmSync(active);
    fs.mkdirSync(active);
    const ledger = fs.readFileSync(path.join(expDir(repo), 'ledger.jsonl'));
    const head = git(repo, 'rev-parse', 'HEAD');
    setValue(repo, '90');
    for (const [cmd, args] of [['run-experiment', ['--description', 'better']], ['control', ['stop']]] as const) {
      const r = engine(cmd, [...args], repo);
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(2);
      oneLine(r.stderr);
      expect(r.stderr).toContain('.autoloop/active.json is a directory');
    }
    // Nothing measured, kept or logged: the work was not done and then reported as failed.
    expect(fs.readFileSync(path.join(expDir(repo), 'ledger.jsonl'))).toEqual(ledger);
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
    expect(fs.readFileSync(path.join(repo, 'src', 'value.txt'), 'utf8')).toBe('90');
  });

  for (const cmd of ['control', 'candidate']) {
    it(`${cmd} without its command: the usage is the error, one line on stderr, and stdout stays empty for --json`, () => {
      const repo = shellBaselineRepo();
      const r = engine(cmd, ['--json'], repo);
      expect(r.code).toBe(2);
      oneLine(r.stderr);
      expect(r.stderr).toMatch(new RegExp(`^usage: ${cmd} `));
      expect(r.stdout).toBe('');
    });
  }
});
