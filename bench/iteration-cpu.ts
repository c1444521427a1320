// CPU time of one iteration (the one call, keep and discard): the engine and
// every process it starts (git, the benchmark), as the children's time of this
// process, which waits for the engine, which waits for its own. On a loaded
// machine wall time is mostly waiting for a core; CPU time is what a change
// in the work done shows. Two builds measured in turns, the order swapped
// every turn (the build measured first in a turn tends to come out slower).
//   AUTOLOOP_BENCH_DIST=<dir> (default dist/), AUTOLOOP_BENCH_BEFORE=<dir> (required),
//   AUTOLOOP_BENCH_N=<turns> (default 40). Linux only (/proc/self/stat); the clock tick is 10 ms,
//   so the figure is a mean over many iterations.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AFTER = path.resolve(process.env.AUTOLOOP_BENCH_DIST ?? path.join(ROOT, 'dist'));
const BEFORE = process.env.AUTOLOOP_BENCH_BEFORE ? path.resolve(process.env.AUTOLOOP_BENCH_BEFORE) : null;
const N = Number(process.env.AUTOLOOP_BENCH_N ?? 40);
if (!BEFORE) {
  console.error('AUTOLOOP_BENCH_BEFORE=<dir of the other build> is required');
  process.exit(2);
}
const GIT_ENV = { GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@x' };
const TICK_MS = 10;

/** The CPU time of this process's waited-for children so far, ms. */
function childrenCpu(): number {
  const f = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[13]) + Number(f[14])) * TICK_MS; // cutime, cstime (fields 16, 17)
}

function engine(dist: string, dir: string, name: string, args: string[]): void {
  const r = spawnSync(process.execPath, [path.join(dist, `${name}.mjs`), ...args, '--cwd', dir], { env: { ...process.env, ...GIT_ENV } });
  if (r.status !== 0) throw new Error(`${name}: ${String(r.stderr)}`);
}

/** A repository with a deterministic benchmark and its baseline kept. */
function repo(dist: string): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-bench-cpu-')));
  const git = (...a: string[]) => spawnSync('git', a, { cwd: dir, env: { ...process.env, ...GIT_ENV } });
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'src', 'v.txt'), '1');
  fs.writeFileSync(path.join(dir, 'bench.sh'), 'echo METRIC score=$(cat src/v.txt)\n');
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'init');
  engine(dist, dir, 'init-experiment', ['--name', 'b', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--max-runs', 'none', '--plateau', 'none']);
  engine(dist, dir, 'run-experiment', []);
  engine(dist, dir, 'log-experiment', ['--description', 'baseline']);
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
  const before = childrenCpu();
  engine(s.dist, s.dir, 'run-experiment', ['--description', `value ${value}`]);
  return childrenCpu() - before;
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
