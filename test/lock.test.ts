import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { acquireLock } from '../scripts/lib/lock.ts';
import { pidAlive } from '../scripts/lib/procs.ts';
import { RefusalError } from '../scripts/lib/errors.ts';
import { PROJECT, cleanupTmp, moduleUrl, runChild, tmpDir } from './helpers/repo.ts';
import { engine, engineAsync, initValue, ledger, makeRepo, waitFor } from './helpers/engine.ts';

afterAll(cleanupTmp);

const LOCK = moduleUrl('scripts/lib/lock.ts');

/** A child that takes the lock, says so, and holds it until killed. */
function holder(lockFile: string): Promise<ChildProcess> {
  const code = `
    const { acquireLock } = await import(${JSON.stringify(LOCK)});
    acquireLock(${JSON.stringify(lockFile)}, 'holder');
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve(child);
    });
    child.on('exit', (c) => reject(new Error(`holder exited (${c}): ${err}`)));
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.on('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('acquireLock', () => {
  it('writes pid, owner and start time, and release removes it', () => {
    const file = path.join(tmpDir(), 'exp', 'lock');
    const lock = acquireLock(file, 'run-experiment');
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number; owner: string; started_at: string };
    expect(info.pid).toBe(process.pid);
    expect(info.owner).toBe('run-experiment');
    expect(Number.isNaN(Date.parse(info.started_at))).toBe(false);
    expect(lock.tookOver).toBeNull();
    lock.release();
    expect(fs.existsSync(file)).toBe(false);
    lock.release(); // twice is harmless
  });

  it('refuses while the holder lives (a second acquire in the same process too)', () => {
    const file = path.join(tmpDir(), 'lock');
    const lock = acquireLock(file, 'first');
    expect(() => acquireLock(file, 'second')).toThrow(RefusalError);
    expect(() => acquireLock(file, 'second')).toThrow(`another autoloop command (first, pid ${process.pid}) is running in this repository`);
    lock.release();
    acquireLock(file, 'third').release();
  });

  it('a live holder in another process makes acquire refuse; once SIGKILLed its lock is taken over', async () => {
    const file = path.join(tmpDir(), 'lock');
    const child = await holder(file);
    try {
      expect(() => acquireLock(file, 'me')).toThrow(`another autoloop command (holder, pid ${child.pid}) is running in this repository`);
    } finally {
      await killed(child);
    }
    expect(pidAlive(child.pid as number)).toBe(false);
    const lock = acquireLock(file, 'me');
    expect(lock.tookOver).toEqual({ pid: child.pid });
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(process.pid);
    lock.release();
    expect(fs.existsSync(file)).toBe(false);
    // Nothing left behind by the takeover.
    expect(fs.readdirSync(path.dirname(file))).toEqual([]);
  });

  it('a holder held off the CPU as its lock appears is never taken over: the file is whole from the start', async () => {
    // SIGSTOP at the moment the lock is visible stands in for a scheduler that
    // parks the creator there; the lock is then made to look old (past the
    // torn grace). A lock created empty and written after is taken for a torn
    // one at this point, and both processes think they hold it.
    const dir = tmpDir();
    const file = path.join(dir, 'lock');
    const code = `const { acquireLock } = await import(${JSON.stringify(LOCK)}); acquireLock(${JSON.stringify(file)}, 'parked'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: PROJECT, stdio: 'ignore', env: { ...process.env, AUTOLOOP_STOP_AT: 'lock:created' } });
    try {
      const stopped = () => {
        try {
          return fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] === 'T';
        } catch {
          return false;
        }
      };
      await waitFor(stopped, 120_000);
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(file, old, old);
      expect(() => acquireLock(file, 'me')).toThrow(`another autoloop command (parked, pid ${child.pid}) is running in this repository`);
    } finally {
      await killed(child);
    }
    // Its unlinked name is gone with it, or swept by the next acquire.
    acquireLock(file, 'me').release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('takes over a torn (unparseable) lock once it is old enough', () => {
    const file = path.join(tmpDir(), 'lock');
    fs.writeFileSync(file, '{"pid": 12');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(file, old, old);
    const lock = acquireLock(file, 'me');
    expect(lock.tookOver).toEqual({ pid: 0 });
    lock.release();
  });

  it('treats a recycled pid (same pid, different process start) as dead', () => {
    const file = path.join(tmpDir(), 'lock');
    fs.writeFileSync(file, JSON.stringify({ pid: process.pid, owner: 'ghost', started_at: '2020-01-01T00:00:00Z', token: 'x', proc_start: '1' }));
    if (!fs.existsSync('/proc/self/stat')) return; // only Linux exposes process start times
    const lock = acquireLock(file, 'me');
    expect(lock.tookOver).toEqual({ pid: process.pid });
    lock.release();
  });

  it('release leaves a lock that is no longer ours', () => {
    const file = path.join(tmpDir(), 'lock');
    const lock = acquireLock(file, 'me');
    const other = JSON.stringify({ pid: process.pid, owner: 'other', started_at: '', token: 'someone-else' });
    fs.writeFileSync(file, other);
    lock.release();
    expect(fs.readFileSync(file, 'utf8')).toBe(other);
  });

  it('of several processes racing to take over one stale lock, exactly one wins', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'lock');
    // A lock left by a process that is gone.
    const dead = await runChild('process.stdout.write(String(process.pid))');
    fs.writeFileSync(file, JSON.stringify({ pid: Number(dead.stdout), owner: 'dead', started_at: '', token: 'old' }));
    // Barriers instead of a start time, so that a busy machine cannot spread the
    // racers out: all start together once every one is ready, and the winner
    // holds the lock until every racer has tried (the deadline only ends a hang).
    const racers = 6;
    const barrier = path.join(dir, 'barrier');
    fs.mkdirSync(barrier);
    const racer = `
      const fs = await import('node:fs');
      const { acquireLock } = await import(${JSON.stringify(LOCK)});
      const barrier = ${JSON.stringify(barrier)};
      const nap = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      const deadline = Date.now() + 600_000;
      const waitFor = (prefix) => {
        while (fs.readdirSync(barrier).filter((f) => f.startsWith(prefix)).length < ${racers} && Date.now() < deadline) nap();
      };
      fs.writeFileSync(barrier + '/ready-' + process.pid, '');
      waitFor('ready-');
      let said;
      try {
        const l = acquireLock(${JSON.stringify(file)}, 'racer');
        said = 'won ' + JSON.stringify(l.tookOver);
        fs.writeFileSync(barrier + '/tried-' + process.pid, '');
        waitFor('tried-');
        l.release();
      } catch (e) {
        said = 'refused ' + e.message;
        fs.writeFileSync(barrier + '/tried-' + process.pid, '');
      }
      process.stdout.write(said);
    `;
    const results = await Promise.all(Array.from({ length: racers }, () => runChild(racer)));
    const outs = results.map((r) => r.stdout);
    expect(outs.filter((o) => o.startsWith('won')), outs.join('\n')).toHaveLength(1);
    expect(outs.filter((o) => o.startsWith('refused')), outs.join('\n')).toHaveLength(racers - 1);
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('one engine mutation per repository: read-only calls during a run', () => {
  it('status, report and finalize while a run measures leave the run valid (they no longer write state.json under it)', async () => {
    const gate = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-gate-')));
    // The benchmark says it started, then waits for the test's go: the reads below land mid-run, whatever the machine's speed.
    const bench = `const fs = require('node:fs');
fs.writeFileSync(${JSON.stringify(path.join(gate, 'started'))}, '');
const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(path.join(gate, 'go'))})) { clearInterval(t); console.log('METRIC score=1'); } }, 20);
`;
    const repo = makeRepo({ 'bench.cjs': bench, 'src/value.txt': '1\n' });
    try {
      expect(initValue(repo).code).toBe(0);
      expect(engine('status', [], repo).code).toBe(0); // state.json exists, so the run fingerprints it
      fs.writeFileSync(path.join(repo, 'stray.txt'), 'x\n'); // set aside by the run: a ledger line before it measures
      const run = engineAsync('run-experiment', ['--description', 'baseline'], repo);
      let out = '';
      run.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => run.on('exit', resolve));
      await waitFor(() => fs.existsSync(path.join(gate, 'started')));
      for (const cmd of ['status', 'report', 'finalize']) expect(engine(cmd, [], repo).code, cmd).toBe(0);
      // status says a run is measuring, not "no baseline yet: run run-experiment" as if none were.
      const mid = engine('status', ['--json'], repo).json as { busy: { owner: string; pid: number }; next_action: string };
      expect(mid.busy).toMatchObject({ owner: 'run-experiment', pid: run.pid });
      expect(mid.next_action).toMatch(/^wait: run-experiment \(pid \d+\) is running since/);
      fs.writeFileSync(path.join(gate, 'go'), '');
      expect(await exited).toBe(0);
      expect(out).not.toMatch(/INVALID|state changed/);
      const results = ledger(repo).filter((l) => l.type === 'result');
      expect(results.map((l) => l.status)).toEqual(['ok']);
      expect(engine('status', ['--json'], repo).json).toMatchObject({ busy: null });
    } finally {
      fs.rmSync(gate, { recursive: true, force: true });
      fs.rmSync(repo, { recursive: true, force: true });
    }
  });
});
