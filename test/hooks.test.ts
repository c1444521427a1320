// The hooks as Claude Code runs them: a payload (shapes from the platform doc
// §4.3) piped into `sh hooks/run.sh <event>` with CLAUDE_PLUGIN_ROOT and
// CLAUDE_PROJECT_DIR set, asserting on stdout JSON, stderr and exit code.
// This exercises the committed bundle dist/hooks.cjs (what users run).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ActiveFile } from '../scripts/lib/schema.ts';
import type { ActiveFile as Active } from '../scripts/lib/schema.ts';
import { procStart } from '../scripts/lib/procs.ts';
import { HookServer } from './hook-server.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUN_SH = path.join(ROOT, 'hooks', 'run.sh');
const SH = '/bin/sh';

type Event = 'session-start' | 'stop' | 'pre-tool-use' | 'post-tool-use' | 'prompt-expansion';

interface HookRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

let project: string;
let scratch: string;

let server: HookServer;

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'hooks.cjs'))) throw new Error('dist/hooks.cjs is missing: run npm run build');
  server = new HookServer();
});
afterAll(() => server.close());

beforeEach(() => {
  scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-hooks-')));
  project = path.join(scratch, 'repo');
  for (const d of ['bench', 'src', '.autoloop/experiments/speed']) fs.mkdirSync(path.join(project, d), { recursive: true });
  fs.writeFileSync(path.join(project, 'bench/bench.mjs'), 'console.log("METRIC time_ms=1")\n');
  fs.writeFileSync(path.join(project, 'src/work.mjs'), 'export const n = 1;\n');
});

afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A valid active.json (checked against the engine's schema, so drift breaks these tests). */
function active(over: Partial<Active> = {}): Active {
  return ActiveFile.parse({
    version: 1,
    experiment: 'speed',
    loop: 'active',
    scope: ['src/**'],
    protect: ['bench/bench.mjs', 'check.sh'],
    writable: ['.autoloop/experiments/speed/program.md', '.autoloop/experiments/speed/ideas.md'],
    summary: 'Experiment speed: lower time_ms is better. Best 41.2 ms (r0003, -18% vs baseline 50.3 ms). 5 runs: 2 keep, 2 discard, 1 crash.',
    next_action: 'Try memoising parse() in src/work.mjs, then run run-experiment and log-experiment.',
    terminated_by: null,
    chain_allowed: false,
    runs: 5,
    stop_hook: { max_blocks: 500, max_idle_blocks: 3 },
    updated_at: '2026-11-21T08:00:00.000Z',
    ...over,
  });
}

function writeActive(over: Partial<Active> = {}): Active {
  const a = active(over);
  fs.mkdirSync(path.join(project, '.autoloop'), { recursive: true });
  fs.writeFileSync(path.join(project, '.autoloop', 'active.json'), JSON.stringify(a, null, 2));
  return a;
}

const sessionFile = (): string => path.join(project, '.autoloop', 'session.json');
/** session.json: these fields over an unowned state. */
const writeSession = (over: Record<string, unknown>): void =>
  fs.writeFileSync(sessionFile(), JSON.stringify({ owner_session: null, owner_agent: null, blocks: 0, idle_blocks: 0, last_runs: null, chain_nudged: null, candidate: null, past_end: null, ...over }));
const readSession = (): Record<string, unknown> => JSON.parse(fs.readFileSync(sessionFile(), 'utf8')) as Record<string, unknown>;

function common(session: string, event: string): Record<string, unknown> {
  return {
    session_id: session,
    transcript_path: path.join(scratch, `.claude/projects/-repo/${session}.jsonl`),
    cwd: project,
    hook_event_name: event,
  };
}

const payloads = {
  sessionStart: (session = 'sess-a', source = 'startup') => ({ ...common(session, 'SessionStart'), source }),
  stop: (session = 'sess-a', stopHookActive = false) => ({
    ...common(session, 'Stop'),
    stop_hook_active: stopHookActive,
    last_assistant_message: 'Done for now.',
    background_tasks: [],
    session_crons: [],
  }),
  tool: (session: string, tool_name: string, tool_input: Record<string, unknown>) => ({
    ...common(session, 'PreToolUse'),
    prompt_id: 'p-1',
    permission_mode: 'default',
    effort: { level: 'medium' },
    tool_name,
    tool_input,
    tool_use_id: 'toolu_01',
  }),
  bash: (command: string, session = 'sess-a') => payloads.tool(session, 'Bash', { command, description: 'run it' }),
  edit: (file_path: string, session = 'sess-a') => payloads.tool(session, 'Edit', { file_path, old_string: 'a', new_string: 'b', replace_all: false }),
  write: (file_path: string, session = 'sess-a') => payloads.tool(session, 'Write', { file_path, content: 'x' }),
  post: (command: string, session = 'sess-a', agent_type?: string) => ({
    ...common(session, 'PostToolUse'),
    ...(agent_type ? { agent_type } : {}),
    tool_name: 'Bash',
    tool_input: { command, description: 'run it' },
    tool_response: { stdout: '{}', stderr: '', interrupted: false },
    tool_use_id: 'toolu_01',
  }),
  expansion: (command_name: string, session = 'sess-a') => ({
    ...common(session, 'UserPromptExpansion'),
    expansion_type: 'slash_command',
    command_name,
    command_args: '',
    prompt: `/${command_name}`,
  }),
};

/** `sh run.sh <event>` as Claude Code runs it (started by test/hook-server.ts: a fresh sh per call). */
function hook(event: Event, input: unknown, env: Record<string, string> = {}): HookRun {
  const r = server.run(RUN_SH, event, typeof input === 'string' ? input : JSON.stringify(input), project, {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: scratch,
    CLAUDE_PLUGIN_ROOT: ROOT,
    CLAUDE_PROJECT_DIR: project,
    ...env,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(r: HookRun): Record<string, unknown> {
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

interface PreOut {
  hookSpecificOutput?: { hookEventName: string; permissionDecision: string; permissionDecisionReason: string };
  continue?: boolean;
  stopReason?: string;
}

/** The PreToolUse answer: 'allow', 'deny: <reason>', or null when it leaves the call to the user's settings. */
function decision(r: HookRun): string | null {
  expect(r.code).toBe(0);
  if (r.stdout.trim() === '') return null;
  const out = JSON.parse(r.stdout) as PreOut;
  expect(out.hookSpecificOutput?.hookEventName).toBe('PreToolUse');
  const d = out.hookSpecificOutput!;
  return d.permissionDecision === 'deny' ? `deny: ${d.permissionDecisionReason}` : d.permissionDecision;
}

function denial(r: HookRun): string | null {
  const d = decision(r);
  return d?.startsWith('deny: ') ? d.slice(6) : null;
}

/** A fake `node` that only records that it was started. */
function fakeNodeDir(): { dir: string; marker: string } {
  const dir = path.join(scratch, 'fakebin');
  const marker = path.join(scratch, 'node-was-started');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'node'), `#!/bin/sh\n: > '${marker}'\n`, { mode: 0o755 });
  return { dir, marker };
}

describe('run.sh: projects without autoloop', () => {
  it.each(['session-start', 'stop', 'pre-tool-use'] as const)('%s: exits 0, prints nothing, starts no node', (event) => {
    fs.rmSync(path.join(project, '.autoloop'), { recursive: true });
    const { dir, marker } = fakeNodeDir();
    const r = hook(event, payloads.bash('git reset --hard'), { PATH: `${dir}:${process.env.PATH ?? ''}` });
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(fs.existsSync(marker)).toBe(false);
    // Control: the same call in a project with a loop does start node (a paused one:
    // SessionStart of an active loop is answered in the shell, hooks/session.sh).
    writeActive(event === 'session-start' ? { loop: 'paused' } : {});
    hook(event, payloads.bash('git status'), { PATH: `${dir}:${process.env.PATH ?? ''}` });
    expect(fs.existsSync(marker)).toBe(true);
  });

  it('does not need node at all and never reads stdin', async () => {
    fs.rmSync(path.join(project, '.autoloop'), { recursive: true });
    const empty = path.join(scratch, 'emptybin');
    fs.mkdirSync(empty);
    // stdin stays open: a shim that read it would hang until the timeout.
    const child = spawn(SH, [RUN_SH, 'pre-tool-use'], { cwd: project, env: { PATH: empty, CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: project }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // A shim that read stdin would never exit; the test's own timeout ends it.
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    child.stdin.destroy();
    expect(code).toBe(0);
    expect(out).toBe('');
  });

  it('uses $PWD when CLAUDE_PROJECT_DIR is unset', () => {
    writeActive();
    const r = spawnSync(SH, [RUN_SH, 'pre-tool-use'], {
      input: JSON.stringify(payloads.bash('git reset --hard')),
      cwd: project,
      env: { PATH: process.env.PATH ?? '', CLAUDE_PLUGIN_ROOT: ROOT, PWD: project },
      encoding: 'utf8',
    });
    expect(denial({ code: r.status, stdout: r.stdout, stderr: r.stderr })).toMatch(/engine owns git/);
  });
});

describe('run.sh: finding the project', () => {
  it('a session started in a subdirectory finds the loop at the repository top', () => {
    writeActive();
    fs.mkdirSync(path.join(project, '.git'));
    const sub = path.join(project, 'src');
    const r = spawnSync(SH, [RUN_SH, 'pre-tool-use'], {
      input: JSON.stringify({ ...payloads.bash('echo x > ../bench/bench.mjs'), cwd: sub }),
      cwd: sub,
      env: { PATH: process.env.PATH ?? '', CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: sub },
      encoding: 'utf8',
    });
    expect(denial({ code: r.status, stdout: r.stdout, stderr: r.stderr })).toMatch(/bench\/bench\.mjs is protected/);
  });

  it('the search stops at the repository top', () => {
    writeActive(); // .autoloop/ in the outer directory…
    const inner = path.join(project, 'nested');
    fs.mkdirSync(path.join(inner, '.git'), { recursive: true }); // …and a separate repository inside it
    const r = spawnSync(SH, [RUN_SH, 'pre-tool-use'], {
      input: JSON.stringify(payloads.bash('git reset --hard')),
      cwd: inner,
      env: { PATH: process.env.PATH ?? '', CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: inner },
      encoding: 'utf8',
    });
    expect({ code: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});

describe('run.sh: never spins', () => {
  // The shim used to strip one path component per step until it reached "/":
  // a relative directory never gets there, so it looped at 100% CPU until the
  // hook timeout. Each case must end on its own, long before the kill below.
  it.each(['relative/dir', 'repo', '.', './x/../y', 'a//b//', '//', '../..'])('CLAUDE_PROJECT_DIR=%j: exits', (dir) => {
    const r = spawnSync(SH, [RUN_SH, 'pre-tool-use'], {
      input: JSON.stringify(payloads.bash('git reset --hard')),
      cwd: scratch,
      env: { PATH: process.env.PATH ?? '', CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: dir },
      encoding: 'utf8',
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
  });

  it('a relative directory is read from the session cwd, and still finds the loop', () => {
    writeActive();
    const r = spawnSync(SH, [RUN_SH, 'pre-tool-use'], {
      input: JSON.stringify(payloads.bash('git reset --hard')),
      cwd: scratch,
      env: { PATH: process.env.PATH ?? '', CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: 'repo/src', PWD: scratch },
      encoding: 'utf8',
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    expect(denial({ code: r.status, stdout: r.stdout, stderr: r.stderr })).toMatch(/engine owns git/);
  });
});

describe('run.sh: node missing', () => {
  // As a systemMessage: the pinned CLI shows the user no stderr of a hook that exits 0
  // (seen in its terminal, the resume sweep), so a line on stderr was never read.
  it('says so once, as a message the user sees, and never fails the call', () => {
    writeActive();
    const empty = path.join(scratch, 'emptybin');
    fs.mkdirSync(empty);
    const first = hook('pre-tool-use', payloads.bash('git reset --hard'), { PATH: empty });
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('');
    expect(first.stdout.trim().split('\n')).toHaveLength(1);
    expect(json(first)).toEqual({ systemMessage: expect.stringMatching(/^autoloop: node was not found on PATH/) });
    const second = hook('stop', payloads.stop(), { PATH: empty });
    expect(second).toEqual({ code: 0, stdout: '', stderr: '' });
    // Node back: the guard is on again, and a later outage is said again.
    expect(denial(hook('pre-tool-use', payloads.bash('git reset --hard')))).toMatch(/git/);
    expect(fs.existsSync(path.join(project, '.autoloop', 'node-missing'))).toBe(false);
    expect(json(hook('stop', payloads.stop(), { PATH: empty })).systemMessage).toMatch(/^autoloop: node was not found on PATH/);
  });
});

describe('hooks.cjs: node older than 20', () => {
  it('says so once and stands down instead of guarding with an unsupported runtime', () => {
    writeActive();
    // Make the real node report an old version before the bundle runs.
    const preload = path.join(scratch, 'old-node.mjs');
    fs.writeFileSync(preload, 'Object.defineProperty(process.versions, "node", { value: "18.19.0" });\n');
    const env = { NODE_OPTIONS: `--import=${preload}` };
    const first = hook('pre-tool-use', payloads.bash('git reset --hard'), env);
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('');
    expect(first.stdout.trim().split('\n')).toHaveLength(1);
    expect(json(first)).toEqual({ systemMessage: expect.stringMatching(/^autoloop: Node\.js 18\.19\.0 is too old/) });
    expect(hook('stop', payloads.stop(), env)).toEqual({ code: 0, stdout: '', stderr: '' });
    // With a current node the guard is back, and the marker goes (the shell's answers come back; a later old Node is said again).
    expect(denial(hook('pre-tool-use', payloads.bash('git reset --hard')))).toMatch(/engine owns git|git/);
    expect(fs.existsSync(path.join(project, '.autoloop', 'node-too-old'))).toBe(false);
    expect(json(hook('stop', payloads.stop(), env)).systemMessage).toMatch(/18\.19\.0 is too old/);
  });
});

describe('bad input', () => {
  it.each([
    ['not JSON', 'this is not json'],
    ['empty', ''],
    ['wrong shape', JSON.stringify({ hello: 'world' })],
  ])('%s stdin: exit 0, no output, one line on stderr', (_name, input) => {
    writeActive();
    for (const event of ['session-start', 'stop', 'pre-tool-use'] as const) {
      const r = hook(event, input);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('a corrupt active.json makes the hooks idle, not broken', () => {
    fs.writeFileSync(path.join(project, '.autoloop', 'active.json'), '{"version": 1, "loop": "act');
    const r = hook('pre-tool-use', payloads.bash('git reset --hard'));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/active\.json/);
    // SessionStart says so where the user and the model see it (a hook's stderr on exit 0 is not
    // shown), with the call that rebuilds the file; the other hooks stay quiet.
    for (const text of ['{"version": 1, "loop": "act', JSON.stringify({ ...active(), loop: 'running' })]) {
      fs.writeFileSync(path.join(project, '.autoloop', 'active.json'), text);
      const out = json(hook('session-start', payloads.sessionStart('s', 'resume'))) as { systemMessage?: string; hookSpecificOutput?: { additionalContext?: string } };
      expect(out.systemMessage).toMatch(/active\.json cannot be read, so the autoloop hooks .* are off/);
      expect(out.systemMessage).toContain(`node "${ROOT}/dist/control.mjs" repair`);
      expect(out.hookSpecificOutput?.additionalContext).toBe(out.systemMessage);
      expect(hook('stop', payloads.stop()).stdout).toBe('');
    }
  });

  it('an unknown event is ignored', () => {
    writeActive();
    const r = hook('pre-tool-use', payloads.bash('x'));
    expect(r.code).toBe(0);
    const u = spawnSync(SH, [RUN_SH, 'bogus-event'], { input: '{}', cwd: project, env: { PATH: process.env.PATH ?? '', CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: project }, encoding: 'utf8' });
    expect(u.status).toBe(0);
    expect(u.stdout).toBe('');
  });
});

describe('SessionStart', () => {
  function context(r: HookRun): string {
    const out = json(r) as { hookSpecificOutput: { hookEventName: string; additionalContext: string } };
    expect(out.hookSpecificOutput.hookEventName).toBe('SessionStart');
    return out.hookSpecificOutput.additionalContext;
  }

  it.each(['startup', 'resume', 'clear', 'compact'])('another session while the loop has an owner (%s): one line, none of its rules or next step; the owner, a session handed the loop and a new autoloop agent get the state', (source) => {
    const a = writeActive();
    writeSession({ owner_session: 'sess-owner' });
    const line = context(hook('session-start', payloads.sessionStart('sess-b', source)));
    expect(line).toBe('autoloop: experiment "speed" is running in this repository (5 runs logged), driven by another session; this session is not part of it unless the user hands it the loop (/autoloop:run).');
    expect(context(hook('session-start', payloads.sessionStart('sess-owner', source)))).toContain(a.next_action);
    writeSession({ owner_session: 'sess-owner', candidate: 'sess-b' });
    expect(context(hook('session-start', payloads.sessionStart('sess-b', source)))).toContain(a.next_action);
    expect(context(hook('session-start', { ...payloads.sessionStart('sess-c', source), agent_type: 'autoloop:autoloop' }))).toContain(a.next_action);
    // Every call here comes from this one process: sess-b's start recorded it as the candidate's, so a
    // "clear" from it would hand the candidacy on (a /clear in the candidate's process). Another session
    // runs in a process of its own: none recorded here.
    writeSession({ owner_session: 'sess-owner' });
    writeActive({ loop: 'terminated', terminated_by: 'plateau' });
    expect(context(hook('session-start', payloads.sessionStart('sess-c', source)))).toMatch(/^autoloop: experiment "speed" in this repository terminated \(plateau\) after 5 runs logged and is not closed yet; this session is not part of it[^\n]*$/);
    expect(hook('stop', payloads.stop('sess-c')).stdout).toBe('');
    writeActive({ loop: 'paused', next_action: 'Paused: 3 crashes in a row. '.repeat(20) });
    expect(context(hook('session-start', payloads.sessionStart('sess-c', source)))).toBe('autoloop: experiment "speed" in this repository is paused (5 runs logged); this session is not part of it unless the user hands it the loop (/autoloop:run).');
    expect(context(hook('session-start', payloads.sessionStart('sess-owner', source)))).toMatch(/^autoloop: experiment "speed" is paused \(5 runs logged\)\. Paused: 3 crashes/);
    writeActive({ loop: 'stopped' });
    expect(hook('session-start', payloads.sessionStart('sess-c', source)).stdout).toBe('');
  });

  it.each(['startup', 'resume', 'clear', 'compact'])('active loop (%s): state, next step and rules', (source) => {
    const a = writeActive();
    const text = context(hook('session-start', payloads.sessionStart('s', source)));
    expect(text).toContain(a.summary);
    expect(text).toContain(a.next_action);
    expect(text).toMatch(/engine decides keep or revert/);
    expect(text).toMatch(/Never edit the benchmark, the checks/);
    expect(text).toMatch(/Never run git commit\/reset\/checkout\/clean/);
    expect(text).toMatch(/Never ask the user whether to continue/);
    expect(text).toContain('/autoloop:run');
    expect(text.length).toBeLessThanOrEqual(2000);
  });

  it('stays within 2,000 characters with a huge summary and next action', () => {
    writeActive({ summary: 'S'.repeat(5000), next_action: 'N'.repeat(3000) });
    const text = context(hook('session-start', payloads.sessionStart()));
    expect(text.length).toBeLessThanOrEqual(2000);
    expect(text).toMatch(/N{100}/);
    expect(text).toContain('/autoloop:run'); // the rules survive the cut
  });

  it('paused: one line, why (the engine\'s next action) and what the user can do', () => {
    const why = 'Stop the loop and tell the user why: recovery exhausted after 3 heals (6 failed runs in a row (last: crash)).';
    writeActive({ loop: 'paused', next_action: why });
    const text = context(hook('session-start', payloads.sessionStart()));
    expect(text.split('\n')).toHaveLength(1);
    expect(text).toMatch(/paused/);
    expect(text).toContain(why);
    expect(text).toContain('/autoloop:run');
    writeActive({ loop: 'paused', next_action: `a\nb ${'x'.repeat(3000)}` });
    const long = context(hook('session-start', payloads.sessionStart()));
    expect(long.split('\n')).toHaveLength(1);
    expect(long.length).toBeLessThanOrEqual(800);
  });

  it('terminated: one line with the reason and the next step (chain: report, then follow up or close)', () => {
    writeActive({ loop: 'terminated', terminated_by: 'plateau', chain_allowed: true });
    const text = context(hook('session-start', payloads.sessionStart()));
    expect(text.split('\n')).toHaveLength(1);
    expect(text).toMatch(/terminated \(plateau\)/);
    expect(text).toMatch(/\/autoloop:chain .*follow-up/);
    writeActive({ loop: 'terminated', terminated_by: 'target', chain_allowed: false });
    const closing = context(hook('session-start', payloads.sessionStart()));
    expect(closing).toMatch(/\/autoloop:chain .*closes the experiment/);
    expect(closing).not.toMatch(/follow-up/);
  });

  const runRecord = (id: string, phase: string): void => {
    const dir = path.join(project, '.autoloop', 'experiments', 'speed', 'runs', id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'result.json'), JSON.stringify({ run_id: id, phase }));
  };

  it('before any baseline, the next step is the baseline unchanged, not a change', () => {
    writeActive({ runs: 0, next_action: 'Pick the next idea from the backlog (ideas.md), make one change and measure it.' });
    const text = context(hook('session-start', payloads.sessionStart('s', 'startup')));
    expect(text).toMatch(/Next: No baseline yet: run the baseline unchanged/);
    expect(text).not.toMatch(/make one change/);
  });

  it.each(['startup', 'resume', 'compact'])('a run measured but not logged comes first (%s)', (source) => {
    writeActive();
    runRecord('r0005', 'logged');
    runRecord('r0006', 'measured');
    const text = context(hook('session-start', payloads.sessionStart('s', source)));
    expect(text).toMatch(/Next: A run was measured but not logged: log it first/);
    runRecord('r0006', 'logged');
    expect(context(hook('session-start', payloads.sessionStart('s', source)))).toContain(`Next: ${active().next_action}`);
  });

  it.each(['startup', 'compact'])('the latest run is found from next_run, as the engine finds it, not by listing every folder (%s)', (source) => {
    runRecord('r0005', 'logged');
    runRecord('r0006', 'measured');
    // A folder far past the engine's count (left by hand): listing picks it, the engine does not.
    runRecord('r0100', 'logged');
    try {
      writeActive({ next_run: 6 });
      expect(context(hook('session-start', payloads.sessionStart('s', source)))).toMatch(/log it first/);
      // Without next_run (an active.json of an older engine): every folder is listed.
      writeActive();
      expect(context(hook('session-start', payloads.sessionStart('s', source)))).not.toMatch(/log it first/);
    } finally {
      fs.rmSync(path.join(project, '.autoloop', 'experiments', 'speed', 'runs', 'r0100'), { recursive: true, force: true });
      runRecord('r0006', 'logged');
    }
  });

  it('a record still saying measured whose result is in the ledger (a log killed in between) is not logged again', () => {
    writeActive();
    runRecord('r0005', 'logged');
    runRecord('r0006', 'measured');
    const ledger = path.join(project, '.autoloop', 'experiments', 'speed', 'ledger.jsonl');
    const line = (o: Record<string, unknown>) => `${JSON.stringify({ ts: '2026-11-30T00:00:00.000Z', segment: 1, ...o })}\n`;
    fs.writeFileSync(ledger, line({ type: 'result', run_id: 'r0005', verdict: 'keep' }) + line({ type: 'result', run_id: 'r0006', verdict: 'keep' }) + line({ type: 'event', event: 'committed', run_id: 'r0006' }));
    try {
      const text = context(hook('session-start', payloads.sessionStart('s', 'compact')));
      expect(text).not.toMatch(/log it first/);
      // active.json predates that run (written after the ledger line): the summary is not the news.
      expect(text).toContain('Next: The last engine call was cut off after it logged its run, so the figures above predate that run: read its verdict with status.mjs');
      // Only its own result counts: the ledger without it, and the run is to be logged.
      fs.writeFileSync(ledger, line({ type: 'result', run_id: 'r0005', verdict: 'keep' }));
      expect(context(hook('session-start', payloads.sessionStart('s', 'compact')))).toMatch(/log it first/);
    } finally {
      fs.rmSync(ledger, { force: true });
      runRecord('r0006', 'logged');
    }
  });

  it('a run cut off mid-way: run again (the engine settles it)', () => {
    writeActive();
    runRecord('r0010', 'running');
    expect(context(hook('session-start', payloads.sessionStart()))).toMatch(/Next: The last run was cut off/);
  });

  // Found by the resume sweep: a session started while another measured (up's, a second
  // terminal) was told the run was cut off, to run again and else repair, which only wait on it.
  it('a run being measured now (a live process holds the lock): wait, neither run nor repair', () => {
    writeActive();
    runRecord('r0010', 'running');
    const lock = path.join(project, '.autoloop', 'lock');
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(lock, JSON.stringify({ pid: holder.pid, owner: 'run-experiment', started_at: '', token: 't', proc_start: procStart(holder.pid!) }));
      for (const source of ['startup', 'resume', 'clear', 'compact']) {
        const text = context(hook('session-start', payloads.sessionStart('s', source)));
        expect(text).toMatch(/Next: A run is being measured right now/);
        expect(text).not.toMatch(/cut off/);
      }
      // A lock whose pid was recycled by another process (its start time differs) is no run.
      fs.writeFileSync(lock, JSON.stringify({ pid: holder.pid, owner: 'run-experiment', started_at: '', token: 't', proc_start: '1' }));
      expect(context(hook('session-start', payloads.sessionStart()))).toMatch(/Next: The last run was cut off/);
    } finally {
      holder.kill('SIGKILL');
      fs.rmSync(lock, { force: true });
    }
  });

  it('stopped by the user: nothing at all', () => {
    writeActive({ loop: 'stopped' });
    expect(hook('session-start', payloads.sessionStart())).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});

describe('PreToolUse: files', () => {
  beforeEach(() => {
    writeActive();
  });
  const p = (rel: string): string => path.join(project, rel);

  it('denies the protected benchmark', () => {
    expect(denial(hook('pre-tool-use', payloads.edit(p('bench/bench.mjs'))))).toMatch(/bench\/bench\.mjs is protected/);
    expect(denial(hook('pre-tool-use', payloads.write(p('check.sh'))))).toMatch(/check\.sh is protected/);
    expect(denial(hook('pre-tool-use', payloads.tool('sess-a', 'MultiEdit', { file_path: p('bench/bench.mjs'), edits: [] })))).toMatch(/protected/);
  });

  it('denies the engine state but allows the notes and ideas', () => {
    expect(denial(hook('pre-tool-use', payloads.write(p('.autoloop/active.json'))))).toMatch(/belongs to the engine/);
    expect(denial(hook('pre-tool-use', payloads.edit(p('.autoloop/experiments/speed/config.yaml'))))).toMatch(/belongs to the engine/);
    expect(denial(hook('pre-tool-use', payloads.write(p('.autoloop/session.json'))))).toMatch(/belongs to the engine/);
    expect(denial(hook('pre-tool-use', payloads.edit(p('.autoloop/experiments/speed/program.md'))))).toBeNull();
    expect(denial(hook('pre-tool-use', payloads.write(p('.autoloop/experiments/speed/ideas.md'))))).toBeNull();
  });

  it('denies files outside the scope, allows files in it and outside the project', () => {
    expect(denial(hook('pre-tool-use', payloads.edit(p('README.md'))))).toMatch(/outside the experiment's scope \(src\/\*\*\)/);
    expect(denial(hook('pre-tool-use', payloads.tool('sess-a', 'NotebookEdit', { notebook_path: p('nb/a.ipynb'), new_source: 'x' })))).toMatch(/outside the experiment's scope/);
    expect(denial(hook('pre-tool-use', payloads.edit(p('.git/config'))))).toMatch(/git's own data/);
    expect(denial(hook('pre-tool-use', payloads.edit(p('src/work.mjs'))))).toBeNull();
    expect(denial(hook('pre-tool-use', payloads.write(p('src/deep/new.mjs'))))).toBeNull();
    expect(denial(hook('pre-tool-use', payloads.write(path.join(scratch, 'elsewhere.txt'))))).toBeNull();
  });

  it('judges the file the kernel opens when a `..` follows a link (src/blink -> ../bench)', () => {
    fs.symlinkSync('../bench', path.join(project, 'src', 'blink'));
    // Spelled as the model would send it: path.join would take the `..` by name.
    const raw = (rel: string): string => `${project}/${rel}`;
    expect(denial(hook('pre-tool-use', payloads.edit(raw('src/blink/../bench/bench.mjs'))))).toMatch(/bench\/bench\.mjs is protected/);
    expect(denial(hook('pre-tool-use', payloads.write(raw('src/blink/../check.sh'))))).toMatch(/check\.sh is protected/);
    expect(denial(hook('pre-tool-use', payloads.bash('echo x > src/blink/../check.sh')))).toMatch(/check\.sh is protected/);
    expect(denial(hook('pre-tool-use', payloads.edit(raw('src/blink/../src/work.mjs'))))).toBeNull();
  });

  it('judges a write through a link to a name not there yet where it lands (src/h -> ../.git/hooks/pre-commit)', () => {
    fs.symlinkSync('../.git/hooks/pre-commit', p('src/h'));
    fs.symlinkSync('../notes.md', p('src/t'));
    fs.symlinkSync('deep/new.mjs', p('src/n'));
    expect(denial(hook('pre-tool-use', payloads.write(p('src/h'))))).toMatch(/git's own data/);
    expect(denial(hook('pre-tool-use', payloads.edit(p('src/t'))))).toMatch(/outside the experiment's scope/);
    expect(denial(hook('pre-tool-use', payloads.tool('sess-a', 'NotebookEdit', { notebook_path: p('src/t'), new_source: 'x' })))).toMatch(/outside the experiment's scope/);
    expect(denial(hook('pre-tool-use', payloads.bash('echo x > src/h')))).toMatch(/git's own data/);
    expect(denial(hook('pre-tool-use', payloads.write(p('src/n'))))).toBeNull();
  });

  it('judges a dangling link whose text has a .. after a link as before the lstat shortcut (src/h3 -> away/../g/pre-commit, src/g -> ../.git/hooks)', () => {
    // Node's realpath takes the text's .. by the text (src/g/pre-commit, in .git), the kernel's lstat after the link
    // (<outside>/g/pre-commit, missing): a name with a .. in it is not skipped on lstat's word.
    fs.mkdirSync(path.join(scratch, 'away'));
    fs.mkdirSync(p('.git/hooks'), { recursive: true });
    fs.symlinkSync('../../away', p('src/away'));
    fs.symlinkSync('../.git/hooks', p('src/g'));
    fs.symlinkSync('away/../g/pre-commit', p('src/h3'));
    expect(denial(hook('pre-tool-use', payloads.write(p('src/h3'))))).toMatch(/git's own data/);
    expect(denial(hook('pre-tool-use', payloads.bash('echo x > src/h3')))).toMatch(/git's own data/);
  });

  it("denies git's own configuration outside the project (what git config --global would change), by Edit, Write and Bash", () => {
    // HOME is the scratch directory here: ~/.gitconfig and the XDG file are git's global configuration.
    expect(denial(hook('pre-tool-use', payloads.write(path.join(scratch, '.gitconfig'))))).toMatch(/\.gitconfig is git's configuration/);
    expect(denial(hook('pre-tool-use', payloads.edit(path.join(scratch, '.config/git/config'))))).toMatch(/git\/config is git's configuration/);
    expect(denial(hook('pre-tool-use', payloads.edit(path.join(scratch, 'x', '..', '.gitconfig'))))).toMatch(/git's configuration/);
    expect(denial(hook('pre-tool-use', payloads.write('/etc/gitconfig')))).toMatch(/git's configuration/);
    expect(denial(hook('pre-tool-use', payloads.write('/tmp/elsewhere/gitconfig')))).toBeNull();
    expect(denial(hook('pre-tool-use', payloads.bash(`printf '[core]\\n\\tfsmonitor = x\\n' >> ~/.gitconfig`)))).toMatch(/git's configuration/);
    expect(denial(hook('pre-tool-use', payloads.bash('cp src/work.mjs "$HOME/.config/git/config"')))).toMatch(/git's configuration/);
    expect(denial(hook('pre-tool-use', payloads.bash('echo x > ~/notes.txt')))).toBeNull();
  });

  it('a judge that is a link out of the project is denied by its own name, to every tool', () => {
    fs.mkdirSync(path.join(scratch, 'shared'));
    fs.writeFileSync(path.join(scratch, 'shared', 'bench.sh'), 'node bench/bench.mjs\n');
    fs.symlinkSync('../shared/bench.sh', p('bench.sh'));
    writeActive({ protect: ['bench/bench.mjs', 'check.sh', 'bench.sh'] });
    expect(denial(hook('pre-tool-use', payloads.edit(p('bench.sh'))))).toMatch(/bench\.sh is protected/);
    expect(denial(hook('pre-tool-use', payloads.write(p('bench.sh'))))).toMatch(/bench\.sh is protected/);
    expect(denial(hook('pre-tool-use', payloads.bash('echo "echo METRIC time_ms=0" > bench.sh')))).toMatch(/bench\.sh is protected/);
    expect(denial(hook('pre-tool-use', payloads.bash("sed -i 's/node/true/' bench.sh")))).toMatch(/bench\.sh is protected/);
    // its target outside the project, and the files beside it, are the judge too (outside-judges.ts), to Edit and Bash alike
    expect(denial(hook('pre-tool-use', payloads.edit(path.join(scratch, 'shared', 'bench.sh'))))).toMatch(/shared\/bench\.sh is where the judge bench\.sh links to/);
    expect(denial(hook('pre-tool-use', payloads.bash('echo x > ../shared/lib.sh')))).toMatch(/shared\/lib\.sh is where the judge bench\.sh links to/);
    expect(denial(hook('pre-tool-use', payloads.edit(path.join(scratch, 'elsewhere.sh'))))).toBeNull();
  });

  it('judges the path each tool writes: NotebookEdit its notebook_path, even beside a file_path in scope', () => {
    const nb = (input: Record<string, unknown>): string | null => denial(hook('pre-tool-use', payloads.tool('sess-a', 'NotebookEdit', { new_source: 'x', ...input })));
    expect(nb({ notebook_path: p('check.sh'), file_path: p('src/nb.ipynb') })).toMatch(/check\.sh is protected/);
    expect(nb({ notebook_path: p('.autoloop/active.json'), file_path: p('src/nb.ipynb') })).toMatch(/belongs to the engine/);
    expect(nb({ notebook_path: p('src/nb.ipynb'), file_path: p('check.sh') })).toBeNull();
  });

  it('reads the scope exactly as the engine does: plain names cover their subtree, ! excludes', () => {
    writeActive({ scope: ['src', '!src/vendor/**'] });
    expect(denial(hook('pre-tool-use', payloads.edit(p('src/work.mjs'))))).toBeNull();
    expect(denial(hook('pre-tool-use', payloads.write(p('src/deep/new.mjs'))))).toBeNull();
    expect(denial(hook('pre-tool-use', payloads.write(p('src/vendor/lib.mjs'))))).toMatch(/outside the experiment's scope/);
    expect(denial(hook('pre-tool-use', payloads.write(p('srcx/a.mjs'))))).toMatch(/outside the experiment's scope/);
  });

  it('resolves relative paths and links', () => {
    expect(denial(hook('pre-tool-use', payloads.edit('bench/bench.mjs')))).toMatch(/protected/);
    expect(denial(hook('pre-tool-use', payloads.edit(p('src/../bench/bench.mjs'))))).toMatch(/protected/);
    fs.symlinkSync(p('bench'), path.join(scratch, 'link'));
    expect(denial(hook('pre-tool-use', payloads.edit(path.join(scratch, 'link', 'bench.mjs'))))).toMatch(/protected/);
  });

  it('ignores tools it does not guard', () => {
    expect(denial(hook('pre-tool-use', payloads.tool('sess-a', 'Read', { file_path: p('bench/bench.mjs') })))).toBeNull();
  });
});

describe('PreToolUse: Bash', () => {
  beforeEach(() => {
    writeActive();
  });

  it('denies hand-made git and writes to the judges; allows the rest', () => {
    expect(denial(hook('pre-tool-use', payloads.bash('git reset --hard')))).toMatch(/engine owns git/);
    expect(denial(hook('pre-tool-use', payloads.bash('cd src && git commit -am wip')))).toMatch(/git commit/);
    expect(denial(hook('pre-tool-use', payloads.bash("sed -i 's/1/0/' bench/bench.mjs")))).toMatch(/protected/);
    expect(denial(hook('pre-tool-use', payloads.bash("echo '{}' > .autoloop/active.json")))).toMatch(/belongs to the engine/);
    expect(denial(hook('pre-tool-use', payloads.bash('git status && git diff --stat')))).toBeNull();
    expect(denial(hook('pre-tool-use', payloads.bash('node bench/bench.mjs')))).toBeNull();
  });

  it('the session cwd is where relative paths start', () => {
    const r = hook('pre-tool-use', { ...payloads.bash('echo x > bench.mjs'), cwd: path.join(project, 'bench') });
    expect(denial(r)).toMatch(/protected/);
  });

  it('guards while the loop is active and after it terminated (until cleared); not once the user stops it or it is paused', () => {
    for (const loop of ['paused', 'stopped'] as const) {
      writeActive({ loop });
      expect(decision(hook('pre-tool-use', payloads.bash('git reset --hard')))).toBeNull();
      expect(decision(hook('pre-tool-use', payloads.edit(path.join(project, 'bench/bench.mjs'))))).toBeNull();
    }
    writeActive({ loop: 'terminated', terminated_by: 'target' });
    expect(denial(hook('pre-tool-use', payloads.bash('git reset --hard')))).toMatch(/engine owns git/);
    expect(denial(hook('pre-tool-use', payloads.edit(path.join(project, 'bench/bench.mjs'))))).toMatch(/protected/);
    fs.rmSync(path.join(project, '.autoloop', 'active.json')); // control clear
    expect(hook('pre-tool-use', payloads.bash('git reset --hard'))).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('fails closed on a command it cannot analyse that may touch git or a judge', () => {
    const deep = Array.from({ length: 12 }).reduce<string>((acc) => `sh -c ${JSON.stringify(acc)}`, 'git reset --hard');
    expect(denial(hook('pre-tool-use', payloads.bash(deep)))).toMatch(/cannot check this command \(it nests/);
    expect(denial(hook('pre-tool-use', payloads.bash('echo "x; git commit -am y')))).toMatch(/quotes, brackets or heredocs/);
  });

  it('fails closed on code only known at run time, inline programs that write a judge, and git that moves HEAD', () => {
    const blind = ["bash -c \"$(printf 'g%s' 'it reset --hard')\"", 'eval "$X"', '$CMD reset --hard', 'echo reset | xargs git', "echo 'git stash' | sh"];
    for (const cmd of blind) expect(`${cmd} → ${denial(hook('pre-tool-use', payloads.bash(cmd)))}`).toMatch(/→ autoloop: the guard cannot check this command/);
    expect(denial(hook('pre-tool-use', payloads.bash("node -e \"require('fs').writeFileSync('bench/bench.mjs','')\"")))).toMatch(/inline program/);
    expect(denial(hook('pre-tool-use', payloads.bash('find bench -delete')))).toMatch(/protected/);
    expect(denial(hook('pre-tool-use', payloads.bash("env -S'git reset --hard'")))).toMatch(/engine owns git/);
    expect(denial(hook('pre-tool-use', payloads.bash('git symbolic-ref HEAD refs/heads/main')))).toMatch(/git symbolic-ref/);
    expect(denial(hook('pre-tool-use', payloads.bash("git config alias.x 'reset --hard'")))).toMatch(/git config/);
    expect(denial(hook('pre-tool-use', payloads.bash("node -e 'console.log(1 + 1)'")))).toBeNull();
  });
});

describe('PreToolUse: Bash forms that really overwrite a judge (issue 11, class 7)', () => {
  beforeEach(() => {
    writeActive();
  });

  it('denies a sourced script, an extracted archive, a git alias and a sed w that each replace the benchmark when run; leaves harmless ones to the user', () => {
    const judge = path.join(project, 'bench/bench.mjs');
    const original = fs.readFileSync(judge, 'utf8');
    const forged = 'console.log("METRIC time_ms=0")\n';
    // The tools, for real: a script, an archive holding a forged judge, an alias in the repository's own config.
    fs.writeFileSync(path.join(scratch, 'forge.sh'), `printf '%s\\n' '${forged.trim()}' > bench/bench.mjs\n`);
    const tree = path.join(scratch, 'tree');
    fs.mkdirSync(path.join(tree, 'bench'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'bench/bench.mjs'), forged);
    const run = (file: string, args: string[], cwd = project) => spawnSync(file, args, { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch }, encoding: 'utf8' });
    expect(run('tar', ['-cf', path.join(scratch, 'forged.tar'), '-C', tree, 'bench']).status).toBe(0);
    expect(run('git', ['init', '-q']).status).toBe(0); // a throwaway repository under the test's temp dir
    expect(run('git', ['config', 'alias.forge', '!cp ../tree/bench/bench.mjs bench/bench.mjs']).status).toBe(0);
    const forms = [`. ${path.join(scratch, 'forge.sh')}`, `tar -xf ${path.join(scratch, 'forged.tar')}`, 'git forge', `sed -n 'w bench/bench.mjs' ${path.join(tree, 'bench/bench.mjs')}`];
    for (const cmd of forms) {
      expect(`${cmd} → ${denial(hook('pre-tool-use', payloads.bash(cmd)))}`).toMatch(/ → autoloop: .*(protected|cannot check)/);
      // The denial matters: run as the model would have run it, the command replaces the judge.
      const r = run('bash', ['-c', cmd]);
      expect(r.status, r.stderr).toBe(0);
      expect(fs.readFileSync(judge, 'utf8')).toBe(forged);
      fs.writeFileSync(judge, original);
    }
    fs.mkdirSync(path.join(project, '.venv/bin'), { recursive: true });
    fs.writeFileSync(path.join(project, '.venv/bin/activate'), 'VIRTUAL_ENV="$PWD/.venv"\nexport VIRTUAL_ENV\nPATH="$VIRTUAL_ENV/bin:$PATH"\nexport PATH\n');
    for (const cmd of ['. .venv/bin/activate && node bench/bench.mjs', `tar -xf ${path.join(scratch, 'forged.tar')} -C ${tree}`, 'git log --oneline -1']) {
      expect(`${cmd} → ${denial(hook('pre-tool-use', payloads.bash(cmd)))}`).toBe(`${cmd} → null`);
    }
    expect(fs.readFileSync(judge, 'utf8')).toBe(original);
  });
});

describe('PreToolUse: scripts run by a shell, BASH_ENV and a reader\'s helper program that really overwrite a judge (issue 11, class 7)', () => {
  beforeEach(() => {
    writeActive();
  });

  it('denies each form that replaces the benchmark when run; leaves a harmless script to the user', () => {
    const judge = path.join(project, 'bench/bench.mjs');
    const original = fs.readFileSync(judge, 'utf8');
    const forged = 'console.log("METRIC time_ms=0")';
    // A script in scope that the model just wrote, executable, with no #! line (the calling shell runs it).
    const forge = path.join(project, 'src/forge.sh');
    fs.writeFileSync(forge, `cd "${project}" && printf '%s\\n' '${forged}' > bench/bench.mjs\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(project, 'src/ok.sh'), 'echo ready\n', { mode: 0o755 });
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch };
    // stdin not a socket (Node's default pipe): a top-level bash -c reading a socket takes itself for a remote shell and skips BASH_ENV.
    const run = (file: string, args: string[]) => spawnSync(file, args, { cwd: project, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(run('git', ['init', '-q']).status).toBe(0); // a throwaway repository under the test's temp dir
    expect(run('git', ['add', 'src/work.mjs']).status).toBe(0);
    const forms = [
      'bash src/forge.sh',
      'sh src/forge.sh one two',
      'bash -- src/forge.sh',
      'bash < src/forge.sh',
      './src/forge.sh',
      'src/forge.sh',
      'BASH_ENV=src/forge.sh bash -c true',
      'export BASH_ENV=src/forge.sh; bash -c "echo hi"',
      'env BASH_ENV=src/forge.sh bash -c true',
      'git grep -O./src/forge.sh -n export',
    ];
    for (const cmd of forms) {
      expect(`${cmd} → ${denial(hook('pre-tool-use', payloads.bash(cmd)))}`).toMatch(/ → autoloop: .*bench\/bench\.mjs is protected/);
      // The denial matters: run as the model would have run it, the command replaces the judge.
      const r = run('bash', ['-c', cmd]);
      expect(fs.readFileSync(judge, 'utf8').trim(), `${cmd}: ${r.stderr}`).toBe(forged);
      fs.writeFileSync(judge, original);
    }
    for (const cmd of ['bash src/ok.sh', './src/ok.sh', 'BASH_ENV=src/ok.sh bash -c true', 'time bash src/ok.sh']) {
      expect(`${cmd} → ${decision(hook('pre-tool-use', payloads.bash(cmd)))}`).toBe(`${cmd} → null`);
      expect(run('bash', ['-c', cmd]).status).toBe(0);
    }
    expect(fs.readFileSync(judge, 'utf8')).toBe(original);
  });
});

describe('run.sh: PostToolUse of the owner is decided in the shell', () => {
  const post = (session: string) => payloads.post(`node "${path.join(ROOT, 'dist', 'log-experiment.mjs')}" --json`, session);

  it('starts no Node when the session (CLAUDE_CODE_SESSION_ID) already owns the loop, and does otherwise', () => {
    writeActive();
    const owned = `${JSON.stringify({ owner_session: 'sess-a', owner_agent: null, blocks: 0, idle_blocks: 0, last_runs: 5, chain_nudged: null, candidate: null, past_end: null }, null, 2)}\n`;
    fs.writeFileSync(sessionFile(), owned);
    const { dir, marker } = fakeNodeDir();
    // Piped into tail: a form claim.sh leaves to Node, so a start of (the fake) Node shows the owner check said no.
    const piped = (session: string): object => payloads.post(`node "${path.join(ROOT, 'dist', 'log-experiment.mjs')}" --json | tail -5`, session);
    const started = (env: Record<string, string>): boolean => {
      fs.rmSync(marker, { force: true });
      expect(hook('post-tool-use', piped(env.CLAUDE_CODE_SESSION_ID ?? 'sess-a'), { PATH: `${dir}:${process.env.PATH}`, ...env }).code).toBe(0);
      return fs.existsSync(marker);
    };
    expect(started({ CLAUDE_CODE_SESSION_ID: 'sess-a' })).toBe(false);
    expect(started({ CLAUDE_CODE_SESSION_ID: 'sess-b' })).toBe(true); // a claim to record
    expect(started({ CLAUDE_CODE_SESSION_ID: 'sess-' })).toBe(true); // a prefix of the owner is someone else
    expect(started({ CLAUDE_CODE_SESSION_ID: 'sess-a"' })).toBe(true); // not safe to compare in the shell
    expect(started({})).toBe(true);
    // The plain engine call of another session: its claim is written in the shell (claim.sh), no Node.
    fs.rmSync(marker, { force: true });
    hook('post-tool-use', post('sess-b'), { PATH: `${dir}:${process.env.PATH}`, CLAUDE_CODE_SESSION_ID: 'sess-b' });
    expect(fs.existsSync(marker)).toBe(false);
    expect(readSession()).toMatchObject({ owner_session: 'sess-b', last_runs: 5 });
  });

  it('a session that is not the owner claims the loop through Node when the shell leaves it the call', () => {
    writeActive();
    fs.writeFileSync(sessionFile(), JSON.stringify({ owner_session: 'sess-a', owner_agent: null, blocks: 0, idle_blocks: 0, last_runs: 5, chain_nudged: null, candidate: null, past_end: null }));
    hook('post-tool-use', payloads.post(`node "${path.join(ROOT, 'dist', 'log-experiment.mjs')}" --json 2>&1 | tail -5`, 'sess-b'), { CLAUDE_CODE_SESSION_ID: 'sess-b' });
    expect(readSession()).toMatchObject({ owner_session: 'sess-b' });
  });
});

describe('session claim (PostToolUse: only a call that ran)', () => {
  const engine = (script: string): string => `node "${path.join(ROOT, 'dist', script)}" --description "try memo" 2>&1 | tail -20`;

  it('an engine call that ran makes the session the owner; only the owner is guarded once claimed', () => {
    writeActive();
    // Before a claim, every session is guarded.
    expect(denial(hook('pre-tool-use', payloads.bash('git reset --hard', 'sess-other')))).not.toBeNull();
    // PreToolUse alone claims nothing: a call refused by the user's settings never ran.
    hook('pre-tool-use', payloads.bash(engine('run-experiment.mjs'), 'sess-a'));
    expect(fs.existsSync(sessionFile())).toBe(false);
    hook('post-tool-use', payloads.post(engine('run-experiment.mjs'), 'sess-a'));
    expect(readSession()).toMatchObject({ owner_session: 'sess-a', blocks: 0, idle_blocks: 0, last_runs: 5 });
    expect(denial(hook('pre-tool-use', payloads.bash('git reset --hard', 'sess-a')))).toMatch(/engine owns git/);
    // A second Claude session in the same repo is left alone: neither denied nor approved.
    expect(decision(hook('pre-tool-use', payloads.bash('git reset --hard', 'sess-other')))).toBeNull();
    expect(decision(hook('pre-tool-use', payloads.edit(path.join(project, 'bench/bench.mjs'), 'sess-other')))).toBeNull();
    expect(decision(hook('pre-tool-use', payloads.edit(path.join(project, 'src/work.mjs'), 'sess-other')))).toBeNull();
    expect(decision(hook('pre-tool-use', payloads.bash(engine('status.mjs'), 'sess-other')))).toBeNull();
  });

  it('a setup session (init, baseline) is handed the loop but does not own it, so it can end', () => {
    writeActive({ runs: 0 });
    hook('post-tool-use', payloads.post(engine('init-experiment.mjs'), 'sess-setup'));
    expect(readSession()).toMatchObject({ owner_session: null, candidate: 'sess-setup' });
    hook('post-tool-use', payloads.post(engine('run-experiment.mjs'), 'sess-setup'));
    writeActive({ runs: 1 }); // the baseline is logged
    hook('post-tool-use', payloads.post(engine('log-experiment.mjs'), 'sess-setup'));
    expect(readSession()).toMatchObject({ owner_session: null, candidate: 'sess-setup' });
    expect(hook('stop', payloads.stop('sess-setup')).stdout).toBe('');
    // Its engine calls are approved; it is guarded like anyone while nobody owns the loop.
    expect(decision(hook('pre-tool-use', payloads.bash(engine('run-experiment.mjs'), 'sess-setup')))).toBe('allow');
    expect(denial(hook('pre-tool-use', payloads.bash('git reset --hard', 'sess-setup')))).toMatch(/engine owns git/);
    // The session that then drives the loop owns it.
    hook('post-tool-use', payloads.post(engine('run-experiment.mjs'), 'sess-setup'));
    expect(readSession()).toMatchObject({ owner_session: 'sess-setup' });
  });

  it('the autoloop agent drives from its first engine call, baseline or not', () => {
    writeActive({ runs: 0 });
    hook('post-tool-use', payloads.post(engine('run-experiment.mjs'), 'sess-agent', 'autoloop:autoloop'));
    expect(readSession()).toMatchObject({ owner_session: 'sess-agent', owner_agent: 'autoloop:autoloop' });
  });

  it('records the agent and takes over on restart, resetting the Stop counters', () => {
    writeActive({ stop_hook: { max_blocks: 10, max_idle_blocks: 5 } });
    hook('post-tool-use', payloads.post(engine('run-experiment.mjs'), 'sess-a'));
    expect(json(hook('stop', payloads.stop('sess-a'))).decision).toBe('block');
    expect(readSession()).toMatchObject({ owner_session: 'sess-a', blocks: 1 });
    // The same owner claiming again changes nothing.
    hook('post-tool-use', payloads.post(engine('run-experiment.mjs'), 'sess-a'));
    expect(readSession()).toMatchObject({ owner_session: 'sess-a', blocks: 1 });
    // A fresh session that drives the engine takes the loop over.
    hook('post-tool-use', payloads.post(engine('log-experiment.mjs'), 'sess-b', 'autoloop:autoloop'));
    expect(readSession()).toMatchObject({ owner_session: 'sess-b', owner_agent: 'autoloop:autoloop', blocks: 0, idle_blocks: 0 });
    expect(hook('stop', payloads.stop('sess-a')).stdout).toBe('');
    expect(json(hook('stop', payloads.stop('sess-b'))).decision).toBe('block');
  });

  it('a session whose every call was refused is not the owner and is not sent back', () => {
    writeActive();
    for (let i = 0; i < 3; i++) hook('pre-tool-use', payloads.bash(engine('run-experiment.mjs'), 'sess-refused'));
    expect(fs.existsSync(sessionFile())).toBe(false);
    expect(hook('stop', payloads.stop('sess-refused'))).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('/autoloop:run (or chain, setup) typed by the user hands the loop to that session', () => {
    writeActive();
    hook('post-tool-use', payloads.post(engine('run-experiment.mjs'), 'sess-a'));
    expect(decision(hook('pre-tool-use', payloads.bash(engine('status.mjs'), 'sess-b')))).toBeNull();
    hook('prompt-expansion', payloads.expansion('autoloop:run', 'sess-b'));
    expect(readSession()).toMatchObject({ owner_session: 'sess-a', candidate: 'sess-b' });
    expect(decision(hook('pre-tool-use', payloads.bash(engine('status.mjs'), 'sess-b')))).toBe('allow');
    hook('prompt-expansion', payloads.expansion('other-plugin:run', 'sess-c'));
    expect(readSession()).toMatchObject({ candidate: 'sess-b' });
    // Loading the skill through the Skill tool does the same.
    hook('post-tool-use', { ...payloads.tool('sess-d', 'Skill', { skill: 'autoloop:chain' }), hook_event_name: 'PostToolUse', tool_response: { success: true } });
    expect(readSession()).toMatchObject({ candidate: 'sess-d' });
  });

  it('mentioning an engine script is not a claim', () => {
    writeActive();
    hook('post-tool-use', payloads.post('grep -n run-experiment.mjs README.md', 'sess-a'));
    expect(fs.existsSync(sessionFile())).toBe(false);
  });
});

describe('PreToolUse: the allow list (owner, candidates, the autoloop agent)', () => {
  const dist = (s: string): string => `node "${path.join(ROOT, 'dist', s)}"`;
  const p = (rel: string): string => path.join(project, rel);
  const own = (): void => {
    writeActive();
    hook('post-tool-use', payloads.post(`${dist('run-experiment.mjs')} --json`, 'sess-a'));
  };

  it('journals what sessions write while the loop is active (.autoloop/journal), nothing otherwise', () => {
    own();
    const journal = (): string[] => {
      const f = p('.autoloop/journal');
      const lines = fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
      fs.rmSync(f, { force: true });
      return lines;
    };
    journal();
    // What the guard can name, and a window for what it cannot (a script), bounded by the call's timeout.
    // (mkdir -p src: src exists already, so it makes nothing and claims nothing.)
    hook('pre-tool-use', payloads.tool('sess-a', 'Bash', { command: 'echo x > src/a.txt && mkdir -p src src/gen && cp src/a.txt src/gen/b.txt && python3 gen.py', timeout: 5000 }));
    const lines = journal();
    const window = lines.find((l) => l.startsWith('B '))?.split(' ').map(Number);
    expect(window?.[2]! - window?.[1]!).toBe(5000);
    // (cp's destination may be a folder: both readings are named.)
    expect(lines.filter((l) => !l.startsWith('B ')).sort()).toEqual(['D src/gen', 'W src/a.txt', 'W src/gen/b.txt', 'W src/gen/b.txt/a.txt']);
    // A command whose writes are all named ends any window; one in the background keeps its window open.
    hook('pre-tool-use', payloads.bash('sed -i s/1/2/ src/work.mjs'));
    expect(journal()).toEqual([expect.stringMatching(/^E \d+$/), 'W src/work.mjs']);
    hook('pre-tool-use', payloads.tool('sess-a', 'Bash', { command: 'npm test', run_in_background: true }));
    expect(journal()).toEqual([expect.stringMatching(/^A \d+$/)]);
    hook('pre-tool-use', payloads.tool('sess-a', 'NotebookEdit', { notebook_path: p('src/nb.ipynb'), new_source: 'x' }));
    expect(journal()).toEqual([expect.stringMatching(/^E \d+$/), 'W src/nb.ipynb']);
    // A session handed the loop too (one taking it over writes before it owns it), but not another
    // session: its new file is the user's (set aside, not swept into the loop's keep); a loop not active: nothing.
    hook('pre-tool-use', payloads.write(p('src/other.mjs'), 'sess-b'));
    expect(journal()).toEqual([]);
    hook('pre-tool-use', { ...payloads.write(p('src/agent.mjs'), 'sess-c'), agent_type: 'autoloop:autoloop' });
    expect(journal()).toEqual(['W src/agent.mjs']);
    hook('prompt-expansion', payloads.expansion('autoloop:run', 'sess-b'));
    hook('pre-tool-use', payloads.write(p('src/other.mjs'), 'sess-b'));
    expect(journal()).toEqual(['W src/other.mjs']);
    writeActive({ loop: 'paused' });
    hook('pre-tool-use', payloads.write(p('src/other.mjs')));
    expect(journal()).toEqual([]);
  });

  it('approves engine calls, in-scope edits, notes, the scratch area, read-only commands, the loop skills and the plugin references', () => {
    own();
    const allow = (payload: unknown) => expect(decision(hook('pre-tool-use', payload))).toBe('allow');
    allow(payloads.bash(`${dist('run-experiment.mjs')} --json`));
    allow(payloads.bash(`${dist('log-experiment.mjs')} --description "x" --hypothesis "h" --json`));
    allow(payloads.bash(`${dist('diagnose.mjs')} --profile node-cpu`));
    allow(payloads.bash('git diff --stat && grep -n COST src/work.mjs | head'));
    allow(payloads.edit(p('src/work.mjs')));
    allow(payloads.write(p('src/new/helper.mjs')));
    allow(payloads.write(p('.autoloop/experiments/speed/ideas.md')));
    allow(payloads.write(p('.autoloop/experiments/speed/scratch/analyse.py')));
    allow(payloads.bash('mkdir -p .autoloop/experiments/speed/scratch && grep -rn work src > .autoloop/experiments/speed/scratch/grep.txt'));
    allow(payloads.tool('sess-a', 'Skill', { skill: 'autoloop:chain', args: '' }));
    allow(payloads.tool('sess-a', 'Read', { file_path: path.join(ROOT, 'references', 'protocol.md') }));
  });

  it('approves the one-call iteration (run-experiment --description) exactly as it approves log-experiment, whatever the text', () => {
    own();
    const texts = [
      'x',
      'Stop trial division at the square root',
      "memoise parse(); it's hot",
      'cache && reuse | not a pipe; not a list > not a file',
      'résumé → 2× faster (ünïcode)',
      '--discard is just words here',
    ];
    const quoted = (t: string) => `'${t.replaceAll("'", "'\\''")}'`;
    for (const t of texts) {
      const args = `--description ${quoted(t)} --hypothesis ${quoted(`because ${t}`)} --json`;
      const viaLog = decision(hook('pre-tool-use', payloads.bash(`${dist('log-experiment.mjs')} ${args}`)));
      const viaRun = decision(hook('pre-tool-use', payloads.bash(`${dist('run-experiment.mjs')} ${args}`)));
      expect(viaLog).toBe('allow');
      expect(viaRun).toBe(viaLog);
    }
    // A text the shell would expand is treated alike in both.
    const dynamic = '--description "$(cat /etc/passwd)" --json';
    expect(decision(hook('pre-tool-use', payloads.bash(`${dist('run-experiment.mjs')} ${dynamic}`)))).toBe(
      decision(hook('pre-tool-use', payloads.bash(`${dist('log-experiment.mjs')} ${dynamic}`))),
    );
  });

  it('Read goes through the shell shim: Node starts only for the plugin\'s own files', () => {
    own();
    const read = (file: string) => payloads.tool('sess-a', 'Read', { file_path: file });
    expect(decision(hook('pre-read' as Event, read(path.join(ROOT, 'references', 'permissions.md'))))).toBe('allow');
    expect(hook('pre-read' as Event, read(p('src/work.mjs')))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(hook('pre-read' as Event, read('/etc/hostname'))).toEqual({ code: 0, stdout: '', stderr: '' });
    const { dir, marker } = fakeNodeDir();
    hook('pre-read' as Event, read(p('src/work.mjs')), { PATH: `${dir}:${process.env.PATH ?? ''}` });
    expect(fs.existsSync(marker)).toBe(false);
    hook('pre-read' as Event, read(path.join(ROOT, 'references', 'permissions.md')), { PATH: `${dir}:${process.env.PATH ?? ''}` });
    expect(fs.existsSync(marker)).toBe(true);
  });

  it('Read: a `..` after a link in the plugin is judged where the kernel opens it', () => {
    own();
    const plugin = path.join(scratch, 'plugin');
    fs.mkdirSync(path.join(plugin, 'references'), { recursive: true });
    fs.mkdirSync(path.join(scratch, 'elsewhere', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(plugin, 'references', 'protocol.md'), 'x');
    fs.writeFileSync(path.join(scratch, 'elsewhere', 'secret.txt'), 'x');
    fs.symlinkSync(path.join(ROOT, 'dist'), path.join(plugin, 'dist'));
    fs.symlinkSync(path.join(scratch, 'elsewhere', 'deep'), path.join(plugin, 'link'));
    const read = (file: string) => decision(hook('pre-tool-use', payloads.tool('sess-a', 'Read', { file_path: file }), { CLAUDE_PLUGIN_ROOT: plugin }));
    expect(read(`${plugin}/references/protocol.md`)).toBe('allow');
    expect(read(`${plugin}/references/../references/protocol.md`)).toBe('allow');
    // By name plugin/secret.txt; the kernel opens elsewhere/secret.txt.
    expect(read(`${plugin}/link/../secret.txt`)).toBeNull();
  });

  it('leaves everything else to the user: no blanket allow', () => {
    own();
    const ask = (payload: unknown) => expect(decision(hook('pre-tool-use', payload))).toBeNull();
    ask(payloads.bash('curl -s https://example.com'));
    ask(payloads.bash('node -e "require(\'fs\').writeFileSync(\'x\', \'y\')"'));
    ask(payloads.bash(`${dist('init-experiment.mjs')} --name x`));
    fs.writeFileSync(p('bench.sh'), 'node bench/bench.mjs\n'); // its text is read: it writes no judge
    ask(payloads.bash('bash bench.sh'));
    ask(payloads.edit(path.join(scratch, 'outside.txt')));
    ask(payloads.tool('sess-a', 'Skill', { skill: 'autoloop:setup' }));
    ask(payloads.tool('sess-a', 'Skill', { skill: 'other:thing' }));
    ask(payloads.tool('sess-a', 'Read', { file_path: '/etc/hostname' }));
    ask(payloads.tool('sess-a', 'WebFetch', { url: 'https://example.com' }));
  });

  it('what is denied stays denied', () => {
    own();
    expect(denial(hook('pre-tool-use', payloads.edit(p('bench/bench.mjs'))))).toMatch(/protected/);
    expect(denial(hook('pre-tool-use', payloads.write(p('.autoloop/experiments/speed/config.yaml'))))).toMatch(/belongs to the engine/);
    expect(denial(hook('pre-tool-use', payloads.edit(p('README.md'))))).toMatch(/outside the experiment's scope/);
    expect(denial(hook('pre-tool-use', payloads.bash('git commit -am x')))).toMatch(/engine owns git/);
  });

  it('nothing is approved outside a live loop, or to a session that was not handed it', () => {
    writeActive();
    expect(decision(hook('pre-tool-use', payloads.bash(`${dist('status.mjs')}`, 'sess-new')))).toBeNull();
    expect(decision(hook('pre-tool-use', payloads.edit(p('src/work.mjs'), 'sess-new')))).toBeNull();
    own();
    for (const loop of ['paused', 'stopped'] as const) {
      writeActive({ loop });
      expect(decision(hook('pre-tool-use', payloads.bash(`${dist('status.mjs')}`)))).toBeNull();
      expect(decision(hook('pre-tool-use', payloads.edit(p('src/work.mjs'))))).toBeNull();
    }
  });

  it('after termination: engine calls, notes and the chain skill stay approved; in-scope edits do not', () => {
    own();
    writeActive({ loop: 'terminated', terminated_by: 'max_runs', chain_allowed: true });
    expect(decision(hook('pre-tool-use', payloads.bash(`${dist('report.mjs')}`)))).toBe('allow');
    expect(decision(hook('pre-tool-use', payloads.tool('sess-a', 'Skill', { skill: 'autoloop:chain' })))).toBe('allow');
    expect(decision(hook('pre-tool-use', payloads.write(p('.autoloop/experiments/speed/program.md'))))).toBe('allow');
    expect(decision(hook('pre-tool-use', payloads.edit(p('src/work.mjs'))))).toBeNull();
  });

  it('a model that ignores termination is halted after a bounded number of tool calls', () => {
    own();
    writeActive({ loop: 'terminated', terminated_by: 'max_runs' });
    let halted = null as PreOut | null; // set inside call()
    let calls = 0;
    const call = (): void => {
      calls++;
      const r = hook('pre-tool-use', payloads.edit(p('src/work.mjs')));
      const out = r.stdout.trim() ? (JSON.parse(r.stdout) as PreOut) : null;
      if (out?.continue === false) halted = out;
    };
    // The hook counts each call in session.json: the first three as they come, then (a Node start
    // each) the count is moved on to 28 in the file the hook itself wrote, and the calls go on.
    for (let i = 1; i <= 3; i++) {
      call();
      expect(readSession().past_end).toEqual({ key: expect.any(String), calls: i });
    }
    fs.writeFileSync(sessionFile(), JSON.stringify({ ...readSession(), past_end: { ...(readSession().past_end as object), calls: 28 } }, null, 2));
    calls = 28;
    while (!halted && calls < 100) call();
    expect(calls).toBe(31);
    expect(halted?.stopReason).toMatch(/terminated \(max_runs\) and this session made 30 more tool calls/);
    expect(halted?.hookSpecificOutput?.permissionDecision).toBe('deny');
    // Another session is not counted, and a new termination (a follow-up's) starts a new count.
    expect(hook('pre-tool-use', payloads.edit(p('src/work.mjs'), 'sess-other')).stdout).toBe('');
    writeActive({ experiment: 'speed-2', loop: 'terminated', terminated_by: 'target', runs: 3 });
    expect(hook('pre-tool-use', payloads.bash('git status')).stdout).not.toContain('"continue":false');
  });
});

describe('Stop', () => {
  const claim = (session = 'sess-a'): void => {
    const r = hook('post-tool-use', payloads.post(`node ${path.join(ROOT, 'dist', 'run-experiment.mjs')}`, session));
    expect(r.code).toBe(0);
  };
  const stop = (session = 'sess-a', env: Record<string, string> = {}): HookRun => hook('stop', payloads.stop(session, true), env);
  const block = (r: HookRun): string => {
    const out = json(r) as { decision?: string; reason?: string };
    expect(out.decision).toBe('block');
    return out.reason ?? '';
  };
  const allowedWith = (r: HookRun): string => {
    const out = json(r) as { decision?: string; systemMessage?: string };
    expect(out.decision).toBeUndefined();
    return out.systemMessage ?? '';
  };

  it('does not hold a session that never drove the engine', () => {
    writeActive();
    expect(hook('stop', payloads.stop('sess-a'))).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('blocks the owner with the next step and no question to the user', () => {
    const a = writeActive();
    claim();
    const reason = block(hook('stop', payloads.stop('sess-a', false)));
    expect(reason).toContain(a.next_action);
    expect(reason).toMatch(/Do not ask the user/);
    expect(reason.length).toBeLessThanOrEqual(2000);
    expect(readSession()).toMatchObject({ blocks: 1, idle_blocks: 1, last_runs: 5 });
  });

  // Found by the resume sweep: the block named active.json's next action ("one change, then
  // measure it"); a model that obeyed changed the tree and the engine logged the measured
  // run as invalid, its result lost. Through Node and through the shell (session id in the env).
  it.each<Record<string, string>>([{}, { CLAUDE_CODE_SESSION_ID: 'sess-a' }])('a run measured but not logged, or cut off, comes before any change (%o)', (env) => {
    const a = writeActive();
    claim();
    const record = (id: string, phase: string): void => {
      const dir = path.join(project, '.autoloop', 'experiments', 'speed', 'runs', id);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'result.json'), JSON.stringify({ run_id: id, phase }));
    };
    record('r0005', 'logged');
    record('r0006', 'measured');
    let reason = block(stop('sess-a', env));
    expect(reason).toMatch(/Next: A run was measured but not logged: log it first/);
    expect(reason).not.toContain(a.next_action);
    expect(reason).not.toMatch(/change code in scope/);
    record('r0006', 'running');
    expect(block(stop('sess-a', env))).toMatch(/Next: The last run was cut off/);
    record('r0006', 'logged');
    reason = block(stop('sess-a', env));
    expect(reason).toContain(a.next_action);
    expect(readSession()).toMatchObject({ blocks: 3 });
  });

  it('keeps the reason within 2,000 characters', () => {
    writeActive({ next_action: 'x'.repeat(4000) });
    claim();
    expect(block(stop()).length).toBeLessThanOrEqual(2000);
  });

  it('idle override: lets go after max_idle_blocks blocks without a new run, then starts over', () => {
    writeActive({ stop_hook: { max_blocks: 100, max_idle_blocks: 2 } });
    claim();
    block(stop());
    block(stop());
    expect(allowedWith(stop())).toMatch(/no new run was logged over the last 2 continuations/);
    // The next turn the user starts gets a fresh idle budget.
    block(stop());
  });

  it('progress (a new logged run) resets the idle streak', () => {
    writeActive({ stop_hook: { max_blocks: 100, max_idle_blocks: 2 } });
    claim();
    for (let runs = 6; runs < 12; runs++) {
      block(stop());
      writeActive({ runs, stop_hook: { max_blocks: 100, max_idle_blocks: 2 } });
    }
    expect(readSession()).toMatchObject({ blocks: 6, idle_blocks: 1 });
  });

  it('total cap: lets go after max_blocks blocks, with a message', () => {
    writeActive({ stop_hook: { max_blocks: 3, max_idle_blocks: 10 } });
    claim();
    for (let i = 0; i < 3; i++) block(stop());
    expect(allowedWith(stop())).toMatch(/already continued this session 3 times \(stop_hook.max_blocks = 3\)/);
    expect(allowedWith(stop())).toMatch(/max_blocks/);
  });

  it('candidates in flight after termination: held by the idle cap too, not up to max_blocks', () => {
    writeActive();
    claim();
    const over = { loop: 'terminated' as const, terminated_by: 'max_runs' as const, worktrees: [{ id: 'c1', path: '/nowhere/c1' }], stop_hook: { max_blocks: 100, max_idle_blocks: 2 } };
    writeActive(over);
    expect(block(stop())).toMatch(/still in flight \(c1\)/);
    block(stop());
    expect(allowedWith(stop())).toMatch(/nothing was logged over the last 2 continuations/);
    // A candidate logged since is progress: the session is held again for the one left.
    writeActive({ ...over, runs: 6 });
    expect(block(stop())).toMatch(/still in flight/);
  });

  it('/autoloop:run typed in the owner session after the total cap starts a new stint: the Stop hook blocks again', () => {
    writeActive({ stop_hook: { max_blocks: 2, max_idle_blocks: 10 } });
    claim();
    block(stop());
    block(stop());
    expect(allowedWith(stop())).toMatch(/already continued this session 2 times/);
    hook('prompt-expansion', payloads.expansion('autoloop:run', 'sess-a'));
    expect(readSession()).toMatchObject({ owner_session: 'sess-a', blocks: 0, idle_blocks: 0, candidate: null });
    block(stop());
    // Another plugin's skill is no new stint.
    block(stop());
    hook('prompt-expansion', payloads.expansion('other-plugin:run', 'sess-a'));
    expect(allowedWith(stop())).toMatch(/max_blocks = 2/);
  });

  it('a resume of the owner (a person bringing the loop back) starts a fresh Stop budget; a compaction does not, nor another session\'s resume', () => {
    writeActive({ stop_hook: { max_blocks: 2, max_idle_blocks: 10 } });
    claim();
    block(stop());
    block(stop());
    expect(allowedWith(stop())).toMatch(/already continued this session 2 times/);
    for (const source of ['compact', 'startup', 'clear']) {
      hook('session-start', payloads.sessionStart('sess-a', source));
      expect(allowedWith(stop())).toMatch(/max_blocks = 2/);
    }
    hook('session-start', payloads.sessionStart('sess-b', 'resume'));
    expect(allowedWith(stop())).toMatch(/max_blocks = 2/);
    const resumed = json(hook('session-start', payloads.sessionStart('sess-a', 'resume'))) as { hookSpecificOutput: { additionalContext: string } };
    expect(resumed.hookSpecificOutput.additionalContext).toContain(`Next: ${active().next_action}`);
    expect(readSession()).toMatchObject({ owner_session: 'sess-a', blocks: 0, idle_blocks: 0 });
    block(stop());
    block(stop());
    expect(allowedWith(stop())).toMatch(/max_blocks = 2/);
  });

  it('a resume of the owner halted past termination gives it a fresh count of calls to close the experiment', () => {
    writeActive();
    claim();
    writeActive({ loop: 'terminated', terminated_by: 'max_runs', runs: 9 });
    const status = `node "${path.join(ROOT, 'dist', 'status.mjs')}"`;
    for (let i = 0; i < 31; i++) hook('pre-tool-use', payloads.bash(status, 'sess-a'));
    expect(json(hook('pre-tool-use', payloads.bash(status, 'sess-a'))).continue).toBe(false);
    hook('session-start', payloads.sessionStart('sess-a', 'compact'));
    expect(json(hook('pre-tool-use', payloads.bash(status, 'sess-a'))).continue).toBe(false);
    hook('session-start', payloads.sessionStart('sess-a', 'resume'));
    expect(readSession()).toMatchObject({ past_end: null });
    expect(json(hook('pre-tool-use', payloads.bash(status, 'sess-a'))).continue).toBeUndefined();
  });

  it('max_blocks 0 never blocks', () => {
    writeActive({ stop_hook: { max_blocks: 0, max_idle_blocks: 3 } });
    claim();
    expect(allowedWith(stop())).toMatch(/max_blocks = 0/);
  });

  it('never blocks another session, even while the owner is blocked', () => {
    writeActive();
    claim('sess-a');
    block(stop('sess-a'));
    expect(stop('sess-b')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readSession()).toMatchObject({ owner_session: 'sess-a', blocks: 1 });
  });

  it('lets the session end once the loop is stopped or paused', () => {
    writeActive();
    claim();
    block(stop());
    for (const loop of ['stopped', 'paused'] as const) {
      writeActive({ loop });
      expect(stop().stdout).toBe('');
    }
  });

  it('terminated with chain budget: one nudge to /autoloop:chain per termination', () => {
    writeActive();
    claim();
    writeActive({ loop: 'terminated', terminated_by: 'plateau', chain_allowed: true, runs: 9 });
    expect(block(stop())).toBe('autoloop: experiment terminated (plateau); the chain budget allows a follow-up: run /autoloop:chain');
    expect(stop().stdout).toBe('');
    // A later termination (the follow-up experiment) gets its own nudge.
    writeActive({ experiment: 'speed-2', loop: 'terminated', terminated_by: 'target', chain_allowed: true, runs: 4 });
    expect(block(stop())).toMatch(/terminated \(target\)/);
  });

  it('terminated without chain budget, or for another session: no block', () => {
    writeActive();
    claim();
    writeActive({ loop: 'terminated', terminated_by: 'max_runs', chain_allowed: false });
    expect(stop().stdout).toBe('');
    writeActive({ loop: 'terminated', terminated_by: 'max_runs', chain_allowed: true });
    expect(stop('sess-b').stdout).toBe('');
  });

  it('AUTOLOOP_STOP_HOOK=off disables blocking', () => {
    writeActive();
    claim();
    expect(stop('sess-a', { AUTOLOOP_STOP_HOOK: 'off' }).stdout).toBe('');
    block(stop());
  });

  it('a corrupt session.json starts over instead of failing', () => {
    writeActive();
    claim();
    fs.writeFileSync(sessionFile(), '{"owner_session": 42');
    const r = stop();
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/session\.json/);
  });
});

describe('the MCP server\'s tools (mcp__plugin_autoloop_engine__*): engine calls as the Bash ones are', () => {
  const mcp = (tool: string, session: string, args: string[] = ['--description', 'try memo']) => payloads.tool(session, `mcp__plugin_autoloop_engine__${tool}`, { args });
  const post = (tool: string, session: string) => ({ ...mcp(tool, session), hook_event_name: 'PostToolUse', tool_response: [{ type: 'text', text: 'r0006 keep' }] });

  it('approves them for the loop\'s session with no prompt, and leaves another server\'s tools alone', () => {
    writeActive();
    // Unowned: approvals go to the owner and the sessions handed the loop, as for the Bash engine calls.
    expect(decision(hook('pre-tool-use', mcp('run', 'sess-a')))).toBe(decision(hook('pre-tool-use', payloads.bash(`node "${path.join(ROOT, 'dist', 'run-experiment.mjs')}" --description x`, 'sess-a'))));
    writeSession({ owner_session: 'sess-a' });
    expect(decision(hook('pre-tool-use', mcp('run', 'sess-a')))).toBe('allow');
    expect(decision(hook('pre-tool-use', mcp('status', 'sess-a', [])))).toBe('allow');
    expect(decision(hook('pre-tool-use', payloads.tool('sess-a', 'mcp__plugin_other_engine__run', { args: [] })))).toBeNull();
    expect(decision(hook('pre-tool-use', payloads.tool('sess-a', 'mcp__plugin_autoloop_engine__rm', { args: [] })))).toBeNull();
    // Owned by another session: no approval for this one, as for its Bash engine calls.
    writeSession({ owner_session: 'sess-owner' });
    expect(decision(hook('pre-tool-use', mcp('run', 'sess-b')))).toBeNull();
    expect(decision(hook('pre-tool-use', mcp('run', 'sess-owner')))).toBe('allow');
  });

  it('counts a run or log that ran as driving the loop (the claim), a status not', () => {
    writeActive();
    writeSession({ owner_session: 'sess-a', last_runs: 5 });
    hook('post-tool-use', post('status', 'sess-b'));
    expect(readSession()).toMatchObject({ owner_session: 'sess-a' });
    hook('post-tool-use', post('run', 'sess-b'));
    expect(readSession()).toMatchObject({ owner_session: 'sess-b', last_runs: 5 });
    hook('post-tool-use', post('log', 'sess-c'));
    expect(readSession()).toMatchObject({ owner_session: 'sess-c' });
  });
});
