// The overnight supervisor (dist/up.mjs) with the real pinned CLI and the
// scripted API: API failures the CLI gives up on, a SIGKILL between run and
// log, Ctrl+C, and `control stop`. No permission flag is passed through up:
// the plugin's hooks approve the loop's own steps, and every session's
// permission_denials must stay empty.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, ensureClaude } from './claude-cli.ts';
import { descendants } from '../../scripts/lib/supervisor/child.ts';
import { copyFixture, enginePluginRoot, makeFixture, type Fixture } from './fixture.ts';
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
  textOf,
  tool,
  type ApiRequest,
  type Block,
  type Fault,
  type FaultPlan,
  type MockApi,
} from './mock-api.ts';
import { readLedger } from '../../scripts/lib/ledger.ts';
import { recordRelaunch } from '../../scripts/lib/supervisor/engine.ts';
import { sessionFile } from '../../scripts/lib/supervisor/left-session.ts';
import { randomUUID } from 'node:crypto';
import { pidAlive } from '../../scripts/lib/procs.ts';

const PROMPT = 'continue the autoloop experiment';
/** What loopModel's runaway model calls after termination. */
const RUNAWAY = 'cat .autoloop/active.json';
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

// The shell benchmark, one sample a run and no checks: what these tests prove is the supervisor's
// (relaunches, waits, signals), and each Node start per sample or check cost every iteration
// ~0.2 s of CPU. The sessions of sessions-engine and unattended run the Node benchmark with checks.
// The experiment after its baseline is built once per file and budget (three engine calls, ~0.8 s
// of CPU), and each test gets a copy of its repository with a fresh HOME (copyFixture).
const templates = new Map<string, Fixture>();
afterAll(() => {
  for (const t of templates.values()) t.cleanup();
});
function setUp(maxRuns: number, maxBlocks?: number): Fixture {
  const key = `${maxRuns}/${maxBlocks ?? ''}`;
  let t = templates.get(key);
  if (t === undefined) {
    t = makeFixture({ shellBench: true });
    templates.set(key, t);
    engine(t, 'init-experiment.mjs', '--name', 'speed', '--metric', 'time_ms', '--direction', 'lower', '--command', 'sh bench/bench.sh', '--scope', 'src/**', '--max-runs', String(maxRuns), '--repeats', '1');
    if (maxBlocks !== undefined) {
      const config = path.join(t.repo, '.autoloop', 'experiments', 'speed', 'config.yaml');
      fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace(/max_blocks: \d+/, `max_blocks: ${maxBlocks}`));
    }
    engine(t, 'run-experiment.mjs');
    engine(t, 'log-experiment.mjs', '--description', 'baseline');
  }
  const f = copyFixture(t.repo);
  fixtures.push(f);
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
/** Every text of a request (messages and tool results), to tell the user's conversation from the loop's. */
const textOfAll = (req: ApiRequest): string => req.messages.map((m) => textOf(m.content)).join('\n');

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

/** The closing skill's prompt reached the model (up's closing session). */
const closingAsked = (req: ApiRequest): boolean => /\/autoloop:chain/.test(sinceLastAssistant(req)) && /Close a terminated autoloop experiment|# \/autoloop:chain/.test(sinceLastAssistant(req));

/**
 * Iterations of edit → run → log, each lowering COST by one, until the engine
 * says should_terminate; then the session ends without closing the experiment
 * (as a session cut short would). Asked to close it (/autoloop:chain), it
 * finalizes and clears, unless `closes` is false. The next step comes from the
 * conversation (so a resumed session picks up where the last one stopped) or,
 * at the start of a session, from the state the SessionStart hook injected.
 */
function loopModel(f: Fixture, opts: { closes?: boolean; runaway?: boolean } = {}): (req: ApiRequest) => Block[] {
  const workFile = path.join(f.repo, 'src', 'work.mjs');
  const log = (n: number) => [bash(node('log-experiment.mjs', `--description "cost ${50 - n}" --hypothesis h --json`), 'log')];
  let closing = false;
  return (req) => {
    const all = calls(req);
    const last = all[all.length - 1];
    const logs = all.filter((c) => isEngine(c, 'log-experiment.mjs')).length;
    const sessionStart = sinceLastAssistant(req).includes(PROMPT);
    if (closingAsked(req)) closing = true;
    if (closing) {
      if (opts.closes === false) return [text('Not closing it.')];
      if (!all.some((c) => isEngine(c, 'finalize.mjs'))) return [bash(node('finalize.mjs', '--json'), 'finalize')];
      if (!all.some((c) => isEngine(c, 'control.mjs'))) return [bash(node('control.mjs', 'clear --json'), 'clear')];
      return [text('Closed.')];
    }
    if (sessionStart && /measured but not logged/i.test(sinceLastAssistant(req))) return log(logs + 1);
    const over = all.findIndex((c) => isEngine(c, 'log-experiment.mjs') && jsonOf(c.result)?.should_terminate === true);
    // A model that misses the stop signal: it goes on calling until the hooks halt it. It re-reads the
    // loop's state with cat: every Bash call counts towards the cap (PreToolUse), and cat starts no
    // Node (a status.mjs call cost ~0.25 s of CPU, over 30 of them). Not Read: the hooks' shell lets a
    // Read of a project file through without Node, so Reads are never counted.
    if (opts.runaway && over >= 0) return /so it is halted/.test(last?.result ?? '') ? [text('Halted.')] : [bash(RUNAWAY, 'the loop state')];
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
/** Terminated by the engine, then closed by up's closing session (finalized on a branch, cleared). */
function closedAfterTermination(f: Fixture, kept = true): void {
  expect(ledger(f).lines.some((l) => l.type === 'event' && l.event === 'terminated')).toBe(true);
  expect(fs.existsSync(path.join(f.repo, '.autoloop', 'active.json'))).toBe(false);
  if (kept) expect(execFileSync('git', ['branch', '--list', 'autoloop/speed-final'], { cwd: f.repo, encoding: 'utf8' })).toContain('autoloop/speed-final');
}

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
    expect(summary.relaunches.map((r) => r.cause)).toEqual(['rate_limit', 'overloaded', 'api_error', 'connection', 'unclosed']);
    expect(summary.sessions).toBe(6);
    expect(api.faulted).toHaveLength(12);
    expect(refusals(api)).toEqual([]);

    // No gap: every run from the baseline on is in the ledger, in order, and nothing was torn.
    expect(ledger(f).warnings).toEqual([]);
    expect(results(f).map((r) => r.run_id)).toEqual(['r0001', 'r0002', 'r0003', 'r0004', 'r0005']);
    expect(results(f).map((r) => r.verdict)).toEqual(['keep', 'keep', 'keep', 'keep', 'keep']);
    expect(relaunches(f).map((e) => e.data.cause)).toEqual(['rate_limit', 'overloaded', 'api_error', 'connection', 'unclosed']);
    closedAfterTermination(f);
    // No human turn: each session began with the supervisor's prompt, and nothing else was typed.
    const starts = api.main().filter((r) => sinceLastAssistant(r).includes(PROMPT));
    expect(starts).toHaveLength(5);
    expect(end.stderr).toMatch(/relaunching in .*rate-limited by the API \(429\)/);
    expect(end.stderr).toMatch(/the API answered 529/);

    // status and the dashboard show the relaunches.
    const status = execFileSync('node', [dist('status.mjs'), '--experiment', 'speed'], { cwd: f.repo, encoding: 'utf8' });
    expect(status).toMatch(/relaunched 5× by up; last at \d\d:\d\d UTC after a termination left unclosed/);
    expect(engine(f, 'status.mjs', '--experiment', 'speed').relaunches).toMatchObject({ count: 5, cause: 'unclosed' });
    const dash = execFileSync('node', [dist('dashboard.mjs'), '--experiment', 'speed', '--width', '100'], { cwd: f.repo, encoding: 'utf8' });
    expect(dash).toContain('relaunched 5× by up');
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
    closedAfterTermination(f);
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
    expect(relaunches(f).map((e) => e.data.cause)).toEqual(['killed', 'unclosed']);
    expect(refusals(api)).toEqual([]);

    // The run measured before the kill was logged by the next session, before it measured anything.
    expect(results(f).map((r) => [r.run_id, r.description])).toEqual([
      ['r0001', 'baseline'],
      ['r0002', 'cost 49'],
      ['r0003', 'cost 48'],
    ]);
    const second = api.main().findIndex((r) => sinceLastAssistant(r).includes(PROMPT) && calls(r).length > 0);
    // The loop's conversation (the closing session after it is a new one).
    const lastOfLoop = api.main().filter((r) => calls(r).some((c) => isEngine(c, 'run-experiment.mjs'))).at(-1)!;
    const engineCalls = calls(lastOfLoop).filter((c) => isEngine(c, 'run-experiment.mjs') || isEngine(c, 'log-experiment.mjs'));
    expect(second).toBeGreaterThan(0);
    // run (killed before logging) → log of that run → edit, run, log.
    expect(engineCalls.map((c) => (isEngine(c, 'run-experiment.mjs') ? 'run' : 'log'))).toEqual(['run', 'log', 'run', 'log']);
    expect(jsonOf(engineCalls[1]!.result)).toMatchObject({ run_id: 'r0002' });
    closedAfterTermination(f);
    expect(pidAlive(killed!)).toBe(false);
  });

  it('a model that ends its turn after every iteration: each relaunch of its conversation is a new stint for the Stop hook, not one turn per relaunch once max_blocks is spent', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(6, 1);
    const model = loopModel(f);
    const CONTINUED = 'the experiment loop is still active';
    const api = await startMockApi({
      script: ({ req }) => {
        const last = calls(req).at(-1);
        const since = sinceLastAssistant(req);
        const justLogged = isEngine(last, 'log-experiment.mjs') && jsonOf(last!.result)?.should_terminate !== true && !since.includes(CONTINUED) && !since.includes(PROMPT);
        return justLogged ? [text('One iteration done.')] : model(req);
      },
    });
    apis.push(api);
    const up = startUp(f, api, ['--backoff', '0.5', '--backoff-max', '1']);
    const end = await up.done;
    if (api.errors.length) throw api.errors[0]!;
    expect(end.code, end.stderr).toBe(0);
    expect(results(f).map((r) => r.run_id)).toEqual(['r0001', 'r0002', 'r0003', 'r0004', 'r0005', 'r0006']);
    // Session 1: two iterations (one continuation); session 2, resumed: two again; session 3: the last.
    const continued = api.main().filter((r) => sinceLastAssistant(r).includes(CONTINUED));
    expect(continued).toHaveLength(2);
    expect(relaunches(f).map((e) => e.data.session_id === undefined)).toEqual([false, false, true]); // two resumes, then the closing session
    expect(refusals(api)).toEqual([]);
    closedAfterTermination(f);
  });

  it("another claude session in the repository meanwhile: the relaunch resumes the loop's own conversation by its id, not the latest one", { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(3);
    const model = loopModel(f);
    const QUESTION = 'USER-QUESTION: what is in this repository?';
    let up: Up | null = null;
    let owner: string | null = null;
    let userSession: string | null = null;
    const api = await startMockApi({
      script: async ({ req }) => {
        if (textOfAll(req).includes(QUESTION)) return [text('A small benchmark fixture.')];
        const last = calls(req).at(-1);
        if (owner === null && isEngine(last, 'run-experiment.mjs')) {
          owner = (JSON.parse(fs.readFileSync(path.join(f.repo, '.autoloop', 'session.json'), 'utf8')) as { owner_session: string }).owner_session;
          // The user asks claude something in the same repository, to the end; then the loop's claude dies.
          // (Async: this process is the API that session talks to.)
          const { stdout } = await promisify(execFile)(claude, ['-p', QUESTION, '--output-format', 'json'], { cwd: f.repo, env: cliEnv(f.home, api.url), encoding: 'utf8', timeout: 900_000 });
          userSession = (JSON.parse(stdout) as { session_id: string }).session_id;
          const pid = up!.claudePid()!;
          process.kill(pid, 'SIGKILL');
          await untilGone(pid);
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
    expect(owner).toMatch(/^[0-9a-f-]{36}$/);
    expect(userSession).not.toBe(owner);
    // Every relaunch resumed the loop's conversation: the id the hooks know as the loop's owner.
    expect(end.stderr).toContain(`session 2: started claude (pid `);
    expect(end.stderr).toMatch(new RegExp(`session 2: started claude \\(pid \\d+\\) resuming conversation ${owner}`));
    // (The closing session is a new conversation: the engine's report is all it needs.)
    expect(relaunches(f).map((e) => [e.data.cause, e.data.session_id])).toEqual([['killed', owner], ['unclosed', undefined]]);
    // The loop's sessions never saw the user's conversation; the relaunch saw the loop's own calls.
    const loopRequests = api.main().filter((r) => !textOfAll(r).includes(QUESTION));
    expect(api.main().filter((r) => textOfAll(r).includes(QUESTION)).every((r) => !textOfAll(r).includes(PROMPT))).toBe(true);
    const relaunched = loopRequests.find((r) => calls(r).some((c) => isEngine(c, 'run-experiment.mjs')) && sinceLastAssistant(r).includes(PROMPT));
    expect(relaunched, 'the relaunch did not resume the loop').toBeDefined();
    expect(results(f).map((r) => [r.run_id, r.description])).toEqual([['r0001', 'baseline'], ['r0002', 'cost 49'], ['r0003', 'cost 48']]);
    expect(refusals(api)).toEqual([]);
    closedAfterTermination(f);
  });

  it('an up that died: the next one resumes its conversation as a relaunch (counted, recorded); an id with no conversation falls back to a new one', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(2);
    const model = loopModel(f);
    const api = await startMockApi({ script: ({ req }) => model(req) });
    apis.push(api);
    // Two relaunches by the earlier up, this hour; it died leaving its file, with a conversation the CLI does not have.
    for (const cause of ['crash', 'crash']) await recordRelaunch(f.repo, 'speed', { cause, wait_s: 1, session: 2 });
    const gone = randomUUID();
    fs.writeFileSync(sessionFile(f.repo), JSON.stringify({ pid: 2 ** 22 + 1, start: '1', session_id: gone }));
    const up = startUp(f, api, ['--backoff', '0.5', '--max-per-hour', '5']);
    const end = await up.done;
    if (api.errors.length) throw api.errors[0]!;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toMatch(new RegExp(`session 1: started claude \\(pid \\d+\\) resuming conversation ${gone}`));
    expect(end.stderr).toContain(`No conversation found with session ID: ${gone}`);
    expect(end.stderr).toMatch(/session 2: started claude \(pid \d+\) on experiment speed/);
    const ev = relaunches(f).map((e) => e.data);
    expect(ev.map((d) => d.cause)).toEqual(['crash', 'crash', 'restart', 'resume_failed', 'unclosed']);
    expect(ev[2]!.session_id).toBe(gone);
    expect(ev[3]!.session_id).toBeUndefined(); // a new conversation
    expect(ev[4]!.session_id).toBeUndefined(); // closing: a new conversation too
    expect(results(f).map((r) => r.run_id)).toEqual(['r0001', 'r0002']);
    closedAfterTermination(f);
    expect(fs.existsSync(sessionFile(f.repo))).toBe(false); // stopped cleanly
  });

  it('the hourly cap counts the relaunches already in the ledger (a restarted up does not start from zero)', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(10);
    for (const cause of ['crash', 'crash']) await recordRelaunch(f.repo, 'speed', { cause, wait_s: 1, session: 2 });
    const api = await startMockApi({ script: () => [text('unused')], faults: () => serverError() });
    apis.push(api);
    const up = startUp(f, api, ['--backoff', '0.5', '--max-per-hour', '2'], { CLAUDE_CODE_MAX_RETRIES: '0' });
    const m = await up.waitFor(/relaunching in (\d+) min .*\(at most 2 relaunches an hour\)/);
    expect(Number(m[1])).toBeGreaterThanOrEqual(50);
    up.child.kill('SIGINT');
    expect((await up.done).code).toBe(130);
    expect(relaunches(f)).toHaveLength(2);
  });

  it('a closing session that does not close the experiment: up stops after it with exit 1 and says so, never looping', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(2);
    const model = loopModel(f, { closes: false });
    const api = await startMockApi({ script: ({ req }) => model(req) });
    apis.push(api);
    const up = startUp(f, api, ['--backoff', '0.5']);
    const end = await up.done;
    if (api.errors.length) throw api.errors[0]!;
    expect(end.code, end.stderr).toBe(1);
    expect(end.stderr).toMatch(/the experiment is not closed; starting a session to close it \(\/autoloop:chain, 1 of at most 2\)/);
    expect(end.stderr).toMatch(/giving up: experiment speed terminated: .*still not closed after 1 closing session: run \/autoloop:chain/);
    expect((JSON.parse(end.stdout) as { sessions: number }).sessions).toBe(2);
    expect(relaunches(f).map((e) => e.data.cause)).toEqual(['unclosed']);
    // The closing session got the closing skill, with no permission prompt.
    expect(api.main().some(closingAsked)).toBe(true);
    expect(refusals(api)).toEqual([]);
    expect(activeLoop(f)).toBe('terminated');
  });

  it("a loop session halted past its termination: the closing session is a new conversation, which the hooks let close it", { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(2);
    const model = loopModel(f, { runaway: true });
    const api = await startMockApi({ script: ({ req }) => model(req) });
    apis.push(api);
    const end = await startUp(f, api, ['--backoff', '0.5']).done;
    if (api.errors.length) throw api.errors[0]!;
    expect(end.code, end.stderr).toBe(0);
    // The loop's conversation was halted by the hooks' cap on calls after termination…
    // (the halt ends the session: continue false, so the model never reads it).
    const pastEnd = Math.max(...api.main().map((r) => calls(r).filter((c) => c.name === 'Bash' && c.input.command === RUNAWAY).length));
    expect(pastEnd).toBeGreaterThanOrEqual(30);
    // …so resuming it could not close anything: the closing session started a conversation of its own.
    expect(end.stderr).toMatch(/session 2: started claude \(pid \d+\) on experiment speed/);
    expect(relaunches(f).map((e) => [e.data.cause, e.data.session_id])).toEqual([['unclosed', undefined]]);
    closedAfterTermination(f);
  });

  it('up on a loop that terminated unclosed: one closing session, then done', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(1); // the baseline uses the whole budget
    expect(activeLoop(f)).toBe('terminated');
    const model = loopModel(f);
    const api = await startMockApi({ script: ({ req }) => model(req) });
    apis.push(api);
    const end = await startUp(f, api, ['--backoff', '0.5']).done;
    if (api.errors.length) throw api.errors[0]!;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toMatch(/done: experiment speed terminated: .*; the experiment was closed/);
    expect((JSON.parse(end.stdout) as { sessions: number }).sessions).toBe(1);
    expect(refusals(api)).toEqual([]);
    closedAfterTermination(f, false); // nothing kept: finalize makes no branch
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

  it('control stop during a wait stops the supervisor for good, and the ledger claims no relaunch that never happened', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(10);
    const api = await startMockApi({ script: () => [text('unused')], faults: () => serverError() });
    apis.push(api);
    const up = startUp(f, api, ['--backoff', '600'], { CLAUDE_CODE_MAX_RETRIES: '0' });
    await up.waitFor(/relaunching in 10 min/);
    engine(f, 'control.mjs', 'stop');
    const end = await up.done;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stderr).toMatch(/done: experiment speed was stopped by the user/);
    expect((JSON.parse(end.stdout) as { sessions: number; relaunches: unknown[] }).sessions).toBe(1);
    expect((JSON.parse(end.stdout) as { relaunches: unknown[] }).relaunches).toEqual([]);
    // A relaunch is recorded when its session starts: the wait that was cut short is none.
    expect(relaunches(f)).toEqual([]);
    const events = ledger(f).lines.flatMap((l) => (l.type === 'event' ? [l.event] : []));
    expect(events.at(-1)).toBe('stop');
    expect(execFileSync('node', [dist('status.mjs')], { cwd: f.repo, encoding: 'utf8' })).not.toMatch(/relaunched/);
  });

  it('Ctrl+C during a wait: no relaunch in the ledger either', { timeout: SESSION_TIMEOUT }, async () => {
    const f = setUp(10);
    const api = await startMockApi({ script: () => [text('unused')], faults: () => serverError() });
    apis.push(api);
    const up = startUp(f, api, ['--backoff', '600'], { CLAUDE_CODE_MAX_RETRIES: '0' });
    await up.waitFor(/relaunching in 10 min/);
    up.child.kill('SIGINT');
    const end = await up.done;
    expect(end.code, end.stderr).toBe(130);
    expect(relaunches(f)).toEqual([]);
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
