// config.yaml's live fields (budgets, thresholds, Stop-hook caps) may be
// edited while the loop runs (README): an edit made while a benchmark runs
// stands, and so does the run, even when another engine call (status) reads
// the edit and rewrites the parsed copy meanwhile. A judged field changed
// then is the judge changing: the run is invalid and the config put back.
// Real engine processes; the benchmark waits at a gate the test opens.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { engine, engineAsync, fromTemplate, makeRepo } from './helpers/engine.ts';
import { tmpDir } from './helpers/tmp.ts';

const BENCH = `if [ -f src/gate ]; then g=$(cat src/gate); touch "$g/started"; while [ ! -f "$g/go" ]; do sleep 0.05; done; fi
echo "METRIC score=$(cat src/v)"
`;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** The baseline (10) logged: built once for the file, copied per test (fromTemplate; right after the baseline nothing names its own path). */
function repo(): string {
  return fromTemplate('config-live-edit:baseline', () => {
    const dir = makeRepo({ 'bench.sh': BENCH, 'src/v': '10\n' });
    const init = engine('init-experiment', ['--name', 'exp', '--metric', 'score', '--direction', 'lower', '--command', 'sh bench.sh', '--scope', 'src/**', '--repeats', '1', '--json'], dir);
    expect(init.code, init.stderr).toBe(0);
    expect(engine('run-experiment', [], dir).code).toBe(0);
    expect(engine('log-experiment', ['-d', 'baseline'], dir).code).toBe(0);
    return dir;
  });
}

/** A run whose benchmark waits at a gate: `started` once it waits, `finish()` opens the gate and gives the run's answer. */
function gatedRun(dir: string): { started: Promise<void>; finish: () => Promise<Record<string, unknown>> } {
  const g = tmpDir('autoloop-gate-');
  fs.writeFileSync(path.join(dir, 'src/gate'), g);
  const child = engineAsync('run-experiment', ['--json'], dir);
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<Record<string, unknown>>((resolve) => child.on('close', () => resolve(JSON.parse(out) as Record<string, unknown>)));
  const started = (async () => {
    while (!fs.existsSync(path.join(g, 'started'))) await new Promise((r) => setTimeout(r, 20));
  })();
  return { started, finish: () => (fs.writeFileSync(path.join(g, 'go'), ''), done) };
}

const configFile = (dir: string) => path.join(dir, '.autoloop/experiments/exp/config.yaml');
const edit = (dir: string, from: RegExp, to: string) => fs.writeFileSync(configFile(dir), fs.readFileSync(configFile(dir), 'utf8').replace(from, to));

describe('config.yaml edited while a benchmark runs', { timeout: 600_000 }, () => {
  it('a live field: the edit stands and the run is measured, even with status reading the edit meanwhile', async () => {
    const dir = repo();
    fs.writeFileSync(path.join(dir, 'src/v'), '9\n');
    const r = gatedRun(dir);
    await r.started;
    edit(dir, /^max_runs: .*$/m, 'max_runs: 7');
    // status reads the edit (and rewrites config.parsed.json under the run's seal).
    expect(engine('status', [], dir).stdout).toMatch(/runs 1\/7/);
    expect(await r.finish()).toMatchObject({ status: 'ok', primary: 9 });
    expect(fs.readFileSync(configFile(dir), 'utf8')).toMatch(/^max_runs: 7$/m);
    expect(engine('log-experiment', ['-d', 'nine', '--json'], dir).json).toMatchObject({ verdict: 'keep' });
    expect(engine('status', [], dir).stdout).toMatch(/runs 2\/7/);
  });

  it('a judged field: the run is invalid and the config is put back', async () => {
    const dir = repo();
    fs.writeFileSync(path.join(dir, 'src/v'), '9\n');
    const before = fs.readFileSync(configFile(dir), 'utf8');
    const r = gatedRun(dir);
    await r.started;
    edit(dir, /^repeats: .*$/m, 'repeats: 3');
    const res = await r.finish();
    expect(res).toMatchObject({ status: 'invalid' });
    expect(String(res.reason)).toMatch(/config\.yaml/);
    expect(fs.readFileSync(configFile(dir), 'utf8')).toBe(before);
  });
});
