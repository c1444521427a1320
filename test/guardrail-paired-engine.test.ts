// A timing guardrail on a machine that got slower (the whole machine, both the
// best and the candidate) is judged against the best measured beside the
// candidate, as the primary is (guardrail-pairing.ts), not the baseline's
// stale samples: before, every change after the slowdown was blocked
// ("guardrail time_ms 130 > 105 allowed"), however fast. A real regression of
// the guardrail on the slower machine is still blocked, and the tolerance is
// not given away by a keep made on the slower machine.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { engine, ledger, makeRepo, step } from './helpers/engine.ts';

const SLOW = 600_000;

// score (the primary) from src/value.txt with a 1% jitter per invocation; time_ms is 100 × the machine's speed
// factor (a file outside the repository, read by both trees) × src/cost.txt, with a 0.5% jitter.
const bench = (machine: string) => `
const fs = require('node:fs');
const rd = (f, d) => { try { return fs.readFileSync(f, 'utf8').trim(); } catch { return d; } };
const run = process.env.AUTOLOOP_RUN || '', n = process.env.AUTOLOOP_SAMPLE || '1', arm = process.env.AUTOLOOP_ARM || '';
let h = 7; for (const c of run + ':' + n + ':' + arm) h = (h * 31 + c.charCodeAt(0)) >>> 0;
const j = ((h % 21) - 10) / 10, k = (((h >>> 8) % 21) - 10) / 10;
const slow = Number(rd(${JSON.stringify(machine)}, '1'));
console.log('METRIC score=' + Number(rd('src/value.txt', '100')) * (1 + 0.01 * j));
console.log('METRIC time_ms=' + 100 * slow * Number(rd('src/cost.txt', '1')) * (1 + 0.005 * k));
`;

describe('a guardrail on a machine that got slower', () => {
  it('is judged against the best measured now: a faster change is kept; a real 20% regression is still blocked', () => {
    const machine = path.join(os.tmpdir(), `autoloop-machine-${randomUUID()}`);
    try {
      const dir = makeRepo({ 'bench.cjs': bench(machine), 'src/value.txt': '100', 'src/cost.txt': '1' });
      const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--guardrail', 'time_ms:lower:5%', '--json'], dir);
      expect(init.code, init.stderr).toBe(0);
      expect(step(dir, 'baseline').verdict).toBe('keep');
      // The whole machine is 30% slower from now on, for the best's tree and the candidate alike.
      fs.writeFileSync(machine, '1.3');
      fs.writeFileSync(path.join(dir, 'src/value.txt'), '80');
      const kept = step(dir, 'faster, same cost');
      expect(kept.verdict, String(kept.reason)).toBe('keep');
      // A second keep on the slower machine starts from the first one's stored values, not from raw slow ones.
      fs.writeFileSync(path.join(dir, 'src/value.txt'), '64');
      const again = step(dir, 'faster again, same cost');
      expect(again.verdict, String(again.reason)).toBe('keep');
      // Faster on the primary but 20% more time on the guardrail, on the slower machine: still blocked.
      fs.writeFileSync(path.join(dir, 'src/value.txt'), '50');
      fs.writeFileSync(path.join(dir, 'src/cost.txt'), '1.2');
      const costly = step(dir, 'faster, 20% more time');
      expect(costly.verdict).toBe('discard');
      expect(String(costly.reason)).toMatch(/^guardrail time_ms 1[12]\d(\.\d+)? > 10[45](\.\d+)? allowed/);
      // The status line judges the best as its keep did: no guardrail over.
      const status = engine('status', ['--json'], dir);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.stringify(status.json)).not.toMatch(/OVER/);
    } finally {
      fs.rmSync(machine, { force: true });
    }
  }, SLOW);
});

describe('a deterministic primary with a timing guardrail on a machine that got slower', () => {
  it('measures the best beside the candidate only when the guardrail would block, and keeps a smaller size', () => {
    const machine = path.join(os.tmpdir(), `autoloop-machine-${randomUUID()}`);
    try {
      // size_kb (deterministic) from src/size.txt; time_ms as above.
      const b = bench(machine).replace("console.log('METRIC score='", "console.log('METRIC size_kb=' + Number(rd('src/size.txt', '100')));\nconsole.log('METRIC score='");
      const dir = makeRepo({ 'bench.cjs': b, 'src/value.txt': '100', 'src/cost.txt': '1', 'src/size.txt': '100' });
      const init = engine('init-experiment', ['--name', 'exp', '--metric', 'size_kb', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--guardrail', 'time_ms:lower:5%', '--json'], dir);
      expect(init.code, init.stderr).toBe(0);
      expect(step(dir, 'baseline').verdict).toBe('keep');
      fs.writeFileSync(path.join(dir, 'src/size.txt'), '90');
      const fast = step(dir, 'smaller, same machine');
      expect(fast.verdict, String(fast.reason)).toBe('keep');
      const arms = (l: Record<string, unknown>) => (l.invocations as { arm: string }[]).map((i) => i.arm);
      const results = () => ledger(dir).filter((l) => l.type === 'result');
      expect(arms(results().at(-1) as Record<string, unknown>)).not.toContain('best'); // no breach: no extra sample
      fs.writeFileSync(machine, '1.3');
      fs.writeFileSync(path.join(dir, 'src/size.txt'), '80');
      const slower = step(dir, 'smaller, slower machine');
      expect(slower.verdict, String(slower.reason)).toBe('keep');
      expect(arms(results().at(-1) as Record<string, unknown>)).toContain('best');
      fs.writeFileSync(path.join(dir, 'src/size.txt'), '70');
      fs.writeFileSync(path.join(dir, 'src/cost.txt'), '1.2');
      const costly = step(dir, 'smaller, 20% more time');
      expect(costly.verdict).toBe('discard');
      expect(String(costly.reason)).toMatch(/^guardrail time_ms/);
    } finally {
      fs.rmSync(machine, { force: true });
    }
  }, SLOW);
});
