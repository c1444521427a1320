// dist/engine-loader.cjs: how the hot entry points start (run-experiment,
// log-experiment, status: every iteration starts one or two of them). Their
// dist/<name>.mjs links to a two-line stub that calls boot(); the code is the
// CommonJS bundle dist/<name>.cjs, compiled with a V8 code cache
// (code-cache.ts, shared with the hooks' loader) so that a call skips parsing
// and compiling the functions an earlier call compiled (about a fifth of the
// engine's own CPU time in a keep, bench/engine.ts).
//
// Where: <dist>/.v8cache/, next to the bundles. The containment binds the
// engine's folder read-only while the code under test runs; where it cannot
// (the fallback modes), the seal (tamper.ts engineCaches) deletes a cache that
// changed or appeared while the code under test ran.
import path from 'node:path';
import type vm from 'node:vm';
import { binaryTail, compile, evaluate, readBundle, readCache, writeCache, type Bundle, type CacheNames } from './code-cache.ts';
import { zygote as waitForCall } from './zygote.ts';
import { holding, type Command } from './hold.ts';

/** scripts/build.mjs ends each hot bundle with this line and a hash of the bundle. */
const TAG = '\n//# engine-build=';
export const CACHE_DIR = '.v8cache';
const NAMES: CacheNames = { prefix: '', suffix: '.bin', mkdir: true };

/**
 * One cache per entry point, call form and Node binary: a cache holds the
 * functions its first call compiled, so the one-call iteration (--description)
 * and the plain run keep separate ones. --help and failed calls write none.
 */
export function cacheName(entry: string, argv: readonly string[]): string {
  const form = argv.includes('--description') ? '-describe' : '';
  return `${entry}${form}${binaryTail(NAMES.suffix)}`;
}

/** Run dist/<entry>.cjs (the stub's folder is `dir`); its main() sets the exit code. */
export function boot(dir: string, entry: string): void {
  run(dir, entry, process.argv.slice(2), readBundle(path.join(dir, `${entry}.cjs`), TAG));
}

/** dist/zygote.cjs: a pre-started engine that waits for its call from the MCP server (zygote.ts). */
export function zygote(dir: string): void {
  // Each bundle compiled ahead with the cache of its usual call (run-experiment: the one-call
  // iteration) and evaluated ahead: its main() waits to be started (hold.ts).
  const usual = (entry: string): string[] => (entry === 'run-experiment' ? ['--description'] : []);
  waitForCall(dir, TAG, {
    prepare: (entry, bundle) => evaluated(dir, entry, usual(entry), bundle),
    // The call's environment may name another cache (AUTOLOOP_CODE_CACHE=0): then a fresh start, as the CLI's.
    run: (entry, argv, bundle, ready) => (ready.start && ready.cache === cacheFile(dir, entry, usual(entry), bundle.key) ? startHeld(ready, argv) : run(dir, entry, argv, bundle)),
    // Second evaluations of the iteration's bundles, whose modules the call never uses.
    rehearsal: (prepared) => {
      const run = rehearsalCommand(dir, 'run-experiment', prepared.get('run-experiment'));
      return run ? { run, log: rehearsalCommand(dir, 'log-experiment', prepared.get('log-experiment')) } : null;
    },
  });
}

/**
 * An entry's command from a second evaluation of the script its call will run (rehearsal.ts): its
 * compiled code is the call's, its module state its own. Null for a bundle not of this build, or one that fails.
 */
function rehearsalCommand(dir: string, entry: string, ready: Evaluated | undefined): Command | null {
  if (!ready?.start) return null;
  try {
    const held = holding(() => evaluate(ready.script, path.join(dir, `${entry}.cjs`), dir));
    for (const work of held.warm) warm(work);
    return held.command;
  } catch {
    return null;
  }
}

interface Evaluated extends Compiled {
  /** The held main of the evaluated bundle; null if its evaluation failed (the call then runs it anew, as the CLI would). */
  start: (() => void) | null;
}

function evaluated(dir: string, entry: string, argv: readonly string[], bundle: Bundle): Evaluated {
  const ready = compiled(dir, entry, argv, bundle);
  let start: (() => void) | null = null;
  // Only a bundle of this build (tagged: its main() holds) runs its top level ahead: any other file's would run before its call.
  if (bundle.key === null) return { ...ready, start };
  try {
    const held = holding(() => evaluate(ready.script, path.join(dir, `${entry}.cjs`), dir));
    for (const work of held.warm) warm(work);
    start = held.start;
  } catch {
    // An error at the top level is the call's to report, from a fresh evaluation.
  }
  return { ...ready, start };
}

/** Work done ahead is only ahead: if it fails, the call does it (and reports what fails). */
function warm(work: () => void): void {
  try {
    work();
  } catch {
    // the call's to meet
  }
}

/** Start a bundle evaluated ahead; its cache is written as run() writes one. */
function startHeld(ready: Evaluated, argv: readonly string[]): void {
  cacheOnExit(ready, argv);
  ready.start?.();
}

interface Compiled {
  key: string | null;
  cache: string | null;
  cached: Buffer | undefined;
  script: vm.Script;
}

const cacheFile = (dir: string, entry: string, argv: readonly string[], key: string | null): string | null =>
  key && process.env.AUTOLOOP_CODE_CACHE !== '0' ? path.join(dir, CACHE_DIR, cacheName(entry, argv)) : null;

function compiled(dir: string, entry: string, argv: readonly string[], { source, key }: Bundle): Compiled {
  const cache = cacheFile(dir, entry, argv, key);
  const cached = readCache(cache, key);
  return { key, cache, cached, script: compile(path.join(dir, `${entry}.cjs`), source, cached) };
}

function run(dir: string, entry: string, argv: readonly string[], bundle: Bundle, ready?: Compiled): void {
  const file = path.join(dir, `${entry}.cjs`);
  const compiledNow = ready && ready.cache === cacheFile(dir, entry, argv, bundle.key) ? ready : compiled(dir, entry, argv, bundle);
  evaluate(compiledNow.script, file, dir);
  cacheOnExit(compiledNow, argv);
}

/** Write the cache as the process ends (by then it holds every function the call compiled), unless one was taken. */
function cacheOnExit({ key, cache, cached, script }: Compiled, argv: readonly string[]): void {
  if (!cache || !key || (cached && !script.cachedDataRejected) || argv.includes('--help')) return;
  process.once('exit', (code) => {
    if (code === 0) writeCache(cache, key, script.createCachedData(), NAMES);
  });
}
