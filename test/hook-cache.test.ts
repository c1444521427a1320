// dist/hooks.cjs keeps a V8 code cache in the plugin's data folder
// (CLAUDE_PLUGIN_DATA). It may only spare compile work: with or without it,
// with a cache that is garbage, of another build or unwritable, every call
// decides the same. Exercises the committed bundle (run npm run build first).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUN_SH = path.join(ROOT, 'hooks', 'run.sh');

let dir: string;
let project: string;
let data: string;

beforeAll(() => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'hooks.cjs'))) throw new Error('dist/hooks.cjs is missing: run npm run build');
});

beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-hook-cache-')));
  project = path.join(dir, 'repo');
  data = path.join(dir, 'data');
  for (const d of ['src', 'bench', '.git', '.autoloop/experiments/speed']) fs.mkdirSync(path.join(project, d), { recursive: true });
  fs.mkdirSync(data);
  fs.writeFileSync(path.join(project, '.autoloop', 'active.json'), JSON.stringify({
    version: 1, experiment: 'speed', loop: 'active', scope: ['src/**'], protect: ['bench/bench.mjs'],
    writable: ['.autoloop/experiments/speed/program.md'], summary: 'Experiment speed.', next_action: 'Try a lookup table.',
    terminated_by: null, chain_allowed: false, runs: 5, stop_hook: { max_blocks: 500, max_idle_blocks: 3 }, updated_at: '2026-11-21T08:00:00.000Z',
  }));
  fs.writeFileSync(path.join(project, '.autoloop', 'session.json'), JSON.stringify({
    owner_session: 's', owner_agent: null, blocks: 0, idle_blocks: 0, last_runs: 5, chain_nudged: null, candidate: null, past_end: null,
  }));
});

afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

let CALLS: Array<[string, string, object]>;
beforeEach(() => {
  CALLS = calls();
});

const tool = (name: string, input: object): object => ({ session_id: 's', cwd: project, hook_event_name: 'PreToolUse', tool_name: name, tool_input: input });
// One call of each bundle the loader picks: file tools, Bash, Stop. Each is one
// the shell leaves to Node (hooks/pre-tool-use.sh, hooks/session.sh): a relative
// path, a deny, a cd, a Stop payload over 8 kB.
const calls = (): Array<[string, string, object]> => [
  ['edit in scope', 'pre-tool-use', tool('Edit', { file_path: 'src/a.ts', old_string: 'a', new_string: 'b' })],
  ['edit of a judge', 'pre-tool-use', tool('Write', { file_path: 'bench/bench.mjs', content: 'x' })],
  ['git reset', 'pre-tool-use', tool('Bash', { command: 'git reset --hard' })],
  ['read-only pipeline', 'pre-tool-use', tool('Bash', { command: 'cd src && git diff --stat | head -5' })],
  ['stop', 'stop', { session_id: 's', cwd: project, hook_event_name: 'Stop', stop_hook_active: false, last_assistant_message: 'done. '.repeat(1500) }],
];

function hook(event: string, payload: object, dataDir: string | undefined): { stdout: string; stderr: string; code: number | null } {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: project, CLAUDE_CODE_SESSION_ID: 's' };
  if (dataDir !== undefined) env.CLAUDE_PLUGIN_DATA = dataDir;
  const r = spawnSync('sh', [RUN_SH, event], { cwd: project, input: JSON.stringify(payload), env, encoding: 'utf8' });
  // Stop's session.json counters move on each call: reset them so every run sees the same state.
  fs.writeFileSync(path.join(project, '.autoloop', 'session.json'), JSON.stringify({
    owner_session: 's', owner_agent: null, blocks: 0, idle_blocks: 0, last_runs: 5, chain_nudged: null, candidate: null, past_end: null,
  }));
  return { stdout: r.stdout, stderr: r.stderr, code: r.status };
}

const caches = (): string[] => fs.readdirSync(data).filter((f) => f.endsWith('.v8cache')).sort();

describe('hooks code cache', () => {
  it('is written on the first call, used on the next, and never changes a decision', () => {
    const plain = CALLS.map(([, event, payload]) => hook(event, payload, undefined));
    expect(plain.map((r) => r.code)).toEqual(CALLS.map(() => 0));
    expect(plain[0]!.stdout).toMatch(/"permissionDecision":"allow"/);
    expect(plain[1]!.stdout).toMatch(/"permissionDecision":"deny"/);
    expect(plain[2]!.stdout).toMatch(/"permissionDecision":"deny"/);
    expect(plain[4]!.stdout).toMatch(/"decision":"block"/);
    expect(caches()).toEqual([]);

    const first = CALLS.map(([, event, payload]) => hook(event, payload, data));
    const written = caches();
    expect(written.length).toBeGreaterThanOrEqual(3); // one per bundle and event
    const stamps = written.map((f) => fs.statSync(path.join(data, f)).mtimeMs);
    const second = CALLS.map(([, event, payload]) => hook(event, payload, data));
    expect(caches()).toEqual(written);
    expect(written.map((f) => fs.statSync(path.join(data, f)).mtimeMs)).toEqual(stamps); // accepted, not rewritten
    for (const runs of [first, second]) expect(runs).toEqual(plain);
  });

  it('decides the same with a garbage cache, and replaces it', () => {
    const plain = CALLS.map(([, event, payload]) => hook(event, payload, undefined));
    CALLS.forEach(([, event, payload]) => hook(event, payload, data));
    for (const f of caches()) fs.writeFileSync(path.join(data, f), Buffer.alloc(fs.statSync(path.join(data, f)).size, 0x5a));
    const garbled = CALLS.map(([, event, payload]) => hook(event, payload, data));
    expect(garbled).toEqual(plain);
    for (const f of caches()) expect(fs.readFileSync(path.join(data, f)).every((b) => b === 0x5a)).toBe(false);
  });

  it('does not use a cache made for another build of the bundle, and removes caches of other Node versions', () => {
    const [, event, payload] = CALLS[0]!;
    const expected = hook(event, payload, undefined);
    hook(event, payload, data);
    const [own] = caches();
    expect(own).toMatch(new RegExp(`^hooks-file-pre-tool-use-${process.version}-${process.arch}\\.v8cache$`));
    // Same V8 cache, but keyed to another build: it must be set aside, not run.
    const body = fs.readFileSync(path.join(data, own!));
    const nl = body.indexOf(10);
    fs.writeFileSync(path.join(data, own!), Buffer.concat([Buffer.from('0000000000000000:1:1'), body.subarray(nl)]));
    const older = 'hooks-file-pre-tool-use-v20.0.0-x64.v8cache';
    fs.writeFileSync(path.join(data, older), 'old');
    fs.writeFileSync(path.join(data, 'statusline.sh'), '#!/bin/sh\n');
    expect(hook(event, payload, data)).toEqual(expected);
    expect(caches()).toEqual([own]);
    expect(fs.readFileSync(path.join(data, own!)).subarray(0, 17).toString()).not.toBe('0000000000000000:');
    expect(fs.existsSync(path.join(data, 'statusline.sh'))).toBe(true);
  });

  it('decides the same when the data folder is missing, relative or read-only (as root, writable after all)', () => {
    const plain = CALLS.map(([, event, payload]) => hook(event, payload, undefined));
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o500 });
    for (const d of [path.join(dir, 'absent'), 'relative/data', locked]) {
      const runs = CALLS.map(([, event, payload]) => hook(event, payload, d));
      expect(runs).toEqual(plain);
    }
    expect(fs.existsSync(path.join(dir, 'absent'))).toBe(false);
  });
});
