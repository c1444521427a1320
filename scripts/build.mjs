// Bundles every entry point (scripts/*.ts, and the hooks: hooks/src/loader.ts) into dist/.
// The bundles are committed: a plugin install runs no build step, and a bundle
// starts far faster than tsx (see bench/). `--check` rebuilds into a temp dir
// and fails when the committed bundles are stale.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
// --outdir DIR: build into DIR instead of dist/ (a test of the bundles as built).
const at = process.argv.indexOf('--outdir');
const into = at > 0 ? path.resolve(process.argv[at + 1] ?? '') : null;

// The entry points every iteration starts (one or two per iteration), and
// init-experiment (every experiment and chain step, and most tests, start it), are
// CommonJS bundles run by dist/engine-loader.cjs with a V8 code cache
// (scripts/lib/boot/loader.ts); their dist/<name>.mjs is a stub that boots
// them, so every documented command stays the same. The others are plain ES modules.
const HOT = ['run-experiment', 'log-experiment', 'status', 'init-experiment'];
const entries = fs
  .readdirSync(path.join(root, 'scripts'))
  .filter((f) => f.endsWith('.ts') && f !== 'demo.ts' && !HOT.includes(f.slice(0, -3)))
  .map((f) => path.join(root, 'scripts', f));
// The hooks bundle is CommonJS: Node starts a .cjs file faster than an ES module,
// and it runs on every tool call of an active loop. dist/hooks.cjs is a loader
// (hooks/src/loader.ts) that runs the one bundle a call needs, among
// dist/hooks-<name>.cjs (one per hooks/src/bundles/*.ts).
const hookBundles = path.join(root, 'hooks', 'src', 'bundles');
const hookLoader = path.join(root, 'hooks', 'src', 'loader.ts');

// Which source the bundles come from (scripts/lib/source-key.ts): every engine
// source file and the zod version, hashed. A bundle trusts a cache of a value
// that only a bundle of the same source validated (config.parsed.json).
function sourceKey() {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) h.update(`${path.relative(root, p)}\0`).update(fs.readFileSync(p)).update('\0');
    }
  };
  walk(path.join(root, 'scripts'));
  h.update(JSON.parse(fs.readFileSync(createRequire(import.meta.url).resolve('zod/package.json'), 'utf8')).version);
  return h.digest('hex').slice(0, 16);
}
const define = { __AUTOLOOP_SOURCE__: JSON.stringify(sourceKey()) };

// Build into a temp dir, then swap it in: a test or a hook running meanwhile
// never sees a half-empty dist/.
const outdir = into ?? fs.mkdtempSync(path.join(check ? os.tmpdir() : root, check ? 'autoloop-build-' : '.dist-'));
if (into) fs.mkdirSync(into, { recursive: true });

await build({
  entryPoints: entries,
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  // Some bundled CommonJS dependencies call require(); give ESM output one.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  outExtension: { '.js': '.mjs' },
  entryNames: '[name]',
  define,
});
// In a CommonJS bundle esbuild turns each file's `import fs from 'node:fs'` into
// its own copy of the module object (__toESM: a getter per property, ~100 for fs),
// some 90 copies per engine bundle: about a tenth of its start-up CPU and much of
// the garbage its start-up collects. Our sources import these built-ins by default
// only (`import fs from 'node:fs'`); each such import goes instead to one module
// per built-in that requires it once and exports it as it is. (A named import of
// one of them fails the build: "No matching export in builtin-once:…".)
const builtinOnce = {
  name: 'builtin-once',
  setup(b) {
    b.onResolve({ filter: /^node:(fs|path|os|fs\/promises)$/ }, (a) => (a.kind === 'import-statement' && !a.importer.includes('node_modules') ? { path: a.path, namespace: 'builtin-once' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'builtin-once' }, (a) => ({ contents: `export default require(${JSON.stringify(a.path)});`, loader: 'js' }));
  },
};
// node:crypto and node:child_process cost a tenth of a call's start-up to load
// (with the streams and sockets they bring), and --help, a refusal or status may
// never call them: our named imports of their functions (createHash, spawn, …)
// go to wrappers that load the module on the first call. node:module too: only
// the ES-module fallback of yaml.ts and loose-object.ts calls createRequire, so a
// bundle never loads it (~0.2 ms a call). Only named imports of
// functions: a default import or a class fails the build ("No matching export").
const builtinLazy = {
  name: 'builtin-lazy',
  setup(b) {
    const own = createRequire(import.meta.url);
    b.onResolve({ filter: /^node:(crypto|child_process|module)$/ }, (a) => (a.kind === 'import-statement' && !a.importer.includes('node_modules') ? { path: a.path, namespace: 'builtin-lazy' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'builtin-lazy' }, (a) => {
      const mod = own(a.path);
      const names = Object.keys(mod).filter((k) => /^[a-z]\w*$/.test(k) && typeof Object.getOwnPropertyDescriptor(mod, k).value === 'function');
      const calls = names.map((k) => `export function ${k}(...a){return m().${k}(...a)}`).join('\n');
      return { contents: `let l;const m=()=>l??=require(${JSON.stringify(a.path)});\n${calls}`, loader: 'js' };
    });
  },
};
// The CommonJS wrapper, as code-cache.ts compiles a bundle (WRAP_OPEN, WRAP_CLOSE there).
const WRAP_OPEN = '(function (exports, require, module, __filename, __dirname) {';
const WRAP_CLOSE = '})';
const cjs = { define, bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify: true, legalComments: 'none', logLevel: 'warning', plugins: [builtinOnce, builtinLazy] };
/**
 * A CommonJS bundle ending with `//# <tag>=<hash>`: the loaders key their code cache on the hash.
 * Its code is written inside the function wrapper the loaders compile it in
 * (scripts/lib/boot/code-cache.ts WRAP): the file's text is the script as it is,
 * not a 0.5 MB string built anew each call to wrap it.
 */
async function tagged(entry, file, tag) {
  // yaml.ts reads import.meta only when there is no require (ES modules): silent here.
  const code = (await build({ ...cjs, entryPoints: [entry], write: false, logOverride: { 'empty-import-meta': 'silent' } })).outputFiles[0].text;
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  fs.writeFileSync(file, `${WRAP_OPEN}${code}\n${WRAP_CLOSE}\n//# ${tag}=${hash}\n`);
}
await build({ ...cjs, entryPoints: [path.join(root, 'scripts', 'lib', 'boot', 'loader.ts')], outfile: path.join(outdir, 'engine-loader.cjs') });
for (const name of HOT) {
  await tagged(path.join(root, 'scripts', `${name}.ts`), path.join(outdir, `${name}.cjs`), 'engine-build');
  // dist/<name>.mjs (the documented command) is a link to <name>.main.cjs: Node runs a
  // linked entry point by its target's name, so as CommonJS, which starts 10–20 ms sooner
  // than an ES module (bench/engine.ts). The stub is valid as either: a copy that lost
  // the link (a copy that follows links) runs as an ES module through the second branch.
  const stub = `if (typeof require == 'function') require('./engine-loader.cjs').boot(__dirname, '${name}');\n`
    + `else import('./engine-loader.cjs').then((m) => (m.boot ?? m.default.boot)(process.argv[1].replace(/[\\\\/][^\\\\/]*$/, ''), '${name}'));\n`;
  fs.writeFileSync(path.join(outdir, `${name}.main.cjs`), stub);
  fs.symlinkSync(`${name}.main.cjs`, path.join(outdir, `${name}.mjs`));
}
// dist/zygote.cjs: the MCP server's pre-started engine (scripts/lib/boot/zygote.ts).
fs.writeFileSync(path.join(outdir, 'zygote.cjs'), "require('./engine-loader.cjs').zygote(__dirname);\n");
if (fs.existsSync(hookLoader)) {
  // The loader keys its code cache on the hash (hooks/src/loader.ts).
  for (const f of fs.readdirSync(hookBundles).filter((n) => n.endsWith('.ts')).sort()) {
    await tagged(path.join(hookBundles, f), path.join(outdir, `hooks-${f.slice(0, -3)}.cjs`), 'hooks-build');
  }
  await build({ ...cjs, entryPoints: [hookLoader], outfile: path.join(outdir, 'hooks.cjs') });
}

if (into) {
  // built in place
} else if (!check) {
  const dist = path.join(root, 'dist');
  const old = `${dist}.old-${process.pid}`;
  if (fs.existsSync(dist)) fs.renameSync(dist, old);
  fs.renameSync(outdir, dist);
  fs.rmSync(old, { recursive: true, force: true });
} else {
  const stale = [];
  const committed = path.join(root, 'dist');
  const fresh = fs.readdirSync(outdir).sort();
  // Dot entries (the engine's code cache, .v8cache/) are made by running the engine, not by the build.
  const have = fs.existsSync(committed) ? fs.readdirSync(committed).filter((f) => !f.startsWith('.')).sort() : [];
  for (const f of new Set([...fresh, ...have])) {
    const a = path.join(outdir, f);
    const b = path.join(committed, f);
    if (!fs.existsSync(a) || !fs.existsSync(b) || !fs.readFileSync(a).equals(fs.readFileSync(b))) stale.push(f);
  }
  fs.rmSync(outdir, { recursive: true, force: true });
  if (stale.length) {
    console.error(`dist is stale (${stale.join(', ')}): run npm run build and commit dist/`);
    process.exit(1);
  }
  console.log('dist is up to date');
}
