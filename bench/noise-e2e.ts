// End-to-end decision rates through the real engine scripts (dist/*.mjs):
// each trial is a fresh git repository, init-experiment → baseline →
// one candidate, default settings, with a tiny noisy benchmark (sh + awk)
// whose candidate either changes nothing measurable or is 5% faster.
//   npm run build && npx tsx bench/noise-e2e.ts      (TRIALS=20 per cell by default)
// Prints per family: false keeps (no effect), true keeps (5% gain), each with
// its Wilson 95% interval, and the benchmark invocations per decision.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { wilson } from '../test/helpers/families.ts';

const DIST = path.resolve(import.meta.dirname, '..', 'dist');
const TRIALS = Number(process.env.TRIALS ?? 20);
const SEED = Number(process.env.SEED ?? 1);

// The candidate's code is src/speed.txt (a factor on ~20 ms); BENCH_STATE
// counts invocations across the trial (drift, and a fresh seed per call).
const BENCH = `#!/bin/sh
f=$(cat src/speed.txt)
n=$(cat "$BENCH_STATE" 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > "$BENCH_STATE"
awk -v f="$f" -v n="$n" -v seed="$BENCH_SEED" -v fam="$BENCH_FAMILY" '
function g(  u, v) { u = 1 - rand(); v = rand(); return sqrt(-2 * log(u)) * cos(6.283185307179586 * v) }
BEGIN {
  srand(seed * 7919 + n); base = 20 * f
  if (fam == "gauss") printf "METRIC time_ms=%.6f\\n", base * (1 + 0.03 * g())
  else if (fam == "drift") printf "METRIC time_ms=%.6f\\n", base * (1 - 0.005 * n) * (1 + 0.03 * g())
  else { L = base * (1 + 0.03 * g()); for (i = 0; i < 5; i++) printf "METRIC time_ms=%.6f\\n", L * (1 + 0.01 * g()) }
}'
`;

const FAMILIES = [
  { id: 'gauss', name: 'Gaussian 3%' },
  { id: 'run', name: 'run-level 3%, 1% within, 5 per invocation' },
  { id: 'drift', name: 'drift −0.5% per invocation, Gaussian 3%' },
] as const;

function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

const engine = (name: string, args: string[], cwd: string, env: Record<string, string>) =>
  sh(process.execPath, [path.join(DIST, `${name}.mjs`), ...args, '--cwd', cwd], cwd, env);

/** One trial: true when the candidate was kept; and how many invocations the decision took. */
function trial(family: string, factor: string, seed: number): { kept: boolean; invocations: number } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'autoloop-e2e-')));
  const env = { BENCH_STATE: path.join(dir, '..', `${path.basename(dir)}.count`), BENCH_SEED: String(seed), BENCH_FAMILY: family };
  try {
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'bench.sh'), BENCH);
    fs.writeFileSync(path.join(dir, 'src', 'speed.txt'), '1\n');
    sh('git', ['init', '-q', '-b', 'main'], dir);
    sh('git', ['add', '-A'], dir);
    sh('git', ['-c', 'user.name=b', '-c', 'user.email=b@example.invalid', 'commit', '-qm', 'init'], dir);
    engine('init-experiment', ['--name', 'e', '--metric', 'time_ms', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**'], dir, env);
    engine('run-experiment', [], dir, env);
    engine('log-experiment', ['--description', 'baseline'], dir, env);
    // A change with no effect still changes the file (1 → 1.0), so it is a candidate.
    fs.writeFileSync(path.join(dir, 'src', 'speed.txt'), `${factor}\n`);
    engine('run-experiment', [], dir, env);
    const log = JSON.parse(engine('log-experiment', ['--description', 'candidate', '--json'], dir, env)) as { verdict: string };
    const lines = fs.readFileSync(path.join(dir, '.autoloop', 'experiments', 'e', 'ledger.jsonl'), 'utf8').trim().split('\n');
    const last = JSON.parse(lines.filter((l) => l.includes('"type":"result"')).at(-1) as string) as { invocations: unknown[] };
    return { kept: log.verdict === 'keep', invocations: last.invocations.length };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(env.BENCH_STATE, { force: true });
  }
}

const p = (x: number) => (100 * x).toFixed(1);
const ci = (k: number, n: number) => {
  const [a, b] = wilson(k, n);
  return `${p(k / n)}% [${p(a)}, ${p(b)}]`;
};

console.log(`end-to-end through dist/ (init → baseline → candidate, default settings), ${TRIALS} trials per cell, seed ${SEED}`);
console.log('| family | false keep | true keep (5%) | inv (null / 5%) |');
console.log('|---|---|---|---|');
let total = 0;
for (const f of FAMILIES) {
  const cell = (factor: string, k: number) => {
    let kept = 0;
    let inv = 0;
    for (let i = 0; i < TRIALS; i++) {
      const r = trial(f.id, factor, SEED * 100_000 + k * 10_000 + i);
      kept += r.kept ? 1 : 0;
      inv += r.invocations;
      total++;
    }
    return { kept, inv: inv / TRIALS };
  };
  const n0 = cell('1.0', 1);
  const n5 = cell('0.95', 2);
  console.log(`| ${f.name} | ${ci(n0.kept, TRIALS)} | ${ci(n5.kept, TRIALS)} | ${n0.inv.toFixed(1)} / ${n5.inv.toFixed(1)} |`);
}
console.log(`${total} end-to-end trials`);
