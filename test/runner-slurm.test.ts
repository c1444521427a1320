// The Slurm runner on a real single-node Slurm cluster (test/helpers/slurm.ts):
// real jobs, real scancel, real preemption. No wall-clock limits: every "it
// was stopped" is asserted through what Slurm itself reports (squeue).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { tmpDir } from './helpers/tmp.ts';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { liveWork, lookupJob, parseScontrolJob } from '../scripts/lib/runners/slurm-cli.ts';
import { judgeJob, jobScript, sbatchArgs } from '../scripts/lib/runners/slurm-state.ts';
import { SlurmSpec, slurmRunner } from '../scripts/lib/runners/slurm.ts';
import type { RunHandle, RunRequest } from '../scripts/lib/runners/types.ts';
import { ROOT } from './helpers/engine.ts';
import { ensureSlurm, slurmAdmin } from './helpers/slurm.ts';

let dir: string;
let log: string;
/** Jobs a test submitted: cancelled afterwards whatever happened. */
const jobs: string[] = [];

// First use may install slurm-wlm and munge with apt-get: more than the default hook timeout.
beforeAll(() => {
  ensureSlurm();
}, 900_000);
beforeEach(() => {
  dir = tmpDir('autoloop-slurm-run-');
  log = path.join(dir, 'run', 'output.log');
  fs.mkdirSync(path.join(dir, 'tree'));
});
afterAll(() => {
  for (const id of jobs) slurmAdmin('scancel', [id]);
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => T | null | undefined | false | Promise<T | null | undefined | false>): Promise<T> {
  for (;;) {
    const v = await probe();
    if (v) return v;
    await sleep(50);
  }
}

function request(command: string, over: Partial<RunRequest> = {}): RunRequest {
  return {
    command,
    cwd: path.join(dir, 'tree'),
    env: { AUTOLOOP_RUN: 'r0001' },
    timeoutS: 60,
    graceS: 1,
    logFile: log,
    header: '--- r0001 sample 1',
    onStart: (h) => {
      if (h.runner === 'slurm' && h.job_id) jobs.push(h.job_id);
    },
    ...over,
  };
}

/** The handle the runner reports, as a promise (with the default bookkeeping kept). */
function started(): { onStart: (h: RunHandle) => void; job: Promise<string> } {
  let resolve!: (id: string) => void;
  const job = new Promise<string>((r) => (resolve = r));
  return {
    onStart: (h) => {
      if (h.runner !== 'slurm' || !h.job_id) return;
      jobs.push(h.job_id);
      resolve(h.job_id);
    },
    job,
  };
}

const state = async (id: string): Promise<string> => {
  const l = await lookupJob(id);
  return l.kind === 'known' ? l.info.state : l.kind;
};

describe('runs on Slurm', () => {
  it('streams the output into the log while the job runs, with the byte range of this run', async () => {
    fs.mkdirSync(path.dirname(log), { recursive: true });
    fs.writeFileSync(log, 'earlier run\n');
    const flag = path.join(dir, 'go');
    // The job waits for a flag the test sets only once it saw the first line in the log.
    const cmd = `echo "METRIC ms=12.5"; echo "env $AUTOLOOP_RUN in $(pwd)"; while [ ! -e '${flag}' ]; do sleep 0.1; done; echo "METRIC rss_kb=2048"`;
    const p = slurmRunner({ mem: '64M' }).run(request(cmd));
    await until(() => fs.readFileSync(log, 'utf8').includes('METRIC ms=12.5'));
    fs.writeFileSync(flag, '');
    const r = await p;
    expect(r).toMatchObject({ exitCode: 0, signal: null, timedOut: false, interrupted: false, spawnError: null, survivors: [] });
    expect(r.retry).toBeUndefined();
    const text = fs.readFileSync(log, 'utf8');
    expect(text.slice(0, r.log.start)).toBe('earlier run\n--- r0001 sample 1\n');
    expect(text.slice(r.log.start, r.log.end)).toBe(`METRIC ms=12.5\nenv r0001 in ${path.join(dir, 'tree')}\nMETRIC rss_kb=2048\n`);
    expect(r.log.end).toBe(Buffer.byteLength(text));
    expect(r.tail).toContain('METRIC rss_kb=2048');
    expect(r.detail).toMatch(/COMPLETED/);
    expect(r.queuedS).toBeGreaterThanOrEqual(0);
    expect(r.durationS).toBeGreaterThan(0);
    // The job's own output file is gone once copied.
    expect(fs.readdirSync(path.dirname(log)).filter((f) => f.startsWith('.slurm-'))).toEqual([]);
  });

  it('passes the command to the node untouched, quotes and all', async () => {
    const weird = `it's "quoted" $HOME \`x\` ; | & \\ end`;
    const r = await slurmRunner().run(request(`printf '%s\\n' ${JSON.stringify(weird).replace(/\$/g, '\\$').replace(/`/g, '\\`')}`));
    expect(r.exitCode).toBe(0);
    expect(fs.readFileSync(log, 'utf8').slice(r.log.start, r.log.end)).toBe(`${weird}\n`);
  });

  it('a crash is the candidate’s: exit code kept, no retry', async () => {
    const r = await slurmRunner().run(request('echo boom >&2; exit 3'));
    expect(r).toMatchObject({ exitCode: 3, timedOut: false, interrupted: false, spawnError: null, survivors: [] });
    expect(r.retry).toBeUndefined();
    expect(r.tail).toContain('boom');
    expect(r.detail).toMatch(/FAILED/);
  });

  it('a job over its --mem is OUT_OF_MEMORY: a crash with that detail', async () => {
    const grow = `const a=[];for(let i=0;i<40;i++)a.push(Buffer.alloc(10*1024*1024,1));setTimeout(()=>{},3000)`;
    const r = await slurmRunner({ mem: '100M' }).run(request(`'${process.execPath}' -e '${grow}'`));
    expect(r.detail).toMatch(/OUT_OF_MEMORY/);
    expect(r.exitCode !== 0 || r.signal !== null).toBe(true);
    expect(r.retry).toBeUndefined();
    expect(r.timedOut).toBe(false);
  });
});

describe('the engine’s own timeout', () => {
  it('kills a job that ignores SIGTERM and forked a child: nothing of it is left in Slurm', async () => {
    const pidFile = path.join(dir, 'child.pid');
    const cmd = `trap '' TERM; sleep 600 & echo $! > '${pidFile}'; echo started; while :; do sleep 1; done`;
    const s = started();
    // The timeout counts from RUNNING and is the time slurmstepd gets to start the script up to its
    // trap and its child: a SIGTERM before that ends the test's job early, not the runner's kill.
    const r = await slurmRunner().run(request(cmd, { timeoutS: 10, graceS: 1, onStart: s.onStart }));
    const id = await s.job;
    expect(r).toMatchObject({ timedOut: true, interrupted: false, survivors: [] });
    expect(r.retry).toBeUndefined();
    expect(await liveWork(id)).toEqual([]);
    const squeue = slurmAdmin('squeue', ['-h', '-j', id, '-o', '%T']);
    expect(squeue.out).not.toMatch(/RUNNING|PENDING|COMPLETING/);
    // Same host here, so the forked child can be checked directly too.
    const child = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(fs.existsSync(`/proc/${child}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${child}/status`, 'utf8'))).toBe(false);
    expect(fs.readFileSync(log, 'utf8').slice(r.log.start, r.log.end)).toContain('started');
  });
});

describe('interruptions that are not the candidate’s', () => {
  const flaky = (marker: string) => `if [ -e '${marker}' ]; then echo "METRIC ms=1"; else touch '${marker}'; echo first attempt; sleep 600; fi`;

  it('a cancel by an administrator is resubmitted; the result is the new attempt’s', async () => {
    const marker = path.join(dir, 'attempted');
    const s = started();
    const p = slurmRunner({ max_requeues: 1 }).run(request(flaky(marker), { onStart: s.onStart }));
    const first = await s.job;
    await until(() => fs.existsSync(marker));
    expect(slurmAdmin('scancel', [first]).code).toBe(0); // as another user of the cluster would
    const r = await p;
    expect(r).toMatchObject({ exitCode: 0, timedOut: false, interrupted: false, survivors: [] });
    expect(r.retry).toBeUndefined();
    expect(r.detail).toMatch(new RegExp(`after 1 requeue\\(s\\): slurm job ${first} CANCELLED by someone else`));
    const text = fs.readFileSync(log, 'utf8');
    expect(text.slice(0, r.log.start)).toContain('first attempt');
    expect(text.slice(r.log.start, r.log.end)).toBe('METRIC ms=1\n');
  });

  it('past max_requeues it asks the engine to retry, and blames nobody', async () => {
    const s = started();
    const p = slurmRunner({ max_requeues: 0 }).run(request('echo up; sleep 600', { onStart: s.onStart }));
    const id = await s.job;
    await until(async () => (await state(id)) === 'RUNNING');
    slurmAdmin('scancel', [id]);
    const r = await p;
    expect(r.retry).toBe(true);
    expect(r.detail).toMatch(/CANCELLED by someone else/);
    expect(r.timedOut).toBe(false);
    expect(r.interrupted).toBe(false);
  });

  it('a preempted job (a higher-tier partition took the node) is resubmitted', async () => {
    const marker = path.join(dir, 'attempted');
    const s = started();
    const p = slurmRunner({ partition: 'scavenger', max_requeues: 2 }).run(request(flaky(marker), { onStart: s.onStart }));
    const first = await s.job;
    await until(() => fs.existsSync(marker));
    const urgent = slurmAdmin('sbatch', ['--parsable', '-p', 'urgent', '--exclusive', '-o', '/dev/null', '--wrap', 'sleep 1']);
    expect(urgent.code).toBe(0);
    jobs.push(urgent.out.trim());
    const r = await p;
    expect(r).toMatchObject({ exitCode: 0, survivors: [] });
    expect(r.detail).toMatch(new RegExp(`slurm job ${first} PREEMPTED`));
    expect(fs.readFileSync(log, 'utf8').slice(r.log.start, r.log.end)).toBe('METRIC ms=1\n');
  });
});

describe('a controller out of reach for a while', () => {
  it('a submission sbatch could not deliver is tried again, never a crash of the candidate', async () => {
    // A copy of the cluster's configuration naming a port nobody listens on: sbatch cannot reach the
    // controller (as while it restarts). Once the runner says it will try again, the right port is put back.
    const c = ensureSlurm();
    const conf = path.join(dir, 'slurm.conf');
    const good = fs.readFileSync(c.conf, 'utf8');
    fs.writeFileSync(conf, good.replace(/^SlurmctldPort=\d+$/m, 'SlurmctldPort=1'));
    for (const f of ['cgroup.conf']) if (fs.existsSync(path.join(c.dir, f))) fs.copyFileSync(path.join(c.dir, f), path.join(dir, f));
    const saved = process.env.SLURM_CONF;
    process.env.SLURM_CONF = conf;
    try {
      const p = slurmRunner().run(request('echo "METRIC ms=1"'));
      let early: Awaited<typeof p> | null = null;
      void p.then((r) => (early = r));
      await until(() => early || (fs.existsSync(log) && /could not reach the controller.*trying again/.test(fs.readFileSync(log, 'utf8'))));
      expect(early, 'the run ended while the controller was out of reach').toBeNull();
      fs.writeFileSync(conf, good);
      const r = await p;
      expect(r).toMatchObject({ exitCode: 0, spawnError: null, survivors: [] });
      expect(fs.readFileSync(log, 'utf8').slice(r.log.start, r.log.end)).toBe('METRIC ms=1\n');
    } finally {
      process.env.SLURM_CONF = saved;
    }
  });
});

/**
 * A TCP stand-in for the network between the Slurm commands and the real controller, to inject the
 * faults a busy or failing-over controller shows: `pass` forwards both ways; `swallow` delivers the
 * request but drops the controller's answer (sbatch times out after its job was taken); `blackhole`
 * takes the request and delivers nothing (sbatch times out, no job). The mode is a connection's at
 * its accept.
 */
async function faultyLink(target: number): Promise<{ port: number; mode: 'pass' | 'swallow' | 'blackhole'; answersDropped: number; close: () => void }> {
  const sockets = new Set<net.Socket>();
  const link = { port: 0, mode: 'pass' as 'pass' | 'swallow' | 'blackhole', answersDropped: 0, close: () => undefined as void };
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => undefined);
    if (link.mode === 'blackhole') {
      client.on('data', () => undefined);
      return;
    }
    const mode = link.mode;
    const up = net.connect(target, '127.0.0.1');
    sockets.add(up);
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
    client.pipe(up);
    if (mode === 'pass') {
      up.pipe(client);
      up.on('close', () => client.destroy());
    } else up.on('data', () => link.answersDropped++);
  });
  await new Promise<void>((r) => server.listen(0, r));
  link.port = (server.address() as net.AddressInfo).port;
  link.close = () => {
    for (const s of sockets) s.destroy();
    server.close();
  };
  return link;
}

describe('an sbatch that gets no answer', () => {
  /** Client commands pointed at the link (a copy of the cluster's configuration), for the duration of fn. */
  async function throughLink(fn: (link: Awaited<ReturnType<typeof faultyLink>>) => Promise<void>): Promise<void> {
    const c = ensureSlurm();
    const good = fs.readFileSync(c.conf, 'utf8');
    const link = await faultyLink(Number(/^SlurmctldPort=(\d+)$/m.exec(good)![1]));
    const conf = path.join(dir, 'slurm.conf');
    // A short MessageTimeout in the clients' copy only: sbatch gives up on a silent controller sooner.
    fs.writeFileSync(conf, good.replace(/^SlurmctldPort=\d+$/m, `SlurmctldPort=${link.port}`).replace(/^MessageTimeout=\d+$/m, 'MessageTimeout=5'));
    if (fs.existsSync(path.join(c.dir, 'cgroup.conf'))) fs.copyFileSync(path.join(c.dir, 'cgroup.conf'), path.join(dir, 'cgroup.conf'));
    const saved = process.env.SLURM_CONF;
    process.env.SLURM_CONF = conf;
    try {
      await fn(link);
    } finally {
      process.env.SLURM_CONF = saved;
      link.close();
    }
  }

  /** Run one job through the link in `mode` until the runner looks for it by name; then a working link. */
  async function runThrough(mode: 'swallow' | 'blackhole'): Promise<{ r: Awaited<ReturnType<ReturnType<typeof slurmRunner>['run']>>; text: string; named: string[]; dropped: number }> {
    let out!: { r: Awaited<ReturnType<ReturnType<typeof slurmRunner>['run']>>; text: string; named: string[]; dropped: number };
    await throughLink(async (link) => {
      let token = '';
      link.mode = mode;
      const p = slurmRunner().run(
        request('echo "METRIC ms=1"', {
          onStart: (h) => {
            if (h.runner !== 'slurm') return;
            if (h.token) token = h.token;
            if (h.job_id) jobs.push(h.job_id);
          },
        }),
      );
      let early: Awaited<typeof p> | null = null;
      void p.then((r) => (early = r));
      await until(() => early || (fs.existsSync(log) && /got no answer.*looking for job/.test(fs.readFileSync(log, 'utf8'))));
      expect(early, 'the run ended before the runner looked for its job').toBeNull();
      const dropped = link.answersDropped;
      link.mode = 'pass';
      const r = await p;
      const named = slurmAdmin('squeue', ['-h', '-t', 'all', '-n', `autoloop-${token}`, '-o', '%i']).out.split('\n').filter((l) => /^\d+$/.test(l.trim()));
      named.forEach((id) => jobs.push(id));
      out = { r, text: fs.readFileSync(log, 'utf8'), named, dropped };
    });
    return out;
  }

  it('a job the controller took while its answer was lost is found by its name and adopted: one job, its result', async () => {
    const { r, text, named, dropped } = await runThrough('swallow');
    expect(dropped, 'the controller answered the submission (it took the job)').toBeGreaterThan(0);
    expect(r).toMatchObject({ exitCode: 0, spawnError: null, survivors: [] });
    expect(text.slice(r.log.start, r.log.end)).toBe('METRIC ms=1\n');
    expect(text).toMatch(/the controller took it as job \d+/);
    expect(named, 'one job for one run').toHaveLength(1);
  });

  it('a submission the controller never received is submitted again once it is sure: one job, its result', async () => {
    const { r, text, named } = await runThrough('blackhole');
    expect(r).toMatchObject({ exitCode: 0, spawnError: null, survivors: [] });
    expect(text.slice(r.log.start, r.log.end)).toBe('METRIC ms=1\n');
    expect(text).toMatch(/never took it; submitting again/);
    expect(named, 'one job for one run').toHaveLength(1);
  });
});

describe('stopping', () => {
  it('an abort cancels a job still queued', async () => {
    const ac = new AbortController();
    const s = started();
    const p = slurmRunner({ sbatch_args: ['--begin=now+3600'] }).run(request('echo never', { signal: ac.signal, onStart: s.onStart }));
    const id = await s.job;
    await until(async () => (await state(id)) === 'PENDING');
    ac.abort();
    const r = await p;
    expect(r).toMatchObject({ interrupted: true, timedOut: false, survivors: [] });
    expect(r.retry).toBeUndefined();
    expect(await state(id)).toBe('CANCELLED');
    expect(fs.readFileSync(log, 'utf8')).not.toContain('never');
  });

  it('an abort cancels a running job, child processes and all', async () => {
    const ac = new AbortController();
    const s = started();
    const up = path.join(dir, 'up');
    const p = slurmRunner().run(request(`sleep 600 & touch '${up}'; wait`, { signal: ac.signal, onStart: s.onStart }));
    const id = await s.job;
    await until(() => fs.existsSync(up));
    ac.abort();
    const r = await p;
    expect(r).toMatchObject({ interrupted: true, survivors: [] });
    expect(await liveWork(id)).toEqual([]);
  });

  it('cancel() from another process, by handle: the job ends and its watcher reports an interrupt', async () => {
    const s = started();
    const up = path.join(dir, 'up');
    const p = slurmRunner().run(request(`trap '' TERM; touch '${up}'; sleep 600`, { onStart: s.onStart }));
    const id = await s.job;
    await until(() => fs.existsSync(up));
    const other = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/fixtures/slurm-cancel.ts'), id], { cwd: ROOT, encoding: 'utf8', env: process.env, timeout: 120_000 });
    expect(other.stderr).toBe('');
    const seen = JSON.parse(other.stdout) as { before: string[]; left: string[]; after: string[] };
    expect(seen.before).toContain(`${id} RUNNING`);
    expect(seen.left).toEqual([]);
    expect(seen.after).toEqual([]);
    const r = await p;
    expect(r.interrupted).toBe(true);
    expect(r.retry).toBeUndefined();
    expect(r.detail).toMatch(/cancelled by autoloop from another process/);
  });
});

describe('the shared filesystem', () => {
  it('refuses with one clear line when the node cannot enter the working directory, then at once', async () => {
    const cwd = path.join(dir, 'tree');
    const s = started();
    // Held in the queue long enough for the directory to go before the job starts.
    const runner = slurmRunner({ sbatch_args: ['--begin=now+2'] });
    const p = runner.run(request('echo ran', { cwd, onStart: s.onStart }));
    await s.job;
    fs.rmSync(cwd, { recursive: true });
    const r = await p;
    expect(r.spawnError).toMatch(new RegExp(`cannot see ${cwd}: the Slurm runner needs the worktree on a filesystem shared with the compute nodes`));
    expect(r.spawnError).not.toContain('\n');
    fs.mkdirSync(cwd);
    let submitted = false;
    const again = await runner.run(request('echo ran', { cwd, onStart: () => (submitted = true) }));
    expect(submitted).toBe(false);
    expect(again.spawnError).toBe(r.spawnError);
  });
});

describe('the run folder on the node', () => {
  it('a run folder whose name holds %, spaces and non-ASCII letters gets its output', async () => {
    // Slurm expands %j, %u, %% … in --output: the job's output would go to another name.
    const odd = path.join(dir, 'run 100%j %% ü', 'output.log');
    const r = await slurmRunner().run(request('echo "METRIC ms=1"', { logFile: odd }));
    expect(r).toMatchObject({ exitCode: 0, signal: null, spawnError: null });
    expect(fs.readFileSync(odd, 'utf8').slice(r.log.start, r.log.end)).toBe('METRIC ms=1\n');
    expect(fs.readdirSync(path.dirname(odd))).toEqual(['output.log']);
  });

  it('a run folder whose name holds a backslash is refused with one line, no job submitted', async () => {
    // With a backslash in --output Slurm drops every backslash: no name reaches that folder.
    const odd = path.join(dir, 'run\\x', 'output.log');
    let submitted = false;
    const r = await slurmRunner().run(request('echo ran', { logFile: odd, onStart: () => (submitted = true) }));
    expect(submitted).toBe(false);
    expect(r.spawnError).toBe(`Slurm cannot write a job's output under a path holding a backslash: ${path.dirname(odd)}`);
  });

  it('a job that ends without its output ever appearing here is refused naming the shared filesystem, not read as a run with no output', () => {
    // The node writes the output into its own copy of the run folder; this process sees another one (a private tmpfs).
    const runDir = path.dirname(log);
    fs.mkdirSync(runDir, { recursive: true });
    const fixture = path.join(ROOT, 'test/fixtures/slurm-unshared.ts');
    const script = 'mount -t tmpfs autoloop-unshared "$1" && shift && exec "$@"';
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', runDir, process.execPath, '--import', 'tsx', fixture, path.join(dir, 'tree'), runDir], { cwd: ROOT, encoding: 'utf8', env: process.env, timeout: 900_000 });
    expect(r.stderr).toBe('');
    const result = JSON.parse(r.stdout) as { exitCode: number | null; spawnError: string | null; detail: string };
    expect(result.detail).toMatch(/COMPLETED/);
    expect(result.spawnError).toMatch(new RegExp(`slurm job \\d+ wrote no output to ${runDir}: is it on a filesystem shared with the compute node\\?`));
  });

  it('a job whose output folder the node cannot open is a launch failure naming the shared filesystem, not a signal', async () => {
    const s = started();
    const runDir = path.dirname(log);
    // Held in the queue long enough for the run's folder to go before the job starts.
    const p = slurmRunner({ sbatch_args: ['--begin=now+2'] }).run(request('echo ran', { onStart: s.onStart }));
    const id = await s.job;
    fs.rmSync(runDir, { recursive: true });
    const r = await p;
    expect(await state(id)).toBe('FAILED');
    expect(r.signal).toBeNull();
    expect(r.exitCode).toBeNull();
    expect(r.spawnError).toMatch(new RegExp(`slurm job ${id} wrote no output to ${runDir}: is it on a filesystem shared with the compute node\\?`));
    expect(r.retry).toBeUndefined();
  });
});

describe('configuration and state mapping', () => {
  it('refuses sbatch flags the runner owns, and malformed values, naming them', () => {
    const bad = SlurmSpec.safeParse({ sbatch_args: ['--account=x', '--output=/tmp/x'] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toBe('sbatch_args may not set --output: the Slurm runner sets it itself');
    expect(SlurmSpec.safeParse({ mem: 'lots' }).error?.issues[0]?.message).toMatch(/mem must look like 512M/);
    expect(SlurmSpec.safeParse({ partition: 'gpu; rm -rf /' }).success).toBe(false);
    expect(SlurmSpec.safeParse({ sbatch_args: ['-ofile'] }).success).toBe(false);
    // The job's name carries the run's token (repair finds a job by it): not the user's to set.
    expect(SlurmSpec.safeParse({ sbatch_args: ['--job-name=mine'] }).error?.issues[0]?.message).toBe('sbatch_args may not set --job-name: the Slurm runner sets it itself');
    expect(SlurmSpec.safeParse({ sbatch_args: ['-Jmine'] }).success).toBe(false);
    expect(SlurmSpec.parse({ sbatch_args: ['--account=proj', '--qos', 'high'] }).max_requeues).toBe(2);
  });

  it('puts the resources on sbatch’s command line as separate arguments', () => {
    const args = sbatchArgs(SlurmSpec.parse({ partition: 'gpu', cpus: 4, mem: '16G', gres: 'gpu:1', sbatch_args: ['--account=proj'] }), {
      cwd: '/w t',
      outFile: '/l/o-%j.out',
      timeoutS: 600,
      graceS: 5,
      token: 'abc',
    });
    expect(args).toEqual(expect.arrayContaining(['--partition=gpu', '--cpus-per-task=4', '--mem=16G', '--gres=gpu:1', '--account=proj', '--chdir=/w t', '--no-requeue', '--time=13']));
    expect(jobScript("a 'b'", "/w/it's")).toContain(`cd '/w/it'\\''s'`);
  });

  it('maps the cluster’s own failures to retry, the candidate’s to a crash', () => {
    const info = (line: string) => parseScontrolJob(line)!;
    const j = (line: string) => judgeJob('7', info(line), { timedOut: false, interrupted: false, memoryKill: false });
    for (const st of ['NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL']) expect(j(`JobId=7 JobState=${st} ExitCode=0:0`)).toMatchObject({ retry: true });
    expect(j('JobId=7 JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0')).toMatchObject({ retry: false, exitCode: 3 });
    expect(j('JobId=7 JobState=FAILED ExitCode=0:9')).toMatchObject({ retry: false, exitCode: null, signal: 'SIGKILL' });
    expect(j('JobId=7 JobState=OUT_OF_MEMORY ExitCode=0:0')).toMatchObject({ retry: false, signal: 'SIGKILL' });
    expect(j('JobId=7 JobState=TIMEOUT ExitCode=0:15')).toMatchObject({ retry: false, timedOut: true });
    expect(j('JobId=7 JobState=FAILED Reason=JobLaunchFailure ExitCode=0:0').spawnError).toMatch(/before the command ran \(JobLaunchFailure\)/);
  });
});
