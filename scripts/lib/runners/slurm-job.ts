// Supervising one Slurm job: its output copied into the run's log while it
// runs, the engine's own timeout, the kill sequence and its verification.
import fs from 'node:fs';
import { liveWork, lookupJob, markCancelled, scancel, type JobInfo } from './slurm-cli.js';
import { TERMINAL } from './slurm-state.js';

/** State polls start fast (short jobs end soon) and slow down to spare the controller. */
const POLL_MIN_MS = 100;
const POLL_MAX_MS = 1000;
/** After the forced kill, how long Slurm gets to end the job and its steps before we report survivors. */
const REAP_MS = 30_000;
/** A controller that cannot be asked for this long ends the supervision. */
export const UNREACHABLE_MS = 120_000;
/** Not started yet: waiting for resources, or for its node to boot. */
const QUEUED = new Set(['PENDING', 'CONFIGURING']);

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Appends what the job writes to its output file to the run's log, as it comes. */
export class OutputCopier {
  private offset = 0;
  private readonly buf = Buffer.alloc(1 << 16);
  /** Whether the output file was ever seen (the node could write it). */
  seen = false;

  constructor(
    readonly file: string,
    private readonly logFd: number,
  ) {}

  async pump(): Promise<void> {
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(this.file, 'r');
    } catch {
      return; // not created yet (queued), or not visible from here
    }
    this.seen = true;
    try {
      const size = (await fh.stat()).size;
      if (size < this.offset) this.offset = 0; // truncated: Slurm restarted the job in place
      while (this.offset < size) {
        const { bytesRead } = await fh.read(this.buf, 0, Math.min(this.buf.length, size - this.offset), this.offset);
        if (bytesRead === 0) break;
        fs.writeSync(this.logFd, this.buf, 0, bytesRead);
        this.offset += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }

  remove(): void {
    fs.rmSync(this.file, { force: true });
  }
}

/**
 * TERM to the batch script and everything it started, grace, KILL, cancel,
 * then wait for Slurm to report neither the job nor a step alive. Returns the
 * survivors ("12 COMPLETING", "12.batch"); empty when clean.
 */
export async function killJob(jobId: string, graceS: number): Promise<string[]> {
  const first = await lookupJob(jobId);
  const state = first.kind === 'known' ? first.info.state : null;
  if (state === null || !TERMINAL.has(state)) await markCancelled(jobId);
  if (state === 'PENDING') {
    await scancel(jobId, []);
  } else if (state === null || !TERMINAL.has(state)) {
    await scancel(jobId, ['--signal=TERM', '--full']);
    const graceEnd = Date.now() + Math.max(0, graceS) * 1000;
    while (Date.now() < graceEnd && (await liveWork(jobId)).length > 0) await sleep(POLL_MIN_MS);
    if ((await liveWork(jobId)).length > 0) {
      await scancel(jobId, ['--signal=KILL', '--full']);
      await scancel(jobId, []);
    }
  }
  const reapEnd = Date.now() + REAP_MS;
  for (;;) {
    const alive = await liveWork(jobId);
    if (alive.length === 0 || Date.now() >= reapEnd) return alive;
    await sleep(200);
  }
}

export interface Watch {
  /** The last state Slurm reported; null if the job vanished without one. */
  info: JobInfo | null;
  timedOut: boolean;
  interrupted: boolean;
  survivors: string[];
  /** performance.now() when the job was first seen started, and when it was seen ended. */
  startedAt: number | null;
  endedAt: number;
  unreachable: string | null;
}

/**
 * Poll the job until it ends, copying its output as it comes. The timeout
 * counts from the moment the job is seen running (queue time is not the
 * run's); on timeout or abort, the kill sequence runs and is verified.
 */
export async function watchJob(jobId: string, o: { timeoutS: number; graceS: number; signal?: AbortSignal | undefined; copier: OutputCopier }): Promise<Watch> {
  const w: Watch = { info: null, timedOut: false, interrupted: false, survivors: [], startedAt: null, endedAt: 0, unreachable: null };
  let delay = POLL_MIN_MS;
  let errorSince: number | null = null;
  for (;;) {
    const look = await lookupJob(jobId);
    await o.copier.pump();
    const now = performance.now();
    if (look.kind === 'gone') break;
    if (look.kind === 'error') {
      errorSince ??= now;
      if (now - errorSince > UNREACHABLE_MS) {
        w.unreachable = look.message;
        w.survivors = [`${jobId} (unknown: ${look.message})`];
        break;
      }
    } else {
      errorSince = null;
      if (look.info.state !== w.info?.state) delay = POLL_MIN_MS;
      w.info = look.info;
      if (w.startedAt === null && !QUEUED.has(look.info.state)) w.startedAt = now;
      if (TERMINAL.has(look.info.state)) break;
    }
    const killFor = o.signal?.aborted ? 'interrupted' : w.startedAt !== null && now - w.startedAt >= o.timeoutS * 1000 ? 'timedOut' : null;
    if (killFor) {
      w[killFor] = true;
      w.survivors = await killJob(jobId, o.graceS);
      const last = await lookupJob(jobId);
      if (last.kind === 'known') w.info = last.info;
      await o.copier.pump();
      break;
    }
    const untilTimeout = w.startedAt === null ? Infinity : w.startedAt + o.timeoutS * 1000 - now;
    await sleep(Math.max(0, Math.min(delay, untilTimeout)), o.signal);
    delay = Math.min(POLL_MAX_MS, delay * 1.5);
  }
  w.endedAt = performance.now();
  return w;
}
