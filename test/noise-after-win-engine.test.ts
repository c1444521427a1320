// The first decision after a big win, through the real engine scripts on a
// real git repository, with a real benchmark process whose relative noise
// doubles at the new level (3% at 100, 6% at 50: what additive noise does when
// the time halves; seeded through a counter outside the repository:
// helpers/seeded-bench.ts, sh and awk, the values of the node benchmark it replaced). The win
// starts a fresh group of the pool's residuals (noise-model.ts `fresh`, kept in
// state.json and rebuilt from the ledger), and the decision after it measures
// the new level's noise with FRESH_EXTRA_PAIRS more pairs (sampling.ts).
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, ledger, makeRepo, step } from './helpers/engine.ts';
import { seededBench } from './helpers/seeded-bench.ts';

const SLOW = 900_000;

describe('real engine: a 2× win, then the first decision at the new, noisier level', () => {
  it('the win starts a fresh group (state.json, and the same from the ledger alone); the next decision may run 18 pairs, the one after 16', () => {
    const pairs: number[] = [];
    const later: number[] = [];
    for (const seed of [1, 2, 3]) {
      const dir = makeRepo({ 'bench.sh': seededBench(seed, 'time_ms', 'v * (1 + (v < 70 ? 0.06 : 0.03) * g)'), 'src/value.txt': '100', 'src/other.txt': 'x\n' });
      const init = engine('init-experiment', ['--name', 'exp', '--metric', 'time_ms', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--json'], dir);
      expect(init.code, init.stderr).toBe(0);
      expect(step(dir, 'baseline').verdict).toBe('keep');
      fs.writeFileSync(path.join(dir, 'src/value.txt'), '50');
      expect(step(dir, '2x faster').verdict).toBe('keep');
      const stateFile = path.join(dir, '.autoloop', 'experiments', 'exp', 'state.json');
      const fresh = (JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { model: { fresh?: unknown } }).model.fresh;
      expect(fresh, 'the 2× win starts a fresh group').toMatchObject({ n: expect.any(Number), df: expect.any(Number) });
      // The cache is a cache: rebuilt from the ledger alone, the model says the same.
      fs.rmSync(stateFile);
      fs.rmSync(path.join(dir, '.autoloop', 'experiments', 'exp', 'state-checkpoint.json'), { force: true });
      expect(engine('status', ['--json'], dir).code).toBe(0);
      // A gain near the threshold (2% under 6% noise) runs to the budget more often than not.
      fs.writeFileSync(path.join(dir, 'src/value.txt'), '49');
      step(dir, '2% faster');
      fs.appendFileSync(path.join(dir, 'src/other.txt'), 'no effect\n');
      step(dir, 'no effect');
      const results = ledger(dir, 'exp').filter((l) => l.type === 'result');
      const d = (i: number) => (results[i] as { decision: { pairs: number } }).decision;
      pairs.push(d(2).pairs);
      later.push(d(3).pairs);
    }
    expect(Math.max(...pairs), JSON.stringify(pairs)).toBe(18);
    expect(Math.max(...later), JSON.stringify(later)).toBeLessThanOrEqual(16);
  }, SLOW);
});
