// CPU time of one iteration through a zygote (the MCP server's pre-started
// engine, dist/zygote.cjs), keep and discard, the one call and run + log (a
// zygote each, their CPU summed): from each call's
// message to its exit, the zygote's own CPU and its children's (git, the
// containment, the benchmark). The zygote's start and whatever it does ahead
// (before its call) are not counted: that is the point of a zygote. Two
// builds in turns, the order swapped every turn, each zygote given `think`
// ms after it is ready (the model's turn) before its call.
//   AUTOLOOP_BENCH_DIST=<dir> (default dist/), AUTOLOOP_BENCH_BEFORE=<dir> (required),
//   AUTOLOOP_BENCH_N=<turns> (default 20), AUTOLOOP_BENCH_THINK=<ms> (default 1000),
//   AUTOLOOP_BENCH_FORMS=one,two (default both). Linux only.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEMPLATE_PREFIX } from '../scripts/lib/boot/rehearsal.ts';
import { benchRepo, engineCall, EXPERIMENT, GIT_ENV, keepBaseline } from './fixture.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const AFTER = path.resolve(process.env.AUTOLOOP_BENCH_DIST ?? path.join(HERE, '..', 'dist'));
const BEFORE = process.env.AUTOLOOP_BENCH_BEFORE ? path.resolve(process.env.AUTOLOOP_BENCH_BEFORE) : null;
const N = Number(process.env.AUTOLOOP_BENCH_N ?? 20);
const THINK = Number(process.env.AUTOLOOP_BENCH_THINK ?? 1000);
if (!BEFORE) {
  console.error('AUTOLOOP_BENCH_BEFORE=<dir of the other build> is required');
  process.exit(2);
}
const OUT = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-zcpu-')), 'cpu.json');

interface Cpu {
  self: number;
  kids: number;
  wall: number;
  /** From the zygote's spawn to its ready message (its start and rehearsal: in the model's turn, not counted above). */
  ready: number;
}

/** One call in a fresh zygote of `dist`, in `dir`; told the form that comes (`--next log`, `--next run`), as the MCP server tells it. */
async function viaZygote(dist: string, dir: string, entry: string, argv: string[]): Promise<Cpu> {
  fs.rmSync(OUT, { force: true });
  const env = { ...process.env, ...GIT_ENV, AUTOLOOP_BENCH_ZCPU_OUT: OUT };
  const next = entry === 'log-experiment' ? ['--next', 'log'] : argv.includes('--description') ? [] : ['--next', 'run'];
  const t0 = performance.now();
  const child = spawn(process.execPath, ['-r', path.join(HERE, 'zygote-cpu-hook.cjs'), path.join(dist, 'zygote.cjs'), ...next], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdout?.resume();
  await new Promise<void>((resolve) => child.once('message', () => resolve()));
  const ready = performance.now() - t0;
  await new Promise((r) => setTimeout(r, THINK));
  const callEnv = Object.fromEntries(Object.entries({ ...process.env, ...GIT_ENV }).filter((e): e is [string, string] => typeof e[1] === 'string'));
  child.send({ entry, argv, cwd: dir, env: callEnv });
  await new Promise<void>((resolve) => child.once('close', () => resolve()));
  if (!stderr.endsWith('\u0000autoloop-exit 0\n')) throw new Error(`call failed: ${stderr}`);
  return { ...(JSON.parse(fs.readFileSync(OUT, 'utf8')) as Omit<Cpu, 'ready'>), ready };
}

function repo(dist: string): string {
  const dir = benchRepo('autoloop-bench-zcpu-');
  engineCall(dist, dir, 'init-experiment', [...EXPERIMENT, '--scope', 'src/**', '--max-runs', 'none', '--plateau', 'none']);
  keepBaseline(dist, dir);
  return dir;
}

type Form = 'one' | 'two';
interface Setup {
  dist: string;
  form: Form;
  dir: string;
  keep: Cpu[];
  discard: Cpu[];
}
const sum = (a: Cpu, b: Cpu): Cpu => ({ self: a.self + b.self, kids: a.kids + b.kids, wall: a.wall + b.wall, ready: b.ready }); // ready: the log's zygote (the one a model's short turn may find still rehearsing)
const once = async (s: Setup, value: number): Promise<Cpu> => {
  fs.writeFileSync(path.join(s.dir, 'src', 'v.txt'), String(value));
  const d = ['--description', `value ${value}`];
  return s.form === 'one' ? viaZygote(s.dist, s.dir, 'run-experiment', d) : sum(await viaZygote(s.dist, s.dir, 'run-experiment', []), await viaZygote(s.dist, s.dir, 'log-experiment', d));
};

const FORMS = (process.env.AUTOLOOP_BENCH_FORMS ?? 'one,two').split(',') as Form[];
const setups: Setup[] = FORMS.flatMap((form) => [AFTER, BEFORE].map((dist) => ({ dist, form, dir: repo(dist), keep: [], discard: [] })));
let v = -1000;
for (const s of setups) {
  await once(s, v--); // warm-up: file cache, the engine's code cache
  await once(s, 1e9);
}
for (let i = 0; i < N; i++, v--) {
  for (const s of i % 2 ? [...setups].reverse() : setups) {
    s.keep.push(await once(s, v));
    s.discard.push(await once(s, 1e9));
  }
}
const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (cs: Cpu[]) => `self ${med(cs.map((c) => c.self)).toFixed(1)} ms median, tree ${mean(cs.map((c) => c.self + c.kids)).toFixed(1)} ms mean, wall ${med(cs.map((c) => c.wall)).toFixed(0)} ms, ready ${med(cs.map((c) => c.ready)).toFixed(0)} ms`;
for (const form of FORMS) {
  const [a, b] = setups.filter((s) => s.form === form) as [Setup, Setup];
  const name = form === 'one' ? 'one_call' : 'run_log';
  for (const k of ['keep', 'discard'] as const) console.log(`zygote_cpu.${name}.${k} ${fmt(a[k])} against ${fmt(b[k])} before (${N} each, in turns; load ${(os.loadavg()[0] ?? 0).toFixed(1)})`);
}
for (const s of setups) fs.rmSync(s.dir, { recursive: true, force: true });
fs.rmSync(path.dirname(OUT), { recursive: true, force: true });
// The rehearsal templates its zygotes kept (named by this process's pid, as by a server's).
const tmp = fs.realpathSync(os.tmpdir());
for (const f of fs.readdirSync(tmp)) if (f.startsWith(`${TEMPLATE_PREFIX}${process.pid}-`)) fs.rmSync(path.join(tmp, f), { recursive: true, force: true });
