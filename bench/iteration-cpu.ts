// CPU time of one iteration (the one call, keep and discard): the engine and
// every process it starts (git, the benchmark), as the children's time of this
// process, which waits for the engine, which waits for its own. On a loaded
// machine wall time is mostly waiting for a core; CPU time is what a change
// in the work done shows. Two builds measured in turns, the order swapped
// every turn (the build measured first in a turn tends to come out slower).
//   AUTOLOOP_BENCH_DIST=<dir> (default dist/), AUTOLOOP_BENCH_BEFORE=<dir> (required),
//   AUTOLOOP_BENCH_N=<turns> (default 40). Linux only (/proc/self/stat); the clock tick is 10 ms,
//   so the figure is a mean over many iterations.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchRepo, childrenCpuMs, engineCall, EXPERIMENT, keepBaseline } from './fixture.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AFTER = path.resolve(process.env.AUTOLOOP_BENCH_DIST ?? path.join(ROOT, 'dist'));
const BEFORE = process.env.AUTOLOOP_BENCH_BEFORE ? path.resolve(process.env.AUTOLOOP_BENCH_BEFORE) : null;
const N = Number(process.env.AUTOLOOP_BENCH_N ?? 40);
if (!BEFORE) {
  console.error('AUTOLOOP_BENCH_BEFORE=<dir of the other build> is required');
  process.exit(2);
}

/** A repository with a deterministic benchmark and its baseline kept. */
function repo(dist: string): string {
  const dir = benchRepo('autoloop-bench-cpu-');
  engineCall(dist, dir, 'init-experiment', [...EXPERIMENT, '--scope', 'src/**', '--max-runs', 'none', '--plateau', 'none']);
  keepBaseline(dist, dir);
  return dir;
}

interface Setup {
  dist: string;
  dir: string;
  keep: number[];
  discard: number[];
}

function once(s: Setup, value: number): number {
  fs.writeFileSync(path.join(s.dir, 'src', 'v.txt'), String(value));
  const before = childrenCpuMs();
  engineCall(s.dist, s.dir, 'run-experiment', ['--description', `value ${value}`]);
  return childrenCpuMs() - before;
}

const setups: Setup[] = [AFTER, BEFORE].map((dist) => ({ dist, dir: repo(dist), keep: [], discard: [] }));
let v = -1000;
for (const s of setups) {
  once(s, v--); // warm-up: file cache, the engine's code cache
  once(s, 1e9);
}
for (let i = 0; i < N; i++) {
  for (const s of i % 2 ? [...setups].reverse() : setups) {
    s.keep.push(once(s, v));
    s.discard.push(once(s, 1e9));
  }
  v--;
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const [a, b] = setups as [Setup, Setup];
for (const k of ['keep', 'discard'] as const) {
  console.log(`iteration_cpu.one_call.${k} ${mean(a[k]).toFixed(1)} ms against ${mean(b[k]).toFixed(1)} ms before (${(mean(a[k]) / mean(b[k])).toFixed(3)}x; ${N} each, in turns)`);
}
for (const s of setups) fs.rmSync(s.dir, { recursive: true, force: true });
