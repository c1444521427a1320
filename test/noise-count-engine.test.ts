// A whole count with a little noise through the real engine: a benchmark
// process printing tests_passed = round(20 + 0.4·g) (helpers/seeded-bench.ts,
// one seeded stream shared by both arms). Its first three invocations print
// 20, so the baseline proves it "deterministic"; the first candidate, a change
// with no effect, then reads 21. Read once (before), that was kept as a
// one-unit gain; read twice it prints 20 again and the noise is discovered:
// the decision then goes on in pairs against the best and still discards it.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, ledger, makeRepo, step } from './helpers/engine.ts';
import { seededBench, seededGaussian } from './helpers/seeded-bench.ts';

const SLOW = 900_000;
const SEED = 17;
const count = (n: number) => Math.floor(20 + 0.4 * seededGaussian(SEED, n) + 0.5);

/** A repository on the seeded count benchmark, its baseline measured (three readings of 20). */
function measuredBaseline(): string {
  const dir = makeRepo({ 'bench.sh': seededBench(SEED, 'tests_passed', 'int(v + 0.4 * g + 0.5)'), 'src/value.txt': '20', 'src/other.txt': 'x\n' });
  const init = engine('init-experiment', ['--name', 'exp', '--metric', 'tests_passed', '--direction', 'higher', '--command', 'sh bench.sh', '--scope', 'src/**', '--json'], dir);
  expect(init.code, init.stderr).toBe(0);
  expect(step(dir, 'baseline').verdict).toBe('keep');
  return dir;
}

describe('real engine, a whole count 20 ± 0.4 that printed 20 three times', () => {
  it('a no-effect change that reads 21 once is not kept: the second reading shows the noise', () => {
    // The stream this test stands on: three equal baselines, then 21, then 20.
    expect([0, 1, 2, 3, 4].map(count)).toEqual([20, 20, 20, 21, 20]);
    const dir = measuredBaseline();
    fs.appendFileSync(path.join(dir, 'src/other.txt'), 'no effect\n');
    const r = step(dir, 'no effect');
    const line = ledger(dir).filter((l) => l.type === 'result').at(-1) as { verdict: string; invocations: { arm: string }[]; decision: { stop: string; noise_discovered?: boolean } };
    expect(r.verdict, JSON.stringify(line)).toBe('discard');
    expect(line.decision).toMatchObject({ noise_discovered: true });
    expect(line.decision.stop).not.toBe('noise-discovered');
    // The two candidate readings that showed the noise, then pairs with the best (ABBA).
    expect(line.invocations.slice(0, 4).map((i) => i.arm)).toEqual(['candidate', 'candidate', 'best', 'candidate']);
  }, SLOW);

  it('a real gain read as two values is kept: the decision goes on in pairs, not ends in a discard', () => {
    // The same stream: the candidate (30) reads 31 then 30. Ending there threw the gain away.
    const dir = measuredBaseline();
    fs.writeFileSync(path.join(dir, 'src/value.txt'), '30');
    const r = step(dir, 'ten more');
    const line = ledger(dir).filter((l) => l.type === 'result').at(-1) as { verdict: string; invocations: { arm: string; samples: number[] }[]; decision: { noise_discovered?: boolean } };
    expect(r.verdict, JSON.stringify(line)).toBe('keep');
    expect(line.decision.noise_discovered).toBe(true);
    expect(line.invocations.slice(0, 2).map((i) => i.samples[0])).toEqual([31, 30]);
    expect(line.invocations.some((i) => i.arm === 'best')).toBe(true);
  }, SLOW);
});
