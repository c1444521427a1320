// A noisy guardrail through the real engine: a breach is judged against the
// guardrail metric's own noise, and one whose noise is not yet known takes
// more candidate samples before it blocks (guardrails.ts `unsure`, run-plan.ts).
// The benchmark's noise is a fixed pseudo-random jitter per run and invocation
// (AUTOLOOP_RUN, AUTOLOOP_SAMPLE), and a candidate's FIRST invocation is
// unlucky (+3% on the guardrail): a raw comparison of that one sample with the
// baseline blocked the keep every time (it blocked unchanged code half the
// time on real noise: guardrail-noise.test.ts).
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, ledger, makeRepo, step } from './helpers/engine.ts';

const BENCH = (noisy: 'mem' | 'score') => `
const fs = require('node:fs');
const rd = (f, d) => { try { return fs.readFileSync(f, 'utf8').trim(); } catch { return d; } };
const run = process.env.AUTOLOOP_RUN || '', n = Number(process.env.AUTOLOOP_SAMPLE || '1');
let h = 7; for (const c of run + ':' + n + ':' + process.env.AUTOLOOP_ARM) h = (h * 31 + c.charCodeAt(0)) >>> 0;
const jitter = ((h % 21) - 10) / 10;
const value = rd('src/value.txt', '100'), size = rd('src/size.txt', '100'), mem = Number(rd('src/mem.txt', '10'));
const cand = value !== '100' || size !== '100';
const unlucky = cand && n === 1 ? 1.03 : 1;
const noisy = (v) => v * (1 + 0.01 * jitter) * unlucky;
console.log('METRIC score=' + (${JSON.stringify(noisy)} === 'score' ? noisy(Number(value)) : Number(value)));
console.log('METRIC size_kb=' + Number(size));
console.log('METRIC mem=' + (${JSON.stringify(noisy)} === 'mem' ? noisy(mem) : mem));
`;

const SLOW = 900_000;
const put = (dir: string, rel: string, text: string) => fs.writeFileSync(path.join(dir, rel), text);
const results = (dir: string, slug = 'exp') => ledger(dir, slug).filter((l) => l.type === 'result');
const candInvocations = (line: Record<string, unknown>) => (line.invocations as { arm: string }[]).filter((i) => i.arm === 'candidate').length;

describe('repeats: 1 with a 0% guardrail on a noisy metric', () => {
  it('an unlucky first sample does not block unchanged code; a real breach is still blocked, after the samples that show it', () => {
    const dir = makeRepo({ 'bench.cjs': BENCH('mem'), 'src/value.txt': '100', 'src/size.txt': '100', 'src/mem.txt': '10' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '1', '--guardrail', 'mem:lower:0', '--json'], dir);
    expect(init.code, init.stderr).toBe(0);
    expect(step(dir, 'baseline').verdict).toBe('keep');
    put(dir, 'src/value.txt', '90');
    const kept = step(dir, 'faster, same memory');
    expect(kept.verdict, String(kept.reason)).toBe('keep');
    expect(candInvocations(results(dir).at(-1) as Record<string, unknown>)).toBeGreaterThan(1);
    put(dir, 'src/value.txt', '80');
    put(dir, 'src/mem.txt', '13');
    const broken = step(dir, 'faster, 30% more memory');
    expect(broken.verdict).toBe('discard');
    expect(String(broken.reason)).toMatch(/^guardrail mem 13(\.\d+)? > 10(\.\d+)? allowed/);
  }, SLOW);
});

describe('a chain child on a deterministic size guards the parent\'s noisy primary at 0%', () => {
  it('one unlucky sample of the parent\'s metric does not block a smaller size; a slower parent metric still does', () => {
    const dir = makeRepo({ 'bench.cjs': BENCH('score'), 'src/value.txt': '100', 'src/size.txt': '100', 'src/mem.txt': '10' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--max-runs', '1', '--json'], dir);
    expect(init.code, init.stderr).toBe(0);
    expect(step(dir, 'baseline').verdict).toBe('keep');
    const chain = engine('chain', ['--name', 'size', '--rationale', 'smaller next, keep the speed', '--metric', 'size_kb', '--direction', 'lower', '--max-runs', '10', '--json'], dir);
    expect(chain.code, chain.stderr).toBe(0);
    expect(step(dir, 'baseline').verdict).toBe('keep');
    put(dir, 'src/size.txt', '90');
    const kept = step(dir, 'smaller, same speed');
    expect(kept.verdict, String(kept.reason)).toBe('keep');
    put(dir, 'src/size.txt', '80');
    put(dir, 'src/value.txt', '120');
    const slower = step(dir, 'smaller, 20% slower');
    expect(slower.verdict).toBe('discard');
    expect(String(slower.reason)).toMatch(/^guardrail score/);
  }, SLOW);
});
