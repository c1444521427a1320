// Slurm runner figures measured now, against the scheduler's own latency in
// the same run: a trivial job through the runner vs `sbatch --wait` and
// `srun` directly (rounds interleaved, medians), and the kill sequence on a
// job that ignores SIGTERM vs a plain scancel of the same job.
// Uses the cluster SLURM_CONF names, else starts the tests' single-node one.
// Usage: npx tsx bench/slurm.ts [--rounds N] [--time-limit]
//   --time-limit also measures Slurm's own --time=1 enforcement (takes minutes).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { liveWork } from '../scripts/lib/runners/slurm-cli.ts';
import { slurmRunner } from '../scripts/lib/runners/slurm.ts';
import { ensureSlurm } from '../test/helpers/slurm.ts';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 7;
const STUBBORN = `trap '' TERM; sleep 600 & while :; do sleep 1; done`;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (xs: number[]): string => `${median(xs).toFixed(2)} s (${xs.map((x) => x.toFixed(2)).join(', ')})`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function timed(cmd: string, argv: string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${r.stderr.trim()}`);
  return (performance.now() - t0) / 1000;
}

async function viaRunner(dir: string, i: number): Promise<{ wall: number; queued: number; run: number }> {
  const t0 = performance.now();
  const r = await slurmRunner().run({ command: 'true', cwd: dir, env: {}, timeoutS: 60, graceS: 1, logFile: path.join(dir, `r${i}.log`) });
  if (r.exitCode !== 0) throw new Error(`runner: ${r.detail ?? r.spawnError}`);
  return { wall: (performance.now() - t0) / 1000, queued: r.queuedS, run: r.durationS };
}

/** Seconds from the engine's timeout to a verified clean end, through the runner. */
async function runnerKill(dir: string, i: number): Promise<number> {
  const timeoutS = 1;
  const t0 = performance.now();
  const r = await slurmRunner().run({ command: STUBBORN, cwd: dir, env: {}, timeoutS, graceS: 1, logFile: path.join(dir, `k${i}.log`) });
  const startAt = t0 + r.queuedS * 1000;
  if (!r.timedOut || r.survivors.length > 0) throw new Error(`kill round ${i}: unclean (${r.survivors.join(', ')})`);
  return (performance.now() - startAt) / 1000 - timeoutS;
}

/** Seconds from a plain scancel of the same job to Slurm reporting nothing alive. */
async function plainCancel(dir: string): Promise<number> {
  const sub = spawnSync('sbatch', ['--parsable', '-o', '/dev/null', '--wrap', STUBBORN], { cwd: dir, encoding: 'utf8' });
  const id = sub.stdout.trim();
  while (spawnSync('squeue', ['-h', '-j', id, '-o', '%T'], { encoding: 'utf8' }).stdout.trim() !== 'RUNNING') await sleep(50);
  const t0 = performance.now();
  spawnSync('scancel', [id]);
  while ((await liveWork(id)).length > 0) await sleep(50);
  return (performance.now() - t0) / 1000;
}

async function timeLimit(dir: string): Promise<void> {
  const id = spawnSync('sbatch', ['--parsable', '--time=1', '-o', '/dev/null', '--wrap', 'sleep 600'], { cwd: dir, encoding: 'utf8' }).stdout.trim();
  let started = 0;
  for (;;) {
    const st = spawnSync('squeue', ['-h', '-j', id, '-o', '%T'], { encoding: 'utf8' }).stdout.trim();
    if (st === 'RUNNING' && !started) started = performance.now();
    if (started && st !== 'RUNNING') break;
    await sleep(250);
  }
  console.log(`slurm.own_time_limit_s ${((performance.now() - started) / 1000).toFixed(1)} (job limited to --time=1, i.e. 60 s)`);
}

async function main(): Promise<void> {
  if (!process.env.SLURM_CONF) ensureSlurm();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-bench-slurm-'));
  try {
    const sbatch: number[] = [];
    const srun: number[] = [];
    const runner: Awaited<ReturnType<typeof viaRunner>>[] = [];
    for (let i = 0; i < rounds; i++) {
      sbatch.push(timed('sbatch', ['--wait', '-o', '/dev/null', '--wrap', 'true'], dir));
      srun.push(timed('srun', ['true'], dir));
      runner.push(await viaRunner(dir, i));
    }
    const wall = runner.map((r) => r.wall);
    console.log(`slurm.sbatch_wait_s ${fmt(sbatch)}`);
    console.log(`slurm.srun_s ${fmt(srun)}`);
    console.log(`slurm.runner_s ${fmt(wall)} (of which queued ${median(runner.map((r) => r.queued)).toFixed(2)}, running ${median(runner.map((r) => r.run)).toFixed(2)})`);
    // srun is told of its step's end at once: the scheduler's own latency. sbatch --wait polls (seconds apart).
    console.log(`slurm.runner_overhead_s ${(median(wall) - median(srun)).toFixed(2)} vs srun, ${(median(wall) - median(sbatch)).toFixed(2)} vs sbatch --wait`);
    const kill: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < 3; i++) {
      kill.push(await runnerKill(dir, i));
      plain.push(await plainCancel(dir));
    }
    console.log(`slurm.kill_after_timeout_s ${fmt(kill)} (grace 1 s; SIGTERM-ignoring job with a child)`);
    console.log(`slurm.plain_scancel_s ${fmt(plain)} (same job, scancel until Slurm reports nothing alive)`);
    if (args.includes('--time-limit')) await timeLimit(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
