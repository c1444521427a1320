// control clear beside a candidate's run that is measuring the best in the
// best's tree (best-tree.ts): clear leaves that candidate in flight (named),
// and must leave the tree it measures in as well; the trees no live engine
// uses go. Real engine processes, a real git repository; the order is forced
// with marker files.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engine, engineAsync, finished, git, makeRepo, ROOT, waitFor } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const TIMING_DIR = path.join(ROOT, '.cache', `timing-clear-${process.pid}`);
const TIMING = { AUTOLOOP_TIMING_DIR: TIMING_DIR };
afterAll(() => fs.rmSync(TIMING_DIR, { recursive: true, force: true }));

/** Noisy (each decision re-measures the best); the best-arm sample that takes `hold` waits for `go`, and says `damaged` if its tree goes. */
const bench = (ctrl: string) => `const fs = require('node:fs');
const ctrl = ${JSON.stringify(ctrl)};
const take = () => { try { fs.renameSync(ctrl + '/hold', ctrl + '/held'); return true; } catch { return false; } };
if (process.env.AUTOLOOP_ARM === 'best' && take()) {
  const ino = fs.statSync('.').ino;
  const intact = () => { try { return fs.statSync(process.cwd()).ino === ino && fs.existsSync('src/value.txt'); } catch { return false; } };
  fs.writeFileSync(ctrl + '/running', '');
  while (intact() && !fs.existsSync(ctrl + '/go')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  if (!intact()) { fs.writeFileSync(ctrl + '/damaged', ''); console.error('the best tree changed under this sample'); process.exit(9); }
}
const v = Number.parseFloat(fs.readFileSync('src/value.txt', 'utf8'));
console.log('METRIC score=' + v * (1 + 0.03 * (Math.random() - 0.5)));
`;


describe('control clear beside a best-arm sample', { timeout: 900_000 }, () => {
  it("leaves the best's tree a candidate in flight measures in; removes it once no engine uses it", async () => {
    const ctrl = tmpDir('autoloop-clear-');
    const dir = makeRepo({ 'bench.cjs': bench(ctrl), 'src/value.txt': '100\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '2', '--parallel', '2'], dir, TIMING);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', [], dir, TIMING).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], dir, TIMING).code).toBe(0);
    const r = engine('candidate', ['start', '--json'], dir, TIMING);
    expect(r.code, r.stderr).toBe(0);
    const c = r.json as { candidate: string; path: string };
    fs.writeFileSync(path.join(c.path, 'src/value.txt'), '90\n');
    fs.writeFileSync(path.join(ctrl, 'hold'), '');
    const run = finished(engineAsync('run-experiment', ['--candidate', c.candidate, '--json'], dir, TIMING));
    await waitFor(() => fs.existsSync(path.join(ctrl, 'running')));

    const clear = engine('control', ['clear'], dir, TIMING);
    expect(clear.code, clear.stderr).toBe(0);
    expect(clear.stdout).toMatch(new RegExp(`left candidate\\(s\\) of exp: ${c.candidate} \\(a run or log of it is in flight`));
    fs.writeFileSync(path.join(ctrl, 'go'), '');
    const done = await run;
    expect(fs.existsSync(path.join(ctrl, 'damaged')), 'the best tree was removed under a running sample').toBe(false);
    expect(done.code, done.err).toBe(0);

    // Nothing uses the tree now: the next clear (after the candidate is closed) removes it, for git too.
    const log = engine('log-experiment', ['--candidate', c.candidate, '-d', 'ninety', '--discard', '--json'], dir, TIMING);
    expect(log.code, log.stderr).toBe(0);
    expect(engine('control', ['clear'], dir, TIMING).code).toBe(0);
    expect(fs.existsSync(path.join(dir, '.autoloop/experiments/exp/best'))).toBe(false);
    expect(git(dir, 'worktree', 'list').split('\n')).toHaveLength(1);
  });
});
