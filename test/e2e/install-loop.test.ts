// The loop with no permission flag, the plugin installed from a git
// marketplace (served on 127.0.0.1) into a fresh HOME instead of loaded with
// --plugin-dir: `claude --agent autoloop -p …` alone, as the README says.
// keep, discard and crash go through the installed engine, and Claude Code
// refuses nothing (the installed hooks approve the loop's steps).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureClaude } from './claude-cli.ts';
import { makeFixture, runSession, type Fixture } from './fixture.ts';
import type { GitHttpServer } from './git-http-server.ts';
import { installFromMarketplace, serveSnapshot } from './marketplace.ts';
import { bash, lastToolResults, seenText, sinceLastAssistant, startMockApi, text, tool, type ApiRequest, type Block } from './mock-api.ts';

const SESSION_TIMEOUT = 600_000;
let claude = '';
let work = '';
let server: GitHttpServer | undefined;
let fixture: Fixture;
let installed = '';

beforeAll(async () => {
  claude = ensureClaude();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-install-loop-'));
  const served = await serveSnapshot(work);
  server = served.server;
  fixture = makeFixture();
  installed = await installFromMarketplace(claude, fixture.home, fixture.repo, served.url);
}, 1_200_000);

afterAll(async () => {
  await server?.close();
  fixture?.cleanup();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const node = (script: string, args = ''): string => `node "${path.join(installed, 'dist', script)}"${args ? ` ${args}` : ''}`;

function engineJson(req: ApiRequest): Record<string, unknown> {
  const [r] = lastToolResults(req);
  expect(r?.is_error, r?.text).toBe(false);
  return JSON.parse(r!.text.slice(r!.text.indexOf('{'))) as Record<string, unknown>;
}

describe('installed from a git marketplace, no permission flag', () => {
  it('claude --agent autoloop -p: keep, discard, crash through the installed engine, with no permission denial', { timeout: SESSION_TIMEOUT }, async () => {
    const f = fixture;
    const setup = (script: string, ...args: string[]) => execFileSync('node', [path.join(installed, 'dist', script), ...args, '--json'], { cwd: f.repo, encoding: 'utf8', timeout: 120_000 });
    // One sample a run: the benchmark is deterministic and what this session proves is the installed
    // engine and hooks (keep, discard, crash, no denial), not the sampling; the automatic repeats took
    // eight Node starts of the benchmark for the baseline alone (~1 s of CPU). The Node benchmark
    // stays: the crash is its code throwing.
    setup('init-experiment.mjs', '--name', 'speed', '--metric', 'time_ms', '--direction', 'lower', '--command', 'node bench/bench.mjs', '--checks', 'node bench/check.mjs', '--scope', 'src/**', '--repeats', '1');
    setup('run-experiment.mjs');
    setup('log-experiment.mjs', '--description', 'baseline');

    const work = path.join(f.repo, 'src', 'work.mjs');
    const edit = (a: string, b: string): Block => tool('Edit', { file_path: work, old_string: a, new_string: b, replace_all: false });
    const iterate = (d: string): Block[][] => [
      [bash(node('run-experiment.mjs', '--json'), 'measure')],
      [bash(node('log-experiment.mjs', `--description "${d}" --hypothesis "h" --json`), 'log')],
    ];
    const steps: Block[][] = [
      [bash(node('status.mjs'), 'state')],
      [tool('Read', { file_path: work })],
      [edit('export const COST = 50;', 'export const COST = 40;')],
      ...iterate('lower cost to 40'),
      [edit('export const COST = 40;', 'export const COST = 45;')],
      ...iterate('raise cost to 45'),
      [edit('  return x;', "  throw new Error('boom');")],
      ...iterate('break work'),
    ];
    const api = await startMockApi({
      script: ({ index, req }) =>
        index < steps.length ? steps[index]! : sinceLastAssistant(req).includes('Stop hook feedback') ? [bash(node('control.mjs', 'stop'), 'stop')] : [text('Pausing here.')],
    });
    try {
      const session = await runSession({ claude, fixture: f, apiUrl: api.url, prompt: 'continue the autoloop experiment', pluginDir: null, noFlags: true, args: ['--agent', 'autoloop'], timeoutMs: SESSION_TIMEOUT - 60_000 });
      if (api.errors.length) throw api.errors[0]!;
      expect(session.json, `${session.stdout}\n${session.stderr}`).not.toBeNull();
      expect(session.code).toBe(0);
      expect(session.json?.permission_denials ?? []).toEqual([]);
      const main = api.main();
      // The installed SessionStart hook told the session about the experiment.
      expect(seenText(main[0]!)).toContain('autoloop: experiment "speed" is running');
      expect(engineJson(main[5]!)).toMatchObject({ verdict: 'keep', best: 40 });
      expect(engineJson(main[8]!)).toMatchObject({ verdict: 'discard', best: 40 });
      expect(engineJson(main[11]!)).toMatchObject({ verdict: 'crash' });
      const verdicts = fs
        .readFileSync(path.join(f.repo, '.autoloop', 'experiments', 'speed', 'ledger.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { type: string; verdict?: string })
        .flatMap((l) => (l.type === 'result' ? [l.verdict] : []));
      expect(verdicts).toEqual(['keep', 'keep', 'discard', 'crash']);
      // The installed hooks made this session the owner (a call of the installed engine ran).
      const owner = JSON.parse(fs.readFileSync(path.join(f.repo, '.autoloop', 'session.json'), 'utf8')) as { owner_session: string };
      expect(owner.owner_session).toBe(session.json?.session_id);
    } finally {
      await api.close();
    }
  });
});
