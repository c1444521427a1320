// The metric-source seam. A source turns what one benchmark sample left
// behind (its slice of the run's log, files it wrote) into numbers. One
// module per source under scripts/lib/sources/, each exporting a factory
// registered in sources/index.ts; the config chooses a source per metric.

/** What one sample left behind, as the runner hands it over. */
export interface SampleOutput {
  /** The repository (or worktree) root the benchmark ran in; relative paths resolve here. */
  cwd: string;
  /** The run's log file and this sample's byte range in it [start, end). Output written after the
   *  benchmark's main process exited is outside the range. */
  log: { file: string; start: number; end: number };
  /** When the sample started (ms since the epoch): without `before`, a result file older than this is stale. */
  startedAtMs: number;
  /** The result files as they were just before the sample started (stampFiles over the sources'
   *  `watched` paths): a file this sample wrote is one absent from it or whose stamp changed. Unlike
   *  an mtime, this trusts no clock: a file left with a future mtime (a skewed file server, a tool
   *  that sets it) stays stale, one written with an older mtime (`cp -p`, `tar x`) is fresh. */
  before?: ReadonlyMap<string, string>;
}

/** What tells a result file this sample wrote from one left before it. */
export type SampleClock = Pick<SampleOutput, 'startedAtMs' | 'before'>;

/** A reading: metric name → values. Several values mean several samples (per-iteration
 *  figures of a benchmark tool, or a benchmark that printed its own repeats). */
export type SourceReading =
  | {
    ok: true;
    metrics: Record<string, number[]>;
    warnings: string[];
    /**
     * Metrics of a multi-metric source (json, csv) it could not read while it
     * read others: the run treats each as not measured (readSample), as a
     * METRIC line that was not printed, not as a source that read nothing.
     */
    missed?: { metric: string; reason: string }[];
  }
  | { ok: false; reason: string };

export interface MetricSource {
  /** Short name used in reasons: "regex /val_loss: (…)/", "json bench.json#$.mean". */
  readonly label: string;
  /** The metrics it can give ('any': METRIC lines); set by buildSource. A failure of a source that cannot give the primary only leaves its metrics unmeasured. */
  covers?: readonly string[] | 'any';
  read(sample: SampleOutput): Promise<SourceReading>;
  /** The absolute paths of the result files this source may read that exist now, stamped before each sample. */
  watched?(cwd: string): Promise<string[]>;
}
