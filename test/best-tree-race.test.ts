// Parallel candidates measure the best in the best's tree (best-tree.ts); a
// keep gives the new best a tree of its own. Under serial timing (the local
// default) the tree is prepared inside the timing lock; under parallel timing
// (no lock) an old tree stays while a live engine uses it. Either way no tree
// is deleted or rebuilt under a running best-arm sample. Real engine
// processes, a real git repository; the order is forced with marker files.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engine, engineAsync, finished, git, makeRepo, ROOT, waitFor } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

/** A timing lock of this file's own, so that other test files do not queue on it. */
const TIMING_DIR = path.join(ROOT, '.cache', `timing-race-${process.pid}`);
const TIMING = { AUTOLOOP_TIMING_DIR: TIMING_DIR };
afterAll(() => fs.rmSync(TIMING_DIR, { recursive: true, force: true }));

/**
 * Noisy (so each decision re-measures the best in its tree). The one best-arm
 * sample that takes the file `hold` keeps running until the file `go` exists,
 * or until its own tree is deleted or replaced under it (then it says so in
 * `damaged` and fails).
 */
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


function start(dir: string, value: string): { id: string; path: string } {
  const r = engine('candidate', ['start', '--json'], dir, TIMING);
  expect(r.code, r.stderr).toBe(0);
  const c = r.json as { candidate: string; path: string };
  fs.writeFileSync(path.join(c.path, 'src/value.txt'), value);
  return { id: c.candidate, path: c.path };
}

/** The lock file's access time: it changes when a waiter reads who holds it (relatime: the first read after its write). */
const accessed = (file: string): bigint | null => {
  try {
    return fs.statSync(file, { bigint: true }).atimeNs;
  } catch {
    return null;
  }
};

/** The current best's tree (best-tree.ts: best/<tree>/, named in best.json). */
const bestTree = (dir: string): string => {
  const exp = path.join(dir, '.autoloop/experiments/exp');
  return path.join(exp, 'best', JSON.parse(fs.readFileSync(path.join(exp, 'best.json'), 'utf8')).tree);
};

describe("the best's tree is not rebuilt under a running sample", { timeout: 900_000 }, () => {
  for (const timing of ['serial', 'parallel'] as const) {
    it(`${timing} timing: a keep moves the best while one candidate measures the best; another candidate measures the new best beside it`, async () => {
      const ctrl = tmpDir('autoloop-race-');
      const dir = makeRepo({ 'bench.cjs': bench(ctrl), 'src/value.txt': '100\n' });
      const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'node bench.cjs', '--scope', 'src/**', '--repeats', '2', '--parallel', '3', '--parallel-timing', timing], dir, TIMING);
      expect(init.code, init.stderr).toBe(0);
      expect(engine('run-experiment', [], dir, TIMING).code).toBe(0);
      expect(engine('log-experiment', ['-d', 'baseline'], dir, TIMING).code).toBe(0);

      // K: measured now (its best-arm samples build the best's tree), kept later.
      const k = start(dir, '50\n');
      expect(engine('run-experiment', ['--candidate', k.id], dir, TIMING).code).toBe(0);
      // H: its first invocation measures the best, and runs until the test says go.
      const h = start(dir, '90\n');
      fs.writeFileSync(path.join(ctrl, 'hold'), '');
      const hRun = finished(engineAsync('run-experiment', ['--candidate', h.id, '--json'], dir, TIMING));
      await waitFor(() => fs.existsSync(path.join(ctrl, 'running')));
      const lockFile = path.join(TIMING_DIR, 'exclusive');
      const before = accessed(lockFile);
      expect(before === null).toBe(timing === 'parallel');

      // The keep moves the best while H's sample runs in the best's tree.
      const kept = engine('log-experiment', ['--candidate', k.id, '-d', 'fifty', '--json'], dir, TIMING);
      expect(kept.json?.verdict, kept.stderr).toBe('keep');
      // R, opened on the new best, measures the best first.
      const r = start(dir, '95\n');
      const rRun = finished(engineAsync('run-experiment', ['--candidate', r.id, '--json'], dir, TIMING));
      // Serial: R waits for the timing lock (it has read who holds it). Parallel: R measures meanwhile, all of it.
      if (timing === 'serial') await waitFor(() => accessed(lockFile) !== before);
      else await rRun;
      fs.writeFileSync(path.join(ctrl, 'go'), '');

      const [hr, rr] = await Promise.all([hRun, rRun]);
      expect(fs.existsSync(path.join(ctrl, 'damaged')), 'the best tree was rebuilt under a running sample').toBe(false);
      expect(hr.code, hr.err).toBe(0);
      // The lines other engine calls appended while H's command ran (K's keep, R's start) are the engine's:
      // H's run stands, and R's candidate_opened line stays in the ledger (ledger-tail.ts).
      expect(JSON.parse(hr.out), hr.out).toMatchObject({ status: 'ok' });
      const ledgerText = fs.readFileSync(path.join(dir, '.autoloop/experiments/exp/ledger.jsonl'), 'utf8');
      expect(ledgerText).toContain(`"candidate":"${r.id}"`);
      expect(rr.code, rr.err).toBe(0);
      expect(JSON.parse(rr.out), rr.out).toMatchObject({ status: 'ok' });
      // The tree R measured is the new best's.
      expect(fs.readFileSync(path.join(bestTree(dir), 'src/value.txt'), 'utf8')).toBe('50\n');
      expect(git(bestTree(dir), 'rev-parse', 'HEAD')).toBe(git(dir, 'rev-parse', 'autoloop/exp'));
    });
  }
});
