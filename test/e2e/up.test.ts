// The overnight supervisor (dist/up.mjs) with the real pinned CLI and the
// scripted API: API failures the CLI gives up on, a SIGKILL between run and
// log, Ctrl+C, and `control stop`. No permission flag is passed through up:
// the plugin's hooks approve the loop's own steps, and every session's
// permission_denials must stay empty.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, ensureClaude } from './claude-cli.ts';
import { descendants } from '../../scripts/lib/supervisor/child.ts';
import { enginePluginRoot, makeFixture, type Fixture } from './fixture.ts';
import {
  allToolResults,
  bash,
  dropped,
  overloaded,
  rateLimited,
  serverError,
  sinceLastAssistant,
  startMockApi,
  text,
  tool,
  type ApiRequest,
  type Block,
  type Fault,
  type FaultPlan,
  type MockApi,
} from './mock-api.ts';
import { readLedger } from '../../scripts/lib/ledger.ts';
import { pidAlive } from '../../scripts/lib/procs.ts';

const PROMPT = 'continue the autoloop experiment';
const SESSION_TIMEOUT = 600_000;

let claude: string;
const plugin = enginePluginRoot();
const fixtures: Fixture[] = [];
const apis: MockApi[] = [];
const ups: ChildProcess[] = [];

beforeAll(() => {
  claude = ensureClaude();
  if (plugin === null) throw new Error('no engine bundles: run npm run build');
}, 900_000);

afterEach(async () => {
  for (const c of ups.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const a of apis.splice(0)) await a.close();
  for (const f of fixtures.splice(0)) f.cleanup();
});
afterAll(() => plugin?.cleanup());

const root = (): string => plugin!.root;
const dist = (script: string): string => path.join(root(), 'dist', script);
const node = (script: string, args = ''): string => `node "${dist(script)}"${args ? ` ${args}` : ''}`;

function engine(f: Fixture, script: string, ...args: string[]): Record<string, unknown> {
  return JSON.parse(execFileSync('node', [dist(script), ...args, '--json'], { cwd: f.repo, encoding: 'utf8', timeout: 120_000 })) as Record<string, unknown>;
}

function setUp(maxRuns: number): Fixture {
  const f = makeFixture();
  fixtures.push(f);
  engine(f, 'init-experiment.mjs', '--name', 'speed', '--metric', 'time_ms', '--direction', 'lower', '--command', 'node bench/bench.mjs', '--checks', 'node bench/check.mjs', '--scope', 'src/**', '--max-runs', String(maxRuns));
  engine(f, 'run-experiment.mjs');
  engine(f, 'log-experiment.mjs', '--description', 'baseline');
  return f;
}

// ---------- a scripted model that follows the protocol from what it sees ----------

interface Call {
  name: string;
  input: Record<string, unknown>;
  result: string | null;
}

/** The model's tool calls so far in this conversation, with their results. */
function calls(req: ApiRequest): Call[] {
  const out: Call[] = [];
  const results = new Map<string, string>();
  for (const m of req.messages) {
    if (typeof m.content === 'string') continue;
    for (const b of m.content) {
      if (b.type === 'tool_result') results.set(b.tool_use_id ?? '', typeof b.content === 'string' ? b.content : (b.content ?? []).map((c) => c.text ?? '').join('\n'));
    }
  }
  for (const m of req.messages) {
    if (m.role !== 'assistant' || typeof m.content === 'string') continue;
    for (const b of m.content) if (b.type === 'tool_use') out.push({ name: b.name ?? '', input: (b.input ?? {}) as Record<string, unknown>, result: results.get(b.id ?? '') ?? null });
  }
  return out;
}

/** Tool calls the CLI refused for want of a permission (the hooks should have approved them all). */
const refusals = (api: MockApi): string[] =>
  [...new Set(api.main().flatMap((r) => allToolResults(r)).filter((t) => t.is_error && /requested permissions|haven't granted|requires approval/i.test(t.text)).map((t) => t.text))];

const isEngine = (c: Call | undefined, script: string): boolean => c?.name === 'Bash' && String(c.input.command ?? '').includes(`dist/${script}`);
const jsonOf = (s: string | null): Record<string, unknown> | null => {
  if (!s || !s.includes('{')) return null;
  try {
    return JSON.parse(s.slice(s.indexOf('{'))) as Record<string, unknown>;
  } catch {
    return null;
  }
};

/**
 * Iterations of edit → run → log, each lowering COST by one, until the engine
 * says should_terminate. The next step comes from the conversation (so a
 * --continue session picks up where the last one stopped) or, at the start of
 * a session, from the state the SessionStart hook injected.
 */
function loopModel(f: Fixture): (req: ApiRequest) => Block[] {
  const workFile = path.join(f.repo, 'src', 'work.mjs');
  const log = (n: number) => [bash(node('log-experiment.mjs', `--description "cost ${50 - n}" --hypothesis h --json`), 'log')];
  return (req) => {
    const all = calls(req);
    const last = all[all.length - 1];
    const logs = all.filter((c) => isEngine(c, 'log-experiment.mjs')).length;
    const sessionStart = sinceLastAssistant(req).includes(PROMPT);
    if (sessionStart && /measured but not logged/i.test(sinceLastAssistant(req))) return log(logs + 1);
    if (isEngine(last, 'log-experiment.mjs') && jsonOf(last!.result)?.should_terminate === true) return [text('The experiment is over.')];
    if (isEngine(last, 'run-experiment.mjs')) {
      if (/measured but not logged/.test(last!.result ?? '')) return log(logs);
      return log(logs + 1);
    }
    if (last?.name === 'Edit') return [bash(node('run-experiment.mjs', '--json'), 'measure')];
    const cost = 50 - (logs + 1);
    const current = fs.readFileSync(workFile, 'utf8').match(/COST = (\d+);/)![1];
    return [tool('Edit', { file_path: workFile, old_string: `export const COST = ${current};`, new_string: `export const COST = ${cost};`, replace_all: false })];
  };
}

/** Fail `times` main requests in a row once the script has answered `after` of them. */
function bursts(plan: { after: number; times: number; fault: () => Fault }[]): FaultPlan {
  const used = plan.map(() => 0);
  let faulted = 0;
  return (_req, n) => {
    const answered = n - faulted;
    const i = plan.findIndex((p, k) => p.after === answered && used[k]! < p.times);
    if (i < 0) return null;
    used[i]!++;
    faulted++;
    return plan[i]!.fault();
  };
}

// ---------- running the supervisor ----------

interface Up {
  child: ChildProcess;
  stderr: () => string;
  done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
  /** Resolves with the first stderr match (polling; the test's own timeout bounds it). */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  /** Pid of the claude process most recently started. */
  claudePid(): number | null;
}

/** `cliArgs`: the user's own claude flags, passed through up (none by default: the hooks approve the loop). */
function startUp(f: Fixture, api: MockApi, upArgs: string[], env: Record<string, string> = {}, cliArgs: string[] = []): Up {
  const args = [dist('up.mjs'), '--cwd', f.repo, '--json', ...upArgs, '--', '--plugin-dir', root(), ...cliArgs];
  const child = spawn('node', args, { cwd: f.repo, env: cliEnv(f.home, api.url, { AUTOLOOP_CLAUDE: claude, ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
  ups.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })),
  );
  return {
    child,
    stderr: () => err,
    done,
    async waitFor(re) {
      for (;;) {
        const m = err.match(re);
        if (m) return m;
        if (child.exitCode !== null) throw new Error(`up exited before ${re}:\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    claudePid() {
      const all = [...err.matchAll(/started claude \(pid (\d+)\)/g)];
      return all.length ? Number(all[all.length - 1]![1]) : null;
    },
  };
}

async function untilGone(pid: number): Promise<void> {
  while (pidAlive(pid)) await new Promise((r) => setTimeout(r, 50));
}

function ledger(f: Fixture) {
  return readLedger(path.join(f.repo, '.autoloop', 'experiments', 'speed', 'ledger.jsonl'));
}
const results = (f: Fixture) => ledger(f).lines.flatMap((l) => (l.type === 'result' ? [l] : []));
const relaunches = (f: Fixture) => ledger(f).lines.flatMap((l) => (l.type === 'event' && l.event === 'relaunch' ? [l] : []));
const activeLoop = (f: Fixture): string => (JSON.parse(fs.readFileSync(path.join(f.repo, '.autoloop', 'active.json'), 'utf8')) as { loop: string }).loop;

/** Processes whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        return fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').split('\0').join(' ').includes(marker) && pidAlive(Number(n));
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('up: the overnight supervisor', () => {
  it('brings the loop through 429, 529, 500 and a dropped connection to its budget, with no human turn and no gap in the ledger', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(5);
    const model = loopModel(f);
    const api = await startMockApi({
      script: ({ req }) => model(req),
      // CLAUDE_CODE_MAX_RETRIES=2: three failures in a row make claude give up.
      faults: bursts([
        { after: 1, times: 3, fault: () => rateLimited(1) },
        { after: 4, times: 3, fault: overloaded },
        { after: 6, times: 3, fault: serverError },
        { after: 9, times: 3, fault: dropped },
      ]),
    });
    apis.push(api);
    const up = startUp(f, api, ['--backoff', '0.5', '--backoff-max', '2'], { CLAUDE_CODE_MAX_RETRIES: '2' });
    const end = await up.done;
    if (api.errors.length) throw api.errors[0]!;
    expect(end.code, end.stderr).toBe(0);
    const summary = JSON.parse(end.stdout) as { why: string; sessions: number; relaunches: { cause: string }[] };
    expect(summary.why).toMatch(/terminated/);
    expect(summary.relaunches.map((r) => r.cause)).toEqual(['rate_limit', 'overloaded', 'api_error', 'connection']);
    expect(summary.sessions).toBe(5);
    expect(api.faulted).toHaveLength(12);
    expect(refusals(api)).toEqual([]);

    // No gap: every run from the baseline on is in the ledger, in order, and nothing was torn.
    expect(ledger(f).warnings).toEqual([]);
    expect(results(f).map((r) => r.run_id)).toEqual(['r0001', 'r0002', 'r0003', 'r0004', 'r0005']);
    expect(results(f).map((r) => r.verdict)).toEqual(['keep', 'keep', 'keep', 'keep', 'keep']);
    expect(relaunches(f).map((e) => e.data.cause)).toEqual(['rate_limit', 'overloaded', 'api_error', 'connection']);
    expect(activeLoop(f)).toBe('terminated');
    // No human turn: each session began with the supervisor's prompt, and nothing else was typed.
    const starts = api.main().filter((r) => sinceLastAssistant(r).includes(PROMPT));
    expect(starts).toHaveLength(5);
    expect(end.stderr).toMatch(/relaunching in .*rate-limited by the API \(429\)/);
    expect(end.stderr).toMatch(/the API answered 529/);

    // status and the dashboard show the relaunches.
    const status = execFileSync('node', [dist('status.mjs')], { cwd: f.repo, encoding: 'utf8' });
    expect(status).toMatch(/relaunched 4× by up; last at \d\d:\d\d UTC after a lost connection/);
    expect(engine(f, 'status.mjs').relaunches).toMatchObject({ count: 4, cause: 'connection' });
    const dash = execFileSync('node', [dist('dashboard.mjs'), '--width', '100'], { cwd: f.repo, encoding: 'utf8' });
    expect(dash).toContain('relaunched 4× by up');
  });

  it('a usage limit (subscription login): waits for the reset the CLI reports, plus the margin, then goes on', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(2);
    const model = loopModel(f);
    let resetMs = 0;
    const firstAfterReset: number[] = [];
    const api = await startMockApi({
      script: ({ req }) => {
        if (resetMs && sinceLastAssistant(req).includes(PROMPT)) firstAfterReset.push(Date.now());
        return model(req);
      },
      faults: bursts([
        {
          after: 1,
          times: 1,
          fault: () => {
            resetMs = (Math.floor(Date.now() / 1000) + 4) * 1000;
            return rateLimited(1, {
              'anthropic-ratelimit-unified-status': 'rejected',
              'anthropic-ratelimit-unified-reset': String(resetMs / 1000),
              'anthropic-ratelimit-unified-representative-claim': 'five_hour',
            });
          },
        },
      ]),
    });
    apis.push(api);
    // A subscription login (not an API key) is what makes claude report a usage limit.
    const up = startUp(f, api, ['--backoff', '0.5', '--reset-margin', '1'], { ANTHROPIC_API_KEY: '', CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-test' });
    const end = await up.done;
    if (api.errors.length) throw api.errors[0]!;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toMatch(/session 1 ended: You've hit your 5-hour limit · resets /);
    const [ev] = relaunches(f);
    expect(ev?.data).toMatchObject({ cause: 'usage_limit' });
    expect(ev?.data.wait_s).toBeGreaterThanOrEqual(1);
    expect(ev?.data.wait_s).toBeLessThanOrEqual(5);
    // Never before the reset: the relaunched session's first request came after it.
    expect(firstAfterReset.length).toBeGreaterThan(0);
    expect(firstAfterReset[0]!).toBeGreaterThanOrEqual(resetMs);
    expect(results(f).map((r) => r.run_id)).toEqual(['r0001', 'r0002']);
    expect(activeLoop(f)).toBe('terminated');
  });

  it('claude SIGKILLed between run and log: relaunched, the measured run is logged first, and the loop ends normally', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(3);
    const model = loopModel(f);
    let up: Up | null = null;
    let killed: number | null = null;
    const api = await startMockApi({
      script: async ({ req }) => {
        const last = calls(req).at(-1);
        // The first measured run, about to be logged: kill claude right here.
        if (killed === null && isEngine(last, 'run-experiment.mjs')) {
          killed = up!.claudePid();
          process.kill(killed!, 'SIGKILL');
          await untilGone(killed!);
          return [text('(never delivered)')];
        }
        return model(req);
      },
    });
    apis.push(api);
    up = startUp(f, api, ['--backoff', '0.5', '--backoff-max', '2']);
    const end = await up.done;
    if (api.errors.length) throw api.errors[0]!;
    expect(end.code, end.stderr).toBe(0);
    expect(killed).not.toBeNull();
    expect(end.stderr).toContain('claude was killed (SIGKILL)');
    expect(relaunches(f).map((e) => e.data.cause)).toEqual(['killed']);
    expect(refusals(api)).toEqual([]);

    // The run measured before the kill was logged by the next session, before it measured anything.
    expect(results(f).map((r) => [r.run_id, r.description])).toEqual([
      ['r0001', 'baseline'],
      ['r0002', 'cost 49'],
      ['r0003', 'cost 48'],
    ]);
    const second = api.main().findIndex((r) => sinceLastAssistant(r).includes(PROMPT) && calls(r).length > 0);
    const engineCalls = calls(api.main().at(-1)!).filter((c) => isEngine(c, 'run-experiment.mjs') || isEngine(c, 'log-experiment.mjs'));
    expect(second).toBeGreaterThan(0);
    // run (killed before logging) → log of that run → edit, run, log.
    expect(engineCalls.map((c) => (isEngine(c, 'run-experiment.mjs') ? 'run' : 'log'))).toEqual(['run', 'log', 'run', 'log']);
    expect(jsonOf(engineCalls[1]!.result)).toMatchObject({ run_id: 'r0002' });
    expect(activeLoop(f)).toBe('terminated');
    expect(pidAlive(killed!)).toBe(false);
  });

  it('Ctrl+C ends the supervisor and claude with everything it started, leaving no process behind', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(10);
    const marker = `${3000 + (process.pid % 997)}`;
    const api = await startMockApi({
      // A long diagnostic; one part of it leaves claude's process group.
      script: () => [bash(`setsid sleep ${marker}1 & sleep ${marker}2; wait`, 'a long diagnostic')],
    });
    apis.push(api);
    // Not a loop step (a process in the background), so the hooks leave it to the user, who allows it here.
    const up = startUp(f, api, ['--backoff', '0.5', '--grace', '2'], {}, ['--allowedTools', 'Bash']);
    await up.waitFor(/started claude \(pid \d+\)/);
    const cli = up.claudePid()!;
    while (processesWith(`sleep ${marker}1`).length === 0 || processesWith(`sleep ${marker}2`).length === 0) await new Promise((r) => setTimeout(r, 100));
    const left = [...processesWith(`sleep ${marker}1`), ...processesWith(`sleep ${marker}2`)];
    up.child.kill('SIGINT');
    const end = await up.done;
    expect(end.code, end.stderr).toBe(130);
    expect(end.stderr).toMatch(/SIGINT: stopping claude \(pid \d+\) and everything it started/);
    expect(pidAlive(cli)).toBe(false);
    for (const pid of left) expect(pidAlive(pid), `pid ${pid} survived`).toBe(false);
    expect(processesWith(`sleep ${marker}`)).toEqual([]);
    expect(fs.existsSync(path.join(f.repo, '.autoloop', 'up.lock'))).toBe(false);
  });

  it('a reader of its output that has gone (up 2>&1 | head -n 1) does not make Ctrl+C orphan claude', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(10);
    const marker = `${4000 + (process.pid % 997)}`;
    // (The CLI refuses a lone `sleep N`, or sleeps in a row, by itself.)
    const api = await startMockApi({ script: () => [bash(`setsid sleep ${marker}3 & sleep ${marker}4; wait`, 'a long diagnostic')] });
    apis.push(api);
    // The way people run it: through a pipe to a reader that stops after the first line.
    const args = [dist('up.mjs'), '--cwd', f.repo, '--grace', '2', '--', '--plugin-dir', root(), '--allowedTools', 'Bash'];
    const shell = spawn('sh', ['-c', 'node "$@" 2>&1 | head -n 1', 'sh', ...args], { cwd: f.repo, env: cliEnv(f.home, api.url, { AUTOLOOP_CLAUDE: claude }), stdio: ['ignore', 'pipe', 'inherit'] });
    ups.push(shell);
    let first = '';
    shell.stdout!.on('data', (d: Buffer) => (first += d.toString()));
    const cmdline = (pid: number): string => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    const inPipe = (what: string): number[] => descendants(shell.pid!).map((d) => d.pid).filter((p) => pidAlive(p) && cmdline(p).startsWith(what));
    while (processesWith(`sleep ${marker}3`).length === 0 || processesWith(`sleep ${marker}4`).length === 0) await new Promise((r) => setTimeout(r, 100));
    while (!/started claude/.test(first)) await new Promise((r) => setTimeout(r, 100));
    for (const head of inPipe('head')) await untilGone(head); // the reader has gone
    const cli = Number(/started claude \(pid (\d+)\)/.exec(first)![1]);
    const [upPid] = inPipe('node');
    const left = [...processesWith(`sleep ${marker}3`), ...processesWith(`sleep ${marker}4`)];
    process.kill(upPid!, 'SIGINT'); // its next line meets a pipe with no reader (EPIPE)
    await untilGone(upPid!);
    // up ends only once claude and all it started are gone: nothing left behind.
    expect(pidAlive(cli), 'claude orphaned').toBe(false);
    for (const pid of left) expect(pidAlive(pid), `pid ${pid} survived`).toBe(false);
    expect(fs.existsSync(path.join(f.repo, '.autoloop', 'up.lock'))).toBe(false);
  });

  it('control stop during a wait stops the supervisor for good', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(10);
    const api = await startMockApi({ script: () => [text('unused')], faults: () => serverError() });
    apis.push(api);
    const up = startUp(f, api, ['--backoff', '600'], { CLAUDE_CODE_MAX_RETRIES: '0' });
    await up.waitFor(/relaunching in 10 min/);
    expect(relaunches(f).map((e) => e.data.cause)).toEqual(['api_error']);
    engine(f, 'control.mjs', 'stop');
    const end = await up.done;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toMatch(/done: experiment speed was stopped by the user/);
    expect((JSON.parse(end.stdout) as { sessions: number }).sessions).toBe(1);
    const events = ledger(f).lines.flatMap((l) => (l.type === 'event' ? [l.event] : []));
    expect(events.slice(-2)).toEqual(['relaunch', 'stop']);
  });

  it('refuses to start on a loop that is not live, and a second supervisor on the same repository', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(10);
    const api = await startMockApi({ script: () => [bash('sleep 30', 'wait')] });
    apis.push(api);
    const first = startUp(f, api, ['--backoff', '0.5', '--grace', '1']);
    await first.waitFor(/started claude/);
    const second = startUp(f, api, []);
    const refused = await second.done;
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe('up: a supervisor is already running in this repository (.autoloop/up.lock)');
    first.child.kill('SIGTERM');
    expect((await first.done).code).toBe(143);

    engine(f, 'control.mjs', 'stop');
    const stopped = await startUp(f, api, []).done;
    expect(stopped.code).toBe(1);
    expect(stopped.stderr.trim()).toBe('up: nothing to run: experiment speed was stopped by the user (control.mjs resume, then up again)');
  });
});
