// The programs each benchmark sample starts around the command, per
// containment (the largest per-sample cost; docs/measurements.md § CPU per
// benchmark sample): every successful execve under the engine, counted by
// strace, less git's and Node's, from a baseline of 3 samples less one of 1,
// over 2. The benchmark is a shell builtin, so what is left is the chain:
// setpriv (the run dies with the engine), unshare, the shells, mount.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bundle, engine, makeRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const hasStrace = spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0;
const traces = tmpDir('autoloop-chain-');
const home = tmpDir('autoloop-chain-home-');
let n = 0;

/** The programs one baseline run of `repeats` samples started, by name (git's and Node's left out). */
function programs(repeats: number, mode: string): Map<string, number> {
  const repo = makeRepo({ 'bench.sh': 'echo METRIC score=1\n', 'src/v': '1' });
  const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'echo METRIC score=1', '--scope', 'src/**', '--repeats', String(repeats)], repo);
  expect(init.code, init.stderr).toBe(0);
  const out = path.join(traces, `t-${n++}`);
  // A HOME of the file's own: the machine's containment answer (~/.autoloop/containment.json) is then
  // this build's alone, probed once by the warm-up run, never again by a measured one because another
  // test or build beside it wrote its own answer there.
  const env = { ...process.env, AUTOLOOP_CONTAINMENT: mode, HOME: home };
  const args = ['-f', '-qq', '-e', 'trace=execve', '-e', 'status=successful', '-o', out, process.execPath, bundle('run-experiment'), '--json', '--cwd', repo];
  const r = spawnSync('strace', args, { env, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ status: 'ok' });
  const record = JSON.parse(fs.readFileSync(path.join(repo, '.autoloop/experiments/exp/runs/r0001/result.json'), 'utf8')) as { containment?: string };
  expect(record.containment).toBe(mode);
  const count = new Map<string, number>();
  for (const m of fs.readFileSync(out, 'utf8').matchAll(/execve\("([^"]+)"/g)) {
    const name = path.basename(m[1]!);
    if (name === 'git' || name.startsWith('git-') || name === path.basename(process.execPath)) continue;
    count.set(name, (count.get(name) ?? 0) + 1);
  }
  return count;
}

/** Programs per sample: a run of 3 samples less a run of 1, over 2 (what each run starts once cancels out). */
function perSample(mode: string): Record<string, number> {
  programs(1, mode); // the warm-up: the containment probe, if any, runs here
  const [one, three] = [programs(1, mode), programs(3, mode)];
  const out: Record<string, number> = {};
  for (const name of new Set([...one.keys(), ...three.keys()])) {
    const d = ((three.get(name) ?? 0) - (one.get(name) ?? 0)) / 2;
    if (d) out[name] = d;
  }
  return out;
}

describe.skipIf(!hasStrace)('programs per benchmark sample, by containment', { timeout: 600_000 }, () => {
  // Before: readonly 7 (setpriv, unshare, the setup sh, mount, the inner unshare, the waiting sh, the
  // command's sh); now the setup shell is the one that waits. pidns and group as before.
  it('readonly: setpriv, unshare, the setup sh (which waits for the command), mount, the nested unshare, the command sh', () => {
    expect(perSample('readonly')).toEqual({ setpriv: 1, unshare: 2, sh: 2, mount: 1 });
  });

  // pidns: one unshare more since the command runs in a user namespace nested in the run's (the outer
  // unshare, outside the PID namespace, had its memory written by a benchmark: containment-escape).
  it('pidns: setpriv, unshare, the namespace first sh, the nested unshare, the command sh', () => {
    expect(perSample('pidns')).toEqual({ setpriv: 1, unshare: 2, sh: 2 });
  });

  it('group: setpriv, the leader sh, the command sh', () => {
    expect(perSample('group')).toEqual({ setpriv: 1, sh: 2 });
  });
});
