// Engine figures, each a ratio against a baseline measured in the same run
// (these machines are shared and noisy, so absolute times mean little):
//  - start-up of each bundled entry point vs bare `node -e 0` (target ≤ 3x)
//  - bytes the model reads in an ordinary iteration, run + log (target ≤ 1,500)
//  - status and log time with 10,000 runs in the ledger vs 100 (target ≤ 2x)
//  - hook cost: without .autoloop/ (no node at all) and with it (target ≤ 2x node -e 0)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveConfig } from '../scripts/lib/config.ts';
import { Config, type LedgerLine } from '../scripts/lib/schema.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
if (!fs.existsSync(path.join(DIST, 'status.mjs'))) {
  console.error('bench/engine: dist/ is missing: run npm run build first');
  process.exit(2);
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

const r2 = (x: number) => x.toFixed(2);
const N = 15;
const bare = median(N, () => timeMs(process.execPath, ['-e', '0']));
console.log(`baseline.node_e0_ms ${bare.toFixed(1)}`);

// 1. start-up overhead of every entry point
for (const f of fs.readdirSync(DIST).filter((x) => x.endsWith('.mjs') && x !== 'hooks.mjs').sort()) {
  const ms = median(N, () => timeMs(process.execPath, [path.join(DIST, f), '--help']));
  console.log(`startup.${f.replace('.mjs', '')} ${r2(ms / bare)}x node -e 0 (${ms.toFixed(1)} ms; target <= 3x)`);
}

// A repository with an experiment whose ledger holds `runs` results.
function repoWithRuns(runs: number): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `autoloop-bench-${runs}-`)));
  const git = (...a: string[]) => spawnSync('git', a, { cwd: dir, env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@x' } });
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'src', 'v.txt'), '1');
  fs.writeFileSync(path.join(dir, 'bench.sh'), 'echo METRIC score=1\n');
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'init');
  const init = spawnSync(process.execPath, [path.join(DIST, 'init-experiment.mjs'), '--name', 'b', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--max-runs', 'none', '--plateau', 'none', '--cwd', dir]);
  if (init.status !== 0) throw new Error(String(init.stderr));
  const exp = path.join(dir, '.autoloop', 'experiments', 'b');
  const cfg = Config.parse({ name: 'b', metric: 'score', direction: 'lower', command: 'sh bench.sh', scope: ['src/**'], max_runs: null, plateau: null });
  saveConfig(path.join(exp, 'config.yaml'), cfg);
  const lines: string[] = [];
  for (let i = 1; i <= runs; i++) {
    const keep = i === 1 || i % 10 === 0;
    const v = 1000 - i * 0.01 + (i % 7);
    const line: LedgerLine = {
      type: 'result', ts: new Date(Date.now() - (runs - i) * 60_000).toISOString(), segment: 1, run_id: `r${String(i).padStart(4, '0')}`,
      status: 'ok', verdict: keep ? 'keep' : 'discard', primary: v, samples: [v], metrics: { score: v }, description: `idea number ${i} about the hot loop`,
      hypothesis: null, reason: keep ? 'improved' : 'not better', delta: keep ? 1 : -1, duration_s: 1.2, files: ['src/v.txt'], rebaseline: false, evidence: [],
    };
    lines.push(JSON.stringify(line));
    lines.push(JSON.stringify({ type: 'event', ts: line.ts, segment: 1, event: keep ? 'committed' : 'reverted', run_id: line.run_id, data: keep ? { commit: 'c'.repeat(40) } : {} }));
  }
  fs.appendFileSync(path.join(exp, 'ledger.jsonl'), lines.join('\n') + '\n');
  fs.rmSync(path.join(exp, 'state.json'), { force: true });
  return dir;
}

function measuredRecord(dir: string, n: number): void {
  const id = `r${String(n).padStart(4, '0')}`;
  const d = path.join(dir, '.autoloop', 'experiments', 'b', 'runs', id);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'result.json'), JSON.stringify({ run_id: id, segment: 1, started_at: new Date().toISOString(), finished_at: new Date().toISOString(), phase: 'measured', status: 'crash', reason: 'exit code 1', primary: null, samples: [], metrics: {}, duration_s: 0.1 }));
}

// 2. status and log with 100 vs 10,000 runs (warm state cache, then a cold rebuild)
const sizes = [100, 10_000];
const results: Record<string, Record<number, number>> = { status: {}, log: {}, status_cold: {} };
for (const size of sizes) {
  const dir = repoWithRuns(size);
  const st = () => timeMs(process.execPath, [path.join(DIST, 'status.mjs'), '--cwd', dir]);
  results.status_cold![size] = st(); // first call folds the whole ledger
  results.status![size] = median(N, st);
  let n = size + 1;
  results.log![size] = median(9, () => {
    measuredRecord(dir, n++);
    return timeMs(process.execPath, [path.join(DIST, 'log-experiment.mjs'), '--description', 'crash', '--cwd', dir]);
  });
  fs.rmSync(dir, { recursive: true, force: true });
}
for (const k of ['status', 'log', 'status_cold'] as const) {
  const a = results[k]![100]!;
  const b = results[k]![10_000]!;
  console.log(`history.${k}_10000_vs_100 ${r2(b / a)}x (${b.toFixed(0)} ms vs ${a.toFixed(0)} ms${k === 'status_cold' ? '; first call rebuilds the state cache' : '; target <= 2x'})`);
}

// 3. bytes the model reads in an ordinary iteration (text output of run + log)
{
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-bench-bytes-')));
  const git = (...a: string[]) => spawnSync('git', a, { cwd: dir, env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@x' } });
  fs.cpSync(path.join(ROOT, 'examples', 'primes'), dir, { recursive: true });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'init');
  const run = (name: string, ...a: string[]) => spawnSync(process.execPath, [path.join(DIST, `${name}.mjs`), ...a, '--cwd', dir], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@x' } });
  run('init-experiment', '--name', 'p', '--metric', 'ops', '--direction', 'lower', '--command', 'node bench/bench.js', '--checks', 'node test/check.js', '--scope', 'src/**');
  run('run-experiment');
  run('log-experiment', '--description', 'baseline');
  git('apply', path.join(ROOT, 'examples', 'primes', 'steps', '01-sqrt.patch'));
  const a = run('run-experiment');
  const b = run('log-experiment', '--description', 'Stop trial division at the square root');
  const bytes = Buffer.byteLength(a.stdout + a.stderr) + Buffer.byteLength(b.stdout + b.stderr);
  console.log(`iteration.model_bytes ${bytes} (run ${Buffer.byteLength(a.stdout)} + log ${Buffer.byteLength(b.stdout)}; target <= 1500)`);
  fs.rmSync(dir, { recursive: true, force: true });
}

// 4. hooks: a project without .autoloop/ must not start node; with it, ≤ 2x node -e 0
{
  const hook = path.join(ROOT, 'hooks', 'run.sh');
  if (fs.existsSync(hook) && fs.existsSync(path.join(DIST, 'hooks.cjs'))) {
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
