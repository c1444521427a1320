// Pure decisions of the Slurm runner: the job script, the sbatch arguments,
// and what a job's final state means for the run.
import os from 'node:os';
import { CANCEL_MARK, type JobInfo } from './slurm-cli.js';
import { jobName } from './slurm-name.ts';

/** States after which the job holds nothing and will not change again. */
export const TERMINAL = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'NODE_FAIL',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
  'SPECIAL_EXIT',
  'REVOKED',
]);

/** Ends that are the cluster's doing, not the candidate's: the run is tried again. */
const NOT_THE_CANDIDATES = new Set(['NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'REVOKED']);

/** Printed by the job script when the node cannot enter the working directory. */
export const CWD_MARK = 'autoloop-slurm: cwd not visible on';
export const CWD_EXIT = 97;

/** One shell word, whatever the text holds. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The batch script: enter the working directory or say that the node cannot
 * see it, then run the user's command line as `sh -c` does locally. Both are
 * quoted as single words, so nothing in them is interpreted by this script.
 */
export function jobScript(command: string, cwd: string): string {
  return [
    '#!/bin/sh',
    '# autoloop run (the command is the configured benchmark or checks command)',
    `cd ${shQuote(cwd)} 2>/dev/null || { printf '%s %s: %s\\n' ${shQuote(CWD_MARK)} "$(hostname)" ${shQuote(cwd)}; exit ${CWD_EXIT}; }`,
    `exec /bin/sh -c ${shQuote(command)}`,
    '',
  ].join('\n');
}

/**
 * A path as --output reads it: Slurm expands %j, %u, %% … there, so each % is
 * doubled. (A backslash turns the expansion off and is dropped: the caller
 * refuses such a path.)
 */
export function outputPattern(file: string): string {
  return file.replace(/%/g, '%%');
}

export interface ResourceSpec {
  partition?: string | undefined;
  time?: string | undefined;
  cpus?: number | undefined;
  mem?: string | undefined;
  gres?: string | undefined;
  sbatch_args: string[];
}

/** sbatch flags the runner owns: the user may not set them through sbatch_args. */
export const OWNED_FLAGS = ['--job-name', '-J', '--output', '-o', '--error', '-e', '--input', '-i', '--wrap', '--parsable', '--chdir', '-D', '--requeue', '--no-requeue', '--wait', '-W', '--array', '-a', '--export', '--open-mode'];

/** The owned flag an extra argument sets, or null. */
export function ownedFlag(arg: string): string | null {
  for (const f of OWNED_FLAGS) {
    if (arg === f) return f;
    if (f.startsWith('--') ? arg.startsWith(`${f}=`) : arg.startsWith(f) && !arg.startsWith('--')) return f;
  }
  return null;
}

/**
 * Slurm's own time limit, a backstop for when the engine is gone: the run's
 * timeout plus grace, in whole minutes, plus two (Slurm enforces it coarsely).
 * Null when the timeout is too long to mean anything.
 */
export function backstopTime(timeoutS: number, graceS: number): string | null {
  const total = timeoutS + graceS;
  if (!Number.isFinite(total) || total > 365 * 86_400) return null;
  return String(Math.ceil(total / 60) + 2);
}

export function sbatchArgs(spec: ResourceSpec, o: { cwd: string; outFile: string; timeoutS: number; graceS: number; token: string }): string[] {
  const time = spec.time ?? backstopTime(o.timeoutS, o.graceS);
  return [
    `--job-name=${jobName(o.token)}`,
    `--chdir=${o.cwd}`,
    `--output=${o.outFile}`,
    '--export=ALL',
    // Interruptions end the job; the runner resubmits (one job id per attempt, one log range each).
    '--no-requeue',
    ...(spec.partition ? [`--partition=${spec.partition}`] : []),
    ...(time ? [`--time=${time}`] : []),
    ...(spec.cpus ? [`--cpus-per-task=${spec.cpus}`] : []),
    ...(spec.mem ? [`--mem=${spec.mem}`] : []),
    ...(spec.gres ? [`--gres=${spec.gres}`] : []),
    ...spec.sbatch_args,
  ];
}

/** What we did to the job, which decides what its end means. */
export interface Ours {
  timedOut: boolean;
  interrupted: boolean;
  /** Output held Slurm's memory-limit kill message (jobacct_gather OverMemoryKill, no cgroups). */
  memoryKill: boolean;
}

export interface Verdict {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  interrupted: boolean;
  retry: boolean;
  /** The command never ran as asked (the job failed before or outside it). */
  spawnError: string | null;
  detail: string;
}

function signalName(n: number | null): string | null {
  if (!n) return null;
  const entry = Object.entries(os.constants.signals).find(([, v]) => v === n);
  return entry ? entry[0] : `SIG${n}`;
}

/** Map a finished job to the run's outcome. */
export function judgeJob(jobId: string, info: JobInfo, ours: Ours): Verdict {
  // Killed by a signal: no exit code, as for a local process.
  const signal = signalName(info.exitSignal);
  const base = { exitCode: signal ? null : info.exitCode, signal, timedOut: ours.timedOut, interrupted: ours.interrupted, retry: false, spawnError: null };
  const s = info.state;
  if (ours.timedOut || ours.interrupted) {
    return { ...base, detail: `slurm job ${jobId} ${ours.timedOut ? 'stopped at the timeout' : 'cancelled on interrupt'} (${s})` };
  }
  if (info.comment === CANCEL_MARK) {
    // autoloop cancelled it from another process (control stop, repair): an interrupt, not a crash.
    return { ...base, interrupted: true, detail: `slurm job ${jobId} cancelled by autoloop from another process (${s})` };
  }
  if (s === 'OUT_OF_MEMORY' || (s === 'FAILED' && ours.memoryKill)) {
    // The OOM killer's SIGKILL ends the job even when the script's own exit code is 0.
    const exitCode = info.exitCode ? info.exitCode : null;
    return { ...base, exitCode, signal: exitCode ? null : 'SIGKILL', detail: `slurm job ${jobId} OUT_OF_MEMORY: over its --mem limit` };
  }
  if (s === 'TIMEOUT' || s === 'DEADLINE') return { ...base, timedOut: true, detail: `slurm job ${jobId} ${s}: Slurm's own time limit` };
  if (NOT_THE_CANDIDATES.has(s)) return { ...base, retry: true, detail: `slurm job ${jobId} ${s} on ${info.node ?? 'its node'}` };
  if (s === 'CANCELLED') return { ...base, retry: true, detail: `slurm job ${jobId} CANCELLED by someone else (an administrator?)` };
  if (s === 'FAILED' && ((!info.exitCode && !signal) || info.reason === 'JobLaunchFailure')) {
    // Slurm could not launch it (its output file could not be opened, …): the "signal" it then reports
    // (0:53 here) is slurmstepd's error code, not a signal the command got.
    const why = `slurm job ${jobId} FAILED before the command ran (${info.reason || 'no reason given'})`;
    return { ...base, exitCode: null, signal: null, spawnError: why, detail: why };
  }
  if (s === 'COMPLETED' || s === 'FAILED' || s === 'SPECIAL_EXIT') {
    return { ...base, detail: `slurm job ${jobId} ${s}` };
  }
  return { ...base, retry: true, detail: `slurm job ${jobId} ended in unexpected state ${s}` };
}
