// The dashboard while a loop lives: a run measuring (not in the ledger until
// it ends), a run measured but not logged, a run whose engine was killed, a
// chain that makes a follow-up the active experiment under --watch.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LedgerLine } from '../scripts/lib/schema.ts';
import { appendLedger } from '../scripts/lib/ledger.ts';
import { experimentPaths, repoPaths } from '../scripts/lib/paths.ts';
import { writeJsonAtomic } from '../scripts/lib/fsx.ts';
import { stripAnsi } from '../scripts/lib/dashboard/text.ts';
import { syntheticLedger, writeSynthetic } from './helpers/synthetic-ledger.ts';
import { engine, engineAsync, makeRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';
import { activityLines, activityNext, NO_ACTIVITY, type Activity } from '../scripts/lib/dashboard/activity.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

function command(name: string): string[] {
  const dist = process.env.AUTOLOOP_TEST_DIST;
  if (dist && fs.existsSync(path.join(dist, `${name}.mjs`))) return [path.join(dist, `${name}.mjs`)];
  return ['--import', 'tsx', path.join(ROOT, 'scripts', `${name}.ts`)];
}

function env(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.FORCE_COLOR;
  return { ...e, NO_COLOR: '1' };
}

function run(name: string, args: string[]) {
  const r = spawnSync(process.execPath, [...command(name), ...args], { encoding: 'utf8', env: env(), timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${name} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const json = (name: string, cwd: string) => JSON.parse(run(name, ['--cwd', cwd, '--json'])) as Record<string, unknown>;

async function until(pred: () => boolean, what: string, detail: () => string = () => ''): Promise<void> {
  const end = Date.now() + 240_000; // ends a hung test, not a speed check
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${detail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A benchmark that measures only once `gate` exists: the test decides when a run ends, no clock does. */
const gatedBench = (gate: string): string => `const fs = require('node:fs');
while (!fs.existsSync(${JSON.stringify(gate)})) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
console.log('METRIC score=' + fs.readFileSync('src/value.txt', 'utf8').trim());
`;

describe('a run in flight', () => {
  it('shows what measures now, a run to log and a run cut off, with the next action status gives', async () => {
    const gates = tmpDir('autoloop-gate-');
    const gate = path.join(gates, 'go');
    const bench = gatedBench(gate);
    const repo = makeRepo({ 'bench.cjs': bench, 'src/value.txt': '100\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '1'], repo);
    expect(init.code, init.stderr).toBe(0);

    const next = (cwd: string) => (json('dashboard', cwd).health as { next_action: string }).next_action;
    const agree = () => {
      const d = next(repo);
      const s = json('status', repo).next_action;
      expect(d).toBe(s);
      return d;
    };

    // 1. The baseline measuring: nothing in the ledger yet, the dashboard says so.
    const first = engineAsync('run-experiment', [], repo);
    children.push(first);
    await until(() => (json('dashboard', repo).activity as { measuring: unknown[] }).measuring.length > 0, 'r0001 measuring');
    const m = json('dashboard', repo) as { activity: { measuring: { run_id: string }[] }; now: string[] };
    expect(m.activity.measuring[0]?.run_id).toBe('r0001');
    expect(m.now[0]).toMatch(/^r0001 measuring since \d\d:\d\d:\d\d UTC$/);
    expect(agree()).toMatch(/^wait: run-experiment \(pid \d+\) is running since/);
    expect(stripAnsi(run('dashboard', ['--cwd', repo, '--width', '100']))).toMatch(/\nnow {8}r0001 measuring since/);
    const page = path.join(gates, 'page.html');
    run('dashboard', ['--cwd', repo, '--html', page]);
    expect(fs.readFileSync(page, 'utf8')).toContain('<b>now:</b> r0001 measuring since');

    // 2. Measured, not logged: logging it comes first.
    fs.writeFileSync(gate, '');
    await new Promise((r) => first.on('exit', r));
    expect(agree()).toBe('r0001 was measured but not logged: log it first (log-experiment --description "<the change it measured>")');
    expect((json('dashboard', repo) as { now: string[] }).now).toEqual(['r0001 measured, not logged yet']);
    expect(engine('log-experiment', ['--description', 'baseline'], repo).code).toBe(0);
    expect((json('dashboard', repo) as { now: string[] }).now).toEqual([]);

    // 3. The engine killed while r0002 measures: the record says running, nobody holds the lock.
    fs.rmSync(gate);
    fs.writeFileSync(path.join(repo, 'src/value.txt'), '90\n');
    const second = engineAsync('run-experiment', ['--description', 'lower'], repo);
    children.push(second);
    await until(() => (json('dashboard', repo).activity as { measuring: unknown[] }).measuring.length > 0, 'r0002 measuring');
    second.kill('SIGKILL');
    await new Promise((r) => second.on('exit', r));
    fs.writeFileSync(gate, ''); // the orphaned benchmark ends
    const cut = json('dashboard', repo) as { activity: { cut_off: string | null; measuring: unknown[] }; now: string[] };
    expect(cut.activity.cut_off).toBe('r0002');
    expect(cut.activity.measuring).toEqual([]);
    expect(cut.now[0]).toContain('r0002 was cut off while measuring');
    agree();
  });
});

describe('--watch follows the active experiment', () => {
  it('switches to the experiment active.json names (a chain\'s follow-up), unless --experiment pinned one', async () => {
    const dir = tmpDir('autoloop-follow-');
    const a = syntheticLedger({ runs: 6, seed: 3, slug: 'parent-exp' });
    writeSynthetic(dir, a);
    const b = syntheticLedger({ runs: 4, seed: 4, slug: 'child-exp' });
    writeSynthetic(dir, b, { active: false });
    const watch = (extra: string[]) => {
      const child = spawn(process.execPath, [...command('dashboard'), '--cwd', dir, '--watch', '--width', '100', ...extra], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      const io = { out: '', err: '', child, exited: new Promise<number | null>((r) => child.on('exit', (c) => r(c))) };
      child.stdout.on('data', (d: Buffer) => (io.out += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (io.err += d.toString('utf8')));
      return io;
    };
    const follow = watch([]);
    const pinned = watch(['--experiment', 'parent-exp']);
    for (const w of [follow, pinned]) await until(() => w.out.includes('autoloop parent-exp'), 'the first frame', () => w.err);

    // What chain does last: the follow-up becomes the active experiment.
    const active = JSON.parse(fs.readFileSync(repoPaths(dir).active, 'utf8')) as Record<string, unknown>;
    writeJsonAtomic(repoPaths(dir).active, { ...active, experiment: 'child-exp', updated_at: new Date().toISOString() });
    await until(() => follow.out.includes('autoloop child-exp'), 'the follow-up drawn', () => follow.err + follow.out.slice(-500));
    // Then it redraws as the child's ledger grows (its folder is the one watched now).
    const ts = new Date().toISOString();
    appendLedger(experimentPaths(dir, 'child-exp').ledger, LedgerLine.parse({
      type: 'result', ts, segment: 1, run_id: 'r0005', status: 'ok', verdict: 'discard', primary: 1e9, samples: [1e9],
      metrics: { ops: 1e9 }, description: 'logged in the follow-up', reason: 'worse', delta: -1, duration_s: 1, files: ['src/a.js'],
    }));
    await until(() => follow.out.includes('logged in the follow-up'), 'the child\'s new run', () => follow.err);

    // Pinned: still the parent, which redraws as its own ledger grows.
    appendLedger(experimentPaths(dir, 'parent-exp').ledger, LedgerLine.parse({
      type: 'result', ts, segment: 1, run_id: 'r0007', status: 'ok', verdict: 'discard', primary: 1e9, samples: [1e9],
      metrics: { ops: 1e9 }, description: 'logged in the parent', reason: 'worse', delta: -1, duration_s: 1, files: ['src/a.js'],
    }));
    await until(() => pinned.out.includes('logged in the parent'), 'the parent\'s new run', () => pinned.err);
    expect(pinned.out).not.toContain('autoloop child-exp');

    for (const w of [follow, pinned]) {
      w.child.kill('SIGINT');
      expect(await w.exited).toBe(0);
    }
  });
});

describe('--watch while a line is being written', () => {
  it('says a last line is unfinished while it is, and no longer once it is whole', async () => {
    const dir = tmpDir('autoloop-torn-');
    const syn = syntheticLedger({ runs: 8, seed: 5 });
    writeSynthetic(dir, syn);
    const child = spawn(process.execPath, [...command('dashboard'), '--cwd', dir, '--watch', '--width', '100'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    await until(() => out.includes('r0008'), 'the first frame');
    const ledger = experimentPaths(dir, syn.config.name).ledger;
    const line = JSON.stringify(LedgerLine.parse({
      type: 'result', ts: new Date().toISOString(), segment: 1, run_id: 'r0009', status: 'ok', verdict: 'discard', primary: 3e6, samples: [3e6],
      metrics: { ops: 3e6 }, description: 'written in two parts', reason: 'worse', delta: -1, duration_s: 1, files: ['src/a.js'],
    })) + '\n';
    fs.appendFileSync(ledger, line.slice(0, 60));
    await until(() => out.includes('torn last line'), 'the unfinished line reported');
    fs.appendFileSync(ledger, line.slice(60));
    await until(() => out.includes('written in two parts'), 'the whole line drawn');
    const last = out.slice(out.lastIndexOf(`autoloop ${syn.config.name}`));
    expect(last).toContain('written in two parts');
    expect(last).not.toContain('torn last line');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});

describe('parallel candidates in flight', () => {
  it('names the candidates measuring, and a candidate\'s run to log with --candidate, as status does', async () => {
    const gates = tmpDir('autoloop-gate-');
    const gate = path.join(gates, 'go');
    const bench = gatedBench(gate);
    const repo = makeRepo({ 'bench.cjs': bench, 'src/value.txt': '100\n' });
    fs.writeFileSync(gate, '');
    expect(engine('init-experiment', ['--name', 'par', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '1', '--parallel', '2'], repo).code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline'], repo).code).toBe(0);
    const c1 = engine('candidate', ['start', '--json'], repo).json as { path: string };
    fs.writeFileSync(path.join(c1.path, 'src/value.txt'), '90\n');

    fs.rmSync(gate);
    const measuring = engineAsync('run-experiment', ['--candidate', 'c1'], repo);
    children.push(measuring);
    await until(() => (json('dashboard', repo).activity as { measuring: unknown[] }).measuring.length > 0, 'c1 measuring');
    const m = json('dashboard', repo) as { activity: { measuring: { run_id: string; candidate: string }[] }; now: string[] };
    expect(m.activity.measuring).toEqual([expect.objectContaining({ run_id: 'r0002', candidate: 'c1' })]);
    expect(m.now).toEqual(['candidates 1/2: c1 r0002 running']);

    fs.writeFileSync(gate, '');
    await new Promise((r) => measuring.on('exit', r));
    const next = (json('dashboard', repo).health as { next_action: string }).next_action;
    expect(next).toBe(json('status', repo).next_action);
    expect(next).toBe('r0002 was measured but not logged: log it first (log-experiment --candidate c1 --description "<the change it measured>")');
    expect((json('dashboard', repo) as { now: string[] }).now[0]).toBe('r0002 measured, not logged yet (candidate c1)');
    // What it says to do is what logs it.
    expect(engine('log-experiment', ['--candidate', 'c1', '--description', 'lower'], repo).code).toBe(0);
  });
});

describe('activity lines', () => {
  it('say a Slurm run\'s job and a long queue wait, with no candidates in flight', () => {
    const a: Activity = {
      ...NO_ACTIVITY,
      busy: { owner: 'run-experiment', pid: 7, started_at: '2026-01-01T10:00:00.000Z' },
      measuring: [{ run_id: 'r0004', started_at: '2026-01-01T10:00:01.000Z', candidate: null, slurm_job: '4242' }],
      long_queue: { run_id: 'r0004', queued_s: 900, limit_s: 600 },
    };
    expect(activityLines(a, 1)).toEqual([
      'r0004 measuring since 10:00:01 UTC (Slurm job 4242)',
      'queue: r0004 waited 900s before running (over 600s): the cluster is busy',
    ]);
    expect(activityNext(a, 'next idea')).toBe('wait: run-experiment (pid 7) is running since 10:00:00 UTC; what it measures shows when it ends');
    expect(activityLines(NO_ACTIVITY, 4)).toEqual([]);
  });
});
