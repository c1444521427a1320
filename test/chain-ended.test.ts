// How an experiment ended, when no termination rule fired: stopped by hand
// (control stop) or paused by its health (crashes). The report says which,
// with the ledger's reason; a follow-up may start from a parent its user
// stopped (it has ended as surely as by a rule), not from one merely paused
// or still running. And the chain that starts the last follow-up its budget
// allows says so without telling the loop to stop before its baseline.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { benchRepo, expDir, fromState, git, init, ledger, readJson, run, step } from './helpers/loop.ts';
import { engine, engineAsync, waitFor } from './helpers/engine.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const ended = (md: string) => md.split('\n').find((l) => l.startsWith('- **Ended:**'));

/**
 * A repository whose benchmark is in shell (the subject here is how a loop
 * ended and the chain, not the benchmark): no Node start per sample.
 */
const shellRepo = () => benchRepo('100', { shell: true });

/** A fresh copy of "a" terminated by max_runs 2 (baseline 100, then a keep at 90), built once for the file. */
const terminatedA = () =>
  fromState('a:terminated', () => {
    const repo = shellRepo();
    expect(init(repo, 'a', ['--max-runs', '2']).code).toBe(0);
    step(repo, 'baseline');
    expect(step(repo, 'lower to 90', '90').log.json).toMatchObject({ should_terminate: true, terminated_by: 'max_runs' });
    return repo;
  });

function oneLine(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe('a parent stopped by hand', () => {
  it('is refused while it runs (naming control stop), then followed up from its best once stopped; the report says it was stopped and why', () => {
    const repo = shellRepo();
    // A wall clock in the config: the live termination message carries its reading, the hashed report must not.
    expect(init(repo, 'a', ['--max-runs', 'none', '--max-wall-clock', '100000']).code).toBe(0);
    step(repo, 'baseline');
    const best = String(step(repo, 'lower to 90', '90').log.json?.commit);
    oneLine(run('chain', ['--from', 'a', '--name', 'b', '--rationale', 'too early'], repo), /"a" has not terminated \(continuing: .*\): finish it before chaining a follow-up, or end it by hand first \(control stop --reason TEXT\)/);
    expect(fs.existsSync(expDir(repo, 'b'))).toBe(false);

    expect(run('control', ['stop', '--reason', 'the user has seen enough'], repo).code).toBe(0);
    const md = run('report', [], repo).stdout;
    expect(ended(md)).toBe('- **Ended:** stopped by hand (the user has seen enough); no termination rule fired');
    expect(run('report', ['--json'], repo).json).toMatchObject({ termination: { terminated: false, by: null, loop: 'stopped', reason: 'the user has seen enough' } });

    const c = run('chain', ['--from', 'a', '--name', 'b', '--rationale', 'a reached 90 before the user stopped it; other is next', '--metric', 'other', '--direction', 'lower', '--scope', 'lib/**', '--budget', '1'], repo);
    expect(c.code, c.stderr).toBe(0);
    expect(git(repo, 'rev-parse', 'autoloop/b')).toBe(best);
    const d = readJson(path.join(expDir(repo, 'b'), 'chain-decision.json'));
    expect(d).toMatchObject({ parent: 'a', parent_primary: { best: 90, best_commit: best, terminated_by: 'manual' } });
    // The report the rationale was grounded in reads the same afterwards, clock and all.
    const after = run('report', ['--experiment', 'a'], repo).stdout;
    expect(ended(after)).toBe('- **Ended:** stopped by hand (the user has seen enough); no termination rule fired');
    expect(sha256(after)).toBe(d.parent_report_sha256);
    expect(readJson(path.join(repo, '.autoloop', 'active.json'))).toMatchObject({ experiment: 'b', loop: 'active' });

    // The last follow-up the budget allows: its own output must not send the loop to stop before its baseline.
    expect(c.stdout).toContain('chain budget: this is the last follow-up (1/1 used); when it terminates, stop cleanly (report, finalize)');
    expect(c.stdout).not.toContain('chain budget exhausted');
    expect(c.stdout.trim().split('\n').at(-1)).toBe('next: run-experiment for the baseline, then log-experiment --description baseline');
  });
});

describe('a parent paused by its health', () => {
  it('is reported as paused with the reason, and is not followed up until it is stopped by hand', () => {
    const repo = shellRepo();
    expect(init(repo, 'p', ['--max-runs', 'none']).code).toBe(0);
    // Health is read live: pause at the first crash streak.
    const file = path.join(expDir(repo, 'p'), 'config.yaml');
    const cfg = YAML.parse(fs.readFileSync(file, 'utf8')) as { health: { playbooks: string[] } };
    cfg.health.playbooks = ['pause'];
    fs.writeFileSync(file, YAML.stringify(cfg));
    step(repo, 'baseline');
    step(repo, 'crash one', 'crash');
    step(repo, 'crash two', 'crash');
    const md = run('report', [], repo).stdout;
    expect(ended(md)).toMatch(/^- \*\*Ended:\*\* paused by its health \(2 failed runs in a row \(last: crash\)[^)]*\); no termination rule fired$/);
    expect(run('report', ['--json'], repo).json).toMatchObject({ termination: { terminated: false, loop: 'paused' } });
    oneLine(run('chain', ['--from', 'p', '--name', 'q', '--rationale', 'it keeps crashing'], repo), /"p" has not terminated \(.*paused: 2 failed runs in a row.*\): .*control stop/);
    expect(fs.existsSync(expDir(repo, 'q'))).toBe(false);
    expect(run('control', ['stop', '--reason', 'the environment keeps failing'], repo).code).toBe(0);
    expect(ended(run('report', [], repo).stdout)).toBe('- **Ended:** stopped by hand (the environment keeps failing); no termination rule fired');
    const c = run('chain', ['--from', 'p', '--name', 'q', '--rationale', 'the crashes came from src; try lib', '--scope', 'lib/**'], repo);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain('chain budget: 2 more follow-ups after this one');
    // The follow-up stopped by hand in turn: its report says a follow-up may start now, not "when it terminates".
    expect(run('control', ['stop', '--reason', 'enough of lib'], repo).code).toBe(0);
    expect(run('report', [], repo).stdout).toContain('- **Next:** /autoloop:chain may start a follow-up (2 of 3 left), or finalize');
  });
});

describe('a loop resumed after it terminated (a budget raised), then terminated again', () => {
  it('records the second termination and reports it, not the first, from the state and from every line; a chain hashes that report', () => {
    // Terminated by max_runs 2 (the first termination): terminatedA checks it.
    const repo = terminatedA();
    // Budgets are read live: raising max_runs resumes the loop.
    const file = path.join(expDir(repo, 'a'), 'config.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^max_runs: 2$/m, 'max_runs: 4'));
    expect(step(repo, 'lower to 80', '80').log.json).toMatchObject({ should_terminate: false });
    expect(step(repo, 'raise to 85', '85').log.json).toMatchObject({ should_terminate: true, terminated_by: 'max_runs' });
    const terminated = ledger(repo, 'a').filter((l) => l.event === 'terminated').map((l) => (l.data as { message: string }).message);
    expect(terminated).toEqual(['terminated: max_runs (2 runs of 2)', 'terminated: max_runs (4 runs of 4)']);
    const line = '- **Ended:** terminated by max_runs (4 runs of 4)';
    const md = run('report', [], repo).stdout;
    expect(ended(md)).toBe(line);
    // From every line (no state cache): the same report.
    for (const f of fs.readdirSync(expDir(repo, 'a'))) if (f.startsWith('state')) fs.rmSync(path.join(expDir(repo, 'a'), f));
    expect(run('report', [], repo).stdout).toBe(md);
    const c = run('chain', ['--from', 'a', '--name', 's', '--rationale', 'a reached 80 in 4 runs; go on'], repo);
    expect(c.code, c.stderr).toBe(0);
    const after = run('report', ['--experiment', 'a'], repo).stdout;
    expect(ended(after)).toBe(line);
    expect(sha256(after)).toBe(readJson(path.join(expDir(repo, 's'), 'chain-decision.json')).parent_report_sha256);
  });
});

describe('two follow-ups of one parent started at once', () => {
  it('starts one: the other, planned before the first took the lock, is refused holding it, and chain.json keeps the first', async () => {
    const repo = terminatedA();
    // c plans (no follow-up of a yet), then is held off the CPU before it takes the lock.
    const c = engineAsync('chain', ['--from', 'a', '--name', 'c', '--rationale', 'the second idea'], repo, { AUTOLOOP_STOP_AT: 'chain:planned', AUTOLOOP_DEBUG: '' });
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => c.on('exit', (code) => resolve(code)));
    const stopped = () => {
      try {
        return fs.readFileSync(`/proc/${c.pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] === 'T';
      } catch {
        return false;
      }
    };
    await waitFor(stopped);
    const b = run('chain', ['--from', 'a', '--name', 'b', '--rationale', 'the first idea'], repo);
    expect(b.code, b.stderr).toBe(0);
    c.kill('SIGCONT');
    expect(await exited).toBe(2);
    expect(stderr.trim().split('\n')).toEqual(['chain: "a" already has a follow-up ("b"): chain from the end of the trail (b)']);
    expect((readJson(path.join(repo, '.autoloop', 'chain.json')).chains as { trail: string[] }[]).map((x) => x.trail)).toEqual([['a', 'b']]);
    expect(fs.existsSync(expDir(repo, 'c'))).toBe(false);
    expect(git(repo, 'branch', '--list', 'autoloop/c')).toBe('');
    expect(git(repo, 'branch', '--show-current')).toBe('autoloop/b');
    expect(ledger(repo, 'a').filter((l) => l.event === 'chain').map((l) => (l.data as { child: string }).child)).toEqual(['b']);
  });
});

describe("a chain killed before its child's segment opened", () => {
  it("leaves the parent's report.md as it was (no follow-up named that never started); the next chain rolls it back and writes the report it hashed", () => {
    const repo = terminatedA();
    const reportFile = path.join(expDir(repo, 'a'), 'report.md');
    expect(fs.existsSync(reportFile)).toBe(false);
    const killed = engine('chain', ['--from', 'a', '--name', 'never', '--rationale', 'killed'], repo, { AUTOLOOP_CRASH_AT: 'init:before-ledger', AUTOLOOP_DEBUG: '' });
    expect(killed.code).not.toBe(0);
    expect(fs.existsSync(path.join(repo, '.autoloop', 'chain.pending.json'))).toBe(true);
    expect(fs.existsSync(reportFile)).toBe(false);
    const again = run('chain', ['--from', 'a', '--name', 'b', '--rationale', 'a reached 90'], repo);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('rolled back the interrupted follow-up never of a');
    const md = fs.readFileSync(reportFile, 'utf8');
    expect(md).toContain('- **Trail:** **a** → b');
    expect(md).not.toContain('never');
    expect(sha256(md)).toBe(readJson(path.join(expDir(repo, 'b'), 'chain-decision.json')).parent_report_sha256);
  });
});

describe('the same chain asked again once it started', () => {
  it('says the follow-up is there and what comes next, and changes nothing; another rationale under that name is refused', () => {
    const repo = terminatedA();
    const args = ['--from', 'a', '--name', 'b', '--rationale', 'a reached 90; go on', '--max-runs', '3'];
    expect(run('chain', args, repo).code).toBe(0);
    const chainJson = fs.readFileSync(path.join(repo, '.autoloop', 'chain.json'), 'utf8');
    const head = git(repo, 'rev-parse', 'HEAD');
    for (const a of [args, args.slice(2)]) {
      // With --from, and without it (the active experiment is the follow-up itself by then).
      const again = run('chain', [...a, '--json'], repo);
      expect(again.code, again.stderr).toBe(0);
      expect(again.json).toMatchObject({ parent: 'a', child: 'b', already_started: true, next_action: 'run-experiment for the baseline, then log-experiment --description baseline' });
    }
    step(repo, 'baseline');
    expect(run('chain', args, repo).stdout).toMatch(/^follow-up b of a was already started by an earlier chain call with this rationale .*; nothing done\nnext: the loop goes on in b/);
    expect(fs.readFileSync(path.join(repo, '.autoloop', 'chain.json'), 'utf8')).toBe(chainJson);
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
    expect(ledger(repo, 'a').filter((l) => l.event === 'chain')).toHaveLength(1);
    oneLine(run('chain', ['--from', 'a', '--name', 'b', '--rationale', 'another reason'], repo), /experiment "b" already exists: choose another --name/);
  });
});
