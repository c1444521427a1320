// The V8 code cache both loaders share: dist/engine-loader.cjs (the engine's
// hot entry points, scripts/lib/boot/loader.ts) and dist/hooks.cjs (the hooks,
// hooks/src/loader.ts). Each runs a CommonJS bundle that the build ended with
// `//# <tag>=<hash>`, compiled with vm.Script and a cache made by an earlier
// call (Node 20 has no module.enableCompileCache), so a call skips compiling
// the functions an earlier call compiled. The cache only spares compile work:
// the same source runs either way, and a cache that is missing, stale,
// rejected or unwritable means a plain compile.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

export interface Bundle {
  source: string;
  /** Build hash, size and time (null without a build hash: then no cache). */
  key: string | null;
}

/** Where a loader keeps its caches: names `<prefix>…-<node version>-<arch><suffix>` in one folder. */
export interface CacheNames {
  prefix: string;
  suffix: string;
  /** Make the folder when it is missing (the engine's, next to the bundles); else a missing folder means no cache. */
  mkdir: boolean;
}

/** The tail every cache name of this Node binary ends with. */
export const binaryTail = (suffix: string): string => `-${process.version}-${process.arch}${suffix}`;

/** The bundle's source and its cache key. V8 matches a cache to its source by length only: the key names the build. */
export function readBundle(file: string, tag: string): Bundle {
  const fd = fs.openSync(file, 'r');
  try {
    const st = fs.fstatSync(fd);
    const source = fs.readFileSync(fd, 'utf8');
    const at = source.lastIndexOf(tag);
    const hash = at >= 0 ? source.slice(at + tag.length).trim() : '';
    return { source, key: /^[0-9a-f]{16,64}$/.test(hash) ? `${hash}:${st.size}:${st.mtimeMs}` : null };
  } finally {
    fs.closeSync(fd);
  }
}

/** A cache starts with its key line; one with another key is not used. */
export function readCache(file: string | null, key: string | null): Buffer | undefined {
  if (!file || !key) return undefined;
  try {
    const data = fs.readFileSync(file);
    const head = Buffer.from(`${key}\n`);
    return data.subarray(0, head.length).equals(head) ? data.subarray(head.length) : undefined;
  } catch {
    return undefined;
  }
}

/** Temp file + rename (a concurrent call never reads half a cache); caches made by other Node binaries go. */
export function writeCache(file: string, key: string, data: Buffer, names: CacheNames): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    if (names.mkdir) fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${key}\n`), data]));
    fs.renameSync(tmp, file);
    const tail = binaryTail(names.suffix);
    for (const f of fs.readdirSync(path.dirname(file))) {
      if (f.startsWith(names.prefix) && f.endsWith(names.suffix) && !f.endsWith(tail)) fs.rmSync(path.join(path.dirname(file), f), { force: true });
    }
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing left to clean
    }
  }
}

/** How a bundle is wrapped to run as a CommonJS module; scripts/build.mjs writes its bundles wrapped already. */
export const WRAP_OPEN = '(function (exports, require, module, __filename, __dirname) {';
export const WRAP_CLOSE = '})';

/**
 * Compile the bundle as CommonJS would wrap it; a cache V8 refuses to take means a plain compile.
 * A bundle the build wrapped is compiled as read (no copy of it made to wrap it); any other is wrapped here.
 */
export function compile(filename: string, body: string, cachedData: Buffer | undefined): vm.Script {
  const source = body.startsWith(WRAP_OPEN) ? body : `${WRAP_OPEN}${body}\n${WRAP_CLOSE}`;
  try {
    return new vm.Script(source, { filename, cachedData });
  } catch (err) {
    if (!cachedData) throw err;
    return new vm.Script(source, { filename });
  }
}

/** Run the compiled bundle as a module of `dir`; its exports. */
export function evaluate(script: vm.Script, file: string, dir: string): Record<string, unknown> {
  const module = { exports: {} as Record<string, unknown> };
  (script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void)(module.exports, require, module, file, dir);
  return module.exports;
}
