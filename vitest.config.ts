import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The 200-iteration session is the longest file (about 16 min at load 10-14,
// where the next longest takes 6-7 min) but one of the smallest, and on a fresh
// clone vitest starts larger files first: it would start last and run alone at
// the end. It starts first instead, beside everything else.
const FIRST = ['test/e2e/long-session.test.ts'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = (f: TestSpecification): boolean => FIRST.some((p) => f.moduleId.endsWith(p));
    return [...sorted.filter(first), ...sorted.filter((f) => !first(f))];
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-build.ts', 'test/e2e/global-setup.ts', 'test/global-env.ts'],
    // Integration tests spawn real processes and git on a shared 2-core machine
    // that may be heavily loaded. These limits only end a hung test; no test
    // measures speed (bench/ does, as ratios).
    testTimeout: 300_000,
    hookTimeout: 900_000,
    pool: 'forks',
    // Four test files at a time on two cores: a file spends most of its time
    // waiting on the child processes it spawns (engine, git, the CLI), so two
    // workers leave cores idle between spawns, and on a loaded machine the
    // scheduler shares the cores per runnable process. Measured on eight
    // spawn-heavy files at load 9-14: 357 s with 2 workers, 201 s with 4. The
    // whole suite beside four busy processes (fresh clone, 2026-11-29): 1446 s
    // with 4 workers, 1294 s with 6, green both times; 2026-11-30, 83 files: 1053 s
    // with 10 (two other test runs of ours on top), green.
    maxWorkers: 10,
    sequence: { sequencer: LongestFirst },
  },
});
