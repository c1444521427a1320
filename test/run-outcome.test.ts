// The run-status decision, without spawning anything: every branch, and the
// order in which the facts win over each other.
import { describe, expect, it } from 'vitest';
import { benchmarkOutcome, checksOutcome, checksPassed, sampleEndsRun, signalledAgain, type BenchmarkFacts, type StepResult } from '../scripts/lib/run-outcome.ts';

const clean: StepResult = { exitCode: 0, signal: null, timedOut: false, interrupted: false, spawnError: null, survivors: [], tail: 'out' };
const facts = (over: Partial<BenchmarkFacts> = {}): BenchmarkFacts => ({
  metric: 'ms',
  timeoutS: 60,
  integrity: [],
  outside: [],
  samples: [3, 4],
  last: clean,
  sources: { labels: ['METRIC lines'], failures: [] },
  ...over,
});

describe('benchmarkOutcome', () => {
  it('is ok with the number of samples', () => {
    expect(benchmarkOutcome(facts())).toEqual({ phase: 'measured', status: 'ok', reason: '2 samples', tail: '', unclean: null });
    expect(benchmarkOutcome(facts({ samples: [1] }))).toMatchObject({ status: 'ok', reason: '1 sample' });
  });

  it('puts integrity before scope, and both before anything the run did', () => {
    const bad = { ...clean, exitCode: 1 };
    const both = benchmarkOutcome(facts({ integrity: ['config', 'bench.sh'], outside: ['x'], last: bad }));
    expect(both).toMatchObject({ status: 'invalid', tail: '' });
    expect(both.phase === 'measured' && both.reason).toMatch(/^benchmark integrity: config, bench\.sh changed/);
    const scope = benchmarkOutcome(facts({ outside: ['a', 'b', 'c', 'd', 'e', 'f'], last: bad }));
    expect(scope.phase === 'measured' && scope.reason).toBe('changes outside the scope: a, b, c, d, e … (undo them; only in-scope files may change)');
  });

  it('is a crash when no sample was taken', () => {
    expect(benchmarkOutcome(facts({ last: null, samples: [] }))).toMatchObject({ status: 'crash', reason: 'no sample was taken' });
  });

  it('is interrupted, whatever else happened, when the signal came', () => {
    expect(benchmarkOutcome(facts({ last: { ...clean, interrupted: true, survivors: ['9'], timedOut: true } }))).toEqual({ phase: 'interrupted', reason: 'interrupted' });
  });

  it('reports survivors as an unclean crash with an event', () => {
    const o = benchmarkOutcome(facts({ last: { ...clean, survivors: ['12', '13'], timedOut: true } }));
    expect(o).toEqual({ phase: 'measured', status: 'crash', reason: 'processes survived the kill (pids 12, 13); run control.mjs repair', tail: 'out', unclean: { pids: ['12', '13'], event: true } });
  });

  it('ranks timeout over spawn errors over exit codes', () => {
    expect(benchmarkOutcome(facts({ last: { ...clean, timedOut: true, exitCode: null, signal: 'SIGTERM' } }))).toMatchObject({ status: 'timeout', reason: 'timed out after 60s (process group killed)', tail: 'out' });
    expect(benchmarkOutcome(facts({ last: { ...clean, spawnError: 'cwd missing', exitCode: null } }))).toMatchObject({ status: 'crash', reason: 'could not start: cwd missing' });
    expect(benchmarkOutcome(facts({ last: { ...clean, exitCode: 3 } }))).toMatchObject({ status: 'crash', reason: 'exit code 3' });
    expect(benchmarkOutcome(facts({ last: { ...clean, exitCode: null, signal: 'SIGSEGV' } }))).toMatchObject({ reason: 'exit code null (SIGSEGV)' });
  });

  it('is invalid when the primary metric was found nowhere, naming where it was looked for', () => {
    expect(benchmarkOutcome(facts({ samples: [] }))).toMatchObject({ status: 'invalid', reason: 'metric ms was not printed (expected a line "METRIC ms=<number>")', tail: 'out' });
    const other = benchmarkOutcome(facts({ samples: [], sources: { labels: ['json out.json#$.ms'], failures: ['json out.json#$.ms: no such file'] } }));
    expect(other.phase === 'measured' && other.reason).toBe('metric ms was found by no source: json out.json#$.ms (json out.json#$.ms: no such file)');
  });

  it('says why a printed primary was not read: the warning that names it, or a name differing only by case', () => {
    const nan = benchmarkOutcome(facts({ samples: [], sources: { labels: ['METRIC lines'], failures: [], warnings: ['ignored METRIC line "METRIC ms_max=nan": non-finite value nan', 'ignored METRIC line "METRIC ms=nan": non-finite value nan'] } }));
    expect(nan.phase === 'measured' && nan.reason).toBe('metric ms was not printed (expected a line "METRIC ms=<number>"); ignored METRIC line "METRIC ms=nan": non-finite value nan');
    const unit = benchmarkOutcome(facts({ samples: [], sources: { labels: ['METRIC lines'], failures: [], warnings: ['ignored METRIC line "METRIC ms=12ms": not a number: "12ms"'] } }));
    expect(unit.phase === 'measured' && unit.reason).toMatch(/; ignored METRIC line "METRIC ms=12ms": not a number: "12ms"$/);
    const cased = benchmarkOutcome(facts({ samples: [], sources: { labels: ['METRIC lines'], failures: [], warnings: [], seen: ['MS', 'mem'] } }));
    expect(cased.phase === 'measured' && cased.reason).toBe('metric ms was not printed (expected a line "METRIC ms=<number>"); it printed MS (metric names are case-sensitive)');
    const regex = benchmarkOutcome(facts({ samples: [], sources: { labels: ['regex /loss: (.*)/'], failures: [], warnings: ['regex /loss: (.*)/: ignored 1 non-finite value(s) of ms'] } }));
    expect(regex.phase === 'measured' && regex.reason).toBe('metric ms was found by no source: regex /loss: (.*)/; regex /loss: (.*)/: ignored 1 non-finite value(s) of ms');
  });

  it("says when the tail shows the primary's METRIC line behind other text (a logger's prefix)", () => {
    const last = { ...clean, tail: 'loading\nINFO:root:METRIC ms=12\n\x1b[2mINFO:root:METRIC msx=3\x1b[0m\n' };
    const logged = benchmarkOutcome(facts({ samples: [], last }));
    expect(logged.phase === 'measured' && logged.reason).toBe('metric ms was not printed (expected a line "METRIC ms=<number>"); "INFO:root:METRIC ms=12" has text before METRIC (a logger\'s prefix?): print the line bare, METRIC first');
    // Another metric's prefixed line, or none: no hint.
    const other = benchmarkOutcome(facts({ samples: [], last: { ...clean, tail: 'INFO:root:METRIC msx=3\nMETRIC mem=4\n' } }));
    expect(other.phase === 'measured' && other.reason).toBe('metric ms was not printed (expected a line "METRIC ms=<number>")');
  });

  it('is invalid when a later invocation gave no primary, even after earlier ones did (not ok without a decision)', () => {
    const o = benchmarkOutcome(facts({ samples: [3, 4], primaryMissing: true }));
    expect(o).toMatchObject({ status: 'invalid', reason: 'metric ms was not printed (expected a line "METRIC ms=<number>") by a later invocation (earlier ones printed it)' });
  });

  it('is invalid when the primary was read but another source found nothing (a guardrail cannot be judged without it)', () => {
    const o = benchmarkOutcome(facts({ samples: [1], sources: { labels: ['METRIC lines', 'json m.json'], failures: ['json m.json: m.json was not written'] } }));
    expect(o).toMatchObject({ status: 'invalid', reason: 'source found nothing: json m.json: m.json was not written' });
  });
});

describe('sampleEndsRun', () => {
  it('goes on only after a clean sample that gave the metric', () => {
    expect(sampleEndsRun(clean, true)).toBe(false);
    expect(sampleEndsRun(clean, false)).toBe(true);
    for (const bad of [{ interrupted: true }, { survivors: ['1'] }, { timedOut: true }, { spawnError: 'x' }, { exitCode: 1 }, { exitCode: null }]) {
      expect(sampleEndsRun({ ...clean, ...bad }, true)).toBe(true);
    }
  });
});

describe('checksOutcome', () => {
  it('keeps the benchmark status when the checks pass', () => {
    expect(checksPassed(clean)).toBe(true);
    expect(checksOutcome(clean, 30)).toBeNull();
  });

  it('is interrupted, unclean without an event, timed out or failed', () => {
    expect(checksOutcome({ ...clean, interrupted: true }, 30)).toEqual({ phase: 'interrupted', reason: 'interrupted during checks' });
    expect(checksOutcome({ ...clean, survivors: ['5'] }, 30)).toMatchObject({ status: 'crash', unclean: { pids: ['5'], event: false } });
    expect(checksOutcome({ ...clean, timedOut: true, exitCode: null }, 30)).toMatchObject({ status: 'checks_failed', reason: 'checks timed out after 30s' });
    expect(checksOutcome({ ...clean, exitCode: 2 }, 30)).toMatchObject({ status: 'checks_failed', reason: 'checks failed (exit code 2)', tail: 'out' });
    expect(checksPassed({ ...clean, spawnError: 'no sh' })).toBe(false);
  });
});

describe('signalledAgain', () => {
  const content = { 'src/v': { id: 'a'.repeat(40), mode: 0o100644 } };
  const run = (over: Record<string, unknown> = {}) => ({ phase: 'interrupted', reason: 'interrupted', containment: 'group', content, ...over });

  it('a second interrupt of the same change where its processes can reach the engine is the change’s doing', () => {
    expect(signalledAgain(run(), run())).toMatch(/interrupted twice in a row/);
  });

  it('not the first interrupt, nor another change, nor a previous run that finished', () => {
    expect(signalledAgain(run(), null)).toBeNull();
    expect(signalledAgain(run(), run({ content: { 'src/v': { id: 'b'.repeat(40), mode: 0o100644 } } }))).toBeNull();
    expect(signalledAgain(run(), run({ phase: 'measured' }))).toBeNull();
    expect(signalledAgain(run({ content: null }), run({ content: null }))).toBeNull();
  });

  it('never where the run lives in a PID namespace of its own (it cannot see the engine), nor for refused settings', () => {
    expect(signalledAgain(run({ containment: 'pidns' }), run())).toBeNull();
    expect(signalledAgain(run(), run({ containment: 'readonly' }))).toBeNull();
    expect(signalledAgain(run({ config_error: 'sbatch: bad partition' }), run())).toBeNull();
  });
});
