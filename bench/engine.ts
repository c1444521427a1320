// Engine figures, each a ratio against a baseline measured in the same run
// (these machines are shared and noisy, so absolute times mean little):
//  - start-up of each bundled entry point vs bare `node -e 0` (target ≤ 3x), and its size
//  - one iteration of a deterministic benchmark vs bare `node -e 0` (target ≤ 3x),
//    the engine's code cache warmed by a first iteration (scripts/lib/boot/loader.ts),
//    keep and discard, in both forms: the one call (run-experiment --description)
//    and the separate run + log, with the git processes and fsyncs each makes; again through the
//    plugin's MCP server (a pre-started engine process per call), iteration.mcp.*
//  - one iteration with 3,000 and 20,000 loose objects in the repository vs none (the check after each phase)
//  - one iteration with 300 small packs of the loop's vs the same objects merged into one (pack-merge.ts)
//  - init-experiment (a new experiment, a new segment) and status vs bare `node -e 0`, with their git processes
//  - bytes the model reads in an ordinary iteration, --json, both forms (target ≤ 500)
//  - every call with 100,000 runs in the ledger vs 100 (target ≤ 1.5x): run + log,
//    status, status after the state cache is lost, dashboard (terminal) and
//    dashboard --html, control explain, candidate list, the status line and
//    report, and status, dashboard and explain again in parallel mode (a closed candidate's
//    folder per run, two open), a ledger-locked call (control stop / resume) while a
//    candidate's command runs (its seal live), with the dashboard's peak memory; the caches' sizes; and
//    (no target: it reads every line) status with every cache lost; a candidate from start to log in
//    parallel mode (its guard checks the shared ledger after each command) at 100,000 runs vs 100
//  - hook cost: without .autoloop/ (no node at all) and with it (target ≤ 2x node -e 0)
//  - CPU per benchmark sample (engine and every process it starts, a ~3 ms shell benchmark),
//    as a share of a bare `node -e 0`'s CPU: a run of 32 samples less a run of 2, over 30; again
//    with a 20 MB protected judge (checked after every sample); per containment mode
// AUTOLOOP_BENCH_DIST=<dir> measures other bundles (e.g. an older build) the same way.
// AUTOLOOP_BENCH_BEFORE=<dir> also measures a second build (e.g. a copy of dist/ before a
// change) in the same run, interleaved, and prints its start-up, iteration and 100,000-run figures alongside.
// AUTOLOOP_BENCH_RUNS=<n> replaces 100,000 (a quicker look).
// AUTOLOOP_BENCH_ONLY=<a,b> runs only these sections: startup, iteration (with mcp), mcp, loose, packs, calls, history, candidate, bytes, hooks, samples.
// AUTOLOOP_BENCH_LOOSE=<n,m,...> the loose objects of the loose section (0,3000,20000; the first is the reference).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { saveConfig } from '../scripts/lib/config.ts';
import { writeBlob } from '../scripts/lib/loose-object.ts';
import { mergeLoopPacks, noteLoopPack } from '../scripts/lib/pack-merge.ts';
import { acquireLock } from '../scripts/lib/lock.ts';
import { Config, type LedgerLine } from '../scripts/lib/schema.ts';
import { McpClient } from '../test/helpers/mcp-client.ts';
import { benchRepo, childrenCpuMs, engineCall, EXPERIMENT, GIT_ENV, keepBaseline } from './fixture.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = process.env.AUTOLOOP_BENCH_DIST ? path.resolve(process.env.AUTOLOOP_BENCH_DIST) : path.join(ROOT, 'dist');
const BIG = Number(process.env.AUTOLOOP_BENCH_RUNS ?? 100_000);
const BEFORE = process.env.AUTOLOOP_BENCH_BEFORE ? path.resolve(process.env.AUTOLOOP_BENCH_BEFORE) : null;
for (const d of BEFORE ? [DIST, BEFORE] : [DIST]) {
  if (!fs.existsSync(path.join(d, 'status.mjs'))) {
    console.error(`bench/engine: ${d} holds no bundles: run npm run build first`);
    process.exit(2);
  }
}

function timeMs(cmd: string, args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, env: opts.env ?? process.env, stdio: ['pipe', 'ignore', 'ignore'] });
  // EPIPE: the hook shim exits without reading stdin when there is no loop (by design).
  if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') throw r.error;
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Median of n timings, after one warm-up (file cache). */
function median(n: number, f: () => number): number {
  f();
  const xs = Array.from({ length: n }, f).sort((a, b) => a - b);
  return xs[Math.floor(n / 2)] ?? NaN;
}

const ONLY = new Set((process.env.AUTOLOOP_BENCH_ONLY ?? '').split(',').filter(Boolean));
const section = (name: string) => ONLY.size === 0 || ONLY.has(name);
const r2 = (x: number) => x.toFixed(2);
const N = 15;
const bare = median(N, () => timeMs(process.execPath, ['-e', '0']));
console.log(`baseline.node_e0_ms ${bare.toFixed(1)}`);

/** Medians of n timings of each function, taken in turns so that passing load weighs on all alike. */
function medians(n: number, fs_: (() => number)[]): number[] {
  fs_.forEach((f) => f());
  const xs = fs_.map(() => [] as number[]);
  for (let i = 0; i < n; i++) fs_.forEach((f, k) => xs[k]!.push(f()));
  return xs.map((v) => v.sort((a, b) => a - b)[Math.floor(n / 2)] ?? NaN);
}

// 1. start-up overhead of every entry point (and of the same entry point in BEFORE)
if (section('startup')) for (const f of fs.readdirSync(DIST).filter((x) => x.endsWith('.mjs') && x !== 'hooks.mjs').sort()) {
  const dists = BEFORE && fs.existsSync(path.join(BEFORE, f)) ? [DIST, BEFORE] : [DIST];
  // A bare start in every turn too: the load of a shared machine moves within a run.
  const [base, ms, old] = medians(N, [() => timeMs(process.execPath, ['-e', '0']), ...dists.map((d) => () => timeMs(process.execPath, [path.join(d, f), '--help']))]);
  const kb = (d: string) => (fs.statSync(path.join(d, f)).size / 1024).toFixed(0);
  const was = old === undefined ? '' : ` [before: ${r2(old / base!)}x, ${old.toFixed(1)} ms, ${kb(BEFORE!)} KB]`;
  console.log(`startup.${f.replace('.mjs', '')} ${r2(ms! / base!)}x node -e 0 (${ms!.toFixed(1)} ms vs ${base!.toFixed(1)} ms; ${kb(DIST)} KB; target <= 3x)${was}`);
}


// A repository with an experiment whose ledger holds `runs` results (0: just its baseline).
function repoWithRuns(runs: number, dist = DIST, parallel = 1): string {
  const dir = benchRepo(`autoloop-bench-${runs}-`);
  const limits = ['--scope', 'src/**', '--max-runs', 'none', '--plateau', 'none', ...(parallel > 1 ? ['--parallel', String(parallel)] : [])];
  engineCall(dist, dir, 'init-experiment', [...EXPERIMENT, ...limits], process.env);
  const exp = path.join(dir, '.autoloop', 'experiments', 'b');
  const cfg = Config.parse({ name: 'b', metric: 'score', direction: 'lower', command: 'sh bench.sh', scope: ['src/**'], max_runs: null, plateau: null, parallel });
  saveConfig(path.join(exp, 'config.yaml'), cfg);
  // The keeps' commit is the branch's head: the engine checks that the branch is where it last kept.
  const head = String(spawnSync('git', ['rev-parse', 'HEAD'], { cwd: dir }).stdout).trim();
  const lines: string[] = [];
  for (let i = 1; i <= runs; i++) {
    const keep = i === 1 || i % 10 === 0;
    const v = 1000 - i * 0.01 + (i % 7);
    const line: LedgerLine = {
      type: 'result', ts: new Date(Date.now() - (runs - i) * 60_000).toISOString(), segment: 1, run_id: `r${String(i).padStart(4, '0')}`,
      status: 'ok', verdict: keep ? 'keep' : 'discard', primary: v, samples: [v], metrics: { score: v }, description: `idea number ${i} about the hot loop`,
      hypothesis: null, reason: keep ? 'improved' : 'not better', delta: keep ? 1 : -1, duration_s: 1.2, files: ['src/v.txt'], rebaseline: false, evidence: [],
      invocations: [], decision: null, net_lines_removed: 0, gates: [], kind: keep ? 'improved' : 'none',
    };
    lines.push(JSON.stringify(line));
    lines.push(JSON.stringify({ type: 'event', ts: line.ts, segment: 1, event: keep ? 'committed' : 'reverted', run_id: line.run_id, data: keep ? { commit: head } : {} }));
  }
  if (runs === 0) {
    keepBaseline(dist, dir);
    return dir;
  }
  fs.appendFileSync(path.join(exp, 'ledger.jsonl'), lines.join('\n') + '\n');
  fs.rmSync(path.join(exp, 'state.json'), { force: true });
  return dir;
}


/** `runs` closed candidates (one per run, each with its folder, as the engine leaves them) and two open ones. */
function addCandidates(dir: string, runs: number): void {
  const cands = path.join(dir, '.autoloop', 'experiments', 'b', 'candidates');
  const base = String(spawnSync('git', ['rev-parse', 'HEAD'], { cwd: dir }).stdout).trim();
  for (let i = 1; i <= runs + 2; i++) {
    const id = `c${i}`;
    const open = i > runs;
    fs.mkdirSync(path.join(cands, id), { recursive: true });
    const c = { version: 1, id, path: path.join(cands, id, 'tree'), base, opened_at: new Date().toISOString(), status: open ? 'open' : 'closed', run_id: open ? null : `r${String(i).padStart(4, '0')}`, pending: null, closed_reason: open ? null : 'logged' };
    fs.writeFileSync(path.join(cands, id, 'candidate.json'), JSON.stringify(c));
  }
}

/** The two open candidates of addCandidates closed, as the engine closes one (saved closed, then its mark removed). */
function closeOpenCandidates(dir: string, runs: number): void {
  const cands = path.join(dir, '.autoloop', 'experiments', 'b', 'candidates');
  for (const id of [`c${runs + 1}`, `c${runs + 2}`]) {
    const file = path.join(cands, id, 'candidate.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), status: 'closed', closed_reason: 'closed by hand' }));
    fs.rmSync(path.join(cands, 'open', id), { force: true });
  }
}

/**
 * The first open candidate of addCandidates as while its command runs (in another engine process):
 * a run record `running`, the ledger's seal kept on disk, its lock held by this process. Returns its end.
 */
function liveCandidateCommand(dir: string, runs: number): () => void {
  const exp = path.join(dir, '.autoloop', 'experiments', 'b');
  const id = `c${runs + 1}`;
  const run = 'r999999';
  const file = path.join(exp, 'candidates', id, 'candidate.json');
  const c = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(file, JSON.stringify({ ...c, run_id: run }));
  const runFolder = path.join(exp, 'runs', run);
  fs.mkdirSync(runFolder, { recursive: true });
  const rec = { run_id: run, segment: 1, started_at: new Date().toISOString(), finished_at: null, phase: 'running', status: null, primary: null, samples: [], metrics: {}, candidate: { id, base: c.base, best_run: null, best_samples: [], best_metrics: {} } };
  fs.writeFileSync(path.join(runFolder, 'result.json'), JSON.stringify(rec));
  const text = fs.readFileSync(path.join(exp, 'ledger.jsonl'), 'utf8');
  fs.writeFileSync(path.join(runFolder, 'ledger-seal.json'), JSON.stringify({ length: Buffer.byteLength(text), tail: createHash('sha256').update(text.slice(-64)).digest('hex') }));
  const lock = acquireLock(path.join(exp, 'candidates', id, 'lock'), 'bench');
  return () => {
    lock.release();
    fs.rmSync(runFolder, { recursive: true, force: true });
    fs.writeFileSync(file, JSON.stringify(c));
  };
}

type Form = 'one' | 'two';

// One iteration: write the value under test, then the one call, or run and log. Returns the wall time and the counts it made.
function iteration(dir: string, value: number, json = false, dist = DIST, form: Form = 'two'): { ms: number; git: number | null; fsync: number | null; bytes: number } {
  fs.writeFileSync(path.join(dir, 'src', 'v.txt'), String(value));
  const counts = path.join(dir, '.counts');
  fs.rmSync(counts, { force: true });
  const env = { ...process.env, ...GIT_ENV, AUTOLOOP_COUNT_IO: counts };
  const extra = json ? ['--json'] : [];
  const describe = ['--description', `value ${value}`];
  const call = (f: string, a: string[]) => spawnSync(process.execPath, [path.join(dist, `${f}.mjs`), ...a, '--cwd', dir, ...extra], { env, encoding: 'utf8' });
  const t = process.hrtime.bigint();
  const outs = form === 'one' ? [call('run-experiment', describe)] : [call('run-experiment', []), call('log-experiment', describe)];
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (outs.some((o) => o.status !== 0)) throw new Error(`iteration failed: ${outs.map((o) => o.stderr).join('')}`);
  const tally = { git: 0, fsync: 0 } as Record<string, number>;
  let counted = false;
  try {
    for (const l of fs.readFileSync(counts, 'utf8').split('\n')) {
      const [k, n] = l.split(' ');
      if (k && n) {
        tally[k] = (tally[k] ?? 0) + Number(n);
        counted = true;
      }
    }
  } catch {
    /* bundles without the counters */
  }
  const bytes = outs.reduce((acc, o) => acc + Buffer.byteLength(o.stdout + o.stderr), 0);
  return { ms, git: counted ? tally.git! : null, fsync: counted ? tally.fsync! : null, bytes };
}

/** Keep and discard iterations, alternately, each against a fresh bare node start; medians. */
type Iterations = { keep: number; discard: number; bare: number; keepIo: string; discardIo: string };
function iterations(dir: string, n: number, dist = DIST): Iterations {
  return iterationsOf([{ dir, dist }], n)[0]!;
}

/** As iterations, for several (repository, bundles, form) setups measured in turns. */
function iterationsOf(setups: { dir: string; dist: string; form?: Form }[], n: number): Iterations[] {
  const runs = setups.map(() => ({ keep: [] as number[], discard: [] as number[], keepIo: '', discardIo: '' }));
  const bares: number[] = [];
  let v = -1000;
  const io = (r: { git: number | null; fsync: number | null }) => (r.git === null ? 'not counted' : `${r.git} git processes, ${r.fsync} fsyncs`);
  setups.forEach((s) => iteration(s.dir, v--, false, s.dist, s.form)); // warm-up (file cache)
  for (let i = 0; i < n; i++) {
    bares.push(timeMs(process.execPath, ['-e', '0']));
    setups.forEach((s, k) => {
      const r = runs[k]!;
      const kept = iteration(s.dir, v, false, s.dist, s.form);
      r.keep.push(kept.ms);
      r.keepIo = io(kept);
      const d = iteration(s.dir, 1e9, false, s.dist, s.form);
      r.discard.push(d.ms);
      r.discardIo = io(d);
    });
    v--;
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN;
  return runs.map((r) => ({ keep: med(r.keep), discard: med(r.discard), bare: med(bares), keepIo: r.keepIo, discardIo: r.discardIo }));
}

// 2. one iteration vs bare node, in both forms (and with BEFORE's bundles), all in turns
if (section('iteration')) {
  const setups = [
    { dir: repoWithRuns(0), dist: DIST, form: 'one' as Form },
    { dir: repoWithRuns(0), dist: DIST, form: 'two' as Form },
    ...(BEFORE ? [{ dir: repoWithRuns(0, BEFORE), dist: BEFORE, form: 'one' as Form }, { dir: repoWithRuns(0, BEFORE), dist: BEFORE, form: 'two' as Form }] : []),
  ];
  const [one, two, oldOne, oldTwo] = iterationsOf(setups, 9);
  const was = (old: Iterations | undefined, k: 'keep' | 'discard') => (old ? ` [before: ${r2(old[k] / old.bare)}x, ${old[k].toFixed(0)} ms; ${old[`${k}Io`]}]` : '');
  for (const [name, r, old] of [['one_call', one!, oldOne], ['run_log', two!, oldTwo]] as const) {
    console.log(`iteration.${name}.keep ${r2(r.keep / r.bare)}x node -e 0 (${r.keep.toFixed(0)} ms vs ${r.bare.toFixed(0)} ms; ${r.keepIo}; target <= 3x)${was(old, 'keep')}`);
    console.log(`iteration.${name}.discard ${r2(r.discard / r.bare)}x node -e 0 (${r.discard.toFixed(0)} ms; ${r.discardIo}; target <= 3x)${was(old, 'discard')}`);
  }
  for (const s of setups) fs.rmSync(s.dir, { recursive: true, force: true });
}

// 2d. the same iteration through the plugin's MCP server (dist/mcp.mjs over stdio, as Claude Code starts it):
// each call runs in a pre-started engine process (a zygote). Timed from the tools/call line sent to its answer;
// the model's think time before each call (here 1 s: a loaded machine starts Node slowly) lets the next zygote
// start, as it does in a session (the server starts it once a call has answered).
// The CLI's one call in the same turns, and a bare `node -e 0` in every turn.
if (section('iteration') || section('mcp')) {
  // AUTOLOOP_BENCH_THINK=<ms>: a longer turn lets the next zygote finish its rehearsal (boot/rehearsal.ts) before the call.
  const think = () => new Promise((r) => setTimeout(r, Number(process.env.AUTOLOOP_BENCH_THINK ?? 1000)));
  // With AUTOLOOP_BENCH_BEFORE, the same two servers of that build too, in the same turns.
  const builds = [DIST, ...(BEFORE ? [BEFORE] : [])];
  const servers = builds.flatMap((dist) =>
    ['one', 'two'].map((form) => {
      const dir = repoWithRuns(0, dist);
      const env = { ...process.env, ...GIT_ENV, AUTOLOOP_COUNT_IO: path.join(dir, '.counts') };
      return { form: form as Form, dist, dir, client: new McpClient(path.join(dist, 'mcp.mjs'), { cwd: dir, env }) };
    }),
  );
  for (const s of servers) await s.client.initialize();
  const io = (dir: string) => {
    const tally: Record<string, number> = { git: 0, fsync: 0 };
    for (const l of fs.readFileSync(path.join(dir, '.counts'), 'utf8').split('\n')) {
      const [k, n] = l.split(' ');
      if (k && n) tally[k] = (tally[k] ?? 0) + Number(n);
    }
    return `${tally.git} git processes, ${tally.fsync} fsyncs`;
  };
  const viaMcp = async (s: (typeof servers)[number], value: number) => {
    fs.writeFileSync(path.join(s.dir, 'src', 'v.txt'), String(value));
    fs.rmSync(path.join(s.dir, '.counts'), { force: true });
    let ms = 0;
    const calls: [string, string[]][] = s.form === 'one' ? [['run', ['--description', `value ${value}`]]] : [['run', []], ['log', ['--description', `value ${value}`]]];
    for (const [tool, args] of calls) {
      await think();
      const t = process.hrtime.bigint();
      const a = await s.client.call(tool, args);
      ms += Number(process.hrtime.bigint() - t) / 1e6;
      if (a.isError) throw new Error(`mcp ${tool} failed: ${a.text}`);
    }
    return { ms, io: io(s.dir) };
  };
  const cli = repoWithRuns(0);
  type Row = { keep: number[]; discard: number[]; keepIo: string; discardIo: string };
  const row = (): Row => ({ keep: [], discard: [], keepIo: '', discardIo: '' });
  const bares: number[] = [];
  const rows = { cli: row(), one: row(), two: row(), beforeone: row(), beforetwo: row() };
  const rowOf = (s: (typeof servers)[number]) => rows[`${s.dist === DIST ? '' : 'before'}${s.form}`];
  let v = -1000;
  for (const s of servers) await viaMcp(s, v--); // warm-up (file cache, code cache)
  iteration(cli, v--, false, DIST, 'one');
  for (let i = 0; i < 9; i++, v--) {
    bares.push(timeMs(process.execPath, ['-e', '0']));
    rows.cli.keep.push(iteration(cli, v, false, DIST, 'one').ms);
    rows.cli.discard.push(iteration(cli, 1e9, false, DIST, 'one').ms);
    for (const s of servers) {
      const r = rowOf(s);
      const k = await viaMcp(s, v);
      r.keep.push(k.ms);
      r.keepIo = k.io;
      const d = await viaMcp(s, 1e9);
      r.discard.push(d.ms);
      r.discardIo = d.io;
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN;
  const bareMs = med(bares);
  const cliKeep = med(rows.cli.keep);
  for (const s of servers.filter((x) => x.dist === DIST)) {
    const r = rowOf(s);
    const old = BEFORE ? rows[`before${s.form}`] : null;
    const name = s.form === 'one' ? 'one_call' : 'run_log';
    for (const k of ['keep', 'discard'] as const) {
      const ms = med(r[k]);
      const extra = s.form === 'one' && k === 'keep' ? `; the CLI's one call in the same turns: ${r2(cliKeep / bareMs)}x, ${cliKeep.toFixed(0)} ms, discard ${r2(med(rows.cli.discard) / bareMs)}x` : '';
      const was = old ? ` [before: ${r2(med(old[k]) / bareMs)}x, ${med(old[k]).toFixed(0)} ms]` : '';
      console.log(`iteration.mcp.${name}.${k} ${r2(ms / bareMs)}x node -e 0 (${ms.toFixed(0)} ms vs ${bareMs.toFixed(0)} ms; ${r[`${k}Io`]}; target <= 3x${extra})${was}`);
    }
  }
  for (const s of servers) {
    await s.client.close();
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
  fs.rmSync(cli, { recursive: true, force: true });
}

// 2c. one iteration with many loose objects in the repository (a long loop leaves one per kept file, and
// the check after each phase stats every one: loose-forged.ts; loose-pack.ts packs them at PACK_AT), vs
// the same with none; with BEFORE's bundles in the same turns. The first iteration of each (the one that
// packs) is timed apart.
if (section('loose')) {
  const counts = (process.env.AUTOLOOP_BENCH_LOOSE ?? '0,3000,20000').split(',').map(Number);
  // One set of blobs nothing names, hard-linked into each repository (written once: 20,000 files take a while).
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-bench-loose-'));
  const max = Math.max(...counts);
  for (let i = 0; i < max; i++) writeBlob(store, Buffer.from(`an old version ${i} of a kept file\n`), 40);
  const ids = fs.readdirSync(store).flatMap((d) => fs.readdirSync(path.join(store, d)).map((n) => [d, n] as const));
  const withLoose = (n: number, dist: string) => {
    const dir = repoWithRuns(0, dist);
    for (const [d, f] of ids.slice(0, n)) {
      fs.mkdirSync(path.join(dir, '.git/objects', d), { recursive: true });
      fs.linkSync(path.join(store, d, f), path.join(dir, '.git/objects', d, f));
    }
    return dir;
  };
  const dists = BEFORE ? [DIST, BEFORE] : [DIST];
  const setups = dists.flatMap((dist) => counts.map((n) => ({ dir: withLoose(n, dist), dist, form: 'one' as Form, n })));
  const first = setups.map((s) => iteration(s.dir, 0, false, s.dist, s.form).ms);
  const rs = iterationsOf(setups, 7);
  setups.forEach((s, k) => {
    const r = rs[k]!;
    const none = rs[setups.findIndex((o) => o.dist === s.dist && o.n === counts[0])]!;
    const tag = s.dist === DIST ? '' : ' [before]';
    console.log(
      `loose.${s.n}.keep ${r2(r.keep / r.bare)}x node -e 0, ${r2(r.keep / none.keep)}x with ${counts[0]} (${r.keep.toFixed(0)} ms, ${r.keepIo}; discard ${r2(r.discard / r.bare)}x, ${r2(r.discard / none.discard)}x, ${r.discardIo}; first iteration ${first[k]!.toFixed(0)} ms)${tag}`,
    );
  });
  for (const s of setups) fs.rmSync(s.dir, { recursive: true, force: true });
  fs.rmSync(store, { recursive: true, force: true });
}

// 2a. one iteration with 300 small packs of the loop's (an overnight loop before pack-merge.ts) vs the
// same objects merged into one pack (pack-merge.ts, as the loop merges its packs at MERGE_AT)
if (section('packs')) {
  const PACKS = 300;
  const withPacks = async (merged: boolean) => {
    const dir = repoWithRuns(0);
    const objects = path.join(dir, '.git', 'objects');
    for (let p = 0; p < PACKS; p++) {
      const ids = Array.from({ length: 20 }, (_, i) => writeBlob(objects, Buffer.from(`an old version ${i} of a kept file, packing ${p}\n`), 40)!);
      const made = spawnSync('git', ['pack-objects', '-q', '--incremental', '--local', path.join(objects, 'pack', 'pack')], { cwd: dir, input: `${ids.join('\n')}\n`, encoding: 'utf8' });
      noteLoopPack(dir, made.stdout.trim());
    }
    spawnSync('git', ['prune-packed', '-q'], { cwd: dir });
    if (merged && (await mergeLoopPacks(dir, dir, objects, 1)) !== PACKS) throw new Error('bench/engine: the packs were not merged');
    return dir;
  };
  const setups = [{ dir: await withPacks(false), dist: DIST, form: 'one' as Form }, { dir: await withPacks(true), dist: DIST, form: 'one' as Form }];
  const [many, one] = iterationsOf(setups, 9);
  console.log(`packs.${PACKS}_vs_merged.keep ${r2(many!.keep / one!.keep)}x (${many!.keep.toFixed(0)} ms vs ${one!.keep.toFixed(0)} ms); discard ${r2(many!.discard / one!.discard)}x (${many!.discard.toFixed(0)} ms vs ${one!.discard.toFixed(0)} ms)`);
  for (const s of setups) fs.rmSync(s.dir, { recursive: true, force: true });
}

// 2b. the calls around the iteration, vs bare node, with their git processes: init-experiment on a fresh repository,
// init-experiment again (a new segment on its branch), status. With BEFORE, its bundles in the same turns.
if (section('calls')) {
  const dists = BEFORE ? [DIST, BEFORE] : [DIST];
  const counts = path.join(os.tmpdir(), `autoloop-bench-calls-${process.pid}`);
  const gits = () => {
    let n = 0;
    try {
      for (const m of fs.readFileSync(counts, 'utf8').matchAll(/^git (\d+)$/gm)) n += Number(m[1]);
    } catch {
      return 'not counted';
    }
    return `${n} git processes`;
  };
  const env = { ...process.env, ...GIT_ENV, AUTOLOOP_COUNT_IO: counts };
  const initArgs = (dist: string, dir: string, runs: string) => [path.join(dist, 'init-experiment.mjs'), ...EXPERIMENT, '--scope', 'src/**', '--max-runs', runs, '--plateau', 'none', '--cwd', dir];
  const fresh = () => benchRepo('autoloop-bench-init-');
  const made: string[] = [];
  const io: Record<string, string> = {};
  const timed = (key: string, args: string[]) => {
    fs.rmSync(counts, { force: true });
    const ms = timeMs(process.execPath, args, { env });
    io[key] = gits();
    return ms;
  };
  const segDirs = dists.map(() => {
    const d = fresh();
    made.push(d);
    spawnSync(process.execPath, initArgs(DIST, d, 'none'), { env });
    return d;
  });
  let k = 0;
  const calls = dists.flatMap((d, i) => [
    () => {
      const dir = fresh();
      made.push(dir);
      return timed(`init${i}`, initArgs(d, dir, 'none'));
    },
    () => timed(`segment${i}`, initArgs(d, segDirs[i]!, String(100 + k++))),
    () => timed(`status${i}`, [path.join(d, 'status.mjs'), '--cwd', segDirs[i]!]),
  ]);
  const [base, ...ms] = medians(9, [() => timeMs(process.execPath, ['-e', '0']), ...calls]);
  ['init_experiment', 'new_segment', 'status'].forEach((name, j) => {
    const key = ['init', 'segment', 'status'][j]!;
    const was = BEFORE ? ` [before: ${r2(ms[3 + j]! / base!)}x, ${ms[3 + j]!.toFixed(0)} ms; ${io[`${key}1`]}]` : '';
    console.log(`calls.${name} ${r2(ms[j]! / base!)}x node -e 0 (${ms[j]!.toFixed(0)} ms vs ${base!.toFixed(0)} ms; ${io[`${key}0`]})${was}`);
  });
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  fs.rmSync(counts, { force: true });
}

// Peak memory of a call: a preload writes the process's maxRSS (KB) to a file as it exits.
const RSS_PRELOAD = path.join(os.tmpdir(), `autoloop-bench-rss-${process.pid}.cjs`);
fs.writeFileSync(RSS_PRELOAD, "process.on('exit', () => require('node:fs').writeFileSync(process.env.AUTOLOOP_BENCH_RSS, String(process.resourceUsage().maxRSS)));\n");
function peakMb(args: string[]): number {
  const out = `${RSS_PRELOAD}.${Date.now()}.txt`;
  spawnSync(process.execPath, ['--require', RSS_PRELOAD, ...args], { stdio: 'ignore', env: { ...process.env, AUTOLOOP_BENCH_RSS: out } });
  const kb = Number(fs.readFileSync(out, 'utf8'));
  fs.rmSync(out, { force: true });
  return kb / 1024;
}

// 2c. CPU per benchmark sample: what the engine costs around each sample of a noisy benchmark
// (seals, checks, the process chain), summed over the engine and every process it starts and
// waits for (this process's children's CPU, /proc/self/stat), in clock ticks.
if (section('samples') && fs.existsSync('/proc/self/stat')) {
  const cpuMs = (args: string[], env: NodeJS.ProcessEnv): number => {
    const t = childrenCpuMs();
    const r = spawnSync(process.execPath, args, { env, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`bench samples: ${args[0]} exited ${r.status}`);
    return childrenCpuMs() - t;
  };
  const env = { ...process.env, ...GIT_ENV };
  const made: string[] = [];
  // A fresh repository whose experiment takes `samples` samples in its first run (the baseline), a judge of `judgeMb` protected.
  const repo = (dist: string, samples: number, judgeMb: number): string => {
    const dir = benchRepo('autoloop-bench-samples-', { metric: 'time_ms', files: { 'data/set.bin': Buffer.alloc(judgeMb * 1024 * 1024, 7) } });
    made.push(dir);
    const protect = judgeMb ? ['--protect', 'data/**'] : [];
    const init = spawnSync(process.execPath, [path.join(dist, 'init-experiment.mjs'), '--name', 'b', '--metric', 'time_ms', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', ...protect, '--repeats', String(samples), '--cwd', dir], { env });
    if (init.status !== 0) throw new Error(String(init.stderr));
    return dir;
  };
  const dists = BEFORE ? [DIST, BEFORE] : [DIST];
  const judged = [0, 20];
  const modes = ['default', 'group'];
  // A judge's hash may be reused only once its last change is older than the racy window (judge-hashes.ts): repositories made ahead.
  const N_SAMPLES = 5;
  const plan = modes.flatMap((mode) => judged.flatMap((mb) => dists.map((dist) => ({ mode, mb, dist }))));
  const ready = plan.map((p) => Array.from({ length: N_SAMPLES + 1 }, () => [repo(p.dist, 2, p.mb), repo(p.dist, 32, p.mb)] as const));
  spawnSync('sleep', ['4']);
  const fns = [() => cpuMs(['-e', '0'], env), ...plan.map((p, i) => {
    let k = 0;
    return () => {
      const [two, many] = ready[i]![k++]!;
      const e = p.mode === 'default' ? env : { ...env, AUTOLOOP_CONTAINMENT: p.mode };
      const run = (dir: string) => cpuMs([path.join(p.dist, 'run-experiment.mjs'), '--description', 'baseline', '--cwd', dir], e);
      return (run(many) - run(two)) / 30;
    };
  })];
  const [bareCpu, ...per] = medians(N_SAMPLES, fns);
  plan.forEach((p, i) => {
    if (p.dist !== DIST) return;
    const old = BEFORE ? per[plan.findIndex((q) => q.dist === BEFORE && q.mode === p.mode && q.mb === p.mb)] : undefined;
    const was = old === undefined ? '' : ` [before: ${r2(old / bareCpu!)}x, ${old.toFixed(1)} ms]`;
    const what = `samples.cpu_per_sample${p.mb ? `.judge_${p.mb}mb` : ''}.${p.mode}`;
    console.log(`${what} ${r2(per[i]! / bareCpu!)}x node -e 0's CPU (${per[i]!.toFixed(1)} ms vs ${bareCpu!.toFixed(0)} ms)${was}`);
  });
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
}

// 3. every call with BIG runs vs 100 (warm state cache, then the cache lost), and the cache's size
if (section('history')) {
  const sizes = [100, BIG];
  // With BEFORE, its bundles make the same calls on the same repositories, in turns with ours (the caches' formats must agree).
  const dists = BEFORE ? [DIST, BEFORE] : [DIST];
  type Sized = Record<number, number>;
  const res: Record<string, Sized> = { iteration: {} };
  const was: Record<string, Sized> = {};
  const cache: Record<number, number> = {};
  const dirs = sizes.map((n) => repoWithRuns(n));
  const call = (f: string, ...a: string[]) => (dir: string, dist = DIST) => timeMs(process.execPath, [path.join(dist, `${f}.mjs`), ...a, '--cwd', dir]);
  const status = call('status');
  const cold = (dir: string, dist = DIST) => {
    fs.rmSync(path.join(dir, '.autoloop', 'experiments', 'b', 'state.json'), { force: true });
    return status(dir, dist);
  };
  const htmlArgs = (dir: string, dist = DIST) => [path.join(dist, 'dashboard.mjs'), '--cwd', dir, '--html', path.join(dir, 'd.html')];
  const termArgs = (dir: string, dist = DIST) => [path.join(dist, 'dashboard.mjs'), '--cwd', dir, '--width', '120'];
  const html = (dir: string, dist = DIST) => timeMs(process.execPath, htmlArgs(dir, dist));
  const term = (dir: string, dist = DIST) => timeMs(process.execPath, termArgs(dir, dist), { env: { ...process.env, FORCE_COLOR: '1' } });
  const expDir = (dir: string) => path.join(dir, '.autoloop', 'experiments', 'b');
  // Every cache lost: state.json, its checkpoint and the primaries sidecar (a fold of every line).
  const rebuild = (dir: string) => {
    for (const f of fs.readdirSync(expDir(dir))) if (f.startsWith('state') || f.endsWith('.f64')) fs.rmSync(path.join(expDir(dir), f), { force: true });
    return status(dir);
  };
  sizes.forEach((_, i) => void status(dirs[i]!)); // first fold of the synthetic ledger
  // Alternate the sizes (and the builds) so that load that comes and goes weighs on all alike.
  const alt = (name: string, f: (dir: string, dist?: string) => number, reps: number) => {
    const xs: number[][][] = dists.map(() => sizes.map(() => []));
    for (let k = 0; k < reps; k++) dists.forEach((d, j) => sizes.forEach((_, i) => xs[j]![i]!.push(f(dirs[i]!, d))));
    const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(reps / 2)]!;
    [res, was].slice(0, dists.length).forEach((into, j) => (into[name] = Object.fromEntries(sizes.map((n, i) => [n, med(xs[j]![i]!)]))));
  };
  alt('status', status, 9);
  alt('status_cold', cold, 5);
  alt('dashboard', term, 5);
  alt('dashboard_html', html, 5);
  // The other calls a person or the model makes between iterations.
  alt('control_explain', call('control', 'explain'), 5);
  alt('candidate_list', call('candidate', 'list'), 5);
  const statusline = (dir: string, dist = DIST) => timeMs(process.execPath, [path.join(dist, 'statusline.mjs')], { cwd: dir, input: JSON.stringify({ cwd: dir, workspace: { current_dir: dir } }) });
  alt('statusline', statusline, 5);
  // report: counts from the run index and the state, its capped lists read back by offset.
  alt('report', call('report'), 5);
  // finalize: the keeps read through the run index (only their lines parsed). The synthetic keeps all carry the
  // starting commit, so nothing is replayed: this is the engine's own reading, not git's cherry-picks (those grow with the keeps).
  alt('finalize', call('finalize', '--json'), 5);
  // Parallel mode: every run a candidate whose folder stays once it is closed, two open. status, the
  // dashboard and explain find the open ones (candidates/open/ marks), not every folder ever made.
  sizes.forEach((n, i) => addCandidates(dirs[i]!, n));
  sizes.forEach((_, i) => void status(dirs[i]!)); // the marks of a history written without them: one scan
  alt('status_parallel', status, 9);
  alt('dashboard_parallel', term, 5);
  alt('control_explain_parallel', call('control', 'explain'), 5);
  // A ledger-locked call (control stop, then resume) while a candidate's command runs: its seal kept on
  // disk, its lock held (here by this process), so each call checks the lines appended since that seal.
  const live = sizes.map((n, i) => liveCandidateCommand(dirs[i]!, n));
  const toggles = new Map<string, number>();
  const stopResume = (dir: string, dist = DIST) => {
    const k = (toggles.get(dir) ?? 0) + 1;
    toggles.set(dir, k);
    return call('control', k % 2 ? 'stop' : 'resume')(dir, dist);
  };
  alt('ledger_locked_beside_candidate', stopResume, 6);
  live.forEach((end) => end());
  sizes.forEach((n, i) => closeOpenCandidates(dirs[i]!, n)); // the serial iterations below refuse beside open candidates
  const mem = sizes.map((_, i) => peakMb(htmlArgs(dirs[i]!)));
  const memTerm = sizes.map((_, i) => peakMb(termArgs(dirs[i]!)));
  const full = sizes.map((_, i) => rebuild(dirs[i]!));
  const its = sizes.map((_, i) => iterations(dirs[i]!, 5));
  sizes.forEach((n, i) => (res.iteration![n] = (its[i]!.keep + its[i]!.discard) / 2));
  sizes.forEach((n, i) => {
    const d = path.join(dirs[i]!, '.autoloop', 'experiments', 'b');
    cache[n] = fs.readdirSync(d).filter((f) => f === 'state.json' || f.endsWith('.f64')).reduce((acc, f) => acc + fs.statSync(path.join(d, f)).size, 0);
  });
  for (const k of Object.keys(res)) {
    const a = res[k]![100]!;
    const b = res[k]![BIG]!;
    const w = was[k];
    const before = w ? ` [before: ${r2(w[BIG]! / w[100]!)}x, ${w[BIG]!.toFixed(0)} ms vs ${w[100]!.toFixed(0)} ms]` : '';
    console.log(`history.${k}_${BIG}_vs_100 ${r2(b / a)}x (${b.toFixed(0)} ms vs ${a.toFixed(0)} ms; target <= 1.5x)${before}`);
  }
  console.log(`history.dashboard_html_peak_mb ${mem[1]!.toFixed(0)} MB at ${BIG} runs (${mem[0]!.toFixed(0)} MB at 100; ratio ${r2(mem[1]! / mem[0]!)}; terminal ${memTerm[1]!.toFixed(0)} MB vs ${memTerm[0]!.toFixed(0)} MB)`);
  console.log(`history.status_all_caches_lost_${BIG}_vs_100 ${r2(full[1]! / full[0]!)}x (${full[1]!.toFixed(0)} ms vs ${full[0]!.toFixed(0)} ms; no target: every line is refolded)`);
  const idx = (n: number) => fs.statSync(path.join(expDir(dirs[sizes.indexOf(n)]!), 'runs.idx')).size;
  console.log(`history.run_index_bytes ${idx(BIG)} runs.idx at ${BIG} runs (${idx(100)} at 100; the dashboard's cache)`);
  const stateJson = (n: number) => fs.statSync(path.join(dirs[sizes.indexOf(n)]!, '.autoloop', 'experiments', 'b', 'state.json')).size;
  console.log(`history.state_cache_bytes ${stateJson(BIG)} state.json at ${BIG} runs (${stateJson(100)} at 100; with the primaries sidecar ${cache[BIG]} / ${cache[100]})`);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
}

// 3b. a candidate from start to log (parallel mode: its guard checks the shared ledger after each of its
// commands) with BIG runs in the ledger vs 100, target <= 1.5x as every call; with BEFORE, interleaved.
if (section('candidate')) {
  const sizes = [100, BIG];
  const dists = BEFORE ? [DIST, BEFORE] : [DIST];
  const dirs = sizes.map((n) => repoWithRuns(n, DIST, 2));
  const env = { ...process.env, ...GIT_ENV };
  const json = (dist: string, dir: string, f: string, a: string[]) => {
    const r = spawnSync(process.execPath, [path.join(dist, `${f}.mjs`), ...a, '--json', '--cwd', dir], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${f} ${a.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  let k = 0;
  // Each call's share too (start, run, log: the last round's), for where what remains grows.
  const parts = new Map<string, number[]>();
  const one = (dir: string, dist: string) => {
    const t = process.hrtime.bigint();
    const c = json(dist, dir, 'candidate', ['start']);
    const t1 = process.hrtime.bigint();
    fs.writeFileSync(path.join(String(c.path), 'src', `note-${k++}.txt`), 'x\n');
    json(dist, dir, 'run-experiment', ['--candidate', String(c.candidate)]);
    const t2 = process.hrtime.bigint();
    json(dist, dir, 'log-experiment', ['--candidate', String(c.candidate), '-d', `no-op ${k}`]);
    const t3 = process.hrtime.bigint();
    parts.set(`${dist}:${dir}`, [t1 - t, t2 - t1, t3 - t2].map((x) => Number(x) / 1e6));
    return Number(t3 - t) / 1e6;
  };
  sizes.forEach((_, i) => void one(dirs[i]!, DIST)); // first fold of the synthetic ledger
  const plan = dists.flatMap((dist) => sizes.map((n, i) => ({ dist, n, dir: dirs[i]! })));
  const ms = medians(7, plan.map((p) => () => one(p.dir, p.dist)));
  const of = (dist: string, n: number) => ms[plan.findIndex((p) => p.dist === dist && p.n === n)]!;
  const was = BEFORE ? ` [before: ${r2(of(BEFORE, BIG) / of(BEFORE, 100))}x, ${of(BEFORE, BIG).toFixed(0)} ms vs ${of(BEFORE, 100).toFixed(0)} ms]` : '';
  console.log(`history.candidate_start_run_log_${BIG}_vs_100 ${r2(of(DIST, BIG) / of(DIST, 100))}x (${of(DIST, BIG).toFixed(0)} ms vs ${of(DIST, 100).toFixed(0)} ms; target <= 1.5x)${was}`);
  const share = (dist: string) => ['start', 'run', 'log'].map((name, j) => `${name} ${parts.get(`${dist}:${dirs[1]}`)![j]!.toFixed(0)} vs ${parts.get(`${dist}:${dirs[0]}`)![j]!.toFixed(0)} ms`).join(', ');
  console.log(`history.candidate_calls_${BIG}_vs_100 (last round) ${share(DIST)}${BEFORE ? ` [before: ${share(BEFORE)}]` : ''}`);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
}

// 4. bytes the model reads in an ordinary keep (--json as the protocol calls them), in both forms
/** The primes example in a fresh repository, its experiment set up; the engine's calls and git there. */
function primesRepo() {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-bench-bytes-')));
  const git = (...a: string[]) => spawnSync('git', a, { cwd: dir, env: { ...process.env, ...GIT_ENV } });
  fs.cpSync(path.join(ROOT, 'examples', 'primes'), dir, { recursive: true });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'init');
  const run = (name: string, ...a: string[]) => spawnSync(process.execPath, [path.join(DIST, `${name}.mjs`), ...a, '--cwd', dir], { encoding: 'utf8', env: { ...process.env, ...GIT_ENV } });
  run('init-experiment', '--name', 'p', '--metric', 'ops', '--direction', 'lower', '--command', 'node bench/bench.js', '--checks', 'node test/check.js', '--scope', 'src/**');
  const change = () => git('apply', path.join(ROOT, 'examples', 'primes', 'steps', '01-sqrt.patch'));
  return { dir, run, change };
}
if (section('bytes')) {
  const DESCRIPTION = ['--description', 'Stop trial division at the square root'];
  const size = (o: { stdout: string; stderr: string }) => Buffer.byteLength(o.stdout + o.stderr);
  const verdictOf = (o: { stdout: string }) => (JSON.parse(o.stdout || '{}') as { verdict?: string }).verdict ?? 'failed';
  const two = primesRepo();
  two.run('run-experiment', '--json');
  two.run('log-experiment', '--description', 'baseline', '--json');
  two.change();
  const a = two.run('run-experiment', '--json');
  const b = two.run('log-experiment', ...DESCRIPTION, '--json');
  console.log(`iteration.model_bytes.run_log ${size(a) + size(b)} (run ${size(a)} + log ${size(b)}, ${verdictOf(b)}, --json; target <= 500)`);
  const one = primesRepo();
  one.run('run-experiment', '--description', 'baseline', '--json');
  one.change();
  const c = one.run('run-experiment', ...DESCRIPTION, '--json');
  console.log(`iteration.model_bytes.one_call ${size(c)} (${verdictOf(c)}, --json; target <= 500)`);
  for (const r of [one, two]) fs.rmSync(r.dir, { recursive: true, force: true });
}

// 5. hooks: a project without .autoloop/ must not start node; with it, ≤ 2x node -e 0
{
  const hook = path.join(ROOT, 'hooks', 'run.sh');
  if (!section('hooks')) void 0;
  else if (fs.existsSync(hook) && fs.existsSync(path.join(DIST, 'hooks.cjs'))) {
    const plain = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-bench-hook-')));
    const payload = JSON.stringify({ session_id: 's', transcript_path: '/dev/null', cwd: plain, hook_event_name: 'PreToolUse', tool_name: 'Edit', tool_input: { file_path: path.join(plain, 'src/a.js') }, tool_use_id: 't' });
    const env = { ...process.env, CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: plain };
    const none = median(N, () => timeMs('sh', [hook, 'pre-tool-use'], { cwd: plain, input: payload, env }));
    console.log(`hooks.no_autoloop ${r2(none / bare)}x node -e 0 (${none.toFixed(1)} ms; starts no node)`);
    const withLoop = repoWithRuns(100);
    const env2 = { ...process.env, CLAUDE_PLUGIN_ROOT: ROOT, CLAUDE_PROJECT_DIR: withLoop };
    const payload2 = payload.replaceAll(plain, withLoop);
    for (const ev of ['pre-tool-use', 'stop', 'session-start']) {
      const ms = median(N, () => timeMs('sh', [hook, ev], { cwd: withLoop, input: payload2, env: env2 }));
      console.log(`hooks.${ev} ${r2(ms / bare)}x node -e 0 (${ms.toFixed(1)} ms; target <= 2x)`);
    }
    fs.rmSync(plain, { recursive: true, force: true });
    fs.rmSync(withLoop, { recursive: true, force: true });
  } else console.log('hooks: not built yet');
}
fs.rmSync(RSS_PRELOAD, { force: true });
