// The one-call iteration (run-experiment --description): measure and log in one
// process, by log-experiment's rules, on real repositories and real processes;
// a kill -9 between the two halves is recovered by the next call; the
// containment probe's answer is remembered per machine and probed again when
// what it depends on changes.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { engine, fromTemplate, git, initValue, ledger, setValue, valueRepo } from './helpers/engine.ts';

const read = (repo: string, rel: string) => fs.readFileSync(path.join(repo, rel), 'utf8');

/**
 * VALUE_BENCH's plain behaviours in shell builtins (the number in
 * src/value.txt as score, mem=10; "crash" exits 3 with the same words): no
 * Node start per sample, for the tests whose subject is not the benchmark.
 * The noisy one keeps VALUE_BENCH.
 */
const SHELL_BENCH = `read -r v < src/value.txt
case "$v" in *crash*) echo 'boom: the change broke the program' >&2; exit 3 ;; esac
echo "METRIC score=$v"
echo "METRIC mem=10"
`;
const SHELL = ['--command', 'sh bench.sh'];
/** valueRepo with SHELL_BENCH beside VALUE_BENCH; initValue(repo, SHELL) runs it. */
const shellRepo = (value = '100', extra: Record<string, string> = {}) => valueRepo(value, { 'bench.sh': SHELL_BENCH, ...extra });
const once = (repo: string, description: string, extra: string[] = [], env: Record<string, string> = {}) =>
  engine('run-experiment', ['--description', description, '--json', ...extra], repo, env);

/** A copy of a repository whose baseline the one call measured and logged (built once per file; the first test checks that baseline). */
const onceBaseline = (): string =>
  fromTemplate('one-call baseline', () => {
    const repo = shellRepo('100');
    initValue(repo, SHELL);
    const base = once(repo, 'baseline');
    if (base.json?.verdict !== 'keep') throw new Error(`the baseline was not kept: ${base.stdout}${base.stderr}`);
    return repo;
  });
const results = (repo: string) => ledger(repo).filter((l) => l.type === 'result');

describe('one call per iteration', () => {
  it('keeps an improvement with a scoped commit and discards a regression, in one short answer each', () => {
    const repo = shellRepo('100');
    initValue(repo, SHELL);
    const base = once(repo, 'baseline');
    expect(base.code).toBe(0);
    expect(base.json).toMatchObject({ run_id: 'r0001', status: 'ok', verdict: 'keep', best: 100, baseline: 100 });

    setValue(repo, '90');
    const better = once(repo, 'lower the value', ['--hypothesis', 'smaller is faster']);
    expect(better.json).toMatchObject({ run_id: 'r0002', verdict: 'keep', primary: 90, best: 90, baseline: 100, samples: 2 });
    expect(Buffer.byteLength(better.stdout + better.stderr)).toBeLessThanOrEqual(500);
    expect(git(repo, 'rev-parse', 'HEAD').startsWith(String(better.json?.commit))).toBe(true);
    expect(git(repo, 'show', '--name-only', '--format=', 'HEAD')).toBe('src/value.txt');
    expect(results(repo).at(-1)).toMatchObject({ run_id: 'r0002', description: 'lower the value', hypothesis: 'smaller is faster', verdict: 'keep' });
    const rec = JSON.parse(read(repo, '.autoloop/experiments/exp/runs/r0002/result.json')) as { phase: string };
    expect(rec.phase).toBe('logged');

    setValue(repo, '95');
    const text = engine('run-experiment', ['--description', 'raise the value'], repo);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^r0003 score=95 → DISCARD: /);
    expect(text.stdout).toMatch(/\nnext: /);
    expect(Buffer.byteLength(text.stdout + text.stderr)).toBeLessThanOrEqual(500);
    expect(read(repo, 'src/value.txt')).toBe('90');
    expect(results(repo).map((l) => l.verdict)).toEqual(['keep', 'keep', 'discard']);
  });

  it('logs a crash as a crash, shows the tail and puts the best back', () => {
    const repo = onceBaseline();
    const head = git(repo, 'rev-parse', 'HEAD');
    setValue(repo, '50 crash');
    const r = once(repo, 'break it');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ status: 'crash', verdict: 'crash', best: 100 });
    expect(String(r.json?.tail)).toContain('boom: the change broke the program');
    expect(read(repo, 'src/value.txt')).toBe('100');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
  });

  it('takes as many samples as a noisy benchmark needs before deciding', () => {
    const repo = valueRepo('100 noisy');
    initValue(repo);
    const base = once(repo, 'baseline');
    expect(Number(base.json?.samples)).toBeGreaterThan(3);
    setValue(repo, '70 noisy');
    const big = once(repo, 'large gain');
    expect(Number(big.json?.samples)).toBeGreaterThan(1);
    expect(big.json).toMatchObject({ verdict: 'keep' });
  });

  it('never keeps when the checks fail', () => {
    const repo = shellRepo('100', { 'check.sh': 'read -r v < src/value.txt; [ "$v" -ge 80 ]\n' });
    initValue(repo, [...SHELL, '--checks', 'sh check.sh']);
    once(repo, 'baseline');
    const head = git(repo, 'rev-parse', 'HEAD');
    setValue(repo, '70');
    const r = once(repo, 'too far');
    expect(r.json).toMatchObject({ status: 'checks_failed', verdict: 'checks_failed', best: 100 });
    expect(read(repo, 'src/value.txt')).toBe('100');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
  });

  it('a kill -9 between measuring and logging: the next call logs the measured run first, then iterating goes on', () => {
    const repo = onceBaseline();
    setValue(repo, '90');
    const killed = once(repo, 'lower the value', [], { AUTOLOOP_CRASH_AT: 'after-measure' });
    expect(killed.code).toBeNull(); // SIGKILL
    const rec = JSON.parse(read(repo, '.autoloop/experiments/exp/runs/r0002/result.json')) as { phase: string };
    expect(rec.phase).toBe('measured');
    expect(results(repo)).toHaveLength(1);
    // The resume step names it.
    expect(String(engine('status', ['--json'], repo).json?.next_action)).toContain('r0002 was measured but not logged: log it first');
    expect(engine('status', [], repo).stdout).toContain('next: r0002 was measured but not logged');

    const next = once(repo, 'lower the value');
    expect(next.code).toBe(0);
    expect(next.json).toMatchObject({ run_id: 'r0002', recovered: true, verdict: 'keep', best: 90 });
    expect(results(repo).map((l) => l.run_id)).toEqual(['r0001', 'r0002']);
    expect(git(repo, 'log', '-1', '--format=%B')).toContain('Autoloop-Run: r0002');

    setValue(repo, '80');
    expect(once(repo, 'lower again').json).toMatchObject({ run_id: 'r0003', verdict: 'keep', best: 80 });
  });

  it('the two-step form still logs a run the one call measured before it was killed', () => {
    const repo = onceBaseline();
    setValue(repo, '90');
    expect(once(repo, 'lower', [], { AUTOLOOP_CRASH_AT: 'after-measure' }).code).toBeNull();
    const log = engine('log-experiment', ['--description', 'lower', '--json'], repo);
    expect(log.json).toMatchObject({ run_id: 'r0002', verdict: 'keep' });
  });

  it('refuses what does not describe a change, and combining with a candidate', () => {
    // The file's shared baseline (one logged result): a second template would cost its own init and baseline.
    const repo = onceBaseline();
    setValue(repo, '90');
    expect(engine('run-experiment', ['--json'], repo).code).toBe(0);
    const noDescription = engine('log-experiment', ['--json'], repo);
    expect(noDescription.code).toBe(2);
    expect(noDescription.stderr).toContain('--description is required');
    const hypothesisOnly = engine('run-experiment', ['--hypothesis', 'why'], repo);
    expect(hypothesisOnly.code).toBe(2);
    expect(hypothesisOnly.stderr).toContain('give --description too');
    const empty = engine('run-experiment', ['--description', '  '], repo);
    expect(empty.code).toBe(2);
    const candidate = engine('run-experiment', ['--candidate', 'c1', '--description', 'x'], repo);
    expect(candidate.code).toBe(2);
    expect(candidate.stderr).toContain('log-experiment --candidate c1');
    expect(results(repo)).toHaveLength(1);
  });
});

/**
 * A HOME with a real unshare behind a wrapper on PATH that notes each call's
 * arguments in `calls` (and runs `extra`, given the path `<home>/fail`, first);
 * null where the machine has no unshare.
 */
function unshareSpy(extra: (fail: string) => string = () => ''): { home: string; calls: string; env: Record<string, string> } | null {
  const real = ['/usr/bin/unshare', '/bin/unshare'].find((f) => fs.existsSync(f));
  if (!real) return null;
  const home = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-home-')));
  const bin = path.join(home, 'bin');
  fs.mkdirSync(bin);
  const calls = path.join(home, 'unshare-calls');
  fs.writeFileSync(path.join(bin, 'unshare'), `#!/bin/sh\necho "$*" >> '${calls}'\n${extra(path.join(home, 'fail'))}exec ${real} "$@"\n`, { mode: 0o755 });
  return { home, calls, env: { HOME: home, PATH: `${bin}:${process.env.PATH}` } };
}

describe('the containment probe', () => {
  it('is made once per machine state, not per call, and again when what it depends on changes', () => {
    if (process.platform !== 'linux') return void expect(process.platform).not.toBe('linux');
    const spy = unshareSpy();
    if (!spy) return void expect(spy).toBeNull();
    const { home, calls, env } = spy;
    const probes = () => (fs.existsSync(calls) ? read(home, 'unshare-calls').split('\n').filter((l) => l.endsWith('-c exit 0')).length : 0);
    const repo = shellRepo('100');
    initValue(repo, SHELL);
    expect(once(repo, 'baseline', [], env).json).toMatchObject({ verdict: 'keep' });
    expect(probes()).toBe(1);
    const cache = path.join(home, '.autoloop', 'containment.json');
    expect(JSON.parse(read(home, '.autoloop/containment.json'))).toMatchObject({ mode: 'pidns', pdeath: true }); // setpriv --pdeathsig around unshare works here
    setValue(repo, '90');
    expect(once(repo, 'lower', [], env).json).toMatchObject({ verdict: 'keep' });
    expect(probes()).toBe(1); // remembered
    // Another machine state (here: the key no longer matches): probed again, and remembered again.
    fs.writeFileSync(cache, JSON.stringify({ key: 'another machine', mode: 'group' }));
    setValue(repo, '80');
    const r = once(repo, 'lower again', [], env);
    expect(r.json).toMatchObject({ verdict: 'keep' });
    expect(probes()).toBe(2);
    // A PID namespace again (with the read-only judges where the machine allows them), not the remembered 'group'.
    expect(String(JSON.parse(read(repo, '.autoloop/experiments/exp/runs/r0003/result.json')).containment)).toMatch(/^(pidns|readonly)$/);
    // A damaged cache is no answer: probe.
    fs.writeFileSync(cache, '{not json');
    setValue(repo, '70');
    expect(once(repo, 'lower still', [], env).json).toMatchObject({ verdict: 'keep' });
    expect(probes()).toBe(3);
  });

  it('a probe that runs out of time (a machine loaded far past its cores) is not remembered: the next call probes again', () => {
    if (process.platform !== 'linux') return void expect(process.platform).not.toBe('linux');
    // While `slow` exists, every probe (`… -c exit 0`) outlasts the probes' 10 s limit.
    const spy = unshareSpy((fail) => `case "$*" in *'exit 0'*) [ -e '${path.join(path.dirname(fail), 'slow')}' ] && exec sleep 15 ;; esac\n`);
    if (!spy) return void expect(spy).toBeNull();
    const { home, env } = spy;
    fs.writeFileSync(path.join(home, 'slow'), '');
    const repo = valueRepo('100');
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**'], repo, env).code).toBe(0);
    const status = () => engine('status', ['--json'], repo, env).json?.containment;
    expect(status()).toBe('group'); // this call only
    expect(fs.existsSync(path.join(home, '.autoloop', 'containment.json'))).toBe(false);
    fs.rmSync(path.join(home, 'slow'));
    expect(status()).toMatch(/^(pidns|readonly)$/);
    expect(JSON.parse(read(home, '.autoloop/containment.json'))).toMatchObject({ mode: 'pidns' });
  });

  it("status's read-only probe is remembered beside it, and made again when its key changes or a run's setup failed", () => {
    if (process.platform !== 'linux') return void expect(process.platform).not.toBe('linux');
    // While `fail` exists, a run's read-only setup fails (the wrapper refuses the outer layer of the setup).
    const spy = unshareSpy((fail) => `case "$*" in *--mount-proc*) [ -e '${fail}' ] && exit 125 ;; esac\n`);
    if (!spy) return void expect(spy).toBeNull();
    const { home, calls, env } = spy;
    const fail = path.join(home, 'fail');
    // The read-only probe is the setup that runs `exit 0` (a run's setup runs the benchmark's command).
    const probes = () => (fs.existsSync(calls) ? read(home, 'unshare-calls').split('\n').filter((l) => / autoloop-setup exit 0 /.test(l)).length : 0);
    const repo = valueRepo('100');
    // The segment's recorded environment (the one its runs get) holds this PATH too.
    expect(engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**'], repo, env).code).toBe(0);
    const status = () => engine('status', ['--json'], repo, env).json?.containment;
    const first = status();
    expect(first).toMatch(/^(pidns|readonly)$/);
    expect(probes()).toBe(1);
    const cache = path.join(home, '.autoloop', 'containment.json');
    expect(JSON.parse(read(home, '.autoloop/containment.json'))).toMatchObject({ mode: 'pidns', readonly: { works: first === 'readonly' } });
    expect(status()).toBe(first);
    expect(status()).toBe(first);
    expect(probes()).toBe(1); // remembered
    // Another read-only key (another mount(8), another mount namespace…): probed again.
    const saved = JSON.parse(read(home, '.autoloop/containment.json')) as { key: string; mode: string; readonly: { key: string; works: boolean } };
    fs.writeFileSync(cache, JSON.stringify({ ...saved, readonly: { key: 'another mount', works: !saved.readonly.works } }));
    expect(status()).toBe(first);
    expect(probes()).toBe(2);
    // A run whose setup failed forgets it: the key still matches, and status probes again all the same.
    if (first !== 'readonly') return;
    fs.writeFileSync(fail, '');
    const run = engine('run-experiment', ['--json'], repo, env);
    fs.rmSync(fail);
    expect(run.json).toMatchObject({ status: 'ok', primary: 100 });
    expect(JSON.parse(read(repo, '.autoloop/experiments/exp/runs/r0001/result.json')).containment).toBe('pidns');
    expect(JSON.parse(read(home, '.autoloop/containment.json')).readonly).toBeUndefined();
    expect(status()).toBe('readonly');
    expect(probes()).toBe(3);
  });
});
