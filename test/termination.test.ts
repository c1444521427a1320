import { describe, expect, it } from 'vitest';
import { evaluateTermination, formatDuration, type TerminationInput } from '../scripts/lib/termination.ts';
import { emptyState, termination } from '../scripts/lib/reduce.ts';
import type { Config } from '../scripts/lib/schema.ts';

const off: TerminationInput = {
  direction: 'lower',
  target: null,
  best: null,
  plateau: null,
  runsSinceImprovement: 0,
  maxRuns: null,
  runs: 0,
  maxWallClock: null,
  elapsedS: 0,
};

describe('evaluateTermination', () => {
  it('nothing fires when every rule is off', () => {
    const t = evaluateTermination({ ...off, runs: 1000, runsSinceImprovement: 1000, elapsedS: 1e9, best: 1 });
    expect(t.terminate).toBe(false);
    expect(t.by).toBeNull();
    expect(t.progress).toEqual({ runs: '1000', plateau: null, target: null, wall_clock: null });
    expect(t.message).toBe('continuing: runs 1000');
  });

  it('target, direction-aware; best null never fires', () => {
    expect(evaluateTermination({ ...off, target: 10, best: 10 }).by).toBe('target');
    expect(evaluateTermination({ ...off, target: 10, best: 9.5 }).by).toBe('target');
    expect(evaluateTermination({ ...off, target: 10, best: 10.1 }).terminate).toBe(false);
    expect(evaluateTermination({ ...off, direction: 'higher', target: 10, best: 10.1 }).by).toBe('target');
    expect(evaluateTermination({ ...off, direction: 'higher', target: 10, best: 9.9 }).terminate).toBe(false);
    expect(evaluateTermination({ ...off, target: 10, best: null }).terminate).toBe(false);
    expect(evaluateTermination({ ...off, target: 10, best: 12.1 }).progress.target).toBe('12.1 → 10');
    expect(evaluateTermination({ ...off, target: 10, best: null }).progress.target).toBe('none → 10');
    expect(evaluateTermination({ ...off, target: -3, best: -3.5 }).message).toBe('terminated: target (best -3.5 <= target -3)');
  });

  it('plateau fires at runsSinceImprovement >= plateau', () => {
    expect(evaluateTermination({ ...off, plateau: 20, runsSinceImprovement: 19 }).terminate).toBe(false);
    const t = evaluateTermination({ ...off, plateau: 20, runsSinceImprovement: 20 });
    expect(t.by).toBe('plateau');
    expect(t.message).toBe('terminated: plateau (20 runs without a real improvement)');
    expect(evaluateTermination({ ...off, plateau: 20, runsSinceImprovement: 4 }).progress.plateau).toBe('4/20');
  });

  it('max_runs fires at runs >= maxRuns', () => {
    expect(evaluateTermination({ ...off, maxRuns: 100, runs: 99 }).terminate).toBe(false);
    expect(evaluateTermination({ ...off, maxRuns: 100, runs: 100 }).by).toBe('max_runs');
    expect(evaluateTermination({ ...off, maxRuns: 100, runs: 37 }).progress.runs).toBe('37/100');
  });

  it('wall_clock fires at elapsed >= budget', () => {
    expect(evaluateTermination({ ...off, maxWallClock: 28800, elapsedS: 28799 }).terminate).toBe(false);
    const t = evaluateTermination({ ...off, maxWallClock: 28800, elapsedS: 28800 });
    expect(t.by).toBe('wall_clock');
    expect(evaluateTermination({ ...off, maxWallClock: 28800, elapsedS: 4320 }).progress.wall_clock).toBe('1.2h/8h');
  });

  it('past the wall-clock budget the clock stops where the loop did, not at the time the report is read', () => {
    // Ended overnight: a 1h budget, the last run logged at 1h02m, read 9h after the start.
    const ended = evaluateTermination({ ...off, maxWallClock: 3600, elapsedS: 33_000, lastActiveS: 3720 });
    expect(ended.message).toBe('terminated: wall_clock (1h of 1h)');
    expect(ended.progress.wall_clock).toBe('1h/1h');
    expect(evaluateTermination({ ...off, maxWallClock: 3600, elapsedS: 33_000, lastActiveS: 5400 }).message).toBe('terminated: wall_clock (1.5h of 1h)');
    // Ran out between two calls (the last line before the budget): the budget itself.
    expect(evaluateTermination({ ...off, maxWallClock: 3600, elapsedS: 33_000, lastActiveS: 3000 }).progress.wall_clock).toBe('1h/1h');
    // Still running: the clock is the time so far.
    expect(evaluateTermination({ ...off, maxWallClock: 3600, elapsedS: 1800, lastActiveS: 1700 }).progress.wall_clock).toBe('30m/1h');
  });

  it('the state says where the loop stopped: its last ledger line', () => {
    const s = { ...emptyState(), started_at: '2026-01-01T00:00:00.000Z', last_ts: '2026-01-01T01:02:00.000Z' };
    const cfg = { direction: 'lower', target: null, plateau: null, max_runs: null, max_wall_clock: 3600 } as unknown as Config;
    const t = termination(s, cfg, Date.parse('2026-01-01T09:00:00.000Z'));
    expect(t.message).toBe('terminated: wall_clock (1h of 1h)');
  });

  it('chain budget: stops no experiment by itself, and is what a stop of the last follow-up says (the rule that fired in its message)', () => {
    let asked = 0;
    const exhausted = () => (asked++, true);
    expect(evaluateTermination({ ...off, chainExhausted: exhausted }).terminate).toBe(false);
    expect(asked).toBe(0); // chain.json is read only once a rule fired
    expect(evaluateTermination({ ...off, chainExhausted: false, maxRuns: 1, runs: 1 }).by).toBe('max_runs');
    const t = evaluateTermination({ ...off, chainExhausted: exhausted, maxRuns: 1, runs: 1 });
    expect(asked).toBe(1);
    expect(t).toMatchObject({ terminate: true, by: 'chain_budget', message: 'terminated: chain_budget (max_runs: 1 run of 1; no follow-up left: the chain has used its budget)' });
  });

  it('order: target, plateau, max_runs, wall_clock', () => {
    const all: TerminationInput = {
      direction: 'higher',
      target: 5,
      best: 6,
      plateau: 3,
      runsSinceImprovement: 3,
      maxRuns: 10,
      runs: 10,
      maxWallClock: 60,
      elapsedS: 60,
    };
    expect(evaluateTermination(all).by).toBe('target');
    expect(evaluateTermination({ ...all, best: 4 }).by).toBe('plateau');
    expect(evaluateTermination({ ...all, best: 4, plateau: null }).by).toBe('max_runs');
    expect(evaluateTermination({ ...all, best: 4, plateau: null, maxRuns: null }).by).toBe('wall_clock');
    expect(evaluateTermination({ ...all, best: 4, plateau: null, maxRuns: null, maxWallClock: null }).terminate).toBe(false);
    expect(evaluateTermination({ ...all, chainExhausted: true }).message).toBe('terminated: chain_budget (target: best 6 >= target 5; no follow-up left: the chain has used its budget)');
  });

  it('a continuing message lists the progress of the rules that are on', () => {
    const t = evaluateTermination({ ...off, maxRuns: 100, runs: 37, plateau: 20, runsSinceImprovement: 4 });
    expect(t.message).toBe('continuing: runs 37/100, plateau 4/20');
  });
});

describe('formatDuration', () => {
  it('seconds, minutes, hours', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59)).toBe('59s');
    expect(formatDuration(90)).toBe('1.5m');
    expect(formatDuration(3600)).toBe('1h');
    expect(formatDuration(4320)).toBe('1.2h');
  });
});
