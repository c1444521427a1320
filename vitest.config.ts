import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The files that take longest, longest first (a greedy longest-first schedule
// keeps the last minutes from running one long file alone beside the machine's
// other load). On a fresh clone vitest knows no durations and starts larger
// files first, but file size says little here: the 200-iteration session
// (the longest) and kept-property are among the smallest files. The order comes
// from per-file wall times in full runs and single-file runs beside other load
// (docs/measurements.md, "The test suite"); files not listed follow, in
// vitest's order (its recorded durations when it has them, else size).
// outside-restore and the one-test noise files (70-155 s beside four busy
// processes) were unlisted and ran last, alone, in the 178-file run. The first
// twenty follow a quiet full run of 208 files (2026-12-01: 292 s down to 100 s);
// forge-sweep, chain-edges and input-edges (100-160 s there) were unlisted,
// and hooks (167 s) was sixteenth.
const LONGEST_FIRST = [
  'e2e/long-session',
  'hook-shell',
  'e2e/up',
  'hooks',
  'forge-sweep',
  'chain-edges',
  'e2e/sessions-engine',
  'outside-restore',
  'noise-sweep-engine',
  'e2e/unattended',
  'judge-guard',
  'read-surfaces',
  'engine',
  'engine-slurm',
  'e2e/sessions',
  'examples',
  'runner-slurm',
  'user-files',
  'repo-wedge',
  'input-edges',
  'kept-property',
  'noise-after-win-engine',
  'candidate-forged-window',
  'domains',
  'decisions-engine',
  'e2e/install-loop',
  'engine-safety',
  'sources-bench-tools',
  'prose',
  'readme',
  'discard-copies',
  'one-call',
  'parallel',
  'engine-code-cache',
  'containment',
  'containment-chain',
  'e2e/outside-change',
  'diagnose',
  'examples-more',
  'chain',
  'kept-measured',
  'report',
  'readonly-judges',
  'candidate-guard',
  'finalize-index',
  'attribution',
  'workspace-git',
  'sources-engine',
  'experiments',
  'loose-tree',
  'e2e/interactive',
  'run-summary',
  'e2e/install',
  'finalize-walk',
].map((name) => `/test/${name}.test.ts`);

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const i = LONGEST_FIRST.findIndex((p) => f.moduleId.endsWith(p));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    // Array.prototype.sort is stable: unlisted files keep vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-build.ts', 'test/e2e/global-setup.ts', 'test/global-env.ts'],
    setupFiles: ['test/setup-tmp.ts', 'test/setup-fc.ts'],
    // Integration tests spawn real processes and git on a shared 2-core machine
    // that may be heavily loaded. These limits only end a hung test; no test
    // measures speed (bench/ does, as ratios). 15 minutes a test: on a slow host
    // (bare `node -e 0` at 100 ms) beside four busy processes, a test of eight
    // finalizes took 310 s (2026-12-02), and a hang still ends well inside CI's time.
    testTimeout: 900_000,
    hookTimeout: 900_000,
    pool: 'forks',
    // Each file in a fresh worker (isolate, the default). Reusing workers
    // (`isolate: false`) measured about 0.5-1 s of CPU less per file
    // (docs/measurements.md, "The test suite", 2026-12-01), but tests import
    // scripts/lib modules that keep state (the containment probe, gitcmd's
    // caches, held locks) and some set process.env at import, which would then
    // carry from one file into the next.
    // Four test files at a time on two cores: a file spends most of its time
    // waiting on the child processes it spawns (engine, git, the CLI), so two
    // workers leave cores idle between spawns, and on a loaded machine the
    // scheduler shares the cores per runnable process. Measured on eight
    // spawn-heavy files at load 9-14: 357 s with 2 workers, 201 s with 4. The
    // whole suite beside four busy processes (fresh clone, 2026-11-29): 1446 s
    // with 4 workers, 1294 s with 6, green both times; 2026-11-30, 83 files: 1053 s
    // with 10 (two other test runs of ours on top), green; 2026-11-30, 130 files
    // beside four busy processes: 1176 s with 10, 1127 s with 16 (4%: no longer
    // worth the memory and the extra contention).
    maxWorkers: 10,
    sequence: { sequencer: LongestFirst },
  },
});
