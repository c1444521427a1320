// Unattended by default: the real CLI with NO permission flag and no settings,
// the plugin loaded with --plugin-dir, a scripted model. The plugin's hooks
// must approve every step of the protocol (permission_denials stays empty),
// nothing more (curl is refused), and bound a model that ignores termination.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureClaude } from './claude-cli.ts';
import { baselineTemplates } from '../helpers/baseline-template.ts';
import { enginePluginRoot, runSession, type Fixture, type Session, type SessionOptions } from './fixture.ts';
import { bash, lastToolResults, seenText, sinceLastAssistant, startMockApi, text, tool, type ApiRequest, type Block, type MockOptions } from './mock-api.ts';

const SESSION_TIMEOUT = 300_000;
let claude: string;
const fixtures: Fixture[] = [];
const plugin = enginePluginRoot();
const root = plugin?.root ?? '';

beforeAll(() => {
  claude = ensureClaude();
  if (plugin === null) throw new Error('no engine bundles: run npm run build');
}, 900_000);
afterEach(() => {
  for (const f of fixtures.splice(0)) f.cleanup();
});
afterAll(() => plugin?.cleanup());

const dist = (script: string): string => path.join(root, 'dist', script);
const node = (script: string, args = ''): string => `node "${dist(script)}"${args ? ` ${args}` : ''}`;
const read = (file: string): Block => tool('Read', { file_path: file });
const edit = (file: string, a: string, b: string): Block => tool('Edit', { file_path: file, old_string: a, new_string: b, replace_all: false });
const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;

/** A fresh fixture with the experiment set up and its baseline logged (from a template made once per set of flags). */
const baselineFixture = baselineTemplates(dist, () => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-e2e-')));
  const f: Fixture = { dir, repo: path.join(dir, 'repo'), home: path.join(dir, 'home'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
  fixtures.push(f);
  fs.mkdirSync(f.home);
  return f;
});

async function drive(o: Omit<SessionOptions, 'claude' | 'apiUrl'> & Pick<MockOptions, 'script'>): Promise<{ session: Session; main: ApiRequest[] }> {
  const api = await startMockApi({ script: o.script });
  try {
    const session = await runSession({ ...o, claude, apiUrl: api.url, timeoutMs: SESSION_TIMEOUT - 30_000 });
    if (api.errors.length) throw api.errors[0]!;
    expect(session.json, `claude printed no JSON result:\n${session.stdout}\n${session.stderr}`).not.toBeNull();
    return { session, main: api.main() };
  } finally {
    await api.close();
  }
}

function engineJson(req: ApiRequest): Record<string, unknown> {
  const [r] = lastToolResults(req);
  expect(r?.is_error, r?.text).toBe(false);
  return JSON.parse(r!.text.slice(r!.text.indexOf('{'))) as Record<string, unknown>;
}

const ledgerVerdicts = (f: Fixture): string[] =>
  fs
    .readFileSync(path.join(f.repo, '.autoloop', 'experiments', 'speed', 'ledger.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { type: string; verdict?: string })
    .filter((l) => l.type === 'result')
    .map((l) => l.verdict ?? '');

describe('unattended: claude --agent autoloop -p with no permission flag', () => {
  it('keep, discard, crash, a profile in the scratch area and a clean next run, with no permission denial', { timeout: SESSION_TIMEOUT }, async () => {
    const f = baselineFixture();
    const work = path.join(f.repo, 'src', 'work.mjs');
    const notes = path.join(f.repo, '.autoloop', 'experiments', 'speed', 'ideas.md');
    const iterate = (d: string): Block[][] => [
      [bash(node('run-experiment.mjs', '--json'), 'measure')],
      [bash(node('log-experiment.mjs', `--description "${d}" --hypothesis "h" --json`), 'log')],
    ];
    const steps: Block[][] = [
      [bash(node('status.mjs'), 'state')],
      [bash('git log --oneline -3 && grep -n COST src/work.mjs | head -5', 'look around')],
      [read(path.join(root, 'references', 'protocol.md'))],
      [read(work)],
      [edit(work, 'export const COST = 50;', 'export const COST = 40;')],
      ...iterate('lower cost to 40'),
      [edit(work, 'export const COST = 40;', 'export const COST = 45;')],
      ...iterate('raise cost to 45'),
      [edit(work, '  return x;', "  throw new Error('boom');")],
      ...iterate('break work'),
      [bash(node('diagnose.mjs', '--profile node-cpu --json'), 'profile the benchmark')],
      [bash('mkdir -p .autoloop/experiments/speed/scratch && ls .autoloop/experiments/speed/scratch > .autoloop/experiments/speed/scratch/listing.txt', 'list profiles')],
      [tool('Write', { file_path: path.join(f.repo, '.autoloop', 'experiments', 'speed', 'scratch', 'analyse.mjs'), content: 'console.log(1)\n' })],
      [tool('Write', { file_path: notes, content: '# Ideas\n- [x] lower cost (keep)\n' })],
      [edit(work, 'export const COST = 40;', 'export const COST = 35;')],
      ...iterate('lower cost to 35'),
    ];
    const { session, main } = await drive({
      fixture: f,
      pluginDir: root,
      noFlags: true,
      prompt: 'Continue the experiment.',
      args: ['--agent', 'autoloop'],
      script: ({ index, req }) => (index < steps.length ? steps[index]! : sinceLastAssistant(req).includes('Stop hook feedback') ? [bash(node('control.mjs', 'stop'), 'stop')] : [text('Pausing.')]),
    });
    expect(session.code).toBe(0);
    expect(session.json?.permission_denials ?? []).toEqual([]);
    expect(engineJson(main[7]!)).toMatchObject({ verdict: 'keep', best: 40 });
    expect(engineJson(main[10]!)).toMatchObject({ verdict: 'discard', best: 40 });
    expect(engineJson(main[13]!)).toMatchObject({ verdict: 'crash' });
    const diag = engineJson(main[14]!);
    expect(diag).toMatchObject({ command: 'node bench/bench.mjs' });
    expect((diag.files as string[]).some((n) => n.endsWith('.cpuprofile'))).toBe(true);
    // The profile and the analysis script in the scratch area do not make the next run invalid.
    expect(engineJson(main[20]!)).toMatchObject({ verdict: 'keep', best: 35 });
    expect(ledgerVerdicts(f)).toEqual(['keep', 'keep', 'discard', 'crash', 'keep']);
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: f.repo, encoding: 'utf8' }).trim()).toBe('');
    expect(readJson(path.join(f.repo, '.autoloop', 'session.json'))).toMatchObject({ owner_session: session.json?.session_id });
  });

  it('a command outside the list is not approved (curl), a judge edit is denied, and the loop goes on', { timeout: SESSION_TIMEOUT }, async () => {
    const f = baselineFixture();
    const steps: Block[][] = [
      [bash('curl -s http://127.0.0.1:9/', 'fetch something')],
      [bash('node -e "require(\'fs\').appendFileSync(\'bench/bench.mjs\', \'//x\')"', 'inline node')],
      [edit(path.join(f.repo, 'bench', 'bench.mjs'), "'METRIC time_ms=' + COST", "'METRIC time_ms=' + COST / 2")],
      [bash(node('status.mjs'), 'state')],
    ];
    const { session, main } = await drive({
      fixture: f,
      pluginDir: root,
      noFlags: true,
      prompt: 'Continue the experiment.',
      args: ['--agent', 'autoloop'],
      script: ({ index }) => (index < steps.length ? steps[index]! : [text('Stopping here.')]),
    });
    expect(session.code).toBe(0);
    const denied = (session.json?.permission_denials ?? []).map((d) => [d.tool_name, String(d.tool_input.command ?? d.tool_input.file_path ?? '')]);
    expect(denied).toHaveLength(3);
    expect(denied[0]![1]).toMatch(/^curl/);
    expect(denied[1]![1]).toMatch(/^node -e/);
    expect(lastToolResults(main[3]!)[0]?.text).toContain('bench/bench.mjs is protected');
    expect(lastToolResults(main[4]!)[0]?.is_error).toBe(false); // the engine still runs
    expect(fs.readFileSync(path.join(f.repo, 'bench', 'bench.mjs'), 'utf8')).not.toContain('//x');
  });
});

describe('unattended: termination', () => {
  it('/autoloop:chain runs without a prompt and closes the experiment (report, finalize, clear)', { timeout: SESSION_TIMEOUT }, async () => {
    const f = baselineFixture('--max-runs', '2');
    const work = path.join(f.repo, 'src', 'work.mjs');
    const steps: Block[][] = [
      [edit(work, 'export const COST = 50;', 'export const COST = 40;')],
      [bash(node('run-experiment.mjs', '--json'), 'measure')],
      [bash(node('log-experiment.mjs', '--description "lower cost" --hypothesis h --json'), 'log')],
      [tool('Skill', { skill: 'autoloop:chain', args: 'stop' })],
      [bash(node('report.mjs'), 'report')],
      [bash(node('finalize.mjs', '--json'), 'finalize')],
      [bash(node('control.mjs', 'clear'), 'clear')],
    ];
    const { session, main } = await drive({
      fixture: f,
      pluginDir: root,
      noFlags: true,
      prompt: 'Continue the experiment.',
      args: ['--agent', 'autoloop'],
      script: ({ index }) => (index < steps.length ? steps[index]! : [text('Done: baseline 50 → best 40.')]),
    });
    expect(session.code).toBe(0);
    expect(session.json?.permission_denials ?? []).toEqual([]);
    expect(engineJson(main[3]!)).toMatchObject({ should_terminate: true });
    // The skill loaded, with its dynamic status (allowed by its own narrow allowed-tools).
    const skill = seenText(main[4]!);
    expect(skill).toContain('# /autoloop:chain');
    expect(skill).toMatch(/speed/);
    expect(skill).not.toMatch(/permission check failed/);
    expect(lastToolResults(main[7]!)[0]?.is_error).toBe(false);
    expect(fs.existsSync(path.join(f.repo, '.autoloop', 'active.json'))).toBe(false);
  });

  it('a model that ignores termination is halted within a bounded number of turns and never edits the judges', { timeout: SESSION_TIMEOUT * 2 }, async () => {
    const f = baselineFixture('--max-runs', '2');
    const work = path.join(f.repo, 'src', 'work.mjs');
    const bench = path.join(f.repo, 'bench', 'bench.mjs');
    const before = fs.readFileSync(bench, 'utf8');
    let n = 0;
    const { session, main } = await drive({
      fixture: f,
      pluginDir: root,
      noFlags: true,
      prompt: 'Continue the experiment.',
      args: ['--agent', 'autoloop'],
      script: ({ index }) => {
        if (index === 0) return [edit(work, 'export const COST = 50;', 'export const COST = 40;')];
        if (index === 1) return [bash(node('run-experiment.mjs', '--json'))];
        if (index === 2) return [bash(node('log-experiment.mjs', '--description "lower cost" --hypothesis h --json'))];
        // Ignores should_terminate: keeps changing things, the judge included.
        n++;
        if (n % 3 === 0) return [edit(bench, "'METRIC time_ms=' + COST", "'METRIC time_ms=' + (COST - 1)")];
        if (n % 3 === 1) return [bash(node('run-experiment.mjs', '--json'))];
        return [tool('Write', { file_path: work, content: `export const COST = ${n};\nexport function work() { return 1; }\n` })];
      },
    });
    expect(session.json?.terminal_reason).toBe('hook_stopped');
    expect(main.length).toBeLessThanOrEqual(3 + 31 + 1);
    expect(fs.readFileSync(bench, 'utf8')).toBe(before);
    expect(readJson(path.join(f.repo, '.autoloop', 'active.json'))).toMatchObject({ loop: 'terminated' });
  });
});
