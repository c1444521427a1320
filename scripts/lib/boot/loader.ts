// dist/engine-loader.cjs: how the hot entry points start (run-experiment,
// log-experiment, status: every iteration starts one or two of them). Their
// dist/<name>.mjs is a two-line stub that calls boot(); the code is the
// CommonJS bundle dist/<name>.cjs, compiled with a V8 code cache so that a
// call skips parsing and compiling the functions an earlier call compiled
// (about a fifth of the engine's own CPU time in a keep, bench/engine.ts).
// Node 20 has no module.enableCompileCache, hence vm.Script + cachedData.
// The cache only spares compile work: the same source runs either way, and
// anything missing, stale, rejected or unwritable falls back to a plain compile.
//
// Where: <dist>/.v8cache/, next to the bundles. The containment binds the
// engine's folder read-only while the code under test runs, and the seal
// (tamper.ts engineFiles) watches these files like the bundles themselves.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

/** scripts/build.mjs ends each hot bundle with this line and a hash of the bundle. */
const TAG = '\n//# engine-build=';
export const CACHE_DIR = '.v8cache';
const SUFFIX = '.bin';

/**
 * One cache per entry point, call form and Node binary: a cache holds the
 * functions its first call compiled, so the one-call iteration (--description)
 * and the plain run keep separate ones. --help and failed calls write none.
 */
export function cacheName(entry: string, argv: readonly string[]): string {
  const form = argv.includes('--description') ? '-describe' : '';
  return `${entry}${form}-${process.version}-${process.arch}${SUFFIX}`;
}

/** The bundle's source and its cache key (null without a build hash: then no cache). */
function readBundle(file: string): { source: string; key: string | null } {
  const fd = fs.openSync(file, 'r');
  try {
    const st = fs.fstatSync(fd);
    const source = fs.readFileSync(fd, 'utf8');
    const at = source.lastIndexOf(TAG);
    const hash = at >= 0 ? source.slice(at + TAG.length).trim() : '';
    // V8 matches a cache to its source by length only: the key names the build.
    return { source, key: /^[0-9a-f]{16,64}$/.test(hash) ? `${hash}:${st.size}:${st.mtimeMs}` : null };
  } finally {
    fs.closeSync(fd);
  }
}

function readCache(file: string, key: string): Buffer | undefined {
  try {
    const data = fs.readFileSync(file);
    const head = Buffer.from(`${key}\n`);
    return data.subarray(0, head.length).equals(head) ? data.subarray(head.length) : undefined;
  } catch {
    return undefined;
  }
}

/** Temp file + rename (a concurrent call never reads half a cache); caches of other Node binaries go. */
function writeCache(file: string, key: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${key}\n`), data]));
    fs.renameSync(tmp, file);
    const tail = `-${process.version}-${process.arch}${SUFFIX}`;
    for (const f of fs.readdirSync(path.dirname(file))) {
      if (f.endsWith(SUFFIX) && !f.endsWith(tail)) fs.rmSync(path.join(path.dirname(file), f), { force: true });
    }
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing left to clean
    }
  }
}

function compile(filename: string, body: string, cachedData: Buffer | undefined): vm.Script {
  const source = `(function (exports, require, module, __filename, __dirname) {${body}\n})`;
  try {
    return new vm.Script(source, { filename, cachedData });
  } catch (err) {
    if (!cachedData) throw err;
    return new vm.Script(source, { filename });
  }
}

/** Run dist/<entry>.cjs (the stub's folder is `dir`); its main() sets the exit code. */
export function boot(dir: string, entry: string): void {
  const file = path.join(dir, `${entry}.cjs`);
  const { source, key } = readBundle(file);
  const argv = process.argv.slice(2);
  const cache = key && process.env.AUTOLOOP_CODE_CACHE !== '0' ? path.join(dir, CACHE_DIR, cacheName(entry, argv)) : null;
  const cached = cache && key ? readCache(cache, key) : undefined;
  const script = compile(file, source, cached);
  const module = { exports: {} };
  (script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void)(module.exports, require, module, file, dir);
  if (!cache || !key || (cached && !script.cachedDataRejected) || argv.includes('--help')) return;
  // Written as the process ends: by then the cache holds every function the call compiled.
  process.once('exit', (code) => {
    if (code === 0) writeCache(cache, key, script.createCachedData());
  });
}
