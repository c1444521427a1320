// Entry point of dist/hooks.cjs. Three hook bundles (hooks/src/bundles/) are
// built next to it as dist/hooks-<name>.cjs (scripts/build.mjs); this loader
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

type Bundle = 'all' | 'file' | 'session';
type Run = (raw: unknown) => void;

const PREFIX = 'hooks-';
const SUFFIX = '.v8cache';
/** scripts/build.mjs ends each bundle with this line and a hash of the bundle. */
const TAG = '\n//# hooks-build=';

/** Which bundle handles this call. Anything unusual goes to the one that handles every event. */
function pick(event: string | undefined, raw: unknown): Bundle {
  if (event === 'session-start' || event === 'stop') return 'session';
  const tool = typeof raw === 'object' && raw !== null ? (raw as { tool_name?: unknown }).tool_name : undefined;
  if (event === 'pre-tool-use' && typeof tool === 'string' && tool !== 'Bash') return 'file';
  return 'all';
}

/**
 * One cache per bundle and event (each run caches the functions it compiled)
 * and per Node binary. V8 checks its own version and flags but matches a cache
 * to its source only by length, so the cache starts with a key line naming the
 * bundle's build hash, size and time; a cache with another key is not used.
 */
function cacheFile(dataDir: string | undefined, bundle: Bundle, event: string | undefined): string | null {
  if (!dataDir || !path.isAbsolute(dataDir) || !event || !/^[a-z-]{1,40}$/.test(event)) return null;
  return path.join(dataDir, `${PREFIX}${bundle}-${event}-${process.version}-${process.arch}${SUFFIX}`);
}

function readCache(file: string | null, key: string | null): Buffer | undefined {
  if (!file || !key) return undefined;
  try {
    const data = fs.readFileSync(file);
    const head = Buffer.from(`${key}\n`);
    return data.subarray(0, head.length).equals(head) ? data.subarray(head.length) : undefined;
  } catch {
    return undefined;
  }
}

/** Temp file + rename (a concurrent hook never reads half a cache); caches made by other Node binaries go. */
function writeCache(file: string, key: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${key}\n`), data]));
    fs.renameSync(tmp, file);
    const tail = `-${process.version}-${process.arch}${SUFFIX}`;
    for (const f of fs.readdirSync(path.dirname(file))) {
      if (f.startsWith(PREFIX) && f.endsWith(SUFFIX) && !f.endsWith(tail)) fs.rmSync(path.join(path.dirname(file), f), { force: true });
    }
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing left to clean
    }
  }
}

/** The bundle's source and its cache key (null without a build hash: then no cache). */
function readBundle(bundle: Bundle): { file: string; source: string; key: string | null } {
  const file = path.join(__dirname, `hooks-${bundle}.cjs`);
  const fd = fs.openSync(file, 'r');
  try {
    const st = fs.fstatSync(fd);
    const source = fs.readFileSync(fd, 'utf8');
    const at = source.lastIndexOf(TAG);
    const hash = at >= 0 ? source.slice(at + TAG.length).trim() : '';
    return { file, source, key: /^[0-9a-f]{16,64}$/.test(hash) ? `${hash}:${st.size}:${st.mtimeMs}` : null };
  } finally {
    fs.closeSync(fd);
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
  const code = readBundle(bundle);
  const file = code.key ? cacheFile(process.env.CLAUDE_PLUGIN_DATA, bundle, event) : null;
  const cached = readCache(file, code.key);
  const script = compile(code.file, code.source, cached);
  const module = { exports: {} as { run?: Run } };
  (script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void)(module.exports, require, module, code.file, __dirname);
  if (typeof module.exports.run !== 'function') throw new Error(`hooks bundle ${bundle} has no run()`);
  module.exports.run(raw);
  if (file && code.key && (!cached || script.cachedDataRejected)) writeCache(file, code.key, script.createCachedData());
}

try {
  start();
} catch (err) {
  fs.writeSync(2, `autoloop hook: internal error, hook skipped: ${err instanceof Error ? err.message : String(err)}\n`);
}
process.exitCode = 0;
