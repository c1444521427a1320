// Interactive: `claude` in a tmux pane with the plugin (--plugin-dir), the
// user's permission mode at its strictest ("default": every call the rules do
// not allow is asked on screen), `/autoloop:run` typed with send-keys, the
// screen read with capture-pane. The loop must iterate with no permission
// prompt on screen. As a control, a command outside the allow list (curl)
// must raise a prompt in the same pane, so a prompt would have been seen.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readLedger } from '../../scripts/lib/ledger.ts';
import { pidAlive } from '../../scripts/lib/procs.ts';
import { cliEnv, ensureClaude } from './claude-cli.ts';
import { enginePluginRoot, makeFixture, type Fixture } from './fixture.ts';
import { bash, seenText, sinceLastAssistant, startMockApi, text, tool, type Block, type MockApi } from './mock-api.ts';

const TIMEOUT = 900_000;
const PROMPT_TEXT = /Do you want to (proceed|make this edit|create|allow)|don't ask again|No, and tell Claude/i;
const plugin = enginePluginRoot();
const socket = `autoloop-e2e-${process.pid}`;
let claude = '';
let fixture: Fixture | null = null;
let api: MockApi | null = null;
let panePid: number | null = null;

/** tmux, installed on first use (Debian/Ubuntu test machines). */
function ensureTmux(): void {
  if (spawnSync('tmux', ['-V']).status === 0) return;
  console.log('installing tmux for the interactive test: apt-get install -y --no-install-recommends tmux');
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'tmux'], { stdio: 'ignore', timeout: 600_000 });
}

beforeAll(() => {
  claude = ensureClaude();
  ensureTmux();
  if (plugin === null) throw new Error('no engine bundles: run npm run build');
}, 900_000);
afterEach(async () => {
  spawnSync('tmux', ['-L', socket, 'kill-server']);
  // claude writes into HOME while it shuts down: remove the fixture once it is gone.
  if (panePid !== null) while (pidAlive(panePid)) await sleep(100);
  panePid = null;
  await api?.close();
  fixture?.cleanup();
});
afterAll(() => plugin?.cleanup());

/**
 * A fresh HOME past the CLI's first-run screens: onboarding done (it would
 * check api.anthropic.com), the repository trusted, the test API key approved;
 * and the permission mode "default" (2.1.329 otherwise starts in auto mode,
 * which asks a model instead of the user).
 */
function prepareHome(f: Fixture, key: string): void {
  const config = {
    hasCompletedOnboarding: true,
    theme: 'dark',
    projects: { [f.repo]: { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true } },
    customApiKeyResponses: { approved: [key.slice(-20)], rejected: [] },
  };
  fs.writeFileSync(path.join(f.home, '.claude.json'), JSON.stringify(config));
  fs.mkdirSync(path.join(f.home, '.claude'), { recursive: true });
  fs.writeFileSync(path.join(f.home, '.claude', 'settings.json'), JSON.stringify({ permissions: { defaultMode: 'default' } }));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('interactive: /autoloop:run in a terminal', () => {
  it('iterates (keep, discard, crash) with no permission prompt on screen; curl still prompts', { timeout: TIMEOUT }, async () => {
    const f = makeFixture();
    fixture = f;
    const root = plugin!.root;
    const node = (script: string, args = ''): string => `node "${path.join(root, 'dist', script)}"${args ? ` ${args}` : ''}`;
    const setup = (script: string, ...args: string[]) => execFileSync('node', [path.join(root, 'dist', script), ...args, '--json'], { cwd: f.repo, encoding: 'utf8', timeout: 120_000 });
    setup('init-experiment.mjs', '--name', 'speed', '--metric', 'time_ms', '--direction', 'lower', '--command', 'node bench/bench.mjs', '--checks', 'node bench/check.mjs', '--scope', 'src/**');
    setup('run-experiment.mjs');
    setup('log-experiment.mjs', '--description', 'baseline');

    const work = path.join(f.repo, 'src', 'work.mjs');
    const edit = (a: string, b: string): Block => tool('Edit', { file_path: work, old_string: a, new_string: b, replace_all: false });
    const iterate = (d: string): Block[][] => [[bash(node('run-experiment.mjs', '--json'), 'measure')], [bash(node('log-experiment.mjs', `--description "${d}" --hypothesis h --json`), 'log')]];
    const loop: Block[][] = [
      [tool('Read', { file_path: work })],
      [edit('export const COST = 50;', 'export const COST = 40;')],
      ...iterate('lower cost to 40'),
      [edit('export const COST = 40;', 'export const COST = 45;')],
      ...iterate('raise cost to 45'),
      [edit('  return x;', "  throw new Error('boom');")],
      ...iterate('break work'),
      [bash(node('control.mjs', 'stop'), 'stop the loop here')],
      [text('Stopped after three iterations.')],
    ];
    let step = -1;
    let skillSeen = false;
    api = await startMockApi({
      script: ({ req }) => {
        const since = sinceLastAssistant(req);
        if (since.includes('check the network')) return [bash('curl -s http://127.0.0.1:9/', 'fetch')];
        if (step < 0) {
          skillSeen = seenText(req).includes('# /autoloop:run');
          step = 0;
        }
        return loop[step++] ?? [text('Nothing more to do.')];
      },
    });
    const key = 'sk-ant-test-dummy-interactive';
    prepareHome(f, key);
    const env = { ...cliEnv(f.home, api.url, { ANTHROPIC_API_KEY: key }), TERM: 'xterm-256color' };
    const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], { env, encoding: 'utf8' });
    // remain-on-exit: if claude exits early, its last screen stays readable.
    tmux('start-server', ';', 'set-option', '-g', 'remain-on-exit', 'on', ';', 'new-session', '-d', '-s', 'loop', '-x', '160', '-y', '50', '-c', f.repo, claude, '--plugin-dir', root);

    panePid = Number(tmux('display-message', '-p', '-t', 'loop', '#{pane_pid}').trim());
    const screens: string[] = [];
    const capture = (): string => {
      const s = tmux('capture-pane', '-p', '-t', 'loop');
      if (screens.at(-1) !== s) screens.push(s);
      return s;
    };
    const waitFor = async (what: string, done: (screen: string) => boolean): Promise<string> => {
      for (;;) {
        const s = capture();
        if (done(s)) return s;
        if (/Pane is dead/.test(s)) throw new Error(`claude exited while waiting for ${what}:\n${s}`);
        await sleep(500);
      }
    };
    const results = (): number => readLedger(path.join(f.repo, '.autoloop', 'experiments', 'speed', 'ledger.jsonl')).lines.filter((l) => l.type === 'result').length;
    const idle = (s: string): boolean => /❯/.test(s) && !/esc to interrupt/i.test(s);

    await waitFor('the input prompt', idle);
    tmux('send-keys', '-t', 'loop', '-l', '/autoloop:run');
    // Enter only once the input line shows the whole command: text and Enter read in one go would be a
    // paste, and a fixed pause cannot ensure they are not on a loaded machine.
    await waitFor('the typed command', (s) => /^❯\s\/autoloop:run\s*$/m.test(s));
    tmux('send-keys', '-t', 'loop', 'Enter');
    // Until the loop has run its course: three more results, the loop stopped, the model's last word on screen.
    await waitFor('three iterations', (s) => PROMPT_TEXT.test(s) || (results() >= 4 && step >= loop.length && /Stopped after three iterations/.test(s) && idle(s)));

    const prompted = screens.filter((s) => PROMPT_TEXT.test(s));
    expect(prompted, prompted[0]).toEqual([]);
    expect(skillSeen).toBe(true);
    const verdicts = readLedger(path.join(f.repo, '.autoloop', 'experiments', 'speed', 'ledger.jsonl')).lines.flatMap((l) => (l.type === 'result' ? [l.verdict] : []));
    expect(verdicts).toEqual(['keep', 'keep', 'discard', 'crash']);

    // Control: outside the list, the same pane does show Claude Code's permission prompt.
    tmux('send-keys', '-t', 'loop', '-l', 'check the network');
    tmux('send-keys', '-t', 'loop', 'Enter');
    const asked = await waitFor('the curl prompt', (s) => PROMPT_TEXT.test(s));
    expect(asked).toMatch(/curl/);
    tmux('send-keys', '-t', 'loop', 'Escape');
  });
});
