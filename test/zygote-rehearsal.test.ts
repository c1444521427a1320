// The zygote's rehearsal (boot/rehearsal.ts): before its call, a pre-started
// engine runs whole iterations on a scratch repository of its own, so that the
// call runs on warm code. It must leave nothing: no folder, no count, no output,
// no state the call could see; and a call that comes during it is answered as
// any call is. Real zygotes (dist/zygote.cjs over IPC, as the MCP server starts
// them), real repositories.
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { baselineRepo, bundle, engine, git, ledger, setValue, waitFor } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';
import { McpClient } from './helpers/mcp-client.ts';
import { REHEARSAL_PREFIX, REHEARSAL_STEPS, TEMPLATE_PREFIX, TEMPLATE_STEPS } from '../scripts/lib/boot/rehearsal.ts';

const dist = () => path.dirname(bundle('status'));

interface Zygote {
  child: ChildProcess;
  /** The first message: the zygote is ready, after a rehearsal of so many steps. */
  ready: Promise<{ ready: boolean; rehearsed: number }>;
  /** How the call ended and what it printed. */
  ended: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** The zygote's exit code (an idle one keeps no output to wait for). */
  exited: Promise<number | null>;
}

/** A zygote with `env` (the server's environment) and `args` (the server's `--next log`); its temp folder is `tmp`. */
function zygote(tmp: string, env: Record<string, string> = {}, args: string[] = []): Zygote {
  const child = spawn(process.execPath, [path.join(dist(), 'zygote.cjs'), ...args], { env: { ...process.env, TMPDIR: tmp, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const ready = new Promise<{ ready: boolean; rehearsed: number }>((resolve) => child.once('message', (m) => resolve(m as { ready: boolean; rehearsed: number })));
  const ended = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, ready, ended, exited };
}

/** Hand the zygote one call (run-experiment unless told) in `repo`, with the call's own environment. */
function call(z: Zygote, repo: string, argv: string[], env: Record<string, string> = {}, entry = 'run-experiment'): void {
  const callEnv = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter((e): e is [string, string] => typeof e[1] === 'string'));
  z.child.send({ entry, argv, cwd: repo, env: callEnv });
}

/** The templates kept in `tmp` (this test process stands for the server: the zygotes' parent). */
const templatesIn = (tmp: string) => fs.readdirSync(tmp).filter((f) => f.startsWith(TEMPLATE_PREFIX)).sort();
/** The events of a trace file (AUTOLOOP_REHEARSAL_TRACE): the steps each zygote started, and its call's arrival and start. */
const events = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter((l) => !l.startsWith('done ')) : []);

const leftovers = (tmp: string) => fs.readdirSync(tmp).filter((f) => f.startsWith(REHEARSAL_PREFIX));
const counts = (file: string): Record<string, number> =>
  Object.fromEntries(fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => [l.split(' ')[0], Number(l.split(' ')[1])]));
/** The ledger's results without what differs between any two runs (times, durations). */
const results = (repo: string) =>
  ledger(repo)
    .filter((l) => l.type === 'result')
    .map((l) => ({ run: l.run_id, verdict: l.verdict, primary: l.primary, description: l.description, files: l.files }));
const shape = (t: string) => t.replace(/\b[0-9a-f]{7,40}\b/g, '<sha>').replace(/\d+(\.\d+)?\s?(ms|s)\b/g, '<t>');

describe("the zygote's rehearsal", () => {
  it('runs whole iterations before the zygote is ready, and the call after it lands as the CLI\'s, counting only its own work', async () => {
    const tmp = tmpDir('rehearsal-tmp-');
    const viaZygote = baselineRepo('100');
    const viaCli = baselineRepo('100');
    // The server's environment names a count file: the rehearsal must count nothing into it.
    const countFile = path.join(tmpDir('rehearsal-count-'), 'counts');
    const z = zygote(tmp, { AUTOLOOP_COUNT_IO: countFile });
    expect(await z.ready).toEqual({ ready: true, rehearsed: REHEARSAL_STEPS });
    expect(leftovers(tmp)).toEqual([]);
    expect(fs.existsSync(countFile)).toBe(false);
    setValue(viaZygote, '90');
    setValue(viaCli, '90');
    call(z, viaZygote, ['--description', 'lower'], { AUTOLOOP_COUNT_IO: countFile });
    const cliCounts = path.join(tmpDir('rehearsal-count-'), 'cli');
    const cli = engine('run-experiment', ['--description', 'lower'], viaCli, { AUTOLOOP_COUNT_IO: cliCounts });
    const r = await z.ended;
    expect(cli.code, cli.stderr).toBe(0);
    expect(r.stderr).toBe('\u0000autoloop-exit 0\n');
    expect(shape(r.stdout)).toBe(shape(cli.stdout));
    expect(results(viaZygote)).toEqual(results(viaCli));
    expect(git(viaZygote, 'rev-parse', 'HEAD^{tree}')).toBe(git(viaCli, 'rev-parse', 'HEAD^{tree}'));
    expect(counts(countFile).git).toBe(counts(cliCounts).git);
    expect(counts(countFile).fsync).toBe(counts(cliCounts).fsync);
    expect(leftovers(tmp)).toEqual([]);
  });

  it('answers a call that comes during the rehearsal: the rehearsal stops at its next step, and its output never reaches the call\'s', async () => {
    const tmp = tmpDir('rehearsal-tmp-');
    const repo = baselineRepo('100');
    const z = zygote(tmp);
    // Once the rehearsal has its scratch repository, the call comes.
    await waitFor(() => leftovers(tmp).length > 0);
    setValue(repo, '90');
    call(z, repo, ['--description', 'lower']);
    const ready = await z.ready;
    const r = await z.ended;
    expect(ready.rehearsed).toBeLessThan(REHEARSAL_STEPS);
    expect(r.stderr).toBe('\u0000autoloop-exit 0\n');
    expect(r.stdout).toMatch(/^r0002 score=90 → KEEP/);
    expect(results(repo).map((l) => l.verdict)).toEqual(['keep', 'keep']);
    expect(leftovers(tmp)).toEqual([]);
  });

  it('removes its scratch repository when the zygote is told to end during it (SIGTERM: its server gone)', async () => {
    const tmp = tmpDir('rehearsal-tmp-');
    const z = zygote(tmp);
    await waitFor(() => leftovers(tmp).length > 0);
    z.child.kill('SIGTERM');
    const r = await z.ended;
    expect(r.code).toBe(143);
    expect(leftovers(tmp)).toEqual([]);
  });

  it('leaves no scratch repository when the server ends during a rehearsal; one a SIGKILL left is removed by the next rehearsal', async () => {
    const tmp = tmpDir('rehearsal-tmp-');
    const loop = tmpDir('rehearsal-loop-');
    fs.mkdirSync(path.join(loop, '.autoloop')); // a session in a loop: the server starts its zygote at once
    const c = new McpClient(path.join(dist(), 'mcp.mjs'), { cwd: loop, env: { ...process.env, TMPDIR: tmp } });
    await c.initialize();
    await waitFor(() => leftovers(tmp).length > 0);
    expect(await c.close()).toBe(0);
    await waitFor(() => leftovers(tmp).length === 0);

    const killed = zygote(tmp);
    await waitFor(() => leftovers(tmp).length > 0);
    killed.child.kill('SIGKILL');
    await killed.exited;
    const left = leftovers(tmp);
    expect(left).toHaveLength(1);
    const next = zygote(tmp);
    expect((await next.ready).rehearsed).toBe(REHEARSAL_STEPS);
    expect(leftovers(tmp)).toEqual([]);
    next.child.disconnect();
    expect(await next.exited).toBe(0);
  });

  it('is not made when the server\'s environment turns it off', async () => {
    const tmp = tmpDir('rehearsal-tmp-');
    const z = zygote(tmp, { AUTOLOOP_REHEARSAL: '0' });
    expect(await z.ready).toEqual({ ready: true, rehearsed: 0 });
    z.child.disconnect();
    expect(await z.exited).toBe(0);
  });

  it("keeps templates from a server's first rehearsal: its later zygotes start from a copy and rehearse one call, of the form told (a keep, a run to log, or a log)", async () => {
    const tmp = tmpDir('rehearsal-tmp-');
    const trace = path.join(tmpDir('rehearsal-trace-'), 'events');
    const first = zygote(tmp);
    expect(await first.ready).toEqual({ ready: true, rehearsed: REHEARSAL_STEPS });
    first.child.disconnect();
    await first.exited;
    const kept = templatesIn(tmp);
    expect(kept.map((f) => f.replace(/-[0-9a-f]{16}-/, '-<build>-'))).toEqual([`${TEMPLATE_PREFIX}${process.pid}-<build>-base`, `${TEMPLATE_PREFIX}${process.pid}-<build>-pending`]);

    for (const [args, form] of [[[], 'keep'], [['--next', 'run'], 'run']] as const) {
      fs.rmSync(trace, { force: true });
      const z = zygote(tmp, { AUTOLOOP_REHEARSAL_TRACE: trace }, [...args]);
      expect(await z.ready).toEqual({ ready: true, rehearsed: TEMPLATE_STEPS });
      expect(events(trace)).toEqual(['step template-base', `step ${form}`]);
      z.child.disconnect();
      await z.exited;
    }

    // The two-call form: the run by the CLI, its log by a zygote that rehearsed a log alone.
    fs.rmSync(trace);
    const repo = baselineRepo('100');
    setValue(repo, '90');
    expect(engine('run-experiment', [], repo).code).toBe(0);
    const log = zygote(tmp, { AUTOLOOP_REHEARSAL_TRACE: trace }, ['--next', 'log']);
    expect(await log.ready).toEqual({ ready: true, rehearsed: TEMPLATE_STEPS });
    call(log, repo, ['--description', 'lower'], {}, 'log-experiment');
    const r = await log.ended;
    expect(r.stderr).toBe('\u0000autoloop-exit 0\n');
    expect(events(trace)).toEqual(['step template-pending', 'step log', 'call', 'start']);
    expect(results(repo).map((l) => [l.verdict, l.description])).toEqual([['keep', 'baseline'], ['keep', 'lower']]);
    expect(leftovers(tmp)).toEqual([]);
    expect(templatesIn(tmp)).toEqual(kept);
  });

  it('copies no template another user could have written (open to all, or a link): it rehearses from nothing instead', async () => {
    const tmp = tmpDir('rehearsal-tmp-');
    const trace = path.join(tmpDir('rehearsal-trace-'), 'events');
    const first = zygote(tmp);
    await first.ready;
    first.child.disconnect();
    await first.exited;
    const [base, pending] = templatesIn(tmp).map((f) => path.join(tmp, f));
    fs.chmodSync(base!, 0o777);
    fs.renameSync(pending!, `${pending}-real`);
    fs.symlinkSync(`${pending}-real`, pending!);
    for (const args of [[], ['--next', 'log']]) {
      fs.rmSync(trace, { force: true });
      const z = zygote(tmp, { AUTOLOOP_REHEARSAL_TRACE: trace }, args);
      expect(await z.ready).toEqual({ ready: true, rehearsed: REHEARSAL_STEPS });
      expect(events(trace)[0]).toBe('step repository');
      z.child.disconnect();
      await z.exited;
    }
  });

  it("the server asks for the log's rehearsal after a run to be logged and for a run's after a log, and removes its templates as it closes", async () => {
    const tmp = tmpDir('rehearsal-tmp-');
    const trace = path.join(tmpDir('rehearsal-trace-'), 'events');
    const repo = baselineRepo('100');
    const c = new McpClient(path.join(dist(), 'mcp.mjs'), { cwd: repo, env: { ...process.env, TMPDIR: tmp, AUTOLOOP_REHEARSAL_TRACE: trace } });
    await c.initialize();
    // The first zygote rehearses from nothing and keeps the templates; the call after it.
    await waitFor(() => events(trace).includes('step log') && templatesIn(tmp).length === 2);
    await waitFor(() => fs.readFileSync(trace, 'utf8').endsWith('done log\n'));
    setValue(repo, '90');
    expect((await c.call('run', [])).isError).toBe(false);
    // The next zygote's rehearsal over (two steps done after the run's start), the log comes.
    const doneAfterRun = () => fs.readFileSync(trace, 'utf8').split('\nstart\n')[1]?.split('\n').filter((l) => l.startsWith('done ')).length ?? 0;
    await waitFor(() => doneAfterRun() >= 2);
    expect((await c.call('log', ['--description', 'lower'])).isError).toBe(false);
    const ev = events(trace);
    const at = ev.indexOf('start') + 1;
    expect(ev.slice(at, at + 4)).toEqual(['step template-pending', 'step log', 'call', 'start']);
    expect(results(repo).map((l) => l.verdict)).toEqual(['keep', 'keep']);
    // After the log, the two-call form's next run.
    await waitFor(() => events(trace).slice(at + 4).length >= 2);
    expect(events(trace).slice(at + 4, at + 6)).toEqual(['step template-base', 'step run']);
    expect(await c.close()).toBe(0);
    expect(templatesIn(tmp)).toEqual([]);
  });
});
