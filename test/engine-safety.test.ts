// The engine under kills, concurrency and bad input: kill -9 at every crash
// point of a keep and of a revert, a torn ledger, the lock, SIGINT and a dead
// engine whose processes live on, bad flags and bad config. Real temporary git
// repositories and real processes, as in engine.test.ts (split from it so the
// two halves run on different workers).
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { procStart } from '../scripts/lib/procs.ts';
import { alive, baselineRepo, fromTemplate, processesIn, engine, engineAsync, git, initValue, iterate, ledger, makeRepo, setValue, valueRepo, waitFor } from './helpers/engine.ts';
import { fromState } from './helpers/loop.ts';

const expDir = (repo: string) => path.join(repo, '.autoloop', 'experiments', 'exp');
const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');

/**
 * valueRepo's benchmark in shell builtins (the number in src/value.txt, and
 * mem=10): no Node start per sample where the kill is the engine's, not the
 * benchmark's. The tests of a run that must stay busy keep valueRepo's "slow"
 * benchmark (baselineRepo with SLOW_RUN): its processes ignore SIGTERM.
 */
const SHELL_BENCH = 'read -r v < src/value.txt\necho "METRIC score=$v"\necho "METRIC mem=10"\n';

/** baselineRepo on that benchmark: a fresh copy of "exp" opened and its baseline (100) kept, built once per file (fromState). */
const shellBaseline = (): string =>
  fromState('shell baseline', () => {
    const repo = makeRepo({ 'bench.sh': SHELL_BENCH, 'src/value.txt': '100', 'src/other.txt': 'other\n', 'README.md': 'fixture\n' });
    const init = initValue(repo, ['--command', 'sh bench.sh']);
    expect(init.code, init.stderr).toBe(0);
    expect(iterate(repo, 'baseline').log.json).toMatchObject({ verdict: 'keep' });
    return repo;
  });

describe('safety under kills and concurrency', () => {
  // For the tests that interrupt a slow run: no timeout ends it first, and a
  // short grace, since its processes ignore SIGTERM and would otherwise hold
  // every SIGINT and repair for the default 5 s (the kills are under test,
  // not the grace's length: runner-local.test.ts checks that).
  const SLOW_RUN = ['--timeout', '600', '--grace', '0.2'];
  const keepPoints = ['before-ledger', 'after-ledger', 'after-commit', 'after-event', 'after-record'];
  const revertPoints = ['before-ledger', 'after-ledger', 'after-judges', 'after-revert', 'after-event', 'after-record'];

  /** A copy of the baseline repository whose next run (src/value.txt at `value`) is done but not logged: each crash point starts there. */
  const ranRepo = (value: string): string =>
    fromTemplate(`ran ${value}`, () => {
      const repo = shellBaseline();
      setValue(repo, value);
      const run = engine('run-experiment', [], repo);
      if (run.code !== 0) throw new Error(`run-experiment failed: ${run.stdout}${run.stderr}`);
      return repo;
    });

  for (const point of keepPoints) {
    it(`a kill -9 at ${point} of a keep leaves a parseable ledger and ends at the new keep`, () => {
      const repo = ranRepo('90');
      const killed = engine('log-experiment', ['--description', 'better'], repo, { AUTOLOOP_CRASH_AT: point });
      expect(killed.code).toBe(null); // died by signal
      for (const l of fs.readFileSync(path.join(expDir(repo), 'ledger.jsonl'), 'utf8').split('\n').filter(Boolean)) JSON.parse(l);
      // The next call reconciles (or, before the ledger write, simply logs the run).
      const next = point === 'before-ledger' ? engine('log-experiment', ['--description', 'better', '--json'], repo) : engine('status', ['--json'], repo);
      expect(next.code).toBe(0);
      engine('run-experiment', [], repo); // reconciles any half-done keep
      const results = ledger(repo).filter((l) => l.type === 'result' && l.run_id === 'r0002');
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ verdict: 'keep' });
      expect(read(repo, 'src/value.txt')).toBe('90');
      expect(git(repo, 'show', 'HEAD:src/value.txt')).toBe('90');
      expect(git(repo, 'log', '--format=%s', '--grep', 'Autoloop-Run: r0002').split('\n').filter(Boolean)).toHaveLength(1);
    });
  }

  for (const point of revertPoints) {
    it(`a kill -9 at ${point} of a revert leaves a parseable ledger and ends at the restored best`, () => {
      const repo = ranRepo('120');
      const killed = engine('log-experiment', ['--description', 'worse'], repo, { AUTOLOOP_CRASH_AT: point });
      expect(killed.code).toBe(null);
      if (point === 'before-ledger') expect(engine('log-experiment', ['--description', 'worse'], repo).code).toBe(0);
      const next = engine('run-experiment', ['--json'], repo);
      expect(next.code).toBe(0);
      expect(read(repo, 'src/value.txt')).toBe('100');
      const results = ledger(repo).filter((l) => l.type === 'result' && l.run_id === 'r0002');
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ verdict: 'discard' });
    });
  }

  // Killed after the result line reached the ledger but before the run record said 'logged': the run is
  // logged, so neither status nor the next one-call iteration may ask for it to be logged again (that
  // answer fails with "already logged").
  for (const point of ['after-ledger', 'after-event']) {
    it(`after a kill -9 at ${point}, status and the next iteration treat the run as logged`, () => {
      const repo = shellBaseline();
      setValue(repo, '90');
      expect(engine('run-experiment', ['--description', 'better'], repo, { AUTOLOOP_CRASH_AT: point }).code).toBe(null);
      const status = engine('status', ['--json'], repo);
      expect(JSON.stringify(status.json)).not.toMatch(/measured but not logged|log it first/);
      setValue(repo, '80');
      const next = engine('run-experiment', ['--description', 'better still', '--json'], repo);
      expect(next.stderr).toBe(next.stderr.replace(/already logged/, ''));
      expect(next.code).toBe(0);
      expect(next.json).toMatchObject({ run_id: 'r0003', verdict: 'keep' });
      expect(ledger(repo).filter((l) => l.type === 'result').map((l) => [l.run_id, l.verdict])).toEqual([['r0001', 'keep'], ['r0002', 'keep'], ['r0003', 'keep']]);
    });
  }

  // Killed after the keep's commit moved the branch but before the ledger recorded it: the branch holds
  // the engine's own commit, which the next call records; status and explain must not call it a move
  // made outside the loop (the way back they would name is to put the branch back).
  for (const point of ['git:ref-updated', 'after-commit']) {
    it(`after a kill -9 at ${point} of a keep, status and explain name the pending keep, not a moved branch`, () => {
      const repo = ranRepo('90');
      expect(engine('log-experiment', ['--description', 'better'], repo, { AUTOLOOP_CRASH_AT: point }).code).toBe(null);
      const status = engine('status', ['--json'], repo);
      expect(status.json).toMatchObject({ branch_moved: null });
      expect(String(status.json?.next_action)).not.toMatch(/repair|moved/);
      expect(engine('control', ['explain'], repo).stdout).not.toMatch(/moved outside the loop/);
      setValue(repo, '80');
      expect(iterate(repo, 'better still').log.json).toMatchObject({ verdict: 'keep' });
      // The killed keep's own commit stays (not saved aside as a foreign one), under the next keep.
      expect(git(repo, 'log', '--format=%s', '-n', '2', 'autoloop/exp').split('\n')).toEqual(['autoloop: better still', 'autoloop: better']);
      expect(git(repo, 'for-each-ref', 'refs/autoloop/moved')).toBe('');
    });
  }

  it('skips a torn last ledger line with a warning and keeps going', () => {
    const repo = shellBaseline();
    fs.appendFileSync(path.join(expDir(repo), 'ledger.jsonl'), '{"type":"result","ts":"2026-');
    fs.rmSync(path.join(expDir(repo), 'state.json'));
    const status = engine('status', [], repo);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/torn/);
    setValue(repo, '90');
    expect(iterate(repo, 'after the tear').log.json).toMatchObject({ verdict: 'keep' });
    const text = fs.readFileSync(path.join(expDir(repo), 'ledger.jsonl'), 'utf8').split('\n').filter(Boolean);
    expect(() => JSON.parse(text.at(-1) ?? '')).not.toThrow();
  });

  it('refuses a second engine call while one runs, and takes over a dead lock', async () => {
    // The first run lasts until it is interrupted, so the second call meets it
    // however slowly a busy machine starts it.
    const repo = baselineRepo('100', SLOW_RUN);
    setValue(repo, '1 slow');
    const first = engineAsync('run-experiment', [], repo);
    await waitFor(() => fs.existsSync(path.join(repo, '.pids')));
    const second = engine('run-experiment', [], repo);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/another autoloop command/);
    const exited = new Promise((r) => first.on('exit', r));
    first.kill('SIGINT');
    await exited;
    fs.rmSync(path.join(repo, '.pids'));

    fs.writeFileSync(path.join(repo, '.autoloop', 'lock'), JSON.stringify({ pid: 999_999_9, owner: 'ghost', started_at: 'x' }));
    setValue(repo, '90');
    expect(engine('run-experiment', [], repo).code).toBe(0);
    expect(ledger(repo).some((l) => l.event === 'lock_takeover')).toBe(true);
  });

  it('records an interrupted run and kills its processes on SIGINT', async () => {
    const repo = baselineRepo('100', SLOW_RUN);
    setValue(repo, '1 slow');
    const child = engineAsync('run-experiment', [], repo);
    await waitFor(() => fs.existsSync(path.join(repo, '.pids')) && read(repo, '.pids').trim().split('\n').length >= 3);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(130);
    expect(processesIn(repo)).toEqual([]);
    const rec = JSON.parse(fs.readFileSync(path.join(expDir(repo), 'runs', 'r0002', 'result.json'), 'utf8')) as { phase: string };
    expect(rec.phase).toBe('interrupted');
    expect(ledger(repo).some((l) => l.event === 'interrupted')).toBe(true);
  });

  // The benchmark's first process is started under setpriv --pdeathsig: the kernel ends it (and with it the
  // namespace, or the group) when the engine dies, SIGKILL included. Each containment variant.
  for (const mode of ['readonly', 'pidns', 'group']) {
    it(`the benchmark dies with an engine killed by SIGKILL, children that ignore SIGTERM too (${mode})`, async () => {
      const repo = baselineRepo('100', SLOW_RUN);
      setValue(repo, '1 slow');
      const child = engineAsync('run-experiment', [], repo, { AUTOLOOP_CONTAINMENT: mode });
      const ended = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, sig) => r(sig)));
      await waitFor(() => fs.existsSync(path.join(repo, '.pids')) && read(repo, '.pids').trim().split('\n').length >= 3);
      const pids = processesIn(repo);
      expect(pids.length).toBeGreaterThanOrEqual(3);
      const starts = new Map(pids.map((p) => [p, procStart(p)]));
      child.kill('SIGKILL');
      expect(await ended).toBe('SIGKILL');
      // Nothing but the engine's death may end them (no repair runs): a bounded poll, then every one must be gone.
      const left = () => pids.filter((p) => alive(p, starts.get(p) ?? null));
      for (let i = 0; i < 400 && left().length; i++) await new Promise((r) => setTimeout(r, 25));
      const survivors = left();
      for (const p of survivors) process.kill(p, 'SIGKILL'); // a failing run leaves no orphans behind
      expect(survivors).toEqual([]);
      expect(processesIn(repo)).toEqual([]);
      // The next call settles the killed run as interrupted, with nothing to repair.
      fs.rmSync(path.join(repo, '.pids'));
      setValue(repo, '90');
      const next = engine('run-experiment', ['--json'], repo, { AUTOLOOP_CONTAINMENT: mode });
      expect(next.json, next.stderr).toMatchObject({ status: 'ok', primary: 90 });
      const rec = JSON.parse(fs.readFileSync(path.join(expDir(repo), 'runs', 'r0003', 'result.json'), 'utf8')) as { containment: string };
      expect(rec.containment).toBe(mode);
    });
  }

  it('without setpriv (the fallback) and its guardian gone too, a run whose engine dies is marked unclean while its processes live on, until repair', async () => {
    const repo = baselineRepo('100', SLOW_RUN);
    setValue(repo, '1 slow');
    const child = engineAsync('run-experiment', [], repo, { AUTOLOOP_FAULT_AT: 'setpriv,guardian' });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const ended = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('exit', (code, sig) => r([code, sig])));
    // The state the kill must meet: the benchmark and its two children up, and the run's
    // handle on disk (what the next call finds them by), however slowly a loaded machine gets there.
    const record = path.join(expDir(repo), 'runs', 'r0002', 'result.json');
    const handled = () => {
      try {
        return (JSON.parse(fs.readFileSync(record, 'utf8')) as { handle?: unknown }).handle != null;
      } catch {
        return false; // not written yet, or mid-rename
      }
    };
    await waitFor(() => fs.existsSync(path.join(repo, '.pids')) && read(repo, '.pids').trim().split('\n').length >= 3 && handled());
    // Every process of the run as the host sees it (the benchmark, its two children, the shells and unshare
    // of its namespace), with start times: each must outlive the engine, not only some count of them.
    const pids = processesIn(repo);
    expect(pids.length).toBeGreaterThanOrEqual(3);
    const starts = new Map(pids.map((p) => [p, procStart(p)]));
    child.kill('SIGKILL');
    const [code, sig] = await ended;
    // Died of this kill, not on its own first (an engine that is interrupted kills its run: a different test).
    expect(sig, `the engine exited by itself (code ${code}): ${stderr}`).toBe('SIGKILL');
    expect(pids.filter((p) => !alive(p, starts.get(p) ?? null))).toEqual([]);
    fs.rmSync(path.join(repo, '.pids'));
    setValue(repo, '100');
    const refused = engine('run-experiment', [], repo);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/survived/);
    expect(engine('control', ['repair'], repo).code).toBe(0);
    for (const pid of pids) expect(alive(pid, starts.get(pid) ?? null)).toBe(false); // by start time: a pid may be reused since
    expect(processesIn(repo)).toEqual([]);
    expect(engine('run-experiment', [], repo).code).toBe(0);
  });
});

describe('bad input', () => {
  const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

  it('answers bad flags, bad config and missing experiments with one line and exit 2', () => {
    const repo = valueRepo('100');
    const dir = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'sideways', '--command', 'x'], repo);
    expect(dir.code).toBe(2);
    expect(dir.stderr.trim().split('\n')).toHaveLength(1);
    expect(dir.stderr).toMatch(/direction/);
    noStack(dir.stderr);

    const unknown = engine('run-experiment', ['--bogus'], repo);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/bogus/);

    const none = engine('status', [], repo);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no autoloop experiment/);

    initValue(repo);
    const nodesc = engine('log-experiment', [], repo);
    expect(nodesc.code).toBe(2);
    expect(nodesc.stderr).toMatch(/description/);

    fs.writeFileSync(path.join(expDir(repo), 'config.yaml'), 'name: exp\nmetric: score\ndirection: lower\ncommand: x\ntimeout: soon\n');
    const badCfg = engine('status', [], repo);
    expect(badCfg.code).toBe(2);
    expect(badCfg.stderr).toMatch(/timeout/);
    noStack(badCfg.stderr);

    const badCwd = engine('status', [], path.join(repo, 'nope'));
    expect(badCwd.code).toBe(2);
  });

  it('says what a flag accepts when its value is wrong, and how to pass a value that starts with a dash', () => {
    const repo = valueRepo('100');
    const base = ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'x'];
    const cases: [string, string[], RegExp][] = [
      ['init-experiment', ['--max-runs', 'lots'], /^init-experiment: bad flag: --max-runs: must be a whole number of at least 1, or none$/],
      ['init-experiment', ['--repeats', 'twice'], /^init-experiment: bad flag: --repeats: must be a whole number from 1 to 100, or auto$/],
      ['init-experiment', ['--target', 'fast'], /^init-experiment: bad flag: --target: must be a number$/],
      // Blank (an unset shell variable): coerced it was a target of 0, met at once by a higher-is-better baseline.
      ['init-experiment', ['--target', ''], /^init-experiment: bad flag: --target: must be a number$/],
      ['init-experiment', ['--timeout', ' '], /^init-experiment: bad flag: --timeout: must be a number$/],
      ['chain', ['--from', 'exp', '--target', ''], /^chain: bad flag: --target: must be a number, or none$/],
      // Not a number: it was NaN ("Invalid input") or, blank, 0.
      ['init-experiment', ['--min-improvement', 'abc'], /^init-experiment: bad flag: --min-improvement: must be a number >= 0 or a percentage such as "2%"$/],
      ['init-experiment', ['--min-improvement', ''], /^init-experiment: bad flag: --min-improvement: must be a number >= 0 or a percentage such as "2%"$/],
      ['init-experiment', ['--timeout', '-5'], /^init-experiment: Option '--timeout' argument is ambiguous\. To specify an option argument starting with a dash use '--timeout=-XYZ'\.$/],
      ['chain', ['--from', 'exp', '--target', 'fast'], /^chain: bad flag: --target: must be a number, or none$/],
      ['chain', ['--from', 'exp', '--plateau', '0'], /^chain: bad flag: --plateau: /],
    ];
    for (const [script, extra, want] of cases) {
      const r = engine(script, [...(script === 'init-experiment' ? base : []), ...extra], repo);
      expect(r.code, `${script} ${extra.join(' ')}`).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(want);
      noStack(r.stderr);
    }
    // Nothing was created by any of them.
    expect(fs.existsSync(path.join(repo, '.autoloop', 'experiments', 'exp'))).toBe(false);
  });

  it('refuses to log twice and to log before a run', () => {
    const repo = makeRepo({ 'bench.sh': SHELL_BENCH, 'src/value.txt': '100' });
    initValue(repo, ['--command', 'sh bench.sh']);
    const before = engine('log-experiment', ['--description', 'x'], repo);
    expect(before.code).toBe(1);
    expect(before.stderr).toMatch(/run run-experiment first/);
    iterate(repo, 'baseline');
    const twice = engine('log-experiment', ['--description', 'again'], repo);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/already logged/);
  });
});
