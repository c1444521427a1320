// A soft gate that failed blocks the keep before the benchmark runs, so the
// extra candidate samples a guardrail breach of unknown noise would ask for
// (run-plan.ts, up to 5) cannot change the verdict: none are taken. Before,
// a change that failed lint still paid for 4 more benchmark invocations.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, ledger, makeRepo, step } from './helpers/engine.ts';
import { Config, type InvocationLine } from '../scripts/lib/schema.ts';
import { nextInvocation } from '../scripts/lib/run-plan.ts';
import { emptyNoiseModel } from '../scripts/lib/noise-model.ts';

// mem jitters per run and invocation; a candidate's first invocation is +3% on it (unsure against a 0% guardrail).
const BENCH = `
const fs = require('node:fs');
const rd = (f, d) => { try { return fs.readFileSync(f, 'utf8').trim(); } catch { return d; } };
const run = process.env.AUTOLOOP_RUN || '', n = Number(process.env.AUTOLOOP_SAMPLE || '1');
let h = 7; for (const c of run + ':' + n) h = (h * 31 + c.charCodeAt(0)) >>> 0;
const value = rd('src/value.txt', '100');
const unlucky = value !== '100' && n === 1 ? 1.03 : 1;
console.log('METRIC score=' + Number(value));
console.log('METRIC mem=' + 10 * (1 + 0.001 * ((h % 21) - 10)) * unlucky);
`;

const SLOW = 900_000;
const candidates = (line: Record<string, unknown>) => (line.invocations as { arm: string }[]).filter((i) => i.arm === 'candidate').length;

describe('a failed soft gate takes no extra guardrail samples', () => {
  it('the plan (pure): an unsure guardrail asks for more samples only while the keep is not blocked already', () => {
    const config = Config.parse({ name: 'x', metric: 'score', direction: 'lower', command: 'c', repeats: 1, guardrails: [{ metric: 'mem', direction: 'lower', max_regression_pct: 0 }] });
    const model = { ...emptyNoiseModel(), deterministic: true, scale: 'log' as const };
    const invocations: InvocationLine[] = [{ arm: 'candidate', samples: [90], duration_s: 1, metrics: { score: 90, mem: 10.3 } }];
    const state = { model, best: 100, baseline_metrics: { mem: [10] } };
    expect(nextInvocation({ kind: 'candidate', config, state, invocations })).toEqual({ next: 'candidate' });
    expect(nextInvocation({ kind: 'candidate', config, state, invocations, softGateFailures: ['gate lint failed (exit 1)'] })).toMatchObject({ done: true, decision: { keep: true } });
  });

  it('through the engine: a faster change that fails its soft gate is measured once and discarded', () => {
    const dir = makeRepo({ 'bench.cjs': BENCH, 'src/value.txt': '100', 'lint.sh': 'grep -q 100 src/value.txt\n' });
    fs.writeFileSync(path.join(dir, 'exp.yaml'), 'gates:\n  - name: lint\n    command: sh lint.sh\n    kind: soft\n');
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '1', '--guardrail', 'mem:lower:0', '--config', 'exp.yaml', '--json'], dir);
    expect(init.code, init.stderr).toBe(0);
    expect(step(dir, 'baseline').verdict).toBe('keep');
    fs.writeFileSync(path.join(dir, 'src/value.txt'), '90');
    const blocked = step(dir, 'faster, fails lint');
    expect(blocked.verdict).toBe('discard');
    expect(String(blocked.reason)).toMatch(/lint/);
    const line = ledger(dir, 'exp').filter((l) => l.type === 'result').at(-1) as Record<string, unknown>;
    expect(candidates(line)).toBe(1);
  }, SLOW);
});
