// Who drives the loop when the owner's conversation changes id in the same
// Claude Code process (/clear), or is copied into a new one (--fork-session),
// through `sh hooks/run.sh <event>` and the real Node hook. The hook server
// (test/hook-server.ts) is the hooks' parent, as Claude Code's process is
// theirs; a second server is another Claude Code process. And the shell's
// own answer for calls of a session outside a loop someone else drives: none,
// with no Node start, where the guard is not that session's.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ActiveFile, type ActiveFile as Active } from '../scripts/lib/schema.ts';
import { procStart } from '../scripts/lib/procs.ts';
import { HookServer, type HookRun } from './hook-server.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUN_SH = path.join(ROOT, 'hooks', 'run.sh');
const OWNER = 'sess-owner';

let scratch: string;
let project: string;
let fakeBin: string;
let marker: string;
let cli: HookServer; // the owner's Claude Code process
let otherCli: HookServer; // another one

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'hooks.cjs'))) throw new Error('dist/hooks.cjs is missing: run npm run build');
  cli = new HookServer();
  otherCli = new HookServer();
});
afterAll(() => {
  cli.close();
  otherCli.close();
});

beforeEach(() => {
  scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-handover-')));
  project = path.join(scratch, 'repo');
  for (const d of ['.git', 'src', 'bench', '.autoloop/experiments/speed']) fs.mkdirSync(path.join(project, d), { recursive: true });
  fakeBin = path.join(scratch, 'fakebin');
  marker = path.join(scratch, 'node-was-started');
  fs.mkdirSync(fakeBin);
  fs.writeFileSync(path.join(fakeBin, 'node'), `#!/bin/sh\n: > '${marker}'\n`, { mode: 0o755 });
  writeActive();
});
afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

function writeActive(over: Partial<Active> = {}): void {
  const a = ActiveFile.parse({
    version: 1,
    experiment: 'speed',
    loop: 'active',
    scope: ['src/**'],
    protect: ['bench/bench.mjs'],
    writable: [],
    summary: 'SUMMARY-H best 41 ms.',
    next_action: 'NEXT-H try a lookup table.',
    terminated_by: null,
    chain_allowed: false,
    runs: 5,
    stop_hook: { max_blocks: 500, max_idle_blocks: 3 },
    updated_at: '2026-11-30T08:00:00.000Z',
    ...over,
  });
  fs.writeFileSync(path.join(project, '.autoloop', 'active.json'), JSON.stringify(a));
}

const sessionFile = (): string => path.join(project, '.autoloop', 'session.json');
const readSession = (): Record<string, unknown> => JSON.parse(fs.readFileSync(sessionFile(), 'utf8')) as Record<string, unknown>;
function writeSession(over: Record<string, unknown>): void {
  const s = { owner_session: OWNER, owner_agent: null, blocks: 0, idle_blocks: 0, last_runs: 5, chain_nudged: null, candidate: null, past_end: null, ...over };
  fs.writeFileSync(sessionFile(), `${JSON.stringify(s, null, 2)}\n`);
}
const processOf = (s: HookServer): string => `${s.pid}@${procStart(s.pid) ?? ''}`;

/** One hook call from this Claude Code process; with fake, a node that only marks that it was started. */
function hook(from: HookServer, event: string, payload: object, sid: string, fake = false): HookRun & { node: boolean } {
  fs.rmSync(marker, { force: true });
  const env = {
    PATH: `${fake ? `${fakeBin}:` : ''}${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: scratch,
    CLAUDE_PLUGIN_ROOT: ROOT,
    CLAUDE_PROJECT_DIR: project,
    CLAUDE_CODE_SESSION_ID: sid,
  };
  const r = from.run(RUN_SH, event, JSON.stringify(payload), project, env);
  expect(r.status).toBe(0);
  return { ...r, node: fs.existsSync(marker) };
}
const common = (sid: string) => ({ session_id: sid, transcript_path: path.join(scratch, `${sid}.jsonl`), cwd: project });
const start = (sid: string, source: string) => ({ ...common(sid), hook_event_name: 'SessionStart', source });
const context = (r: HookRun): string => (r.stdout ? (JSON.parse(r.stdout) as { hookSpecificOutput: { additionalContext: string } }).hookSpecificOutput.additionalContext : '');
const engineCall = (sid: string) => ({
  ...common(sid),
  hook_event_name: 'PostToolUse',
  tool_name: 'Bash',
  tool_input: { command: `node "${ROOT}/dist/run-experiment.mjs" --json`, description: 'measure' },
  tool_response: { stdout: '{}', stderr: '' },
});

describe('/clear in the owner\'s process', () => {
  it('the claim records the owner\'s process, in the shell and in Node alike', () => {
    fs.rmSync(sessionFile(), { force: true });
    hook(cli, 'post-tool-use', engineCall(OWNER), OWNER); // answered in the shell (claim.sh)
    expect(readSession()).toMatchObject({ owner_session: OWNER, owner_process: processOf(cli) });
    const shellText = fs.readFileSync(sessionFile(), 'utf8');
    // The same claim made by Node (an agent name the shell leaves to it is not needed: a piped call is Node's).
    fs.rmSync(sessionFile(), { force: true });
    hook(cli, 'post-tool-use', { ...engineCall(OWNER), tool_input: { command: `node "${ROOT}/dist/run-experiment.mjs" --json | tail -3` } }, OWNER);
    expect(fs.readFileSync(sessionFile(), 'utf8')).toBe(shellText);
  });

  it('hands the loop to the new id: state and rules, a fresh Stop budget, and the Stop hook holds it', () => {
    writeSession({ blocks: 500, idle_blocks: 2, owner_process: processOf(cli), owner_agent: 'autoloop:autoloop' });
    const r = hook(cli, 'session-start', start('sess-cleared', 'clear'), 'sess-cleared');
    expect(context(r)).toContain('Rules while the loop runs');
    expect(context(r)).toContain('NEXT-H');
    expect(readSession()).toMatchObject({ owner_session: 'sess-cleared', owner_agent: 'autoloop:autoloop', blocks: 0, idle_blocks: 0, owner_process: processOf(cli) });
    const stop = hook(cli, 'stop', { ...common('sess-cleared'), hook_event_name: 'Stop', stop_hook_active: false }, 'sess-cleared');
    expect(stop.stdout).toMatch(/"decision":"block"/);
    // The old id is no longer the loop's: its Stop is let go.
    expect(hook(cli, 'stop', { ...common(OWNER), hook_event_name: 'Stop', stop_hook_active: false }, OWNER).stdout).toBe('');
  });

  it('a /clear in another process, or with the owner\'s process unknown, is another session: one line, nothing handed over', () => {
    for (const recorded of [processOf(otherCli), null]) {
      writeSession({ owner_process: recorded });
      const before = fs.readFileSync(sessionFile(), 'utf8');
      const r = hook(cli, 'session-start', start('sess-elsewhere', 'clear'), 'sess-elsewhere');
      expect(context(r)).toMatch(/driven by another session/);
      expect(context(r)).not.toContain('Rules while the loop runs');
      expect(fs.readFileSync(sessionFile(), 'utf8')).toBe(before);
    }
  });

  it('the owner seen in a new process (a resume) has it recorded, so a later /clear there is recognised', () => {
    writeSession({ owner_process: processOf(otherCli) });
    const r = hook(cli, 'session-start', start(OWNER, 'resume'), OWNER);
    expect(context(r)).toContain('Rules while the loop runs');
    expect(readSession()).toMatchObject({ owner_session: OWNER, owner_process: processOf(cli) });
    // From then on the owner's SessionStart is the shell's again.
    expect(hook(cli, 'session-start', start(OWNER, 'compact'), OWNER, true).node).toBe(false);
    hook(cli, 'session-start', start('sess-next', 'clear'), 'sess-next');
    expect(readSession()).toMatchObject({ owner_session: 'sess-next' });
  });
});

describe('/clear in a session handed the loop (/autoloop:run typed in another terminal) that has not driven it yet', () => {
  const typed = (sid: string) => ({ ...common(sid), hook_event_name: 'UserPromptExpansion', expansion_type: 'slash_command', command_name: 'autoloop:run', command_args: '', prompt: '/autoloop:run' });
  const status = (sid: string) => ({ ...common(sid), hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: `node "${ROOT}/dist/status.mjs"` }, tool_use_id: 'toolu_1' });

  it('the handover records the candidate\'s process; a /clear there hands it to the new id (state, approvals), with the owner elsewhere or nobody owning the loop', () => {
    for (const owner of [OWNER, null]) {
      writeSession({ owner_session: owner, owner_process: processOf(otherCli) });
      hook(cli, 'prompt-expansion', typed('sess-b'), 'sess-b');
      expect(readSession()).toMatchObject({ owner_session: owner, candidate: 'sess-b', candidate_process: processOf(cli) });
      const r = hook(cli, 'session-start', start('sess-b2', 'clear'), 'sess-b2');
      expect(context(r)).toContain('Rules while the loop runs');
      expect(context(r)).not.toContain('driven by another session');
      expect(readSession()).toMatchObject({ owner_session: owner, candidate: 'sess-b2', candidate_process: processOf(cli) });
      // Its engine calls are approved, as the candidate's are.
      expect(hook(cli, 'pre-tool-use', status('sess-b2'), 'sess-b2').stdout).toContain('"permissionDecision":"allow"');
    }
  });

  it('a /clear in another process does not take the handover; the candidate resumed elsewhere has that process recorded', () => {
    writeSession({ owner_process: '1@1' }); // the owner runs in a third process
    hook(cli, 'prompt-expansion', typed('sess-b'), 'sess-b');
    const before = fs.readFileSync(sessionFile(), 'utf8');
    expect(context(hook(otherCli, 'session-start', start('sess-c', 'clear'), 'sess-c'))).toMatch(/driven by another session/);
    expect(fs.readFileSync(sessionFile(), 'utf8')).toBe(before);
    // The candidate brought back in another process (claude --resume): a /clear there is its.
    expect(context(hook(otherCli, 'session-start', start('sess-b', 'resume'), 'sess-b'))).toContain('Rules while the loop runs');
    expect(readSession()).toMatchObject({ candidate: 'sess-b', candidate_process: processOf(otherCli) });
    hook(otherCli, 'session-start', start('sess-b3', 'clear'), 'sess-b3');
    expect(readSession()).toMatchObject({ candidate: 'sess-b3' });
  });

  it('two sessions typing /autoloop:run at once: one candidate of the two, a whole session.json, and only its calls approved', async () => {
    const once = (sid: string): Promise<number | null> =>
      new Promise((resolve) => {
        const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch, CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: project, CLAUDE_CODE_SESSION_ID: sid };
        const child = spawn('sh', [RUN_SH, 'prompt-expansion'], { cwd: project, env, stdio: ['pipe', 'ignore', 'ignore'] });
        child.on('close', resolve);
        child.stdin.end(JSON.stringify(typed(sid)));
      });
    for (let round = 0; round < 5; round++) {
      writeSession({ owner_process: '1@1' });
      expect(await Promise.all([once('sess-b'), once('sess-c')])).toEqual([0, 0]);
      const s = readSession();
      expect(s).toMatchObject({ owner_session: OWNER, owner_process: '1@1' });
      expect(['sess-b', 'sess-c']).toContain(s.candidate);
      const [winner, loser] = s.candidate === 'sess-b' ? ['sess-b', 'sess-c'] : ['sess-c', 'sess-b'];
      expect(hook(cli, 'pre-tool-use', status(winner), winner).stdout).toContain('"permissionDecision":"allow"');
      expect(hook(cli, 'pre-tool-use', status(loser), loser).stdout).toBe('');
    }
  });

  it('the Stop hook\'s shell answer keeps the candidate\'s process (the owner\'s block rewrites session.json)', () => {
    writeSession({ owner_process: processOf(otherCli), candidate: 'sess-b', candidate_process: processOf(cli) });
    const stop = hook(otherCli, 'stop', { ...common(OWNER), hook_event_name: 'Stop', stop_hook_active: false }, OWNER, true);
    expect([stop.node, stop.stdout]).toEqual([false, expect.stringContaining('"decision":"block"')]);
    expect(readSession()).toMatchObject({ blocks: 1, candidate: 'sess-b', candidate_process: processOf(cli) });
    hook(cli, 'session-start', start('sess-b2', 'clear'), 'sess-b2');
    expect(readSession()).toMatchObject({ candidate: 'sess-b2' });
  });
});

describe('an old conversation resumed after the loop was handed on', () => {
  it('the former owner and the former candidate, resumed in any process, are other sessions: one line, nothing written, not held, not approved', () => {
    // The loop went from OWNER to sess-b2 (a /clear of the candidate sess-b, which then drove it).
    writeSession({ owner_session: 'sess-b2', owner_process: processOf(otherCli), candidate: null });
    const before = fs.readFileSync(sessionFile(), 'utf8');
    for (const [from, sid] of [[cli, OWNER], [otherCli, OWNER], [cli, 'sess-b']] as const) {
      const r = hook(from, 'session-start', start(sid, 'resume'), sid);
      expect([sid, context(r)]).toEqual([sid, expect.stringMatching(/driven by another session/)]);
      expect(context(r)).not.toContain('Rules while the loop runs');
      expect(fs.readFileSync(sessionFile(), 'utf8')).toBe(before);
      const stop = hook(from, 'stop', { ...common(sid), hook_event_name: 'Stop', stop_hook_active: false }, sid, true);
      expect([stop.node, stop.stdout]).toEqual([false, '']);
      const pre = hook(from, 'pre-tool-use', { ...common(sid), hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: `node "${ROOT}/dist/status.mjs"` }, tool_use_id: 'toolu_1' }, sid);
      expect(pre.stdout).toBe('');
    }
    // The new owner's own resume in another process is still the loop's (its process recorded).
    expect(context(hook(cli, 'session-start', start('sess-b2', 'resume'), 'sess-b2'))).toContain('Rules while the loop runs');
    expect(readSession()).toMatchObject({ owner_session: 'sess-b2', owner_process: processOf(cli) });
  });
});

describe('/clear of an owner whose process was never recorded (a loop claimed by an earlier version)', () => {
  const end = (sid: string) => ({ ...common(sid), hook_event_name: 'SessionEnd', reason: 'clear' });

  it('SessionEnd of the owner\'s conversation records its process, and the SessionStart that follows hands the loop over', () => {
    writeSession({ owner_process: null, blocks: 7 });
    hook(cli, 'session-end', end(OWNER), OWNER);
    expect(readSession()).toMatchObject({ owner_session: OWNER, owner_process: processOf(cli), blocks: 7 });
    const r = hook(cli, 'session-start', start('sess-cleared', 'clear'), 'sess-cleared');
    expect(context(r)).toContain('Rules while the loop runs');
    expect(readSession()).toMatchObject({ owner_session: 'sess-cleared', blocks: 0 });
  });

  it('another session\'s SessionEnd starts no Node and changes nothing; the owner\'s with another reason records nothing', () => {
    writeSession({ owner_process: null });
    const before = fs.readFileSync(sessionFile(), 'utf8');
    const other = hook(cli, 'session-end', end('sess-b'), 'sess-b', true);
    expect([other.node, other.stdout]).toEqual([false, '']);
    hook(cli, 'session-end', { ...end(OWNER), reason: 'other' }, OWNER);
    expect(fs.readFileSync(sessionFile(), 'utf8')).toBe(before);
    // And hooks.json sends SessionEnd to the hook for /clear only (each session's exit costs nothing).
    const hooks = JSON.parse(fs.readFileSync(path.join(ROOT, 'hooks', 'hooks.json'), 'utf8')) as { hooks: { SessionEnd: { matcher: string }[] } };
    expect(hooks.hooks.SessionEnd.map((h) => h.matcher)).toEqual(['clear|resume']);
  });
});

describe('/clear of a session handed the loop by an earlier version (no candidate_process saved)', () => {
  const end = (sid: string, reason = 'clear') => ({ ...common(sid), hook_event_name: 'SessionEnd', reason });

  it('SessionEnd of the candidate\'s conversation records its process, and the SessionStart that follows keeps the handover', () => {
    for (const owner of [OWNER, null]) {
      writeSession({ owner_session: owner, owner_process: processOf(otherCli), candidate: 'sess-b' }); // no candidate_process: the old shape
      expect(readSession()).not.toHaveProperty('candidate_process');
      hook(cli, 'session-end', end('sess-b'), 'sess-b');
      expect(readSession()).toMatchObject({ owner_session: owner, owner_process: processOf(otherCli), candidate: 'sess-b', candidate_process: processOf(cli) });
      const r = hook(cli, 'session-start', start('sess-b2', 'clear'), 'sess-b2');
      expect(context(r)).toContain('Rules while the loop runs');
      expect(context(r)).not.toContain('driven by another session');
      expect(readSession()).toMatchObject({ owner_session: owner, candidate: 'sess-b2', candidate_process: processOf(cli) });
    }
  });

  it('a candidate whose process is recorded, or another reason, writes nothing; a /clear elsewhere still takes nothing', () => {
    writeSession({ owner_process: processOf(otherCli), candidate: 'sess-b', candidate_process: processOf(cli) });
    const recorded = fs.readFileSync(sessionFile(), 'utf8');
    hook(cli, 'session-end', end('sess-b'), 'sess-b');
    expect(fs.readFileSync(sessionFile(), 'utf8')).toBe(recorded);
    writeSession({ owner_process: processOf(otherCli), candidate: 'sess-b' });
    const old = fs.readFileSync(sessionFile(), 'utf8');
    hook(cli, 'session-end', end('sess-b', 'other'), 'sess-b');
    expect(fs.readFileSync(sessionFile(), 'utf8')).toBe(old);
    // Recorded in this process: a /clear in the owner's process is the owner's, not the candidate's.
    hook(cli, 'session-end', end('sess-b'), 'sess-b');
    hook(otherCli, 'session-start', start('sess-o2', 'clear'), 'sess-o2');
    expect(readSession()).toMatchObject({ owner_session: 'sess-o2', candidate: 'sess-b', candidate_process: processOf(cli) });
  });
});

describe('--fork-session of the owner', () => {
  it('is told the loop is driven elsewhere and its copied instructions are not its own; the owner keeps the loop', () => {
    writeSession({ owner_process: processOf(otherCli) });
    const before = fs.readFileSync(sessionFile(), 'utf8');
    const r = hook(cli, 'session-start', start('sess-fork', 'fork'), 'sess-fork');
    expect(context(r)).toMatch(/driven by another session.*This conversation is a fork/);
    expect(context(r)).not.toContain('Rules while the loop runs');
    expect(fs.readFileSync(sessionFile(), 'utf8')).toBe(before);
    // hooks.json sends the fork's SessionStart to the hook at all.
    const hooks = JSON.parse(fs.readFileSync(path.join(ROOT, 'hooks', 'hooks.json'), 'utf8')) as { hooks: { SessionStart: { matcher: string }[] } };
    expect(hooks.hooks.SessionStart.some((h) => new RegExp(`^(${h.matcher})$`).test('fork'))).toBe(true);
  });

  it('/branch in the owner\'s process (source fork there, the old conversation ended with reason resume) hands the branch the loop', () => {
    writeSession({ owner_process: null, blocks: 4 });
    hook(cli, 'session-end', { ...common(OWNER), hook_event_name: 'SessionEnd', reason: 'resume' }, OWNER);
    const r = hook(cli, 'session-start', start('sess-branch', 'fork'), 'sess-branch');
    expect(context(r)).toContain('Rules while the loop runs');
    expect(readSession()).toMatchObject({ owner_session: 'sess-branch', blocks: 0, owner_process: processOf(cli) });
  });

  it('a fork while nobody owns the loop gets its state, as any session then does', () => {
    writeSession({ owner_session: null });
    expect(context(hook(cli, 'session-start', start('sess-fork', 'fork'), 'sess-fork'))).toContain('Rules while the loop runs');
  });
});

describe('another session\'s PreToolUse and Stop: no Node start where its answer is none', () => {
  const pre = (sid: string, tool: string, input: object, extra: object = {}) => ({ ...common(sid), hook_event_name: 'PreToolUse', tool_name: tool, tool_input: input, tool_use_id: 'toolu_1', ...extra });
  const protectedEdit = (sid: string, extra: object = {}) => pre(sid, 'Edit', { file_path: path.join(project, 'bench/bench.mjs'), old_string: 'a', new_string: 'b' }, extra);

  it('answers nothing in the shell for a session outside a loop another session drives', () => {
    writeSession({});
    for (const payload of [
      pre('sess-b', 'Bash', { command: 'git reset --hard' }),
      protectedEdit('sess-b'),
      pre('sess-b', 'Write', { file_path: path.join(project, 'bench/big.mjs'), content: 'x'.repeat(50_000) }),
    ]) {
      const r = hook(cli, payload.tool_name === 'Write' ? 'pre-write' : 'pre-tool-use', payload, 'sess-b', true);
      expect([payload.tool_name, r.node, r.stdout]).toEqual([payload.tool_name, false, '']);
    }
    const stop = hook(cli, 'stop', { ...common('sess-b'), hook_event_name: 'Stop', stop_hook_active: false, last_assistant_message: 'done "quoted"\n' }, 'sess-b', true);
    expect([stop.node, stop.stdout]).toEqual([false, '']);
    expect(fs.existsSync(path.join(project, '.autoloop', 'journal'))).toBe(false);
  });

  it('never in place of the guard: an unowned loop, a candidate, the autoloop agent, a malformed session.json, or an escaped id are Node\'s, which denies', () => {
    const cases: Array<[string, () => void, object]> = [
      ['nobody owns the loop', () => writeSession({ owner_session: null }), protectedEdit('sess-b')],
      ['the session handed the loop', () => writeSession({ candidate: 'sess-b' }), protectedEdit('sess-b')],
      ['the autoloop agent', () => writeSession({}), protectedEdit('sess-b', { agent_type: 'autoloop:autoloop' })],
      ['a malformed session.json (Node: nobody owns it)', () => fs.writeFileSync(sessionFile(), '{"owner_session": "sess-a",'), protectedEdit('sess-b')],
      ['the owner spelt with an escape', () => writeSession({}), JSON.parse(JSON.stringify(protectedEdit('sess-b')).replace('"session_id":"sess-b"', `"session_id":"${OWNER.replace('o', '\\u006f')}"`)) as object],
    ];
    for (const [name, setup, payload] of cases) {
      setup();
      expect([name, hook(cli, 'pre-tool-use', payload, 'sess-b', true).node]).toEqual([name, true]);
      setup();
      expect([name, hook(cli, 'pre-tool-use', payload, 'sess-b').stdout]).toEqual([name, expect.stringContaining('"permissionDecision":"deny"')]);
    }
  });
});

describe('a paused or stopped loop: PreToolUse and Stop answer nothing to anyone, with no Node start', () => {
  const edit = (sid: string) => ({ ...common(sid), hook_event_name: 'PreToolUse', tool_name: 'Edit', tool_input: { file_path: path.join(project, 'bench/bench.mjs'), old_string: 'a', new_string: 'b' } });
  const stop = (sid: string) => ({ ...common(sid), hook_event_name: 'Stop', stop_hook_active: false });

  it('the owner and another session alike; Node agrees; a terminated loop keeps its guard', () => {
    for (const loop of ['paused', 'stopped'] as const) {
      writeActive({ loop });
      for (const owner of [OWNER, null]) {
        writeSession({ owner_session: owner });
        const before = fs.readFileSync(sessionFile(), 'utf8');
        for (const sid of [OWNER, 'sess-b']) {
          for (const [event, payload] of [['pre-tool-use', edit(sid)], ['stop', stop(sid)]] as const) {
            const name = `${loop} ${owner} ${sid} ${event}`;
            const r = hook(cli, event, payload, sid, true);
            expect([name, r.node, r.stdout]).toEqual([name, false, '']);
            expect([name, hook(cli, event, payload, sid).stdout]).toEqual([name, '']); // the real run: the same
          }
        }
        expect(fs.readFileSync(sessionFile(), 'utf8')).toBe(before);
      }
    }
    writeActive({ loop: 'terminated', terminated_by: 'plateau' });
    writeSession({ owner_session: null });
    expect(hook(cli, 'pre-tool-use', edit('sess-b'), 'sess-b').stdout).toContain('"permissionDecision":"deny"');
  });
});
