// report: an experiment run to termination by the real engine, then read back
// as Markdown and as data. Every figure in it is known in advance because the
// benchmark prints the number in src/value.txt.
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { benchRepo, git, init, ledger, run, step } from './helpers/loop.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('report of a terminated experiment', () => {
  let repo = '';
  let keep90 = '';
  let keep80 = '';
  beforeAll(() => {
    repo = benchRepo('100');
    expect(init(repo, 'rep', ['--goal', 'make the score small', '--max-runs', '6', '--target', '50']).code).toBe(0);
    step(repo, 'baseline');
    keep90 = String(step(repo, 'halve the loop', '90').log.json?.commit);
    step(repo, 'unroll everything', '95');
    step(repo, 'use the broken cache', 'crash');
    keep80 = String(step(repo, 'inline the hot call', '80').log.json?.commit);
    const last = step(repo, 'try a bigger buffer', '85');
    expect(last.log.json).toMatchObject({ should_terminate: true, terminated_by: 'max_runs' });
  });

  it('says what was set out, what was established, and how sure it is', () => {
    const r = run('report', [], repo);
    expect(r.code).toBe(0);
    const md = r.stdout;
    expect(md).toMatch(/^# autoloop report: rep\n/);
    expect(md).toContain('**Goal:** make the score small');
    expect(md).toContain('baseline 100 → best 80 (Δ +20, +20%), better');
    expect(md).toContain('**Signs:** Δ and %: + = better');
    expect(md).toMatch(/\*\*Confidence:\*\* \d+\.\dx \((high|marginal|within noise)\)/);
    expect(md).toContain('**Runs:** 6 (3 keep, 2 discard, 1 crash)');
    expect(md).toContain('**Ended:** terminated by max_runs (6 runs of 6)');
    // The target (50) was not reached: the gap is 30, i.e. 37.5% of the best.
    expect(md).toContain('**Goal met:** no: 30 short of the target 50 (a further 37.5% of the best)');
  });

  it('lists the kept changes in order with their effect and the commits from the ledger', () => {
    const md = run('report', [], repo).stdout;
    const section = md.split('## Kept changes (2)')[1]?.split('## Dead ends')[0] ?? '';
    const lines = section.trim().split('\n');
    expect(lines).toEqual([
      `1. r0002 \`${keep90.slice(0, 12)}\` score 100 → 90 (+10%): halve the loop`,
      `2. r0005 \`${keep80.slice(0, 12)}\` score 90 → 80 (+11.1%): inline the hot call`,
    ]);
    // Those are the commits the engine made on the experiment branch.
    expect(git(repo, 'rev-list', '--reverse', 'main..autoloop/rep').split('\n')).toEqual([keep90, keep80]);
  });

  it('gives each dead end one line with its reason, and the health history', () => {
    const md = run('report', [], repo).stdout;
    const dead = md.split('## Dead ends (3)')[1]?.split('## Health')[0]?.trim().split('\n') ?? [];
    expect(dead).toHaveLength(3);
    expect(dead[0]).toMatch(/^- r0003 discard: unroll everything \(not better/);
    expect(dead[1]).toBe('- r0004 crash: use the broken cache (exit code 3)');
    expect(dead[2]).toMatch(/^- r0006 discard: try a bigger buffer \(not better/);
    const health = md.split('## Health')[1] ?? '';
    expect(health).toMatch(/- r0004: crashing/);
    expect(health).toMatch(/- r0005: improving/);
  });

  it('gives the same facts as data with --json', () => {
    const r = run('report', ['--json', '--experiment', 'rep'], repo);
    expect(r.code).toBe(0);
    const j = r.json as Record<string, unknown>;
    expect(j).toMatchObject({
      experiment: 'rep',
      metric: 'score',
      baseline: 100,
      best: 80,
      change_abs: -20,
      gain_pct: 20,
      best_commit: keep80,
      runs: { total: 6, by_verdict: { keep: 3, discard: 2, crash: 1, timeout: 0, checks_failed: 0, invalid: 0 } },
      termination: { terminated: true, by: 'max_runs' },
      goal_met: { target: 50, reached: false, gap: 30 },
    });
    const committed = ledger(repo, 'rep').filter((l) => l.type === 'event' && l.event === 'committed');
    const kept = j.kept as Array<Record<string, unknown>>;
    expect(kept.map((k) => [k.run_id, k.baseline, k.commit])).toEqual(
      ['r0001', 'r0002', 'r0005'].map((id) => [id, id === 'r0001', (committed.find((e) => e.run_id === id)?.data as { commit: string }).commit]),
    );
    expect((j.dead_ends as unknown[]).length).toBe(3);
    expect(j.markdown_sha256).toBe(sha256(run('report', [], repo).stdout));
  });

  it('is stable: the same ledger gives byte-identical Markdown', () => {
    expect(run('report', [], repo).stdout).toBe(run('report', [], repo).stdout);
  });

  it('refuses an unknown experiment on one line with exit 2', () => {
    const r = run('report', ['--experiment', 'nope'], repo);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('no experiment named "nope"');
  });
});

describe('report before and at a target', () => {
  it('says that a running experiment has not terminated, then that the goal was met', () => {
    const repo = benchRepo('100');
    init(repo, 'tgt', ['--target', '85']);
    step(repo, 'baseline');
    const open = run('report', [], repo).stdout;
    expect(open).toMatch(/\*\*Ended:\*\* not terminated \(continuing: runs 1\/100/);
    expect(open).toContain('**Goal met:** no: 15 short of the target 85');
    expect(open).toContain('None: no change beat the baseline.');
    step(repo, 'much smaller', '80');
    const done = run('report', ['--json'], repo).json as Record<string, unknown>;
    expect(done).toMatchObject({ termination: { terminated: true, by: 'target' }, goal_met: { reached: true, gap: 0 } });
    expect(run('report', [], repo).stdout).toContain('**Goal met:** yes (target 85, best 80)');
  });
});
