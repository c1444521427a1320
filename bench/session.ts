// A whole unattended session with the real CLI and the scripted model (the
// same as test/e2e/long-session.test.ts; BENCH_SESSION_RUNS sets the budget,
// 200 by default): what the model read per iteration (the tool result of
// the one call that measures and logs, `run-experiment --description`) and
// how the request to the model grew over the session, from the scripted
// API's request log. Needs `npm run build` (it runs dist/).
// Not part of `npm run bench`: a 200-iteration session takes a while.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureClaude } from '../test/e2e/claude-cli.ts';
import { humanTurns, longLoop, mainBytes, stopHookTurns } from '../test/e2e/long-loop.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (!fs.existsSync(path.join(ROOT, 'dist', 'log-experiment.mjs'))) {
  console.error('bench/session: dist/ is missing: run npm run build first');
  process.exit(2);
}
const maxRuns = Number(process.env.BENCH_SESSION_RUNS ?? 200);
if (!Number.isInteger(maxRuns) || maxRuns < 3) {
  console.error(`bench/session: BENCH_SESSION_RUNS must be an integer of at least 3, not ${process.env.BENCH_SESSION_RUNS}`);
  process.exit(2);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const kb = (n: number): string => `${(n / 1024).toFixed(1)} kB`;

const started = Date.now();
const run = await longLoop({ claude: ensureClaude(), pluginRoot: ROOT, maxRuns, timeoutMs: 4 * 60 * 60_000 });
try {
  const ok = run.session.code === 0 && run.lastLog?.should_terminate === true && run.errors.length === 0;
  const its = run.iterationBytes.length;
  const sizes = mainBytes(run.log);
  const first = sizes[0] ?? 0;
  const last = sizes[sizes.length - 1] ?? 0;
  console.log(`session.iterations ${its} (budget max_runs ${maxRuns}); ended ${ok ? 'by the engine termination' : `badly: exit ${run.session.code}, ${run.errors[0]?.message ?? run.session.stderr.slice(0, 200)}`}`);
  console.log(`session.human_turns ${humanTurns(run.main)}; stop_hook_turns ${stopHookTurns(run.main)}; permission_denials ${(run.session.json?.permission_denials ?? []).length}`);
  console.log(`session.bytes_read_per_iteration median ${median(run.iterationBytes)} B, max ${Math.max(...run.iterationBytes)} B (tool result of the one-call iteration; target <= 500 B)`);
  console.log(`session.request_bytes first ${kb(first)}, last ${kb(last)} over ${sizes.length} model requests`);
  console.log(`session.request_growth ${its ? ((last - first) / its).toFixed(0) : 'n/a'} B per iteration (${run.turns} turns, ${(run.turns / Math.max(its, 1)).toFixed(1)} per iteration)`);
  console.log(`session.wall ${((Date.now() - started) / 1000 / Math.max(its, 1)).toFixed(1)} s per iteration (machine load included)`);
  const denied = run.session.json?.permission_denials ?? [];
  if (denied.length) console.log(`session.first_denial ${denied[0]!.tool_name} ${JSON.stringify(denied[0]!.tool_input).slice(0, 300)}`);
  if (!ok || denied.length) process.exitCode = 1;
} finally {
  run.fixture.cleanup();
}
