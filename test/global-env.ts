// The environment every test worker, and each process it starts, inherits.
// Runs after the set-ups that may download (the pinned CLI in
// test/e2e/global-setup.ts), before any test file.
//
// NODE_EXTRA_CA_CERTS: Node reads and parses the whole certificate file at
// every start (measured here with Debian's bundle: a bare `node -e 0` costs
// 3× its CPU with it). The suite starts thousands of Node processes (engine
// calls, benchmark samples, demos) that open no TLS connection, so the workers
// do not pass it on; the one test step that downloads (test/helpers/tools.ts's
// npm install) gets it back from AUTOLOOP_TEST_CA_CERTS. The CLI sessions never
// had it (test/e2e/claude-cli.ts's cliEnv keeps a short list), nor the hooks
// (hooks/run.sh unsets it).
//
// git's repository variables (`git rev-parse --local-env-vars`): a suite started
// from a git hook (GIT_DIR, GIT_INDEX_FILE set) or by `git bisect run` would
// have every test's `git init`, `git config` and commit go to the project's own
// repository instead of the test's temp one. Dropped for the workers.
import { spawnSync } from 'node:child_process';

export const CA_CERTS_KEPT_AS = 'AUTOLOOP_TEST_CA_CERTS';

/** The names of git's repository-local variables, as this git lists them (a fixed list where it cannot). */
export function gitRepoVars(): string[] {
  const r = spawnSync('git', ['rev-parse', '--local-env-vars'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  const listed = r.status === 0 ? r.stdout.split('\n').filter((l) => /^GIT_[A-Z_]+$/.test(l)) : [];
  return listed.length ? listed : ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_COMMON_DIR', 'GIT_CONFIG', 'GIT_CONFIG_PARAMETERS', 'GIT_CONFIG_COUNT', 'GIT_PREFIX'];
}

export default function setup(): void {
  for (const v of gitRepoVars()) delete process.env[v];
  const certs = process.env.NODE_EXTRA_CA_CERTS;
  if (certs === undefined) return;
  process.env[CA_CERTS_KEPT_AS] = certs;
  delete process.env.NODE_EXTRA_CA_CERTS;
}

/** The environment for a child that downloads: the certificates the suite was started with. */
export function downloadEnv(): NodeJS.ProcessEnv {
  const certs = process.env[CA_CERTS_KEPT_AS];
  return certs === undefined ? process.env : { ...process.env, NODE_EXTRA_CA_CERTS: certs };
}
