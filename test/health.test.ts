import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  NEXT_ACTION,
  advanceHealth,
  completeHealth,
  initialHealth,
  pauseHealth,
  resumeHealth,
  type HealthMemory,
} from '../scripts/lib/health.ts';
import { HealthConfig, HealthState, type Verdict } from '../scripts/lib/schema.ts';

const defaults = HealthConfig.parse({}); // no_improve_runs 5, max_crash_streak 2, max_heals 3, all playbooks

function walk(verdicts: readonly Verdict[], cfg: HealthConfig = defaults, from: HealthMemory = initialHealth()): HealthMemory[] {
  const out: HealthMemory[] = [];
  let h = from;
  for (const v of verdicts) {
    h = advanceHealth(h, v, cfg);
    out.push(h);
  }
  return out;
}

const times = <T,>(n: number, x: T): T[] => Array<T>(n).fill(x);

describe('initialHealth', () => {
  it('starts running with zero counters', () => {
    expect(initialHealth()).toMatchObject({ health: 'running', playbook: null, heals: 0, no_improve: 0, crash_streak: 0, keep_streak: 0 });
    expect(initialHealth().next_action).toBe(NEXT_ACTION.backlog);
  });
});

describe('a long plateau with the defaults', () => {
  const states = walk(times(20, 'discard'));

  it('rotates rebaseline → shrink_scope → diagnose, then pauses (recovery exhausted)', () => {
    // Episodes at no_improve 5, 10, 15, 20 (every multiple of no_improve_runs).
    const episodes = states.filter((s) => s.health === 'healing' || s.health === 'paused');
    expect(episodes.map((s) => [s.no_improve, s.health, s.playbook])).toEqual([
      [5, 'healing', 'rebaseline'],
      [10, 'healing', 'shrink_scope'],
      [15, 'healing', 'diagnose'],
      [20, 'paused', 'pause'],
    ]);
    expect(states[19]?.reason).toBe('recovery exhausted after 3 heals (20 runs without improvement)');
    expect(states[19]?.next_action).toMatch(/^Stop the loop and tell the user why/);
  });

  it('each playbook comes with its own instruction', () => {
    expect(states[4]?.next_action).toBe('Re-measure the best: change nothing and run run-experiment --description rebaseline.');
    expect(states[9]?.next_action).toBe(NEXT_ACTION.shrink_scope);
    expect(states[14]?.next_action).toBe(NEXT_ACTION.diagnose);
    expect(states[4]?.reason).toBe('5 runs without improvement; heal 1/3: rebaseline');
    expect(states[4]?.heals).toBe(1);
    expect(states[14]?.heals).toBe(3);
  });

  it('is running before the first episode and plateaued between episodes', () => {
    expect(states.slice(0, 4).map((s) => s.health)).toEqual(times(4, 'running'));
    expect(states.slice(5, 9).map((s) => s.health)).toEqual(times(4, 'plateaued'));
    expect(states[6]?.reason).toBe('7 runs without improvement');
    expect(states[6]?.playbook).toBe('rebaseline');
  });

  it('stays paused when more runs are logged, until resumed', () => {
    const more = walk(times(7, 'discard'), defaults, states[19]);
    expect(more.map((s) => s.health)).toEqual(times(7, 'paused'));
    expect(more[6]?.no_improve).toBe(27);
    const resumed = resumeHealth(more[6] as HealthMemory);
    expect(resumed).toMatchObject({ health: 'running', heals: 0, playbook: null, no_improve: 27 });
    // With a fresh budget the next episode (no_improve 30) heals again, from the start of the rotation.
    const after = walk(times(3, 'discard'), defaults, resumed);
    expect(after[2]).toMatchObject({ no_improve: 30, health: 'healing', playbook: 'rebaseline', heals: 1 });
  });
});

describe('crash class', () => {
  it('rotates diagnose → rebaseline → shrink_scope, then pauses', () => {
    // A plateau threshold out of the way, so that only the crash class fires.
    const states = walk(times(8, 'crash'), HealthConfig.parse({ no_improve_runs: 100 }));
    expect(states.map((s) => s.health)).toEqual([
      'crashing', 'healing', 'crashing', 'healing', 'crashing', 'healing', 'crashing', 'paused',
    ]);
    expect([states[1], states[3], states[5]].map((s) => s?.playbook)).toEqual(['diagnose', 'rebaseline', 'shrink_scope']);
    expect(states[0]?.reason).toBe('1 failed run in a row (last: crash)');
    expect(states[0]?.next_action).toBe(NEXT_ACTION.crashing);
    expect(states[1]?.reason).toBe('2 failed runs in a row (last: crash); heal 1/3: diagnose');
    expect(states[7]?.reason).toBe('recovery exhausted after 3 heals (8 failed runs in a row (last: crash))');
  });

  it('with the defaults, crashes also feed the plateau count (episode at no_improve 5)', () => {
    const s = walk(times(6, 'crash'));
    // 2: crash episode (diagnose), 4: crash episode (rebaseline), 5: plateau episode,
    // third heal, plateau rotation index 2 (diagnose), 6: crash episode with the budget spent.
    expect(s.map((x) => x.health)).toEqual(['crashing', 'healing', 'crashing', 'healing', 'healing', 'paused']);
    expect(s.map((x) => x.playbook)).toEqual([null, 'diagnose', 'diagnose', 'rebaseline', 'diagnose', 'pause']);
    expect(s[4]?.reason).toBe('5 runs without improvement; heal 3/3: diagnose');
  });

  it('every failed status counts; a discard breaks the streak but not the plateau count', () => {
    const s = walk(['timeout', 'discard', 'checks_failed', 'invalid']);
    expect(s.map((x) => x.crash_streak)).toEqual([1, 0, 1, 2]);
    expect(s.map((x) => x.no_improve)).toEqual([1, 2, 3, 4]);
    expect(s[3]).toMatchObject({ health: 'healing', playbook: 'diagnose' });
    expect(s[3]?.reason).toMatch(/last: invalid/);
  });

  it('wins over the plateau class when both fire on the same run', () => {
    // no_improve reaches 5 and crash_streak 2 on the fifth run.
    const s = walk(['discard', 'discard', 'discard', 'crash', 'crash']);
    expect(s[4]).toMatchObject({ no_improve: 5, crash_streak: 2, health: 'healing', playbook: 'diagnose' });
  });
});

describe('thresholds come from the cfg passed in', () => {
  it('no_improve_runs moves the plateau episodes', () => {
    const cfg = HealthConfig.parse({ no_improve_runs: 3 });
    const s = walk(times(6, 'discard'), cfg);
    expect(s.map((x) => x.health)).toEqual(['running', 'running', 'healing', 'plateaued', 'plateaued', 'healing']);
    expect([s[2]?.playbook, s[5]?.playbook]).toEqual(['rebaseline', 'shrink_scope']);
  });

  it('max_crash_streak moves the crash episodes', () => {
    const cfg = HealthConfig.parse({ max_crash_streak: 3, no_improve_runs: 100 });
    const s = walk(times(3, 'crash'), cfg);
    expect(s.map((x) => x.health)).toEqual(['crashing', 'crashing', 'healing']);
  });

  it('max_heals bounds the heals: 0 pauses at the first episode, 1 at the second', () => {
    expect(walk(times(5, 'discard'), HealthConfig.parse({ max_heals: 0 }))[4]).toMatchObject({ health: 'paused', heals: 0 });
    const one = walk(times(10, 'discard'), HealthConfig.parse({ max_heals: 1 }));
    expect(one[4]).toMatchObject({ health: 'healing', playbook: 'rebaseline', heals: 1 });
    expect(one[9]?.health).toBe('paused');
    expect(one[9]?.reason).toBe('recovery exhausted after 1 heal (10 runs without improvement)');
  });

  it('the rotation is filtered to the enabled playbooks and clamps at the last', () => {
    const cfg = HealthConfig.parse({ playbooks: ['diagnose', 'shrink_scope'], max_heals: 5 });
    const s = walk(times(20, 'discard'), cfg);
    expect([4, 9, 14, 19].map((k) => s[k]?.playbook)).toEqual(['shrink_scope', 'diagnose', 'diagnose', 'diagnose']);
  });

  it("the 'pause' playbook pauses when the rotation reaches it", () => {
    const cfg = HealthConfig.parse({ max_heals: 10 });
    const s = walk(times(20, 'discard'), cfg);
    expect(s[19]).toMatchObject({ health: 'paused', playbook: 'pause', heals: 4 });
    expect(s[19]?.reason).toBe('20 runs without improvement; heal 4/10: pause');
  });
});

describe('keep', () => {
  it('resets the counters and the heal budget', () => {
    const before = walk(times(10, 'discard'));
    expect(before[9]?.heals).toBe(2);
    const k = advanceHealth(before[9] as HealthMemory, 'keep', defaults);
    expect(k).toMatchObject({ health: 'improving', no_improve: 0, crash_streak: 0, keep_streak: 1, heals: 0, playbook: null });
    expect(k.next_action).toBe(NEXT_ACTION.backlog);
    // The next plateau starts the rotation again.
    const again = walk(times(5, 'discard'), defaults, k);
    expect(again[4]).toMatchObject({ health: 'healing', playbook: 'rebaseline', heals: 1 });
  });

  it('counts keeps in a row; a discard or a crash ends the streak', () => {
    const s = walk(['keep', 'keep', 'keep', 'discard', 'keep', 'crash']);
    expect(s.map((x) => x.keep_streak)).toEqual([1, 2, 3, 0, 1, 0]);
    expect(s[2]?.reason).toBe('kept (3 keeps in a row)');
    expect(s[3]?.health).toBe('running');
    expect(s[5]?.health).toBe('crashing');
  });
});

describe('pause, resume, complete', () => {
  it('pauseHealth and completeHealth set the state and the reason', () => {
    const p = pauseHealth(initialHealth(), 'stopped by the user');
    expect(p).toMatchObject({ health: 'paused', reason: 'stopped by the user' });
    expect(p.next_action).toContain('stopped by the user');
    expect(pauseHealth(initialHealth(), '  ').reason).toBe('paused');
    const c = completeHealth(initialHealth(), 'terminated: target');
    expect(c).toMatchObject({ health: 'completed', reason: 'terminated: target' });
    expect(advanceHealth(c, 'keep', defaults).health).toBe('completed');
  });

  it('resumeHealth keeps the streaks', () => {
    const s = walk(['crash', 'discard', 'discard'])[2] as HealthMemory;
    const r = resumeHealth(pauseHealth(s, 'x'));
    expect(r).toMatchObject({ health: 'running', no_improve: 3, crash_streak: 0, heals: 0 });
  });
});

describe('property', () => {
  const verdict = fc.constantFrom<Verdict>('keep', 'discard', 'crash', 'timeout', 'checks_failed', 'invalid');
  const cfg = fc.record({
    no_improve_runs: fc.integer({ min: 1, max: 8 }),
    max_crash_streak: fc.integer({ min: 1, max: 4 }),
    max_heals: fc.integer({ min: 0, max: 5 }),
    playbooks: fc.uniqueArray(fc.constantFrom('rebaseline' as const, 'shrink_scope' as const, 'diagnose' as const, 'pause' as const), {
      minLength: 1,
      maxLength: 4,
    }),
  });
  const step = fc.oneof(
    { weight: 20, arbitrary: verdict.map((v) => ({ kind: 'verdict' as const, v })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'pause' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'resume' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'complete' as const }) },
  );

  it('health is always a valid state, reason and next_action non-empty, counters sane', () => {
    fc.assert(
      fc.property(cfg, fc.array(step, { maxLength: 80 }), (c, steps) => {
        let h = initialHealth();
        for (const s of steps) {
          h =
            s.kind === 'verdict'
              ? advanceHealth(h, s.v, c)
              : s.kind === 'pause'
                ? pauseHealth(h, 'user')
                : s.kind === 'resume'
                  ? resumeHealth(h)
                  : completeHealth(h, 'done');
          expect(HealthState.options).toContain(h.health);
          expect(h.reason.trim().length).toBeGreaterThan(0);
          expect(h.next_action.trim().length).toBeGreaterThan(0);
          expect(h.heals).toBeLessThanOrEqual(c.max_heals);
          expect(h.heals).toBeGreaterThanOrEqual(0);
          expect(h.crash_streak).toBeLessThanOrEqual(h.no_improve);
          if (h.health === 'healing') expect(h.playbook !== null && c.playbooks.includes(h.playbook)).toBe(true);
        }
      }),
    );
  });
});
