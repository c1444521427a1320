// Which runner executes the benchmark and the checks: config field `runner`
// (default `local`). Adding a runner: a module beside local.ts implementing
// Runner, and one line in RUNNERS.
import { UsageError } from '../errors.ts';
import type { Config } from '../schema.ts';
import { guarded } from './guardian.ts';
import { localRunner } from './local.ts';
import { slurmRunner } from './slurm.ts';
import type { RunHandle, Runner } from './types.ts';

export type { RunHandle, RunRequest, RunResult, Runner } from './types.ts';

/** What of the config a runner may read: its name and its own settings. */
export type RunnerConfig = Partial<Pick<Config, 'runner' | 'slurm'>>;

const RUNNERS: Record<string, (config: RunnerConfig) => Runner> = {
  local: () => localRunner,
  slurm: (config) => slurmRunner(config.slurm),
};

/** Runners that give each run resources of its own: candidates' samples may be timed at the same time. */
const ISOLATED = new Set(['slurm']);

export const DEFAULT_RUNNER = 'local';

/** Whether runs of this runner may be timed concurrently without disturbing each other. */
export function runsIsolated(name: string | undefined): boolean {
  return ISOLATED.has(name ?? DEFAULT_RUNNER);
}
export const runnerNames = (): string[] => Object.keys(RUNNERS);

/** The runner a config names, its runs watched by the guardian (guardian.ts); an unknown name is the user's mistake (exit 2). */
export function runnerFor(config: RunnerConfig): Runner {
  const name = config.runner ?? DEFAULT_RUNNER;
  const make = RUNNERS[name];
  if (!make) throw new UsageError(`unknown runner "${name}" in config.yaml (known: ${runnerNames().join(', ')})`);
  return guarded(make(config));
}

/** The runner that started the work a handle names (after a crash, the config may have changed since). */
export function runnerOf(handle: RunHandle, config: RunnerConfig = {}): Runner {
  return runnerFor({ ...config, runner: handle.runner });
}
