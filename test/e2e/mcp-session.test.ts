// A whole Claude Code session (the real pinned CLI, the plugin loaded with
// --plugin-dir, a scripted model) whose iteration goes through the plugin's MCP
// server: Claude Code starts the server with the session, names its tools
// mcp__plugin_autoloop_engine__*, the PreToolUse hook approves the call in
// `claude -p` with no permission flag (no prompt there: a refusal), and the
// engine's keep lands in git and the ledger.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baselineTemplates } from '../helpers/baseline-template.ts';
import { enginePluginRoot } from './fixture.ts';
import { bash, lastToolResults, sinceLastAssistant, text, tool } from './mock-api.ts';
import { FEEDBACK, SESSION_TIMEOUT, edit, git, sessionHarness } from './session-driver.ts';

const { fixture, drive } = sessionHarness();
const plugin = enginePluginRoot();
const RUN = 'mcp__plugin_autoloop_engine__run';

describe('the iteration through the MCP server', () => {
  const root = plugin?.root ?? '';
  const dist = (script: string): string => path.join(root, 'dist', script);
  const baselineFixture = baselineTemplates(dist, () => fixture());
  afterAll(() => plugin?.cleanup());

  it('the model calls the run tool; the hook approves it with no prompt; the keep lands in the ledger', { timeout: SESSION_TIMEOUT }, async () => {
    if (plugin === null) throw new Error('no engine bundles: run npm run build');
    const f = baselineFixture();
    const workFile = path.join(f.repo, 'src', 'work.mjs');
    const toolNames: string[][] = [];
    const { session, main } = await drive({
      fixture: f,
      pluginDir: root,
      prompt: 'Continue the experiment.',
      args: ['--agent', 'autoloop'],
      noFlags: true,
      script: ({ index, req }) => {
        toolNames.push((req.tools ?? []).map((t) => t.name));
        if (index === 0) return [edit(workFile, 'export const COST = 50;', 'export const COST = 40;')];
        if (index === 1) return [tool(RUN, { args: ['--description', 'lower cost to 40', '--json'] })];
        if (sinceLastAssistant(req).includes(FEEDBACK)) return [bash(`node "${dist('control.mjs')}" stop`, 'the user asked to stop')];
        return [text('Kept; that is all for now.')];
      },
    });
    expect(session.code, session.stderr).toBe(0);
    // The agent's tool list names them (agents/autoloop.md): Claude Code offers a plugin server's tools under these names.
    expect(toolNames[0]).toEqual(expect.arrayContaining([RUN, 'mcp__plugin_autoloop_engine__log', 'mcp__plugin_autoloop_engine__status']));
    expect(session.json?.permission_denials ?? []).toEqual([]);
    const [result] = lastToolResults(main[2]!);
    expect(result?.is_error, result?.text).toBe(false);
    expect(JSON.parse(result!.text) as unknown).toMatchObject({ verdict: 'keep', best: 40 });
    const verdicts = fs
      .readFileSync(path.join(f.repo, '.autoloop', 'experiments', 'speed', 'ledger.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; verdict?: string; description?: string })
      .filter((l) => l.type === 'result');
    expect(verdicts.map((l) => l.verdict)).toEqual(['keep', 'keep']);
    expect(verdicts[1]!.description).toBe('lower cost to 40');
    expect(git(f.repo, 'show', '--name-only', '--format=', 'HEAD')).toBe('src/work.mjs');
    // The session made the loop's engine call: the PostToolUse hook counted it as the owner's.
    const owner = JSON.parse(fs.readFileSync(path.join(f.repo, '.autoloop', 'session.json'), 'utf8')) as { owner_session: string | null };
    expect(owner.owner_session).toBe(session.json?.session_id);
  });
});
