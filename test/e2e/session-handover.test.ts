// The owner's conversation replaced by another in a live CLI: /clear (a new
// session id in the same Claude Code process, SessionStart source "clear")
// keeps the loop's driver, while a /clear in another process does not; and a
// `--resume <owner> --fork-session` copy (source "fork") is told that the loop
// is driven elsewhere and its copied instructions are not its own. The real
// pinned CLI and the scripted model; /clear is typed through -p's stream-json
// input, one message at a time, each after the previous turn's result.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, ensureClaude, REPO_ROOT } from './claude-cli.ts';
import { ALLOWED_TOOLS, stubEngine, writeActive, type Fixture } from './fixture.ts';
import { bash, seenText, sinceLastAssistant, startMockApi, text, type ApiRequest, type Script } from './mock-api.ts';
import { CONTEXT, FEEDBACK, SESSION_TIMEOUT, feedbackCount, readJson, sessionHarness } from './session-driver.ts';

const { fixture, drive } = sessionHarness();
let claudeBin = '';
beforeAll(() => {
  claudeBin = ensureClaude();
}, 900_000);
const sessionFile = (f: Fixture): string => path.join(f.repo, '.autoloop', 'session.json');

interface Streamed {
  /** The session id of each message's result, in order. */
  ids: string[];
  /** Main-thread requests, by the message they answer. */
  byMessage: ApiRequest[][];
  /** The tool calls refused in each message's turn (its result's permission_denials). */
  denials: unknown[][];
  code: number | null;
}

/**
 * One CLI process fed these user messages in turn (stream-json): each is written once the result
 * of the one before it came, as a person types the next line, so "/clear" runs between two turns.
 */
async function stream(f: Fixture, messages: string[], script: Script, before: (i: number) => void = () => undefined, allow = true): Promise<Streamed> {
  const byMessage: ApiRequest[][] = messages.map(() => []);
  let sent = 0;
  const api = await startMockApi({ script: (turn) => (byMessage[sent - 1]!.push(turn.req), script(turn)) });
  try {
    // allow = false: no permission flag, so only what the hooks approve runs.
    const args = ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--plugin-dir', REPO_ROOT, ...(allow ? ['--allowedTools', ALLOWED_TOOLS] : [])];
    const child = spawn(claudeBin, args, { cwd: f.repo, env: cliEnv(f.home, api.url), stdio: ['pipe', 'pipe', 'pipe'] });
    const ids: string[] = [];
    const denials: unknown[][] = [];
    const send = (): void => {
      before(sent);
      const m = messages[sent++];
      if (m === undefined) child.stdin.end();
      else child.stdin.write(`${JSON.stringify({ type: 'user', message: { role: 'user', content: m } })}\n`);
    };
    let buf = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let o: { type?: string; session_id?: string; permission_denials?: unknown[] } | null = null;
        try {
          o = JSON.parse(line) as { type?: string; session_id?: string; permission_denials?: unknown[] };
        } catch {
          o = null;
        }
        if (o?.type === 'result') {
          ids.push(o.session_id ?? '');
          denials.push(o.permission_denials ?? []);
          send();
        }
      }
    });
    send();
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 540_000); // ends a hung session; not a speed check
      child.on('close', (c) => (clearTimeout(t), resolve(c)));
    });
    if (api.errors.length) throw api.errors[0]!;
    expect(ids, `results: ${ids.join(', ')}\n${err}`).toHaveLength(messages.length);
    return { ids, byMessage, denials, code };
  } finally {
    await api.close();
  }
}

const injected = (r: ApiRequest): string =>
  r.messages
    .filter((m) => m.role === 'system' || seenText({ messages: [m] }).includes(CONTEXT))
    .map((m) => seenText({ messages: [m] }))
    .join('\n');

describe('/clear and --fork-session of the owner', () => {
  it('/clear in the owner\'s process keeps the loop driven (state, rules, Stop) by the new id; a /clear in another process does not take it', { timeout: SESSION_TIMEOUT * 2 }, async () => {
    const f = fixture();
    const engine = stubEngine(f.repo);
    writeActive(f.repo, { summary: 'SUMMARY-C one run', next_action: 'NEXT-MARK-C try a table', stop_hook: { max_blocks: 1, max_idle_blocks: 10 } });
    // Turn 1 takes the loop (an engine call after the baseline), is held once at Stop, then let go at
    // the cap; "/clear" (no model turn); turn 3 in the new conversation.
    const owner = await stream(f, ['Continue the experiment.', '/clear', 'Go on.'], ({ index }) =>
      index === 0 ? [bash(engine, 'run the experiment')] : [text('Pausing here.')],
    );
    expect(owner.code).toBe(0);
    const [first, , after] = owner.ids;
    expect(after).not.toBe(first); // /clear gave the conversation a new id
    expect(feedbackCount(owner.byMessage[0]!)).toBe(1); // the owner before the clear, held up to its cap
    expect(owner.byMessage[1]).toEqual([]); // /clear asks the model nothing
    // The new conversation gets the loop's state and rules, as the owner does.
    const fresh = owner.byMessage[2]!;
    const ctx = injected(fresh[0]!);
    expect(seenText(fresh[0]!)).not.toContain('stub engine'); // the old conversation is gone
    expect(ctx).toContain('SUMMARY-C one run');
    expect(ctx).toContain('NEXT-MARK-C');
    expect(ctx).toContain('Rules while the loop runs');
    expect(ctx).not.toContain('driven by another session');
    // Held at Stop again: the new id drives the loop, with a fresh budget (the old stint ended at the cap).
    expect(feedbackCount(fresh)).toBe(1);
    expect(sinceLastAssistant(fresh[fresh.length - 1]!)).toContain('NEXT-MARK-C');
    expect(readJson(sessionFile(f))).toMatchObject({ owner_session: after, blocks: 1 });

    // Another CLI process (another terminal) typing /clear is not the owner's: one line, no Stop block,
    // and the loop stays with the owner's new id.
    const other = await stream(f, ['/clear', 'What is in this repository?'], () => [text('A small project.')]);
    expect(other.code).toBe(0);
    expect(other.byMessage[1]).toHaveLength(1); // no Stop block
    const line = injected(other.byMessage[1]![0]!);
    expect(line).toContain('driven by another session');
    expect(line).not.toContain('Rules while the loop runs');
    expect(readJson(sessionFile(f))).toMatchObject({ owner_session: after });
  });

  it('/clear in a session handed the loop by /autoloop:run in another process keeps the handover: the new id gets the state and its engine calls are approved', { timeout: SESSION_TIMEOUT * 2 }, async () => {
    const f = fixture();
    const engine = stubEngine(f.repo);
    writeActive(f.repo, { summary: 'SUMMARY-R one run', next_action: 'NEXT-MARK-R try a table', stop_hook: { max_blocks: 1, max_idle_blocks: 10 } });
    // An earlier session owns the loop (its process is not the one below).
    const first = await stream(f, ['Continue the experiment.'], ({ index }) => (index === 0 ? [bash(engine, 'run the experiment')] : [text('Pausing here.')]));
    const ownerId = first.ids[0];
    expect(readJson(sessionFile(f))).toMatchObject({ owner_session: ownerId });

    // Another terminal, with no permission flag: /autoloop:run hands it the loop (the model only says it
    // will start), the user types /clear, and the new conversation asks the engine for the status.
    const status = `node "${REPO_ROOT}/dist/status.mjs"`;
    const handed = await stream(
      f,
      ['/autoloop:run', '/clear', 'GO-ON-MARK: carry on.'],
      ({ req }) => (sinceLastAssistant(req).includes('GO-ON-MARK') ? [bash(status, 'the loop\'s state')] : [text('Ready.')]),
      undefined,
      false,
    );
    expect(handed.code).toBe(0);
    const [runId, , after] = handed.ids;
    expect(after).not.toBe(runId);
    expect(readJson(sessionFile(f))).toMatchObject({ owner_session: ownerId, candidate: after });
    const fresh = handed.byMessage[2]!;
    const ctx = injected(fresh[0]!);
    expect(ctx).toContain('NEXT-MARK-R');
    expect(ctx).toContain('Rules while the loop runs');
    expect(ctx).not.toContain('driven by another session');
    // The engine call of the new id was approved by the hook (no flag allows it otherwise).
    expect(handed.denials[2]).toEqual([]);
    expect(fresh.length).toBeGreaterThanOrEqual(2);
  });

  it('a session handed the loop by /autoloop:run that drives it keeps it across /compact: the state again, the Stop budget kept', { timeout: SESSION_TIMEOUT * 2 }, async () => {
    const f = fixture();
    const engine = stubEngine(f.repo);
    writeActive(f.repo, { summary: 'SUMMARY-K one run', next_action: 'NEXT-MARK-K try a table', stop_hook: { max_blocks: 2, max_idle_blocks: 10 } });
    const first = await stream(f, ['Continue the experiment.'], ({ index }) => (index === 0 ? [bash(engine, 'run the experiment')] : [text('Pausing here.')]));
    expect(readJson(sessionFile(f))).toMatchObject({ owner_session: first.ids[0] });
    // Another terminal takes the loop (/autoloop:run, then an engine call), is held up to its cap,
    // compacts, and carries on.
    let ran = false;
    const handed = await stream(f, ['/autoloop:run', '/compact', 'GO-ON-MARK: carry on.'], ({ req }) => {
      if (ran || !seenText(req).includes('# /autoloop:run')) return [text('Pausing here.')];
      ran = true;
      return [bash(engine, 'run the experiment')];
    });
    expect(handed.code).toBe(0);
    const [id, compacted, after] = handed.ids;
    expect([compacted, after]).toEqual([id, id]); // compaction keeps the id
    expect(feedbackCount(handed.byMessage[0]!)).toBe(2);
    const fresh = handed.byMessage[2]!;
    const seen = seenText(fresh[0]!);
    // The context injected after the compaction is the loop's state and rules (the one this session got
    // at its start, when another session drove the loop, was the other line).
    const last = seen.lastIndexOf(CONTEXT);
    expect(seen.slice(last, last + 4000)).toContain('NEXT-MARK-K');
    expect(seen.slice(last, last + 4000)).toContain('Rules while the loop runs');
    // Compaction keeps the Stop budget: spent, so not held again; still the owner.
    expect(feedbackCount(fresh)).toBe(0);
    expect(readJson(sessionFile(f))).toMatchObject({ owner_session: id, blocks: 2 });
  });

  it('/autoloop:run and /autoloop:chain reach the model where status fails (no experiment here): its line is the state they read', { timeout: SESSION_TIMEOUT }, async () => {
    const f = fixture();
    const run = await stream(f, ['/autoloop:run', '/autoloop:chain'], () => [text('Nothing to run here.')], undefined, false);
    expect(run.code).toBe(0);
    for (const [i, skill] of [[0, '# /autoloop:run'], [1, '# /autoloop:chain']] as const) {
      expect(run.byMessage[i]!.length, skill).toBeGreaterThan(0); // before, "Shell command failed" ended the turn unasked
      const seen = seenText(run.byMessage[i]![0]!);
      expect(seen).toContain(skill);
      expect(seen).toContain('status: no autoloop experiment in');
    }
  });

  it('/clear of an owner whose process was never recorded (claimed by an earlier version): SessionEnd records it, and the new id drives the loop', { timeout: SESSION_TIMEOUT }, async () => {
    const f = fixture();
    const engine = stubEngine(f.repo);
    writeActive(f.repo, { next_action: 'NEXT-MARK-U try a table', stop_hook: { max_blocks: 1, max_idle_blocks: 10 } });
    const owner = await stream(
      f,
      ['Continue the experiment.', '/clear', 'Go on.'],
      ({ index }) => (index === 0 ? [bash(engine, 'run the experiment')] : [text('Pausing here.')]),
      (i) => {
        // Before /clear: session.json as an earlier version wrote it, with no owner_process.
        if (i !== 1) return;
        const s = readJson(sessionFile(f));
        delete s.owner_process;
        fs.writeFileSync(sessionFile(f), JSON.stringify(s, null, 2));
      },
    );
    const after = owner.ids[2];
    expect(injected(owner.byMessage[2]![0]!)).toContain('Rules while the loop runs');
    expect(feedbackCount(owner.byMessage[2]!)).toBe(1);
    expect(readJson(sessionFile(f))).toMatchObject({ owner_session: after });
  });

  it('a --fork-session copy of the owner is told the loop is driven elsewhere and its copied instructions are not its own; it is neither held nor the owner', { timeout: SESSION_TIMEOUT * 2 }, async () => {
    const f = fixture();
    const engine = stubEngine(f.repo);
    writeActive(f.repo, { summary: 'SUMMARY-F one run', next_action: 'NEXT-MARK-F try a table', stop_hook: { max_blocks: 1, max_idle_blocks: 10 } });
    const owner = await drive({
      fixture: f,
      prompt: 'Continue the experiment.',
      script: ({ index }) => (index === 0 ? [bash(engine, 'run the experiment')] : [text('OWNER-ANSWER: pausing.')]),
    });
    const id = owner.session.json?.session_id;
    expect(id).toBeTruthy();
    expect(readJson(sessionFile(f))).toMatchObject({ owner_session: id });

    const fork = await drive({ fixture: f, prompt: 'Go on.', args: ['--resume', id!, '--fork-session'], script: () => [text('Forked answer.')] });
    expect(fork.session.code).toBe(0);
    expect(fork.session.json?.session_id).not.toBe(id);
    const seen = seenText(fork.main[0]!);
    expect(seen).toContain('OWNER-ANSWER'); // a copy of the owner's conversation
    expect(seen).toContain(CONTEXT);
    expect(seen).toContain('driven by another session');
    expect(seen).toContain('This conversation is a fork');
    expect(feedbackCount(fork.main)).toBe(0);
    expect(fork.main).toHaveLength(1);
    expect(readJson(sessionFile(f))).toMatchObject({ owner_session: id });
    expect(sinceLastAssistant(fork.main[0]!)).not.toContain(FEEDBACK);
  });
});
