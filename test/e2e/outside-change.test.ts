// A second Claude session in the same repository edits a tracked file outside
// the experiment's scope while the loop runs (between two iterations). The
// loop must go on: the next runs are judged as usual (not `invalid`), the loop
// is not paused, the other session's edit is left alone (never committed,
// never reverted) and the engine reports it (an `outside_change` event).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readLedger } from '../../scripts/lib/ledger.ts';
import { ensureClaude } from './claude-cli.ts';
import { enginePluginRoot, makeFixture, runSession, type Fixture } from './fixture.ts';
import { bash, sinceLastAssistant, startMockApi, text, tool, type Block } from './mock-api.ts';

const SESSION_TIMEOUT = 600_000;
const plugin = enginePluginRoot();
const fixtures: Fixture[] = [];
let claude = '';

beforeAll(() => {
  claude = ensureClaude();
  if (plugin === null) throw new Error('no engine bundles: run npm run build');
}, 900_000);
afterEach(() => {
  for (const f of fixtures.splice(0)) f.cleanup();
});
afterAll(() => plugin?.cleanup());

describe('a second session changes a tracked file outside the scope mid-loop', () => {
  it('the loop goes on: runs judged as usual, not paused, the edit left alone and reported', { timeout: SESSION_TIMEOUT }, async () => {
    const f = makeFixture();
    fixtures.push(f);
    const root = plugin!.root;
    const dist = (s: string): string => path.join(root, 'dist', s);
    const node = (s: string, args = ''): string => `node "${dist(s)}"${args ? ` ${args}` : ''}`;
    const setup = (s: string, ...args: string[]) => execFileSync('node', [dist(s), ...args, '--json'], { cwd: f.repo, encoding: 'utf8', timeout: 120_000 });
    setup('init-experiment.mjs', '--name', 'speed', '--metric', 'time_ms', '--direction', 'lower', '--command', 'node bench/bench.mjs', '--checks', 'node bench/check.mjs', '--scope', 'src/**');
    setup('run-experiment.mjs');
    setup('log-experiment.mjs', '--description', 'baseline');

    const work = path.join(f.repo, 'src', 'work.mjs');
    const readme = path.join(f.repo, 'README.md');
    const NOTE = '\nNotes from the other session.\n';
    const mine = path.join(f.repo, 'src', 'other-notes.mjs');
    const MINE = '// the other session\'s own new file\n';
    const edit = (a: number, b: number): Block => tool('Edit', { file_path: work, old_string: `export const COST = ${a};`, new_string: `export const COST = ${b};`, replace_all: false });
    const iterate = (d: string): Block[][] => [[bash(node('run-experiment.mjs', '--json'), 'measure')], [bash(node('log-experiment.mjs', `--description "${d}" --hypothesis h --json`), 'log')]];

    /** The other session: the user's own Claude in the same repository, with its own permission to edit. */
    const otherSession = async (): Promise<void> => {
      const api = await startMockApi({
        script: ({ index }) =>
          index === 0
            ? [tool('Edit', { file_path: readme, old_string: 'A tiny project for autoloop session tests.\n', new_string: `A tiny project for autoloop session tests.\n${NOTE}`, replace_all: false })]
            : index === 1
              ? [tool('Write', { file_path: mine, content: MINE })] // a new file inside the loop's scope
              : [text('README updated.')],
      });
      try {
        const s = await runSession({ claude, fixture: f, apiUrl: api.url, prompt: 'add a note to the README', pluginDir: root, args: ['--allowedTools', 'Edit Write'], noFlags: true, timeoutMs: SESSION_TIMEOUT / 2 });
        if (api.errors.length) throw api.errors[0]!;
        expect(s.json?.permission_denials ?? [], s.stdout).toEqual([]);
      } finally {
        await api.close();
      }
    };

    const steps: (Block[] | (() => Promise<Block[]>))[] = [
      [edit(50, 40)],
      ...iterate('lower cost to 40'),
      async () => {
        await otherSession(); // between two iterations of the loop
        expect(fs.readFileSync(readme, 'utf8')).toContain(NOTE);
        expect(fs.readFileSync(mine, 'utf8')).toBe(MINE);
        return [edit(40, 35)];
      },
      ...iterate('lower cost to 35'),
      [edit(35, 30)],
      ...iterate('lower cost to 30'),
    ];
    const outputs: string[] = [];
    const api = await startMockApi({
      script: async ({ index, req }) => {
        if (index > 0) outputs.push(sinceLastAssistant(req));
        const s = steps[index];
        if (s) return typeof s === 'function' ? s() : s;
        return sinceLastAssistant(req).includes('Stop hook feedback') ? [bash(node('control.mjs', 'stop'), 'stop')] : [text('Pausing here.')];
      },
    });
    try {
      const session = await runSession({ claude, fixture: f, apiUrl: api.url, prompt: 'continue the autoloop experiment', pluginDir: root, noFlags: true, args: ['--agent', 'autoloop'], timeoutMs: SESSION_TIMEOUT - 60_000 });
      if (api.errors.length) throw api.errors[0]!;
      expect(session.code, session.stderr).toBe(0);
      expect(session.json?.permission_denials ?? []).toEqual([]);
    } finally {
      await api.close();
    }

    const ledger = readLedger(path.join(f.repo, '.autoloop', 'experiments', 'speed', 'ledger.jsonl'));
    const results = ledger.lines.flatMap((l) => (l.type === 'result' ? [l] : []));
    // The runs after the other session's edit are judged on the change in scope, as usual.
    expect(results.map((r) => [r.verdict, r.primary])).toEqual([
      ['keep', 50],
      ['keep', 40],
      ['keep', 35],
      ['keep', 30],
    ]);
    const events = ledger.lines.flatMap((l) => (l.type === 'event' ? [{ event: l.event as string, data: l.data }] : []));
    expect(events.map((e) => e.event)).not.toContain('pause');
    // Reported: an event naming the file, and a word to the model in the run's answer.
    expect(events.find((e) => e.event === 'outside_change')?.data).toMatchObject({ files: ['README.md'] });
    expect(outputs.join('\n')).toMatch(/README\.md/);
    // Left alone: still in the work tree, never committed.
    expect(fs.readFileSync(readme, 'utf8')).toContain(NOTE);
    expect(execFileSync('git', ['show', 'HEAD:README.md'], { cwd: f.repo, encoding: 'utf8' })).not.toContain(NOTE);
    expect(execFileSync('git', ['log', '--format=%s', '--', 'README.md'], { cwd: f.repo, encoding: 'utf8' }).trim().split('\n')).toEqual(['fixture']);
    expect((JSON.parse(fs.readFileSync(path.join(f.repo, '.autoloop', 'active.json'), 'utf8')) as { loop: string }).loop).not.toBe('paused');
    // The other session's new in-scope file is not the loop's (its hooks journal only the loop's
    // sessions): set aside unmeasured, never committed with the loop's keep, never lost.
    expect(events.find((e) => e.event === 'user_files')?.data).toMatchObject({ files: ['src/other-notes.mjs'] });
    expect(execFileSync('git', ['log', '--all', '--format=%s', '--', 'src/other-notes.mjs'], { cwd: f.repo, encoding: 'utf8' }).trim()).toBe('');
    const to = (events.find((e) => e.event === 'user_files')?.data as { to?: string } | undefined)?.to ?? '';
    expect(to).toMatch(/^\.autoloop\/experiments\/speed\/rescued\/r\d+$/);
    expect(fs.readFileSync(path.join(f.repo, to, 'src', 'other-notes.mjs.autoloop-copy'), 'utf8')).toBe(MINE);
  });
});
