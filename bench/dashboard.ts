// Dashboard speed on long histories: the whole command a person waits for
// (a spawned process, the bundle dist/dashboard.mjs when it exists, else tsx),
// terminal view and --html, with 100 and 10,000 runs in the ledger.
// Targets: 10,000 runs ready in under 1 s, and at most 2x the 100-run time.
//   npx tsx bench/dashboard.ts
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { syntheticLedger, writeSynthetic } from '../test/helpers/synthetic-ledger.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = path.join(ROOT, 'dist', 'dashboard.mjs');
const CMD = fs.existsSync(BUNDLE) ? [BUNDLE] : ['--import', 'tsx', path.join(ROOT, 'scripts', 'dashboard.ts')];
const N = 11;

function timeMs(args: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [...CMD, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '1' }, maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`dashboard ${args.join(' ')} exited ${r.status}: ${String(r.stderr)}`);
  return ms;
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/**
 * Medians of n timings of two commands, taken alternately after one warm-up of
 * each (file cache): on a shared machine, load that comes and goes then weighs
 * on both sides of the ratio alike.
 */
function medians(n: number, a: () => number, b: () => number): [number, number] {
  a();
  b();
  const xa: number[] = [];
  const xb: number[] = [];
  for (let i = 0; i < n; i++) {
    xa.push(a());
    xb.push(b());
  }
  return [med(xa), med(xb)];
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-bench-dash-'));
try {
  const dirs: Record<number, string> = {};
  for (const runs of [100, 10_000]) {
    const dir = path.join(work, `r${runs}`);
    // As the engine leaves it: a ledger, its config and a current state cache.
    writeSynthetic(dir, syntheticLedger({ runs, seed: 42 }));
    dirs[runs] = dir;
  }
  console.log(`dashboard.command ${fs.existsSync(BUNDLE) ? 'dist/dashboard.mjs' : 'tsx scripts/dashboard.ts (no bundle: run node scripts/build.mjs)'}; median of ${N}`);
  const modes: Record<string, (dir: string) => string[]> = {
    terminal: (dir) => ['--cwd', dir, '--width', '120'],
    html: (dir) => ['--cwd', dir, '--html', path.join(dir, 'dashboard.html')],
  };
  let ok = true;
  for (const [mode, args] of Object.entries(modes)) {
    const [small, big] = medians(N, () => timeMs(args(dirs[100] as string)), () => timeMs(args(dirs[10_000] as string)));
    const ratio = big / small;
    const pass = big < 1000 && ratio <= 2;
    ok &&= pass;
    console.log(`dashboard.${mode}_10000_ms ${Math.round(big)} (100 runs: ${Math.round(small)} ms; ratio ${ratio.toFixed(2)}, target <= 2; limit 1000 ms)${pass ? '' : ' MISSED'}`);
  }
  const html = fs.statSync(path.join(dirs[10_000] as string, 'dashboard.html')).size;
  console.log(`dashboard.html_10000_bytes ${html}`);
  if (!ok) process.exitCode = 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
