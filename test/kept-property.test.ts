// The property behind class 1 of issue 11: whatever sequence of edits, runs,
// logs, kills (at every crash point of a log) and hand-made git operations
// (a commit and a reset through aliases the hooks do not know) happens, the
// experiment branch ends (after the repair the engine points to) with only
// commits whose content some run measured. Real repositories, the real engine;
// seeded and bounded so that it is the same test on every machine.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { engine, git, iterate, ledger, setValue, shellBaselineRepo } from './helpers/engine.ts';

const CRASH_POINTS = ['before-ledger', 'after-ledger', 'git:committed', 'git:ref-updated', 'after-commit', 'after-judges', 'after-revert', 'after-event', 'after-record'];

type Op =
  | { kind: 'edit'; value: number }
  | { kind: 'run' }
  | { kind: 'log' }
  | { kind: 'killed-log'; point: string }
  | { kind: 'hand-commit' }
  | { kind: 'hand-reset' }
  | { kind: 'repair' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 50, max: 150 }).map((value) => ({ kind: 'edit' as const, value })) },
  { weight: 3, arbitrary: fc.constant({ kind: 'run' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'log' as const }) },
  { weight: 2, arbitrary: fc.constantFrom(...CRASH_POINTS).map((point) => ({ kind: 'killed-log' as const, point })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'hand-commit' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'hand-reset' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'repair' as const }) },
);

function apply(repo: string, o: Op): void {
  switch (o.kind) {
    case 'edit':
      return setValue(repo, String(o.value));
    case 'run':
      return void engine('run-experiment', [], repo);
    case 'log':
      return void engine('log-experiment', ['--description', 'step'], repo);
    case 'killed-log':
      return void engine('log-experiment', ['--description', 'killed'], repo, { AUTOLOOP_CRASH_AT: o.point });
    case 'hand-commit':
      // An alias the hooks cannot know; --allow-empty: there may be nothing to commit.
      return void git(repo, '-c', 'alias.snap=commit -q -a --allow-empty -m hand', 'snap');
    case 'hand-reset':
      if (git(repo, 'rev-list', '--count', 'HEAD') !== '1') git(repo, '-c', 'alias.back=reset -q --hard HEAD~1', 'back');
      return;
    case 'repair':
      return void engine('control', ['repair'], repo);
  }
}

/** Every commit on the branch since it started carries a run whose measured content it holds, exactly. */
function assertOnlyMeasured(repo: string): void {
  const base = git(repo, 'rev-list', '--max-parents=0', 'autoloop/exp');
  const results = new Map(ledger(repo).filter((l) => l.type === 'result').map((l) => [l.run_id as string, l]));
  for (const sha of git(repo, 'rev-list', `${base}..autoloop/exp`).split('\n').filter(Boolean)) {
    const run = /Autoloop-Run: (r\d+)/.exec(git(repo, 'log', '-1', '--format=%B', sha))?.[1];
    expect(run, `commit ${sha} has no Autoloop-Run trailer`).toBeDefined();
    const line = results.get(run as string) as { verdict: string; content?: { files: Record<string, { id: string } | null> } };
    expect(line?.verdict, `${run} was not a keep`).toBe('keep');
    const files = line.content?.files ?? {};
    const touched = git(repo, 'diff-tree', '--no-commit-id', '--name-only', '-r', '-z', sha).split('\0').filter(Boolean);
    for (const p of touched) {
      expect(Object.keys(files), `${sha} commits ${p}, which ${run} did not measure`).toContain(p);
      const want = files[p];
      const have = git(repo, 'ls-tree', '-z', sha, '--', p).split(/\s+/)[2] ?? null;
      expect(have, `${sha}:${p} is not the content ${run} measured`).toBe(want ? want.id : null);
    }
  }
}

describe('what is kept is what was measured, under any sequence', () => {
  it('edits, runs, logs, kills and hand-made git operations never leave an unmeasured commit on the branch', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 9 }), async (ops) => {
        // The shell benchmark: the subject is what the branch holds, and valueRepo's Node one costs a Node start a sample.
        const repo = shellBaselineRepo('100', ['--max-runs', 'none', '--plateau', 'none']);
        for (const o of ops) apply(repo, o);
        // The engine's own way out of whatever state the sequence left.
        engine('control', ['repair'], repo);
        assertOnlyMeasured(repo);
        // And the loop goes on from there (a run measured by the sequence is logged first).
        engine('log-experiment', ['--description', 'pending'], repo);
        setValue(repo, '1');
        const { run } = iterate(repo, 'after the sequence');
        expect(run.code, run.stderr).toBe(0);
        assertOnlyMeasured(repo);
        fs.rmSync(path.join(repo), { recursive: true, force: true });
      }),
      { numRuns: 6, seed: 1111, endOnFailure: true },
    );
  }, 900_000);
});
