// The Slurm commands the runner uses (sbatch, scontrol, squeue, sacct,
// scancel), spawned with argument arrays, and their output parsed into facts.
// Never throws for a failing command: the caller decides what a failure means.
import { spawn } from 'node:child_process';
import os from 'node:os';

export interface CmdResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The command could not be run at all (not installed, killed by our timeout). */
  error: string | null;
}

const CMD_TIMEOUT_MS = 60_000;

export function slurmCmd(bin: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CmdResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let error: string | null = null;
    const child = spawn(bin, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], timeout: CMD_TIMEOUT_MS });
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', (err) => {
      error = `${bin}: ${err.message}`;
    });
    child.stdin.on('error', () => undefined); // the command may exit before reading its input
    child.stdin.end(opts.input ?? '');
    child.on('close', (code, sig) => {
      if (sig && !error) error = `${bin} killed by ${sig}`;
      resolve({ code, stdout, stderr, error });
    });
  });
}

/** One line of a command's complaint, for a result's detail. */
export function firstLine(r: CmdResult): string {
  const text = r.error ?? (r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`);
  return text.split('\n')[0]!.slice(0, 300);
}

export interface JobInfo {
  /** Base state: PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, OUT_OF_MEMORY, ... */
  state: string;
  reason: string;
  exitCode: number | null;
  /** Signal number that ended the batch script (0 when none). */
  exitSignal: number | null;
  restarts: number;
  node: string | null;
  /** The job's comment; CANCEL_MARK when autoloop cancelled it (possibly from another process). */
  comment: string;
}

/** Set on a job before autoloop cancels it, so whoever watches it knows it was not an administrator. */
export const CANCEL_MARK = 'autoloop-cancelled';

/** A field of `scontrol show job -o` output (values we read hold no spaces). */
function field(line: string, key: string): string | null {
  const m = new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(line);
  return m ? m[1]! : null;
}

function exitPair(text: string | null): { code: number | null; sig: number | null } {
  const m = /^(\d+):(\d+)$/.exec(text ?? '');
  return m ? { code: Number(m[1]), sig: Number(m[2]) } : { code: null, sig: null };
}

/** Parse one job line of `scontrol show job -o`. */
export function parseScontrolJob(line: string): JobInfo | null {
  const raw = field(line, 'JobState');
  if (raw === null) return null;
  const { code, sig } = exitPair(field(line, 'ExitCode'));
  const node = field(line, 'BatchHost') ?? field(line, 'NodeList');
  return {
    state: raw.toUpperCase(),
    reason: field(line, 'Reason') ?? '',
    exitCode: code,
    exitSignal: sig,
    restarts: Number(field(line, 'Restarts') ?? 0) || 0,
    node: node && node !== '(null)' ? node : null,
    comment: field(line, 'Comment') ?? '',
  };
}

/** Parse `sacct -X -n -P -o State,ExitCode,Reason,NodeList` (first line). */
export function parseSacct(text: string): JobInfo | null {
  const line = text.split('\n').find((l) => l.trim() !== '');
  if (!line) return null;
  const [state = '', exit = '', reason = '', node = ''] = line.split('|');
  const { code, sig } = exitPair(exit);
  // "CANCELLED by 0": the base state is the first word.
  return { state: state.split(' ')[0]!.toUpperCase(), reason, exitCode: code, exitSignal: sig, restarts: 0, node: node || null, comment: '' };
}

export type JobLookup = { kind: 'known'; info: JobInfo } | { kind: 'gone' } | { kind: 'error'; message: string };

/**
 * What Slurm knows of a job: scontrol while the controller still holds it
 * (MinJobAge after its end), then sacct where accounting is configured.
 */
export async function lookupJob(jobId: string, env?: NodeJS.ProcessEnv): Promise<JobLookup> {
  const r = await slurmCmd('scontrol', ['show', 'job', '-o', jobId], { env });
  if (r.code === 0) {
    const info = parseScontrolJob(r.stdout);
    if (info) return { kind: 'known', info };
  }
  const invalid = /invalid job id/i.test(r.stderr + r.stdout);
  if (!invalid) return { kind: 'error', message: firstLine(r) };
  const a = await slurmCmd('sacct', ['-j', jobId, '-X', '-n', '-P', '-o', 'State,ExitCode,Reason,NodeList'], { env });
  const info = a.code === 0 ? parseSacct(a.stdout) : null;
  return info ? { kind: 'known', info } : { kind: 'gone' };
}

/**
 * sbatch could not connect to the controller (it restarts, fails over, the network blinks): the job
 * was surely not submitted, so submitting again cannot make a second one. A timeout after
 * connecting is not this: the controller may have taken the job.
 */
const NOT_DELIVERED = /Unable to contact slurm controller \(connect failure\)/i;

/** sbatch may have delivered the job before it failed (a timeout after connecting): not a refusal. */
const UNSURE = /timed out|timeout/i;

export type Submitted =
  | { jobId: string }
  /**
   * unreachable: the job surely never reached the controller (submit again).
   * refused: the controller (or sbatch itself) turned the submission down for what it asks
   * (a partition, account or resource that does not exist here), or sbatch is not installed:
   * the configuration's doing, never the command's.
   */
  | { error: string; unreachable: boolean; refused: boolean; unsure?: boolean };

/**
 * Why Slurm cannot run a job for this user, known before submitting, else null. A uid with no
 * account here (no passwd entry) is taken by sbatch, but the controller cannot make the job's
 * credential and requeues it, held, every two minutes, for ever: the run would wait for nothing.
 */
function unknownUser(): string | null {
  try {
    os.userInfo();
    return null;
  } catch {
    return `this user (uid ${process.getuid?.() ?? '?'}) has no account on this machine (no passwd entry), so Slurm cannot run a job for it (the controller cannot make its credential and requeues it, held, for ever); run the loop as a user the cluster knows, or with runner: local`;
  }
}

/** Submit a job script (given on stdin); the job id, or why not. */
export async function submitJob(args: string[], script: string, env: NodeJS.ProcessEnv): Promise<Submitted> {
  const nobodyHere = unknownUser();
  if (nobodyHere !== null) return { error: nobodyHere, unreachable: false, refused: true };
  const r = await slurmCmd('sbatch', ['--parsable', ...args], { input: script, env });
  // --parsable prints "jobid" or "jobid;cluster".
  const id = /^(\d+)(?:;\S+)?\s*$/.exec(r.stdout.trim())?.[1];
  if (r.code === 0 && id) return { jobId: id };
  const text = `${r.stderr}\n${r.stdout}`;
  const unreachable = NOT_DELIVERED.test(text);
  if (/ENOENT/.test(r.error ?? '')) return { error: 'sbatch is not installed here (runner: slurm needs the Slurm client commands on PATH)', unreachable: false, refused: true };
  // sbatch ran and said no by itself (exit 1 with its reason): nothing was queued.
  const unsure = !unreachable && UNSURE.test(text);
  if (unsure) return { error: `sbatch got no answer: ${firstLine(r)}`, unreachable, refused: false, unsure };
  const refused = r.error === null && r.code !== 0 && !unreachable && text.trim() !== '';
  return { error: `sbatch refused the job: ${firstLine(r)}`, unreachable, refused };
}

/**
 * Live jobs with this name (the runner's per-run token), from every state squeue still shows;
 * an error when the controller cannot be asked.
 */
export async function jobsNamed(name: string, env?: NodeJS.ProcessEnv): Promise<{ ids: string[] } | { error: string }> {
  const r = await slurmCmd('squeue', ['-h', '-n', name, '-t', 'all', '-o', '%i %T'], { env });
  if (r.code !== 0) return { error: firstLine(r) };
  const ids = r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([id, state]) => id && /^\d+$/.test(id) && state && LIVE.has(state.toUpperCase()))
    .map(([id]) => id!);
  return { ids: [...new Set(ids)] };
}

/**
 * Every job with this name the controller still knows, in any state (a finished one stays listed
 * for MinJobAge): after an sbatch that got no answer, whether the controller took the job.
 */
export async function jobsEverNamed(name: string, env?: NodeJS.ProcessEnv): Promise<{ ids: string[] } | { error: string }> {
  const r = await slurmCmd('squeue', ['-h', '-n', name, '-t', 'all', '-o', '%i'], { env });
  if (r.code !== 0) return { error: firstLine(r) };
  const ids = r.stdout.split('\n').map((l) => l.trim()).filter((id) => /^\d+$/.test(id));
  return { ids: [...new Set(ids)].sort((a, b) => Number(a) - Number(b)) };
}

/** States in which a job or step still holds processes or resources. */
const LIVE = new Set(['PENDING', 'RUNNING', 'SUSPENDED', 'COMPLETING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_FED', 'REQUEUE_HOLD', 'RESIZING', 'SIGNALING', 'STAGE_OUT', 'STOPPED']);

/**
 * The job and its steps that are still alive ("12 RUNNING", "12.batch").
 * When the controller cannot be asked, the job counts as alive: unknown is not clean.
 */
export async function liveWork(jobId: string, env?: NodeJS.ProcessEnv): Promise<string[]> {
  const job = await slurmCmd('squeue', ['-h', '-j', jobId, '-t', 'all', '-o', '%i %T'], { env });
  if (job.code !== 0) {
    if (/invalid job id/i.test(job.stderr)) return [];
    return [`${jobId} (unknown: ${firstLine(job)})`];
  }
  const alive = job.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([id, state]) => id === jobId && state && LIVE.has(state.toUpperCase()))
    .map(([id, state]) => `${id} ${state}`);
  const steps = await slurmCmd('squeue', ['-h', '-s', '-j', jobId, '-o', '%i'], { env });
  if (steps.code === 0) alive.push(...steps.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== ''));
  return alive;
}

/** Mark the job as ours to cancel (best effort: scancel follows whatever this says). */
export async function markCancelled(jobId: string, env?: NodeJS.ProcessEnv): Promise<void> {
  await slurmCmd('scontrol', ['update', `JobId=${jobId}`, `Comment=${CANCEL_MARK}`], { env });
}

export function scancel(jobId: string, args: string[], env?: NodeJS.ProcessEnv): Promise<CmdResult> {
  return slurmCmd('scancel', [...args, jobId], { env });
}
