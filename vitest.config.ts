import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The files that take longest, longest first (a greedy longest-first schedule
// keeps the last minutes from running one long file alone beside the machine's
// other load). On a fresh clone vitest knows no durations and starts larger
// files first, but file size says little here: the 200-iteration session
// (the longest) and kept-property are among the smallest files. The order comes
// from per-file wall times in full runs and single-file runs beside other load
// (docs/measurements.md, "The test suite"); files not listed follow, in
// vitest's order (its recorded durations when it has them, else size). The
// list is the 80 longest files of a fresh-clone run beside four busy
// processes (2026-12-01, 178 files): one-test files of 70-100 s such as
// noise-sweep-engine were unlisted, started last, and ran alone at the end.
const LONGEST_FIRST = [
  'e2e/long-session',
  'hook-shell',
  'hooks',
  'forge-sweep',
  'chain-edges',
  'judge-guard',
  'e2e/up',
  'e2e/sessions-engine',
  'engine',
  'e2e/unattended',
  'repo-wedge',
  'e2e/session-handover',
  'user-files',
  'e2e/sessions',
  'decisions-engine',
  'input-edges',
  'engine-slurm',
  'read-surfaces',
  'surfaces-edges',
  'outside-restore',
  'engine-safety',
  'examples',
  'parallel',
  'domains',
  'ties-walk',
  'e2e/install',
  'candidate-crash',
  'runner-slurm',
  'ties-anchor',
  'one-call',
  'noise-sweep-engine',
  'candidate-guard',
  'chain-ended',
  'finalize',
  'kept-property',
  'discard-copies',
  'session-lock',
  'examples-more',
  'finalize-index',
  'engine-code-cache',
  'candidate-forged-window',
  'e2e/install-loop',
  'damaged-state',
  'chain',
  'domains-init',
  'noise-after-win-engine',
  'kept-measured',
  'noise-sweep',
  'best-tree-git',
  'init-edges',
  'guardrail-noise',
  'candidate-beside',
  'candidate-guard-kill',
  'prose',
  'sources-engine',
  'readonly-judges',
  'ties-few-pairs',
  'forge-history',
  'noise-after-win',
  'init-rollback',
  'e2e/outside-change',
  'workspace-git',
  'guardrail-missing-sources',
  'git-kept-kill',
  'best-tree-race',
  'readme',
  'lost-commit',
  'noise-after-small-win',
  'dashboard-live',
  'run-summary',
  'finalize-dirty',
  'forge-graph',
  'report',
  'attribution',
  'guardrail-paired-engine',
  'sources-coverage',
  'hook-handover',
  'sources-diverged',
  'forge-dotgit',
  'guardrail-noise-engine',
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
    setupFiles: ['test/setup-tmp.ts'],
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
    // with 10 (two other test runs of ours on top), green; 2026-11-30, 130 files
    // beside four busy processes: 1176 s with 10, 1127 s with 16 (4%); 2026-12-01,
    // 178 files: 1146 s with 10 (and the old order), so 12: a worker's share of
    // the cores grows with the number of runnable workers beside the load.
    maxWorkers: 12,
    sequence: { sequencer: LongestFirst },
  },
});
