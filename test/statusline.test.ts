// The Claude Code status line: one short line from active.json and the state
// cache only, and silence (exit 0) on any problem.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fmt } from '../scripts/lib/summary.ts';
import { experimentPaths, repoPaths } from '../scripts/lib/paths.ts';
import { syntheticLedger, writeSynthetic } from './helpers/synthetic-ledger.ts';
import { dirFromInput, formatStatusLine, num } from '../scripts/lib/dashboard/statusline.ts';
import type { State } from '../scripts/lib/reduce.ts';
import { formatChange } from '../scripts/lib/signs.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

function command(): string[] {
  const dist = process.env.AUTOLOOP_TEST_DIST;
  if (dist && fs.existsSync(path.join(dist, 'statusline.mjs'))) return [path.join(dist, 'statusline.mjs')];
  return ['--import', 'tsx', path.join(ROOT, 'scripts', 'statusline.ts')];
}

function statusline(input: string, cwd = os.tmpdir()) {
  return spawnSync(process.execPath, command(), { input, cwd, encoding: 'utf8', timeout: 900_000 });
}

const active = (extra: Record<string, unknown> = {}) => ({ version: 1, experiment: 'faster-primes', loop: 'active', runs: 8, terminated_by: null, direction: 'lower', ...extra });

describe('formatStatusLine', () => {
  it('reads like the example', () => {
    const state = { best: 145072, baseline: 20_000_000, runs_total: 8, health: { health: 'improving' } };
    // + = better: the lower-is-better number fell by 99.3%.
    expect(formatStatusLine(active(), state)).toBe('autoloop faster-primes · best 145072 (+99.3%) · 8 runs · improving');
    expect(formatStatusLine(active({ direction: 'higher' }), state)).toBe('autoloop faster-primes · best 145072 (-99.3%) · 8 runs · improving');
    // Without a direction (an older active.json) no sign can be given: the best alone.
    expect(formatStatusLine(active({ direction: undefined }), state)).toBe('autoloop faster-primes · best 145072 · 8 runs · improving');
  });

  it('says what the loop is doing when it is not running', () => {
    const state = { best: 120, baseline: 100, runs_total: 1, health: { health: 'plateaued' } };
    expect(formatStatusLine(active({ loop: 'terminated', terminated_by: 'plateau', direction: 'higher' }), state)).toBe('autoloop faster-primes · best 120 (+20%) · 1 run · terminated (plateau)');
    expect(formatStatusLine(active({ loop: 'paused' }), state)).toMatch(/· paused$/);
    expect(formatStatusLine(active(), { best: null, baseline: null, runs_total: 0, health: { health: 'running' } })).toBe('autoloop faster-primes · no baseline yet · 0 runs · running');
    expect(formatStatusLine(active(), { best: 100, baseline: 100, runs_total: 1, health: { health: 'improving' } })).toBe('autoloop faster-primes · best 100 · 1 run · improving');
  });

  it('prints nothing for a missing or malformed active file, and survives a malformed state', () => {
    expect(formatStatusLine(null, {})).toBe('');
    expect(formatStatusLine({ experiment: '../../etc' }, {})).toBe('');
    expect(formatStatusLine([], {})).toBe('');
    expect(formatStatusLine(active(), 'garbage')).toBe('autoloop faster-primes · no baseline yet · 8 runs');
    expect(formatStatusLine(active(), { best: 'x', health: 7 })).toBe('autoloop faster-primes · no baseline yet · 8 runs');
  });

  it('formats numbers as the rest of autoloop does', () => {
    for (const n of [0, 1, -1, 0.5, 1 / 3, 145072, 999_999.99999, 1e6, 2.5e9, 1e-4, -3.14159265, 123.45678]) expect(num(n)).toBe(fmt(n));
  });

  it('finds the directory in Claude Code’s input', () => {
    expect(dirFromInput({ cwd: '/a', workspace: { current_dir: '/b' } })).toBe('/b');
    expect(dirFromInput({ cwd: '/a' })).toBe('/a');
    expect(dirFromInput({ workspace: 3 })).toBeNull();
    expect(dirFromInput('x')).toBeNull();
  });
});

describe('statusline command', () => {
  let dir: string;
  let state: State;
  beforeAll(() => {
    dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-sl-')));
    state = writeSynthetic(dir, syntheticLedger({ runs: 30, seed: 4 })).state;
    fs.mkdirSync(path.join(dir, 'src', 'deep'), { recursive: true });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const expected = () => {
    const change = formatChange(syntheticLedger({ runs: 30, seed: 4 }).config.direction, state.best as number, state.baseline as number);
    return `autoloop faster-primes · best ${fmt(state.best)} (${change}) · 30 runs · ${state.health.health}\n`;
  };

  it('prints one line from a subdirectory of the project (workspace.current_dir wins over cwd)', () => {
    const input = JSON.stringify({ session_id: 'x', cwd: os.tmpdir(), workspace: { current_dir: path.join(dir, 'src', 'deep'), project_dir: dir }, model: { id: 'm' } });
    const r = statusline(input);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(expected());
    expect(r.stderr).toBe('');
  });

  it('prints the line when the writer never closes stdin (the wait ends it), and leaves no process behind', async () => {
    const child = spawn(process.execPath, command(), { cwd: os.tmpdir(), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stdin.write(JSON.stringify({ cwd: os.tmpdir(), workspace: { current_dir: dir } }));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.stdin.destroy();
    expect(code).toBe(0);
    expect(out).toBe(expected());
  });

  it('needs neither the ledger nor the config (state cache and active.json only)', () => {
    const p = experimentPaths(dir, 'faster-primes');
    const hide = [p.ledger, p.config];
    for (const f of hide) fs.renameSync(f, `${f}.away`);
    try {
      const r = statusline(JSON.stringify({ cwd: dir }));
      expect(r.stdout).toBe(expected());
    } finally {
      for (const f of hide) fs.renameSync(`${f}.away`, f);
    }
  });

  it('prints nothing and exits 0 on every kind of trouble', () => {
    const cases: [string, string][] = [
      ['not json at all', os.tmpdir()],
      ['', os.tmpdir()],
      [JSON.stringify({ cwd: '/nonexistent/place' }), os.tmpdir()],
      [JSON.stringify({ cwd: os.tmpdir() }), os.tmpdir()],
      [JSON.stringify([1, 2, 3]), os.tmpdir()],
    ];
    for (const [input, cwd] of cases) {
      const r = statusline(input, cwd);
      expect(r.status, input).toBe(0);
      expect(r.stdout, input).toBe('');
      expect(r.stderr, input).toBe('');
    }
    const activeFile = repoPaths(dir).active;
    const saved = fs.readFileSync(activeFile);
    try {
      fs.writeFileSync(activeFile, '{"version":1,"experiment":');
      const r = statusline(JSON.stringify({ cwd: dir }));
      expect([r.status, r.stdout, r.stderr]).toEqual([0, '', '']);
    } finally {
      fs.writeFileSync(activeFile, saved);
    }
  });

  // Its speed is a figure of bench/guard.ts (a ratio against bare node), not a test.

  it('runs from the stable launcher that each session start points at the current plugin copy', () => {
    const dist = process.env.AUTOLOOP_TEST_DIST;
    expect(dist, 'test/global-build.ts sets AUTOLOOP_TEST_DIST').toBeTruthy();
    const scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-sl-launcher-')));
    try {
      // Two installed versions, as in ~/.claude/plugins/cache/autoloop/autoloop/<version>.
      const data = path.join(scratch, 'data');
      const noLoop = path.join(scratch, 'elsewhere');
      fs.mkdirSync(data);
      fs.mkdirSync(path.join(noLoop, '.git'), { recursive: true });
      const copy = (version: string) => {
        const root = path.join(scratch, 'cache', version);
        fs.mkdirSync(root, { recursive: true });
        fs.symlinkSync(dist!, path.join(root, 'dist'));
        return root;
      };
      const sessionStart = (root: string) =>
        spawnSync('sh', [path.join(ROOT, 'hooks', 'run.sh'), 'session-start'], {
          input: '{}',
          cwd: noLoop,
          env: { PATH: process.env.PATH, CLAUDE_PLUGIN_ROOT: root, CLAUDE_PLUGIN_DATA: data, CLAUDE_PROJECT_DIR: noLoop },
          encoding: 'utf8',
          timeout: 900_000,
        });
      const launcher = path.join(data, 'statusline.sh');
      const show = () => spawnSync('sh', [launcher], { input: JSON.stringify({ cwd: dir }), cwd: os.tmpdir(), encoding: 'utf8', timeout: 900_000 });

      const v1 = copy('0.1.0');
      expect(sessionStart(v1)).toMatchObject({ status: 0, stdout: '', stderr: '' });
      expect(show()).toMatchObject({ status: 0, stdout: expected(), stderr: '' });

      // An update installs a new copy and removes the old one; the next session start re-points the launcher.
      const v2 = copy('0.2.0');
      fs.rmSync(v1, { recursive: true });
      expect(show()).toMatchObject({ status: 0, stdout: '', stderr: '' });
      expect(sessionStart(v2).status).toBe(0);
      expect(show()).toMatchObject({ status: 0, stdout: expected(), stderr: '' });
      expect(fs.readFileSync(path.join(data, 'plugin-root'), 'utf8')).toBe(`${v2}\n`);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});
