// The Claude Code status line: one short line from active.json and the state
// cache only, and silence (exit 0) on any problem.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fmt } from '../scripts/lib/summary.ts';
import { experimentPaths, repoPaths } from '../scripts/lib/paths.ts';
import { syntheticLedger, writeSynthetic } from './helpers/synthetic-ledger.ts';
import { dirFromInput, formatStatusLine, num } from '../scripts/lib/dashboard/statusline.ts';
import type { State } from '../scripts/lib/reduce.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

function command(): string[] {
  const dist = process.env.AUTOLOOP_TEST_DIST;
  if (dist && fs.existsSync(path.join(dist, 'statusline.mjs'))) return [path.join(dist, 'statusline.mjs')];
  return ['--import', 'tsx', path.join(ROOT, 'scripts', 'statusline.ts')];
}

function statusline(input: string, cwd = os.tmpdir()) {
  return spawnSync(process.execPath, command(), { input, cwd, encoding: 'utf8', timeout: 30_000 });
}

const active = (extra: Record<string, unknown> = {}) => ({ version: 1, experiment: 'faster-primes', loop: 'active', runs: 8, terminated_by: null, ...extra });

describe('formatStatusLine', () => {
  it('reads like the example', () => {
    const state = { best: 145072, baseline: 20_000_000, runs_total: 8, health: { health: 'improving' } };
    expect(formatStatusLine(active(), state)).toBe('autoloop faster-primes · best 145072 (-99.3%) · 8 runs · improving');
  });

  it('says what the loop is doing when it is not running', () => {
    const state = { best: 120, baseline: 100, runs_total: 1, health: { health: 'plateaued' } };
    expect(formatStatusLine(active({ loop: 'terminated', terminated_by: 'plateau' }), state)).toBe('autoloop faster-primes · best 120 (+20.0%) · 1 run · terminated (plateau)');
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
    const p = (((state.best as number) - (state.baseline as number)) / (state.baseline as number)) * 100;
    return `autoloop faster-primes · best ${fmt(state.best)} (${p >= 0 ? '+' : ''}${p.toFixed(1)}%) · 30 runs · ${state.health.health}\n`;
  };

  it('prints one line from a subdirectory of the project (workspace.current_dir wins over cwd)', () => {
    const input = JSON.stringify({ session_id: 'x', cwd: os.tmpdir(), workspace: { current_dir: path.join(dir, 'src', 'deep'), project_dir: dir }, model: { id: 'm' } });
    const r = statusline(input);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(expected());
    expect(r.stderr).toBe('');
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

  it('is quick: well under the time Claude Code allows a status line', () => {
    const input = JSON.stringify({ cwd: dir });
    statusline(input); // warm the file cache
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = process.hrtime.bigint();
      statusline(input);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    times.sort((a, b) => a - b);
    // Generous for a shared 2-core machine and tsx; the bundle takes ~70 ms.
    expect(times[2]).toBeLessThan(command().length === 1 ? 500 : 3000);
  });
});
