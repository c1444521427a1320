// Which runner executes the benchmark and the checks: config field `runner`
// (default `local`). Adding a runner: a module beside local.ts implementing
// Runner, and one line in RUNNERS.
import { UsageError } from '../errors.ts';
import { localRunner } from './local.ts';
import type { RunHandle, Runner } from './types.ts';

export type { RunHandle, RunRequest, RunResult, Runner } from './types.ts';

const RUNNERS: Record<string, () => Runner> = {
  local: () => localRunner,
};

export const DEFAULT_RUNNER = 'local';
export const runnerNames = (): string[] => Object.keys(RUNNERS);

/** The runner a config names; an unknown name is the user's mistake (exit 2). */
export function runnerFor(name: string | undefined): Runner {
  const make = RUNNERS[name ?? DEFAULT_RUNNER];
  if (!make) throw new UsageError(`unknown runner "${name}" in config.yaml (known: ${runnerNames().join(', ')})`);
  return make();
}

/** The runner that started the work a handle names (after a crash, the config may have changed since). */
export function runnerOf(handle: RunHandle): Runner {
  return runnerFor(handle.runner);
}
