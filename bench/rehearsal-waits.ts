// How many calls through the MCP server arrive while their zygote's rehearsal has a step in flight
// (boot/rehearsal.ts: such a call waits for that step), from the zygotes' trace
// (AUTOLOOP_REHEARSAL_TRACE). One server, one form, `think` ms before each call (the model's turn).
//   npx tsx bench/rehearsal-waits.ts <dist> <one|two> [turns=6] [think ms=1000]
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { McpClient } from '../test/helpers/mcp-client.ts';
const dist = path.resolve(process.argv[2]!); const form = process.argv[3]!; const N = Number(process.argv[4] ?? 6); const think = Number(process.argv[5] ?? 1000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iter4-w-'));
const env = { ...process.env, GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@l', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@l' };
const sh = (c: string, a: string[]) => { const r = spawnSync(c, a, { cwd: dir, env, encoding: 'utf8' }); if (r.status) throw new Error(r.stderr); };
fs.mkdirSync(path.join(dir, 'src')); fs.writeFileSync(path.join(dir, 'src', 'v.txt'), '100'); fs.writeFileSync(path.join(dir, 'bench.sh'), 'echo METRIC score=$(cat src/v.txt)\n');
sh('git', ['init', '-q', '-b', 'main']); sh('git', ['add', '-A']); sh('git', ['commit', '-qm', 'r']);
sh(process.execPath, [path.join(dist, 'init-experiment.mjs'), '--name', 'x', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--max-runs', 'none', '--plateau', 'none']);
sh(process.execPath, [path.join(dist, 'run-experiment.mjs'), '--description', 'baseline']);
const trace = path.join(dir, '..', path.basename(dir) + '.trace');
const c = new McpClient(path.join(dist, 'mcp.mjs'), { cwd: dir, env: { ...env, AUTOLOOP_REHEARSAL_TRACE: trace } });
await c.initialize();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
await sleep(8000);
let v = 99; const times: number[] = [];
for (let i = 0; i < N; i++, v--) {
  fs.writeFileSync(path.join(dir, 'src', 'v.txt'), String(i % 2 ? 1e9 : v));
  const calls: [string, string[]][] = form === 'one' ? [['run', ['--description', `v${v}`]]] : [['run', []], ['log', ['--description', `v${v}`]]];
  for (const [tool, args] of calls) { await sleep(think); const t = performance.now(); const a = await c.call(tool, args); times.push(performance.now() - t); if (a.isError) throw new Error(a.text); }
}
await c.close();
let inflight: string | null = null; let waited = 0, calls = 0; const waitedOn: string[] = [];
for (const l of fs.readFileSync(trace, 'utf8').trim().split('\n')) {
  const [k, name] = l.split(' ');
  if (k === 'step') inflight = name!; else if (k === 'done') inflight = null; else if (k === 'call') { calls++; if (inflight) { waited++; waitedOn.push(inflight); } inflight = null; }
}
console.log(`${path.basename(dist)} ${form} think ${think}: ${waited}/${calls} calls came during a step (${waitedOn.join(',')}); load ${os.loadavg()[0]!.toFixed(1)}`);
fs.rmSync(dir, { recursive: true, force: true }); fs.rmSync(trace, { force: true });
