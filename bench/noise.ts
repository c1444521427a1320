// Measured rates of the decision model (scripts/lib/sampling.ts) on every noise
// family, through the same code the engine calls, beside the strict "better
// than the best" rule other tools use (one sample each, keep if better), and
// on whole segments of shapes that act across decisions (a step in the noise
// level, a whole count that repeats itself).
//   npx tsx bench/noise.ts            (TRIALS=1000 SEED=1 BEFORE=main by default)
// BEFORE=<git ref>: the same tables through that commit's decision code too
// (its scripts/lib and test/helpers, extracted under .cache/), interleaved in
// this run, "before → after"; BEFORE= (empty) measures this tree alone.
// Columns: false keeps of a change with no effect, true keeps of a real 5%
// improvement (lower is better), each with its Wilson 95% interval, and the
// mean benchmark invocations per decision (best + candidate re-measured).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as after from '../test/helpers/families.ts';
import { Session } from '../test/helpers/session-sim.ts';
import { confirmRuns } from '../scripts/lib/run-plan.ts';
import { SEGMENT_SHAPES, segmentRates } from '../test/helpers/segment-shapes.ts';
import { mulberry32 } from '../test/helpers/prng.ts';

const TRIALS = Number(process.env.TRIALS ?? 1000);
const SEED = Number(process.env.SEED ?? 1);
const SEGMENTS = Number(process.env.SEGMENTS ?? 600);
const BEFORE = process.env.BEFORE ?? 'main';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

type Build = { name: string; fam: typeof after; Session: typeof Session; confirmRuns: typeof confirmRuns };

/** The decision code of `ref`, extracted once per commit under .cache/ (inside the tree, so node_modules resolves). */
async function loadBuild(ref: string): Promise<Build> {
  const sha = spawnSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: root, encoding: 'utf8' });
  if (sha.status !== 0) {
    console.error(`bench/noise: BEFORE=${ref} is not a commit of this repository`);
    process.exit(2);
  }
  const id = sha.stdout.trim();
  const dir = path.join(root, '.cache', 'noise-before', id);
  if (!existsSync(path.join(dir, 'test', 'helpers', 'families.ts'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tar = path.join(dir, 'src.tar');
    for (const args of [['git', 'archive', '-o', tar, id, 'scripts/lib', 'test/helpers'], ['tar', '-xf', tar, '-C', dir]]) {
      const r = spawnSync(args[0] as string, args.slice(1), { cwd: root, encoding: 'utf8' });
      if (r.status !== 0) {
        console.error(`bench/noise: ${args.join(' ')} failed: ${r.stderr.trim()}`);
        process.exit(2);
      }
    }
  }
  const fam = (await import(path.join(dir, 'test/helpers/families.ts'))) as typeof after;
  const sim = (await import(path.join(dir, 'test/helpers/session-sim.ts'))) as { Session: typeof Session };
  const plan = (await import(path.join(dir, 'scripts/lib/run-plan.ts'))) as { confirmRuns: typeof confirmRuns };
  return { name: ref, fam, Session: sim.Session, confirmRuns: plan.confirmRuns };
}

const now: Build = { name: 'this tree', fam: after, Session, confirmRuns };
const builds: Build[] = BEFORE ? [await loadBuild(BEFORE), now] : [now];

const p = (x: number) => (100 * x).toFixed(1).padStart(5);
const ci = (k: number, n: number) => {
  const [a, b] = after.wilson(k, n);
  return `${p(k / n)}% [${p(a)},${p(b)}]`;
};
const arrow = (xs: string[]) => xs.join(' → ');

function row(f: after.Family, i: number, cost_s: number): { line: string; inv: number } {
  const cells = builds.map((b) => {
    const u1 = mulberry32(SEED * 1000 + 2 * i);
    const u2 = mulberry32(SEED * 1000 + 2 * i + 1);
    const fam = b.fam.FAMILIES.find((x) => x.name === f.name) ?? (b.fam.DETERMINISTIC.name === f.name ? b.fam.DETERMINISTIC : f);
    const n0 = b.fam.rate(() => b.fam.trial(fam, u1, 0, { cost_s }), TRIALS);
    const n5 = b.fam.rate(() => b.fam.trial(fam, u2, 0.05, { cost_s }), TRIALS);
    return { n0, n5 };
  });
  const u1 = mulberry32(SEED * 1000 + 2 * i);
  const u2 = mulberry32(SEED * 1000 + 2 * i + 1);
  const s0 = after.rate(() => after.strictTrial(f, u1, 0), TRIALS);
  const s5 = after.rate(() => after.strictTrial(f, u2, 0.05), TRIALS);
  const last = cells[cells.length - 1] as (typeof cells)[number];
  const inv = (last.n0.invocations + last.n5.invocations) / 2;
  const line =
    `${f.name.padEnd(36)} ${arrow(cells.map((c) => ci(c.n0.kept, TRIALS)))}  ${arrow(cells.map((c) => ci(c.n5.kept, TRIALS)))}  ` +
    `${arrow(cells.map((c) => `${c.n0.invocations.toFixed(1)}/${c.n5.invocations.toFixed(1)}`))}` +
    ` | ${ci(s0.kept, TRIALS)} ${ci(s5.kept, TRIALS)}`;
  return { line, inv };
}

console.log(BEFORE ? `before → after: ${BEFORE} → this tree (each cell: the same seeds through both)` : 'this tree');
const header = `${'family'.padEnd(36)} false keep (null)  true keep (5%)  inv null/5% | strict: false keep       true keep`;
for (const [title, cost] of [
  ['cheap benchmark (1 s per invocation, automatic budget: up to 16 pairs)', 1],
  ['5-minute benchmark (300 s per invocation, automatic budget 30 min: up to 3 pairs)', 300],
] as const) {
  console.log(`\n${title}; ${TRIALS} trials per cell, seed ${SEED}`);
  console.log(header);
  let invSum = 0;
  const fams = cost === 1 ? [...after.FAMILIES, after.DETERMINISTIC] : after.FAMILIES.slice(0, 3);
  fams.forEach((f, i) => {
    const r = row(f, i + (cost === 1 ? 0 : 50), cost);
    invSum += r.inv;
    console.log(r.line);
  });
  if (cost === 300) {
    const mean = invSum / fams.length;
    console.log(`decisions per hour at 300 s per invocation (this tree): ${(3600 / (mean * cost)).toFixed(2)} (mean ${mean.toFixed(1)} invocations per decision)`);
  }
}

console.log(`\nwhole segments (baseline, 3 no-effect changes, a real gain), cheap benchmark; ${SEGMENTS} segments per shape, seed ${SEED}`);
console.log(`${'shape'.padEnd(50)} no effect kept        real gain kept        inv per null decision`);
SEGMENT_SHAPES.forEach((s, i) => {
  const cells = builds.map((b) => {
    const metric = s.opts(0).metric ?? 'time_ms';
    return segmentRates(b.Session, s, SEGMENTS, SEED * 1e7 + i * 1e5, b.confirmRuns({ metric, unit: '', repeats: 'auto' }));
  });
  console.log(
    `${s.name.padEnd(50)} ${arrow(cells.map((c) => ci(c.nullKept, c.nullDecisions)))}  ${arrow(cells.map((c) => ci(c.realKept, c.segments)))}  ` +
      arrow(cells.map((c) => (c.invocations / c.nullDecisions).toFixed(1))),
  );
});
