// Speed figures that used to be wall-clock limits in tests, now ratios against
// a baseline measured in the same run (a shared machine's absolute times mean
// little):
//  - the Bash guard on a 2,000-part command vs a 200-part one (linear is 10x;
//    a quadratic pass would show as ~100x)
//  - the status line command in a project with 30 runs vs bare `node -e 0`
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzeBash, type GuardContext } from '../hooks/src/bash-guard.ts';
import { canonical } from '../hooks/src/policy.ts';
import { syntheticLedger, writeSynthetic } from '../test/helpers/synthetic-ledger.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STATUSLINE = path.join(ROOT, 'dist', 'statusline.mjs');
if (!fs.existsSync(STATUSLINE)) {
  console.error('bench/guard: dist/ is missing: run npm run build first');
  process.exit(2);
}

/** Median of n timings in ms, after one warm-up. */
function median(n: number, f: () => void): number {
  f();
  const xs = Array.from({ length: n }, () => {
    const t = process.hrtime.bigint();
    f();
    return Number(process.hrtime.bigint() - t) / 1e6;
  }).sort((a, b) => a - b);
  return xs[Math.floor(n / 2)] ?? NaN;
}

const tmp = canonical(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-bench-guard-')));
try {
  const P = path.join(tmp, 'project');
  for (const d of ['bench', 'src', '.git']) fs.mkdirSync(path.join(P, d), { recursive: true });
  const ctx: GuardContext = {
    policy: { projectDir: P, protect: ['bench/bench.mjs'], writable: [], scope: ['src/**'], scratch: '.autoloop/experiments/b/scratch' },
    cwd: P,
    env: { HOME: path.join(tmp, 'home'), CLAUDE_PROJECT_DIR: P },
    pluginRoot: null,
  };
  const command = (parts: number) => Array.from({ length: parts }, (_, i) => `echo ${i} "$(printf x)" > ${tmp}/f${i}`).join(' && ');
  const small = command(200);
  const large = command(2000);
  const tSmall = median(7, () => analyzeBash(small, ctx));
  const tLarge = median(7, () => analyzeBash(large, ctx));
  console.log(`guard.long_command ${(tLarge / tSmall).toFixed(1)}x the 200-part time for 10x the parts (${tLarge.toFixed(0)} ms; target <= 15x)`);

  const project = path.join(tmp, 'loop');
  fs.mkdirSync(project);
  writeSynthetic(project, syntheticLedger({ runs: 30, seed: 4 }));
  const input = JSON.stringify({ cwd: project });
  const run = (args: string[]) => () => void spawnSync(process.execPath, args, { input, stdio: ['pipe', 'ignore', 'ignore'] });
  const bare = median(11, run(['-e', '0']));
  const line = median(11, run([STATUSLINE]));
  console.log(`statusline.with_loop ${(line / bare).toFixed(2)}x node -e 0 (${line.toFixed(0)} ms vs ${bare.toFixed(0)} ms; target <= 2x)`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
