// `runner: slurm`: each run is one Slurm batch job. The job runs the command
// in the run's cwd, which must be on a filesystem the compute node shares with
// this machine (as on clusters); its output is copied into the run's log while
// it runs. The engine's own timeout applies from the job's start (Slurm's time
// limit is only a coarse backstop), with scancel TERM, grace, KILL, verified.
// Interruptions that are the cluster's doing (node failure, preemption, an
// administrator's scancel) are resubmitted here up to max_requeues, then
// reported with retry: true: never the candidate's fault.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as z from '../zod.ts';
import { lazySchema } from '../zod.ts';
import { openLog, readTail } from './log.ts';
import { crashPoint } from '../faults.ts';
import { jobsEverNamed, jobsNamed, liveWork, submitJob, type Submitted } from './slurm-cli.js';
import { killJob, OutputCopier, sleep, UNREACHABLE_MS, watchJob, type Watch } from './slurm-job.js';
import { jobName } from './slurm-name.ts';
import { CWD_EXIT, CWD_MARK, jobScript, judgeJob, outputPattern, ownedFlag, sbatchArgs, type Verdict } from './slurm-state.js';
import { emptyResult, type RunHandle, type RunRequest, type RunResult, type Runner } from './types.js';

const word = (what: string, re: RegExp, example: string) => z.string().check(z.regex(re, `${what} must look like ${example}`));

export const SlurmSpec = lazySchema(() => z.strictObject({
  partition: z.optional(word('partition', /^[\w.,-]+$/, 'gpu or cpu,short')),
  /** Slurm's own limit (minutes, or [D-]HH:MM:SS); by default the run's timeout + grace + 2 min. */
  time: z.optional(word('time', /^(\d+-)?\d+(:\d{1,2}){0,2}$/, '30, 1:30:00 or 2-00:00:00')),
  cpus: z.optional(z.int().check(z.positive())),
  mem: z.optional(word('mem', /^\d+[KMGT]?$/i, '512M or 16G')),
  gres: z.optional(word('gres', /^[\w.:,-]+$/, 'gpu:1 or gpu:a100:2')),
  sbatch_args: z._default(z.array(z.string().check(z.minLength(1), z.regex(/^[^\n\r]*$/, 'sbatch_args entries are single lines'))), []).check(z.superRefine((args, ctx) => {
      for (const a of args) {
        const f = ownedFlag(a);
        if (f) ctx.addIssue({ code: 'custom', message: `sbatch_args may not set ${f}: the Slurm runner sets it itself` });
      }
    })),
  /** Resubmissions after a node failure, preemption or administrator's cancel. */
  max_requeues: z._default(z.int().check(z.minimum(0), z.maximum(100)), 2),
  /** A queue wait longer than this is reported in the run's detail. */
  max_queue_wait_s: z.optional(z.number().check(z.positive())),
}));
export type SlurmSpec = z.infer<typeof SlurmSpec>;

/** Working directories a compute node could not enter (cached: refuse at once next time). */
const hiddenCwds = new Map<string, string>();

interface Attempt {
  jobId: string;
  verdict: Verdict;
  watch: Watch;
  log: { start: number; end: number };
  tail: string;
  queuedS: number;
}

/** Between submissions while sbatch cannot reach the controller, and between asks after it got no answer. */
const RESUBMIT_MS = 2000;

/**
 * Submit the job. While sbatch cannot reach the controller, again, for as long as a running job's
 * controller may be out of reach (UNREACHABLE_MS). When sbatch got no answer (a timeout after
 * connecting), the controller may have taken the job: it is looked for by its name (the run's
 * token) and adopted if there, else submitted again; never two jobs for one run. Each step is noted
 * in the log.
 */
async function submit(args: string[], req: RunRequest, fd: number, name: string): Promise<Submitted> {
  const since = performance.now();
  const late = (): boolean => req.signal?.aborted === true || performance.now() - since > UNREACHABLE_MS;
  const env = { ...process.env, ...req.env };
  for (;;) {
    const sub = await submitJob(args, jobScript(req.command, path.resolve(req.cwd)), env);
    if (!('error' in sub)) return sub;
    if (sub.unsure) {
      fs.writeSync(fd, `slurm runner: ${sub.error}; looking for job ${name}\n`);
      const found = await findNamed(name, env, late, req.signal);
      if ('jobId' in found) {
        fs.writeSync(fd, `slurm runner: the controller took it as job ${found.jobId}\n`);
        return found;
      }
      if ('unknown' in found) return { error: `${sub.error}; and Slurm could not be asked whether it took the job: ${found.unknown}`, unreachable: true, refused: false };
      fs.writeSync(fd, `slurm runner: the controller never took it; submitting again\n`);
    } else if (!sub.unreachable) return sub;
    else fs.writeSync(fd, `slurm runner: sbatch could not reach the controller (${sub.error}); trying again\n`);
    if (late()) return sub;
    await sleep(RESUBMIT_MS, req.signal);
  }
}

/** The job named `name` if the controller has it; none; or unknown while it cannot be asked. */
async function findNamed(name: string, env: NodeJS.ProcessEnv, late: () => boolean, signal?: AbortSignal): Promise<{ jobId: string } | { none: true } | { unknown: string }> {
  for (;;) {
    const r = await jobsEverNamed(name, env);
    if (!('error' in r)) return r.ids[0] !== undefined ? { jobId: r.ids[0] } : { none: true };
    if (late()) return { unknown: r.error };
    await sleep(RESUBMIT_MS, signal);
  }
}

type NotSubmitted = { failed: string } | { unreachable: string } | { refused: string };

/** Submit one job (named by the run's token) and see it through; or why it was not submitted. */
async function attempt(spec: SlurmSpec, req: RunRequest, fd: number, token: string): Promise<Attempt | NotSubmitted> {
  // A name of its own per attempt (no %j: the folder's own name is escaped for Slurm's pattern, see outputPattern).
  const outFile = path.join(path.dirname(path.resolve(req.logFile)), `.slurm-${randomBytes(6).toString('hex')}.out`);
  const args = sbatchArgs(spec, { cwd: req.cwd, outFile: outputPattern(outFile), timeoutS: req.timeoutS, graceS: req.graceS, token });
  const submittedAt = performance.now();
  const sub = await submit(args, req, fd, jobName(token));
  if ('error' in sub) return sub.unreachable ? { unreachable: sub.error } : sub.refused ? { refused: sub.error } : { failed: sub.error };
  // The kill -9 tests: the job exists, its id is known to no one but Slurm (its name carries the token).
  crashPoint('slurm-submitted');
  const start = fs.fstatSync(fd).size;
  const { jobId } = sub;
  try {
    req.onStart?.({ runner: 'slurm', job_id: jobId, token });
  } catch {
    // a failing callback must not leave the job unsupervised
  }
  const copier = new OutputCopier(outFile, fd);
  const watch = await watchJob(jobId, { timeoutS: req.timeoutS, graceS: req.graceS, signal: req.signal, copier });
  const end = fs.fstatSync(fd).size;
  copier.remove();
  const tail = readTail(req.logFile, start, end);
  const queuedS = ((watch.startedAt ?? watch.endedAt) - submittedAt) / 1000;
  const ours = { timedOut: watch.timedOut, interrupted: watch.interrupted, memoryKill: /exceeded (job )?memory limit/i.test(tail) };
  let verdict: Verdict;
  if (watch.info) verdict = judgeJob(jobId, watch.info, ours);
  else {
    const why = watch.unreachable ? `Slurm could not be asked about job ${jobId}: ${watch.unreachable}` : `slurm job ${jobId} vanished from the queue before its end was seen`;
    verdict = { exitCode: null, signal: null, timedOut: ours.timedOut, interrupted: ours.interrupted, retry: true, spawnError: null, detail: why };
  }
  // The job ended by itself, yet its output file never appeared here (Slurm creates it at launch, even
  // empty): the node wrote it into a folder this machine does not see. Not a run that printed nothing.
  if (!copier.seen && watch.info && !verdict.retry && !verdict.interrupted && !verdict.timedOut) {
    verdict = { ...verdict, exitCode: null, signal: null, spawnError: `slurm job ${jobId} wrote no output to ${path.dirname(outFile)}: is it on a filesystem shared with the compute node?` };
  }
  return { jobId, verdict, watch, log: { start, end }, tail, queuedS };
}

/** The node could not enter the working directory: the reason, else null. */
function hiddenCwd(a: Attempt, cwd: string): string | null {
  if (a.verdict.exitCode !== CWD_EXIT || !a.tail.includes(CWD_MARK)) return null;
  const host = a.watch.info?.node ?? 'the compute node';
  return `${host} cannot see ${cwd}: the Slurm runner needs the worktree on a filesystem shared with the compute nodes`;
}

function toResult(a: Attempt, spec: SlurmSpec, requeued: string[], queuedS: number): RunResult {
  const notes = [a.verdict.detail];
  if (requeued.length > 0) notes.push(`after ${requeued.length} requeue(s): ${requeued.join('; ')}`);
  if (spec.max_queue_wait_s !== undefined && a.queuedS > spec.max_queue_wait_s) {
    notes.push(`queued ${Math.round(a.queuedS)} s, over max_queue_wait_s ${spec.max_queue_wait_s}`);
  }
  const started = a.watch.startedAt;
  return {
    exitCode: a.verdict.exitCode,
    signal: a.verdict.signal,
    timedOut: a.verdict.timedOut,
    interrupted: a.verdict.interrupted,
    spawnError: a.verdict.spawnError,
    durationS: started === null ? 0 : (a.watch.endedAt - started) / 1000,
    queuedS,
    survivors: a.watch.survivors,
    log: a.log,
    tail: a.tail,
    detail: notes.join('; '),
    ...(a.verdict.retry ? { retry: true } : {}),
  };
}

async function run(spec: SlurmSpec, req: RunRequest): Promise<RunResult> {
  let fd: number;
  try {
    fd = openLog(req.logFile, req.header);
  } catch (err) {
    return emptyResult({ spawnError: `cannot open log ${req.logFile}: ${err instanceof Error ? err.message : String(err)}` });
  }
  try {
    const at = fs.fstatSync(fd).size;
    const refuse = (reason: string, extra: Partial<RunResult> = {}): RunResult => {
      fs.writeSync(fd, `slurm runner: not started: ${reason}\n`);
      return emptyResult({ spawnError: reason, log: { start: at, end: at }, ...extra });
    };
    if (req.signal?.aborted) return refuse('interrupted before start', { spawnError: null, interrupted: true });
    const cwd = path.resolve(req.cwd);
    const known = hiddenCwds.get(cwd);
    if (known) return refuse(known);
    if (!fs.statSync(cwd, { throwIfNoEntry: false })?.isDirectory()) return refuse(`cwd is not a directory: ${cwd}`);
    const logDir = path.dirname(path.resolve(req.logFile));
    if (logDir.includes('\\')) return refuse(`Slurm cannot write a job's output under a path holding a backslash: ${logDir}`);
    // Recorded before any sbatch (journal first): a job whose id the engine never learns is still found by its name.
    const token = randomBytes(8).toString('hex');
    try {
      req.onStart?.({ runner: 'slurm', job_id: null, token });
    } catch {
      // the job is still watched by this call; only a crash could lose it
    }
    const requeued: string[] = [];
    let queuedS = 0;
    for (;;) {
      const a = await attempt(spec, req, fd, token);
      if ('failed' in a) return refuse(a.failed, { queuedS });
      // Nothing ran: the settings are wrong for this cluster. Not the command's failure, and no result.
      if ('refused' in a) return refuse(a.refused, { spawnError: null, interrupted: true, configError: a.refused, queuedS });
      // Not the candidate's doing: the engine takes the sample again, then calls the run interrupted.
      if ('unreachable' in a) {
        if (req.signal?.aborted) return refuse('interrupted before start', { spawnError: null, interrupted: true });
        return refuse(a.unreachable, { spawnError: null, retry: true, detail: a.unreachable, queuedS });
      }
      queuedS += a.queuedS;
      const hidden = hiddenCwd(a, cwd);
      if (hidden) {
        hiddenCwds.set(cwd, hidden);
        return { ...toResult(a, spec, requeued, queuedS), exitCode: null, spawnError: hidden };
      }
      if (!a.verdict.retry || requeued.length >= spec.max_requeues || req.signal?.aborted) return toResult(a, spec, requeued, queuedS);
      requeued.push(a.verdict.detail);
      fs.writeSync(fd, `\nslurm runner: ${a.verdict.detail}; resubmitting (requeue ${requeued.length} of ${spec.max_requeues})\n`);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The live jobs a handle names: its job id, and every job carrying its token in its name
 * (one submitted whose id was never recorded). Unknown when the controller cannot be asked.
 */
async function jobsOf(handle: RunHandle): Promise<{ ids: string[]; unknown: string[] }> {
  if (handle.runner !== 'slurm') throw new Error(`the slurm runner got a ${handle.runner} handle`);
  const ids = new Set(handle.job_id ? [handle.job_id] : []);
  const unknown: string[] = [];
  if (handle.token) {
    const named = await jobsNamed(jobName(handle.token));
    if ('error' in named) unknown.push(`${jobName(handle.token)} (unknown: ${named.error})`);
    else named.ids.forEach((id) => ids.add(id));
  }
  return { ids: [...ids], unknown };
}

async function survivors(handle: RunHandle): Promise<string[]> {
  const { ids, unknown } = await jobsOf(handle);
  for (const id of ids) unknown.push(...(await liveWork(id)));
  return unknown;
}

async function cancel(handle: RunHandle, graceS: number): Promise<string[]> {
  const { ids, unknown } = await jobsOf(handle);
  for (const id of ids) unknown.push(...(await killJob(id, graceS)));
  return unknown;
}

export function slurmRunner(input: z.input<typeof SlurmSpec> = {}): Runner {
  const spec = SlurmSpec.parse(input);
  return {
    name: 'slurm',
    run: (req) => run(spec, req),
    survivors,
    cancel,
  };
}
