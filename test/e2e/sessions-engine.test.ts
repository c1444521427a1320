// Whole Claude Code sessions that drive the real engine: the real pinned CLI,
// the plugin loaded with --plugin-dir, a scripted model (mock-api.ts), and the
// engine bundles doing the work (split from sessions.test.ts so the two halves
// run on different workers).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baselineTemplates } from '../helpers/baseline-template.ts';
import { enginePluginRoot, gitLog, type Fixture } from './fixture.ts';
import { bash, lastToolResults, seenText, sinceLastAssistant, systemText, text, tool, type ApiRequest, type Block } from './mock-api.ts';
import { CONTEXT, FEEDBACK, SESSION_TIMEOUT, edit, feedbackCount, git, read, readJson, sessionHarness } from './session-driver.ts';

const { fixture, drive } = sessionHarness();

// ---------------------------------------------------------------------------
// Sessions that drive the real engine (dist/init|run|log-experiment.mjs).
// They use this run's test build of the engine (AUTOLOOP_TEST_DIST, from
// test/global-build.ts), else /work/main/dist once it is built.
// ---------------------------------------------------------------------------

const plugin = enginePluginRoot();

describe('with the engine', () => {
  // dist/ is committed and the test build always runs, so a missing engine is a failure, not a skip.
  beforeAll(() => {
    if (plugin === null) throw new Error('no engine bundles: run npm run build');
  });
  const root = plugin?.root ?? '';
  const dist = (script: string): string => path.join(root, 'dist', script);
  const node = (script: string, args = ''): string => `node "${dist(script)}"${args ? ` ${args}` : ''}`;
  const INIT_ARGS = `--name speed --metric time_ms --direction lower --command "node bench/bench.mjs" --checks "node bench/check.mjs" --scope 'src/**'`;

  afterAll(() => plugin?.cleanup());

  /** A fresh fixture with the experiment set up and its baseline logged (from a template made once per set of flags). */
  const baselineFixture = baselineTemplates(dist, () => fixture());

  /** Parse the JSON an engine command printed into a tool_result. */
  function engineOutput(req: ApiRequest): Record<string, unknown> {
    const [r] = lastToolResults(req);
    expect(r?.is_error, r?.text).toBe(false);
    const start = r!.text.indexOf('{');
    return JSON.parse(r!.text.slice(start)) as Record<string, unknown>;
  }

  const ledgerVerdicts = (f: Fixture): string[] =>
    fs
      .readFileSync(path.join(f.repo, '.autoloop', 'experiments', 'speed', 'ledger.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { type: string; verdict?: string })
      .filter((l) => l.type === 'result')
      .map((l) => l.verdict ?? '');

  it('setup in a session: scout, init, baseline, hand-over; the guards engage at once', { timeout: SESSION_TIMEOUT }, async () => {
    const f = fixture();
    const steps = [
      tool('Agent', { subagent_type: 'autoloop:codebase-scout', description: 'Scout the repository', prompt: 'Goal: make work() faster. Survey the repo.', run_in_background: false }),
      bash(node('init-experiment.mjs', `${INIT_ARGS} --json`), 'initialise the experiment'),
      bash(node('run-experiment.mjs', '--json'), 'baseline run'),
      bash(node('log-experiment.mjs', '--description baseline --json'), 'log the baseline'),
      bash('echo "// faster" >> bench/bench.mjs', 'tamper with the benchmark'),
    ];
    const { session, main, log } = await drive({
      fixture: f,
      pluginDir: root,
      prompt: '/autoloop:setup make work() faster',
      subagent: () => 'SCOUT-REPORT: language js; benchmark node bench/bench.mjs prints METRIC time_ms; scope src/**; protect bench/.',
      script: ({ index, req }) => {
        if (index < steps.length) return [steps[index]!];
        if (sinceLastAssistant(req).includes(FEEDBACK)) return [bash(node('control.mjs', 'stop'), 'the user asked to stop')];
        return [text('The experiment is set up and the baseline is logged.')];
      },
    });
    expect(session.code).toBe(0);
    // The skill body reached the model, with the user's request.
    expect(seenText(main[0]!)).toContain('# /autoloop:setup');
    expect(seenText(main[0]!)).toContain('make work() faster');
    expect(seenText(main[0]!)).not.toContain(CONTEXT); // no experiment yet
    // The scout ran as a subagent with its own prompt, and its report came back.
    const scout = log.find((l) => l.role === 'subagent');
    expect(scout && scout.body ? seenText(scout.body) : '').toContain('You survey a software repository');
    expect(lastToolResults(main[1]!)[0]?.text).toContain('SCOUT-REPORT');
    expect(engineOutput(main[2]!)).toMatchObject({ experiment: 'speed', protect: ['bench/bench.mjs', 'bench/check.mjs'] });
    expect(engineOutput(main[4]!)).toMatchObject({ verdict: 'keep', reason: 'baseline' });
    // Straight after init, the guard knows the judges.
    const [tamper] = lastToolResults(main[5]!);
    expect(tamper?.is_error).toBe(true);
    expect(tamper?.text).toContain('bench/bench.mjs is protected');
    // Setup only measured the baseline: it hands over and ends, and no Stop block
    // pushes it into the loop (the session that runs the loop will own it).
    expect(feedbackCount(main)).toBe(0);
    // It was handed the loop (it ran init), but only a session that drives the loop owns it.
    expect(readJson(path.join(f.repo, '.autoloop', 'session.json'))).toMatchObject({ owner_session: null, candidate: session.json?.session_id });
    expect(readJson(path.join(f.repo, '.autoloop', 'active.json'))).toMatchObject({ loop: 'active', runs: 1 });
  });

  it('--agent autoloop: keep, discard and crash judged by the engine, then termination and the chain nudge', { timeout: SESSION_TIMEOUT * 2 }, async () => {
    const f = baselineFixture('--max-runs', '4');
    const workFile = path.join(f.repo, 'src', 'work.mjs');
    const iterate = (description: string): Block[][] => [
      [bash(node('run-experiment.mjs', '--json'), 'measure')],
      [bash(node('log-experiment.mjs', `--description "${description}" --hypothesis "h" --json`), 'log')],
    ];
    const steps: Block[][] = [
      [read(workFile)],
      [edit(workFile, 'export const COST = 50;', 'export const COST = 40;')],
      ...iterate('lower cost to 40'),
      [edit(workFile, 'export const COST = 40;', 'export const COST = 45;')],
      ...iterate('raise cost to 45'),
      [edit(workFile, '  return x;', "  throw new Error('boom');")],
      ...iterate('break work'),
    ];
    const { session, main } = await drive({
      fixture: f,
      pluginDir: root,
      prompt: 'Continue the experiment.',
      args: ['--agent', 'autoloop'],
      script: ({ index }) => (index < steps.length ? steps[index]! : [text('Nothing more to do.')]),
    });
    expect(session.code).toBe(0);
    // --agent: the agent file is the main thread's system prompt; the loop state was injected.
    expect(systemText(main[0]!)).toContain('You are autoloop');
    expect(seenText(main[0]!)).toContain(CONTEXT);
    // What the model was told after each log-experiment.
    expect(engineOutput(main[4]!)).toMatchObject({ verdict: 'keep', best: 40 });
    expect(engineOutput(main[7]!)).toMatchObject({ verdict: 'discard', best: 40 });
    const crash = engineOutput(main[10]!);
    expect(crash).toMatchObject({ verdict: 'crash', should_terminate: true, terminated_by: 'max_runs' });
    // Terminated with chain budget left: one nudge to /autoloop:chain, then the session may end.
    const nudges = main.filter((r) => sinceLastAssistant(r).includes(FEEDBACK));
    expect(nudges).toHaveLength(1);
    expect(sinceLastAssistant(nudges[0]!)).toContain('experiment terminated (max_runs); the chain budget allows a follow-up: run /autoloop:chain');
    // The tree holds the best; git holds the keep.
    const work = fs.readFileSync(workFile, 'utf8');
    expect(work).toContain('export const COST = 40;');
    expect(work).not.toContain('boom');
    expect(gitLog(f.repo).join('\n')).toContain('lower cost to 40');
    expect(ledgerVerdicts(f)).toEqual(['keep', 'keep', 'discard', 'crash']);
  });

  it('termination → /autoloop:chain → a follow-up experiment whose loop the Stop hook then drives', { timeout: SESSION_TIMEOUT * 2 }, async () => {
    const f = baselineFixture('--max-runs', '2');
    const workFile = path.join(f.repo, 'src', 'work.mjs');
    const rationale =
      'The parent cut time_ms from 50 to 40 by lowering COST; the loop body is now the bottleneck; ' +
      'a follow-up on the same benchmark should take it below 30; this is the lever the report points at.';
    const steps: Block[][] = [
      [edit(workFile, 'export const COST = 50;', 'export const COST = 40;')],
      [bash(node('run-experiment.mjs', '--json'), 'measure')],
      [bash(node('log-experiment.mjs', '--description "lower cost to 40" --hypothesis h --json'), 'log')],
      [tool('Skill', { skill: 'autoloop:chain', args: '' })],
      [bash(node('report.mjs'), 'read the report')],
      [bash(node('chain.mjs', `--from speed --name speed-2 --goal "below 30 ms" --target 30 --rationale "${rationale}" --json`), 'start the follow-up')],
      [bash(node('run-experiment.mjs', '--json'), 'child baseline')],
      [bash(node('log-experiment.mjs', '--description baseline --json'), 'log the child baseline')],
    ];
    const { session, main } = await drive({
      fixture: f,
      pluginDir: root,
      prompt: 'Continue the experiment.',
      args: ['--agent', 'autoloop'],
      script: ({ index, req }) => {
        if (index < steps.length) return steps[index]!;
        if (sinceLastAssistant(req).includes(FEEDBACK)) return [bash(node('control.mjs', 'stop'), 'the user asked to stop')];
        return [text('The follow-up has its baseline.')];
      },
    });
    expect(session.code).toBe(0);
    expect(engineOutput(main[3]!)).toMatchObject({ verdict: 'keep', should_terminate: true, terminated_by: 'max_runs', chain_allowed: true });
    // The chain skill's text reached the model.
    expect(seenText(main[4]!)).toContain('# /autoloop:chain');
    expect(lastToolResults(main[5]!)[0]?.text).toContain('time_ms');
    expect(engineOutput(main[6]!)).toMatchObject({ parent: 'speed', child: 'speed-2' });
    expect(engineOutput(main[8]!)).toMatchObject({ verdict: 'keep', reason: 'baseline' });
    // One place holds the trail; the decision is read-only and carries the rationale.
    const chain = readJson(path.join(f.repo, '.autoloop', 'chain.json')) as { chains: Array<{ trail: string[] }> };
    expect(chain.chains[0]?.trail).toEqual(['speed', 'speed-2']);
    const decision = path.join(f.repo, '.autoloop', 'experiments', 'speed-2', 'chain-decision.json');
    expect(fs.statSync(decision).mode & 0o222).toBe(0);
    expect(readJson(decision)).toMatchObject({ rationale });
    // The child is now the active loop and the Stop hook drives it without a human.
    expect(readJson(path.join(f.repo, '.autoloop', 'active.json'))).toMatchObject({ experiment: 'speed-2', loop: 'stopped' });
    const fb = main.filter((r) => sinceLastAssistant(r).includes(FEEDBACK));
    expect(fb).toHaveLength(1);
    expect(sinceLastAssistant(fb[0]!)).not.toContain('/autoloop:chain');
    expect(git(f.repo, 'branch', '--show-current')).toBe('autoloop/speed-2');
  });

  // Found by the resume sweep: the Stop hook named active.json's next action (one change, then
  // measure); a model that obeyed changed the tree and the measured run was logged invalid.
  it('a session that measured and ended its turn is sent back to log that run first, and its keep stands', { timeout: SESSION_TIMEOUT }, async () => {
    const f = baselineFixture();
    const workFile = path.join(f.repo, 'src', 'work.mjs');
    const { session, main } = await drive({
      fixture: f,
      pluginDir: root,
      prompt: 'Continue the experiment.',
      args: ['--agent', 'autoloop'],
      script: ({ index, req }) => {
        if (index === 0) return [edit(workFile, 'export const COST = 50;', 'export const COST = 40;')];
        if (index === 1) return [bash(node('run-experiment.mjs', '--json'), 'measure')];
        const since = sinceLastAssistant(req);
        if (since.includes(FEEDBACK) && since.includes('log it first')) return [bash(node('log-experiment.mjs', '--description "lower cost to 40" --hypothesis h --json'), 'log')];
        if (since.includes(FEEDBACK)) return [bash(node('control.mjs', 'stop'), 'the user asked to stop')];
        return [text('Measured; that is all for now.')];
      },
    });
    expect(session.code).toBe(0);
    const fb = main.filter((r) => sinceLastAssistant(r).includes(FEEDBACK));
    expect(sinceLastAssistant(fb[0]!)).toContain('Next: A run was measured but not logged: log it first');
    expect(sinceLastAssistant(fb[0]!)).not.toContain('change code in scope');
    expect(engineOutput(main[4]!)).toMatchObject({ verdict: 'keep', best: 40 });
    expect(ledgerVerdicts(f)).toEqual(['keep', 'keep']);
    expect(fs.readFileSync(workFile, 'utf8')).toContain('export const COST = 40;');
  });

  it('restart: a fresh /autoloop:run session gets the live state and takes the loop over', { timeout: SESSION_TIMEOUT * 2 }, async () => {
    const f = baselineFixture();
    const workFile = path.join(f.repo, 'src', 'work.mjs');
    const first = await drive({
      fixture: f,
      pluginDir: root,
      prompt: 'Continue the experiment.',
      args: ['--agent', 'autoloop'],
      script: ({ index }) =>
        [
          [read(workFile)],
          [edit(workFile, 'export const COST = 50;', 'export const COST = 30;')],
          [bash(node('run-experiment.mjs', '--json'))],
          [bash(node('log-experiment.mjs', '--description "cost 30" --hypothesis h --json'))],
        ][index] ?? [text('Taking a break.')],
    });
    expect(first.session.code).toBe(0);
    expect(engineOutput(first.main[4]!)).toMatchObject({ verdict: 'keep' });
    expect(feedbackCount(first.main)).toBe(3); // the default idle cap lets a stalled session go
    const firstId = first.session.json?.session_id;
    expect(readJson(path.join(f.repo, '.autoloop', 'session.json'))).toMatchObject({ owner_session: firstId });

    // A new session (a restart, not a resume) continues through the run skill.
    const second = await drive({
      fixture: f,
      pluginDir: root,
      prompt: '/autoloop:run',
      script: ({ index, req }) => {
        if (index === 0) return [bash(node('run-experiment.mjs', '--json'))];
        if (index === 1) return [bash(node('log-experiment.mjs', '--description "rebaseline" --hypothesis h --json'))];
        if (sinceLastAssistant(req).includes(FEEDBACK)) return [bash(node('control.mjs', 'stop'))];
        return [text('Done for now.')];
      },
    });
    expect(second.session.code).toBe(0);
    const start = seenText(second.main[0]!);
    expect(start).toContain('# /autoloop:run'); // the skill body
    expect(start).toContain(CONTEXT); // the hook's state, written by the engine
    expect(start).toMatch(/r0002 keep/); // the first session's keep is in that state
    expect(feedbackCount(second.main)).toBe(1);
    const secondId = second.session.json?.session_id;
    expect(secondId).not.toBe(firstId);
    expect(readJson(path.join(f.repo, '.autoloop', 'session.json'))).toMatchObject({ owner_session: secondId });
  });
});
