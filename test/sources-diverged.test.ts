// A training that diverges prints `val_loss: nan` (Python, PyTorch) or
// `val_loss: NaN` / `Infinity` (JavaScript) at the end. The patterns people
// write (and the docs suggest), `([0-9.eE+-]+)` or `(\d+\.\d+)`, cannot match
// those words, so the line looked like no match at all and an earlier epoch's
// value was read as the result. Real programs' output, then a real engine run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RegexSourceSpec, regexSource } from '../scripts/lib/sources/regex.ts';
import type { SampleOutput } from '../scripts/lib/sources/types.ts';
import { cleanupTmp, tmpDir } from './helpers/repo.ts';
import { engine, makeRepo } from './helpers/engine.ts';

afterAll(cleanupTmp);

function sampleOf(program: string): SampleOutput {
  const dir = tmpDir();
  const log = path.join(dir, 'run.log');
  const fd = fs.openSync(log, 'a');
  const r = spawnSync('python3', ['-c', program], { cwd: dir, stdio: ['ignore', fd, fd], timeout: 60_000 });
  fs.closeSync(fd);
  if (r.status !== 0) throw new Error(`program failed: ${r.status}`);
  return { cwd: dir, log: { file: log, start: 0, end: fs.statSync(log).size }, startedAtMs: Date.now() };
}

const read = (pattern: string, program: string, pick = 'last') =>
  regexSource(RegexSourceSpec.parse({ kind: 'regex', metric: 'val_loss', pattern, pick })).read(sampleOf(program));

const PATTERNS = ['val_loss: ([0-9.eE+-]+)', 'val_loss: (\\d+\\.\\d+)', 'val_loss: ([\\d.]+)', 'val_loss=([-+]?\\d*\\.?\\d+(?:[eE][-+]?\\d+)?)'];

describe('regex source: a last value that is not a number', () => {
  for (const pattern of PATTERNS) {
    for (const bad of ['float("nan")', 'float("inf")', 'float("-inf")']) {
      it(`is no result, not an earlier epoch's: /${pattern}/ then ${bad}`, async () => {
        const sep = pattern.includes('=') ? '=' : ': ';
        const r = await read(pattern, `print("epoch 1 val_loss${sep}0.30")\nprint("epoch 2 val_loss${sep}" + str(${bad}))`);
        expect(r.ok).toBe(false);
        expect(!r.ok && r.reason).toMatch(/the last match is not finite/);
      });
    }
  }

  it('reads JavaScript\'s NaN and Infinity the same way, and a later finite value still counts', async () => {
    expect((await read(PATTERNS[0] as string, 'print("val_loss: 0.5")\nprint("val_loss: NaN")')).ok).toBe(false);
    expect((await read(PATTERNS[0] as string, 'print("val_loss: 0.5")\nprint("val_loss: -Infinity")')).ok).toBe(false);
    expect(await read(PATTERNS[0] as string, 'print("val_loss: nan")\nprint("val_loss: 0.25")')).toMatchObject({ ok: true, metrics: { val_loss: [0.25] } });
    // min over the epochs drops the non-finite one, with a warning.
    const min = await read(PATTERNS[0] as string, 'print("val_loss: 0.5")\nprint("val_loss: 0.4")\nprint("val_loss: nan")', 'min');
    expect(min).toMatchObject({ ok: true, metrics: { val_loss: [0.4] } });
    expect(min.ok && min.warnings.join(' ')).toMatch(/ignored 1 non-finite value/);
  });

  it('takes no word for a number where the pattern would not have put one: "inference", "nanoseconds", another field', async () => {
    const r = await read(PATTERNS[0] as string, 'print("val_loss: 0.5")\nprint("val_loss: inference done")\nprint("grad: nan val_loss: n/a")\nprint("val_loss: nanoseconds")');
    expect(r).toMatchObject({ ok: true, metrics: { val_loss: [0.5] } });
  });
});

describe('a diverged training through the engine', () => {
  it('is not kept on an earlier epoch\'s loss', { timeout: 600_000 }, () => {
    const repo = makeRepo({ 'train.py': 'print("epoch 1 val_loss: 0.9")\nprint("epoch 2 val_loss: 0.5")\n' });
    expect(engine('init-experiment', ['--name', 'n', '--metric', 'val_loss', '--direction', 'lower', '--command', 'python3 train.py', '--scope', 'train.py', '--source', 'regex:val_loss=val_loss: ([0-9.eE+-]+)', '--repeats', '1'], repo).code).toBe(0);
    expect(engine('run-experiment', ['--description', 'baseline', '--json'], repo).json).toMatchObject({ verdict: 'keep', primary: 0.5 });
    fs.writeFileSync(path.join(repo, 'train.py'), 'print("epoch 1 val_loss: 0.3")\nprint("epoch 2 val_loss: nan")\n');
    const r = engine('run-experiment', ['--description', 'learning rate x10', '--json'], repo).json;
    expect(r).toMatchObject({ status: 'invalid', verdict: 'invalid', primary: null });
    expect(String(r?.reason)).toMatch(/the last match is not finite/);
  });
});
