// What an opened experiment is, for the modules that only read it (summary,
// report): kept apart from experiment.ts, which opens one, so they need not
// import the code that uses them.
import type { Config } from './schema.ts';
import type { ExperimentPaths } from './paths.ts';
import type { State } from './reduce.ts';

export interface Experiment {
  root: string;
  paths: ExperimentPaths;
  config: Config;
  state: State;
  /** Ledger problems found while reading (torn or invalid lines). */
  warnings: string[];
}
