// Entry point of dist/hooks.cjs. Three hook bundles (hooks/src/bundles/) are
// built next to it as dist/hooks-<name>.cjs (scripts/build.mjs); this loader
// reads the payload, picks the smallest bundle that handles the call (an Edit
// needs no Bash guard, Stop needs neither the guard nor the path policy), and
// compiles it with a V8 code cache kept in the plugin's data folder
// (scripts/lib/boot/code-cache.ts, shared with the engine's loader), so a call
// skips compiling the functions it runs. Each costs a share of a Node start
// (bench/hooks.ts). The bundles never throw (main.ts); anything that fails
// here skips the hook, never the user's tool call.
import fs from 'node:fs';
import path from 'node:path';
import { binaryTail, compile, evaluate, readBundle, readCache, writeCache, type CacheNames } from '../../scripts/lib/boot/code-cache.ts';

type Bundle = 'all' | 'file' | 'session';
type Run = (raw: unknown) => void;

const NAMES: CacheNames = { prefix: 'hooks-', suffix: '.v8cache', mkdir: false };
/** scripts/build.mjs ends each bundle with this line and a hash of the bundle. */
const TAG = '\n//# hooks-build=';

/** Which bundle handles this call. Anything unusual goes to the one that handles every event. */
function pick(event: string | undefined, raw: unknown): Bundle {
  if (event === 'session-start' || event === 'session-end' || event === 'stop') return 'session';
  const tool = typeof raw === 'object' && raw !== null ? (raw as { tool_name?: unknown }).tool_name : undefined;
  if (event === 'pre-tool-use' && typeof tool === 'string' && tool !== 'Bash') return 'file';
  return 'all';
}

/**
 * One cache per bundle and event (each run caches the functions it compiled)
 * and per Node binary, keyed on the bundle's build (code-cache.ts).
 */
function cacheFile(dataDir: string | undefined, bundle: Bundle, event: string | undefined): string | null {
  if (!dataDir || !path.isAbsolute(dataDir) || !event || !/^[a-z-]{1,40}$/.test(event)) return null;
  return path.join(dataDir, `${NAMES.prefix}${bundle}-${event}${binaryTail(NAMES.suffix)}`);
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
  const file = path.join(__dirname, `hooks-${bundle}.cjs`);
  const code = readBundle(file, TAG);
  const cache = code.key ? cacheFile(process.env.CLAUDE_PLUGIN_DATA, bundle, event) : null;
  const cached = readCache(cache, code.key);
  const script = compile(file, code.source, cached);
  const run = evaluate(script, file, __dirname).run as Run | undefined;
  if (typeof run !== 'function') throw new Error(`hooks bundle ${bundle} has no run()`);
  run(raw);
  if (cache && code.key && (!cached || script.cachedDataRejected)) writeCache(cache, code.key, script.createCachedData(), NAMES);
}

try {
  start();
} catch (err) {
  fs.writeSync(2, `autoloop hook: internal error, hook skipped: ${err instanceof Error ? err.message : String(err)}\n`);
}
// Exit now rather than when the event loop drains: everything above is synchronous
// (the answer went out with fs.writeSync), and the turn of the loop after it runs
// the scavenge V8 scheduled for the garbage of loading the bundle (measured: about
// a fifth of the call's own CPU time, bench/hooks.ts).
process.exit(0);
