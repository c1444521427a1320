// Speed figures that used to be wall-clock limits in tests, now ratios against
// a baseline measured in the same run (a shared machine's absolute times mean
// little):
//  - the Bash guard on a 2,000-part command vs a 200-part one (linear is 10x;
//    a quadratic pass would show as ~100x)
//  - the status line command in a project with 30 runs vs bare `node -e 0`
// AUTOLOOP_BENCH_BEFORE_ROOT=<an earlier checkout> also runs that checkout's guard
// (its hooks/src) on the same commands, in turns with ours, and prints each
// command's time as a ratio of the earlier one's in this run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzeBash, type GuardContext } from '../hooks/src/bash-guard.ts';
import { canonical } from '../hooks/src/policy.ts';
import { syntheticLedger, writeSynthetic } from '../test/helpers/synthetic-ledger.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BEFORE = process.env.AUTOLOOP_BENCH_BEFORE_ROOT ? path.resolve(process.env.AUTOLOOP_BENCH_BEFORE_ROOT) : null;
const BEFORE_GUARD = BEFORE && path.join(BEFORE, 'hooks', 'src', 'bash-guard.ts');
if (BEFORE_GUARD && !fs.existsSync(BEFORE_GUARD)) {
  console.error(`bench/guard: ${BEFORE_GUARD} is missing (AUTOLOOP_BENCH_BEFORE_ROOT names an earlier checkout)`);
  process.exit(2);
}
const analyzeBefore: typeof analyzeBash | null = BEFORE_GUARD ? (await import(BEFORE_GUARD)).analyzeBash : null;
const STATUSLINE = path.join(ROOT, 'dist', 'statusline.mjs');
if (!fs.existsSync(STATUSLINE)) {
  console.error('bench/guard: dist/ is missing: run npm run build first');
  process.exit(2);
}

const timed = (f: () => void): number => {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
};
const mid = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
/** Median of n timings in ms, after one warm-up. */
const median = (n: number, f: () => void): number => (f(), mid(Array.from({ length: n }, () => timed(f))));
/** Median timings of each function, called in turns (one round of each, n rounds after a warm-up). */
function medians(n: number, fns: Array<() => void>): number[] {
  const xs = fns.map(() => [] as number[]);
  for (let round = -1; round < n; round++) fns.forEach((f, i) => (round < 0 ? f() : xs[i]!.push(timed(f))));
  return xs.map(mid);
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
  const guards = analyzeBefore ? [analyzeBash, analyzeBefore] : [analyzeBash];
  const rounds = Number(process.env.BENCH_ROUNDS ?? (analyzeBefore ? 21 : 7));
  const [tSmall, tLarge, bSmall, bLarge] = medians(rounds, guards.flatMap((g) => [() => g(small, ctx), () => g(large, ctx)]));
  console.log(`guard.long_command ${(tLarge! / tSmall!).toFixed(1)}x the 200-part time for 10x the parts (${tLarge!.toFixed(0)} ms; target <= 15x)`);
  if (analyzeBefore) {
    console.log(`guard.long_command.before ${(bLarge! / bSmall!).toFixed(1)}x (${bLarge!.toFixed(0)} ms; ${BEFORE})`);
    console.log(`guard.vs_before 2,000 parts ${(tLarge! / bLarge!).toFixed(2)}x the earlier guard's time, 200 parts ${(tSmall! / bSmall!).toFixed(2)}x (${rounds} rounds in turns)`);
  }

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
