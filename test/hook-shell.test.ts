// hooks/pre-tool-use.sh decides the owner's engine commands in the shell. It
// may only ever give the Node hook's decision or defer to Node. Differential
// test: each payload goes through `sh hooks/run.sh pre-tool-use` with a fake
// `node` on PATH (so a deferral shows as a marker file and prints nothing) and
// through the Node hook's own code; wherever the shell answered, its stdout
// must be Node's. A table of named cases, then generated payloads (engine
// commands with injected metacharacters, quotes, escapes, other sessions,
// other scripts, fake plugin roots, JSON spellings the shell must not trust).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { analyzeBash } from '../hooks/src/bash-guard.ts';
import { preToolUseOutput } from '../hooks/src/on-pre.ts';
import { postToolUseDecision } from '../hooks/src/post-tool-use.ts';
import { preToolUseDecision } from '../hooks/src/pre-tool-use.ts';
import { PostToolUseInput, PreToolUseInput, SessionStartInput, StopInput } from '../hooks/src/schema.ts';
import { files, latestRunPhase, readActive, readSession, writeSession as writeHookSession } from '../hooks/src/state.ts';
import { stopDecision } from '../hooks/src/stop.ts';
import { sessionStartDecision } from '../hooks/src/session-start.ts';
import { cliProcess } from '../hooks/src/cli-process.ts';
import { ActiveFile, type ActiveFile as Active } from '../scripts/lib/schema.ts';
import { HookServer, type HookRun } from './hook-server.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUN_SH = path.join(ROOT, 'hooks', 'run.sh');
const OWNER = 'sess-a';

let scratch: string;
let project: string;
let fakeBin: string;
let marker: string;
let recBin: string;
let recorded: string;
let server: HookServer;

/** `/bin/sh hooks/run.sh <event>` in the project with this environment and stdin (test/hook-server.ts: a fresh sh per call). */
const runHook = (event: string, input: string, env: Record<string, string>): HookRun => server.run(RUN_SH, event, input, project, env);

const activeJson = (over: Partial<Active> = {}): Active =>
  ActiveFile.parse({
    version: 1,
    experiment: 'speed',
    loop: 'active',
    scope: ['src/**'],
    protect: ['bench/bench.mjs'],
    writable: ['.autoloop/experiments/speed/program.md'],
    summary: 'Experiment speed: best 41 ms. "loop": "active" quoted in text changes nothing.',
    next_action: 'Try a lookup table.',
    terminated_by: null,
    chain_allowed: false,
    runs: 5,
    stop_hook: { max_blocks: 500, max_idle_blocks: 3 },
    updated_at: '2026-11-29T08:00:00.000Z',
    ...over,
  });

/** The engine writes active.json compact (writeJsonCache); the tests of hooks.test.ts write it indented: both spellings. */
function writeActive(over: Partial<Active> = {}, pretty = false): void {
  const a = activeJson(over);
  fs.writeFileSync(path.join(project, '.autoloop', 'active.json'), `${pretty ? JSON.stringify(a, null, 2) : JSON.stringify(a)}\n`);
}

function writeSession(owner: string | null = OWNER): void {
  const s = { owner_session: owner, owner_agent: null, blocks: 0, idle_blocks: 0, last_runs: 5, chain_nudged: null, candidate: null, past_end: null };
  fs.writeFileSync(path.join(project, '.autoloop', 'session.json'), `${JSON.stringify(s, null, 2)}\n`);
}

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'hooks.cjs'))) throw new Error('dist/hooks.cjs is missing: run npm run build');
  scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-hook-shell-')));
  project = path.join(scratch, 'repo');
  for (const d of ['.git', 'src', 'bench', '.autoloop/experiments/speed']) fs.mkdirSync(path.join(project, d), { recursive: true });
  fakeBin = path.join(scratch, 'fakebin');
  marker = path.join(scratch, 'node-was-started');
  fs.mkdirSync(fakeBin);
  fs.writeFileSync(path.join(fakeBin, 'node'), `#!/bin/sh\n: > '${marker}'\n`, { mode: 0o755 });
  // A node that records how run.sh started it and what it read (real() below).
  recBin = path.join(scratch, 'recbin');
  recorded = path.join(scratch, 'recorded');
  fs.mkdirSync(recBin);
  fs.mkdirSync(recorded);
  fs.writeFileSync(
    path.join(recBin, 'node'),
    `#!/bin/sh\nprintf '%s\\n' "$@" >'${recorded}/argv'\nprintf '%s' "$AUTOLOOP_PROJECT_DIR" >'${recorded}/project'\nexec cat >'${recorded}/stdin'\n`,
    { mode: 0o755 },
  );
  fs.symlinkSync(ROOT, spaced());
  server = new HookServer();
});

/** The plugin reached through a link whose name has a space: Node approves, the shell defers. */
const spaced = (): string => path.join(scratch, 'plugin root');

afterAll(() => {
  server.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

beforeEach(() => {
  writeActive();
  writeSession();
});

interface Env {
  sid?: string | undefined;
  root?: string;
  /** More of the hook's environment (CDPATH). */
  extra?: Record<string, string>;
}

const hookEnv = (e: Env): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: scratch,
  CLAUDE_PLUGIN_ROOT: e.root ?? ROOT,
  CLAUDE_PROJECT_DIR: project,
  // The Claude Code process run.sh names (its parent, here the hook server): the Node side's view of it.
  AUTOLOOP_CLI_PID: String(server.pid),
  ...(e.sid === undefined ? {} : { CLAUDE_CODE_SESSION_ID: e.sid }),
  ...e.extra,
});

/** The shell's answer: its stdout, or 'deferred' when it started (the fake) node. */
function shell(payload: string, e: Env, event = 'pre-tool-use'): string {
  fs.rmSync(marker, { force: true });
  const env = hookEnv(e);
  const r = runHook(event, payload, { ...env, PATH: `${fakeBin}:${env.PATH}` });
  expect(r.status).toBe(0);
  expect(r.stderr).toBe('');
  if (fs.existsSync(marker)) {
    expect(r.stdout).toBe('');
    return 'deferred';
  }
  return r.stdout;
}

/** The Node hook's answer, from its own code (hooks/src/on-pre.ts without the process around it). */
function node(payload: string, e: Env): string {
  let raw: unknown;
  try {
    raw = JSON.parse(payload);
  } catch {
    return '';
  }
  const input = PreToolUseInput.safeParse(raw);
  if (!input.success) return '';
  const f = files(project);
  const active = readActive(f);
  if (!active) return '';
  const r = preToolUseDecision(input.data, active, readSession(f), project, hookEnv(e), analyzeBash);
  const out = preToolUseOutput(r);
  return out ? `${JSON.stringify(out)}\n` : '';
}

/** The attribution journal's W lines (scripts/lib/journal.ts), emptied for the next call. */
const journalFile = (): string => path.join(project, '.autoloop', 'journal');
function takeJournal(): string[] {
  const text = fs.existsSync(journalFile()) ? fs.readFileSync(journalFile(), 'utf8') : '';
  fs.rmSync(journalFile(), { force: true });
  return text.split('\n').filter((l) => l.startsWith('W '));
}

/** The W lines the Node hook would journal for this payload. */
function nodeJournal(payload: string, e: Env): string[] {
  const f = files(project);
  const r = preToolUseDecision(PreToolUseInput.parse(JSON.parse(payload)), readActive(f)!, readSession(f), project, hookEnv(e), analyzeBash);
  return r.journal.filter((l) => l.startsWith('W '));
}

let calls = 0;
/**
 * The same call through run.sh, where it defers: Node's answer to what the shell hands it. Every
 * fourth call (and any call with spawnNode) starts the real Node hook (dist/hooks.cjs); the others
 * start a recorder in node's place and ask the Node hook's own code (node() above) about the bytes
 * it was handed, after checking the script, the event and the project it was started with. Each
 * deferral thus still proves that the payload reaches Node intact, without a Node start per named case.
 */
function real(payload: string, e: Env, event = 'pre-tool-use', spawnNode = false): string {
  const env = hookEnv(e);
  if (spawnNode || calls++ % 4 === 0) {
    const r = runHook(event, payload, env);
    expect(r.status).toBe(0);
    return r.stdout;
  }
  for (const f of ['argv', 'project', 'stdin']) fs.rmSync(path.join(recorded, f), { force: true });
  const r = runHook(event, payload, { ...env, PATH: `${recBin}:${env.PATH}` });
  expect(r.status).toBe(0);
  expect(r.stderr).toBe('');
  if (!fs.existsSync(path.join(recorded, 'stdin'))) return r.stdout; // answered in the shell
  expect(r.stdout).toBe('');
  const read = (f: string): string => fs.readFileSync(path.join(recorded, f), 'utf8');
  expect(read('argv')).toBe(`${env.CLAUDE_PLUGIN_ROOT}/dist/hooks.cjs\npre-tool-use\n`);
  expect(read('project')).toBe(project);
  // Intact: the payload's bytes, at most with line ends added after it (the shell's here-document).
  const handed = read('stdin');
  expect(handed.replace(/\n+$/, '')).toBe(payload.replace(/\n+$/, ''));
  return node(handed, e);
}

const bashPayload = (command: string, session = OWNER, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    session_id: session,
    transcript_path: path.join(scratch, `${session}.jsonl`),
    cwd: project,
    permission_mode: 'default',
    hook_event_name: 'PreToolUse',
    tool_name: 'Bash',
    tool_input: { command, description: 'run it' },
    tool_use_id: 'toolu_01',
    effort: { level: 'medium' },
    ...extra,
  });

const engine = (script: string, args = '--json', root = ROOT): string => `node "${root}/dist/${script}.mjs" ${args}`;
const ALLOW = `${JSON.stringify({ hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'allow', permissionDecisionReason: "autoloop: on the loop's allow list" } })}\n`;

describe('PreToolUse in the shell: named cases', () => {
  // [name, payload, env, expected: 'answered' (and equal to Node) or 'deferred']
  const cases = (): Array<[string, string, Env, 'answered' | 'deferred']> => [
    ['run-experiment of the owner', bashPayload(engine('run-experiment')), { sid: OWNER }, 'answered'],
    ['log-experiment with free text', bashPayload(engine('log-experiment', '--description "memo (parse); 2x faster & smaller" --json')), { sid: OWNER }, 'answered'],
    ['the one-call iteration with the same free text', bashPayload(engine('run-experiment', '--description "memo (parse); 2x faster & smaller" --hypothesis "because x" --json')), { sid: OWNER }, 'answered'],
    ['status, script unquoted', bashPayload(`node ${ROOT}/dist/status.mjs`), { sid: OWNER }, 'answered'],
    ['run-experiment, single-quoted text', bashPayload(engine('run-experiment', "--description 'a \"b\" | c'")), { sid: OWNER }, 'answered'],
    ['pretty-printed payload', JSON.stringify(JSON.parse(bashPayload(engine('status'))), null, 2), { sid: OWNER }, 'answered'],
    ['escaped slashes', bashPayload(engine('status')).replace(/\//g, '\\/'), { sid: OWNER }, 'deferred'],
    // Another session of a loop someone drives: Node answers nothing, and so does the shell (hooks/other.sh).
    ['another session', bashPayload(engine('run-experiment'), 'sess-b'), { sid: 'sess-b' }, 'answered'],
    ['no session id in the environment', bashPayload(engine('run-experiment')), {}, 'deferred'],
    ['payload of another session than the environment', bashPayload(engine('run-experiment'), 'sess-b'), { sid: OWNER }, 'deferred'],
    ['a prefix of the owner', bashPayload(engine('run-experiment'), 'sess-'), { sid: 'sess-' }, 'answered'],
    ['another session spelt with an escape', bashPayload(engine('run-experiment'), 'sess-b').replace('"sess-b"', '"sess-\\u0062"'), { sid: 'sess-b' }, 'deferred'],
    ['another session as the autoloop agent (a candidate)', bashPayload(engine('run-experiment'), 'sess-b', { agent_type: 'autoloop:autoloop' }), { sid: 'sess-b' }, 'deferred'],
    ['piped into tail', bashPayload(`${engine('run-experiment')} 2>&1 | tail -5`), { sid: OWNER }, 'answered'],
    ['piped into tail, with --cwd', bashPayload(`${engine('run-experiment', '--cwd /tmp')} 2>&1 | tail -5`), { sid: OWNER }, 'deferred'],
    ['chain piped into tail', bashPayload(`${engine('chain')} | tail -5`), { sid: OWNER }, 'deferred'],
    ['then git', bashPayload(`${engine('log-experiment')}; git reset --hard`), { sid: OWNER }, 'deferred'],
    ['a substitution in the text', bashPayload(engine('log-experiment', '--description "$(rm -rf bench)"')), { sid: OWNER }, 'deferred'],
    ['a backslash', bashPayload(engine('log-experiment', '--description "a\\"b"')), { sid: OWNER }, 'deferred'],
    ['a newline', bashPayload(`${engine('status')}\ngit commit -am x`), { sid: OWNER }, 'deferred'],
    ['a tab', bashPayload(`node\t"${ROOT}/dist/status.mjs"`), { sid: OWNER }, 'deferred'],
    ['--cwd', bashPayload(engine('run-experiment', '--cwd /tmp')), { sid: OWNER }, 'deferred'],
    ['chain (its flags can replace a judge)', bashPayload(engine('chain', '--command "x"')), { sid: OWNER }, 'deferred'],
    ['init-experiment (not approved)', bashPayload(engine('init-experiment')), { sid: OWNER }, 'deferred'],
    ['a fake plugin root', bashPayload(engine('run-experiment', '--json', '/tmp/fake')), { sid: OWNER }, 'deferred'],
    ['the root with ..', bashPayload(engine('run-experiment', '--json', `${ROOT}/../${path.basename(ROOT)}`)), { sid: OWNER }, 'deferred'],
    ['a relative script', bashPayload('node dist/run-experiment.mjs'), { sid: OWNER }, 'deferred'],
    ['another runner', bashPayload(`/usr/bin/node "${ROOT}/dist/status.mjs"`), { sid: OWNER }, 'deferred'],
    ['an unbalanced quote', bashPayload(`node "${ROOT}/dist/status.mjs" "open`), { sid: OWNER }, 'deferred'],
    ['tool_name spelled with an escape', bashPayload(engine('status')).replace('"tool_name":"Bash"', '"tool_name":"B\\u0061sh"'), { sid: OWNER }, 'deferred'],
    ['session_id twice (JSON.parse keeps the last)', bashPayload(engine('status')).replace(/}$/, ',"session_id":"sess-b"}'), { sid: OWNER }, 'deferred'],
    ['command twice', bashPayload(engine('status')).replace('"description":"run it"', '"command":"git reset --hard"'), { sid: OWNER }, 'deferred'],
    ['a session_id only inside tool_input', bashPayload(engine('status')).replace(`"session_id":"${OWNER}",`, '').replace('"description"', `"session_id":"${OWNER}","description"`), { sid: OWNER }, 'deferred'],
    ['trailing garbage', `${bashPayload(engine('status'))} x`, { sid: OWNER }, 'deferred'],
    ['truncated JSON', bashPayload(engine('status')).slice(0, -1), { sid: OWNER }, 'deferred'],
    ['a Skill (Node approves the loop skills; the shell leaves them to it)', JSON.stringify({ ...JSON.parse(bashPayload('')), tool_name: 'Skill', tool_input: { skill: 'autoloop:run' } }), { sid: OWNER }, 'deferred'],
    ['a plugin root with a space', bashPayload(engine('status', '', spaced())), { sid: OWNER, root: spaced() }, 'deferred'],
  ];

  it('answers exactly as Node where it answers, and defers the rest', () => {
    for (const [name, payload, env, expected] of cases()) {
      const s = shell(payload, env);
      const n = node(payload, env);
      expect([name, s === 'deferred' ? 'deferred' : 'answered']).toEqual([name, expected]);
      if (s !== 'deferred') expect([name, s]).toEqual([name, n]);
      // The deferred path (stdin read by the shell, then handed on) gives Node's answer too.
      expect([name, real(payload, env)]).toEqual([name, n]);
    }
  });

  const edit = (file: string, tool = 'Edit', input: Record<string, unknown> = {}): string =>
    JSON.stringify({
      ...JSON.parse(bashPayload('')),
      tool_name: tool,
      tool_input: { file_path: file, old_string: 'a\n\t"b" \\ é', new_string: 'c\u2028', replace_all: false, ...input },
    });
  const editCases = (): Array<[string, string, Partial<Active>, 'answered' | 'deferred']> => [
    ['Edit in scope', edit(path.join(project, 'src/a.ts')), {}, 'answered'],
    ['Write of a new file in a new folder', edit(path.join(project, 'src/new/b.ts'), 'Write'), {}, 'answered'],
    ['MultiEdit in scope', edit(path.join(project, 'src/a.ts'), 'MultiEdit'), {}, 'answered'],
    ['scope as a plain name', edit(path.join(project, 'src/a.ts')), { scope: ['lib', 'src'] }, 'answered'],
    ['scope as name/', edit(path.join(project, 'src/a.ts')), { scope: ['src/'] }, 'answered'],
    ['indented active.json', edit(path.join(project, 'src/a.ts')), {}, 'answered'],
    ['outside the scope (Node denies, and so does the shell)', edit(path.join(project, 'lib/x.ts')), {}, 'answered'],
    ['a name that only starts like the scope', edit(path.join(project, 'src2/x.ts')), {}, 'answered'],
    ['protected (Node denies, and so does the shell)', edit(path.join(project, 'bench/bench.mjs')), { scope: ['src', 'bench'] }, 'answered'],
    ['a protected folder in scope', edit(path.join(project, 'src/gen/x.ts')), { protect: ['src/gen'] }, 'answered'],
    ['protected, and a glob judge', edit(path.join(project, 'bench/bench.mjs')), { protect: ['bench/bench.mjs', 'bench/*.sh'] }, 'deferred'],
    ['outside a scope with a glob', edit(path.join(project, 'lib/x.ts')), { scope: ['src/**', 'lib/*.js'] }, 'deferred'],
    ['outside a very long scope (Node clips the reason)', edit(path.join(project, 'lib/x.ts')), { scope: Array.from({ length: 300 }, (_, i) => `src${i}`) }, 'deferred'],
    ['the notes (Node approves; the shell leaves .autoloop to it)', edit(path.join(project, '.autoloop/experiments/speed/program.md')), {}, 'deferred'],
    ['a path with ..', edit(path.join(project, 'src') + '/../bench/bench.mjs'), {}, 'deferred'],
    ['through a link in scope', edit(path.join(project, 'src/link/bench.mjs')), {}, 'deferred'],
    ['a relative path', edit('src/a.ts'), {}, 'deferred'],
    ['git data in scope', edit(path.join(project, 'src/.git/config')), {}, 'deferred'],
    ['outside the project', edit(path.join(scratch, 'elsewhere.ts')), {}, 'deferred'],
    ['NotebookEdit', JSON.stringify({ ...JSON.parse(edit('')), tool_name: 'NotebookEdit', tool_input: { notebook_path: path.join(project, 'src/n.ipynb') } }), {}, 'deferred'],
    ['file_path null, notebook_path set', edit(path.join(project, 'src/a.ts')).replace(/"file_path":"[^"]*"/, `"file_path":null,"notebook_path":"${path.join(project, 'lib/x.ts')}"`), {}, 'deferred'],
    ['a negated scope', edit(path.join(project, 'src/gen/x.ts')), { scope: ['src/**', '!src/gen/**'] }, 'deferred'],
    ['a glob scope', edit(path.join(project, 'src/a.ts')), { scope: ['src/*.ts'] }, 'deferred'],
    ['candidate worktrees', edit(path.join(project, 'src/a.ts')), { worktrees: [{ id: 'c1', path: path.join(scratch, 'wt') }] }, 'deferred'],
  ];

  it('Edit/Write in scope: answers exactly as Node where it answers, and defers the rest', () => {
    fs.mkdirSync(path.join(project, 'bench'), { recursive: true });
    if (!fs.existsSync(path.join(project, 'src/link'))) fs.symlinkSync('../bench', path.join(project, 'src/link'));
    for (const [name, payload, over, expected] of editCases()) {
      writeActive(over, name.startsWith('indented'));
      const env = { sid: OWNER };
      const s = shell(payload, env);
      const n = node(payload, env);
      expect([name, s === 'deferred' ? 'deferred' : 'answered']).toEqual([name, expected]);
      if (s !== 'deferred') expect([name, s]).toEqual([name, n]);
      if (expected === 'answered') expect([name, n.includes('"deny"') || n === ALLOW]).toEqual([name, true]);
      expect([name, real(payload, env)]).toEqual([name, n]);
    }
  });

  it('the journal: an edit the shell answers and one Node answers give the same line; nothing while the loop is paused', () => {
    writeActive();
    const payload = edit(path.join(project, 'src/new/b.ts'), 'Write');
    takeJournal();
    expect(shell(payload, { sid: OWNER })).toBe(ALLOW);
    expect(takeJournal()).toEqual(['W src/new/b.ts']);
    // A glob scope: the shell defers, the real Node hook journals.
    writeActive({ scope: ['src/**/*.ts'] });
    expect(real(payload, { sid: OWNER }, 'pre-tool-use', true)).toBe(ALLOW);
    expect(takeJournal()).toEqual(['W src/new/b.ts']);
    writeActive({ loop: 'paused' });
    real(payload, { sid: OWNER }, 'pre-tool-use', true);
    expect(fs.existsSync(journalFile())).toBe(false);
  });

  const write = (file: string, content: string, extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ ...JSON.parse(bashPayload('')), ...extra, tool_name: 'Write', tool_input: { file_path: file, content } });

  /** Both paths for one Write: where the shell answers, Node's answer and Node's journal lines. */
  function compareWrite(name: string, payload: string): boolean {
    const env = { sid: OWNER };
    takeJournal();
    const s = shell(payload, env, 'pre-write');
    const shellJournal = takeJournal();
    if (s === 'deferred') {
      expect([name, shellJournal]).toEqual([name, []]);
      return false;
    }
    expect([name, s]).toEqual([name, node(payload, env)]);
    expect([name, shellJournal]).toEqual([name, nodeJournal(payload, env)]);
    return true;
  }

  it('Write (pre-write): the shell reads 8 kB at most; a larger payload is decided from that head, or goes to Node whole', () => {
    const big = (file: string, content: string): string => write(file, content);
    const long = 'export const x = "a\tb";\n'.repeat(2000);
    const cases: Array<[string, string, 'answered' | 'deferred']> = [
      ['a small Write in scope', big(path.join(project, 'src/a.ts'), 'export const x = 1;\n'), 'answered'],
      ['a small Write out of scope', big(path.join(project, 'lib/a.ts'), 'x'), 'answered'],
      ['50 kB in scope', big(path.join(project, 'src/a.ts'), long), 'answered'],
      ['50 kB out of scope', big(path.join(project, 'lib/big.ts'), long), 'answered'],
      ['50 kB of a judge', big(path.join(project, 'bench/bench.mjs'), 'é€😀\n'.repeat(5000)), 'answered'],
      ['50 kB whose content names "file_path" and the scope', big(path.join(project, 'lib/c.ts'), `"tool_input":{"file_path":"${project}/src/a.ts","content":"\n`.repeat(900)), 'answered'],
      ['multibyte text across the 8 kB mark', big(path.join(project, 'lib/u.ts'), `${'a'.repeat(7990)}é€😀${'b'.repeat(300)}`), 'answered'],
      ['a payload ending in newlines', `${big(path.join(project, 'src/a.ts'), 'x')}\n\n`, 'answered'],
      ['pretty-printed, 8 kB of lines', JSON.stringify(JSON.parse(big(path.join(project, 'lib/a.ts'), 'y'.repeat(9000))), null, 2), 'deferred'],
      ['50 kB, content before file_path', JSON.stringify({ ...JSON.parse(bashPayload('')), tool_name: 'Write', tool_input: { content: long, file_path: path.join(project, 'src/a.ts') } }), 'deferred'],
      ['50 kB, an escaped quote in file_path', big(path.join(project, 'src/a"b.ts'), long), 'deferred'],
      ['50 kB, a non-ASCII file_path', big(path.join(project, 'src/é.ts'), long), 'deferred'],
      ['50 kB, a path with ..', big(`${project}/src/../bench/bench.mjs`, long), 'deferred'],
      ['50 kB, file_path cut by the 8 kB block', write(path.join(project, 'src/a.ts'), long, { transcript_path: `/t/${'x'.repeat(8192 - 120 - project.length)}` }), 'deferred'],
      ['50 kB, session_id twice before tool_input', big(path.join(project, 'src/a.ts'), long).replace('"cwd":', '"session_id":"sess-b","cwd":'), 'deferred'],
      ['50 kB of another session', big(path.join(project, 'src/a.ts'), long).replace(`"session_id":"${OWNER}"`, '"session_id":"sess-b"'), 'deferred'],
    ];
    for (const [name, payload, expected] of cases) {
      const env = { sid: OWNER };
      const n = node(payload, env);
      expect([name, compareWrite(name, payload) ? 'answered' : 'deferred']).toEqual([name, expected]);
      expect([name, real(payload, env, 'pre-write')]).toEqual([name, n]);
      // Another session's Write goes to Node unread, as pre-tool-use.
      expect([name, real(payload.replace(`"session_id":"${OWNER}"`, '"session_id":"sess-b"'), { sid: 'sess-b' }, 'pre-write')]).toEqual([name, node(payload.replace(`"session_id":"${OWNER}"`, '"session_id":"sess-b"'), { sid: 'sess-b' })]);
    }
    expect(node(cases[3]![1], { sid: OWNER })).toMatch(/outside the experiment's scope/);
    expect(node(cases[4]![1], { sid: OWNER })).toMatch(/is protected/);
    takeJournal();
  });

  it('generated large Writes: wherever the shell answers, Node gives the same answer and journals the same file', () => {
    const NAMES = ['src', 'src', 'lib', 'bench', 'bench.mjs', 'a.ts', 'gen', '..', '.git', '.autoloop', 'a"b', 'é', 'a\\b', 'x y', 'file_path', '\u2028'];
    const CONTENT = ['export const x = 1;\n', '"file_path":"/etc/passwd"', '\\"', 'é€😀', '\t\r\n', '"tool_input":{"file_path":"x"}', '}}]]', '\u0000'];
    let answered = 0;
    let total = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          { weight: 3, arbitrary: fc.array(fc.constantFrom('a.ts', 'gen', 'sub'), { minLength: 1, maxLength: 2 }).map((a) => [fc.sample(fc.constantFrom('src', 'lib', 'bench'), 1)[0]!, ...a]) },
          { weight: 2, arbitrary: fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }) },
        ),
        fc.array(fc.constantFrom(...CONTENT), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 300, max: 12000 }),
        fc.integer({ min: 0, max: 8300 }),
        fc.constantFrom(...[['src/**'], ['src'], ['src/', 'lib/x.ts'], ['src/*.ts']].keys()),
        fc.boolean(),
        (segs, parts, reps, pad, sc, extra) => {
          writeActive({ scope: [['src/**'], ['src'], ['src/', 'lib/x.ts'], ['src/*.ts']][sc]! });
          const content = parts.join('').repeat(Math.ceil(reps / parts.join('').length));
          // A transcript path of any length moves file_path around the 8 kB mark.
          const payload = write(`${project}/${segs.join('/')}`, content, { transcript_path: `/t/${'p'.repeat(pad)}.jsonl`, ...(extra ? { agent_type: 'autoloop:autoloop' } : {}) });
          total++;
          if (compareWrite(payload.slice(0, 300), payload)) answered++;
        },
      ),
      { numRuns: Number(process.env.HOOK_SHELL_RUNS ?? 120), seed: Number(process.env.HOOK_SHELL_SEED ?? 20261129) },
    );
    console.log(`hook-shell: the shell answered ${answered} of ${total} generated large Writes; Node agreed on each, journal included`);
    expect(answered).toBeGreaterThan(total / 5);
  });

  it('the owner engine call is answered in the shell as an approval', () => {
    expect(shell(bashPayload(engine('run-experiment')), { sid: OWNER })).toBe(ALLOW);
    writeActive({}, true); // indented active.json
    expect(shell(bashPayload(engine('log-experiment')), { sid: OWNER })).toBe(ALLOW);
  });

  it('defers when the loop is not running, nobody owns it, or the plugin root is not plain', () => {
    const p = bashPayload(engine('run-experiment'));
    writeActive({ loop: 'terminated', terminated_by: 'max_runs' });
    expect(shell(p, { sid: OWNER })).toBe('deferred');
    // Paused or stopped: Node answers nothing to anyone, and so does the shell (hooks/other.sh), unread.
    for (const loop of ['paused', 'stopped'] as const) {
      writeActive({ loop });
      expect(shell(p, { sid: OWNER })).toBe('');
      expect(node(p, { sid: OWNER })).toBe('');
      writeActive({ loop }, true);
      expect(shell(p, { sid: 'sess-b' })).toBe('');
    }
    // "stopped" only in the text: the loop is active, and the shell reads the field, not the text.
    writeActive({ summary: 'the "loop":"stopped" earlier', next_action: '"paused"' });
    expect(shell(bashPayload('curl -s x'), { sid: OWNER })).toBe('deferred');
    writeActive();
    writeSession(null);
    expect(shell(p, { sid: OWNER })).toBe('deferred');
    writeSession();
    // The Node hook stood down on an old Node (its marker): the shell does not answer for it.
    fs.writeFileSync(path.join(project, '.autoloop', 'node-too-old'), '');
    expect(shell(p, { sid: OWNER })).toBe('deferred');
    fs.rmSync(path.join(project, '.autoloop', 'node-too-old'));
    expect(shell(p, { sid: OWNER })).toBe(ALLOW);
    const link = path.join(scratch, 'linked-root');
    fs.symlinkSync(ROOT, link);
    expect(shell(bashPayload(engine('run-experiment', '--json', link)), { sid: OWNER, root: link })).toBe(ALLOW);
    expect(node(bashPayload(engine('run-experiment', '--json', link)), { sid: OWNER, root: link })).toBe(ALLOW);
    expect(shell(bashPayload(engine('run-experiment', '--json', `${ROOT}/`)), { sid: OWNER, root: `${ROOT}/` })).toBe('deferred');
  });
});

describe('PreToolUse in the shell: the owner\'s read-only commands', () => {
  const cases = (): Array<[string, string, 'answered' | 'deferred']> => [
    ['git diff --stat && grep -n cost src/a.ts | head -20', bashPayload('git diff --stat && grep -n cost src/a.ts | head -20'), 'answered'],
    ['git log, quoted format', bashPayload("git --no-pager log --format='%H %s' -3 HEAD~1"), 'answered'],
    ['ls with 2>&1 into wc', bashPayload('ls -la src/ 2>&1 | wc -l'), 'answered'],
    ['cat; tail, errors to /dev/null', bashPayload('cat src/a.ts 2>/dev/null; tail -n 5 src/b.ts || true'), 'answered'],
    ['grep with a quoted pattern', bashPayload('grep -rn "lookup table" src'), 'answered'],
    ['an absolute path in the project', bashPayload(`head -3 ${project}/src/a.ts`), 'answered'],
    ['. and echo', bashPayload('ls . && echo done && pwd'), 'answered'],
    ['no cwd in the payload', JSON.stringify({ ...JSON.parse(bashPayload('git status')), cwd: undefined }), 'answered'],
    ['git reset (Node denies)', bashPayload('git status && git reset --hard'), 'deferred'],
    ['a file above the project', bashPayload('cat ../secret'), 'deferred'],
    ['a file outside the project', bashPayload('cat /etc/hostname'), 'deferred'],
    ['through a link', bashPayload('cat src/link/bench.mjs'), 'deferred'],
    ['grep -e (the pattern moves)', bashPayload('grep -e x src'), 'deferred'],
    ['an empty operand', bashPayload('cat ""'), 'deferred'],
    ['a home path', bashPayload('ls ~/x'), 'deferred'],
    ['a home path after = (bash expands it in a word like an assignment)', bashPayload('cat a=~/x'), 'deferred'],
    ['sort -o writes', bashPayload('sort -o src/x src/a.ts'), 'deferred'],
    ['uniq with an output file', bashPayload('uniq src/a.ts src/b.ts'), 'deferred'],
    ['a redirection into a file', bashPayload('cat src/a.ts > src/b.ts'), 'deferred'],
    ['a background job', bashPayload('ls &'), 'deferred'],
    ['git -C', bashPayload('git -C .. log'), 'deferred'],
    ['git log --output', bashPayload('git log --output=src/x'), 'deferred'],
    // Programs started by a reader, scripts a shell runs, variables that run code: Node's (it reads the script).
    ['git grep -O runs a pager program', bashPayload('git grep -O/bin/true cost'), 'deferred'],
    ['git grep -nO in a cluster', bashPayload('git grep -nO cost'), 'deferred'],
    ['git grep --open-files-in-pager', bashPayload('git grep --open-files-in-pager=cat cost'), 'deferred'],
    ['rg --pre runs a program', bashPayload('rg --pre=cat cost src'), 'deferred'],
    // git's parse-options takes a prefix of a long option: --open is --open-files-in-pager.
    ['git grep --open (a prefix) runs a pager program', bashPayload("git grep --open='touch src/x' cost"), 'deferred'],
    ['git grep --open-files, with git\'s own options first', bashPayload('git --no-pager grep --open-files=cat cost'), 'deferred'],
    ['git cat-file --filt runs filters', bashPayload('git cat-file --filt HEAD:src/a.ts'), 'deferred'],
    ['git diff --no-index reads outside the repository', bashPayload('git diff --no-index /etc/hostname src/a.ts'), 'deferred'],
    ['date -s sets the clock', bashPayload('date -s 2030-01-01'), 'deferred'],
    ['date --se (a prefix of --set)', bashPayload('date --se 2030-01-01'), 'deferred'],
    ['date with a format', bashPayload('date +%s && date -u'), 'answered'],
    ['printf -v PATH: the next cat is src/cat', bashPayload('printf -v PATH %s src; cat src/a.ts'), 'deferred'],
    ['printf -v into a subscript, whose $(…) bash runs', bashPayload("printf -v 'a[$(touch src/x)]' x"), 'deferred'],
    ['printf with a format', bashPayload("printf '%s-%s' a b && printf -- -v"), 'answered'],
    ['file -C writes NAME.mgc', bashPayload('file -C -m src/a.ts'), 'deferred'],
    ['file --comp (a prefix of --compile)', bashPayload('file --comp -m src/a.ts'), 'deferred'],
    ['file on a file', bashPayload('file -b src/a.ts'), 'answered'],
    ['sort --compress-program runs a program', bashPayload('sort --compress-program=gzip src/a.ts'), 'deferred'],
    ['bash runs a script file', bashPayload('bash src/a.ts'), 'deferred'],
    ['a script run by its path', bashPayload('./src/a.ts && ls'), 'deferred'],
    ['BASH_ENV before a reader', bashPayload('BASH_ENV=src/a.ts cat src/a.ts'), 'deferred'],
    ['a variable', bashPayload('echo $HOME'), 'deferred'],
    ['a glob', bashPayload('cat src/*.ts'), 'deferred'],
    ['find', bashPayload('find src -name x -type f'), 'answered'],
    ['find, a quoted glob', bashPayload('find . -name "*.ts" | head -20'), 'answered'],
    ['find -delete', bashPayload('find src -name x -delete'), 'deferred'],
    ['find -exec', bashPayload('find src -exec cat {} ;'), 'deferred'],
    ['find -fprint', bashPayload('find src -fprint src/x'), 'deferred'],
    ['find outside', bashPayload('find / -name x'), 'deferred'],
    ['a trailing operator', bashPayload('ls &&'), 'deferred'],
    ['another cwd', bashPayload('cat src/a.ts', OWNER, { cwd: path.join(project, 'src') }), 'deferred'],
    ['another session (Node answers nothing; so does hooks/other.sh)', bashPayload('git status', 'sess-b'), 'answered'],
  ];

  it('answers exactly as Node where it answers, and defers the rest', () => {
    if (!fs.existsSync(path.join(project, 'src/link'))) fs.symlinkSync('../bench', path.join(project, 'src/link'));
    for (const [name, payload, expected] of cases()) {
      const env = { sid: JSON.parse(payload).session_id as string };
      takeJournal();
      const s = shell(payload, env);
      const n = node(payload, env);
      expect([name, s === 'deferred' ? 'deferred' : 'answered']).toEqual([name, expected]);
      if (s !== 'deferred') expect([name, s]).toEqual([name, env.sid === OWNER ? ALLOW : '']);
      if (s !== 'deferred') expect([name, s]).toEqual([name, n]);
      // A read-only command writes nothing: neither path journals a file.
      if (s !== 'deferred') expect([name, takeJournal(), nodeJournal(payload, env)]).toEqual([name, [], []]);
      expect([name, real(payload, env)]).toEqual([name, n]);
    }
  });

  it('generated commands: wherever the shell answers, Node gives the same answer and journal', () => {
    if (!fs.existsSync(path.join(project, 'src/link'))) fs.symlinkSync('../bench', path.join(project, 'src/link'));
    if (!fs.existsSync(path.join(project, 'sl'))) fs.symlinkSync('src', path.join(project, 'sl'));
    fs.mkdirSync(path.join(project, 'src', 'sub dir'), { recursive: true });
    const S = '.autoloop/experiments/speed/scratch';
    const PROGS = ['git diff', 'git log', 'git status', 'git show', 'git --no-pager log', 'git reset', 'git commit', 'git stash', 'git branch', 'git -C src log',
      'git -C', 'git -C .. log', 'git grep', 'time', 'time git diff', 'find src -name', 'find . -delete', 'find -exec', 'time -p ls', 'mkdir -p', 'mkdir', `node ${ROOT}/dist/status.mjs`, `node ${ROOT}/dist/chain.mjs`,
      'cat', 'head', 'tail', 'grep', 'rg', 'ls', 'wc', 'sort', 'uniq', 'echo', 'pwd', 'find', 'rm', 'tee', 'node', 'sed -i', 'cp', 'curl', 'xargs', 'cd', 'git'];
    const ARGS = ['-n', '-20', '-la', '-e', '-f', '-o', '-O', '-nO', '--pre=cat', '-rn', '--stat', '--output=x', '--exec=x', '--', '-', 'src/a.ts', 'src/', 'src', '.', '..', '../x',
      `${project}/src/a.ts`, `${project}`, '/etc/hostname', '/dev/null', 'src/link/bench.mjs', 'bench/bench.mjs', '.autoloop/active.json', 'cost',
      '"lookup table"', "'a b'", '""', '"$HOME"', '$HOME', '~', '~/x', 'HEAD~1', 'a=b', '*.ts', 'src/*.ts', '{a,b}', '`id`', '$(id)', '\\x', 'x#y', '#c', 'é', '\t',
      S, `${S}/p.txt`, `${S}/../x`, 'src/../bench', '../repo/src', 'sl', 'bench', '-P', '"src/sub dir"', '--cwd', 'src/link', 'missing'];
    const SEPS = [' && ', ' || ', '; ', ' | ', '|', '&&', ' & ', ' |& ', ' ;; ', '\n', ' 2>&1 | ', ' 2>/dev/null; ', ' > src/x; ', ' >/dev/null && ', ' < src/a.ts | ',
      ` > ${S}/o.txt; `, ` >>${S}/o.txt && `, ` 2> ${S}/../o.txt | `, ' >&2; ', ' > bench/bench.mjs && '];
    const CDS = ['src', 'src', '..', '.', './src/', '"src/sub dir"', 'sl', 'src/link', 'bench', 'missing', '-', '~', '', `${project}/src`, scratch, 'src/..', 'src bench', '.git'];
    // Mostly what a loop's owner would type, with an odd part now and then.
    const some = <T,>(good: T[], all: T[]): fc.Arbitrary<T> => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...all) });
    const GOOD_PROGS = ['git diff', 'git log', 'git -C src log', 'time git diff', 'find src -name', 'cat', 'head', 'grep', 'ls', 'wc', 'echo', 'mkdir -p', `node ${ROOT}/dist/status.mjs`];
    const GOOD_ARGS = ['-n', '--stat', 'src/a.ts', 'src', '.', '..', '../x', 'cost', '"lookup table"', `${S}/p.txt`, S, 'src/../bench', '../repo/src', '"src/sub dir"'];
    const GOOD_SEPS = [' && ', '; ', ' | ', ' 2>&1 | ', ` > ${S}/o.txt; `, ` >>${S}/o.txt && `, ' 2>/dev/null; '];
    const simple = fc.tuple(some(GOOD_PROGS, PROGS), fc.array(some(GOOD_ARGS, ARGS), { maxLength: 3 })).map(([p, a]) => [p, ...a].join(' '));
    const cds = fc
      .array(fc.tuple(some(['src', '"src/sub dir"', '..', './src/', `${project}/src`], CDS), some([' && ', '; '], [' && ', '; ', ' | ', ' || ', '&&'])), { maxLength: 2 })
      .map((a) => a.map(([d, sep]) => `cd ${d}${sep}`).join(''));
    const command = fc
      .tuple(fc.oneof({ weight: 1, arbitrary: fc.constant('') }, { weight: 2, arbitrary: cds }), simple, fc.array(fc.tuple(some(GOOD_SEPS, SEPS), simple), { maxLength: 2 }))
      .map(([c, h, rest]) => c + h + rest.map(([sep, x]) => sep + x).join(''));
    let answered = 0;
    let total = 0;
    fc.assert(
      fc.property(
        command,
        fc.oneof({ weight: 6, arbitrary: fc.constant(project) }, { weight: 1, arbitrary: fc.constantFrom(path.join(project, 'src'), '', `${project}/`) }),
        fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant({ CDPATH: scratch }) }),
        (cmd, cwd, extra) => {
          writeSession();
          const env: Env = { sid: OWNER, ...(extra ? { extra } : {}) };
          const payload = bashPayload(cmd, OWNER, cwd ? { cwd } : { cwd: undefined });
          takeJournal();
          const s = shell(payload, env);
          const lines = takeJournal();
          total++;
          if (s === 'deferred') return;
          answered++;
          expect([cmd, s]).toEqual([cmd, node(payload, env)]);
          expect([cmd, lines]).toEqual([cmd, nodeJournal(payload, env)]);
        },
      ),
      { numRuns: Number(process.env.HOOK_SHELL_RUNS ?? 300), seed: Number(process.env.HOOK_SHELL_SEED ?? 20261129) },
    );
    console.log(`hook-shell: the shell answered ${answered} of ${total} generated read-only commands; Node agreed on each`);
    expect(answered).toBeGreaterThan(total / 10);
  });
});

describe('PreToolUse in the shell: cd, git -C, time, the engine in a pipe, the scratch area', () => {
  const S = '.autoloop/experiments/speed/scratch';
  const st = (cmd: string): string => engine('status', cmd);
  // [name, command, the shell: answered or deferred, Node's own answer, more environment]
  const cases = (): Array<[string, string, 'answered' | 'deferred', 'allow' | 'deny' | 'none', Record<string, string>?]> => [
    ['cd then a pipeline (bench: pre-tool-use.bash_cd)', 'cd src && git diff --stat | head -5', 'answered', 'allow'],
    ['cd;', 'cd src; ls -la', 'answered', 'allow'],
    ['cd alone', 'cd src', 'answered', 'allow'],
    ['.. back into the project (reading a judge is fine)', 'cd src && cat file.txt ../bench/bench.mjs', 'answered', 'allow'],
    ['a quoted dir with a space', 'cd "src/sub dir" && cat x.txt "../file.txt"', 'answered', 'allow'],
    ["a single-quoted dir with a space; then cd ..", "cd 'src/sub dir'; cd .. && wc -l file.txt", 'answered', 'allow'],
    ['cd a && cd .. && …', 'cd src && cd .. && git status', 'answered', 'allow'],
    ['an absolute dir in the project', `cd ${project}/src && wc -l file.txt`, 'answered', 'allow'],
    ['./dir/ and .', 'cd ./src/ && cd . && ls . && pwd', 'answered', 'allow'],
    ['a cd after ls (only leading cds)', 'cd ./src/ && ls . && cd . && pwd', 'deferred', 'allow'],
    ['cd into .git, then read', 'cd .git && ls', 'answered', 'allow'],
    ['git -C into the project', `git -C src log --oneline -3 && git -C ${project} status`, 'answered', 'allow'],
    ['cd, then git -C ..', 'cd src && git -C .. diff --stat', 'answered', 'allow'],
    ['time before read-only git', 'time git diff --stat', 'answered', 'allow'],
    ['time before the engine', `time ${st('--json')}`, 'answered', 'allow'],
    ['the engine piped into tail', `${engine('run-experiment', '--description "memo (parse); 2x" --json')} 2>&1 | tail -5`, 'answered', 'allow'],
    ['cd, then the engine', `cd src && ${st('')}`, 'answered', 'allow'],
    ['a redirection into the scratch area', `git diff > ${S}/diff.txt`, 'answered', 'allow'],
    ['mkdir of the scratch area, then >> into it', `mkdir -p ${S} && git log -5 >> ${S}/log.txt 2>&1`, 'answered', 'allow'],
    ['cd, then a redirection into the scratch area through ..', `cd src && grep -n cost file.txt >../${S}/grep.txt`, 'answered', 'allow'],
    ['2> into the scratch area, >&2, 2> /dev/null', `ls src 2>${S}/err.txt; echo done >&2; cat src/file.txt 2> /dev/null`, 'answered', 'allow'],
    ['cd out of the project', 'cd .. && ls', 'deferred', 'none'],
    ['cd outside the project', `cd ${scratch} && ls`, 'deferred', 'none'],
    ['cd a && cd .. && cd ..', 'cd src && cd .. && cd .. && ls', 'deferred', 'none'],
    ['cd -', 'cd - && ls', 'deferred', 'none'],
    ['cd with no argument (home)', 'cd && ls', 'deferred', 'none'],
    ['cd ~', 'cd ~ && ls', 'deferred', 'none'],
    ['cd into a judge\'s folder, then rm', 'cd bench && rm bench.mjs', 'deferred', 'deny'],
    ['cd into a judge\'s folder, then a redirection', 'cd bench && echo x > bench.mjs', 'deferred', 'deny'],
    ['cd, then a redirection into a judge through ..', 'cd src && git diff > ../bench/bench.mjs', 'deferred', 'deny'],
    ['a redirection into the engine\'s state through the scratch area', `git diff > ${S}/../../../active.json`, 'deferred', 'deny'],
    ['a redirection into another experiment\'s scratch area', 'git diff > .autoloop/experiments/other/scratch/x', 'deferred', 'deny'],
    ['a redirection into the scope', 'git diff > src/x.txt', 'deferred', 'none'],
    ['mkdir in the scope', 'mkdir -p src/newdir', 'deferred', 'none'],
    ['mkdir -m', `mkdir -m 700 ${S}`, 'deferred', 'none'],
    ['cd into a symlinked dir', 'cd sl && ls', 'deferred', 'allow'],
    ['cd through a link, then ..', 'cd src/link && cat ../file.txt', 'deferred', 'allow'],
    ['cd into a missing dir', 'cd missing && ls', 'deferred', 'allow'],
    ['cd into a file', 'cd src/file.txt && ls', 'deferred', 'allow'],
    ['cd in a pipe', 'cd src | cat file.txt', 'deferred', 'allow'],
    ['cd after another command', 'ls && cd src && cat file.txt', 'deferred', 'allow'],
    ['cd before ||', 'cd src || cat file.txt', 'deferred', 'allow'],
    ['cd with two operands', 'cd src bench && ls', 'deferred', 'allow'],
    ['cd -P', 'cd -P src && ls', 'deferred', 'allow'],
    ['CDPATH in the environment', 'cd src && ls', 'deferred', 'none', { CDPATH: scratch }],
    ['CDPATH, but ./dir', 'cd ./src && ls', 'answered', 'allow', { CDPATH: scratch }],
    ['git -C through a link', 'git -C src/link log', 'deferred', 'allow'],
    ['git -C outside', 'git -C / log', 'deferred', 'none'],
    ['time -p', 'time -p git status', 'deferred', 'none'],
    ['time cd', 'time cd src && ls', 'deferred', 'allow'],
    ['chain in a pipe', `${engine('chain', '--command x')} | tail -3`, 'deferred', 'none'],
    ['another plugin\'s dist', 'node /tmp/fake/dist/status.mjs | tail -3', 'deferred', 'none'],
  ];

  it('answers exactly as Node where it answers (same decision, same journal), and defers the rest', () => {
    fs.mkdirSync(path.join(project, 'src', 'sub dir'), { recursive: true });
    fs.writeFileSync(path.join(project, 'src', 'file.txt'), 'cost\n');
    if (!fs.existsSync(path.join(project, 'src/link'))) fs.symlinkSync('../bench', path.join(project, 'src/link'));
    if (!fs.existsSync(path.join(project, 'sl'))) fs.symlinkSync('src', path.join(project, 'sl'));
    const verdict = (out: string): string => (out === '' ? 'none' : (JSON.parse(out) as { hookSpecificOutput: { permissionDecision: string } }).hookSpecificOutput.permissionDecision);
    for (const [name, cmd, expected, nodeSays, extra] of cases()) {
      const env: Env = { sid: OWNER, ...(extra ? { extra } : {}) };
      const payload = bashPayload(cmd);
      writeSession();
      takeJournal();
      const s = shell(payload, env);
      const shellLines = takeJournal();
      const n = node(payload, env);
      expect([name, verdict(n)]).toEqual([name, nodeSays]);
      expect([name, s === 'deferred' ? 'deferred' : 'answered']).toEqual([name, expected]);
      if (s !== 'deferred') {
        expect([name, s]).toEqual([name, n]);
        expect([name, shellLines]).toEqual([name, nodeJournal(payload, env)]);
      }
      takeJournal();
      expect([name, real(payload, env)]).toEqual([name, n]);
    }
  });
});

describe('PreToolUse in the shell: hard links to a judge or the engine\'s files', () => {
  // A second name (a hard link, planted by code under test in the scope or in scratch/) writes the
  // ledger or a judge in place: Node denies it (policy.ts, linkDenial), so the shell must not approve.
  it('defers an Edit/Write or a redirection through another name of the ledger or a judge; Node denies it', () => {
    writeActive();
    const X = path.join(project, '.autoloop/experiments/speed');
    fs.mkdirSync(path.join(X, 'scratch'), { recursive: true });
    fs.mkdirSync(path.join(project, 'bench'), { recursive: true });
    fs.writeFileSync(path.join(X, 'ledger.jsonl'), '{}\n');
    fs.writeFileSync(path.join(project, 'bench/bench.mjs'), 'x\n');
    const links: Array<[string, string]> = [
      ['.autoloop/experiments/speed/ledger.jsonl', '.autoloop/experiments/speed/scratch/l'],
      ['.autoloop/experiments/speed/ledger.jsonl', 'src/l.ts'],
      ['bench/bench.mjs', 'src/b.ts'],
    ];
    for (const [from, to] of links) {
      fs.rmSync(path.join(project, to), { force: true });
      fs.linkSync(path.join(project, from), path.join(project, to));
    }
    fs.writeFileSync(path.join(project, 'src/plain.ts'), 'x\n');
    const edit = (file: string): string => JSON.stringify({ ...JSON.parse(bashPayload('')), tool_name: 'Edit', tool_input: { file_path: path.join(project, file), old_string: 'a', new_string: 'b', replace_all: false } });
    const env = { sid: OWNER };
    try {
      for (const payload of [edit('src/l.ts'), edit('src/b.ts'), bashPayload('ls >> .autoloop/experiments/speed/scratch/l'), bashPayload('cat src/plain.ts > .autoloop/experiments/speed/scratch/l')]) {
        expect([payload, shell(payload, env)]).toEqual([payload, 'deferred']);
        const n = node(payload, env);
        expect(n).toMatch(/is another name \(a hard link\) of (\.autoloop\/experiments\/speed\/ledger\.jsonl|bench\/bench\.mjs)/);
        expect(real(payload, env)).toBe(n);
      }
      // Files with one name are answered as before.
      expect(shell(edit('src/plain.ts'), env)).toBe(ALLOW);
      expect(shell(bashPayload('ls > .autoloop/experiments/speed/scratch/out.txt'), env)).toBe(ALLOW);
    } finally {
      for (const [, to] of links) fs.rmSync(path.join(project, to), { force: true });
      fs.rmSync(path.join(project, 'src/plain.ts'), { force: true });
    }
  });
});

describe('PreToolUse in the shell: symbolic links', () => {
  // Node judges a path with its links resolved (policy.ts canonical): a link in scope may lead to a
  // judge, nowhere, or out of the project. The shell never answers for such a path with less than
  // Node's decision: it defers (or gives Node's answer), and Node allows none of these.
  it('an Edit/Write or a read through a link to a judge, a dangling link or a link to a folder outside: deferred, Node allows none', () => {
    writeActive({ protect: ['bench/bench.mjs', 'bench/gone.mjs'] });
    fs.mkdirSync(path.join(project, 'bench'), { recursive: true });
    fs.writeFileSync(path.join(project, 'bench/bench.mjs'), 'x\n');
    const outside = path.join(scratch, 'outside-folder');
    fs.mkdirSync(outside, { recursive: true });
    fs.writeFileSync(path.join(outside, 'x.ts'), 'x\n');
    const links: Array<[string, string]> = [
      ['src/judge.ts', '../bench/bench.mjs'],
      ['src/dangling.ts', path.join(scratch, 'no-such-folder/x.ts')],
      ['src/out', outside],
      ['bench/gone.mjs', path.join(scratch, 'no-such-folder/gone.mjs')],
    ];
    for (const [at, to] of links) {
      fs.rmSync(path.join(project, at), { force: true });
      fs.symlinkSync(to, path.join(project, at));
    }
    const edit = (file: string, tool = 'Edit'): string =>
      JSON.stringify({ ...JSON.parse(bashPayload('')), tool_name: tool, tool_input: tool === 'Write' ? { file_path: path.join(project, file), content: 'y' } : { file_path: path.join(project, file), old_string: 'x', new_string: 'y', replace_all: false } });
    const env = { sid: OWNER };
    try {
      const payloads = [
        edit('src/judge.ts'),
        edit('src/dangling.ts', 'Write'),
        edit('src/out/x.ts'),
        edit('src/out/new.ts', 'Write'),
        edit('bench/gone.mjs', 'Write'),
        bashPayload('cat src/out/x.ts'),
        bashPayload('ls > src/out/listing.txt'),
      ];
      for (const payload of payloads) {
        const s = shell(payload, env);
        const n = node(payload, env);
        expect([payload, s]).toEqual([payload, 'deferred']);
        expect([payload, n]).not.toEqual([payload, ALLOW]);
        expect([payload, real(payload, env)]).toEqual([payload, n]);
      }
      // The same names without links are answered in the shell as before.
      for (const [at] of links) fs.rmSync(path.join(project, at), { force: true });
      fs.writeFileSync(path.join(project, 'src/judge.ts'), 'x\n');
      expect(shell(edit('src/judge.ts'), env)).toBe(ALLOW);
    } finally {
      for (const [at] of links) fs.rmSync(path.join(project, at), { force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('PreToolUse in the shell: a judge linked out of the project', () => {
  // bench/bench.mjs -> <outside>/bench.mjs: Node denies a write of the target, of a file beside it and of
  // its folder (policy.ts outsideJudgeDenial), by Bash as by Edit/Write. The shell never allows one: it
  // defers each (its paths must lie in the project, with no link on the way), and Node denies.
  it('a Bash command or an Edit/Write that writes where the judge links to: deferred, and Node denies', () => {
    const outside = path.join(scratch, 'shared-judge');
    fs.mkdirSync(outside, { recursive: true });
    fs.writeFileSync(path.join(outside, 'bench.mjs'), "import './helper.mjs';\n");
    fs.writeFileSync(path.join(outside, 'helper.mjs'), 'export const k = 1;\n');
    const judge = path.join(project, 'bench/bench.mjs');
    fs.rmSync(judge, { force: true });
    fs.symlinkSync(path.join(outside, 'bench.mjs'), judge);
    const edit = (file: string, tool = 'Edit'): string =>
      JSON.stringify({ ...JSON.parse(bashPayload('')), tool_name: tool, tool_input: tool === 'Write' ? { file_path: file, content: 'y' } : { file_path: file, old_string: 'x', new_string: 'y', replace_all: false } });
    const env = { sid: OWNER };
    try {
      const payloads = [
        bashPayload(`echo x > ${outside}/helper.mjs`),
        bashPayload('echo x > ../shared-judge/helper.mjs'),
        bashPayload('cat src/a.ts > ../shared-judge/helper.mjs'),
        bashPayload(`ls src 2> ${outside}/new.mjs`),
        bashPayload(`cd src && echo x >> ../../shared-judge/helper.mjs`),
        bashPayload('echo x > .autoloop/experiments/speed/scratch/../../../../../shared-judge/helper.mjs'),
        bashPayload(`sort -o ${outside}/helper.mjs src/a.ts`),
        bashPayload(`cp src/a.ts ${outside}/helper.mjs`),
        bashPayload(`rm ${outside}/helper.mjs`),
        bashPayload(`cd ${outside} && echo x > helper.mjs`),
        bashPayload('rm -rf ../shared-judge'),
        edit(path.join(outside, 'helper.mjs')),
        edit(`${project}/../shared-judge/bench.mjs`, 'Write'),
      ];
      for (const payload of payloads) {
        const s = shell(payload, env);
        const n = node(payload, env);
        expect([payload, s]).toEqual([payload, 'deferred']);
        // Was: Node answered nothing to the Bash commands (a path outside the project).
        expect([payload, JSON.parse(n || '{}').hookSpecificOutput?.permissionDecision]).toEqual([payload, 'deny']);
        expect([payload, real(payload, env)]).toEqual([payload, n]);
      }
    } finally {
      fs.rmSync(judge, { force: true });
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('PreToolUse in the shell: generated payloads', () => {
  const SCRIPTS = ['run-experiment', 'log-experiment', 'status', 'report', 'control', 'finalize', 'diagnose', 'chain', 'init-experiment', 'candidate', 'evil'];
  const INJECT = [
    '', ' ', '  ', '--json', '--description', ';', '|', '&', '&&', '<', '>', '2>&1', '(', ')', '$', '$HOME', '`id`', '$(id)', '\\', '\\"',
    '"', "'", '#', '!', '*', '?', '[a]', '{a,b}', '~', '=', '\n', '\t', '\r', 'é', '--cwd', '--cwd=/tmp', '../', '..', 'git reset --hard',
    '-e', 'x', '\u0000', '\u2028',
  ];
  const WORDS = ['try', 'memo', 'lookup table', '2x', 'a,b', 'x=1', '(parse)', 'a; b', 'a|b', '50%', 'v1.2', '-n', 'it\'s', '{}', 'a<b'];
  const piece = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...WORDS) }, { weight: 1, arbitrary: fc.constantFrom(...INJECT) }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) });
  const text = fc.array(piece, { maxLength: 4 }).map((a) => a.join(' '));
  const arg = fc.oneof(fc.constantFrom('--json', '--description', '--verbose'), text.map((t) => `"${t}"`), text.map((t) => `'${t}'`), piece);
  const roots = ['/tmp/fake-root', `${ROOT}/../${path.basename(ROOT)}`, `${ROOT}/.`, `${ROOT}//`, path.join(ROOT, 'dist', '..'), `${ROOT}/hooks/..`];
  // Mostly the engine commands a loop makes, each with at most a few odd parts; sometimes anything.
  const plain = fc.record({
    quote: fc.constantFrom('"', '"', "'", ''),
    script: fc.constantFrom(...SCRIPTS.slice(0, 7)),
    args: fc.array(arg, { maxLength: 4 }),
  }).map((c) => `node ${c.quote}${ROOT}/dist/${c.script}.mjs${c.quote}${c.args.map((a) => ` ${a}`).join('')}`);
  const wild = fc.record({
    runner: fc.constantFrom('node', '"node"', 'nodejs', '/usr/bin/node', 'env node', 'NODE_OPTIONS=x node', 'npx tsx', 'time node', ' node'),
    root: fc.constantFrom(ROOT, ROOT, ...roots),
    dir: fc.constantFrom('dist', 'dist', 'scripts', 'dist/sub'),
    script: fc.constantFrom(...SCRIPTS),
    ext: fc.constantFrom('.mjs', '.mjs', '.ts', ''),
    quote: fc.constantFrom('"', "'", ''),
    args: fc.array(arg, { maxLength: 4 }),
    sep: fc.constantFrom(' ', '  ', '\t'),
  }).map((c) => `${c.runner}${c.sep}${c.quote}${c.root}/${c.dir}/${c.script}${c.ext}${c.quote}${c.args.map((a) => ` ${a}`).join('')}`);
  const command = fc.oneof({ weight: 3, arbitrary: plain }, { weight: 1, arbitrary: wild });
  const mutate: Array<(p: string) => string> = [
    (p) => JSON.stringify(JSON.parse(p), null, 2),
    (p) => p.replace(/\//g, '\\/'),
    (p) => p.replace('"tool_name":"Bash"', '"tool_name":"B\\u0061sh"'),
    (p) => p.replace(/}$/, `,"session_id":"${OWNER}"}`),
    (p) => p.replace(/}$/, ',"x":[1,-2.5e3,true,null,{"a":[]}]}'),
    (p) => p.replace(/}$/, ',"x":01}'),
    (p) => p.replace('"cwd":', '"cwd":1,"c":'),
    (p) => p.replace(/"tool_input":\{/, '"tool_input":{"session_id":"sess-b",'),
    (p) => `\uFEFF${p}`,
    (p) => p.slice(0, -2),
    (p) => `${p}\n\n`,
    (p) => p.replace(/"tool_input":\{[^}]*\}/, '"tool_input":[]'),
  ];

  it('Edit/Write: wherever the shell answers, Node gives the same answer', () => {
    fs.mkdirSync(path.join(project, 'bench'), { recursive: true });
    if (!fs.existsSync(path.join(project, 'src/link'))) fs.symlinkSync('../bench', path.join(project, 'src/link'));
    if (!fs.existsSync(path.join(project, 'sl'))) fs.symlinkSync('src', path.join(project, 'sl'));
    const SEGMENTS = ['src', 'src', 'lib', 'bench', 'bench.mjs', 'a.ts', 'a.ts', 'gen', '..', '.', '', '.git', '.autoloop', 'link', 'sl', 'src2', 'sr', 'a b', 'é', 'x*', '-x', '.hidden'];
    const prefixes = [project, project, project, `${project}/`, scratch, '', path.join(scratch, 'repo', '..', 'repo'), `${project}/.`];
    const SCOPES: string[][] = [['src/**'], ['src/**'], ['src'], ['src/'], ['src/**', '!src/gen/**'], ['src/*.ts'], ['**'], [], ['lib', 'src/**'], ['./src'], ['src/gen'], ['sl/**'], ['src/link']];
    const PROTECT: string[][] = [['bench/bench.mjs'], ['bench/bench.mjs'], ['src/a.ts'], ['src/gen'], ['bench/*.mjs'], [], ['./src/a.ts'], ['src/']];
    let answered = 0;
    let total = 0;
    fc.assert(
      fc.property(
        fc.oneof({ weight: 4, arbitrary: fc.constant(project) }, { weight: 1, arbitrary: fc.constantFrom(...prefixes) }),
        fc.oneof(
          { weight: 3, arbitrary: fc.array(fc.constantFrom('a.ts', 'gen', 'sub', 'b.mjs', '.hidden', 'x-y_z.ts'), { minLength: 1, maxLength: 2 }).map((a) => ['src', ...a]) },
          { weight: 1, arbitrary: fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 4 }) },
        ),
        fc.constantFrom('Edit', 'Edit', 'Write', 'MultiEdit', 'NotebookEdit'),
        fc.constantFrom(...SCOPES.keys()),
        fc.constantFrom(...PROTECT.keys()),
        fc.oneof({ weight: 8, arbitrary: fc.constant('active') }, { weight: 1, arbitrary: fc.constantFrom('terminated', 'paused') }),
        fc.string({ maxLength: 8 }),
        (prefix, segs, tool, sc, pr, loop, content) => {
          writeActive({ scope: SCOPES[sc]!, protect: PROTECT[pr]!, loop, terminated_by: loop === 'terminated' ? 'plateau' : null }, sc % 2 === 1);
          writeSession();
          const file = `${prefix}${prefix ? '/' : ''}${segs.join('/')}`;
          const payload = JSON.stringify({
            ...JSON.parse(bashPayload('')),
            tool_name: tool,
            tool_input: { file_path: file, old_string: content, new_string: `${content}\n` },
          });
          takeJournal();
          const s = shell(payload, { sid: OWNER });
          total++;
          if (s === 'deferred') return;
          answered++;
          writeSession();
          expect(s).toBe(node(payload, { sid: OWNER }));
          // The shell journals the file the model writes exactly as Node would.
          expect(takeJournal()).toEqual(nodeJournal(payload, { sid: OWNER }));
        },
      ),
      { numRuns: Number(process.env.HOOK_SHELL_RUNS ?? 200), seed: Number(process.env.HOOK_SHELL_SEED ?? 20261129) },
    );
    console.log(`hook-shell: the shell answered ${answered} of ${total} generated Edit/Write payloads; Node agreed on each`);
    expect(answered).toBeGreaterThan(total / 20);
  });

  it('wherever the shell answers, Node gives the same answer', () => {
    let answered = 0;
    let total = 0;
    fc.assert(
      fc.property(
        command,
        fc.oneof({ weight: 8, arbitrary: fc.constant(OWNER) }, { weight: 1, arbitrary: fc.constantFrom('sess-b', 'sess-a"', '', 'sess-') }),
        fc.oneof({ weight: 6, arbitrary: fc.constant(-1) }, { weight: 2, arbitrary: fc.constantFrom(...mutate.keys()) }),
        fc.oneof({ weight: 8, arbitrary: fc.constant('same') }, { weight: 1, arbitrary: fc.constantFrom('other', 'none') }),
        fc.oneof({ weight: 8, arbitrary: fc.constant('active') }, { weight: 1, arbitrary: fc.constantFrom('terminated', 'paused') }),
        (cmd, session, m, envSid, loop) => {
          writeActive(loop === 'active' ? {} : { loop, terminated_by: loop === 'terminated' ? 'plateau' : null });
          writeSession();
          let payload: string;
          try {
            payload = m < 0 ? bashPayload(cmd, session) : mutate[m]!(bashPayload(cmd, session));
          } catch {
            payload = bashPayload(cmd, session);
          }
          const env: Env = { sid: envSid === 'same' ? session : envSid === 'other' ? 'sess-b' : undefined };
          const s = shell(payload, env);
          total++;
          if (s === 'deferred') return;
          answered++;
          writeSession(); // Node counts calls past the end: start from the same state
          expect(s).toBe(node(payload, env));
        },
      ),
      { numRuns: Number(process.env.HOOK_SHELL_RUNS ?? 300), seed: Number(process.env.HOOK_SHELL_SEED ?? 20261129) },
    );
    console.log(`hook-shell: the shell answered ${answered} of ${total} generated payloads; Node agreed on each`);
    // The fast path must really fire on the generated engine calls, or this test proves nothing.
    expect(answered).toBeGreaterThan(total / 20);
  });
});

describe('Stop in the shell', () => {
  const sessionFile = (): string => path.join(project, '.autoloop', 'session.json');
  const stopPayload = (session = OWNER, extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ session_id: session, transcript_path: path.join(scratch, 't.jsonl'), cwd: project, permission_mode: 'default', hook_event_name: 'Stop', stop_hook_active: true, ...extra });

  /** The shell's answer (stdout, or 'deferred') and the session.json it leaves. */
  function stopShell(payload: string, sid: string, extra: Record<string, string> = {}): [string, string] {
    fs.rmSync(marker, { force: true });
    const env = { ...hookEnv({ sid }), ...extra };
    const r = runHook('stop', payload, { ...env, PATH: `${fakeBin}:${env.PATH}` });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    if (fs.existsSync(marker)) {
      expect(r.stdout).toBe('');
      return ['deferred', fs.readFileSync(sessionFile(), 'utf8')];
    }
    return [r.stdout, fs.readFileSync(sessionFile(), 'utf8')];
  }

  /** The Node hook's answer from its own code (hooks/src/on-session.ts without the process around it). */
  function stopNode(payload: string, extra: Record<string, string> = {}): [string, string] {
    let raw: unknown;
    try {
      raw = JSON.parse(payload);
    } catch {
      raw = undefined;
    }
    const input = StopInput.safeParse(raw);
    const f = files(project);
    const active = input.success ? readActive(f) : null;
    let out = '';
    if (input.success && active) {
      const s0 = readSession(f);
      const on = extra.AUTOLOOP_STOP_HOOK !== 'off';
      const phase = on && s0.owner_session === input.data.session_id && active.loop === 'active' ? latestRunPhase(f, active.experiment) : null;
      const r = stopDecision(active, s0, input.data.session_id, on, phase);
      if (r.session) writeHookSession(f, r.session);
      if (r.output) out = `${JSON.stringify(r.output)}\n`;
    }
    return [out, fs.readFileSync(sessionFile(), 'utf8')];
  }

  function session(over: Record<string, unknown> = {}, drop: string[] = []): void {
    const s: Record<string, unknown> = { owner_session: OWNER, owner_agent: 'autoloop:autoloop', blocks: 0, idle_blocks: 0, last_runs: 5, chain_nudged: null, candidate: null, past_end: null, ...over };
    for (const k of drop) delete s[k];
    fs.writeFileSync(sessionFile(), `${JSON.stringify(s, null, 2)}\n`);
  }

  /** Both paths from the same files; the shell's answer where it answers must be Node's, file included. */
  function compare(name: string, payload: string, sid: string, extra: Record<string, string> = {}): boolean {
    const before = fs.readFileSync(sessionFile(), 'utf8');
    const s = stopShell(payload, sid, extra);
    fs.writeFileSync(sessionFile(), before);
    const n = stopNode(payload, extra);
    fs.writeFileSync(sessionFile(), before);
    if (s[0] === 'deferred') {
      expect([name, s[1]]).toEqual([name, before]);
      return false;
    }
    expect([name, ...s]).toEqual([name, ...n]);
    return true;
  }

  it('named cases: the owner within the caps is answered; everything else is Node\'s', () => {
    const cases: Array<[string, () => void, string, string, Record<string, string>, boolean]> = [
      ['the owner, a new run logged', () => session({ last_runs: 4 }), stopPayload(), OWNER, {}, true],
      ['the owner, idle streak under the cap', () => session({ blocks: 7, idle_blocks: 2 }), stopPayload(), OWNER, {}, true],
      ['stop_hook_active false, no owner_agent', () => session({ owner_agent: null }), stopPayload(OWNER, { stop_hook_active: false }), OWNER, {}, true],
      ['optional fields missing', () => session({}, ['chain_nudged', 'candidate', 'past_end']), stopPayload(), OWNER, {}, true],
      ['last_runs null', () => session({ last_runs: null, idle_blocks: 1 }), stopPayload(), OWNER, {}, true],
      ['idle cap reached (Node lets it end)', () => session({ idle_blocks: 3 }), stopPayload(), OWNER, {}, false],
      ['block cap reached', () => session({ blocks: 500 }), stopPayload(), OWNER, {}, false],
      ['another session (Node lets it end; so does hooks/other.sh)', () => session(), stopPayload('sess-b'), 'sess-b', {}, true],
      ['another session, nobody owning the loop', () => session({ owner_session: null }), stopPayload('sess-b'), 'sess-b', {}, false],
      ['another session, its last message escaped', () => session(), stopPayload('sess-b', { last_assistant_message: 'a "b"\n\\ é' }), 'sess-b', {}, true],
      ['payload of another session than the environment', () => session(), stopPayload('sess-b'), OWNER, {}, false],
      ['AUTOLOOP_STOP_HOOK=off', () => session(), stopPayload(), OWNER, { AUTOLOOP_STOP_HOOK: 'off' }, false],
      ['a past_end record', () => session({ past_end: { key: 'speed##3', calls: 2 } }), stopPayload(), OWNER, {}, false],
      ['an escaped owner_agent', () => session({ owner_agent: 'a"b' }), stopPayload(), OWNER, {}, false],
      ['stop_hook_active not a boolean', () => session(), stopPayload(OWNER, { stop_hook_active: 'yes' }), OWNER, {}, false],
      ['session_id twice', () => session(), stopPayload().replace(/}$/, ',"session_id":"sess-b"}'), OWNER, {}, false],
      ['blocks not an integer', () => session({ blocks: 1.5 }), stopPayload(), OWNER, {}, false],
    ];
    for (const [name, setup, payload, sid, extra, answered] of cases) {
      writeActive();
      setup();
      expect([name, compare(name, payload, sid, extra)]).toEqual([name, answered]);
    }
    // active.json: terminated, the next action escaped or long, indented.
    const variants: Array<[string, Partial<Active>, boolean, boolean]> = [
      ['indented active.json, quotes and newlines in the next action', { next_action: 'Try "a" table\nthen\tb \\ é 😀' }, true, true],
      ['terminated', { loop: 'terminated', terminated_by: 'plateau', chain_allowed: true }, false, false],
      ['paused (Node answers nothing; nor does hooks/other.sh)', { loop: 'paused' }, false, true],
      ['stopped', { loop: 'stopped' }, true, true],
      ['a long next action (Node clips)', { next_action: 'x'.repeat(2500) }, false, false],
      ['no run yet', { runs: 0 }, false, true],
      ['max_blocks 0', { stop_hook: { max_blocks: 0, max_idle_blocks: 3 } }, false, false],
    ];
    for (const [name, over, pretty, answered] of variants) {
      writeActive(over, pretty);
      session();
      expect([name, compare(name, stopPayload(), OWNER)]).toEqual([name, answered]);
    }
    // A run measured but not logged, or cut off: Node's (that step comes before the next action), which names it.
    for (const phase of ['measured', 'running']) {
      const run = path.join(project, '.autoloop', 'experiments', activeJson().experiment, 'runs', 'r0006');
      fs.mkdirSync(run, { recursive: true });
      fs.writeFileSync(path.join(run, 'result.json'), JSON.stringify({ run_id: 'r0006', phase }));
      writeActive();
      session();
      expect([phase, compare(phase, stopPayload(), OWNER)]).toEqual([phase, false]);
      expect(stopNode(stopPayload())[0]).toMatch(phase === 'measured' ? /log it first/ : /cut off/);
      fs.rmSync(run, { recursive: true });
    }
    writeActive();
    const text = fs.readFileSync(path.join(project, '.autoloop', 'active.json'), 'utf8');
    fs.writeFileSync(path.join(project, '.autoloop', 'active.json'), text.replace('"next_action":"Try', '"next_action":"\\u0054ry'));
    session();
    expect(compare('a \\u escape in the next action', stopPayload(), OWNER)).toBe(false);
    // The deferred path gives Node's answer too.
    writeActive();
    session({ idle_blocks: 3 });
    const before = fs.readFileSync(sessionFile(), 'utf8');
    const n = stopNode(stopPayload());
    fs.writeFileSync(sessionFile(), before);
    const r = runHook('stop', stopPayload(), hookEnv({ sid: OWNER }));
    expect([r.stdout, fs.readFileSync(sessionFile(), 'utf8')]).toEqual(n);
    expect(n[0]).toMatch(/no new run was logged/);
  });

  it('the payload walk: long or escape-dense messages, keys inside strings, odd order; past 8 kB, Node gets it whole', () => {
    const prose = 'I replaced the scan in `src/a.ts` with a table; the "unrolled" loop is next.\n\n';
    const cases: Array<[string, string, boolean]> = [
      ['7 kB of prose with no quote', stopPayload(OWNER, { last_assistant_message: 'x'.repeat(7000) }), true],
      ['7 kB of prose, quotes and newlines', stopPayload(OWNER, { last_assistant_message: prose.repeat(80) }), true],
      ['an escaped backslash before the closing quote', stopPayload(OWNER, { last_assistant_message: 'a\\' }), true],
      ['backslashes and quotes in runs', stopPayload(OWNER, { last_assistant_message: '\\"\\\\""\\'.repeat(300) }), true],
      ['a 5 kB JSON text (700 escaped quotes)', stopPayload(OWNER, { last_assistant_message: JSON.stringify(Array.from({ length: 120 }, (_, i) => ({ name: `item${i}`, tags: ['a', 'b'] })), null, 2).slice(0, 5000) }), true],
      ['a run of 131 backslashes before a quote (Node\'s)', stopPayload(OWNER, { last_assistant_message: `${'\\'.repeat(65)}"` }), false],
      ['\\u escapes and control characters', stopPayload(OWNER, { last_assistant_message: '\u0001é\u2028😀\t\b\f\r/' }), true],
      ['another id inside a string', stopPayload(OWNER, { last_assistant_message: '","session_id":"sess-b' }), true],
      ['session_id last, after nested objects', JSON.stringify({ hook_event_name: 'Stop', x: { session_id: 'sess-b', y: [{ session_id: 'sess-c' }] }, stop_hook_active: true, session_id: OWNER }), true],
      ['an escaped session_id key', stopPayload().replace('"session_id"', '"session\\u005fid"'), false],
      ['an escape JSON does not have', stopPayload(OWNER, { last_assistant_message: 'QQ' }).replace('QQ', '\\x41'), false],
      ['a short \\u escape', stopPayload(OWNER, { last_assistant_message: 'QQ' }).replace('QQ', '\\u12'), false],
      ['a string never closed', stopPayload().replace(/}$/, ',"z":"abc}'), false],
      ['a raw tab in a string', stopPayload(OWNER, { last_assistant_message: 'QQ' }).replace('QQ', '\t'), false],
      ['over 8 kB', stopPayload(OWNER, { last_assistant_message: prose.repeat(120) }), false],
    ];
    for (const [name, payload, answered] of cases) {
      writeActive();
      session();
      expect([name, compare(name, payload, OWNER)]).toEqual([name, answered]);
    }
    // Past 8 kB the shell reads one block and hands Node that block and the rest: Node's answer, whole.
    session();
    const big = cases.at(-1)![1];
    const before = fs.readFileSync(sessionFile(), 'utf8');
    const n = stopNode(big);
    fs.writeFileSync(sessionFile(), before);
    const r = runHook('stop', big, hookEnv({ sid: OWNER }));
    expect([r.stdout, fs.readFileSync(sessionFile(), 'utf8')]).toEqual(n);
    expect(n[0]).toMatch(/"decision":"block"/);
  });

  it('generated states: wherever the shell answers, Node gives the same answer and writes the same file', () => {
    let answered = 0;
    let total = 0;
    const NEXT = ['Try a lookup table.', 'Try "x"\nthen y', 'a \\ b\té 😀', '', 'x'.repeat(900)];
    fc.assert(
      fc.property(
        fc.record({
          loop: fc.oneof({ weight: 6, arbitrary: fc.constant('active' as const) }, { weight: 1, arbitrary: fc.constantFrom('terminated' as const, 'paused' as const) }),
          runs: fc.integer({ min: 0, max: 6 }),
          maxBlocks: fc.oneof({ weight: 4, arbitrary: fc.constant(500) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 3) }),
          maxIdle: fc.constantFrom(1, 2, 3),
          next: fc.oneof({ weight: 3, arbitrary: fc.constant(NEXT[0]!) }, { weight: 1, arbitrary: fc.constantFrom(...NEXT) }),
          pretty: fc.boolean(),
        }),
        fc.record({
          owner: fc.oneof({ weight: 6, arbitrary: fc.constant<string | null>(OWNER) }, { weight: 1, arbitrary: fc.constantFrom<string | null>('sess-b', null) }),
          agent: fc.oneof({ weight: 4, arbitrary: fc.constantFrom<string | null>('autoloop:autoloop', null) }, { weight: 1, arbitrary: fc.constant<string | null>('a"b') }),
          blocks: fc.integer({ min: 0, max: 4 }),
          idle: fc.integer({ min: 0, max: 3 }),
          lastRuns: fc.constantFrom<number | null>(null, 0, 4, 5, 6),
          nudged: fc.constantFrom<string | null>(null, 'speed#plateau#5'),
          candidate: fc.constantFrom<string | null>(null, 'sess-b'),
          candidateProcess: fc.constantFrom<string | null>(null, '1@1', 'a"b'),
          pastEnd: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constant({ key: 'k', calls: 1 }) }),
          drop: fc.oneof({ weight: 3, arbitrary: fc.constant<string[]>([]) }, { weight: 1, arbitrary: fc.subarray(['chain_nudged', 'candidate', 'past_end', 'last_runs', 'candidate_process']) }),
        }),
        fc.record({
          session: fc.oneof({ weight: 6, arbitrary: fc.constant(OWNER) }, { weight: 1, arbitrary: fc.constant('sess-b') }),
          active: fc.oneof({ weight: 6, arbitrary: fc.constantFrom<unknown>(true, false, undefined) }, { weight: 1, arbitrary: fc.constantFrom<unknown>('yes', null) }),
          off: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
        }),
        (a, st, p) => {
          writeActive({ loop: a.loop, terminated_by: a.loop === 'terminated' ? 'plateau' : null, runs: a.runs, next_action: a.next, stop_hook: { max_blocks: a.maxBlocks, max_idle_blocks: a.maxIdle } }, a.pretty);
          session({ owner_session: st.owner, owner_agent: st.agent, blocks: st.blocks, idle_blocks: st.idle, last_runs: st.lastRuns, chain_nudged: st.nudged, candidate: st.candidate, past_end: st.pastEnd, candidate_process: st.candidateProcess }, st.drop);
          const payload = stopPayload(p.session, { stop_hook_active: p.active });
          total++;
          if (compare(JSON.stringify([a, st, p]), payload, OWNER, p.off ? { AUTOLOOP_STOP_HOOK: 'off' } : {})) answered++;
        },
      ),
      { numRuns: Number(process.env.HOOK_SHELL_RUNS ?? 200), seed: Number(process.env.HOOK_SHELL_SEED ?? 20261129) },
    );
    console.log(`hook-shell: the shell answered ${answered} of ${total} generated Stop calls; Node agreed on each, file included`);
    expect(answered).toBeGreaterThan(total / 20);
  });
});

describe('SessionStart in the shell', () => {
  const startPayload = (extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ session_id: 'sess-new', transcript_path: path.join(scratch, 't.jsonl'), cwd: project, hook_event_name: 'SessionStart', source: 'startup', ...extra });
  const runsDir = (exp = 'speed'): string => path.join(project, '.autoloop', 'experiments', exp, 'runs');

  function startShell(payload: string): string {
    fs.rmSync(marker, { force: true });
    const env = hookEnv({});
    const r = runHook('session-start', payload, { ...env, PATH: `${fakeBin}:${env.PATH}` });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    if (fs.existsSync(marker)) {
      expect(r.stdout).toBe('');
      return 'deferred';
    }
    return r.stdout;
  }

  function startNode(payload: string): string {
    let raw: unknown;
    try {
      raw = JSON.parse(payload);
    } catch {
      return '';
    }
    const input = SessionStartInput.safeParse(raw);
    if (!input.success) return '';
    const f = files(project);
    const active = readActive(f);
    if (!active) return '';
    const { text, session } = sessionStartDecision(active, readSession(f), { ...input.data, process: cliProcess(hookEnv({})) }, () => latestRunPhase(f, active.experiment));
    nodeWrote = session !== null;
    return text ? `${JSON.stringify({ hookSpecificOutput: { hookEventName: 'SessionStart', additionalContext: text } })}\n` : '';
  }
  /** Whether the last startNode would write session.json (the shell, which writes none, must then defer). */
  let nodeWrote = false;
  const hookSession = (): string => path.join(project, '.autoloop', 'session.json');
  /** session.json for a SessionStart case: none, or these fields over an unowned state. */
  function startSession(over: Record<string, unknown> | null): void {
    if (over === null) return fs.rmSync(hookSession(), { force: true });
    const s = { owner_session: null, owner_agent: null, blocks: 0, idle_blocks: 0, last_runs: null, chain_nudged: null, candidate: null, past_end: null, ...over };
    fs.writeFileSync(hookSession(), `${JSON.stringify(s, null, 2)}\n`);
  }

  function runs(spec: Array<[string, string | null]>, exp = 'speed'): void {
    fs.rmSync(runsDir(exp), { recursive: true, force: true });
    for (const [name, result] of spec) {
      fs.mkdirSync(path.join(runsDir(exp), name), { recursive: true });
      if (result !== null) fs.writeFileSync(path.join(runsDir(exp), name, 'result.json'), result);
    }
  }
  const result = (phase: unknown, pretty = true): string => {
    const r = { run_id: 'r0001', phase, status: 'ok', samples: [1, 2.5], metrics: { phase: 'nested' }, tail: 'a "b"\nc', checks: null };
    return pretty ? JSON.stringify(r, null, 2) : JSON.stringify(r);
  };

  afterAll(() => fs.rmSync(runsDir(), { recursive: true, force: true }));

  it('named cases: an active loop\'s state is answered; the rest is Node\'s', () => {
    const cases: Array<[string, Partial<Active>, Array<[string, string | null]>, string, 'answered' | 'deferred']> = [
      ['no runs folder', {}, [], startPayload(), 'answered'],
      ['the last run logged', {}, [['r0001', result('measured')], ['r0002', result('logged')]], startPayload(), 'answered'],
      ['the last run measured, not logged', {}, [['r0009', result('logged')], ['r0010', result('measured', false)]], startPayload(), 'deferred'],
      ['the last run cut off, or being measured now (the lock: Node\'s)', {}, [['r0003', result('running')]], startPayload(), 'deferred'],
      ['the last run has no result yet', {}, [['r0003', result('measured')], ['r0004', null]], startPayload(), 'answered'],
      ['no baseline yet', { runs: 0 }, [], startPayload(), 'answered'],
      ['one run, an empty summary', { runs: 1, summary: '' }, [], startPayload(), 'answered'],
      ['quotes, tabs and unicode in the text', { summary: 'a "b"\tc é 😀', next_action: 'x\\y\n"z"' }, [], startPayload({ source: 'compact' }), 'answered'],
      ['a phase that is not a string', {}, [['r0001', result(3)]], startPayload(), 'answered'],
      ['runs with the same number', {}, [['r1', result('measured')], ['r0001', result('logged')]], startPayload(), 'deferred'],
      ['an unreadable result', {}, [['r0001', '{"phase": "measured",']], startPayload(), 'deferred'],
      ['a long summary (Node clips)', { summary: 'y'.repeat(1500) }, [], startPayload(), 'deferred'],
      ['a long next action (Node clips)', { next_action: 'y'.repeat(700) }, [], startPayload(), 'deferred'],
      ['paused', { loop: 'paused' }, [], startPayload(), 'deferred'],
      ['terminated', { loop: 'terminated', terminated_by: 'target' }, [], startPayload(), 'deferred'],
      ['source not a string', {}, [], startPayload({ source: 1 }), 'deferred'],
      ['no session id', {}, [], startPayload({ session_id: undefined }), 'deferred'],
    ];
    startSession(null);
    for (const [name, over, spec, payload, expected] of cases) {
      writeActive(over, name.includes('measured'));
      runs(spec);
      const s = startShell(payload);
      const n = startNode(payload);
      expect([name, s === 'deferred' ? 'deferred' : 'answered']).toEqual([name, expected]);
      if (s !== 'deferred') expect([name, s]).toEqual([name, n]);
      const r = runHook('session-start', payload, hookEnv({}));
      expect([name, r.stdout]).toEqual([name, n]);
    }
  });

  it('who is told: the owner, another session (its line) and, while nobody owns the loop, anyone in the shell; a candidate, a handover and a resumed owner with a spent budget are Node\'s', () => {
    const here = (): string => cliProcess(hookEnv({}))!;
    const cases: Array<[string, Record<string, unknown> | null, string, 'answered' | 'deferred', 'state' | 'line']> = [
      ['no session.json', null, startPayload(), 'answered', 'state'],
      ['nobody owns it', {}, startPayload(), 'answered', 'state'],
      ['the owner', { owner_session: 'sess-new', owner_process: here() }, startPayload({ source: 'compact' }), 'answered', 'state'],
      ['the owner resumed with a fresh budget', { owner_session: 'sess-new', owner_process: here() }, startPayload({ source: 'resume' }), 'answered', 'state'],
      ['the owner in another process (Node records this one)', { owner_session: 'sess-new', owner_process: '1@1' }, startPayload({ source: 'resume' }), 'deferred', 'state'],
      ['the owner, its process not recorded yet', { owner_session: 'sess-new' }, startPayload({ source: 'compact' }), 'deferred', 'state'],
      ['/clear in the owner\'s process (Node hands it the loop)', { owner_session: 'sess-a', owner_process: here() }, startPayload({ source: 'clear' }), 'deferred', 'state'],
      ['/clear in another process', { owner_session: 'sess-a', owner_process: '1@1' }, startPayload({ source: 'clear' }), 'answered', 'line'],
      ['/clear, the owner\'s process unknown', { owner_session: 'sess-a' }, startPayload({ source: 'clear' }), 'answered', 'line'],
      ['/branch in the owner\'s process (source fork: Node hands it the loop)', { owner_session: 'sess-a', owner_process: here() }, startPayload({ source: 'fork' }), 'deferred', 'state'],
      ['a fork in another process', { owner_session: 'sess-a', owner_process: '1@1' }, startPayload({ source: 'fork' }), 'answered', 'line'],
      ['the owner resumed past its cap (Node resets it)', { owner_session: 'sess-new', blocks: 3, idle_blocks: 1 }, startPayload({ source: 'resume' }), 'deferred', 'state'],
      ['the owner compacted past its cap', { owner_session: 'sess-new', blocks: 3 }, startPayload({ source: 'compact' }), 'deferred', 'state'],
      ['another session', { owner_session: 'sess-a' }, startPayload(), 'answered', 'line'],
      ['another session resumed', { owner_session: 'sess-a' }, startPayload({ source: 'resume' }), 'answered', 'line'],
      ['another session starting in the owner\'s process (no /clear: no handover)', { owner_session: 'sess-a', owner_process: here(), candidate: 'sess-b', candidate_process: here() }, startPayload({ source: 'startup' }), 'answered', 'line'],
      ['/clear in the process of another candidate than this one', { owner_session: 'sess-a', owner_process: '1@1', candidate: 'sess-b', candidate_process: here() }, startPayload({ source: 'clear' }), 'deferred', 'state'],
      ['a fork, its source spelt with an escape', { owner_session: 'sess-a', owner_process: '1@1' }, startPayload({ source: 'fork' }).replace('"fork"', '"f\\u006frk"'), 'deferred', 'line'],
      ['a session handed the loop', { owner_session: 'sess-a', candidate: 'sess-new' }, startPayload(), 'deferred', 'state'],
      ['/clear in the process of a session handed the loop (Node hands the new id the handover)', { owner_session: 'sess-a', candidate: 'sess-b', candidate_process: here() }, startPayload({ source: 'clear' }), 'deferred', 'state'],
      ['the same, nobody owning the loop', { candidate: 'sess-b', candidate_process: here() }, startPayload({ source: 'clear' }), 'deferred', 'state'],
      ['a session handed the loop, resumed in another process (Node records this one)', { candidate: 'sess-new', candidate_process: '1@1' }, startPayload({ source: 'resume' }), 'deferred', 'state'],
      ['a session handed the loop, in its process, nobody owning the loop', { candidate: 'sess-new', candidate_process: here() }, startPayload({ source: 'compact' }), 'answered', 'state'],
      ['another process\'s candidate, nobody owning the loop', { candidate: 'sess-b', candidate_process: '1@1' }, startPayload({ source: 'clear' }), 'answered', 'state'],
      ['a new autoloop agent (takes over after a crash)', { owner_session: 'sess-a' }, startPayload({ agent_type: 'autoloop:autoloop' }), 'deferred', 'state'],
      ['the owner, its id spelt with an escape', { owner_session: 'sess-\\u006eew' }, startPayload(), 'deferred', 'state'],
      ['a past_end record', { owner_session: 'sess-new', past_end: { key: 'k', calls: 2 } }, startPayload(), 'deferred', 'state'],
    ];
    writeActive({ summary: 'SUMMARY-S', next_action: 'NEXT-S' });
    runs([]);
    for (const [name, over, payload, expected, told] of cases) {
      const prepare = (): void => {
        startSession(over);
        if (name.includes('escape')) fs.writeFileSync(hookSession(), fs.readFileSync(hookSession(), 'utf8').replace('\\\\u006e', '\\u006e'));
      };
      prepare();
      const s = startShell(payload);
      const n = startNode(payload);
      expect([name, s === 'deferred' ? 'deferred' : 'answered']).toEqual([name, expected]);
      if (s !== 'deferred') expect([name, s, nodeWrote]).toEqual([name, n, false]);
      prepare();
      const r = runHook('session-start', payload, hookEnv({}));
      expect([name, r.stdout]).toEqual([name, n]);
      const ctx = (JSON.parse(n) as { hookSpecificOutput: { additionalContext: string } }).hookSpecificOutput.additionalContext;
      if (told === 'state') expect([name, ctx]).toEqual([name, expect.stringContaining('NEXT-S')]);
      else expect([name, ctx]).toEqual([name, expect.stringMatching(/^autoloop: experiment "speed" is running in this repository \(5 runs logged\), driven by another session[^\n]*$/)]);
    }
    startSession(null);
  });

  it('generated states: wherever the shell answers, Node gives the same answer', () => {
    let answered = 0;
    let total = 0;
    const TEXT = ['Best 41 ms.', '', 'a "b"\nc\\d é', 'z'.repeat(300), 'w'.repeat(1300), 'Try a lookup table.'];
    const RESULTS = [result('logged'), result('measured'), result('running'), result('measured', false), result(null), '{"phase":"a","phase":"measured"}', '[1]', '{"phase":"measur\\u0065d"}', '{\t"phase": "running"}', 'x'];
    fc.assert(
      fc.property(
        fc.record({
          loop: fc.oneof({ weight: 6, arbitrary: fc.constant('active' as const) }, { weight: 1, arbitrary: fc.constantFrom('terminated' as const, 'paused' as const, 'stopped' as const) }),
          runs: fc.constantFrom(0, 1, 5, 12),
          summary: fc.constantFrom(...TEXT),
          next: fc.constantFrom(...TEXT),
          pretty: fc.boolean(),
        }),
        fc.array(fc.tuple(fc.constantFrom('r0001', 'r0002', 'r0010', 'r1', 'r2', 'rx', 'r', 'notes'), fc.option(fc.constantFrom(...RESULTS), { nil: null })), { maxLength: 3 }),
        fc.constantFrom<Record<string, unknown>>({}, {}, { source: 'resume' }, { source: 2 }, { session_id: 5 }, { agent_type: 'autoloop:autoloop' }),
        fc.constantFrom<Record<string, unknown> | null>(null, null, {}, { owner_session: 'sess-new' }, { owner_session: 'sess-new', owner_process: cliProcess(hookEnv({})) }, { owner_session: 'sess-new', blocks: 2 }, { owner_session: 'sess-a' }, { owner_session: 'sess-a', candidate: 'sess-new' }, { candidate: 'sess-b', candidate_process: cliProcess(hookEnv({})) }, { candidate: 'sess-new', candidate_process: '1@1' }, { candidate: 'sess-new', candidate_process: cliProcess(hookEnv({})) }),
        (a, spec, extra, hs) => {
          writeActive({ loop: a.loop, terminated_by: a.loop === 'terminated' ? 'plateau' : null, runs: a.runs, summary: a.summary, next_action: a.next }, a.pretty);
          runs(spec);
          startSession(hs);
          const payload = startPayload(extra);
          const s = startShell(payload);
          total++;
          if (s === 'deferred') return;
          answered++;
          expect([JSON.stringify([a, spec, extra, hs]), s]).toEqual([JSON.stringify([a, spec, extra, hs]), startNode(payload)]);
          expect([JSON.stringify([a, spec, extra, hs]), nodeWrote]).toEqual([JSON.stringify([a, spec, extra, hs]), false]);
        },
      ),
      { numRuns: Number(process.env.HOOK_SHELL_RUNS ?? 200), seed: Number(process.env.HOOK_SHELL_SEED ?? 20261129) },
    );
    console.log(`hook-shell: the shell answered ${answered} of ${total} generated SessionStart calls; Node agreed on each`);
    expect(answered).toBeGreaterThan(total / 20);
    startSession(null);
  });
});

describe('PostToolUse of another session in the shell (the claim)', () => {
  const sessionFile = (): string => path.join(project, '.autoloop', 'session.json');
  const CLAIMANT = 'sess-b';
  const postPayload = (command: string, session = CLAIMANT, extra: Record<string, unknown> = {}): string =>
    JSON.stringify({
      session_id: session,
      transcript_path: path.join(scratch, `${session}.jsonl`),
      cwd: project,
      permission_mode: 'default',
      hook_event_name: 'PostToolUse',
      tool_name: 'Bash',
      tool_input: { command, description: 'run it' },
      tool_response: { stdout: '{"decision":"keep","value":41.2}', stderr: '', interrupted: false, isImage: false },
      tool_use_id: 'toolu_02',
      ...extra,
    });
  const state = (): string | null => (fs.existsSync(sessionFile()) ? fs.readFileSync(sessionFile(), 'utf8') : null);
  const restore = (text: string | null): void => (text === null ? fs.rmSync(sessionFile(), { force: true }) : fs.writeFileSync(sessionFile(), text));

  /** The Node hook's effect from its own code (hooks/src/on-record.ts without the process around it): it prints nothing. */
  function postNode(payload: string): [string, string | null] {
    let raw: unknown;
    try {
      raw = JSON.parse(payload);
    } catch {
      raw = undefined;
    }
    const input = PostToolUseInput.safeParse(raw);
    const f = files(project);
    const active = input.success ? readActive(f) : null;
    if (input.success && active) {
      const next = postToolUseDecision(input.data, active, readSession(f), project, hookEnv({}));
      if (next) writeHookSession(f, next);
    }
    return ['', state()];
  }

  /**
   * Both paths from the same files; where the shell answers, its output and session.json must be Node's.
   * withReal: also through run.sh with the real node, which must do what Node's code does (where the
   * shell answers, that call is the shell's path again, so it is worth a Node start only when deferred).
   */
  function compare(name: string, payload: string, sid: string, withReal: (deferred: boolean) => boolean = () => true): boolean {
    const before = state();
    fs.rmSync(marker, { force: true });
    const env = hookEnv({ sid });
    const r = runHook('post-tool-use', payload, { ...env, PATH: `${fakeBin}:${env.PATH}` });
    expect([name, r.status, r.stderr]).toEqual([name, 0, '']);
    const shellState = state();
    const deferred = fs.existsSync(marker);
    restore(before);
    const n = postNode(payload);
    // The deferred path hands the real Node hook the payload intact.
    restore(before);
    if (withReal(deferred)) {
      const real = runHook('post-tool-use', payload, env);
      expect([name, real.stdout, state()]).toEqual([name, ...n]);
      restore(before);
    }
    if (deferred) {
      expect([name, r.stdout, shellState]).toEqual([name, '', before]);
      return false;
    }
    expect([name, r.stdout, shellState]).toEqual([name, ...n]);
    return true;
  }

  function session(over: Record<string, unknown> = {}): void {
    const s = { owner_session: OWNER, owner_agent: 'autoloop:autoloop', blocks: 3, idle_blocks: 1, last_runs: 4, chain_nudged: null, candidate: null, past_end: null, ...over };
    fs.writeFileSync(sessionFile(), `${JSON.stringify(s, null, 2)}\n`);
  }
  const agent = { agent_type: 'autoloop:autoloop' };

  it('named cases: a claim and a call that claims nothing are answered; the rest is Node\'s', () => {
    const cases: Array<[string, () => void, Partial<Active>, string, string, boolean, boolean]> = [
      // [name, session.json, active.json, payload, env session, answered, claimed]
      ['run-experiment after the baseline', () => session(), {}, postPayload(engine('run-experiment')), CLAIMANT, true, true],
      ['run-experiment as the autoloop agent', () => session(), {}, postPayload(engine('run-experiment'), CLAIMANT, agent), CLAIMANT, true, true],
      ['the one-call iteration with free text', () => session(), {}, postPayload(engine('run-experiment', '--description "memo (parse); 2x faster" --json'), CLAIMANT, agent), CLAIMANT, true, true],
      ['log-experiment after two runs', () => session(), { runs: 2 }, postPayload(engine('log-experiment')), CLAIMANT, true, true],
      ['log-experiment of the baseline (claims nothing)', () => session(), { runs: 1 }, postPayload(engine('log-experiment')), CLAIMANT, true, false],
      ['the baseline run (claims nothing)', () => session(), { runs: 0 }, postPayload(engine('run-experiment')), CLAIMANT, true, false],
      ['the baseline run as the agent', () => session(), { runs: 0 }, postPayload(engine('run-experiment'), CLAIMANT, agent), CLAIMANT, true, true],
      ['status (claims nothing)', () => session(), {}, postPayload(engine('status')), CLAIMANT, true, false],
      ['no session.json yet', () => fs.rmSync(sessionFile(), { force: true }), {}, postPayload(engine('run-experiment')), CLAIMANT, true, true],
      ['nobody owns it', () => session({ owner_session: null, candidate: CLAIMANT }), {}, postPayload(engine('run-experiment')), CLAIMANT, true, true],
      ['chain (Node\'s)', () => session(), {}, postPayload(engine('chain', '--json')), CLAIMANT, false, true],
      ['init-experiment (Node\'s: it enlists, and claims nothing)', () => session(), {}, postPayload(engine('init-experiment')), CLAIMANT, false, false],
      ['a malformed session.json (Node warns)', () => fs.writeFileSync(sessionFile(), '{"owner_session":'), {}, postPayload(engine('run-experiment')), CLAIMANT, false, true],
      ['an empty session.json (Node warns)', () => fs.writeFileSync(sessionFile(), ''), {}, postPayload(engine('run-experiment')), CLAIMANT, false, true],
      ['a past_end record', () => session({ past_end: { key: 'k', calls: 1 } }), {}, postPayload(engine('run-experiment')), CLAIMANT, false, true],
      ['the claimant as owner, spelt with an escape (Node: nothing to record)', () => (session({ owner_session: 'sess-X' }), fs.writeFileSync(sessionFile(), state()!.replace('sess-X', 'sess-\\u0062'))), {}, postPayload(engine('run-experiment')), CLAIMANT, false, false],
      ['payload of another session than the environment', () => session(), {}, postPayload(engine('run-experiment')), 'sess-c', false, true],
      ['an agent name JSON would spell otherwise', () => session(), {}, postPayload(engine('run-experiment'), CLAIMANT, { agent_type: 'a"b' }), CLAIMANT, false, true],
      ['a paused loop', () => session(), { loop: 'paused' }, postPayload(engine('run-experiment')), CLAIMANT, false, true],
      ['piped into tail', () => session(), {}, postPayload(`${engine('run-experiment')} | tail -3`), CLAIMANT, false, true],
      ['another node script (it ran no engine: nothing to record)', () => session(), {}, postPayload('node bench/bench.mjs'), CLAIMANT, true, false],
      ['another node command over 8 kB, decided by its head', () => session(), {}, postPayload('node scripts/build.mjs 2>&1 | tail -20', CLAIMANT, { tool_response: { stdout: 'x"'.repeat(20_000) } }), CLAIMANT, true, false],
      ['another node command whose output is 6 kB of JSON (its quotes are not walked)', () => session(), {}, postPayload('node dump.mjs --json', CLAIMANT, { tool_response: { stdout: JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ k: i }))) } }), CLAIMANT, true, false],
      ['npx in a subdirectory, nobody owning the loop', () => session({ owner_session: null }), {}, postPayload("cd src && npx vitest run 'a b' > /dev/null"), CLAIMANT, true, false],
      ['another node command of the owner\'s candidate', () => session({ candidate: CLAIMANT }), {}, postPayload('node -e "console.log(1)"'), CLAIMANT, true, false],
      ['an engine entry point of another name, its name quoted in parts (Node claims)', () => session(), {}, postPayload('node tools/run-exp"eriment".mjs'), CLAIMANT, false, true],
      ['a script a shell runs, which runs the engine (Node reads it and claims)', () => (session(), fs.writeFileSync(path.join(project, 'go.sh'), 'node tools/run-experiment.mjs\n')), {}, postPayload('node a.js && bash go.sh'), CLAIMANT, false, true],
      ['BASH_ENV before node (Node reads the script it names)', () => (session(), fs.writeFileSync(path.join(project, 'go.sh'), 'node tools/run-experiment.mjs\n')), {}, postPayload('BASH_ENV=go.sh node a.js'), CLAIMANT, false, true],
      ['an engine call after 8 kB of command (no head to decide by)', () => session(), {}, postPayload(`node a.js ${'x'.repeat(9000)} && ${engine('run-experiment')}`), CLAIMANT, false, true],
      ['an unrelated Skill', () => session(), {}, JSON.stringify({ ...JSON.parse(postPayload('')), tool_name: 'Skill', tool_input: { skill: 'review' } }), CLAIMANT, true, false],
      ['a handover Skill spelt with an escape (Node enlists)', () => session(), {}, JSON.stringify({ ...JSON.parse(postPayload('')), tool_name: 'Skill', tool_input: { skill: 'autoloop:run' } }).replace('autoloop:run', 'autoloop:r\\u0075n'), CLAIMANT, false, false],
      ['a fake plugin root', () => session(), {}, postPayload(engine('run-experiment', '--json', '/tmp/fake')), CLAIMANT, false, true],
      ['output over 8 kB', () => session(), {}, postPayload(engine('run-experiment'), CLAIMANT, { tool_response: { stdout: 'x'.repeat(9000) } }), CLAIMANT, false, true],
      ['session_id twice (JSON.parse keeps the last: sess-c claims)', () => session(), {}, postPayload(engine('run-experiment')).replace(/}$/, ',"session_id":"sess-c"}'), CLAIMANT, false, false],
      ['a Skill', () => session(), {}, JSON.stringify({ ...JSON.parse(postPayload('')), tool_name: 'Skill', tool_input: { skill: 'autoloop:run' } }), CLAIMANT, false, false],
    ];
    for (const [name, setup, over, payload, sid, answered, claimed] of cases) {
      writeActive(over);
      setup();
      const before = state();
      expect([name, compare(name, payload, sid)]).toEqual([name, answered]);
      postNode(payload);
      expect([name, state() !== before && state()!.includes(`"owner_session": "${CLAIMANT}"`)]).toEqual([name, claimed]);
      writeSession();
    }
  });

  it('generated commands of another session: wherever the shell answers, Node records nothing either', () => {
    fs.writeFileSync(path.join(project, 'go.sh'), 'node tools/run-experiment.mjs\n');
    let answered = 0;
    let total = 0;
    let realCalls = 0;
    const LEAD = ['node', 'node', 'npx', 'cd src &&', 'FOO=1 node', 'time node', 'bash', 'source', 'eval', 'env', 'cat', 'grep -n x', './go.sh', '"node"', 'nod"e"'];
    const WORDS = [
      'x.js', 'scripts/build.mjs', '-e "console.log(1)"', "'a b'", '--version', 'tsx src/a.ts', 'go.sh', 'tools/run-experiment.mjs', 'tools/run-exp"eriment".mjs',
      "'chain.mjs'", 'candidate.ts', `"${ROOT}/dist/run-experiment.mjs"`, `"${ROOT}/dist/status.mjs"`, '$X', '`y`', '2>&1', '> out.txt', '>> /dev/null', '2>/dev/null',
      '| tail -3', '| bash', '&& echo ok', '|| true', '; node b.js', '&& bash go.sh', '& wait', '(x)', '{a,b}', '*.js', '~/x', '# c', '<<< go.sh', '< go.sh', 'a\\b',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...LEAD),
        fc.array(fc.constantFrom(...WORDS), { maxLength: 4 }),
        fc.constantFrom(0, 0, 9000, 30_000),
        fc.constantFrom<Record<string, unknown>>({}, { owner_session: null }, { candidate: CLAIMANT }),
        (lead, words, out, over) => {
          writeActive();
          session(over);
          const command = [lead, ...words].join(' ');
          const payload = postPayload(command, CLAIMANT, out ? { tool_response: { stdout: 'o"\n'.repeat(out / 3), stderr: '' } } : {});
          total++;
          const real = (deferred: boolean): boolean => deferred && realCalls++ < 10;
          if (compare(JSON.stringify([command, out, over]), payload, CLAIMANT, real)) answered++;
        },
      ),
      { numRuns: Number(process.env.HOOK_SHELL_RUNS ?? 150), seed: Number(process.env.HOOK_SHELL_SEED ?? 20261129) },
    );
    console.log(`hook-shell: the shell answered ${answered} of ${total} generated PostToolUse commands of another session (nothing to record); Node agreed on each`);
    expect(answered).toBeGreaterThan(total / 10);
    fs.rmSync(path.join(project, 'go.sh'));
  });

  it('generated states: wherever the shell answers, Node prints the same and writes the same file', () => {
    let answered = 0;
    let total = 0;
    let realCalls = 0;
    const SESSIONS: Array<() => void> = [
      () => session(),
      () => session({ owner_session: null }),
      () => fs.rmSync(sessionFile(), { force: true }),
      () => session({ owner_session: CLAIMANT }),
      () => session({ owner_agent: 'a"b', chain_nudged: 'speed#plateau#5' }),
      () => session({ blocks: 1.5 }),
      () => fs.writeFileSync(sessionFile(), '{"owner_session":"sess-a","owner_agent":null,"blocks":0,"idle_blocks":0,"last_runs":null}'),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...SESSIONS.keys()),
        fc.integer({ min: 0, max: 3 }),
        fc.oneof({ weight: 6, arbitrary: fc.constant('active' as const) }, { weight: 1, arbitrary: fc.constantFrom('terminated' as const, 'paused' as const) }),
        fc.constantFrom('run-experiment', 'run-experiment', 'log-experiment', 'log-experiment', 'status', 'chain', 'init-experiment', 'report', 'control'),
        fc.constantFrom('--json', '--description "a; b | c" --json', "--description 'x $(y)'", '--description "$(rm -rf x)"', '> /tmp/x', '--cwd /tmp'),
        fc.constantFrom<string | undefined>('autoloop:autoloop', 'autoloop:autoloop', undefined, 'other:agent', 'a b'),
        // The environment's session is never the owner's here: run.sh answers the owner's PostToolUse by it alone.
        fc.oneof({ weight: 5, arbitrary: fc.constant(CLAIMANT) }, { weight: 1, arbitrary: fc.constant('sess-c') }),
        fc.boolean(),
        (st, runs, loop, script, args, agentType, sid, pretty) => {
          writeActive({ runs, loop, terminated_by: loop === 'terminated' ? 'plateau' : null }, pretty);
          SESSIONS[st]!();
          const payload = postPayload(engine(script, args), CLAIMANT, agentType === undefined ? {} : { agent_type: agentType });
          total++;
          // The real Node hook on the first ten deferred calls (the named cases run it on each): Node's
          // verdict on the rest comes from the same code in-process (postNode).
          const real = (deferred: boolean): boolean => deferred && realCalls++ < 10;
          if (compare(JSON.stringify([st, runs, loop, script, args, agentType, sid]), payload, sid, real)) answered++;
        },
      ),
      { numRuns: Number(process.env.HOOK_SHELL_RUNS ?? 100), seed: Number(process.env.HOOK_SHELL_SEED ?? 20261129) },
    );
    console.log(`hook-shell: the shell answered ${answered} of ${total} generated PostToolUse calls of another session; Node agreed on each, file included`);
    expect(answered).toBeGreaterThan(total / 10);
    expect(realCalls).toBeGreaterThanOrEqual(10);
  });
});
