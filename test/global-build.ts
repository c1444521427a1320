// Build the engine once per test run into a temp dir, exactly as users get it
// (scripts/build.mjs: minified bundles, the hot entry points booted by
// dist/engine-loader.cjs with a V8 code cache), so the integration tests run
// the artifact users run, and each of their thousands of engine calls starts
// as fast as a user's does (no tsx, no recompiling the bundle every call).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const root = path.resolve(import.meta.dirname, '..');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-test-dist-'));
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), '--outdir', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/build.mjs --outdir failed: ${r.stderr}`);
  // The hook bundles stay out: the tests that run hooks use the committed
  // dist/, and the e2e plugin copies it in beside this build (test/e2e/fixture.ts).
  for (const f of fs.readdirSync(out)) if (/^hooks(-[a-z]+)?\.cjs$/.test(f)) fs.rmSync(path.join(out, f));
  process.env.AUTOLOOP_TEST_DIST = out;
  return () => fs.rmSync(out, { recursive: true, force: true });
}
