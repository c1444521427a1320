// The engine with `runner: slurm`, on the real single-node test cluster
// (test/helpers/slurm.ts): real jobs submitted by the bundled entry points,
// real scancel by an "administrator", real parallel candidates in job slots.
// Nothing here waits on the clock: a barrier proves two jobs ran together
// (serialised, the first would time out), cancellations are seen in squeue.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ChildProcess } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engine, engineAsync, git, ledger, makeRepo, overriding, ROOT } from './helpers/engine.ts';
import { ensureSlurm, slurmAdmin } from './helpers/slurm.ts';
import { jobName } from '../scripts/lib/runners/slurm-name.ts';

// The metric is the number in src/value.txt; words in it pick a behaviour.
const BENCH = `
const fs = require('node:fs');
const text = fs.readFileSync('src/value.txt', 'utf8');
const v = Number.parseFloat(text);
const gate = process.env.GATE_DIR;
const job = process.env.SLURM_JOB_ID;
const done = () => console.log('METRIC score=' + v);
if (text.includes('crash')) { console.error('boom'); process.exit(3); }
if (text.includes('oom')) { const a = []; for (let i = 0; i < 40; i++) a.push(Buffer.alloc(10 * 1024 * 1024, 1)); setTimeout(done, 3000); }
else if (text.includes('slow')) { process.on('SIGTERM', () => {}); console.log('ignoring SIGTERM'); setInterval(() => {}, 1000); }
else if (text.includes('wait')) {
  fs.writeFileSync(gate + '/started-' + job, '');
  const t = setInterval(() => { if (fs.existsSync(gate + '/go')) { clearInterval(t); done(); } }, 100);
} else if (text.includes('barrier')) {
  fs.writeFileSync(gate + '/arrived-' + job, '');
  const t = setInterval(() => { if (fs.readdirSync(gate).filter((n) => n.startsWith('arrived-')).length >= 2) { clearInterval(t); done(); } }, 100);
} else done();
`;

let gate: string;
const made: string[] = [];
beforeAll(() => {
  ensureSlurm();
}, 900_000);
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const env = (): Record<string, string> => ({ GATE_DIR: gate, AUTOLOOP_TIMING_DIR: path.join(ROOT, '.cache', `timing-${process.pid}`) });

// The baseline measures the code as committed, so a behaviour under test that
// starts at the baseline (a stubborn job, a job held at the gate) is committed.
function repo(extra: string[] = [], value = '100\n'): string {
  const dir = makeRepo({ 'bench.cjs': BENCH, 'src/value.txt': value, 'README.md': 'fixture\n' });
  gate = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-gate-')));
  made.push(dir, gate);
  const args = overriding(['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '1', '--timeout', '60', '--grace', '1', '--runner', 'slurm', '--slurm-mem', '100M'], extra);
  const init = engine('init-experiment', args, dir, env());
  expect(init.code, init.stderr).toBe(0);
  return dir;
}

function step(dir: string, value: string, description: string, more: string[] = []) {
  fs.writeFileSync(path.join(dir, 'src/value.txt'), value);
  const run = engine('run-experiment', ['--json', ...more], dir, env());
  const log = engine('log-experiment', ['-d', description, '--json', ...more], dir, env());
  return { run: run.json ?? { stderr: run.stderr }, log: log.json ?? { stderr: log.stderr } };
}

const jobOf = (reason: unknown): string => /slurm job (\d+)/.exec(String(reason))?.[1] ?? '';

interface Finished { code: number | null; out: string; err: string }
type Running = Promise<Finished> & { done?: Finished };

function finished(child: ChildProcess): Running {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const p: Running = new Promise((resolve) =>
    child.on('close', (code) => {
      p.done = { code, out, err };
      resolve(p.done);
    }),
  );
  return p;
}

/** Poll until probe holds; fails at once (with the engine's own words) if the engine process it waits on has ended. */
async function until<T>(probe: () => T | null | undefined | false, engineRun: Running): Promise<T> {
  for (;;) {
    const v = probe();
    if (v) return v;
    if (engineRun.done) throw new Error(`the engine ended (exit ${engineRun.done.code}) before this happened: ${engineRun.done.err.trim()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** For until() after an engine that died already (its job is what is waited for). */
const killed: Running = Promise.resolve({ code: null, out: '', err: '' });
const started = (): string[] => fs.readdirSync(gate).filter((n) => n.startsWith('started-')).map((n) => n.slice('started-'.length));
const alive = (job: string): string => slurmAdmin('squeue', ['-h', '-j', job, '-o', '%T']).out;

// Real jobs on a shared machine: a generous hang guard, not a speed assertion.
describe('runner: slurm through the engine', { timeout: 900_000 }, () => {
  it('keep, discard, crash and out-of-memory, each run one job', () => {
    // Any wait at all counts as long here, so status must report it.
    const dir = repo(['--slurm-max-queue-wait', '0.001']);
    expect(step(dir, '100\n', 'baseline').log.verdict).toBe('keep');
    const status = engine('status', ['--json'], dir, env()).json as { long_queue: { run_id: string; limit_s: number } | null };
    expect(status.long_queue).toMatchObject({ run_id: 'r0001', limit_s: 0.001 });
    expect(engine('status', [], dir, env()).stdout).toMatch(/queue: r0001 waited \d+s before running/);
    expect(step(dir, '90\n', 'better').log.verdict).toBe('keep');
    expect(step(dir, '95\n', 'worse').log.verdict).toBe('discard');
    const crash = step(dir, 'crash\n', 'breaks');
    expect(crash.run.status).toBe('crash');
    expect(String(crash.run.reason)).toMatch(/exit code 3 .*FAILED/);
    expect(crash.log.verdict).toBe('crash');
    const oom = step(dir, 'oom 10\n', 'hungry');
    expect(oom.run.status).toBe('crash');
    expect(String(oom.run.reason)).toMatch(/OUT_OF_MEMORY/);
    expect(oom.log.verdict).toBe('crash');
    expect(fs.readFileSync(path.join(dir, 'src/value.txt'), 'utf8')).toBe('90\n');
    const results = ledger(dir).filter((l) => l.type === 'result');
    expect(results.map((l) => l.verdict)).toEqual(['keep', 'keep', 'discard', 'crash', 'crash']);
  });

  it('a job that ignores SIGTERM is stopped at the engine’s timeout; nothing of it is left in Slurm', () => {
    // The timeout is the time the job gets to start Node and its SIGTERM handler on a loaded machine.
    const dir = repo(['--timeout', '10'], 'slow\n');
    const r = step(dir, 'slow\n', 'baseline');
    expect(r.run.status).toBe('timeout');
    const job = jobOf(r.run.reason);
    expect(job).not.toBe('');
    expect(alive(job)).not.toMatch(/RUNNING|PENDING|COMPLETING/);
    expect(r.log.verdict).toBe('timeout');
    expect(fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/runs/r0001/output.log'), 'utf8')).toContain('ignoring SIGTERM');
  });

  it('an administrator’s cancel is taken again by the engine (past the runner’s requeues), never blamed on the candidate', async () => {
    const dir = repo(['--slurm-max-requeues', '0'], '80 wait\n');
    const p = finished(engineAsync('run-experiment', ['--json'], dir, env()));
    const first = await until(() => started()[0], p);
    expect(slurmAdmin('scancel', [first]).code).toBe(0);
    // The engine submits the sample again as a new job; this one is let through.
    await until(() => started().find((j) => j !== first), p);
    fs.writeFileSync(path.join(gate, 'go'), '');
    const r = await p;
    expect(r.code, r.err).toBe(0);
    const rec = JSON.parse(r.out);
    expect(rec).toMatchObject({ status: 'ok', primary: 80 });
    const out = fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/runs/r0001/output.log'), 'utf8');
    expect(out).toMatch(/engine retry 1 of 2: slurm job \d+ CANCELLED by someone else/);
    expect(engine('log-experiment', ['-d', 'baseline', '--json'], dir, env()).json?.verdict).toBe('keep');
  });

  it('kill -9 of the engine while its job runs: its guardian cancels the job, the next call measures without repair, the run is counted once', async () => {
    const dir = repo([], '80 wait\n');
    const child = engineAsync('run-experiment', [], dir, env());
    const p = finished(child);
    const job = await until(() => started()[0], p);
    expect(alive(job)).toMatch(/RUNNING/);
    child.kill('SIGKILL');
    expect((await p).code).toBe(null);
    // Nothing but the guardian acts here (no repair, no other engine call): waited for, not timed.
    await until(() => !/RUNNING|PENDING|COMPLETING/.test(alive(job)), killed);
    fs.writeFileSync(path.join(gate, 'go'), '');
    const again = engine('run-experiment', ['--json'], dir, env());
    expect(again.json, again.stderr).toMatchObject({ run_id: 'r0002', status: 'ok', primary: 80 });
    expect(started()).toHaveLength(2); // this job and r0002's
    expect(engine('log-experiment', ['-d', 'baseline', '--json'], dir, env()).json?.verdict).toBe('keep');
    expect(ledger(dir).filter((l) => l.type === 'result').map((l) => l.run_id)).toEqual(['r0002']);
  });

  it('kill -9 of the engine while its job is queued: its guardian cancels the job, no repair', async () => {
    // Held in the queue for an hour: the job is PENDING all along.
    const dir = repo(['--slurm-arg=--begin=now+3600']);
    const child = engineAsync('run-experiment', [], dir, env());
    const p = finished(child);
    const record = path.join(dir, '.autoloop/experiments/exp/runs/r0001/result.json');
    const jobId = (): string | null => {
      try {
        return (JSON.parse(fs.readFileSync(record, 'utf8')) as { handle?: { job_id?: string | null } }).handle?.job_id ?? null;
      } catch {
        return null; // not written yet, or mid-rename
      }
    };
    const job = await until(jobId, p);
    expect(alive(job)).toMatch(/PENDING/);
    child.kill('SIGKILL');
    expect((await p).code).toBe(null);
    await until(() => !/RUNNING|PENDING|COMPLETING/.test(alive(job)), killed);
    expect(started()).toEqual([]);
  });

  it('kill -9 of the engine while its job runs, its guardian gone too: the next call refuses naming the job, repair cancels it, the run is counted once', async () => {
    const dir = repo([], '80 wait\n');
    const child = engineAsync('run-experiment', [], dir, { ...env(), AUTOLOOP_FAULT_AT: 'guardian' });
    const p = finished(child);
    const job = await until(() => started()[0], p);
    expect(alive(job)).toMatch(/RUNNING/);
    child.kill('SIGKILL');
    expect((await p).code).toBe(null);
    // The job outlived its engine: nothing may be measured beside it.
    const refused = engine('run-experiment', [], dir, env());
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(`run-experiment: slurm job ${job} of run r0001 outlived its engine; run control.mjs repair first (it cancels the job)`);
    const repaired = engine('control', ['repair', '--json'], dir, env());
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(String(repaired.json?.message)).toMatch(new RegExp(`cancelled slurm job ${job} that outlived its engine`));
    expect(alive(job)).not.toMatch(/RUNNING|PENDING|COMPLETING/);
    fs.writeFileSync(path.join(gate, 'go'), '');
    const again = engine('run-experiment', ['--json'], dir, env());
    expect(again.json, again.stderr).toMatchObject({ run_id: 'r0002', status: 'ok', primary: 80 });
    expect(engine('log-experiment', ['-d', 'baseline', '--json'], dir, env()).json?.verdict).toBe('keep');
    expect(ledger(dir).filter((l) => l.type === 'result').map((l) => l.run_id)).toEqual(['r0002']);
  });

  it('kill -9 of the engine right after sbatch returned, before it recorded the job id, its guardian gone too: found by its name, refused, cancelled by repair', async () => {
    const dir = repo([], '80 wait\n');
    const crash = { ...env(), AUTOLOOP_CRASH_AT: 'slurm-submitted', AUTOLOOP_FAULT_AT: 'guardian' };
    expect(engine('run-experiment', [], dir, crash).code).toBe(null);
    const job = await until(() => started()[0], killed);
    expect(alive(job)).toMatch(/RUNNING/);
    // Refused before anything is submitted (a second engine reaching sbatch would die at the same point).
    const refused = engine('run-experiment', [], dir, crash);
    expect(refused.stderr.trim()).toBe(`run-experiment: slurm job ${job} of run r0001 outlived its engine; run control.mjs repair first (it cancels the job)`);
    expect(refused.code).toBe(1);
    const repaired = engine('control', ['repair', '--json'], dir, env());
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(String(repaired.json?.message)).toMatch(new RegExp(`cancelled slurm job ${job} that outlived its engine`));
    expect(alive(job)).not.toMatch(/RUNNING|PENDING|COMPLETING/);
    expect(started()).toEqual([job]);
    fs.writeFileSync(path.join(gate, 'go'), '');
    const again = engine('run-experiment', ['--json'], dir, env());
    expect(again.json, again.stderr).toMatchObject({ run_id: 'r0002', status: 'ok', primary: 80 });
    expect(ledger(dir).filter((l) => l.type === 'result')).toEqual([]);
  });

  it('kill -9 of the engine right after sbatch returned, before it recorded the job id: its guardian finds the job by its name and cancels it', async () => {
    const dir = repo([], '80 wait\n');
    expect(engine('run-experiment', [], dir, { ...env(), AUTOLOOP_CRASH_AT: 'slurm-submitted' }).code).toBe(null);
    // The record holds the token alone; the job carries it in its name (it may be cancelled before it ever starts).
    const rec = JSON.parse(fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/runs/r0001/result.json'), 'utf8')) as { handle: { job_id: string | null; token: string } };
    expect(rec.handle.job_id).toBe(null);
    const named = (): string[] => slurmAdmin('squeue', ['-h', '-t', 'all', '-n', jobName(rec.handle.token), '-o', '%i']).out.split('\n').filter(Boolean);
    const [job] = await until(() => (named().length ? named() : null), killed);
    expect(named()).toEqual([job]);
    await until(() => !/RUNNING|PENDING|COMPLETING/.test(alive(job!)), killed);
    fs.writeFileSync(path.join(gate, 'go'), '');
    const again = engine('run-experiment', ['--json'], dir, env());
    expect(again.json, again.stderr).toMatchObject({ run_id: 'r0002', status: 'ok', primary: 80 });
  });

  it('a candidate’s engine killed right after sbatch returned, its guardian gone too: repair finds the job by its name and cancels it', async () => {
    const dir = repo(['--parallel', '2']);
    expect(step(dir, '100\n', 'baseline').log.verdict).toBe('keep');
    const c = engine('candidate', ['start', '--json'], dir, env()).json as { candidate: string; path: string };
    fs.writeFileSync(path.join(c.path, 'src/value.txt'), '70 wait\n');
    expect(engine('run-experiment', ['--candidate', c.candidate], dir, { ...env(), AUTOLOOP_CRASH_AT: 'slurm-submitted', AUTOLOOP_FAULT_AT: 'guardian' }).code).toBe(null);
    const job = await until(() => started()[0], killed);
    const repaired = engine('control', ['repair', '--json'], dir, env());
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(String(repaired.json?.message)).toContain('cancelled r0002 (job named autoloop-');
    expect(alive(job)).not.toMatch(/RUNNING|PENDING|COMPLETING/);
  });

  it('a partition the cluster does not have: one line with sbatch’s reason, exit 2, nothing counted, the ledger intact', () => {
    const dir = repo(['--slurm-partition', 'nosuch']);
    const r = engine('run-experiment', ['--json'], dir, env());
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^run-experiment: r0001 not run: sbatch refused the job: .*invalid partition.*nosuch.*; fix the runner's settings in config\.yaml\n$/i);
    // The one-call form and log-experiment agree: nothing was measured, nothing is a crash.
    const one = engine('run-experiment', ['-d', 'baseline'], dir, env());
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/r0002 not run: sbatch refused the job/);
    expect(engine('log-experiment', ['-d', 'x'], dir, env()).stderr).toMatch(/was interrupted, not measured/);
    const lines = ledger(dir);
    expect(lines.filter((l) => l.type === 'result')).toEqual([]);
    expect(lines.filter((l) => l.type === 'event' && l.event === 'interrupted').map((l) => String((l as { data: { reason?: string } }).data.reason))).toEqual([
      expect.stringMatching(/^not run: sbatch refused the job/),
      expect.stringMatching(/^not run: sbatch refused the job/),
    ]);
  });

  it('a sample the cluster keeps interrupting ends the run interrupted: no result, no crash', async () => {
    const dir = repo(['--slurm-max-requeues', '0'], '80 wait\n');
    const p = finished(engineAsync('run-experiment', [], dir, env()));
    const seen = new Set<string>();
    while (seen.size < 3) {
      const next = await until(() => started().find((j) => !seen.has(j)), p);
      seen.add(next);
      slurmAdmin('scancel', [next]);
    }
    const r = await p;
    expect(r.code).toBe(130);
    expect(r.err).toMatch(/interrupted; not the candidate's doing: slurm job \d+ CANCELLED.*tried 3 times/);
    expect(engine('log-experiment', ['-d', 'x'], dir, env()).stderr).toMatch(/was interrupted, not measured/);
    expect(ledger(dir).filter((l) => l.type === 'result')).toEqual([]);
  });

  it('control stop cancels a candidate’s running job; the run ends interrupted', async () => {
    const dir = repo(['--parallel', '2']);
    expect(step(dir, '100\n', 'baseline').log.verdict).toBe('keep');
    const c = engine('candidate', ['start', '--json'], dir, env()).json as { candidate: string; path: string };
    fs.writeFileSync(path.join(c.path, 'src/value.txt'), '70 wait\n');
    const p = finished(engineAsync('run-experiment', ['--candidate', c.candidate], dir, env()));
    const job = await until(() => started()[0], p);
    const stop = engine('control', ['stop', '--json'], dir, env());
    expect(stop.code, stop.stderr).toBe(0);
    expect(String(stop.json?.message)).toMatch(new RegExp(`cancelled r0002 \\(job ${job}\\)`));
    const r = await p;
    expect(r.code).toBe(130);
    expect(alive(job)).not.toMatch(/RUNNING|PENDING|COMPLETING/);
    expect(ledger(dir).filter((l) => l.type === 'result')).toHaveLength(1);
  });

  it('parallel candidates run in job slots at the same time (serialised, the first would time out at the barrier)', async () => {
    // The barrier's bound is the engine's timeout: 60 s was shorter than the gap a loaded machine can put
    // between the two candidates' submissions (each engine's checks before its sbatch), so the first timed
    // out though the jobs were never serialised. Under vitest's 300 s, a serialised pair still fails here.
    const dir = repo(['--parallel', '2', '--timeout', '240']);
    expect(step(dir, '100\n', 'baseline').log.verdict).toBe('keep');
    const a = engine('candidate', ['start', '--json'], dir, env()).json as { candidate: string; path: string };
    const b = engine('candidate', ['start', '--json'], dir, env()).json as { candidate: string; path: string };
    fs.writeFileSync(path.join(a.path, 'src/value.txt'), '90 barrier\n');
    fs.writeFileSync(path.join(b.path, 'src/value.txt'), '120 barrier\n');
    const [ra, rb] = await Promise.all([a, b].map((c) => finished(engineAsync('run-experiment', ['--candidate', c.candidate, '--json'], dir, env()))));
    expect(ra?.code, ra?.err).toBe(0);
    expect(rb?.code, rb?.err).toBe(0);
    expect(JSON.parse(ra!.out)).toMatchObject({ status: 'ok', primary: 90 });
    expect(JSON.parse(rb!.out)).toMatchObject({ status: 'ok', primary: 120 });
    expect(engine('log-experiment', ['--candidate', a.candidate, '-d', 'a', '--json'], dir, env()).json?.verdict).toBe('keep');
    expect(engine('log-experiment', ['--candidate', b.candidate, '-d', 'b', '--json'], dir, env()).json?.verdict).toBe('discard');
    expect(git(dir, 'rev-list', '--merges', 'autoloop/exp')).toBe('');
    expect(fs.readFileSync(path.join(dir, 'src/value.txt'), 'utf8')).toBe('90 barrier\n');
  });
});
