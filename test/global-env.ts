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
//
// pyenv's shims: where PATH starts python3 through them, every call first runs
// pyenv's bash scripts to pick the version (measured here: 0.71 s of CPU per
// `python3 -c 0`, 0.06 s for the interpreter alone). The workers get the bin
// directory of the version the shims would start ahead of them, as `pyenv exec`
// puts it for each call: the same interpreter, without the scripts per call.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';

export const CA_CERTS_KEPT_AS = 'AUTOLOOP_TEST_CA_CERTS';

/** The names of git's repository-local variables, as this git lists them (a fixed list where it cannot). */
export function gitRepoVars(): string[] {
  const r = spawnSync('git', ['rev-parse', '--local-env-vars'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  const listed = r.status === 0 ? r.stdout.split('\n').filter((l) => /^GIT_[A-Z_]+$/.test(l)) : [];
  return listed.length ? listed : ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_COMMON_DIR', 'GIT_CONFIG', 'GIT_CONFIG_PARAMETERS', 'GIT_CONFIG_COUNT', 'GIT_PREFIX'];
}

/**
 * PATH with the bin directories of pyenv's selected versions (`pyenv prefix`,
 * one per line or colon) ahead of the first of pyenv's shim directories; PATH
 * as it is without shims on it or for a version outside pyenv's root (system).
 */
export function pastPyenvShims(pathVar: string, root: string, prefixes: string): string {
  const dirs = pathVar.split(path.delimiter);
  const at = dirs.findIndex((d) => d.startsWith(root + path.sep) && path.basename(d) === 'shims');
  const bins = prefixes.split(/[\n:]/).filter((p) => p.startsWith(root + path.sep)).map((p) => path.join(p, 'bin'));
  if (at < 0 || bins.every((b) => dirs.slice(0, at).includes(b))) return pathVar;
  return [...dirs.slice(0, at), ...bins, ...dirs.slice(at)].join(path.delimiter);
}

/** PATH for the workers: past pyenv's shims when they are on it (as a test's temp folder sees the version). */
function workerPath(pathVar: string): string {
  const root = process.env.PYENV_ROOT ?? path.join(os.homedir(), '.pyenv');
  if (!pathVar.split(path.delimiter).some((d) => d.startsWith(root + path.sep) && path.basename(d) === 'shims')) return pathVar;
  const r = spawnSync('pyenv', ['prefix'], { cwd: os.tmpdir(), encoding: 'utf8' });
  return r.status === 0 ? pastPyenvShims(pathVar, root, r.stdout.trim()) : pathVar;
}

export default function setup(): void {
  for (const v of gitRepoVars()) delete process.env[v];
  if (process.env.PATH) process.env.PATH = workerPath(process.env.PATH);
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
