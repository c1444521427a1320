// Bundle the entry points once into a temp dir so the integration tests run
// the same kind of artifact users run (and fast: no tsx start-up per call).
import { build } from 'esbuild';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default async function setup(): Promise<() => void> {
  const root = path.resolve(import.meta.dirname, '..');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-test-dist-'));
  const entries = fs
    .readdirSync(path.join(root, 'scripts'))
    .filter((f) => f.endsWith('.ts') && f !== 'demo.ts')
    .map((f) => path.join(root, 'scripts', f));
  await build({
    entryPoints: entries,
    outdir: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    outExtension: { '.js': '.mjs' },
    entryNames: '[name]',
  });
  process.env.AUTOLOOP_TEST_DIST = out;
  return () => fs.rmSync(out, { recursive: true, force: true });
}
