// The engine end to end: real temporary git repositories, real benchmark
// processes (deterministic, noisy, crashing, slow with SIGTERM-ignoring
// children, flooding), real files. Kills, concurrency and bad input are in
// engine-safety.test.ts.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {
  baselineRepo,
  processesIn,
  engine,
  fromTemplate,
  git,
  initValue,
  iterate,
  ledger,
  setValue,
  SHELL_COMMAND,
  shellBaselineRepo,
  shellValueRepo,
  valueRepo,
} from './helpers/engine.ts';

const expDir = (repo: string) => path.join(repo, '.autoloop', 'experiments', 'exp');
const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');
// Where the benchmark only prints a value, the shell version of valueRepo's (shellValueRepo,
// shellBaselineRepo): the same numbers with no Node start per sample. valueRepo's own (node bench.cjs)
// stays where the benchmark is the case: a crash, a slow run, a flood, noise, an edited judge.

describe('a new experiment', () => {
  it('starts unowned: a hook session file left by an earlier loop is dropped', () => {
    const repo = valueRepo('100');
    fs.mkdirSync(path.join(repo, '.autoloop'), { recursive: true });
    fs.writeFileSync(path.join(repo, '.autoloop', 'session.json'), '{"owner_session":"old"}');
    expect(initValue(repo).code).toBe(0);
    expect(fs.existsSync(path.join(repo, '.autoloop', 'session.json'))).toBe(false);
  });
});

describe('one iteration on a deterministic benchmark', () => {
  it('keeps a real improvement with a scoped commit, reverts a regression, and says why', () => {
    const repo = shellValueRepo('100');
    fs.writeFileSync(path.join(repo, 'MY-NOTES.txt'), 'user notes\n'); // untracked, out of scope
    expect(initValue(repo, SHELL_COMMAND).code).toBe(0);
    expect(git(repo, 'branch', '--show-current')).toBe('autoloop/exp');

    const base = iterate(repo, 'baseline');
    expect(base.run.json).toMatchObject({ status: 'ok', primary: 100, samples: 3 });
    expect(base.log.json).toMatchObject({ verdict: 'keep', best: 100, baseline: 100 });

    setValue(repo, '90');
    const better = iterate(repo, 'lower the value', ['--hypothesis', 'smaller is faster']);
    expect(better.run.json).toMatchObject({ status: 'ok', primary: 90, samples: 2 }); // zero noise on 3 equal baselines: a changed value is read twice
    expect(better.log.json).toMatchObject({ verdict: 'keep', best: 90, baseline: 100 });
    const sha = better.log.json?.commit as string;
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(sha);
    expect(git(repo, 'show', '--name-only', '--format=', 'HEAD')).toBe('src/value.txt');
    const msg = git(repo, 'log', '-1', '--format=%B');
    expect(msg).toContain('Autoloop-Run: r0002');
    expect(msg).toContain('Autoloop-Metric: score=90');

    setValue(repo, '95');
    const worse = iterate(repo, 'raise the value');
    expect(worse.log.json).toMatchObject({ verdict: 'discard', best: 90 });
    expect(read(repo, 'src/value.txt')).toBe('90');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(sha);
    expect(read(repo, 'MY-NOTES.txt')).toBe('user notes\n');
    expect(git(repo, 'rev-parse', 'main')).toBe(git(repo, 'rev-list', '--max-parents=0', 'HEAD'));

    const lines = ledger(repo);
    expect(lines.map((l) => l.type)).toEqual(['config', 'result', 'event', 'result', 'event', 'result', 'event']);
    expect(lines.filter((l) => l.type === 'result').map((l) => l.verdict)).toEqual(['keep', 'keep', 'discard']);
  });

  it('keeps the model-facing output of an ordinary iteration small', () => {
    const repo = shellBaselineRepo();
    setValue(repo, '90');
    const run = engine('run-experiment', [], repo);
    const log = engine('log-experiment', ['--description', 'lower the value'], repo);
    expect(run.code).toBe(0);
    expect(log.stdout).toMatch(/KEEP/);
    expect(Buffer.byteLength(run.stdout + log.stdout)).toBeLessThanOrEqual(1500);
  });
});

describe('failing runs', () => {
  it('records a crash with a bounded output tail and restores the best', () => {
    const repo = baselineRepo();
    setValue(repo, '50 crash');
    const { run, log } = iterate(repo, 'break it');
    expect(run.json).toMatchObject({ status: 'crash' });
    expect(String(run.json?.tail)).toContain('boom');
    expect(log.json).toMatchObject({ verdict: 'crash', commit: null });
    expect(read(repo, 'src/value.txt')).toBe('100');
  });

  it('kills a timed-out benchmark and every child that ignores SIGTERM', async () => {
    // The slow benchmark is the first run: a baseline under a timeout this short
    // timed out itself on a machine at load 18. The timeout is the time a busy machine
    // gets to start the benchmark's three Node processes (and their SIGTERM handlers)
    // before they are killed: 0.2-0.4 s beside four busy processes at load 18, and a
    // loaded test run can take several times that.
    const repo = valueRepo('1 slow');
    expect(initValue(repo, ['--timeout', '10', '--grace', '0.5']).code).toBe(0);
    const run = engine('run-experiment', ['--json'], repo);
    expect(run.json).toMatchObject({ status: 'timeout' });
    expect(read(repo, '.pids').trim().split('\n').length).toBe(3);
    expect(processesIn(repo)).toEqual([]);
    fs.rmSync(path.join(repo, '.pids'));
    const log = engine('log-experiment', ['--description', 'slow change', '--json'], repo);
    expect(log.json).toMatchObject({ verdict: 'timeout' });
  });

  it('does not hold a flood of output in memory and still finds the metric', () => {
    // One sample: every sample floods alike, and one flood is the case under test.
    const repo = valueRepo('100 flood');
    initValue(repo, ['--repeats', '1']);
    const run = engine('run-experiment', ['--json'], repo);
    expect(run.json).toMatchObject({ status: 'ok', primary: 100, samples: 1 });
    const log = fs.statSync(path.join(expDir(repo), 'runs', 'r0001', 'output.log'));
    expect(log.size).toBeGreaterThan(50_000_000);
    expect(run.stdout.length).toBeLessThan(1000);
  });

  it('makes a run without the primary metric invalid', () => {
    const repo = valueRepo('100');
    initValue(repo, ['--metric', 'missing_metric']);
    const { run, log } = iterate(repo, 'baseline');
    expect(run.json).toMatchObject({ status: 'invalid', primary: null });
    expect(String(run.json?.reason)).toContain('missing_metric');
    expect(log.json).toMatchObject({ verdict: 'invalid' });
  });

  it('never keeps when the checks fail', () => {
    // A shell check (a builtin test): the verdict is under test, and a Node check costs a Node start a run.
    const repo = shellValueRepo('100', { files: { 'check.sh': 'read v < src/value.txt; [ "$v" -ge 80 ]\n' } });
    initValue(repo, [...SHELL_COMMAND, '--checks', 'sh check.sh']);
    iterate(repo, 'baseline');
    setValue(repo, '70');
    const { run, log } = iterate(repo, 'too far');
    expect(run.json).toMatchObject({ status: 'checks_failed', primary: 70 });
    expect(log.json).toMatchObject({ verdict: 'checks_failed', best: 100 });
    expect(read(repo, 'src/value.txt')).toBe('100');
  });
});

describe('the judge cannot be edited to win', () => {
  it('refuses a run whose benchmark changed and restores it when logged', () => {
    const repo = baselineRepo();
    const original = read(repo, 'bench.cjs');
    fs.writeFileSync(path.join(repo, 'bench.cjs'), "console.log('METRIC score=1')\n");
    setValue(repo, '99');
    const { run, log } = iterate(repo, 'cheat');
    expect(run.json).toMatchObject({ status: 'invalid' });
    expect(String(run.json?.reason)).toContain('bench.cjs');
    expect(log.json).toMatchObject({ verdict: 'invalid', best: 100 });
    expect(read(repo, 'bench.cjs')).toBe(original);
    expect(read(repo, 'src/value.txt')).toBe('100');
  });

  it('sets aside a tracked file changed outside the scope between runs (reported, never committed)', () => {
    const repo = shellBaselineRepo();
    fs.appendFileSync(path.join(repo, 'README.md'), 'edited\n');
    setValue(repo, '90');
    const { run, log } = iterate(repo, 'better');
    expect(run.json).toMatchObject({ status: 'ok' });
    expect(String((run.json?.warnings as string[])[0])).toContain('README.md');
    expect(log.json).toMatchObject({ verdict: 'keep' });
    expect(git(repo, 'show', '--name-only', '--format=', 'HEAD')).toBe('src/value.txt');
    expect(read(repo, 'README.md')).toBe('fixture\nedited\n');
    expect(ledger(repo).some((l) => l.event === 'outside_change')).toBe(true);
    // The loop goes on: the next run is not bothered by it.
    setValue(repo, '80');
    const next = iterate(repo, 'better again').run.json;
    expect(next).toMatchObject({ status: 'ok' });
    expect(next?.warnings).toBeUndefined();
  });

  it('refuses a judged config edit until a new segment opens', () => {
    const repo = baselineRepo();
    const cfg = path.join(expDir(repo), 'config.yaml');
    fs.writeFileSync(cfg, read(repo, path.relative(repo, cfg)).replace('command: node bench.cjs', 'command: echo METRIC score=1'));
    const run = engine('run-experiment', ['--json'], repo);
    expect(run.json).toMatchObject({ status: 'invalid' });
    expect(String(run.json?.reason)).toContain('config');
    engine('log-experiment', ['--description', 'edited config'], repo);
    const again = engine('init-experiment', ['--name', 'exp', '--json'], repo);
    expect(again.json).toMatchObject({ segment: 2 });
    const ok = engine('run-experiment', ['--json'], repo);
    expect(ok.json).toMatchObject({ status: 'ok', primary: 1 });
  });
});

describe("the user's files", () => {
  it('survive keeps and reverts, in and out of scope; created in-scope files are removed on revert', () => {
    const repo = shellValueRepo('100');
    fs.writeFileSync(path.join(repo, 'outside.txt'), 'mine, outside\n');
    fs.writeFileSync(path.join(repo, 'src', 'mine.txt'), 'mine, inside the scope\n');
    initValue(repo, SHELL_COMMAND);
    iterate(repo, 'baseline');
    setValue(repo, '90');
    fs.writeFileSync(path.join(repo, 'src', 'helper.txt'), 'created by the change\n');
    const keep = iterate(repo, 'keep with a new file');
    expect(keep.log.json).toMatchObject({ verdict: 'keep' });
    const committed = git(repo, 'show', '--name-only', '--format=', 'HEAD').split('\n').sort();
    expect(committed).toEqual(['src/helper.txt', 'src/value.txt']);
    setValue(repo, '95');
    fs.writeFileSync(path.join(repo, 'src', 'junk.txt'), 'created by a bad change\n');
    const bad = iterate(repo, 'worse, with junk');
    expect(bad.log.json).toMatchObject({ verdict: 'discard' });
    expect(fs.existsSync(path.join(repo, 'src', 'junk.txt'))).toBe(false);
    expect(read(repo, 'outside.txt')).toBe('mine, outside\n');
    expect(read(repo, 'src/mine.txt')).toBe('mine, inside the scope\n');
    expect(git(repo, 'ls-files', 'src/mine.txt', 'outside.txt')).toBe('');
    expect(read(repo, 'src/helper.txt')).toBe('created by the change\n');
  });

  it('works without git in snapshot mode with the same guarantees', () => {
    const repo = shellValueRepo('100', { git: false, files: { 'outside.txt': 'mine\n' } });
    const init = initValue(repo, SHELL_COMMAND);
    expect(init.json).toMatchObject({ mode: 'snapshot', branch: null });
    iterate(repo, 'baseline');
    setValue(repo, '80');
    expect(iterate(repo, 'better').log.json).toMatchObject({ verdict: 'keep', best: 80 });
    setValue(repo, '85');
    fs.writeFileSync(path.join(repo, 'src', 'new.txt'), 'x');
    expect(iterate(repo, 'worse').log.json).toMatchObject({ verdict: 'discard', best: 80 });
    expect(read(repo, 'src/value.txt')).toBe('80');
    expect(fs.existsSync(path.join(repo, 'src', 'new.txt'))).toBe(false);
    expect(read(repo, 'outside.txt')).toBe('mine\n');
  });
});

describe('termination', () => {
  it('stops at max runs and refuses further runs', () => {
    const repo = shellBaselineRepo('100', ['--max-runs', '3']);
    setValue(repo, '99');
    iterate(repo, 'a');
    setValue(repo, '98');
    const last = iterate(repo, 'b');
    expect(last.log.json).toMatchObject({ should_terminate: true, terminated_by: 'max_runs' });
    const refused = engine('run-experiment', [], repo);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/max_runs|max runs/);    // A new segment counts the experiment's runs too: init says so instead of opening a loop that refuses every run.
    const again = initValue(repo, [...SHELL_COMMAND, '--max-runs', '3']);
    expect(again.code).toBe(0);
    expect(again.json?.warnings).toContain('the new segment opens terminated: max_runs (3 runs of 3): runs and wall clock count over the whole experiment; raise max_runs or max_wall_clock in config.yaml');
  });

  it('a cleared experiment stays cleared: repair, stop and a refused resume do not wake its hooks', () => {
    const active = (repo: string) => fs.existsSync(path.join(repo, '.autoloop', 'active.json'));
    // Closed after termination (the chain skill finalizes, then clears): a later repair (README: after a
    // killed finalize) must not bring back the hooks, nor a terminated loop `up` would try to close again.
    const done = shellBaselineRepo('100', ['--max-runs', '1']);
    expect(engine('control', ['clear'], done).code).toBe(0);
    expect(active(done)).toBe(false);
    for (const cmd of ['repair', 'resume', 'stop']) {
      expect(engine('control', [cmd], done).code).toBe(0);
      expect([cmd, active(done)]).toEqual([cmd, false]);
    }
    expect(engine('status', ['--json'], done).code).toBe(0);
    // A loop that can still run: resume is how the user wakes it again.
    const live = shellBaselineRepo();
    expect(engine('control', ['clear'], live).code).toBe(0);
    expect(engine('control', ['repair'], live).code).toBe(0);
    expect(active(live)).toBe(false);
    expect(engine('control', ['resume'], live).code).toBe(0);
    expect(active(live)).toBe(true);
  });

  it('stops at the target and on a plateau', () => {
    const repo = shellBaselineRepo('100', ['--target', '80']);
    setValue(repo, '79');
    expect(iterate(repo, 'reach').log.json).toMatchObject({ should_terminate: true, terminated_by: 'target' });

    const flat = shellValueRepo('100');
    initValue(flat, [...SHELL_COMMAND, '--plateau', '2']);
    iterate(flat, 'baseline');
    setValue(flat, '101');
    expect(iterate(flat, 'worse 1').log.json).toMatchObject({ should_terminate: false });
    setValue(flat, '102');
    expect(iterate(flat, 'worse 2').log.json).toMatchObject({ should_terminate: true, terminated_by: 'plateau' });
  });
});

describe('noise', () => {
  // Both tests start from a noisy baseline (many samples, each a Node start): it is built once
  // (fromTemplate), and the run's answer kept for the test that checks the baseline itself.
  let baseRun: Record<string, unknown> | null = null;
  const noisyBaseline = (): string =>
    fromTemplate('noisy baseline', () => {
      const repo = valueRepo('100 noisy');
      expect(initValue(repo).code).toBe(0);
      const base = iterate(repo, 'baseline');
      expect(base.log.json).toMatchObject({ verdict: 'keep' });
      baseRun = base.run.json;
      return repo;
    });

  it('measures the noise at the baseline and keeps a large real gain on a noisy benchmark', () => {
    const repo = noisyBaseline();
    expect(Number(baseRun?.samples)).toBeGreaterThan(3);
    setValue(repo, '70 noisy');
    const big = iterate(repo, 'large gain');
    expect(Number(big.run.json?.samples)).toBeGreaterThan(1);
    expect(big.log.json).toMatchObject({ verdict: 'keep' });
  });

  it("clear removes the best's worktree: no checkout of the engine's is left registered in the user's repository", () => {
    const repo = noisyBaseline();
    setValue(repo, '90 noisy');
    iterate(repo, 'a change');
    const worktrees = () => git(repo, 'worktree', 'list', '--porcelain').split('\n').filter((l) => l.startsWith('worktree '));
    expect(worktrees()).toHaveLength(2); // the best's, where it was re-measured
    expect(engine('control', ['clear'], repo).code).toBe(0);
    expect(worktrees()).toEqual([`worktree ${repo}`]);
    expect(fs.existsSync(path.join(expDir(repo), 'best'))).toBe(false);
    // Woken again, the loop rebuilds it when it needs it.
    expect(engine('control', ['resume'], repo).code).toBe(0);
    setValue(repo, '80 noisy');
    expect(iterate(repo, 'another').log.code).toBe(0);
  });
});
