// A deterministic benchmark settles its baseline in the fewest invocations the
// metric's name allows: an error rate or a loss (err=0.125, val_loss) is no
// timing, so 3 identical values prove it, not the 8 a timing needs; a user who
// declared the benchmark deterministic (config `deterministic: true`) gets 2.
// Real repositories, the bundled engine.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { engine, jsonOf, makeRepo } from './helpers/engine.ts';
import { baselineRunsNeeded, clearlyNotTiming } from '../scripts/lib/noise-model.ts';

const SLOW = 900_000;

function baselineSamples(metric: string, configEdit?: (yaml: string) => string): number {
  return Number(baseline(metric, configEdit).samples);
}

function baseline(metric: string, configEdit?: (yaml: string) => string): Record<string, unknown> {
  const dir = makeRepo({ 'bench.sh': `echo "METRIC ${metric}=0.125"\n`, 'src/m.py': 'x = 1\n' });
  const init = engine('init-experiment', ['--name', 'exp', '--metric', metric, '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--json'], dir);
  expect(init.code, init.stderr).toBe(0);
  if (configEdit) {
    const file = path.join(dir, '.autoloop', 'experiments', 'exp', 'config.yaml');
    fs.writeFileSync(file, configEdit(fs.readFileSync(file, 'utf8')));
  }
  const run = engine('run-experiment', ['--description', 'baseline', '--json'], dir);
  expect(run.code, run.stderr).toBe(0);
  return jsonOf(run.stdout) as Record<string, unknown>;
}

describe('names of quality metrics', () => {
  it('reads error rates and losses as no timing, and leaves timings and unknown names at 8', () => {
    for (const m of ['err', 'error', 'val_loss', 'top1_err', 'error_rate', 'wer', 'f1', 'rmse', 'acc']) expect(clearlyNotTiming(m), m).toBe(true);
    for (const m of ['kerr', 'err_time', 'loss_ms', 'x', 'gloss_total']) expect(clearlyNotTiming(m), m).toBe(false);
    expect(baselineRunsNeeded({ metric: 'x', deterministic: true })).toBe(2);
    expect(baselineRunsNeeded({ metric: 'x', deterministic: 'auto' })).toBe(8);
    expect(baselineRunsNeeded({ metric: 'err' })).toBe(3);
  });
});

describe('a deterministic baseline through the engine', () => {
  it('settles err=0.125 in 3 invocations, as loss=0.125 does', () => {
    expect(baselineSamples('err')).toBe(3);
    expect(baselineSamples('loss')).toBe(3);
  }, SLOW);

  it('takes 8 for a name that may be a timing, and says so with the way to settle it in 2', () => {
    const x = baseline('x');
    expect(x.samples).toBe(8);
    expect(x.warnings).toEqual([expect.stringMatching(/^the baseline repeated 8 identical values: "x" is not known by its name to be no timing.*deterministic: true in config\.yaml settles a baseline in 2$/)]);
    expect(baseline('err').warnings).toBeUndefined();
  }, SLOW);

  it('settles in 2 when the user declared the benchmark deterministic, whatever the name', () => {
    expect(baselineSamples('x', (y) => y.replace(/^deterministic: auto$/m, 'deterministic: true'))).toBe(2);
  }, SLOW);
});
