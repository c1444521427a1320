// Whole Claude Code sessions: the real pinned CLI, the plugin loaded with
// --plugin-dir, and a scripted model (mock-api.ts). Assertions look at what
// the model RECEIVED (the requests the stand-in logged): injected context,
// deny reasons as tool_result errors, Stop hook feedback. The hooks here meet
// hand-written loop state; sessions-engine.test.ts drives the real engine.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitLog, stubEngine, writeActive } from './fixture.ts';
import { allToolResults, bash, lastToolResults, seenText, sinceLastAssistant, text } from './mock-api.ts';
import { CONTEXT, FEEDBACK, SESSION_TIMEOUT, edit, feedbackCount, read, readJson, sessionHarness } from './session-driver.ts';

const { fixture, drive } = sessionHarness();

describe('(B) a repository without autoloop', () => {
  it('gets no context, no denial and no Stop block: the plugin stays out of the way', { timeout: SESSION_TIMEOUT }, async () => {
    const f = fixture();
    const benchFile = path.join(f.repo, 'bench', 'bench.mjs');
    const steps = [
      read(benchFile),
      edit(benchFile, 'must return a number', 'must return a number!'),
      bash('git commit -qam "hand-made commit" && git reset --soft HEAD && git status --short', 'commit by hand'),
    ];
    const { session, main } = await drive({
      fixture: f,
      prompt: 'Tweak the benchmark message and commit it.',
      script: ({ index }) => (index < steps.length ? [steps[index]!] : [text('Committed.')]),
    });
    expect(session.code).toBe(0);
    expect(main).toHaveLength(steps.length + 1); // no extra turn from a Stop block
    for (const r of main) expect(seenText(r)).not.toContain(CONTEXT);
    expect(feedbackCount(main)).toBe(0);
    const results = allToolResults(main[main.length - 1]!);
    expect(results).toHaveLength(3);
    expect(results.filter((r) => r.is_error)).toEqual([]);
    expect(session.json?.permission_denials ?? []).toEqual([]);
    expect(fs.readFileSync(benchFile, 'utf8')).toContain('must return a number!');
    expect(gitLog(f.repo)[0]).toBe('hand-made commit');
    expect(fs.existsSync(path.join(f.repo, '.autoloop'))).toBe(false);
  });
});

describe('(C) PreToolUse guard in a live session', () => {
  it('denies editing the benchmark and git reset; the model reads both reasons; in-scope edits go through', { timeout: SESSION_TIMEOUT }, async () => {
    const f = fixture({ dirty: true });
    writeActive(f.repo);
    const benchFile = path.join(f.repo, 'bench', 'bench.mjs');
    const workFile = path.join(f.repo, 'src', 'work.mjs');
    const benchBefore = fs.readFileSync(benchFile, 'utf8');
    const steps = [
      read(benchFile),
      edit(benchFile, "'METRIC time_ms=' + COST", "'METRIC time_ms=' + COST / 2"),
      bash('git reset --hard', 'throw away changes'),
      read(workFile),
      edit(workFile, 'export const COST = 50;', 'export const COST = 40;'),
    ];
    const { session, main } = await drive({
      fixture: f,
      prompt: 'Make the benchmark faster.',
      script: ({ index }) => (index < steps.length ? [steps[index]!] : [text('Done.')]),
    });
    expect(session.code).toBe(0);
    expect(main).toHaveLength(steps.length + 1);

    const [editDenied] = lastToolResults(main[2]!);
    expect(editDenied?.is_error).toBe(true);
    expect(editDenied?.text).toMatch(/^PreToolUse:Edit hook error/);
    expect(editDenied?.text).toContain('bench/bench.mjs is protected');
    expect(editDenied?.text).toContain('Improve the code in scope instead');

    const [resetDenied] = lastToolResults(main[3]!);
    expect(resetDenied?.is_error).toBe(true);
    expect(resetDenied?.text).toMatch(/^PreToolUse:Bash hook error/);
    expect(resetDenied?.text).toContain('do not run "git reset" by hand');

    const [inScope] = lastToolResults(main[5]!);
    expect(inScope?.is_error).toBe(false);
    expect(session.json?.permission_denials?.map((d) => d.tool_name)).toEqual(['Edit', 'Bash']);

    expect(fs.readFileSync(benchFile, 'utf8')).toBe(benchBefore);
    const work = fs.readFileSync(workFile, 'utf8');
    expect(work).toContain('work in progress'); // the reset never ran
    expect(work).toContain('export const COST = 40;');
  });
});

describe('(D) Stop hook in a live session', () => {
  it('sends the owner back with the next action; once the loop is stopped the session ends', { timeout: SESSION_TIMEOUT }, async () => {
    const f = fixture();
    const engine = stubEngine(f.repo);
    writeActive(f.repo, { next_action: 'NEXT-MARK-D lower COST in src/work.mjs' });
    const { session, main } = await drive({
      fixture: f,
      prompt: 'Continue the experiment.',
      script: ({ index, req }) => {
        if (index === 0) return [bash(engine, 'run the experiment')];
        if (sinceLastAssistant(req).includes(FEEDBACK)) {
          writeActive(f.repo, { loop: 'stopped' }); // the user stops the loop meanwhile
          return [text('The loop was stopped; ending.')];
        }
        return [text('Should I continue with another idea?')];
      },
    });
    expect(session.code).toBe(0);
    expect(main).toHaveLength(3);
    expect(sinceLastAssistant(main[1]!)).not.toContain(FEEDBACK);
    const feedback = sinceLastAssistant(main[2]!);
    expect(feedback).toContain(FEEDBACK);
    expect(feedback).toContain('NEXT-MARK-D lower COST in src/work.mjs');
    expect(feedback).toContain('Do not ask the user whether to continue');
    expect(readJson(path.join(f.repo, '.autoloop', 'session.json'))).toMatchObject({ owner_session: session.json?.session_id, blocks: 1 });
  });

  it('lets a session that makes no progress go after max_idle_blocks', { timeout: SESSION_TIMEOUT }, async () => {
    const f = fixture();
    const engine = stubEngine(f.repo);
    writeActive(f.repo, { stop_hook: { max_blocks: 20, max_idle_blocks: 2 } });
    const { session, main } = await drive({
      fixture: f,
      prompt: 'Continue the experiment.',
      script: ({ index }) => (index === 0 ? [bash(engine, 'run the experiment')] : [text('I think we are done here.')]),
    });
    expect(session.code).toBe(0);
    expect(feedbackCount(main)).toBe(2);
    expect(main).toHaveLength(4);
  });
});

// One owner session, a second session, then the owner resumed: three sessions
// where separate tests took eight (each CLI start costs seconds of CPU), every
// assertion of those tests kept.
describe('(A, E) SessionStart, a second session, restart and resume', () => {
  it('a second session in the same repository gets one line, none of the loop\'s rules, is neither held nor guarded; the resumed owner keeps its id and old conversation, gets the new state and a fresh Stop budget after its cap', { timeout: SESSION_TIMEOUT * 3 }, async () => {
    const f = fixture();
    const engine = stubEngine(f.repo);
    const stop_hook = { max_blocks: 2, max_idle_blocks: 10 };
    writeActive(f.repo, { summary: 'SUMMARY-E1 one run', stop_hook });
    const owner = await drive({
      fixture: f,
      prompt: 'Continue the experiment.',
      script: ({ index }) => (index === 0 ? [bash(engine, 'run the experiment')] : [text('FIRST-ANSWER: pausing here.')]),
    });
    expect(seenText(owner.main[0]!)).toContain('SUMMARY-E1 one run');
    expect(feedbackCount(owner.main)).toBe(2); // held up to stop_hook.max_blocks, then let go
    const id = owner.session.json?.session_id;
    expect(id).toBeTruthy();
    expect(readJson(path.join(f.repo, '.autoloop', 'session.json'))).toMatchObject({ owner_session: id, blocks: 2 });

    // A second, unrelated session in the same repository while the loop is live: one line that a
    // loop runs here, none of its state, rules or next step (they would make it a second driver);
    // never held at Stop, and not under the loop's guard (an edit outside the scope and a commit).
    writeActive(f.repo, { summary: 'SUMMARY-E2 two runs, best 42 ms', next_action: 'NEXT-MARK-A try a lookup table', runs: 2, stop_hook });
    const readme = path.join(f.repo, 'README.md');
    const steps = [edit(readme, 'A tiny project', 'A small project'), bash('git commit -qam "docs: wording"', 'commit the wording')];
    const other = await drive({
      fixture: f,
      prompt: 'Reword the README and commit it.',
      script: ({ index }) => (index < steps.length ? [steps[index]!] : [text('Reworded and committed.')]),
    });
    expect(other.session.code).toBe(0);
    expect(other.main).toHaveLength(steps.length + 1); // no Stop block
    const injected = other.main[0]!.messages.find((m) => m.role === 'system' && seenText({ messages: [m] }).includes(CONTEXT));
    expect(injected, 'no SessionStart line from autoloop').toBeDefined();
    const ctx = seenText({ messages: [injected!] });
    expect(ctx).toContain('experiment "speed" is running in this repository (2 runs logged), driven by another session');
    expect(ctx).toContain('/autoloop:run');
    for (const r of other.main) {
      expect(seenText(r)).not.toContain('Rules while the loop runs');
      expect(seenText(r)).not.toContain('NEXT-MARK-A');
      expect(seenText(r)).not.toContain('SUMMARY-E2');
    }
    expect(allToolResults(other.main[other.main.length - 1]!).filter((r) => r.is_error)).toEqual([]);
    expect(other.session.json?.permission_denials ?? []).toEqual([]);
    expect(gitLog(f.repo)[0]).toBe('docs: wording');
    expect(seenText(other.main[0]!)).not.toContain('FIRST-ANSWER');
    expect(other.session.json?.session_id).not.toBe(id);
    expect(readJson(path.join(f.repo, '.autoloop', 'session.json'))).toMatchObject({ owner_session: id, blocks: 2 });

    // The owner resumed by a person: the old conversation, the state injected again, the same id,
    // and held at Stop again: a fresh budget, though its last stint ended at the cap.
    const resumed = await drive({ fixture: f, prompt: 'Go on.', args: ['--resume', id!], script: () => [text('Pausing again.')] });
    expect(resumed.session.code).toBe(0);
    const seen = seenText(resumed.main[0]!);
    expect(seen).toContain('FIRST-ANSWER'); // it is the old conversation
    expect(seen).toContain('SUMMARY-E2 two runs'); // with the state injected again
    expect(seen).toContain('NEXT-MARK-A');
    expect(resumed.session.json?.session_id).toBe(id);
    expect(feedbackCount(resumed.main)).toBe(2);
    expect(sinceLastAssistant(resumed.main[1]!)).toContain('NEXT-MARK-A');

    // The owner's CLI is gone (a crash) and a person starts `claude --agent autoloop`: a new
    // conversation, handed the loop by its agent, so it gets the state, and its first engine call
    // takes the loop over (held at Stop; the old conversation no longer is).
    const agent = await drive({
      fixture: f,
      prompt: 'continue the autoloop experiment',
      args: ['--agent', 'autoloop'],
      script: ({ index }) => (index === 0 ? [bash(engine, 'run the experiment')] : [text('Stopping.')]),
    });
    expect(agent.session.code).toBe(0);
    expect(seenText(agent.main[0]!)).toContain('NEXT-MARK-A');
    expect(seenText(agent.main[0]!)).toContain('Rules while the loop runs');
    const agentId = agent.session.json?.session_id;
    expect(agentId).not.toBe(id);
    expect(feedbackCount(agent.main)).toBe(2);
    expect(readJson(path.join(f.repo, '.autoloop', 'session.json'))).toMatchObject({ owner_session: agentId, owner_agent: 'autoloop:autoloop' });
  });
});
