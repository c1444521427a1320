// After `control clear` the hooks are quiet (they read only .autoloop/active.json,
// which clear removes): status, explain, `status --list` and the dashboard show
// that state, 'cleared', and what wakes the loop; they said "active" before.
// `control resume` brings 'active' back. Real repository, the bundled engine.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { baselineRepo, engine, jsonOf } from './helpers/engine.ts';
import { emptyState, shownLoop } from '../scripts/lib/reduce.ts';

const SLOW = 900_000;

describe('shownLoop', () => {
  it('is cleared without active.json, whatever the ledger says', () => {
    const t = { terminate: false, by: null, message: '', progress: { runs: '0/1', plateau: '0/1', target: null, wall_clock: null } } as never;
    expect(shownLoop(emptyState(), t, false)).toBe('cleared');
    expect(shownLoop(emptyState(), t, true)).toBe('active');
  });
});

describe('status after control clear', () => {
  it('says cleared (as the hooks read it) and what wakes the loop, until resume', () => {
    const dir = baselineRepo();
    const clear = engine('control', ['clear'], dir);
    expect(clear.code, clear.stderr).toBe(0);
    expect(fs.existsSync(path.join(dir, '.autoloop', 'active.json'))).toBe(false);

    const json = engine('status', ['--json'], dir);
    expect(json.code, json.stderr).toBe(0);
    const data = jsonOf(json.stdout) as Record<string, unknown>;
    expect(data.loop).toBe('cleared');
    expect(String(data.next_action)).toMatch(/cleared.*control\.mjs resume/);
    expect(engine('status', [], dir).stdout.split('\n')[0]).toBe('experiment exp (segment 1, cleared)');

    const explain = jsonOf(engine('control', ['explain', '--json'], dir).stdout) as Record<string, unknown>;
    expect(explain.loop).toBe('cleared');
    expect(String(explain.why)).toMatch(/^cleared by control clear: the hooks are quiet/);
    expect(String(explain.next_action)).toMatch(/control\.mjs resume/);
    expect(engine('status', ['--list'], dir).stdout).toMatch(/exp: cleared,/);
    expect(engine('dashboard', [], dir).stdout.split('\n')[0]).toMatch(/· cleared$/);

    expect(engine('control', ['resume'], dir).code).toBe(0);
    expect((jsonOf(engine('status', ['--json'], dir).stdout) as Record<string, unknown>).loop).toBe('active');
  }, SLOW);
});
