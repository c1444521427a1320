// Entry point of dist/hooks.cjs. Three hook bundles (hooks/src/bundles/) are
// built first and embedded here as text (scripts/build.mjs); this loader
// reads the payload, picks the smallest bundle that handles the call (an Edit
// needs no Bash guard, Stop needs neither the guard nor the path policy), and
// compiles it with a V8 code cache kept in the plugin's data folder, so a call
// skips compiling the functions it runs. Each costs a share of a Node start
// (bench/hooks.ts). The cache only spares compile work: the same source runs
// either way; anything missing, stale or unwritable falls back to a plain
// compile. The bundles never throw (main.ts).
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

/** The bundles' sources and a hash of them, put in by scripts/build.mjs. */
declare const __HOOKS_BUNDLES__: Record<Bundle, string>;
declare const __HOOKS_BUILD__: string;

type Bundle = 'all' | 'file' | 'session';
type Run = (raw: unknown) => void;

const PREFIX = 'hooks-';
const SUFFIX = '.v8cache';

/** Which bundle handles this call. Anything unusual goes to the one that handles every event. */
function pick(event: string | undefined, raw: unknown): Bundle {
  if (event === 'session-start' || event === 'stop') return 'session';
  const tool = typeof raw === 'object' && raw !== null ? (raw as { tool_name?: unknown }).tool_name : undefined;
  if (event === 'pre-tool-use' && typeof tool === 'string' && tool !== 'Bash') return 'file';
  return 'all';
}

/**
 * One cache per bundle and event (each run caches the functions it compiled),
 * per build and per Node binary: V8 checks its own version and flags but
 * matches the source only by length, so the build hash must be in the name.
 */
function cacheFile(dataDir: string | undefined, bundle: Bundle, event: string | undefined): string | null {
  if (!dataDir || !path.isAbsolute(dataDir) || !event || !/^[a-z-]{1,40}$/.test(event)) return null;
  return path.join(dataDir, `${PREFIX}${__HOOKS_BUILD__}-${bundle}-${event}-${process.version}-${process.arch}${SUFFIX}`);
}

function readCache(file: string | null): Buffer | undefined {
  if (!file) return undefined;
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Temp file + rename (a concurrent hook never reads half a cache); caches of other builds or Node versions go. */
function writeCache(file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
    const keep = `${PREFIX}${__HOOKS_BUILD__}-`;
    const tail = `-${process.version}-${process.arch}${SUFFIX}`;
    for (const f of fs.readdirSync(path.dirname(file))) {
      if (f.startsWith(PREFIX) && f.endsWith(SUFFIX) && !(f.startsWith(keep) && f.endsWith(tail))) fs.rmSync(path.join(path.dirname(file), f), { force: true });
    }
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing left to clean
    }
  }
}

function compile(bundle: Bundle, cachedData: Buffer | undefined): vm.Script {
  const source = `(function (exports, require, module, __filename, __dirname) {${__HOOKS_BUNDLES__[bundle]}\n})`;
  const filename = `${__filename}#${bundle}`;
  try {
    return new vm.Script(source, { filename, cachedData });
  } catch (err) {
    if (!cachedData) throw err;
    return new vm.Script(source, { filename });
  }
}

function readPayload(): unknown {
  try {
    return JSON.parse(fs.readFileSync(0, 'utf8'));
  } catch {
    return undefined;
  }
}

function start(): void {
  const event = process.argv[2];
  const raw = readPayload();
  const bundle = pick(event, raw);
  const file = cacheFile(process.env.CLAUDE_PLUGIN_DATA, bundle, event);
  const cached = readCache(file);
  const script = compile(bundle, cached);
  const module = { exports: {} as { run?: Run } };
  (script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void)(module.exports, require, module, __filename, __dirname);
  if (typeof module.exports.run !== 'function') throw new Error(`hooks bundle ${bundle} has no run()`);
  module.exports.run(raw);
  if (file && (!cached || script.cachedDataRejected)) writeCache(file, script.createCachedData());
}

try {
  start();
} catch (err) {
  fs.writeSync(2, `autoloop hook: internal error, hook skipped: ${err instanceof Error ? err.message : String(err)}\n`);
}
process.exitCode = 0;
