// session.json written by several hooks at once (scripts/lib/session-lock.ts): the owner's Stops
// answered in the shell (session.sh) back to back, while another session's handover or claim is
// written by Node, and the reverse. Real sh and node processes racing in a real directory; a write
// decided on a stale read must never undo another's.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ActiveFile } from '../scripts/lib/schema.ts';
import { freshStopStint } from '../scripts/lib/supervisor/stop-stint.ts';
import { clearSession, commitSessionLock, releaseSessionLock, sessionLockPath, takeSessionLock } from '../scripts/lib/session-lock.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUN_SH = path.join(ROOT, 'hooks', 'run.sh');
const OWNER = 'sess-owner';
const OTHER = 'sess-other';
const ROUNDS = 12;
const STOPS = 12; // Stops of the owner per round, one after another

let scratch: string;
let project: string;
beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'hooks.cjs'))) throw new Error('dist/hooks.cjs is missing: run npm run build');
});
beforeEach(() => {
  scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-slock-')));
  project = path.join(scratch, 'repo');
  for (const d of ['.git', 'src', '.autoloop/experiments/speed']) fs.mkdirSync(path.join(project, d), { recursive: true });
  const active = ActiveFile.parse({
    version: 1,
    experiment: 'speed',
    loop: 'active',
    scope: ['src/**'],
    protect: [],
    writable: [],
    summary: 'best 41 ms.',
    next_action: 'try a lookup table.',
    terminated_by: null,
    chain_allowed: false,
    runs: 5,
    stop_hook: { max_blocks: 100000, max_idle_blocks: 100000 },
    updated_at: '2026-11-30T08:00:00.000Z',
  });
  fs.writeFileSync(path.join(project, '.autoloop', 'active.json'), JSON.stringify(active));
});
afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

const sessionFile = (): string => path.join(project, '.autoloop', 'session.json');
const readSession = (): Record<string, unknown> => JSON.parse(fs.readFileSync(sessionFile(), 'utf8')) as Record<string, unknown>;
function resetSession(): void {
  const s = { owner_session: OWNER, owner_agent: null, blocks: 0, idle_blocks: 0, last_runs: 5, chain_nudged: null, candidate: null, past_end: null, owner_process: null, candidate_process: null };
  fs.writeFileSync(sessionFile(), `${JSON.stringify(s, null, 2)}\n`);
}
const common = (sid: string) => ({ session_id: sid, transcript_path: path.join(scratch, `${sid}.jsonl`), cwd: project });
const stopPayload = (): string => JSON.stringify({ ...common(OWNER), hook_event_name: 'Stop', stop_hook_active: false });
const post = (sid: string, toolName: string, toolInput: object) =>
  JSON.stringify({ ...common(sid), hook_event_name: 'PostToolUse', tool_name: toolName, tool_input: toolInput, tool_response: { stdout: '{}', stderr: '' } });

interface Ran {
  stdout: string;
  stderr: string;
  code: number | null;
}
/** One real `sh run.sh <event>` process (or a loop of them, for `times`), started now, as Claude Code starts hooks. */
function hooks(event: string, payload: string, sid: string, times = 1): Promise<Ran> {
  const input = path.join(scratch, `in-${event}-${sid}-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(input, payload);
  const script = `i=0; while [ $i -lt ${times} ]; do sh "$1" "$2" <"$3" || exit 1; echo; i=$((i + 1)); done`;
  const child = spawn('/bin/sh', ['-c', script, 'hooks', RUN_SH, event, input], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: scratch, CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: project, CLAUDE_CODE_SESSION_ID: sid },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ stdout, stderr, code })));
}
const blocksIn = (r: Ran): number => r.stdout.split('\n').filter((l) => l.includes('"decision":"block"')).length;

describe('session.json under concurrent hooks', () => {
  it('a handover written by Node is never undone by the owner\'s Stops answered in the shell', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      resetSession();
      const stops = hooks('stop', stopPayload(), OWNER, STOPS);
      const handover = hooks('post-tool-use', post(OTHER, 'Skill', { skill: 'autoloop:run' }), OTHER);
      const [s, h] = await Promise.all([stops, handover]);
      expect([s.code, h.code]).toEqual([0, 0]);
      const after = readSession();
      expect(after.candidate, `round ${round}`).toBe(OTHER);
      expect(after.owner_session).toBe(OWNER);
      // Nor a Stop's count undone by the handover: every block shown is counted (none dropped as busy here).
      if (!/busy/.test(s.stderr + h.stderr)) expect(after.blocks, `round ${round}`).toBe(blocksIn(s));
      expect(fs.existsSync(sessionLockPath(sessionFile()))).toBe(false);
    }
  });

  it('a claim written by Node is never undone by the old owner\'s Stops answered in the shell', async () => {
    // A piped engine call is Node's claim (the shell answers only the plain form).
    const claim = post(OTHER, 'Bash', { command: `node "${ROOT}/dist/run-experiment.mjs" --json | tail -3`, description: 'measure' });
    for (let round = 0; round < ROUNDS; round++) {
      resetSession();
      const [s, c] = await Promise.all([hooks('stop', stopPayload(), OWNER, STOPS), hooks('post-tool-use', claim, OTHER)]);
      expect([s.code, c.code]).toEqual([0, 0]);
      expect(readSession().owner_session, `round ${round}`).toBe(OTHER);
    }
  });

  it('Stops answered in the shell and by Node at once: every block shown is counted', async () => {
    // A payload past the shell's 8 kB is Node's (session.sh st_decide); the small one is the shell's.
    const big = JSON.stringify({ ...JSON.parse(stopPayload()), last_assistant_message: 'x'.repeat(9000) });
    for (let round = 0; round < ROUNDS / 2; round++) {
      resetSession();
      const [sh, node] = await Promise.all([hooks('stop', stopPayload(), OWNER, 4 * STOPS), hooks('stop', big, OWNER, 4)]);
      expect([sh.code, node.code]).toEqual([0, 0]);
      expect(blocksIn(node)).toBe(4);
      if (!/busy/.test(sh.stderr + node.stderr)) expect(readSession().blocks, `round ${round}`).toBe(blocksIn(sh) + blocksIn(node));
    }
  });
});

describe('the lock itself', () => {
  it('is taken over from a dead holder, waited for a bounded time when live, and a write it cannot take is dropped', () => {
    fs.mkdirSync(path.join(project, '.autoloop'), { recursive: true });
    resetSession();
    const lock = sessionLockPath(sessionFile());
    // A shell hook killed holding it: its pid is gone.
    fs.writeFileSync(lock, '999999999\n');
    const l = takeSessionLock(sessionFile());
    expect(l).not.toBeNull();
    // Held by a live process (this one): the next taker gives up after its wait, no hang.
    expect(takeSessionLock(sessionFile(), 20)).toBeNull();
    commitSessionLock(l!, '{"owner_session":null}\n');
    expect(fs.existsSync(lock)).toBe(false);
    expect(readSession()).toEqual({ owner_session: null });
    // A holder killed after writing the new state into it, before its rename: taken over once a second old.
    fs.writeFileSync(lock, '{"owner_session":"x"}\n');
    expect(takeSessionLock(sessionFile(), 20)).toBeNull();
    const old = new Date(Date.now() - 5_000);
    fs.utimesSync(lock, old, old);
    const late = takeSessionLock(sessionFile(), 20);
    expect(late).not.toBeNull();
    releaseSessionLock(late!);
    // Something that cannot be removed in its place (a folder): given up after the wait, no endless loop.
    fs.mkdirSync(lock);
    fs.writeFileSync(path.join(lock, 'f'), '');
    fs.utimesSync(lock, old, new Date(Date.now() - 60_000));
    expect(takeSessionLock(sessionFile(), 20)).toBeNull();
    fs.rmSync(lock, { recursive: true });
    const again = takeSessionLock(sessionFile());
    expect(again).not.toBeNull();
    releaseSessionLock(again!);
    clearSession(sessionFile());
    expect(fs.existsSync(sessionFile())).toBe(false);
  });

  it('up\'s fresh Stop stint writes under the lock too: held by a live writer, the count stays; free, it is zeroed', () => {
    resetSession();
    fs.writeFileSync(sessionFile(), fs.readFileSync(sessionFile(), 'utf8').replace('"blocks": 0', '"blocks": 7'));
    const held = takeSessionLock(sessionFile());
    freshStopStint(project, OWNER);
    expect(readSession().blocks).toBe(7);
    releaseSessionLock(held!);
    freshStopStint(project, OWNER);
    expect(readSession()).toMatchObject({ owner_session: OWNER, blocks: 0 });
    expect(fs.existsSync(sessionLockPath(sessionFile()))).toBe(false);
  });

  it('a lock left by a hook killed while holding it (its pid gone) is taken over: the next Stop is counted', async () => {
    resetSession();
    fs.writeFileSync(sessionLockPath(sessionFile()), '999999999\n');
    const r = await hooks('stop', stopPayload(), OWNER);
    expect(r.stdout).toMatch(/"decision":"block"/);
    expect(readSession().blocks).toBe(1);
    expect(fs.existsSync(sessionLockPath(sessionFile()))).toBe(false);
  });

  it('a Stop in the shell while another holds the lock defers to Node, which answers and drops its write after a bounded wait', async () => {
    resetSession();
    const before = fs.readFileSync(sessionFile(), 'utf8');
    fs.writeFileSync(sessionLockPath(sessionFile()), `${process.pid}\n`); // a live holder that never lets go
    const r = await hooks('stop', stopPayload(), OWNER);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/"decision":"block"/);
    expect(r.stderr).toMatch(/busy/);
    expect(fs.readFileSync(sessionFile(), 'utf8')).toBe(before);
  });
});
