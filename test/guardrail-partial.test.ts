// A guardrail that some of a run's invocations measured and others did not
// (the memory report of one sample lost to an out-of-memory kill, printed as
// `METRIC mem_mb=oom`): the median of the samples that did report it is not
// the change's figure. The guardrail is missing for that run, as the primary
// would be, and the change is not kept on half the evidence.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { candidateMetricSamples, partlyMeasured } from '../scripts/lib/judge-run.ts';
import { engine, makeRepo } from './helpers/engine.ts';

const BENCH = `const c = require('fs').readFileSync('conf.txt', 'utf8').trim().split(',');
console.log('METRIC ms=' + c[0]);
// The flaky build reports its memory in its first candidate invocation only.
const reports = c[1] !== 'flaky' || process.env.AUTOLOOP_ARM === 'best' || process.env.AUTOLOOP_SAMPLE === '2';
console.log('METRIC mem_mb=' + (reports ? (c[1] === 'flaky' ? 100 : c[1]) : 'oom'));
`;

describe('a guardrail measured by only some invocations of a run', { timeout: 600_000 }, () => {
  it('is missing for the run: the change is discarded, with a warning that says why', () => {
    const dir = makeRepo({ 'bench.js': BENCH, 'conf.txt': '10,100\n' });
    expect(engine('init-experiment', ['--name', 'g', '--metric', 'ms', '--direction', 'lower', '--command', 'node bench.js', '--scope', 'conf.txt', '--guardrail', 'mem_mb:lower:5', '--repeats', '3'], dir).code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], dir).json).toMatchObject({ verdict: 'keep' });
    fs.writeFileSync(path.join(dir, 'conf.txt'), '8,flaky\n');
    const run = engine('run-experiment', ['--description', 'faster, memory unknown in one sample', '--json'], dir);
    expect(run.json).toMatchObject({ verdict: 'discard' });
    expect(String(run.json?.reason)).toMatch(/^guardrail mem_mb missing \(baseline has 100\)/);
    expect(run.json?.warnings).toContain('guardrail mem_mb: 1 of 2 invocations did not measure it, so this run has no value for it');
    // Every invocation reporting it: judged as usual.
    fs.writeFileSync(path.join(dir, 'conf.txt'), '8,100\n');
    expect(engine('run-experiment', ['--description', 'faster, same memory', '--json'], dir).json).toMatchObject({ verdict: 'keep' });
  });

  it('pure: only metrics every candidate invocation gave have samples; a record without invocations keeps its values', () => {
    const inv = (arm: 'best' | 'candidate', metrics: Record<string, number>) => ({ arm, samples: [1], duration_s: 1, metrics });
    const invocations = [inv('best', { ms: 10, mem: 1 }), inv('candidate', { ms: 8, mem: 100 }), inv('candidate', { ms: 8 }), inv('best', { ms: 10 })];
    expect(candidateMetricSamples({ invocations, metrics: { ms: 8, mem: 100 } })).toEqual({ ms: [8, 8] });
    expect(partlyMeasured([{ metric: 'mem' }, { metric: 'ms' }, { metric: 'absent' }], invocations)).toEqual([{ metric: 'mem', missing: 1, of: 2 }]);
    expect(candidateMetricSamples({ invocations: [], metrics: { ms: 8, mem: 100 } })).toEqual({ ms: [8], mem: [100] });
  });
});
