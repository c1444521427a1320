// A target is met by a kept change, not by a re-measure of the unchanged best
// that noise or a faster machine took past it (reduce.ts best_kept). The
// benchmark reads its figure from a file outside the repository: the
// "machine", which the test speeds up between runs with no change in the tree.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, makeRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';
import { evaluateTermination } from '../scripts/lib/termination.ts';

function step(dir: string, description: string): Record<string, unknown> {
  const r = engine('run-experiment', ['--description', description, '--json'], dir);
  expect(r.code, r.stderr).toBe(0);
  return r.json as Record<string, unknown>;
}

describe('a target', () => {
  it('is judged on the value the best was kept at (absent: the best)', () => {
    const off = { direction: 'lower' as const, target: 100, plateau: null, runsSinceImprovement: 0, maxRuns: null, runs: 3, maxWallClock: null, elapsedS: 0 };
    expect(evaluateTermination({ ...off, best: 99, kept: 105 }).terminate).toBe(false);
    expect(evaluateTermination({ ...off, best: 101, kept: 99 }).message).toBe('terminated: target (best 99 <= target 100)');
    expect(evaluateTermination({ ...off, best: 99 }).by).toBe('target');
    expect(evaluateTermination({ ...off, direction: 'higher', best: 101, kept: 99 }).terminate).toBe(false);
  });

  it('is not met by a re-measure of the unchanged best; a kept change at it meets it', () => {
    const machine = path.join(tmpDir('autoloop-target-'), 'speed');
    fs.writeFileSync(machine, '1');
    const bench = `const fs = require('node:fs');
console.log('METRIC ms=' + Number(fs.readFileSync('src/value.txt', 'utf8')) * Number(fs.readFileSync(${JSON.stringify(machine)}, 'utf8')));\n`;
    const dir = makeRepo({ 'bench.cjs': bench, 'src/value.txt': '105' });
    const init = engine('init-experiment', ['--name', 't', '--metric', 'ms', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--target', '100', '--json'], dir);
    expect(init.code, init.stderr).toBe(0);
    expect(step(dir, 'baseline')).toMatchObject({ verdict: 'keep', should_terminate: false });
    // The machine is 10% faster; the code is the same: a re-measure reads 94.5.
    fs.writeFileSync(machine, '0.9');
    const again = step(dir, 'the best measured again');
    expect(again).toMatchObject({ verdict: 'discard', should_terminate: false });
    expect(String(again.reason)).toMatch(/rebaseline/);
    const status = engine('status', ['--json'], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.stringify(status.json)).not.toMatch(/"terminated_by":"target"/);
    const report = engine('report', ['--json'], dir);
    expect(report.code, report.stderr).toBe(0);
    expect((report.json as { goal_met: { reached: boolean } }).goal_met.reached).toBe(false);
    // A real change kept past the target ends the experiment there.
    fs.writeFileSync(path.join(dir, 'src/value.txt'), '50');
    expect(step(dir, 'twice as fast')).toMatchObject({ verdict: 'keep', should_terminate: true, terminated_by: 'target' });
  }, 900_000);
});
