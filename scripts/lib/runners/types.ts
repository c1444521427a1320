// The runner seam: how one command (a benchmark sample, a gate, the checks)
// is executed and supervised. `local` (process group under a watchdog) is the
// default; `slurm` submits a job. Adding a runner is one module beside these
// behind this interface, registered in runners/index.ts.

export interface RunRequest {
  /** Shell command line, as configured by the user (run by `sh -c` or a job script). */
  command: string;
  cwd: string;
  /** The complete environment the command gets (fixed when the segment opened, plus AUTOLOOP_* vars). */
  env: Record<string, string>;
  timeoutS: number;
  graceS: number;
  /** Output (stdout and stderr) is appended to this file; `header` is written first. */
  logFile: string;
  header?: string;
  signal?: AbortSignal;
  /**
   * What the command must not write (absolute paths) and the exceptions inside
   * them; the local runner enforces it where the machine allows (readonly.ts).
   */
  protect?: { readOnly: string[]; writable: string[] };
  /**
   * With what `cancel`/`survivors` need to find the work again after a crash: the local runner calls it
   * first with the run's token alone (pgid 0) before the spawn, then with the group once it exists;
   * Slurm with the token before sbatch, then with the job.
   */
  onStart?: (handle: RunHandle) => void;
}

/** Enough to find the work again from another process (control repair, a later call). */
export type RunHandle =
  /** pgid 0: recorded before the spawn, the work found by its token alone. */
  | { runner: 'local'; pgid: number; start: string | null; token?: string }
  /** job_id null: recorded before sbatch; the job (if any) is found by the token in its name. */
  | { runner: 'slurm'; job_id: string | null; token?: string };

export interface RunResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  interrupted: boolean;
  spawnError: string | null;
  /** The command's own running time (queue wait excluded). */
  durationS: number;
  /** Seconds spent waiting for resources before the command started (0 locally). */
  queuedS: number;
  /** Work still alive after the kill sequence (pids, or job ids): the run is unclean. */
  survivors: string[];
  /** This command's byte range in logFile, ending when its main process exited. */
  log: { start: number; end: number };
  /** Last lines of the output (bounded), for the model when the run failed. */
  tail: string;
  /** How the command's processes were contained (local: 'readonly', 'pidns' or 'group'). */
  containment?: string;
  /** Runner-specific classification, e.g. Slurm OUT_OF_MEMORY or NODE_FAIL. */
  detail?: string;
  /** The runner asks the engine to try again without blaming the candidate (preempted, node failure). */
  retry?: boolean;
  /**
   * The command was never started because the runner's settings are wrong here (sbatch refused a
   * partition that does not exist, …): why, in one line. Comes with interrupted: nothing is measured.
   */
  configError?: string;
}

/** A result for a command that never ran (refused or failed before it started); `extra` says why. */
export function emptyResult(extra: Partial<RunResult>): RunResult {
  return {
    exitCode: null,
    signal: null,
    timedOut: false,
    interrupted: false,
    spawnError: null,
    durationS: 0,
    queuedS: 0,
    survivors: [],
    log: { start: 0, end: 0 },
    tail: '',
    ...extra,
  };
}

export interface Runner {
  readonly name: string;
  run(req: RunRequest): Promise<RunResult>;
  /** Still-alive work of a handle recorded by an earlier (possibly killed) call. */
  survivors(handle: RunHandle): Promise<string[]>;
  /** Kill or cancel everything of a handle; returns what survived. */
  cancel(handle: RunHandle, graceS: number): Promise<string[]>;
}
