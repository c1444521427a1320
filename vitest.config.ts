import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-build.ts', 'test/e2e/global-setup.ts'],
    // Integration tests spawn real processes and git on a shared 2-core machine
    // that may be heavily loaded. These limits only end a hung test; no test
    // measures speed (bench/ does, as ratios).
    testTimeout: 300_000,
    hookTimeout: 900_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
